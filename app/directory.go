package app

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Org is an organisation as the directory shows it.
type Org struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Kind    OrgKind `json:"kind"`
	Sector  string  `json:"sector,omitempty"`
	Members int     `json:"members"`
}

// Member is a person with their devices. Name is what the person's own
// devices, a coordinator or an admin of their organisation last called
// them; it never routes anything: give Person to address them.
type Member struct {
	Person  string      `json:"person"`
	Name    string      `json:"name"`
	Org     string      `json:"org"`
	OrgName string      `json:"org_name"`
	Role    crypto.Role `json:"role"`
	Devices []Device    `json:"devices"`
	// Addressable: posts can be sealed to this person and incidents
	// assigned to them (not a relay).
	Addressable bool `json:"addressable,omitempty"`
}

// Label is how a member is shown: "Name (Organisation)".
func (m Member) Label() string { return m.Name + " (" + m.OrgName + ")" }

// Device is one device of a member, with who admitted it: the author of
// its membership certificate (for the founder, the founder).
type Device struct {
	ID               string      `json:"id"`
	Role             crypto.Role `json:"role"`
	AdmittedBy       string      `json:"admitted_by,omitempty"`
	AdmittedByDevice string      `json:"admitted_by_device,omitempty"`
	Founder          bool        `json:"founder,omitempty"`
	Revoked          bool        `json:"revoked,omitempty"`
	LastValidSeq     uint64      `json:"last_valid_seq,omitempty"`
	RevokeReason     string      `json:"revoke_reason,omitempty"`
	// AwaitingQuorum is set on a coordinator's device revoked by one
	// coordinator so far: a second must agree before it takes effect.
	AwaitingQuorum bool   `json:"awaiting_quorum,omitempty"`
	RevokedBy      string `json:"revoked_by,omitempty"`
	// Forked is set when the device wrote two different envelopes at the
	// same place in its chain (equivocation): a broken or cloned device,
	// or a hostile one. Coordinators should look into it.
	Forked bool `json:"forked,omitempty"`
	// CanRevoke: this device may revoke it now.
	CanRevoke bool `json:"can_revoke,omitempty"`
}

// WhoAmI describes this device and where it belongs.
type WhoAmI struct {
	Name          string      `json:"name"`
	Device        string      `json:"device"`
	Joined        bool        `json:"joined"`
	Community     string      `json:"community,omitempty"`
	CommunityName string      `json:"community_name,omitempty"`
	Demo          bool        `json:"demo,omitempty"`
	Person        string      `json:"person,omitempty"`
	Org           string      `json:"org,omitempty"`
	OrgName       string      `json:"org_name,omitempty"`
	OrgKind       OrgKind     `json:"org_kind,omitempty"`
	Role          crypto.Role `json:"role,omitempty"`
	Revoked       bool        `json:"revoked,omitempty"`
	// RevokedBy, RevokedAt and RevokeReason say who revoked this device
	// and when ("Name (Organisation)"); the reason only when this device
	// could read it (it is sealed to the new community key).
	RevokedBy    string     `json:"revoked_by,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	// Abilities say what this device may do now.
	Abilities
}

// RevokedNotice is what every command and the app say on a revoked
// device; "" when it is not revoked.
func (w WhoAmI) RevokedNotice() string {
	if !w.Revoked {
		return ""
	}
	return revokedNotice(w.RevokedBy, w.RevokedAt, w.RevokeReason)
}

func revokedNotice(by string, at *time.Time, reason string) string {
	msg := "this device was revoked"
	if by != "" {
		msg += " by " + by
	} else {
		msg += " by a coordinator"
	}
	if at != nil {
		msg += " at " + at.Format("2006-01-02 15:04 MST")
	}
	if reason != "" {
		msg += ": reason " + strings.Join(strings.Fields(reason), " ")
	}
	return msg + "; what it writes is refused by every peer. Ask a coordinator for a new invite."
}

// RevokedError refuses a write on a revoked device. It is ErrNotAllowed.
type RevokedError struct{ Notice string }

func (e *RevokedError) Error() string { return e.Notice }
func (e *RevokedError) Unwrap() error { return ErrNotAllowed }

// time converts an HLC value to wall time in the local zone.
func wallTime(clock uint64) time.Time { return replica.Physical(clock).Local() }

// communityProfile returns the newest profile written by a coordinator.
func (s *state) communityProfile() (CommunityProfile, bool) {
	c, ok := latest(s.communities, func(c communityState) bool { return s.isCoordinator(c.author) })
	return c.rec, ok
}

// org returns the newest profile of an organisation written by a coordinator.
func (s *state) org(id crypto.ID16) (OrgProfile, bool) {
	o, ok := latest(s.orgs[id], func(o orgState) bool { return s.isCoordinator(o.author) })
	return o.rec, ok
}

func (s *state) orgName(id crypto.ID16) string {
	if o, ok := s.org(id); ok {
		return o.Name
	}
	return "(" + id.String()[:8] + ")"
}

// profileName returns the name a person gave themselves, or that a
// coordinator or an admin of their organisation gave them: the newest
// profile that counts (mayWriteProfile). False when none does, as on a
// relay, which opens no profile.
func (s *state) profileName(p crypto.ID16) (string, bool) {
	pr, ok := latest(s.profiles[p], func(pr profileState) bool { return validName(pr.rec.Name) && s.mayWriteProfile(pr) })
	return pr.rec.Name, ok
}

// validName reports whether a profile's name can be shown on one line, as
// written: no control or format characters (a right-to-left override
// would show another name).
func validName(n string) bool {
	if strings.TrimSpace(n) == "" || len(n) > 200 || !utf8.ValidString(n) {
		return false
	}
	for _, r := range n {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// deviceName returns the name of a device's person.
func (s *state) deviceName(d crypto.DeviceID) string {
	if m, ok := s.trust.Member(d); ok {
		return s.personName(m.Person)
	}
	return "(" + d.Short() + ")"
}

// person returns a device's person ID.
func (s *state) person(d crypto.DeviceID) crypto.ID16 {
	m, _ := s.trust.Member(d)
	return m.Person
}

// personName returns a person's name, or their ID in brackets when no
// profile of theirs counts.
func (s *state) personName(p crypto.ID16) string {
	if n, ok := s.profileName(p); ok {
		return n
	}
	return "(" + p.String()[:8] + ")"
}

// personOrg returns a person's organisation: that of an active device,
// else of any device.
func (s *state) personOrg(p crypto.ID16) crypto.ID16 {
	var org crypto.ID16
	found := false
	for _, m := range s.trust.Members() {
		if m.Person != p {
			continue
		}
		if _, revoked := s.trust.Revoked(m.Device); !revoked {
			return m.Org
		}
		if !found {
			org, found = m.Org, true
		}
	}
	return org
}

// personLabel is how a person is shown wherever a name could mislead:
// "Name (Organisation)".
func (s *state) personLabel(p crypto.ID16) string {
	return s.personName(p) + " (" + s.orgName(s.personOrg(p)) + ")"
}

// deviceLabel is personLabel for a device's person.
func (s *state) deviceLabel(d crypto.DeviceID) string {
	if m, ok := s.trust.Member(d); ok {
		return s.personLabel(m.Person)
	}
	return "(" + d.Short() + ")"
}

// activeDevices returns the unrevoked devices of a person.
func (s *state) activeDevices(p crypto.ID16) []crypto.PublicDevice {
	var out []crypto.PublicDevice
	for _, m := range s.trust.Members() {
		if m.Person != p {
			continue
		}
		if _, revoked := s.trust.Revoked(m.Device); revoked {
			continue
		}
		out = append(out, m.Public())
	}
	return out
}

// orgs returns every organisation, by name.
func (s *state) orgList() []Org {
	count := map[crypto.ID16]map[crypto.ID16]bool{}
	for _, m := range s.trust.Members() {
		if _, revoked := s.trust.Revoked(m.Device); revoked {
			continue
		}
		if count[m.Org] == nil {
			count[m.Org] = map[crypto.ID16]bool{}
		}
		count[m.Org][m.Person] = true
	}
	var out []Org
	for id := range s.orgs {
		o, ok := s.org(id)
		if !ok {
			continue
		}
		out = append(out, Org{ID: id.String(), Name: o.Name, Kind: o.Kind, Sector: o.Sector, Members: len(count[id])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// memberList returns every person with their devices, by name, with who
// admitted each device (the issuer of its membership) and who revoked it.
func (s *state) memberList() []Member {
	members := s.trust.Members()
	// Each person's organisation (as personOrg), in one pass.
	orgOf := map[crypto.ID16]crypto.ID16{}
	for _, activeOnly := range []bool{true, false} {
		for _, m := range members {
			_, revoked := s.trust.Revoked(m.Device)
			if _, ok := orgOf[m.Person]; !ok && (!activeOnly || !revoked) {
				orgOf[m.Person] = m.Org
			}
		}
	}
	label := func(d crypto.DeviceID) string {
		m, ok := s.trust.Member(d)
		if !ok {
			return "(" + d.Short() + ")"
		}
		return s.personName(m.Person) + " (" + s.orgName(orgOf[m.Person]) + ")"
	}
	byPerson := map[crypto.ID16]*Member{}
	for _, m := range members {
		mem := byPerson[m.Person]
		if mem == nil {
			org := orgOf[m.Person]
			mem = &Member{Person: m.Person.String(), Name: s.personName(m.Person), Org: org.String(), OrgName: s.orgName(org), Role: m.Role}
			byPerson[m.Person] = mem
		}
		d := Device{ID: m.Device.String(), Role: m.Role}
		if by, ok := s.trust.Issuer(m.Device); ok {
			d.AdmittedBy, d.AdmittedByDevice, d.Founder = label(by), by.String(), by == m.Device
		}
		if cut, ok := s.trust.Cut(m.Device); ok {
			d.Revoked, d.LastValidSeq, d.RevokedBy = true, cut.Seq, label(cut.By)
			if n, ok := latest(s.revocations[m.Device], func(r revocationState) bool { return s.isCoordinator(r.author) }); ok {
				d.RevokeReason = n.rec.Reason
			}
		} else if rank(m.Role) > rank(mem.Role) || allRevoked(mem) {
			mem.Role = m.Role
		}
		if have, _ := s.trust.Quorum(m.Device); have > 0 && !d.Revoked {
			d.AwaitingQuorum = true
		}
		mem.Devices = append(mem.Devices, d)
	}
	out := make([]Member, 0, len(byPerson))
	for _, m := range byPerson {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		if out[i].OrgName != out[j].OrgName {
			return out[i].OrgName < out[j].OrgName
		}
		return out[i].Person < out[j].Person
	})
	return out
}

func allRevoked(m *Member) bool {
	for _, d := range m.Devices {
		if !d.Revoked {
			return false
		}
	}
	return true
}

func rank(r crypto.Role) int {
	switch r {
	case crypto.RoleCoordinator:
		return 3
	case crypto.RoleOrgAdmin:
		return 2
	case crypto.RoleMember:
		return 1
	}
	return 0
}

// Orgs lists the organisations.
func (a *App) Orgs() []Org {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.view.orgList()
}

// Members lists the people of the community and their devices, with the
// devices caught equivocating flagged.
func (a *App) Members() []Member {
	forked := map[string]bool{}
	for _, h := range a.store.Forks() {
		forked[crypto.DeviceID(h.Author).String()] = true
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	ms := a.view.memberList()
	for i := range ms {
		for j := range ms[i].Devices {
			ms[i].Devices[j].Forked = forked[ms[i].Devices[j].ID]
		}
	}
	a.viewer().permitMembers(ms)
	return ms
}

// WhoAmI describes this device.
func (a *App) WhoAmI() WhoAmI {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s := a.view
	w := WhoAmI{Name: a.dev.Name, Device: a.dev.ID().String()}
	m, ok := s.trust.Member(a.dev.ID())
	if !ok {
		return w
	}
	w.Joined = true
	w.Community = s.trust.Community().String()
	if c, ok := s.communityProfile(); ok {
		w.CommunityName, w.Demo = c.Name, c.Demo
	}
	w.Person, w.Org, w.OrgName, w.Role = m.Person.String(), m.Org.String(), s.orgName(m.Org), m.Role
	if o, ok := s.org(m.Org); ok {
		w.OrgKind = o.Kind
	}
	var cut crypto.Cut
	if cut, w.Revoked = s.trust.Cut(a.dev.ID()); w.Revoked {
		w.RevokedBy, w.RevokedAt, w.RevokeReason = a.revokedBy(cut)
	}
	w.Abilities = a.viewer().abilities()
	return w
}

// revokedBy says who revoked this device, when, and why when this device
// can read it. The caller holds a.mu.
func (a *App) revokedBy(cut crypto.Cut) (by string, at *time.Time, reason string) {
	s := a.view
	by = s.deviceLabel(cut.By)
	if c, ok := a.revocations().find(a.dev.ID(), cut); ok {
		t := wallTime(c.clock)
		at = &t
	}
	if n, ok := latest(s.revocations[a.dev.ID()], func(r revocationState) bool { return s.isCoordinator(r.author) }); ok {
		reason = n.rec.Reason
	}
	return by, at, reason
}

// me returns this device's membership, or ErrNoCommunity, or a
// RevokedError that says who revoked it. The caller holds a.mu.
func (a *App) me() (crypto.Membership, error) {
	m, ok := a.view.trust.Member(a.dev.ID())
	if !ok {
		return m, fmt.Errorf("%w: create one (`noroshi community create`) or join one (`noroshi join INVITE`)", ErrNoCommunity)
	}
	if cut, revoked := a.view.trust.Cut(a.dev.ID()); revoked {
		return m, &RevokedError{Notice: revokedNotice(a.revokedBy(cut))}
	}
	return m, nil
}

// findOrg finds an organisation by name (case-insensitive) or ID prefix.
func (s *state) findOrg(q string) (crypto.ID16, error) {
	q = strings.TrimSpace(q)
	var hits []crypto.ID16
	for id := range s.orgs {
		o, ok := s.org(id)
		if !ok {
			continue
		}
		if strings.EqualFold(o.Name, q) {
			return id, nil
		}
		if len(q) >= 6 && strings.HasPrefix(id.String(), strings.ToLower(q)) {
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return crypto.ID16{}, fmt.Errorf("%w: no organisation %q: see `noroshi org list`", ErrNotFound, q)
	}
	return crypto.ID16{}, fmt.Errorf("%w: %q matches %d organisations: give more of the ID", ErrAmbiguous, q, len(hits))
}

// findPerson resolves a person: by person ID or device ID (a prefix of at
// least 6 hex digits), or by name only when exactly one person bears it
// (case-insensitively). A name never routes on its own: a name that
// several people bear is refused with each of them, "Name (Organisation)
// ID", to choose from. An ID match wins over a name, so nobody can take
// another person's ID as their name.
func (s *state) findPerson(q string) (crypto.ID16, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return crypto.ID16{}, fmt.Errorf("%w: name a person: give their person ID from `noroshi member list`", ErrInvalid)
	}
	lq := strings.ToLower(q)
	var hits []crypto.ID16
	if len(lq) >= 6 && isHex(lq) {
		for _, m := range s.trust.Members() {
			if strings.HasPrefix(m.Person.String(), lq) || strings.HasPrefix(m.Device.String(), lq) {
				hits = appendUnique(hits, m.Person)
			}
		}
		if len(hits) > 1 {
			return crypto.ID16{}, fmt.Errorf("%w: ID %q matches %d people: %s; give more of the ID", ErrAmbiguous, q, len(hits), s.peopleList(hits))
		}
	}
	if len(hits) == 0 {
		for _, p := range s.persons() {
			if n, ok := s.profileName(p); ok && strings.EqualFold(n, q) {
				hits = append(hits, p)
			}
		}
		if len(hits) > 1 {
			return crypto.ID16{}, fmt.Errorf("%w: %d people are named %q: %s; give the person ID of the one you mean", ErrAmbiguous, len(hits), q, s.peopleList(hits))
		}
	}
	if len(hits) == 0 && len(lq) < 6 && isHex(lq) {
		return crypto.ID16{}, fmt.Errorf("%w: no member named %q; an ID takes at least 6 hex digits: see `noroshi member list`", ErrNotFound, q)
	}
	if len(hits) == 0 {
		return crypto.ID16{}, fmt.Errorf("%w: no member %q: see `noroshi member list`", ErrNotFound, q)
	}
	return hits[0], nil
}

// persons returns every person ID, in order.
func (s *state) persons() []crypto.ID16 {
	var out []crypto.ID16
	for _, m := range s.trust.Members() {
		out = appendUnique(out, m.Person)
	}
	sortIDs(out)
	return out
}

func sortIDs(ids []crypto.ID16) {
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
}

// peopleList shows people to choose from: "Name (Organisation) 1a2b3c4d".
func (s *state) peopleList(ps []crypto.ID16) string {
	ps = append([]crypto.ID16(nil), ps...)
	sortIDs(ps)
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = s.personLabel(p) + " " + p.String()[:8]
	}
	return strings.Join(parts, ", ")
}

func isHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// findDevice resolves one device: by device ID (a prefix of at least 6 hex
// digits), or a person (as findPerson) whose only active device it is.
func (s *state) findDevice(q string) (crypto.DeviceID, error) {
	lq := strings.ToLower(strings.TrimSpace(q))
	var hits []crypto.DeviceID
	if len(lq) >= 6 && isHex(lq) {
		for _, m := range s.trust.Members() {
			if strings.HasPrefix(m.Device.String(), lq) {
				hits = append(hits, m.Device)
			}
		}
	}
	switch {
	case len(hits) == 1:
		return hits[0], nil
	case len(hits) > 1:
		return crypto.DeviceID{}, fmt.Errorf("%w: %q matches %d devices: give more of the device ID from `noroshi member list`", ErrAmbiguous, q, len(hits))
	}
	p, err := s.findPerson(q)
	if err != nil {
		return crypto.DeviceID{}, err
	}
	var all, active []crypto.DeviceID
	for _, m := range s.trust.Members() {
		if m.Person != p {
			continue
		}
		all = append(all, m.Device)
		if _, revoked := s.trust.Revoked(m.Device); !revoked {
			active = append(active, m.Device)
		}
	}
	switch {
	case len(all) == 1:
		return all[0], nil
	case len(active) == 1:
		return active[0], nil
	}
	ids := make([]string, len(all))
	for i, d := range all {
		ids[i] = d.Short()
	}
	return crypto.DeviceID{}, fmt.Errorf("%w: %s has %d devices (%s): give the device ID from `noroshi member list`", ErrAmbiguous, s.personLabel(p), len(all), strings.Join(ids, ", "))
}

// revocationIndex is what the trust state does not keep of revocation
// certificates: when each was written. It is read from the store only on
// a revoked device (to say when), from where it stopped last, and rebuilt
// with the views.
type revocationIndex struct {
	mu   sync.Mutex
	seq  uint64
	refs map[crypto.DeviceID][]revocationRef
}

// revocationRef is one revocation certificate.
type revocationRef struct {
	author crypto.DeviceID
	clock  uint64
	id     envelope.Hash
	last   uint64 // the last valid sequence it names
}

func newRevocationIndex() *revocationIndex {
	return &revocationIndex{refs: map[crypto.DeviceID][]revocationRef{}}
}

// revocations brings the view's revocation index up to date with the store.
// The caller holds a.mu (read or write).
func (a *App) revocations() *revocationIndex {
	ri := a.view.revIndex
	ri.mu.Lock()
	defer ri.mu.Unlock()
	err := a.store.Since(ri.seq, func(seq uint64, e *envelope.Envelope) error {
		ri.seq = seq
		h := e.Header
		if h.Class != envelope.ClassCertificate {
			return nil
		}
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil || c.Revocation == nil {
			return nil
		}
		d := c.Revocation.Device
		ri.refs[d] = append(ri.refs[d], revocationRef{author: crypto.DeviceID(h.Author), clock: h.Clock, id: h.ID(), last: c.Revocation.LastValidSeq})
		return nil
	})
	if err != nil {
		a.cfg.Logf("revocation index: %v", err)
	}
	return ri
}

// find returns the earliest revocation of d by the cut's issuer at the
// cut's place.
func (ri *revocationIndex) find(d crypto.DeviceID, cut crypto.Cut) (revocationRef, bool) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	var best revocationRef
	found := false
	for _, r := range ri.refs[d] {
		if r.author != cut.By || r.last != cut.Seq {
			continue
		}
		if !found || r.clock < best.clock || (r.clock == best.clock && bytes.Compare(r.id[:], best.id[:]) < 0) {
			best, found = r, true
		}
	}
	return best, found
}

package app

import (
	"fmt"
	"sort"
	"strings"
	"time"

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

// Member is a person with their devices.
type Member struct {
	Person  string      `json:"person"`
	Name    string      `json:"name"`
	Org     string      `json:"org"`
	OrgName string      `json:"org_name"`
	Role    crypto.Role `json:"role"`
	Devices []Device    `json:"devices"`
}

// Device is one device of a member.
type Device struct {
	ID           string      `json:"id"`
	Role         crypto.Role `json:"role"`
	Revoked      bool        `json:"revoked,omitempty"`
	LastValidSeq uint64      `json:"last_valid_seq,omitempty"`
	RevokeReason string      `json:"revoke_reason,omitempty"`
	// Forked is set when the device wrote two different envelopes at the
	// same place in its chain (equivocation): a broken or cloned device,
	// or a hostile one. Coordinators should look into it.
	Forked bool `json:"forked,omitempty"`
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
}

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

// deviceName returns the name of a device's person.
func (s *state) deviceName(d crypto.DeviceID) string {
	if p, ok := s.profiles[d]; ok {
		return p.rec.Name
	}
	return "(" + d.Short() + ")"
}

// person returns a device's person ID.
func (s *state) person(d crypto.DeviceID) crypto.ID16 {
	m, _ := s.trust.Member(d)
	return m.Person
}

func (s *state) personName(p crypto.ID16) string {
	for _, m := range s.trust.Members() {
		if m.Person == p {
			return s.deviceName(m.Device)
		}
	}
	return "(" + p.String()[:8] + ")"
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

// memberList returns every person with their devices, by name.
func (s *state) memberList() []Member {
	byPerson := map[crypto.ID16]*Member{}
	for _, m := range s.trust.Members() {
		mem := byPerson[m.Person]
		if mem == nil {
			mem = &Member{Person: m.Person.String(), Name: s.deviceName(m.Device), Org: m.Org.String(), OrgName: s.orgName(m.Org), Role: m.Role}
			byPerson[m.Person] = mem
		}
		d := Device{ID: m.Device.String(), Role: m.Role}
		if last, ok := s.trust.Revoked(m.Device); ok {
			d.Revoked, d.LastValidSeq = true, last
			if n, ok := latest(s.revocations[m.Device], func(r revocationState) bool { return s.isCoordinator(r.author) }); ok {
				d.RevokeReason = n.rec.Reason
			}
		} else if rank(m.Role) > rank(mem.Role) || allRevoked(mem) {
			mem.Role = m.Role
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
	_, w.Revoked = s.trust.Revoked(a.dev.ID())
	return w
}

// me returns this device's membership, or ErrNoCommunity.
func (a *App) me() (crypto.Membership, error) {
	m, ok := a.view.trust.Member(a.dev.ID())
	if !ok {
		return m, fmt.Errorf("%w: create one (`noroshi community create`) or join one (`noroshi join INVITE`)", ErrNoCommunity)
	}
	if _, revoked := a.view.trust.Revoked(a.dev.ID()); revoked {
		return m, fmt.Errorf("%w: this device was revoked by a coordinator", ErrNotAllowed)
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

// findPerson finds a person by name (case-insensitive), person ID prefix
// or device ID prefix.
func (s *state) findPerson(q string) (crypto.ID16, error) {
	q = strings.TrimSpace(q)
	lq := strings.ToLower(q)
	hits := map[crypto.ID16]bool{}
	for _, m := range s.trust.Members() {
		if strings.EqualFold(s.deviceName(m.Device), q) {
			hits[m.Person] = true
			continue
		}
		if len(q) >= 6 && (strings.HasPrefix(m.Person.String(), lq) || strings.HasPrefix(m.Device.String(), lq)) {
			hits[m.Person] = true
		}
	}
	switch len(hits) {
	case 1:
		for p := range hits {
			return p, nil
		}
	case 0:
		return crypto.ID16{}, fmt.Errorf("%w: no member %q: see `noroshi member list`", ErrNotFound, q)
	}
	return crypto.ID16{}, fmt.Errorf("%w: %q matches %d people: use the person ID from `noroshi member list`", ErrAmbiguous, q, len(hits))
}

// findDevice finds one device by ID prefix, or the only device of a person.
func (s *state) findDevice(q string) (crypto.DeviceID, error) {
	lq := strings.ToLower(strings.TrimSpace(q))
	var hits []crypto.DeviceID
	for _, m := range s.trust.Members() {
		if len(lq) >= 6 && strings.HasPrefix(m.Device.String(), lq) {
			hits = append(hits, m.Device)
		}
	}
	if len(hits) == 0 {
		if p, err := s.findPerson(q); err == nil {
			for _, m := range s.trust.Members() {
				if m.Person == p {
					hits = append(hits, m.Device)
				}
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return crypto.DeviceID{}, fmt.Errorf("%w: no device %q: see `noroshi member list`", ErrNotFound, q)
	}
	return crypto.DeviceID{}, fmt.Errorf("%w: %q matches %d devices: give the device ID from `noroshi member list`", ErrAmbiguous, q, len(hits))
}

// findID resolves a hex ID prefix among ids.
func findID[V any](m map[envelope.Hash]V, q, what, hint string) (envelope.Hash, error) {
	lq := strings.ToLower(strings.TrimSpace(q))
	if len(lq) < 6 {
		return envelope.Hash{}, fmt.Errorf("%w: %s ID %q too short: give at least 6 hex digits (%s)", ErrInvalid, what, q, hint)
	}
	var hits []envelope.Hash
	for id := range m {
		if strings.HasPrefix(id.String(), lq) {
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return envelope.Hash{}, fmt.Errorf("%w: no %s %q (%s)", ErrNotFound, what, q, hint)
	}
	return envelope.Hash{}, fmt.Errorf("%w: %s ID %q matches %d: give more digits", ErrAmbiguous, what, q, len(hits))
}

package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"noroshi/crypto/envelope"
)

// Errors from Trust.
var (
	ErrNoCommunity   = errors.New("no community yet: the genesis certificate has not arrived")
	ErrOtherGenesis  = errors.New("genesis of another community")
	ErrNotMember     = errors.New("author is not a member of this community")
	ErrRevoked       = errors.New("author's device was revoked before this envelope")
	ErrNotAllowed    = errors.New("the author's role does not allow this certificate")
	ErrBadGenesisPos = errors.New("a genesis certificate must be the first envelope of its author's chain")
)

// Trust is the state of a community's certificates: who is a member with
// which role, who is revoked after which header, which key epochs exist.
// It is a deterministic function of the set of certificates added, whatever
// their order: Add records a certificate and replays every certificate in
// the canonical order (clock, then header ID), judging each against the
// state left by those before it, never by the issuer's role when the
// certificate happens to arrive. A certificate that its issuer may not
// write at its position is kept but inert (see Verdict).
//
// Authority, the certificate rows of the table in DESIGN.md section 4
// (sealed records state theirs in app/record.go), enforced by step and the
// functions it calls:
//
//	genesis                        the founder, once, at sequence 1 of its chain
//	membership, new person         coordinator: any organisation and role (a new coordinator with a quorum); org admin: own organisation, member or org admin; Person = PersonOf(Device)
//	membership, existing person    coordinator; org admin of that person's organisation with an Endorsement by one of the person's active devices
//	membership, existing device    coordinator (a device made or unmade a coordinator only with a quorum, but a coordinator's own new device); org admin: own organisation's members and org admins; same person and recipient always
//	revocation                     coordinator; of a coordinator only with a quorum; never the last coordinator; never the founder's genesis nor the revoker's own membership
//	key epoch, community/transport created by a coordinator; re-granted (same commitment) by coordinators and org admins
//	key epoch, organisation        created by a coordinator or an org admin of that organisation; re-granted likewise
//	key grant                      to active members only; a relay only the transport key; an organisation's key only inside it and to coordinators
//	anything                       relays: nothing; a revoked device: nothing after its last valid header
//
// The quorum to make, change or revoke a coordinator (any device that is a
// coordinator anywhere in the set): matching certificates from min(2, P)
// distinct persons that are active coordinators, where P counts the persons
// other than the target's that hold an active coordinator device; the one
// that completes the quorum names the cut (or the membership). P = 0: the
// target's own person alone, if it keeps another coordinator device; else
// the target is the last coordinator, and is refused.
type Trust struct {
	community envelope.Hash
	certs     []*certEntry // every certificate, in canonical order
	byID      map[envelope.Hash]*certEntry

	// Derived by replay.
	genesis  *Genesis
	members  map[DeviceID]*memberEntry
	persons  map[ID16][]DeviceID // devices of each person, in order of admission
	revoked  map[DeviceID]Cut
	epochs   map[EpochID]EpochInfo
	votes    map[DeviceID]map[voteKey]*certEntry // pending quorum votes about a coordinator
	verdicts map[envelope.Hash]error
	// cuts are the revocation cuts the replay honours by chain position,
	// whatever the order: grown to a fixed point (see replay).
	cuts map[DeviceID]Cut

	// Facts of the set, whatever the order: the devices that some
	// membership (valid or not) makes a coordinator, or a coordinator or
	// org admin. A revocation of a device that is ever a coordinator needs
	// the quorum, whatever its role at the revocation's clock; a device
	// that is never privileged writes no certificate with effect.
	everCoord, everPriv map[DeviceID]bool
}

// voteKey is one person's vote about a coordinator: to revoke it, or to
// change its membership.
type voteKey struct {
	person ID16
	revoke bool
}

// Cut is where a revocation cuts a device's chain: its last valid header.
type Cut struct {
	Seq  uint64
	Last envelope.Hash
	By   DeviceID // the revocation's issuer (the first of a quorum)
}

// EpochInfo is what the community agreed about one key epoch: its scope,
// its creator and the commitment to its key.
type EpochInfo struct {
	Scope      Scope
	Org        ID16
	Commitment [32]byte
	Creator    DeviceID
	Clock      uint64 // the creating grant's clock
}

type memberEntry struct {
	m      Membership
	issuer DeviceID
	clock  uint64
	id     envelope.Hash
}

// certEntry is what Trust keeps of one certificate: its header's facts and
// the certificate without the sealed key bytes of grants.
type certEntry struct {
	id     envelope.Hash
	author DeviceID
	seq    uint64
	clock  uint64
	c      *Certificate
}

func (e *certEntry) before(o *certEntry) bool {
	if e.clock != o.clock {
		return e.clock < o.clock
	}
	return bytes.Compare(e.id[:], o.id[:]) < 0
}

// NewTrust returns the trust state of a community with the given genesis ID.
// A zero ID means "the first genesis added founds it".
func NewTrust(community envelope.Hash) *Trust {
	t := &Trust{community: community, byID: map[envelope.Hash]*certEntry{},
		everCoord: map[DeviceID]bool{}, everPriv: map[DeviceID]bool{}}
	t.reset()
	return t
}

func (t *Trust) reset() {
	t.genesis = nil
	t.members = map[DeviceID]*memberEntry{}
	t.persons = map[ID16][]DeviceID{}
	t.revoked = map[DeviceID]Cut{}
	t.epochs = map[EpochID]EpochInfo{}
	t.votes = map[DeviceID]map[voteKey]*certEntry{}
	t.verdicts = map[envelope.Hash]error{}
}

// Community returns the genesis header ID, zero before the genesis is applied.
func (t *Trust) Community() envelope.Hash {
	if t.genesis == nil {
		return envelope.Hash{}
	}
	return t.community
}

// Genesis returns the genesis certificate, nil before it is applied.
func (t *Trust) Genesis() *Genesis { return t.genesis }

// Member returns d's current membership.
func (t *Trust) Member(d DeviceID) (Membership, bool) {
	e, ok := t.members[d]
	if !ok {
		return Membership{}, false
	}
	return e.m, true
}

// Issuer returns the device that issued d's current membership (the founder
// for itself).
func (t *Trust) Issuer(d DeviceID) (DeviceID, bool) {
	e, ok := t.members[d]
	if !ok {
		return DeviceID{}, false
	}
	return e.issuer, true
}

// Revoked returns the last valid sequence number of a revoked device.
func (t *Trust) Revoked(d DeviceID) (uint64, bool) {
	c, ok := t.revoked[d]
	return c.Seq, ok
}

// Cut returns where a revoked device's chain is cut.
func (t *Trust) Cut(d DeviceID) (Cut, bool) {
	c, ok := t.revoked[d]
	return c, ok
}

// MayEverIssue reports whether some membership in the set makes d a
// coordinator or an org admin: if none does, no certificate of d can take
// effect wherever it sorts, and a store need not keep it.
func (t *Trust) MayEverIssue(d DeviceID) bool { return t.everPriv[d] }

// Quorum returns, for changing or revoking a coordinator device, how many
// coordinators (persons) have revoked it so far and how many must; need is
// 0 when the device is the last coordinator (it cannot be revoked).
func (t *Trust) Quorum(target DeviceID) (have, need int) {
	tm, ok := t.members[target]
	if !ok || (tm.m.Role != RoleCoordinator && !t.everCoord[target]) {
		return 0, 1
	}
	for k := range t.votes[target] {
		if k.revoke {
			have++
		}
	}
	return have, t.need(target, tm.m.Person)
}

// Voted reports whether person p has revoked target, waiting for a quorum.
func (t *Trust) Voted(target DeviceID, p ID16) bool {
	_, ok := t.votes[target][voteKey{p, true}]
	return ok
}

// Epoch returns what the community agreed about a key epoch; false when no
// grant allowed at its position created it.
func (t *Trust) Epoch(e EpochID) (EpochInfo, bool) {
	i, ok := t.epochs[e]
	return i, ok
}

// Verdict returns why a certificate is inert: nil when it took effect (or
// was never added).
func (t *Trust) Verdict(id envelope.Hash) error { return t.verdicts[id] }

// Members returns every membership, revoked devices included, ordered by device ID.
func (t *Trust) Members() []Membership {
	out := make([]Membership, 0, len(t.members))
	for _, e := range t.members {
		out = append(out, e.m)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Device[:], out[j].Device[:]) < 0 })
	return out
}

// Admits checks that h's author may write h: a member that is not a relay,
// not revoked at h's place in its chain. It does not check the signature,
// nor (at the cut itself) that h is the header the revocation names.
func (t *Trust) Admits(h *envelope.Header) error {
	if t.genesis == nil {
		return ErrNoCommunity
	}
	author := DeviceID(h.Author)
	e, ok := t.members[author]
	if !ok {
		return ErrNotMember
	}
	if c, ok := t.revoked[author]; ok && h.Seq > c.Seq {
		return fmt.Errorf("%w (sequence %d, last valid %d)", ErrRevoked, h.Seq, c.Seq)
	}
	if e.m.Role == RoleRelay {
		return fmt.Errorf("%w: a relay writes nothing but its own announcements", ErrNotAllowed)
	}
	return nil
}

// CheckGenesis checks a genesis certificate on its own: at the first place
// of its founder's chain, and of this community.
func (t *Trust) CheckGenesis(h *envelope.Header, c *Certificate) error {
	g := c.Genesis
	if h.Seq != 1 || g.Founder.Device != DeviceID(h.Author) {
		return ErrBadGenesisPos
	}
	if !t.community.IsZero() && h.ID() != t.community {
		return ErrOtherGenesis
	}
	return nil
}

// Add records a certificate and recomputes the trust state. Adding the same
// certificate again changes nothing. The caller has checked the header's
// signature and that it continues its author's chain. Add reports whether
// the state may have lost something (a membership, a role, or a part of a
// chain): when the certificate did not come last in the order, or revokes,
// or changes an existing device.
func (t *Trust) Add(h *envelope.Header, c *Certificate) (shrunk bool) {
	id := h.ID()
	if _, ok := t.byID[id]; ok {
		return false
	}
	e := &certEntry{id: id, author: DeviceID(h.Author), seq: h.Seq, clock: h.Clock, c: slim(c)}
	if e.c.Genesis != nil && t.community.IsZero() {
		t.community = id
	}
	t.byID[id] = e
	t.noteEver(e)
	i := sort.Search(len(t.certs), func(i int) bool { return e.before(t.certs[i]) })
	t.certs = append(t.certs, nil)
	copy(t.certs[i+1:], t.certs[i:])
	t.certs[i] = e
	if e.c.Genesis == nil && !t.everPriv[e.author] && t.cuts != nil {
		// No membership in the set lets its author write certificates:
		// inert wherever it sorts, it changes nothing (and a member
		// writing them cannot make every commit replay the set).
		t.verdicts[id] = notAllowed("device %s is never a coordinator or org admin", e.author.Short())
		return false
	}
	if i == len(t.certs)-1 && t.cuts != nil && e.c.Revocation == nil {
		// Last in the order and cutting nothing: one step is the replay.
		existing := false
		if m := e.c.Membership; m != nil {
			_, existing = t.members[m.Device]
		}
		t.verdicts[id] = t.step(e)
		return existing
	}
	t.replay()
	return true
}

// AddAll records many certificates and recomputes the state once.
func (t *Trust) AddAll(hs []*envelope.Header, cs []*Certificate) {
	for i, h := range hs {
		id := h.ID()
		if _, ok := t.byID[id]; ok {
			continue
		}
		e := &certEntry{id: id, author: DeviceID(h.Author), seq: h.Seq, clock: h.Clock, c: slim(cs[i])}
		if e.c.Genesis != nil && t.community.IsZero() {
			t.community = id
		}
		t.byID[id] = e
		t.noteEver(e)
		t.certs = append(t.certs, e)
	}
	sort.Slice(t.certs, func(i, j int) bool { return t.certs[i].before(t.certs[j]) })
	t.replay()
}

// Remove forgets certificates (their envelopes were purged) and recomputes.
func (t *Trust) Remove(ids ...envelope.Hash) {
	n := 0
	for _, id := range ids {
		if _, ok := t.byID[id]; ok {
			delete(t.byID, id)
			n++
		}
	}
	if n == 0 {
		return
	}
	kept := t.certs[:0]
	for _, e := range t.certs {
		if _, ok := t.byID[e.id]; ok {
			kept = append(kept, e)
		}
	}
	clear(t.certs[len(kept):])
	t.certs = kept
	t.everCoord, t.everPriv = map[DeviceID]bool{}, map[DeviceID]bool{}
	for _, e := range t.certs {
		t.noteEver(e)
	}
	t.replay()
}

// noteEver records what e's membership says its device may ever be.
func (t *Trust) noteEver(e *certEntry) {
	var m *Membership
	switch {
	case e.c.Genesis != nil:
		m = &e.c.Genesis.Founder
	case e.c.Membership != nil:
		m = e.c.Membership
	default:
		return
	}
	switch m.Role {
	case RoleCoordinator:
		t.everCoord[m.Device], t.everPriv[m.Device] = true, true
	case RoleOrgAdmin:
		t.everPriv[m.Device] = true
	}
}

// slim returns c without the sealed key bytes of a grant, which Trust never
// reads: a rotation to 1,800 devices would otherwise pin megabytes.
func slim(c *Certificate) *Certificate {
	if c.KeyGrant == nil {
		return c
	}
	kg := *c.KeyGrant
	kg.Grants = make([]Grant, len(c.KeyGrant.Grants))
	for i, g := range c.KeyGrant.Grants {
		kg.Grants[i] = Grant{Device: g.Device}
	}
	return &Certificate{V: c.V, KeyGrant: &kg}
}

// replay recomputes the state from every certificate in canonical order.
// Revocations cut by chain position, which the order by clock does not
// follow (a revocation may name a header older than certificates that sort
// before it): so the replay honours the cuts found by the previous pass,
// and repeats until no new cut appears. Cuts only accumulate, so this ends.
func (t *Trust) replay() {
	t.cuts = map[DeviceID]Cut{}
	for pass := 0; ; pass++ {
		t.reset()
		for _, e := range t.certs {
			t.verdicts[e.id] = t.step(e)
		}
		// The next pass honours exactly the cuts found by this one; if
		// that does not settle in a few passes (cuts that undo each
		// other), the cuts accumulate instead, which must end.
		next := map[DeviceID]Cut{}
		if pass >= 3 {
			for d, c := range t.cuts {
				next[d] = c
			}
		}
		for d, c := range t.revoked {
			if old, ok := next[d]; !ok || c.Seq < old.Seq {
				next[d] = c
			}
		}
		if sameCuts(next, t.cuts) {
			return
		}
		t.cuts = next
	}
}

func sameCuts(a, b map[DeviceID]Cut) bool {
	if len(a) != len(b) {
		return false
	}
	for d, c := range a {
		if o, ok := b[d]; !ok || o.Seq != c.Seq {
			return false
		}
	}
	return true
}

// step applies one certificate at its position and returns why it is
// inert, nil when it took effect.
func (t *Trust) step(e *certEntry) error {
	c := e.c
	if g := c.Genesis; g != nil {
		if t.genesis != nil || e.id != t.community {
			return ErrOtherGenesis
		}
		if e.seq != 1 || g.Founder.Device != e.author {
			return ErrBadGenesisPos
		}
		t.genesis = g
		t.setMember(g.Founder, e.author, e)
		return nil
	}
	if t.genesis == nil {
		return ErrNoCommunity
	}
	issuer, ok := t.members[e.author]
	if !ok {
		return ErrNotMember
	}
	if cut, ok := t.revoked[e.author]; ok && e.seq > cut.Seq {
		return ErrRevoked
	}
	if cut, ok := t.cuts[e.author]; ok && e.seq > cut.Seq {
		return ErrRevoked
	}
	switch {
	case c.Membership != nil:
		return t.membership(e, issuer.m)
	case c.Revocation != nil:
		return t.revocation(e, issuer.m)
	case c.KeyGrant != nil:
		return t.keyGrant(e, issuer.m)
	}
	return fmt.Errorf("%w: empty certificate", ErrNotAllowed)
}

func notAllowed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotAllowed}, args...)...)
}

// active reports whether d is a member, not revoked.
func (t *Trust) active(d DeviceID) (*memberEntry, bool) {
	e, ok := t.members[d]
	if !ok {
		return nil, false
	}
	if _, r := t.revoked[d]; r {
		return nil, false
	}
	return e, true
}

func (t *Trust) membership(e *certEntry, issuer Membership) error {
	m := *e.c.Membership
	cur, exists := t.members[m.Device]
	if exists {
		if _, r := t.revoked[m.Device]; r {
			return notAllowed("device %s is revoked: it needs a new device key and invite", m.Device.Short())
		}
		if m.Recipient != cur.m.Recipient {
			return notAllowed("a device's encryption key never changes")
		}
	}
	personExists := len(t.persons[m.Person]) > 0
	if !personExists && m.Person != PersonOf(m.Device) {
		return notAllowed("a new person's ID is derived from its first device")
	}
	switch issuer.Role {
	case RoleCoordinator:
		if exists && cur.m.Role == RoleCoordinator && (m.Role != RoleCoordinator || m.Org != cur.m.Org || m.Person != cur.m.Person) {
			return t.vote(e, issuer, m.Device)
		}
		if m.Role == RoleCoordinator && (!exists || cur.m.Role != RoleCoordinator) && !t.samePersonCoordinator(m) {
			// A new coordinator takes the same quorum as removing one:
			// otherwise one coordinator would make up the second vote
			// with a coordinator of its own.
			return t.vote(e, issuer, m.Device)
		}
	case RoleOrgAdmin:
		switch {
		case m.Org != issuer.Org || (m.Role != RoleMember && m.Role != RoleOrgAdmin):
			return notAllowed("an org admin admits members and org admins of their own organisation only")
		case exists && (cur.m.Org != issuer.Org || (cur.m.Role != RoleMember && cur.m.Role != RoleOrgAdmin)):
			return notAllowed("an org admin changes only members and org admins of their own organisation")
		case exists && cur.m.Person != m.Person:
			return notAllowed("only a coordinator moves a device to another person")
		case !exists && personExists:
			if err := t.endorsed(m); err != nil {
				return err
			}
		}
	default:
		return notAllowed("role %s cannot admit devices", issuer.Role)
	}
	t.setMember(m, e.author, e)
	return nil
}

// endorsed checks that a new device of an existing person carries the
// signature of one of that person's active devices, in the same
// organisation.
func (t *Trust) endorsed(m Membership) error {
	en := m.Endorsement
	if en == nil {
		return notAllowed("a new device of an existing person needs a coordinator, or an endorsement by one of that person's devices")
	}
	d, ok := t.active(en.Device)
	if !ok || d.m.Person != m.Person || d.m.Org != m.Org {
		return notAllowed("the endorsing device is not an active device of that person in that organisation")
	}
	if !VerifyBytes(en.Device, EndorsementMessage(t.community, m), en.Sig) {
		return notAllowed("bad endorsement signature")
	}
	return nil
}

func (t *Trust) setMember(m Membership, issuer DeviceID, e *certEntry) {
	if old, ok := t.members[m.Device]; ok && old.m.Person != m.Person {
		t.persons[old.m.Person] = without(t.persons[old.m.Person], m.Device)
	}
	if old, ok := t.members[m.Device]; !ok || old.m.Person != m.Person {
		t.persons[m.Person] = append(t.persons[m.Person], m.Device)
	}
	m.Endorsement = nil
	t.members[m.Device] = &memberEntry{m: m, issuer: issuer, clock: e.clock, id: e.id}
}

func without(ds []DeviceID, d DeviceID) []DeviceID {
	out := make([]DeviceID, 0, len(ds))
	for _, x := range ds {
		if x != d {
			out = append(out, x)
		}
	}
	return out
}

func (t *Trust) revocation(e *certEntry, issuer Membership) error {
	r := e.c.Revocation
	if issuer.Role != RoleCoordinator {
		return notAllowed("only coordinators revoke devices")
	}
	if r.Device == e.author {
		return notAllowed("a device cannot revoke itself; ask another coordinator")
	}
	target, ok := t.members[r.Device]
	if !ok {
		return notAllowed("device %s is not a member here", r.Device.Short())
	}
	if g := t.genesis; g != nil && g.Founder.Device == r.Device && r.LastValidSeq < 1 {
		return notAllowed("a revocation never reaches back before the device's membership: the founder's genesis stays")
	}
	if t.restsOn(e.author, r.Device, r.LastValidSeq) {
		return notAllowed("the revocation would cut the certificates its own issuer's membership rests on: name the last envelope of the device you hold")
	}
	if target.m.Role == RoleCoordinator || t.everCoord[r.Device] {
		// A device that is a coordinator anywhere in the set: a
		// revocation dated before its promotion still needs the quorum.
		return t.vote(e, issuer, r.Device)
	}
	t.cut(r.Device, Cut{Seq: r.LastValidSeq, Last: r.LastValid, By: e.author})
	return nil
}

// restsOn reports whether d's membership rests on a certificate that
// target wrote after sequence seq: walking from d's membership to its
// issuer's, up to the genesis.
func (t *Trust) restsOn(d, target DeviceID, seq uint64) bool {
	seen := map[DeviceID]bool{}
	for !seen[d] {
		seen[d] = true
		m, ok := t.members[d]
		if !ok {
			return false
		}
		if c := t.byID[m.id]; c != nil && c.author == target && c.seq > seq {
			return true
		}
		d = m.issuer
	}
	return false
}

func (t *Trust) cut(d DeviceID, c Cut) {
	if old, ok := t.revoked[d]; ok && (old.Seq < c.Seq || (old.Seq == c.Seq && bytes.Compare(old.Last[:], c.Last[:]) <= 0)) {
		return
	}
	t.revoked[d] = c
}

// vote records a coordinator's revocation or demotion of a coordinator
// device, and applies it once the quorum is reached.
func (t *Trust) vote(e *certEntry, issuer Membership, target DeviceID) error {
	revoke := e.c.Revocation != nil
	var person ID16
	if tm, ok := t.members[target]; ok {
		person = tm.m.Person
	} else if m := e.c.Membership; m != nil {
		person = m.Person // a new device
	}
	need := t.need(target, person)
	if need == 0 {
		return notAllowed("the last coordinator cannot be revoked or demoted: make another coordinator first")
	}
	v := t.votes[target]
	if v == nil {
		v = map[voteKey]*certEntry{}
		t.votes[target] = v
	}
	v[voteKey{issuer.Person, revoke}] = e
	// Votes count while their voter is an active coordinator, one per
	// person.
	persons := map[ID16]bool{}
	for k, x := range v {
		if m, ok := t.active(x.author); k.revoke == revoke && ok && m.m.Role == RoleCoordinator {
			persons[k.person] = true
		}
	}
	if len(persons) < need {
		return nil // a vote, kept until a second coordinator agrees
	}
	if r := e.c.Revocation; r != nil {
		// The revocation that completes the quorum names the cut: the
		// coordinator who agrees last has seen the most of the device.
		t.cut(target, Cut{Seq: r.LastValidSeq, Last: r.LastValid, By: e.author})
		delete(t.votes, target)
		return nil
	}
	t.setMember(*e.c.Membership, e.author, e)
	delete(t.votes, target)
	return nil
}

// need returns how many coordinators (persons) must agree to revoke or
// change the coordinator device target of person, or to make target a
// coordinator: two where two others exist, else one; 0 when no one may
// (the target is the last coordinator). The target's person counts when
// it keeps another coordinator device: a coordinator revokes its own lost
// laptop.
func (t *Trust) need(target DeviceID, person ID16) int {
	others := map[ID16]bool{}
	own := false
	for d, m := range t.members {
		if _, r := t.revoked[d]; r || m.m.Role != RoleCoordinator || d == target {
			continue
		}
		if m.m.Person == person {
			own = true
		} else {
			others[m.m.Person] = true
		}
	}
	switch {
	case len(others) > 0:
		return min(2, len(others))
	case own:
		return 1
	}
	return 0
}

// samePersonCoordinator reports whether m makes a coordinator of another
// device of a person who is a coordinator already (a coordinator's new
// laptop): no new coordinator person, no quorum.
func (t *Trust) samePersonCoordinator(m Membership) bool {
	for _, d := range t.persons[m.Person] {
		if x, ok := t.active(d); ok && d != m.Device && x.m.Role == RoleCoordinator {
			return true
		}
	}
	return false
}

func (t *Trust) keyGrant(e *certEntry, issuer Membership) error {
	g := e.c.KeyGrant
	switch issuer.Role {
	case RoleCoordinator:
	case RoleOrgAdmin:
		if g.Scope == ScopeOrg && g.Org != issuer.Org {
			return notAllowed("an org admin grants keys of their own organisation only")
		}
	default:
		return notAllowed("role %s cannot grant keys", issuer.Role)
	}
	if EpochOf(g.Commitment) != g.Epoch {
		return notAllowed("epoch %x is not derived from its key commitment", g.Epoch[:6])
	}
	info, exists := t.epochs[g.Epoch]
	if exists {
		if info.Scope != g.Scope || info.Org != g.Org || info.Commitment != g.Commitment {
			return notAllowed("a second, different key for epoch %x (created by %s): refused", g.Epoch[:6], info.Creator.Short())
		}
	} else if g.Scope != ScopeOrg && issuer.Role != RoleCoordinator {
		return notAllowed("only coordinators create community and transport key epochs")
	}
	for _, gr := range g.Grants {
		m, ok := t.active(gr.Device)
		if !ok {
			return notAllowed("key granted to device %s, not an active member", gr.Device.Short())
		}
		switch {
		case g.Scope == ScopeTransport:
		case m.m.Role == RoleRelay:
			return notAllowed("a relay is granted the transport key only")
		case g.Scope == ScopeOrg && m.m.Org != g.Org && m.m.Role != RoleCoordinator:
			return notAllowed("an organisation's key granted outside it")
		}
	}
	if !exists {
		t.epochs[g.Epoch] = EpochInfo{Scope: g.Scope, Org: g.Org, Commitment: g.Commitment, Creator: e.author, Clock: e.clock}
	}
	return nil
}

// Clone returns an independent copy of t. Entries are never changed in
// place, so the maps are copied shallowly; persons' slices are appended
// to, so they are copied.
func (t *Trust) Clone() *Trust {
	c := &Trust{community: t.community, genesis: t.genesis,
		certs:     slices.Clone(t.certs),
		byID:      maps.Clone(t.byID),
		members:   maps.Clone(t.members),
		persons:   make(map[ID16][]DeviceID, len(t.persons)),
		revoked:   maps.Clone(t.revoked),
		epochs:    maps.Clone(t.epochs),
		votes:     make(map[DeviceID]map[voteKey]*certEntry, len(t.votes)),
		everCoord: maps.Clone(t.everCoord),
		everPriv:  maps.Clone(t.everPriv),
		verdicts:  maps.Clone(t.verdicts),
		cuts:      maps.Clone(t.cuts),
	}
	for k, v := range t.persons {
		c.persons[k] = slices.Clone(v)
	}
	for k, v := range t.votes {
		c.votes[k] = maps.Clone(v)
	}
	return c
}

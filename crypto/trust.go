package crypto

import (
	"bytes"
	"errors"
	"fmt"
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

// Trust is the state of a community's certificates: who is a member with which
// role, and who is revoked after which sequence number. It is a function of
// the set of certificates applied, whatever their order, as long as each was
// allowed when applied (the store applies a certificate only once its author
// is a member).
//
// A device's membership is the latest, by (clock, header ID), of those issued
// for it, with one restriction so that an org admin cannot take over a device
// outside its remit: a membership issued by an org admin counts only while
// the latest membership a coordinator issued for the device (if any) puts it
// in that admin's organisation as a member or org admin. Otherwise an org
// admin could demote a coordinator, the founder included, or pull a member a
// coordinator admitted to another organisation into its own, by issuing a
// membership with a later clock. (Between memberships issued only by admins
// of different organisations, the latest wins: a coordinator's membership
// settles such a dispute.) Both rules are functions of the set of
// memberships applied.
type Trust struct {
	community envelope.Hash
	genesis   *Genesis
	members   map[DeviceID]memberEntry   // the current membership of each device
	history   map[DeviceID]memberHistory // what it is computed from
	revoked   map[DeviceID]uint64
}

type memberEntry struct {
	m     Membership
	clock uint64
	id    envelope.Hash
}

// after reports whether e supersedes o.
func (e memberEntry) after(o memberEntry) bool {
	return e.clock > o.clock || (e.clock == o.clock && bytes.Compare(e.id[:], o.id[:]) > 0)
}

// memberHistory is what Trust keeps of one device's memberships: the latest
// issued by a coordinator (or the genesis), and per organisation the latest
// issued by that organisation's admins.
type memberHistory struct {
	coord   *memberEntry
	byAdmin map[ID16]memberEntry
}

// current returns the device's membership, as the Trust doc says.
func (h memberHistory) current() (memberEntry, bool) {
	var best memberEntry
	ok := false
	if h.coord != nil {
		best, ok = *h.coord, true
	}
	for org, e := range h.byAdmin {
		if c := h.coord; c != nil && (c.m.Org != org || (c.m.Role != RoleMember && c.m.Role != RoleOrgAdmin)) {
			continue
		}
		if !ok || e.after(best) {
			best, ok = e, true
		}
	}
	return best, ok
}

// NewTrust returns the trust state of a community with the given genesis ID.
// A zero ID means "the first genesis applied founds it".
func NewTrust(community envelope.Hash) *Trust {
	return &Trust{
		community: community,
		members:   map[DeviceID]memberEntry{},
		history:   map[DeviceID]memberHistory{},
		revoked:   map[DeviceID]uint64{},
	}
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
	return e.m, ok
}

// Revoked returns the last valid sequence number of a revoked device.
func (t *Trust) Revoked(d DeviceID) (uint64, bool) {
	s, ok := t.revoked[d]
	return s, ok
}

// Members returns every membership, revoked devices included, ordered by device ID.
func (t *Trust) Members() []Membership {
	out := make([]Membership, 0, len(t.members))
	for _, e := range t.members {
		out = append(out, e.m)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Device[:], out[j].Device[:]) < 0 })
	return out
}

// Admits checks that h's author may write h: a member, not revoked before
// h.Seq. It does not check the signature.
func (t *Trust) Admits(h *envelope.Header) error {
	if t.genesis == nil {
		return ErrNoCommunity
	}
	author := DeviceID(h.Author)
	if _, ok := t.members[author]; !ok {
		return ErrNotMember
	}
	if last, ok := t.revoked[author]; ok && h.Seq > last {
		return fmt.Errorf("%w (sequence %d, last valid %d)", ErrRevoked, h.Seq, last)
	}
	return nil
}

// Check reports whether certificate c in header h may be applied now. A
// genesis is checked on its own; anything else needs its author admitted.
func (t *Trust) Check(h *envelope.Header, c *Certificate) error {
	author := DeviceID(h.Author)
	if g := c.Genesis; g != nil {
		if h.Seq != 1 || g.Founder.Device != author {
			return ErrBadGenesisPos
		}
		if !t.community.IsZero() && h.ID() != t.community {
			return ErrOtherGenesis
		}
		if t.genesis != nil && h.ID() != t.community {
			return ErrOtherGenesis
		}
		return nil // applying the same genesis again changes nothing
	}
	if err := t.Admits(h); err != nil {
		return err
	}
	issuer := t.members[author].m
	switch {
	case issuer.Role == RoleCoordinator:
	case c.Membership != nil && issuer.Role == RoleOrgAdmin:
		m := c.Membership
		if m.Org != issuer.Org || (m.Role != RoleMember && m.Role != RoleOrgAdmin) {
			return fmt.Errorf("%w: an org admin admits members and org admins of their own organisation only", ErrNotAllowed)
		}
	case c.KeyGrant != nil && issuer.Role == RoleOrgAdmin:
		g := c.KeyGrant
		if g.Scope == ScopeOrg && g.Org != issuer.Org {
			return fmt.Errorf("%w: an org admin grants keys of their own organisation only", ErrNotAllowed)
		}
	default:
		return fmt.Errorf("%w (role %s)", ErrNotAllowed, issuer.Role)
	}
	if r := c.Revocation; r != nil && r.Device == author {
		return fmt.Errorf("%w: a device cannot revoke itself; ask another coordinator", ErrNotAllowed)
	}
	return nil
}

// Apply folds a certificate that Check allowed into the trust state.
func (t *Trust) Apply(h *envelope.Header, c *Certificate) {
	id := h.ID()
	switch {
	case c.Genesis != nil:
		t.genesis = c.Genesis
		t.community = id
		t.set(c.Genesis.Founder, h.Clock, id, nil)
	case c.Membership != nil:
		var adminOf *ID16
		if issuer, ok := t.members[DeviceID(h.Author)]; ok && issuer.m.Role == RoleOrgAdmin {
			adminOf = &issuer.m.Org
		}
		t.set(*c.Membership, h.Clock, id, adminOf)
	case c.Revocation != nil:
		r := c.Revocation
		if last, ok := t.revoked[r.Device]; !ok || r.LastValidSeq < last {
			t.revoked[r.Device] = r.LastValidSeq
		}
	}
}

// set records membership m, issued by a coordinator (adminOf nil) or by an
// admin of organisation *adminOf, and recomputes the device's membership.
func (t *Trust) set(m Membership, clock uint64, id envelope.Hash, adminOf *ID16) {
	e := memberEntry{m: m, clock: clock, id: id}
	h := t.history[m.Device]
	if adminOf == nil {
		if h.coord == nil || e.after(*h.coord) {
			h.coord = &e
		}
	} else {
		if old, ok := h.byAdmin[*adminOf]; !ok || e.after(old) {
			if h.byAdmin == nil {
				h.byAdmin = map[ID16]memberEntry{}
			}
			h.byAdmin[*adminOf] = e
		}
	}
	t.history[m.Device] = h
	if cur, ok := h.current(); ok {
		t.members[m.Device] = cur
	}
}

// Clone returns an independent copy of t.
func (t *Trust) Clone() *Trust {
	c := &Trust{community: t.community, genesis: t.genesis,
		members: make(map[DeviceID]memberEntry, len(t.members)),
		history: make(map[DeviceID]memberHistory, len(t.history)),
		revoked: make(map[DeviceID]uint64, len(t.revoked))}
	for k, v := range t.members {
		c.members[k] = v
	}
	for k, v := range t.history {
		h := memberHistory{coord: v.coord} // entries are never changed in place
		if v.byAdmin != nil {
			h.byAdmin = make(map[ID16]memberEntry, len(v.byAdmin))
			for org, e := range v.byAdmin {
				h.byAdmin[org] = e
			}
		}
		c.history[k] = h
	}
	for k, v := range t.revoked {
		c.revoked[k] = v
	}
	return c
}

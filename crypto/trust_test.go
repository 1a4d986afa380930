package crypto_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
)

// chains signs certificates as a set of devices would, each on its own
// chain, and decodes them back as a receiver would.
type chains struct {
	t   testing.TB
	pos map[crypto.DeviceID]crypto.Position
}

func newChains(t testing.TB) *chains {
	return &chains{t: t, pos: map[crypto.DeviceID]crypto.Position{}}
}

type signed struct {
	h *envelope.Header
	c *crypto.Certificate
}

func (s signed) String() string {
	return fmt.Sprintf("seq %d by %s", s.h.Seq, crypto.DeviceID(s.h.Author).Short())
}

// issue signs c as the next envelope of d's chain.
func (ch *chains) issue(d *crypto.Device, c *crypto.Certificate, clock uint64) signed {
	ch.t.Helper()
	pos, ok := ch.pos[d.ID()]
	if !ok {
		pos = crypto.Position{Seq: 1}
	}
	return ch.issueAt(d, c, clock, pos)
}

func (ch *chains) issueAt(d *crypto.Device, c *crypto.Certificate, clock uint64, pos crypto.Position) signed {
	ch.t.Helper()
	e, err := d.NewCertificate(c, pos, clock)
	if err != nil {
		ch.t.Fatalf("NewCertificate: %v", err)
	}
	ch.pos[d.ID()] = pos.Next(e.ID())
	b, err := e.Encode()
	if err != nil {
		ch.t.Fatal(err)
	}
	e, err = envelope.Decode(b)
	if err != nil {
		ch.t.Fatal(err)
	}
	if err := crypto.Verify(e.Header); err != nil {
		ch.t.Fatal(err)
	}
	dc, err := crypto.DecodeCertificate(e.Payload)
	if err != nil {
		ch.t.Fatal(err)
	}
	return signed{e.Header, dc}
}

func genesis(d *crypto.Device, org crypto.ID16) *crypto.Certificate {
	return &crypto.Certificate{Genesis: &crypto.Genesis{Nonce: crypto.ID16{7}, Founder: membership(d, crypto.ID16{0xf0}, org, crypto.RoleCoordinator)}}
}

func member(d *crypto.Device, org crypto.ID16, role crypto.Role) *crypto.Certificate {
	m := membership(d, crypto.ID16{byte(len(d.Name))}, org, role)
	return &crypto.Certificate{Membership: &m}
}

func revoke(d *crypto.Device, last uint64) *crypto.Certificate {
	return &crypto.Certificate{Revocation: &crypto.Revocation{Device: d.ID(), LastValidSeq: last}}
}

func grant(t testing.TB, scope crypto.Scope, org crypto.ID16, to *crypto.Device) *crypto.Certificate {
	g, err := crypto.NewGroupKey(cryptotest.Rand("trust grant"))
	if err != nil {
		t.Fatal(err)
	}
	kg, err := crypto.NewKeyGrant(cryptotest.Rand("trust grant"), scope, org, g, []crypto.PublicDevice{to.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return &crypto.Certificate{KeyGrant: kg}
}

// fataler is what apply needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// apply checks then applies s, failing t if the check fails.
func apply(t fataler, tr *crypto.Trust, s signed) {
	t.Helper()
	if err := tr.Check(s.h, s.c); err != nil {
		t.Fatalf("Check %s: %v", s, err)
	}
	tr.Apply(s.h, s.c)
}

// community founds a community: the founder coordinator in org A, an org A
// admin, an org A member, an org B admin, and a relay.
type testCommunity struct {
	ch                                   *chains
	tr                                   *crypto.Trust
	gen                                  signed
	founder, adminA, memberA, adminB, rl *crypto.Device
}

func newCommunity(t *testing.T) *testCommunity {
	c := &testCommunity{
		ch:      newChains(t),
		tr:      crypto.NewTrust(envelope.Hash{}),
		founder: cryptotest.Device(t, "founder"),
		adminA:  cryptotest.Device(t, "admin A"),
		memberA: cryptotest.Device(t, "member A"),
		adminB:  cryptotest.Device(t, "admin B"),
		rl:      cryptotest.Device(t, "relay"),
	}
	c.gen = c.ch.issue(c.founder, genesis(c.founder, orgA), 100)
	apply(t, c.tr, c.gen)
	apply(t, c.tr, c.ch.issue(c.founder, member(c.adminA, orgA, crypto.RoleOrgAdmin), 101))
	apply(t, c.tr, c.ch.issue(c.founder, member(c.memberA, orgA, crypto.RoleMember), 102))
	apply(t, c.tr, c.ch.issue(c.founder, member(c.adminB, orgB, crypto.RoleOrgAdmin), 103))
	apply(t, c.tr, c.ch.issue(c.founder, member(c.rl, orgA, crypto.RoleRelay), 104))
	return c
}

func TestGenesis(t *testing.T) {
	ch := newChains(t)
	founder, other := cryptotest.Device(t, "founder"), cryptotest.Device(t, "other")
	tr := crypto.NewTrust(envelope.Hash{})

	if err := tr.Admits(&envelope.Header{Author: founder.ID(), Seq: 1}); !errors.Is(err, crypto.ErrNoCommunity) {
		t.Errorf("Admits before the genesis: got %v, want ErrNoCommunity", err)
	}
	early := ch.issue(other, member(other, orgA, crypto.RoleMember), 1)
	if err := tr.Check(early.h, early.c); !errors.Is(err, crypto.ErrNoCommunity) {
		t.Errorf("membership before the genesis: got %v, want ErrNoCommunity", err)
	}

	notFirst := ch.issueAt(founder, genesis(founder, orgA), 5, crypto.Position{Seq: 2, Prev: envelope.Hash{1}})
	if err := tr.Check(notFirst.h, notFirst.c); !errors.Is(err, crypto.ErrBadGenesisPos) {
		t.Errorf("genesis at seq 2: got %v, want ErrBadGenesisPos", err)
	}
	forOther := ch.issueAt(founder, genesis(other, orgA), 5, crypto.Position{Seq: 1})
	if err := tr.Check(forOther.h, forOther.c); !errors.Is(err, crypto.ErrBadGenesisPos) {
		t.Errorf("genesis signed by someone else than its founder: got %v, want ErrBadGenesisPos", err)
	}

	gen := ch.issueAt(founder, genesis(founder, orgA), 10, crypto.Position{Seq: 1})
	apply(t, tr, gen)
	if got, want := tr.Community(), gen.h.ID(); got != want {
		t.Errorf("Community() = %s, want the genesis ID %s", got, want)
	}
	if tr.Genesis() == nil || !reflect.DeepEqual(*tr.Genesis(), *gen.c.Genesis) {
		t.Errorf("Genesis() = %+v, want %+v", tr.Genesis(), gen.c.Genesis)
	}
	if m, ok := tr.Member(founder.ID()); !ok || m.Role != crypto.RoleCoordinator {
		t.Errorf("founder: got %+v, %v; want a coordinator", m, ok)
	}
	if err := tr.Admits(gen.h); err != nil {
		t.Errorf("Admits the genesis: %v", err)
	}
	if err := tr.Check(gen.h, gen.c); err != nil {
		t.Errorf("the same genesis again: got %v, want nil", err)
	}
	second := ch.issueAt(other, genesis(other, orgB), 11, crypto.Position{Seq: 1})
	if err := tr.Check(second.h, second.c); !errors.Is(err, crypto.ErrOtherGenesis) {
		t.Errorf("a second genesis: got %v, want ErrOtherGenesis", err)
	}

	// A store that knows its community's ID refuses any other genesis,
	// even as the first it sees.
	known := crypto.NewTrust(gen.h.ID())
	if known.Community() != (envelope.Hash{}) {
		t.Errorf("Community() before the genesis is applied: got %s, want zero", known.Community())
	}
	if err := known.Check(second.h, second.c); !errors.Is(err, crypto.ErrOtherGenesis) {
		t.Errorf("another genesis for a known community: got %v, want ErrOtherGenesis", err)
	}
	apply(t, known, gen)
}

func TestCheck(t *testing.T) {
	c := newCommunity(t)
	stranger := cryptotest.Device(t, "stranger")
	newbie := cryptotest.Device(t, "newbie")
	tests := []struct {
		name string
		by   *crypto.Device
		cert *crypto.Certificate
		want error // nil: allowed
	}{
		{"coordinator admits a coordinator", c.founder, member(newbie, orgB, crypto.RoleCoordinator), nil},
		{"coordinator admits a member of any org", c.founder, member(newbie, orgB, crypto.RoleMember), nil},
		{"coordinator admits a relay", c.founder, member(newbie, orgB, crypto.RoleRelay), nil},
		{"coordinator revokes", c.founder, revoke(c.memberA, 3), nil},
		{"coordinator grants any key", c.founder, grant(t, crypto.ScopeOrg, orgB, newbie), nil},
		{"coordinator cannot revoke itself", c.founder, revoke(c.founder, 3), crypto.ErrNotAllowed},

		{"member cannot admit", c.memberA, member(newbie, orgA, crypto.RoleMember), crypto.ErrNotAllowed},
		{"member cannot revoke", c.memberA, revoke(c.adminA, 1), crypto.ErrNotAllowed},
		{"member cannot grant", c.memberA, grant(t, crypto.ScopeOrg, orgA, newbie), crypto.ErrNotAllowed},
		{"relay cannot admit", c.rl, member(newbie, orgA, crypto.RoleMember), crypto.ErrNotAllowed},
		{"stranger cannot admit", stranger, member(newbie, orgA, crypto.RoleMember), crypto.ErrNotMember},

		{"org admin admits a member of its org", c.adminA, member(newbie, orgA, crypto.RoleMember), nil},
		{"org admin admits an org admin of its org", c.adminA, member(newbie, orgA, crypto.RoleOrgAdmin), nil},
		{"org admin cannot admit into another org", c.adminA, member(newbie, orgB, crypto.RoleMember), crypto.ErrNotAllowed},
		{"org admin cannot admit a coordinator", c.adminA, member(newbie, orgA, crypto.RoleCoordinator), crypto.ErrNotAllowed},
		{"org admin cannot admit a relay", c.adminA, member(newbie, orgA, crypto.RoleRelay), crypto.ErrNotAllowed},
		{"org admin cannot revoke", c.adminA, revoke(c.memberA, 1), crypto.ErrNotAllowed},
		{"org admin grants its org's key", c.adminA, grant(t, crypto.ScopeOrg, orgA, newbie), nil},
		{"org admin grants the community key", c.adminB, grant(t, crypto.ScopeCommunity, crypto.ID16{}, newbie), nil},
		{"org admin cannot grant another org's key", c.adminB, grant(t, crypto.ScopeOrg, orgA, newbie), crypto.ErrNotAllowed},
		{"org admin cannot found", c.adminA, genesis(c.adminA, orgA), crypto.ErrBadGenesisPos},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.ch.issue(tt.by, tt.cert, 200)
			err := c.tr.Check(s.h, s.c)
			if tt.want == nil && err != nil {
				t.Errorf("got %v, want allowed", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	c := newCommunity(t)
	apply(t, c.tr, c.ch.issue(c.founder, revoke(c.memberA, 3), 300))
	if last, ok := c.tr.Revoked(c.memberA.ID()); !ok || last != 3 {
		t.Errorf("Revoked: got %d, %v; want 3, true", last, ok)
	}
	for _, tt := range []struct {
		seq  uint64
		want error
	}{{1, nil}, {3, nil}, {4, crypto.ErrRevoked}, {1000, crypto.ErrRevoked}} {
		h := &envelope.Header{Author: c.memberA.ID(), Seq: tt.seq}
		if err := c.tr.Admits(h); !errors.Is(err, tt.want) {
			t.Errorf("Admits seq %d of a device revoked after 3: got %v, want %v", tt.seq, err, tt.want)
		}
	}
	if _, ok := c.tr.Member(c.memberA.ID()); !ok {
		t.Errorf("a revoked device's membership is gone; Members() keeps revoked devices")
	}

	// A revoked coordinator's certificates after the cutoff are refused.
	coord := cryptotest.Device(t, "second coordinator")
	apply(t, c.tr, c.ch.issue(c.founder, member(coord, orgA, crypto.RoleCoordinator), 301))
	apply(t, c.tr, c.ch.issue(coord, member(cryptotest.Device(t, "x"), orgA, crypto.RoleMember), 302)) // seq 1
	apply(t, c.tr, c.ch.issue(c.founder, revoke(coord, 1), 303))
	late := c.ch.issue(coord, member(cryptotest.Device(t, "y"), orgA, crypto.RoleMember), 304) // seq 2
	if err := c.tr.Check(late.h, late.c); !errors.Is(err, crypto.ErrRevoked) {
		t.Errorf("certificate by a revoked coordinator after its cutoff: got %v, want ErrRevoked", err)
	}
	// The revoked coordinator can no longer revoke the founder either.
	if s := c.ch.issue(coord, revoke(c.founder, 0), 305); c.tr.Check(s.h, s.c) == nil {
		t.Errorf("revocation by a revoked coordinator: allowed")
	}
}

// TestRevocationOrder checks that the lowest cutoff wins, in any order.
func TestRevocationOrder(t *testing.T) {
	c := newCommunity(t)
	coord2 := cryptotest.Device(t, "coordinator 2")
	apply(t, c.tr, c.ch.issue(c.founder, member(coord2, orgB, crypto.RoleCoordinator), 200))
	r5 := c.ch.issue(c.founder, revoke(c.memberA, 5), 201)
	r3 := c.ch.issue(coord2, revoke(c.memberA, 3), 202)
	for _, order := range [][]signed{{r5, r3}, {r3, r5}} {
		tr := c.tr.Clone()
		for _, s := range order {
			apply(t, tr, s)
		}
		if last, _ := tr.Revoked(c.memberA.ID()); last != 3 {
			t.Errorf("revoked after 5 and after 3, applied %v then %v: last valid %d, want 3", order[0], order[1], last)
		}
	}
	if _, ok := c.tr.Revoked(c.memberA.ID()); ok {
		t.Errorf("Clone shares state with the original")
	}
}

// TestMembershipLWW checks that the membership of each device is the latest
// by (clock, header ID), with org admins' memberships counting only within
// their remit (see Trust), whatever order they are applied in.
func TestMembershipLWW(t *testing.T) {
	founder := cryptotest.Device(t, "founder")
	coord := cryptotest.Device(t, "coordinator 2")
	adminA, adminB := cryptotest.Device(t, "admin A"), cryptotest.Device(t, "admin B")
	devices := []*crypto.Device{cryptotest.Device(t, "d0"), cryptotest.Device(t, "d1"), cryptotest.Device(t, "d2")}
	roles := []crypto.Role{crypto.RoleMember, crypto.RoleOrgAdmin, crypto.RoleCoordinator, crypto.RoleRelay}
	orgs := []crypto.ID16{orgA, orgB}
	issuers := []*crypto.Device{founder, coord, adminA, adminB}
	adminOrg := map[*crypto.Device]crypto.ID16{adminA: orgA, adminB: orgB}

	rapid.Check(t, func(rt *rapid.T) {
		ch := newChains(t)
		base := []signed{
			ch.issue(founder, genesis(founder, orgA), 1),
			ch.issue(founder, member(coord, orgA, crypto.RoleCoordinator), 2),
			ch.issue(founder, member(adminA, orgA, crypto.RoleOrgAdmin), 3),
			ch.issue(founder, member(adminB, orgB, crypto.RoleOrgAdmin), 4),
		}
		n := rapid.IntRange(1, 12).Draw(rt, "n")
		var certs []signed
		byAdmin := map[envelope.Hash]crypto.ID16{}
		for i := range n {
			by := issuers[rapid.IntRange(0, len(issuers)-1).Draw(rt, fmt.Sprint("issuer ", i))]
			d := devices[rapid.IntRange(0, len(devices)-1).Draw(rt, fmt.Sprint("device ", i))]
			role := roles[rapid.IntRange(0, len(roles)-1).Draw(rt, fmt.Sprint("role ", i))]
			org := orgs[rapid.IntRange(0, 1).Draw(rt, fmt.Sprint("org ", i))]
			if o, ok := adminOrg[by]; ok { // what Check allows an org admin
				org, role = o, roles[rapid.IntRange(0, 1).Draw(rt, fmt.Sprint("admin role ", i))]
			}
			clock := rapid.Uint64Range(10, 14).Draw(rt, fmt.Sprint("clock ", i)) // ties are likely
			s := ch.issue(by, member(d, org, role), clock)
			if o, ok := adminOrg[by]; ok {
				byAdmin[s.h.ID()] = o
			}
			certs = append(certs, s)
		}
		members := func(order []int) []crypto.Membership {
			tr := crypto.NewTrust(envelope.Hash{})
			for _, s := range base {
				apply(rt, tr, s)
			}
			for _, i := range order {
				apply(rt, tr, certs[i])
			}
			return tr.Members()
		}
		inOrder := make([]int, n)
		for i := range inOrder {
			inOrder[i] = i
		}
		want := members(inOrder)
		perm := rapid.Permutation(inOrder).Draw(rt, "order")
		if got := members(perm); !reflect.DeepEqual(got, want) {
			rt.Fatalf("applied in order %v:\ngot  %+v\nwant %+v", perm, got, want)
		}

		// The model: per device, the latest membership by a coordinator,
		// then the latest of it and of those by admins of the organisation
		// it names (of any organisation if there is none).
		later := func(a, b signed) bool {
			return a.h.Clock > b.h.Clock || (a.h.Clock == b.h.Clock && a.h.ID().String() > b.h.ID().String())
		}
		model := map[crypto.DeviceID]signed{}
		for _, d := range devices {
			var coordLatest *signed
			for _, s := range certs {
				if _, admin := byAdmin[s.h.ID()]; !admin && s.c.Membership.Device == d.ID() && (coordLatest == nil || later(s, *coordLatest)) {
					coordLatest = &s
				}
			}
			var best *signed = coordLatest
			for _, s := range certs {
				org, admin := byAdmin[s.h.ID()]
				if !admin || s.c.Membership.Device != d.ID() {
					continue
				}
				if c := coordLatest; c != nil {
					m := c.c.Membership
					if m.Org != org || (m.Role != crypto.RoleMember && m.Role != crypto.RoleOrgAdmin) {
						continue
					}
				}
				if best == nil || later(s, *best) {
					best = &s
				}
			}
			if best != nil {
				model[d.ID()] = *best
			}
		}
		for _, m := range want {
			if s, ok := model[m.Device]; ok && !reflect.DeepEqual(m, *s.c.Membership) {
				rt.Fatalf("device %s: got %+v, want %+v (%s, clock %d)", m.Device.Short(), m, *s.c.Membership, s, s.h.Clock)
			}
		}
		if got, want := len(want), len(base)+len(model); got != want {
			rt.Fatalf("%d members, want %d", got, want)
		}
	})
}

// TestOrgAdminRemit checks that an org admin's memberships cannot take a
// device out of a coordinator's hands or out of another organisation.
func TestOrgAdminRemit(t *testing.T) {
	c := newCommunity(t)
	const late = 1 << 40 // later than anything a coordinator issued
	role := func(d *crypto.Device) (crypto.Role, crypto.ID16) {
		m, _ := c.tr.Member(d.ID())
		return m.Role, m.Org
	}
	tests := []struct {
		name     string
		by       *crypto.Device
		target   *crypto.Device
		org      crypto.ID16
		role     crypto.Role
		wantRole crypto.Role
		wantOrg  crypto.ID16
	}{
		{"org B admin cannot demote the founder", c.adminB, c.founder, orgB, crypto.RoleMember, crypto.RoleCoordinator, orgA},
		{"org A admin cannot demote the founder of its own org", c.adminA, c.founder, orgA, crypto.RoleMember, crypto.RoleCoordinator, orgA},
		{"org B admin cannot pull in an org A member", c.adminB, c.memberA, orgB, crypto.RoleOrgAdmin, crypto.RoleMember, orgA},
		{"org A admin cannot change a relay", c.adminA, c.rl, orgA, crypto.RoleMember, crypto.RoleRelay, orgA},
		{"org A admin promotes its member", c.adminA, c.memberA, orgA, crypto.RoleOrgAdmin, crypto.RoleOrgAdmin, orgA},
		{"org B admin steps down", c.adminB, c.adminB, orgB, crypto.RoleMember, crypto.RoleMember, orgB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.ch.issue(tt.by, member(tt.target, tt.org, tt.role), late)
			tr := c.tr.Clone()
			apply(t, tr, s)
			m, _ := tr.Member(tt.target.ID())
			if m.Role != tt.wantRole || m.Org != tt.wantOrg {
				t.Errorf("got role %s in org %x, want %s in org %x", m.Role, m.Org[:1], tt.wantRole, tt.wantOrg[:1])
			}
		})
	}
	if r, o := role(c.founder); r != crypto.RoleCoordinator || o != orgA {
		t.Errorf("Clone shares state: the founder became %s in %x", r, o[:1])
	}

	// Once a coordinator moves a member to org B, org A's admin no longer
	// decides for it, and org B's admin does.
	tr := c.tr.Clone()
	apply(t, tr, c.ch.issue(c.founder, member(c.memberA, orgB, crypto.RoleMember), 500))
	apply(t, tr, c.ch.issue(c.adminA, member(c.memberA, orgA, crypto.RoleOrgAdmin), 600))
	if m, _ := tr.Member(c.memberA.ID()); m.Org != orgB || m.Role != crypto.RoleMember {
		t.Errorf("after the move, org A's admin changed it to %s in %x", m.Role, m.Org[:1])
	}
	apply(t, tr, c.ch.issue(c.adminB, member(c.memberA, orgB, crypto.RoleOrgAdmin), 700))
	if m, _ := tr.Member(c.memberA.ID()); m.Org != orgB || m.Role != crypto.RoleOrgAdmin {
		t.Errorf("org B's admin promoted it, got %s in %x", m.Role, m.Org[:1])
	}
}

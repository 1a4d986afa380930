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

func (s signed) String() string { return fmt.Sprintf("seq %d by %s", s.h.Seq, crypto.DeviceID(s.h.Author).Short()) }

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

// TestMembershipLWW checks that the membership of each device is the one
// with the greatest (clock, header ID), whatever order they are applied in.
func TestMembershipLWW(t *testing.T) {
	founder := cryptotest.Device(t, "founder")
	coord := cryptotest.Device(t, "coordinator 2")
	devices := []*crypto.Device{cryptotest.Device(t, "d0"), cryptotest.Device(t, "d1"), cryptotest.Device(t, "d2")}
	roles := []crypto.Role{crypto.RoleMember, crypto.RoleOrgAdmin, crypto.RoleCoordinator, crypto.RoleRelay}
	orgs := []crypto.ID16{orgA, orgB}

	rapid.Check(t, func(rt *rapid.T) {
		ch := newChains(t)
		gen := ch.issue(founder, genesis(founder, orgA), 1)
		addCoord := ch.issue(founder, member(coord, orgA, crypto.RoleCoordinator), 2)
		n := rapid.IntRange(1, 12).Draw(rt, "n")
		var certs []signed
		for i := range n {
			by := founder
			if rapid.Bool().Draw(rt, fmt.Sprint("by coordinator 2 ", i)) {
				by = coord
			}
			d := devices[rapid.IntRange(0, len(devices)-1).Draw(rt, fmt.Sprint("device ", i))]
			role := roles[rapid.IntRange(0, len(roles)-1).Draw(rt, fmt.Sprint("role ", i))]
			org := orgs[rapid.IntRange(0, 1).Draw(rt, fmt.Sprint("org ", i))]
			clock := rapid.Uint64Range(10, 14).Draw(rt, fmt.Sprint("clock ", i)) // ties are likely
			certs = append(certs, ch.issue(by, member(d, org, role), clock))
		}
		members := func(order []int) []crypto.Membership {
			tr := crypto.NewTrust(envelope.Hash{})
			apply(rt, tr, gen)
			apply(rt, tr, addCoord)
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

		// The model: per device, the greatest (clock, header ID) wins.
		best := map[crypto.DeviceID]signed{}
		for _, s := range certs {
			d := s.c.Membership.Device
			b, ok := best[d]
			if !ok || s.h.Clock > b.h.Clock || (s.h.Clock == b.h.Clock && s.h.ID().String() > b.h.ID().String()) {
				best[d] = s
			}
		}
		for _, m := range want {
			if s, ok := best[m.Device]; ok && !reflect.DeepEqual(m, *s.c.Membership) {
				rt.Fatalf("device %s: got %+v, want %+v (%s, clock %d)", m.Device.Short(), m, *s.c.Membership, s, s.h.Clock)
			}
		}
		if got, want := len(want), 2+len(best); got != want {
			rt.Fatalf("%d members, want %d", got, want)
		}
	})
}

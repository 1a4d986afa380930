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
	return &crypto.Certificate{Genesis: &crypto.Genesis{Nonce: crypto.ID16{7}, Founder: membership(d, crypto.PersonOf(d.ID()), org, crypto.RoleCoordinator)}}
}

// member admits d as a new person (its person ID derived from d).
func member(d *crypto.Device, org crypto.ID16, role crypto.Role) *crypto.Certificate {
	m := membership(d, crypto.PersonOf(d.ID()), org, role)
	return &crypto.Certificate{Membership: &m}
}

// sameAs admits d as another device of person p.
func sameAs(d *crypto.Device, p crypto.ID16, org crypto.ID16, role crypto.Role) *crypto.Certificate {
	m := membership(d, p, org, role)
	return &crypto.Certificate{Membership: &m}
}

func revoke(d *crypto.Device, last signed) *crypto.Certificate {
	return &crypto.Certificate{Revocation: &crypto.Revocation{Device: d.ID(), LastValidSeq: last.h.Seq, LastValid: last.h.ID()}}
}

func grantKey(t testing.TB, g crypto.GroupKey, scope crypto.Scope, org crypto.ID16, to ...*crypto.Device) *crypto.Certificate {
	var pub []crypto.PublicDevice
	for _, d := range to {
		pub = append(pub, d.Public())
	}
	kg, err := crypto.NewKeyGrant(cryptotest.Rand("trust grant"), scope, org, g, pub)
	if err != nil {
		t.Fatal(err)
	}
	return &crypto.Certificate{KeyGrant: kg}
}

func grant(t testing.TB, scope crypto.Scope, org crypto.ID16, to *crypto.Device) *crypto.Certificate {
	g, err := crypto.NewScopedKey(cryptotest.Rand("trust grant "+to.Name+string(scope)), scope, org)
	if err != nil {
		t.Fatal(err)
	}
	return grantKey(t, g, scope, org, to)
}

// forgedGrant grants key under another epoch's ID, as a modified client
// would (NewKeyGrant refuses to).
func forgedGrant(t testing.TB, epoch crypto.EpochID, key crypto.GroupKey, scope crypto.Scope, org crypto.ID16, to ...*crypto.Device) *crypto.Certificate {
	c := grantKey(t, key, scope, org, to...)
	c.KeyGrant.Epoch = epoch
	return c
}

// fataler is what apply needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// verdict adds s to tr and returns why it is inert, nil when it took effect.
func verdict(tr *crypto.Trust, s signed) error {
	tr.Add(s.h, s.c)
	err := tr.Verdict(s.h.ID())
	return err
}

// apply adds s, failing t if it is inert.
func apply(t fataler, tr *crypto.Trust, s signed) {
	t.Helper()
	if err := verdict(tr, s); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
}

// testCommunity: the founder coordinator in org A, an org A admin, an org A
// member, an org B admin, a relay, and a second coordinator (org B).
type testCommunity struct {
	ch                                          *chains
	tr                                          *crypto.Trust
	gen                                         signed
	founder, adminA, memberA, adminB, rl, coord *crypto.Device
	clock                                       uint64
	all                                         []signed
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
		coord:   cryptotest.Device(t, "coordinator 2"),
		clock:   100,
	}
	c.gen = c.issue(t, c.founder, genesis(c.founder, orgA))
	c.issue(t, c.founder, member(c.adminA, orgA, crypto.RoleOrgAdmin))
	c.issue(t, c.founder, member(c.memberA, orgA, crypto.RoleMember))
	c.issue(t, c.founder, member(c.adminB, orgB, crypto.RoleOrgAdmin))
	c.issue(t, c.founder, member(c.rl, orgA, crypto.RoleRelay))
	c.issue(t, c.founder, member(c.coord, orgB, crypto.RoleCoordinator))
	return c
}

// issue signs c by d at the next clock and applies it.
func (c *testCommunity) issue(t *testing.T, d *crypto.Device, cert *crypto.Certificate) signed {
	t.Helper()
	c.clock++
	s := c.ch.issue(d, cert, c.clock)
	apply(t, c.tr, s)
	c.all = append(c.all, s)
	return s
}

// head returns d's last certificate.
func (c *testCommunity) head(d *crypto.Device) signed {
	var h signed
	for _, s := range c.all {
		if crypto.DeviceID(s.h.Author) == d.ID() {
			h = s
		}
	}
	return h
}

// try signs c by d at the next clock and returns its verdict.
func (c *testCommunity) try(d *crypto.Device, cert *crypto.Certificate) (signed, error) {
	c.clock++
	s := c.ch.issue(d, cert, c.clock)
	c.all = append(c.all, s)
	return s, verdict(c.tr, s)
}

func TestGenesis(t *testing.T) {
	ch := newChains(t)
	founder, other := cryptotest.Device(t, "founder"), cryptotest.Device(t, "other")
	tr := crypto.NewTrust(envelope.Hash{})

	if err := tr.Admits(&envelope.Header{Author: founder.ID(), Seq: 1}); !errors.Is(err, crypto.ErrNoCommunity) {
		t.Errorf("Admits before the genesis: got %v, want ErrNoCommunity", err)
	}
	notFirst := ch.issueAt(founder, genesis(founder, orgA), 5, crypto.Position{Seq: 2, Prev: envelope.Hash{1}})
	if err := tr.CheckGenesis(notFirst.h, notFirst.c); !errors.Is(err, crypto.ErrBadGenesisPos) {
		t.Errorf("genesis at seq 2: got %v, want ErrBadGenesisPos", err)
	}
	forOther := ch.issueAt(founder, genesis(other, orgA), 5, crypto.Position{Seq: 1})
	if err := tr.CheckGenesis(forOther.h, forOther.c); !errors.Is(err, crypto.ErrBadGenesisPos) {
		t.Errorf("genesis signed by someone else than its founder: got %v, want ErrBadGenesisPos", err)
	}
	early := ch.issue(other, member(other, orgA, crypto.RoleMember), 1)
	gen := ch.issueAt(founder, genesis(founder, orgA), 10, crypto.Position{Seq: 1})
	if err := verdict(tr, early); !errors.Is(err, crypto.ErrNoCommunity) {
		t.Errorf("membership before the genesis: got %v, want ErrNoCommunity", err)
	}
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
	second := ch.issueAt(other, genesis(other, orgB), 11, crypto.Position{Seq: 1})
	if err := verdict(tr, second); !errors.Is(err, crypto.ErrOtherGenesis) {
		t.Errorf("a second genesis: got %v, want ErrOtherGenesis", err)
	}
	known := crypto.NewTrust(gen.h.ID())
	if err := known.CheckGenesis(second.h, second.c); !errors.Is(err, crypto.ErrOtherGenesis) {
		t.Errorf("another genesis for a known community: got %v, want ErrOtherGenesis", err)
	}
}

// TestAuthority checks the authority table, one row at a time.
func TestAuthority(t *testing.T) {
	newbie := func(t *testing.T) *crypto.Device { return cryptotest.Device(t, "newbie "+t.Name()) }
	tests := []struct {
		name string
		cert func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate)
		want error // nil: takes effect
	}{
		{"coordinator admits a coordinator", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, member(newbie(t), orgB, crypto.RoleCoordinator)
		}, nil},
		{"coordinator admits a relay", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, member(newbie(t), orgB, crypto.RoleRelay)
		}, nil},
		{"coordinator revokes a member", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.memberA.ID()}}
		}, nil},
		{"coordinator creates an org key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, grant(t, crypto.ScopeOrg, orgB, c.adminB)
		}, nil},
		{"coordinator cannot revoke itself", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.founder.ID(), LastValidSeq: 1, LastValid: c.gen.h.ID()}}
		}, crypto.ErrNotAllowed},
		{"new person's ID must be derived from its device", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, sameAs(newbie(t), crypto.ID16{9, 9}, orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"member cannot admit", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.memberA, member(newbie(t), orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"member cannot revoke", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.memberA, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.adminA.ID()}}
		}, crypto.ErrNotAllowed},
		{"member cannot grant", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.memberA, grant(t, crypto.ScopeOrg, orgA, c.adminA)
		}, crypto.ErrNotAllowed},
		{"relay cannot admit", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.rl, member(newbie(t), orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"org admin admits a new person of its org", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, member(newbie(t), orgA, crypto.RoleOrgAdmin)
		}, nil},
		{"org admin cannot admit into another org", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, member(newbie(t), orgB, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"org admin cannot admit a coordinator", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, member(newbie(t), orgA, crypto.RoleCoordinator)
		}, crypto.ErrNotAllowed},
		{"org admin cannot attach a device to the founder", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, sameAs(newbie(t), crypto.PersonOf(c.founder.ID()), orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"org admin cannot attach a device to a member of its org without an endorsement", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, sameAs(newbie(t), crypto.PersonOf(c.memberA.ID()), orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"org admin attaches a device endorsed by the person", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			cert := sameAs(newbie(t), crypto.PersonOf(c.memberA.ID()), orgA, crypto.RoleMember)
			cert.Membership.Endorsement = c.memberA.Endorse(c.gen.h.ID(), *cert.Membership)
			return c.adminA, cert
		}, nil},
		{"an endorsement by another person does not count", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			cert := sameAs(newbie(t), crypto.PersonOf(c.memberA.ID()), orgA, crypto.RoleMember)
			cert.Membership.Endorsement = c.adminA.Endorse(c.gen.h.ID(), *cert.Membership)
			return c.adminA, cert
		}, crypto.ErrNotAllowed},
		{"org admin cannot demote the founder", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, sameAs(c.founder, crypto.PersonOf(c.founder.ID()), orgA, crypto.RoleMember)
		}, crypto.ErrNotAllowed},
		{"nobody changes a device's encryption key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			m := membership(c.memberA, crypto.PersonOf(c.memberA.ID()), orgA, crypto.RoleMember)
			m.Recipient = c.adminA.Public().Recipient
			return c.founder, &crypto.Certificate{Membership: &m}
		}, crypto.ErrNotAllowed},
		{"org admin cannot revoke", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.memberA.ID()}}
		}, crypto.ErrNotAllowed},
		{"org admin creates its org's key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminA, grant(t, crypto.ScopeOrg, orgA, c.memberA)
		}, nil},
		{"org admin cannot create a community key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminB, grant(t, crypto.ScopeCommunity, crypto.ID16{}, c.adminB)
		}, crypto.ErrNotAllowed},
		{"org admin cannot create a transport key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminB, grant(t, crypto.ScopeTransport, crypto.ID16{}, c.adminB)
		}, crypto.ErrNotAllowed},
		{"org admin cannot grant another org's key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.adminB, grant(t, crypto.ScopeOrg, orgA, c.adminA)
		}, crypto.ErrNotAllowed},
		{"no key to a relay but the transport key", func(t *testing.T, c *testCommunity) (*crypto.Device, *crypto.Certificate) {
			return c.founder, grant(t, crypto.ScopeCommunity, crypto.ID16{}, c.rl)
		}, crypto.ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCommunity(t)
			by, cert := tt.cert(t, c)
			_, err := c.try(by, cert)
			if tt.want == nil && err != nil {
				t.Errorf("got %v, want it to take effect", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRevocationCut checks the cut by hash and its place in the chain.
func TestRevocationCut(t *testing.T) {
	c := newCommunity(t)
	x := c.issue(t, c.adminA, member(cryptotest.Device(t, "x"), orgA, crypto.RoleMember)) // admin A seq 1
	c.issue(t, c.founder, revoke(c.adminA, x))
	if last, ok := c.tr.Revoked(c.adminA.ID()); !ok || last != 1 {
		t.Errorf("Revoked: got %d, %v; want 1, true", last, ok)
	}
	for _, tt := range []struct {
		seq  uint64
		want error
	}{{1, nil}, {2, crypto.ErrRevoked}, {1000, crypto.ErrRevoked}} {
		if err := c.tr.Admits(&envelope.Header{Author: c.adminA.ID(), Seq: tt.seq}); !errors.Is(err, tt.want) {
			t.Errorf("Admits seq %d of a device cut at 1: got %v, want %v", tt.seq, err, tt.want)
		}
	}
	if cut, _ := c.tr.Cut(c.adminA.ID()); cut.Last != x.h.ID() || cut.By != c.founder.ID() {
		t.Errorf("Cut = %+v, want the header %s by the founder", cut, x.h.ID())
	}
	// After the cut, the revoked admin's certificates have no effect, in
	// whatever order they are learnt: one written with a clock before the
	// revocation is cut by its place in the chain, not by its clock.
	late := c.ch.issue(c.adminA, member(cryptotest.Device(t, "y"), orgA, crypto.RoleMember), x.h.Clock+1) // seq 2
	if err := verdict(c.tr, late); !errors.Is(err, crypto.ErrRevoked) {
		t.Errorf("certificate after the cut, clocked before the revocation: got %v, want ErrRevoked", err)
	}
	if _, ok := c.tr.Member(crypto.DeviceID(late.c.Membership.Device)); ok {
		t.Errorf("a member admitted after its issuer's cut is a member")
	}
}

// TestThreatCoordinatorCannotWipeCommunity: one coordinator cannot revoke
// the founder (or any coordinator) alone, nor the last coordinator at all,
// nor reach back before the founder's genesis.
func TestThreatCoordinatorCannotWipeCommunity(t *testing.T) {
	c := newCommunity(t)
	zero := &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.founder.ID()}}
	if _, err := c.try(c.coord, zero); !errors.Is(err, crypto.ErrNotAllowed) {
		t.Errorf("revoking the founder before its genesis: got %v, want ErrNotAllowed", err)
	}
	if _, err := c.try(c.coord, revoke(c.founder, c.gen)); !errors.Is(err, crypto.ErrNotAllowed) {
		t.Errorf("a revocation that cuts the revoker's own membership: got %v, want ErrNotAllowed", err)
	}
	if _, err := c.try(c.coord, revoke(c.founder, c.head(c.founder))); err != nil {
		t.Fatalf("a first coordinator's vote: %v", err)
	}
	// Only two coordinator persons: the other one alone is the quorum.
	if _, ok := c.tr.Revoked(c.founder.ID()); !ok {
		t.Errorf("with two coordinators, one may revoke the other: not revoked")
	}
	if _, err := c.try(c.founder, revoke(c.coord, c.gen)); !errors.Is(err, crypto.ErrRevoked) {
		t.Errorf("a revoked founder's revocation: got %v, want ErrRevoked", err)
	}

	// Three coordinators: two must agree.
	c = newCommunity(t)
	third := cryptotest.Device(t, "coordinator 3")
	c.issue(t, c.founder, member(third, orgA, crypto.RoleCoordinator)) // a vote
	c.issue(t, c.coord, member(third, orgA, crypto.RoleCoordinator))   // the second: a coordinator
	c.try(c.coord, revoke(c.founder, c.head(c.founder)))
	if _, ok := c.tr.Revoked(c.founder.ID()); ok {
		t.Errorf("one of three coordinators revoked the founder alone")
	}
	if have, need := c.tr.Quorum(c.founder.ID()); have != 1 || need != 2 {
		t.Errorf("Quorum = %d of %d, want 1 of 2", have, need)
	}
	c.try(third, revoke(c.founder, c.head(c.founder)))
	if last, ok := c.tr.Revoked(c.founder.ID()); !ok || last != 7 {
		t.Errorf("two of three coordinators: revoked %v after %d; want the founder cut after its seventh envelope", ok, last)
	}
	if _, ok := c.tr.Member(c.adminA.ID()); !ok {
		t.Errorf("the founder's revocation took away the members it admitted before")
	}

	// The last coordinator cannot be revoked.
	c = newCommunity(t)
	c.issue(t, c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.coord.ID()}}) // coordinator 2 has written nothing
	if _, err := c.try(c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.founder.ID(), LastValidSeq: 1, LastValid: c.gen.h.ID()}}); err == nil {
		t.Errorf("the last coordinator revoked itself")
	}
	if have, need := c.tr.Quorum(c.founder.ID()); need != 0 {
		t.Errorf("Quorum of the last coordinator = %d of %d, want need 0", have, need)
	}
}

// TestThreatOrgAdminCannotMintKeys: an org admin cannot create community or
// transport epochs, nor a second key under a real epoch, and a recipient
// checks its key against the epoch's commitment.
func TestThreatOrgAdminCannotMintKeys(t *testing.T) {
	c := newCommunity(t)
	real, _ := crypto.NewScopedKey(cryptotest.Rand("real community key"), crypto.ScopeCommunity, crypto.ID16{})
	c.issue(t, c.founder, grantKey(t, real, crypto.ScopeCommunity, crypto.ID16{}, c.founder, c.adminA))
	bogus, _ := crypto.NewScopedKey(cryptotest.Rand("bogus key"), crypto.ScopeCommunity, crypto.ID16{})
	s, err := c.try(c.adminB, forgedGrant(t, real.Epoch, bogus, crypto.ScopeCommunity, crypto.ID16{}, c.memberA))
	if !errors.Is(err, crypto.ErrNotAllowed) {
		t.Errorf("a second key under the real epoch: got %v, want ErrNotAllowed", err)
	}
	if info, _ := c.tr.Epoch(real.Epoch); info.Commitment != crypto.KeyCommitment(crypto.ScopeCommunity, crypto.ID16{}, real) || info.Creator != c.founder.ID() {
		t.Errorf("the epoch's commitment changed: %+v", info)
	}
	// A grant whose sealed key does not match its own commitment does not open.
	kg := *s.c.KeyGrant
	kg.Commitment = crypto.KeyCommitment(crypto.ScopeCommunity, crypto.ID16{}, real)
	if _, _, err := c.memberA.OpenGrant(&kg); err == nil {
		t.Errorf("a key not matching its commitment opened")
	}
	// Even learnt before the real one, the bogus grant stays inert.
	tr := crypto.NewTrust(envelope.Hash{})
	order := append([]signed{s}, c.all...)
	for _, x := range order {
		tr.Add(x.h, x.c)
	}
	if err := tr.Verdict(s.h.ID()); !errors.Is(err, crypto.ErrNotAllowed) {
		t.Errorf("bogus grant learnt first: got %v, want ErrNotAllowed", err)
	}
}

// TestTrustOrderIndependence: any order and batching of the same
// certificates (promotions, demotions, revocations, forks, grants) gives the
// same trust state.
func TestTrustOrderIndependence(t *testing.T) {
	founder := cryptotest.Device(t, "founder")
	devs := []*crypto.Device{cryptotest.Device(t, "d0"), cryptotest.Device(t, "d1"), cryptotest.Device(t, "d2"), cryptotest.Device(t, "d3")}
	roles := []crypto.Role{crypto.RoleMember, crypto.RoleOrgAdmin, crypto.RoleCoordinator, crypto.RoleRelay}
	orgs := []crypto.ID16{orgA, orgB}
	k1, _ := crypto.NewScopedKey(cryptotest.Rand("order key 1"), crypto.ScopeCommunity, crypto.ID16{})
	k2, _ := crypto.NewScopedKey(cryptotest.Rand("order key 2"), crypto.ScopeCommunity, crypto.ID16{})
	keys := []crypto.GroupKey{k1, k2, {Epoch: k1.Epoch, Key: k2.Key}} // the third, a second key under k1's epoch
	rapid.Check(t, func(rt *rapid.T) {
		ch := newChains(t)
		issuers := append([]*crypto.Device{founder}, devs...)
		last := map[crypto.DeviceID]signed{}
		all := []signed{ch.issue(founder, genesis(founder, orgA), 1)}
		last[founder.ID()] = all[0]
		n := rapid.IntRange(1, 24).Draw(rt, "n")
		for i := range n {
			by := issuers[rapid.IntRange(0, len(issuers)-1).Draw(rt, fmt.Sprint("by ", i))]
			d := devs[rapid.IntRange(0, len(devs)-1).Draw(rt, fmt.Sprint("device ", i))]
			clock := rapid.Uint64Range(2, 12).Draw(rt, fmt.Sprint("clock ", i))
			var cert *crypto.Certificate
			switch rapid.IntRange(0, 4).Draw(rt, fmt.Sprint("kind ", i)) {
			case 0, 1:
				cert = member(d, orgs[rapid.IntRange(0, 1).Draw(rt, fmt.Sprint("org ", i))], roles[rapid.IntRange(0, 3).Draw(rt, fmt.Sprint("role ", i))])
			case 2:
				if l, ok := last[d.ID()]; ok {
					cert = revoke(d, l)
				} else {
					cert = &crypto.Certificate{Revocation: &crypto.Revocation{Device: d.ID()}}
				}
			case 3:
				k := keys[rapid.IntRange(0, 2).Draw(rt, fmt.Sprint("key ", i))]
				cert = forgedGrant(t, k.Epoch, crypto.GroupKey{Epoch: crypto.EpochOf(crypto.KeyCommitment(crypto.ScopeCommunity, crypto.ID16{}, k)), Key: k.Key}, crypto.ScopeCommunity, crypto.ID16{}, d)
			case 4: // a fork: the same place in by's chain again
				pos, ok := ch.pos[by.ID()]
				if !ok || pos.Seq < 3 {
					continue
				}
				s := ch.issueAt(by, member(d, orgA, crypto.RoleMember), clock, crypto.Position{Seq: pos.Seq - 1, Prev: envelope.Hash{byte(i)}})
				ch.pos[by.ID()] = pos
				all = append(all, s)
				continue
			}
			s := ch.issue(by, cert, clock)
			last[by.ID()] = s
			all = append(all, s)
		}
		state := func(tr *crypto.Trust) string {
			out := fmt.Sprintf("community %s\n", tr.Community())
			for _, m := range tr.Members() {
				iss, _ := tr.Issuer(m.Device)
				out += fmt.Sprintf("%s %s %s %s by %s\n", m.Device.Short(), m.Person, m.Org, m.Role, iss.Short())
				if c, ok := tr.Cut(m.Device); ok {
					out += fmt.Sprintf("  cut %d %s\n", c.Seq, c.Last)
				}
			}
			for _, k := range keys {
				i, ok := tr.Epoch(k.Epoch)
				out += fmt.Sprintf("epoch %x %v %x\n", k.Epoch[:1], ok, i.Commitment[:4])
			}
			for _, s := range all {
				err := tr.Verdict(s.h.ID())
				out += fmt.Sprintf("%s: %v\n", s.h.ID().String()[:8], err != nil)
			}
			return out
		}
		ref := crypto.NewTrust(envelope.Hash{})
		hs, cs := make([]*envelope.Header, len(all)), make([]*crypto.Certificate, len(all))
		for i, s := range all {
			hs[i], cs[i] = s.h, s.c
		}
		ref.AddAll(hs, cs)
		want := state(ref)

		perm := rapid.Permutation(all).Draw(rt, "order")
		tr := crypto.NewTrust(all[0].h.ID())
		for i := 0; i < len(perm); {
			k := rapid.IntRange(1, len(perm)-i).Draw(rt, fmt.Sprint("batch at ", i))
			if k == 1 {
				tr.Add(perm[i].h, perm[i].c)
			} else {
				var bh []*envelope.Header
				var bc []*crypto.Certificate
				for _, s := range perm[i : i+k] {
					bh, bc = append(bh, s.h), append(bc, s.c)
				}
				tr.AddAll(bh, bc)
			}
			if rapid.Bool().Draw(rt, fmt.Sprint("clone at ", i)) {
				tr = tr.Clone()
			}
			i += k
		}
		if got := state(tr); got != want {
			rt.Fatalf("state after %d certificates in another order:\n%s\nwant\n%s", len(all), got, want)
		}
	})
}

// TestThreatCoordinatorCannotMakeQuorumWithPuppet: one coordinator of three
// admits a new coordinator of its own and, with it, revokes the founder;
// the third never agrees. Making a coordinator takes the same quorum as
// revoking one.
func TestThreatCoordinatorCannotMakeQuorumWithPuppet(t *testing.T) {
	c := newCommunity(t)
	third := cryptotest.Device(t, "coordinator 3")
	c.issue(t, c.founder, member(third, orgA, crypto.RoleCoordinator)) // a vote
	c.issue(t, c.coord, member(third, orgA, crypto.RoleCoordinator))   // the second: a coordinator
	puppet := cryptotest.Device(t, "puppet")
	c.issue(t, c.coord, member(puppet, orgB, crypto.RoleCoordinator))
	if _, ok := c.tr.Member(puppet.ID()); ok {
		t.Errorf("one of three coordinators made a coordinator alone")
	}
	c.try(c.coord, revoke(c.founder, c.head(c.founder)))
	c.try(puppet, revoke(c.founder, c.head(c.founder)))
	if _, ok := c.tr.Revoked(c.founder.ID()); ok {
		t.Errorf("coordinator 2 and a coordinator it admitted revoked the founder, without coordinator 3")
	}
	c.try(third, revoke(c.founder, c.head(c.founder)))
	if _, ok := c.tr.Revoked(c.founder.ID()); !ok {
		t.Errorf("coordinator 3 agreed: the founder is still not revoked")
	}
}

// TestThreatBackdatedRevocationNeedsQuorum: a coordinator dates its
// revocation of a coordinator before that device's promotion, when it was
// a member; it still needs the quorum.
func TestThreatBackdatedRevocationNeedsQuorum(t *testing.T) {
	c := newCommunity(t)
	x := cryptotest.Device(t, "x")
	c.issue(t, c.founder, member(x, orgA, crypto.RoleMember))
	c.clock += 10
	c.issue(t, c.founder, member(x, orgA, crypto.RoleCoordinator)) // three coordinator persons now
	s := c.ch.issue(c.coord, &crypto.Certificate{Revocation: &crypto.Revocation{Device: x.ID()}}, c.clock-5)
	c.tr.Add(s.h, s.c)
	if _, ok := c.tr.Revoked(x.ID()); ok {
		t.Errorf("one of three coordinators revoked coordinator x alone, by dating the revocation before x's promotion")
	}
}

// TestThreatOrgAdminCannotSquatEpoch: an org admin claims the ID of a
// community epoch a coordinator just created, as an organisation epoch of
// its own, dated just before it. An epoch ID derives from its key
// commitment, so the claim is inert.
func TestThreatOrgAdminCannotSquatEpoch(t *testing.T) {
	c := newCommunity(t)
	c.clock += 50
	real, _ := crypto.NewScopedKey(cryptotest.Rand("real community key 2"), crypto.ScopeCommunity, crypto.ID16{})
	gr := c.issue(t, c.founder, grantKey(t, real, crypto.ScopeCommunity, crypto.ID16{}, c.founder, c.adminA, c.memberA))
	bogus, _ := crypto.NewScopedKey(cryptotest.Rand("squatter"), crypto.ScopeOrg, orgA)
	s := c.ch.issue(c.adminA, forgedGrant(t, real.Epoch, bogus, crypto.ScopeOrg, orgA, c.adminA, c.memberA), gr.h.Clock-1)
	c.tr.Add(s.h, s.c)
	info, ok := c.tr.Epoch(real.Epoch)
	if !ok || info.Scope != crypto.ScopeCommunity || c.tr.Verdict(gr.h.ID()) != nil {
		t.Errorf("the coordinator's community epoch is now %+v (ok %v); its grant: %v", info, ok, c.tr.Verdict(gr.h.ID()))
	}
	if err := c.tr.Verdict(s.h.ID()); !errors.Is(err, crypto.ErrNotAllowed) {
		t.Errorf("the squatting grant: %v, want ErrNotAllowed", err)
	}
}

// TestTrustInertCertificatesStayCheap: a member writing certificates it may
// never write (revocations, out of order) does not make each one replay the
// whole set: they are inert wherever they sort.
func TestTrustInertCertificatesStayCheap(t *testing.T) {
	c := newCommunity(t)
	for i := range 200 {
		s := c.ch.issue(c.memberA, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.adminA.ID()}}, uint64(50+i))
		if err := verdict(c.tr, s); !errors.Is(err, crypto.ErrNotAllowed) {
			t.Fatalf("a member's revocation: %v, want ErrNotAllowed", err)
		}
	}
	ref := crypto.NewTrust(envelope.Hash{})
	var hs []*envelope.Header
	var cs []*crypto.Certificate
	for _, s := range c.all {
		hs, cs = append(hs, s.h), append(cs, s.c)
	}
	ref.AddAll(hs, cs)
	if !reflect.DeepEqual(ref.Members(), c.tr.Members()) {
		t.Errorf("members differ from a replay of the set")
	}
}

// TestCoordinatorQuorumInPractice: with three coordinators, the founder
// and a coordinator it admitted revoke the third together; a sole
// coordinator revokes its own lost second device alone.
func TestCoordinatorQuorumInPractice(t *testing.T) {
	c := newCommunity(t)
	third := cryptotest.Device(t, "coordinator 3")
	c.issue(t, c.founder, member(third, orgA, crypto.RoleCoordinator))
	c.issue(t, c.coord, member(third, orgA, crypto.RoleCoordinator))
	if m, ok := c.tr.Member(third.ID()); !ok || m.Role != crypto.RoleCoordinator {
		t.Fatalf("two coordinators made a third: %+v %v", m, ok)
	}
	c.issue(t, c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: third.ID()}})
	if _, ok := c.tr.Revoked(third.ID()); ok {
		t.Errorf("one of three coordinators revoked another alone")
	}
	c.issue(t, c.coord, &crypto.Certificate{Revocation: &crypto.Revocation{Device: third.ID()}})
	if _, ok := c.tr.Revoked(third.ID()); !ok {
		t.Errorf("the founder and coordinator 2 agreed: coordinator 3 is not revoked")
	}

	// A community whose only coordinator person has two devices.
	c = newCommunity(t)
	c.issue(t, c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.coord.ID()}})
	laptop := cryptotest.Device(t, "founder's laptop")
	c.issue(t, c.founder, sameAs(laptop, crypto.PersonOf(c.founder.ID()), orgA, crypto.RoleCoordinator))
	if m, ok := c.tr.Member(laptop.ID()); !ok || m.Role != crypto.RoleCoordinator {
		t.Fatalf("the sole coordinator's second device: %+v %v", m, ok)
	}
	c.issue(t, c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: laptop.ID()}})
	if _, ok := c.tr.Revoked(laptop.ID()); !ok {
		t.Errorf("the sole coordinator could not revoke its own lost laptop")
	}
	if _, err := c.try(c.founder, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.founder.ID(), LastValidSeq: 1, LastValid: c.gen.h.ID()}}); err == nil {
		t.Errorf("the last coordinator device revoked itself")
	}
}

package replica_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// universe is a community's envelopes, every one valid: certificates,
// chains of posts, posts for individual devices, retractions by an author
// and by a coordinator, a revocation, and a revoked coordinator's member
// (whose envelopes all go). Whatever order a store learns them in, it must
// end up holding the same set.
type universe struct {
	c    *replicatest.Community
	self *replicatest.Device
	envs []*envelope.Envelope
	ref  *replica.Store // learnt them in order
}

func newUniverse(t *testing.T) *universe {
	u := &universe{c: replicatest.New(t, "property")}
	c, f := u.c, u.c.Founder
	coord := c.Device("coord", "centre")
	admin := c.Device("admin", "venue")
	alice := c.Device("alice", "centre")
	xavier := c.Device("xavier", "power")
	bob := c.Device("bob", "venue")
	mallory := c.Device("mallory", "venue")
	u.self = alice
	add := func(e ...*envelope.Envelope) { u.envs = append(u.envs, e...) }

	add(c.Genesis,
		f.Admit(coord, crypto.RoleCoordinator),
		f.Admit(admin, crypto.RoleOrgAdmin),
		f.Admit(alice, crypto.RoleMember),
		f.Admit(xavier, crypto.RoleMember))
	add(coord.Post("coord 1"), coord.Admit(mallory, crypto.RoleMember), coord.Post("coord 3"))
	add(mallory.Post("mallory 1"), mallory.Post("mallory 2"))
	add(admin.Admit(bob, crypto.RoleMember), admin.Post("admin 2"))
	a1 := alice.Post("alice 1")
	add(a1, alice.PostTo("alice to bob", bob), alice.Retract(a1.ID()), alice.Post("alice 4"))
	b1 := bob.Post("bob 1")
	add(b1, bob.PostTo("bob to alice", alice), bob.PostTo("bob to xavier and admin", xavier, admin), bob.Post("bob 4"))
	for i := 1; i <= 4; i++ {
		add(xavier.Post(fmt.Sprint("xavier ", i)))
	}
	add(f.Retract(b1.ID()), f.Revoke(xavier, 2), f.Revoke(coord, 1), f.Post("founder 9"))
	// A promotion, a demotion, and a device that forks its chain (frozen
	// before the fork on every store, whichever branch comes first).
	add(f.Admit(alice, crypto.RoleOrgAdmin), f.Admit(admin, crypto.RoleMember))
	dan := c.Device("dan", "power")
	add(f.Admit(dan, crypto.RoleMember))
	d1 := dan.Post("dan 1")
	add(d1, dan.Post("dan 2"), dan.PostAt(crypto.Position{Seq: 2, Prev: d1.ID()}, c.Clock(), "dan 2, forked"))

	u.ref = u.open(t, alice.ID())
	t.Cleanup(func() { u.ref.Close() })
	res := replicatest.Add(t, u.ref, u.envs...)
	// In order, only dan's fork is refused: what the revocations
	// invalidate (xavier 3 and 4, coord 2 and 3, and mallory's, whose
	// membership was coord 2) is stored, then purged; dan is frozen
	// before his fork at 2.
	if len(res.Refused) != 1 || res.Refused[0].Reason != replica.ReasonEquivocation {
		t.Fatalf("reference store: got refused %v, want dan's fork", res.Refused)
	}
	if got, want := len(replicatest.Since(t, u.ref)), len(u.envs)-6-2; got != want {
		t.Fatalf("reference store: got %d envelopes, want %d", got, want)
	}
	return u
}

func (u *universe) open(t *testing.T, self crypto.DeviceID) *replica.Store {
	cfg := replicatest.Config(t, self, nil)
	cfg.Logf = nil
	st, err := replica.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// held returns the stored IDs and whether each one's payload is held or
// wanted: a payload that arrived before its author's membership is not
// kept (rule 7 of the trust issue) but asked for at the next sync.
func held(t *testing.T, st *replica.Store) map[envelope.Hash]bool {
	out := map[envelope.Hash]bool{}
	for _, e := range replicatest.Since(t, st) {
		out[e.ID()] = e.Payload != nil
	}
	for _, id := range st.Wanted(1 << 20) {
		out[id] = true
	}
	return out
}

// drawBatches splits envs, in an order drawn by rt, into batches drawn by rt.
func drawBatches(rt *rapid.T, envs []*envelope.Envelope, label string) [][]*envelope.Envelope {
	perm := rapid.Permutation(envs).Draw(rt, label+" order")
	var out [][]*envelope.Envelope
	for len(perm) > 0 {
		n := rapid.IntRange(1, len(perm)).Draw(rt, label+" batch")
		out = append(out, perm[:n])
		perm = perm[n:]
	}
	return out
}

func addAll(t *testing.T, rt *rapid.T, st *replica.Store, batches [][]*envelope.Envelope) {
	for _, b := range batches {
		if _, err := st.Add(b...); err != nil {
			rt.Fatalf("Add: %v", err)
		}
	}
}

// evidence returns st's fork evidence as header-only envelopes.
func evidence(st *replica.Store) []*envelope.Envelope {
	var out []*envelope.Envelope
	for _, h := range st.Forks() {
		out = append(out, &envelope.Envelope{Header: h})
	}
	return out
}

func heldIDs(m map[envelope.Hash]bool) []envelope.Hash {
	return slices.SortedFunc(maps.Keys(m), func(a, b envelope.Hash) int { return slices.Compare(a[:], b[:]) })
}

// TestPropertyOrder: any order, any split into Add calls, gives the same
// digest, heads, envelopes and payloads as learning in order; learning
// everything twice changes nothing.
func TestPropertyOrder(t *testing.T) {
	u := newUniverse(t)
	want := held(t, u.ref)
	wantHeads := u.ref.Heads()
	rapid.Check(t, func(rt *rapid.T) {
		st := u.open(t, u.self.ID())
		defer st.Close()
		addAll(t, rt, st, drawBatches(rt, u.envs, "first"))
		if got := st.Digest(); got != u.ref.Digest() {
			rt.Fatalf("Digest: got %x, want %x\n got heads %v\nwant heads %v", got, u.ref.Digest(), st.Heads(), wantHeads)
		}
		if got := st.Heads(); !slices.Equal(got, wantHeads) {
			rt.Fatalf("Heads: got %v, want %v", got, wantHeads)
		}
		got := held(t, st)
		if !slices.Equal(heldIDs(got), heldIDs(want)) {
			rt.Fatalf("stored IDs: got %d, want %d", len(got), len(want))
		}
		if !maps.Equal(got, want) {
			rt.Fatalf("payloads held differ: got %v, want %v", got, want)
		}

		// Learning everything again fills the payloads not kept while
		// their author was unknown; a third time changes nothing.
		addAll(t, rt, st, drawBatches(rt, u.envs, "again"))
		before := replicatest.Snap(t, st)
		addAll(t, rt, st, drawBatches(rt, u.envs, "third"))
		if after := replicatest.Snap(t, st); after != before {
			rt.Fatalf("learning everything again changed the store:\n got %+v\nwant %+v", after, before)
		}
	})
}

// TestPropertyMerge: the envelopes split between two stores, in any order;
// each store then learns what the other holds until neither learns more:
// both hold what a store that learnt everything holds.
func TestPropertyMerge(t *testing.T) {
	u := newUniverse(t)
	want := heldIDs(held(t, u.ref))
	rapid.Check(t, func(rt *rapid.T) {
		a := u.open(t, u.self.ID())
		defer a.Close()
		b := u.open(t, u.c.Founder.ID())
		defer b.Close()
		var toA, toB []*envelope.Envelope
		for i, e := range u.envs {
			switch rapid.IntRange(0, 2).Draw(rt, fmt.Sprint("where ", i)) {
			case 0:
				toA = append(toA, e)
			case 1:
				toB = append(toB, e)
			default:
				toA, toB = append(toA, e), append(toB, e)
			}
		}
		addAll(t, rt, a, drawBatches(rt, toA, "a"))
		addAll(t, rt, b, drawBatches(rt, toB, "b"))
		for round := 0; ; round++ {
			if round > len(u.envs) {
				rt.Fatalf("no fixed point after %d rounds", round)
			}
			// Sync sends fork evidence too (headers only).
			ra, err := a.Add(append(replicatest.Since(t, b), evidence(b)...)...)
			if err != nil {
				rt.Fatal(err)
			}
			rb, err := b.Add(append(replicatest.Since(t, a), evidence(a)...)...)
			if err != nil {
				rt.Fatal(err)
			}
			if len(ra.Admitted) == 0 && len(rb.Admitted) == 0 {
				break
			}
		}
		if a.Digest() != b.Digest() {
			rt.Fatalf("digests differ after merging:\n%v\n%v", a.Heads(), b.Heads())
		}
		if a.Digest() != u.ref.Digest() {
			rt.Fatalf("merged digest differs from the reference:\n got %v\nwant %v", a.Heads(), u.ref.Heads())
		}
		for _, st := range []*replica.Store{a, b} {
			if got := heldIDs(held(t, st)); !slices.Equal(got, want) {
				rt.Fatalf("stored IDs: got %d, want %d", len(got), len(want))
			}
		}
	})
}

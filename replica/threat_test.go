package replica_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// TestThreatStolenKeyCannotWriteBelowCut: the thief of bob's key writes
// envelopes that fork bob's chain at and below the place where his
// revocation cuts it. Stores that learnt the forgeries first, and stores
// that learn everything in any order, all end with bob's real chain up to
// the cut and nothing else of bob's.
func TestThreatStolenKeyCannotWriteBelowCut(t *testing.T) {
	c := replicatest.New(t, "stolen")
	alice, ma := c.Join("alice", "venue", crypto.RoleMember)
	bob, mb := c.Join("bob", "venue", crypto.RoleMember)
	b1 := bob.Post("bob 1")
	b2 := bob.Post("bob 2")
	// The thief, holding bob's key, writes another seq 1, another seq 2
	// and something after the cut.
	f1 := bob.PostAt(crypto.Position{Seq: 1}, c.Clock(), "forged 1")
	f2 := bob.PostAt(crypto.Position{Seq: 2, Prev: b1.ID()}, c.Clock(), "forged 2")
	f3 := bob.PostAt(crypto.Position{Seq: 3, Prev: b2.ID()}, c.Clock(), "forged 3")
	rev := c.Founder.Revoke(bob, 2)
	base := []*envelope.Envelope{c.Genesis, ma, mb}
	forged := map[envelope.Hash]bool{f1.ID(): true, f2.ID(): true, f3.ID(): true}

	check := func(t *testing.T, st *replica.Store, how string) {
		t.Helper()
		have := map[envelope.Hash]bool{}
		for _, e := range replicatest.Since(t, st) {
			have[e.ID()] = true
			if forged[e.ID()] {
				t.Errorf("%s: a forged envelope of the revoked device is stored", how)
			}
		}
		if !have[b1.ID()] || !have[b2.ID()] {
			t.Errorf("%s: bob's real envelopes up to the cut are missing (b1 %v, b2 %v)", how, have[b1.ID()], have[b2.ID()])
		}
		if h := st.Head(bob.ID()); h.Seq != 2 || h.Head != b2.ID() {
			t.Errorf("%s: bob's head is %d %s, want 2 %s", how, h.Seq, h.Head, b2.ID())
		}
	}

	// Forgeries first, before the revocation is known.
	for _, first := range [][]*envelope.Envelope{{f1}, {b1, f2}} {
		st := replicatest.Open(t, replicatest.Config(t, alice.ID(), nil))
		replicatest.Add(t, st, base...)
		replicatest.Add(t, st, first...)
		replicatest.Add(t, st, rev)
		replicatest.Add(t, st, b1, b2, f3)
		check(t, st, fmt.Sprintf("forgery %x first", first[len(first)-1].ID().String()[:6]))
		st.Close()
	}
	// Every order of everything, in one call or one by one.
	all := append(slices.Clone(base), b1, b2, f1, f2, f3, rev)
	for i := range 12 {
		perm := slices.Clone(all)
		for j := range perm {
			k := (j*7 + i*5) % len(perm)
			perm[j], perm[k] = perm[k], perm[j]
		}
		st := replicatest.Open(t, replicatest.Config(t, alice.ID(), nil))
		if i%2 == 0 {
			replicatest.Add(t, st, perm...)
		} else {
			for _, e := range perm {
				replicatest.Add(t, st, e)
			}
		}
		replicatest.Add(t, st, all...) // a second sync round
		check(t, st, fmt.Sprintf("order %d", i))
		st.Close()
	}
}

// TestThreatPendingStaysInBudget: a member (or a stranger) sends envelopes
// that can never be admitted (their predecessors or memberships never
// come), as fast as it can. The store holds at most its budgets of them,
// keeps no stranger's payload, and refuses the rest as overflow.
func TestThreatPendingStaysInBudget(t *testing.T) {
	c := replicatest.New(t, "flood")
	alice, ma := c.Join("alice", "venue", crypto.RoleMember)
	mallory, mm := c.Join("mallory", "venue", crypto.RoleMember)
	stranger := c.Device("stranger", "venue") // never admitted
	cfg := replicatest.Config(t, alice.ID(), nil)
	cfg.MaxPending = 300
	cfg.MaxPendingBytes = 4 << 20
	cfg.MaxPendingPerAuthor = 100
	cfg.MaxPendingBytesPerAuthor = 2 << 20
	st := replicatest.Open(t, cfg)
	defer st.Close()
	replicatest.Add(t, st, c.Genesis, ma, mm)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc

	big := string(make([]byte, 256<<10))
	// Mallory: a chain whose first envelope never comes.
	mallory.Post("withheld")
	var gap []*envelope.Envelope
	for range 150 {
		gap = append(gap, mallory.Post(big))
	}
	res := replicatest.Add(t, st, gap...)
	// The stranger: envelopes of a device nobody admitted, with payloads.
	var strange []*envelope.Envelope
	for range 400 {
		strange = append(strange, stranger.Post(big))
	}
	res2 := replicatest.Add(t, st, strange...)

	held := 0
	for _, n := range st.Pending() {
		held += n
	}
	if held > cfg.MaxPending {
		t.Errorf("%d envelopes held, budget %d", held, cfg.MaxPending)
	}
	if res.Pending > cfg.MaxPendingPerAuthor {
		t.Errorf("one member has %d envelopes held, budget %d per author", res.Pending, cfg.MaxPendingPerAuthor)
	}
	if len(res.Refused)+len(res2.Refused) == 0 || st.Refusals()[replica.ReasonOverflow] == 0 {
		t.Errorf("nothing refused as overflow")
	}
	gap, strange = nil, nil // what the sender built is not the store's
	runtime.GC()
	runtime.ReadMemStats(&ms)
	// Mallory's held bytes are bounded by her per-author budget; the
	// stranger's payloads are not kept at all (headers only).
	grown := int64(ms.HeapAlloc) - int64(heapBefore)
	t.Logf("heap grew by %d bytes for %d envelopes held (%v), budget %d bytes", grown, held, st.Pending(), cfg.MaxPendingBytes)
	if grown > cfg.MaxPendingBytes+16<<20 {
		t.Errorf("heap grew by %d bytes holding envelopes; budget %d", grown, cfg.MaxPendingBytes)
	}
}

// BenchmarkCommitUnderHeldFlood: the latency of an honest write (one post,
// one fsynced commit) while a hostile member keeps the store's held
// envelopes at their budget, against the same write with nothing held.
// Reports the ratio in the same run.
func BenchmarkCommitUnderHeldFlood(b *testing.B) {
	var base float64
	for _, held := range []int{0, 2_000, replica.DefaultMaxPending} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			c := replicatest.New(b, "held flood")
			honest, mh := c.Join("honest", "venue", crypto.RoleMember)
			mallory, mm := c.Join("mallory", "venue", crypto.RoleMember)
			cfg := replicatest.Config(b, honest.ID(), nil)
			cfg.NoSync = false
			cfg.MaxPendingPerAuthor = replica.DefaultMaxPending
			st := replicatest.Open(b, cfg)
			defer st.Close()
			replicatest.Add(b, st, c.Genesis, mh, mm)
			mallory.Post("withheld")
			var flood []*envelope.Envelope
			for range held {
				flood = append(flood, mallory.Post("x"))
			}
			for i := 0; i < len(flood); i += 1000 {
				replicatest.Add(b, st, flood[i:min(i+1000, len(flood))]...)
			}
			if got := st.Pending()[replica.ReasonNoPredecessor]; got != held {
				b.Fatalf("%d held, want %d", got, held)
			}
			posts := make([]*envelope.Envelope, b.N)
			for i := range posts {
				posts[i] = honest.Post(fmt.Sprintf("post %d", i))
			}
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ResetTimer()
			for _, p := range posts {
				if res, err := st.Add(p); err != nil || len(res.Admitted) != 1 {
					b.Fatalf("Add: %v %+v", err, res)
				}
			}
			b.StopTimer()
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if held == 0 {
				base = per
			} else if base > 0 {
				b.ReportMetric(per/base, "x-unheld")
			}
			b.ReportMetric(float64(ms.HeapAlloc), "heap-B")
		})
	}
}

// TestForkTakesItsCertificatesOutOfTrust: a coordinator's chain forks, one
// branch admitting a coordinator. Whichever branch a store learnt first,
// freezing the chain before the fork takes that certificate out of the
// trust state: two stores with the same envelopes agree, and each agrees
// with itself after a restart.
func TestForkTakesItsCertificatesOutOfTrust(t *testing.T) {
	c := replicatest.New(t, "forkcert")
	alice, ma := c.Join("alice", "venue", crypto.RoleMember)
	evil := c.Device("evil", "venue")
	pos := c.Founder.Pos
	a := c.Founder.Admit(evil, crypto.RoleCoordinator) // branch A at seq 3
	b := c.Founder.PostAt(pos, c.Clock(), "branch B")  // branch B at seq 3
	e1 := evil.Post("evil writes")

	cfg1 := replicatest.Config(t, alice.ID(), nil)
	s1 := replicatest.Open(t, cfg1)
	replicatest.Add(t, s1, c.Genesis, ma, a)
	replicatest.Add(t, s1, b)
	replicatest.Add(t, s1, e1)
	s2 := replicatest.Open(t, replicatest.Config(t, alice.ID(), nil))
	replicatest.Add(t, s2, c.Genesis, ma, b)
	replicatest.Add(t, s2, a)
	replicatest.Add(t, s2, e1)
	_, in1 := s1.Trust().Member(evil.ID())
	_, in2 := s2.Trust().Member(evil.ID())
	t.Logf("evil member: s1 %v s2 %v; digests equal %v", in1, in2, s1.Digest() == s2.Digest())
	if in1 != in2 {
		t.Errorf("same envelopes, different trust: evil is a member on s1=%v s2=%v", in1, in2)
	}
	if s1.Digest() != s2.Digest() {
		t.Errorf("same envelopes, different digests")
	}
	s1.Close()
	r1, err := replica.Open(cfg1)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	if _, in := r1.Trust().Member(evil.ID()); in != in1 {
		t.Errorf("s1's trust changes on restart: before %v after %v", in1, in)
	}
}

// TestThreatMemberCertificatesAreNotKept: a plain member writes
// certificates (revocations of the coordinators, memberships) as fast as
// it can. None is kept, none takes effect, and the trust state does not
// grow, so every commit stays as cheap as before.
func TestThreatMemberCertificatesAreNotKept(t *testing.T) {
	c := replicatest.New(t, "member certs")
	alice, ma := c.Join("alice", "venue", crypto.RoleMember)
	mallory, mm := c.Join("mallory", "venue", crypto.RoleMember)
	st := replicatest.Open(t, replicatest.Config(t, alice.ID(), nil))
	defer st.Close()
	replicatest.Add(t, st, c.Genesis, ma, mm)
	members := st.Trust().Members()
	for i := range 300 {
		var e *envelope.Envelope
		if i%2 == 0 {
			e = mallory.Revoke(c.Founder, 1)
		} else {
			e = mallory.Admit(c.Device(fmt.Sprint("puppet ", i), "venue"), crypto.RoleCoordinator)
		}
		st.Add(e)
	}
	if got := st.Refusals()[replica.ReasonNotAllowed]; got == 0 {
		t.Errorf("no certificate of the member was refused")
	}
	if got := st.Trust().Members(); len(got) != len(members) {
		t.Errorf("members: %d, want %d", len(got), len(members))
	}
	if _, revoked := st.Trust().Revoked(c.Founder.ID()); revoked {
		t.Errorf("a member revoked the founder")
	}
	if h := st.Head(mallory.ID()); h.Seq != 0 {
		t.Errorf("the member's certificates are stored: head %d", h.Seq)
	}
}

// TestThreatRelayWritesNothing: a relay holds a membership and a transport
// key, and signs envelopes of every class with its own key: posts (a
// renamed profile would be one), certificates, retractions. Every peer
// refuses them all, as not allowed.
func TestThreatRelayWritesNothing(t *testing.T) {
	c := replicatest.New(t, "relay writes")
	alice, ma := c.Join("alice", "venue", crypto.RoleMember)
	relay, mr := c.Join("relay", "venue", crypto.RoleRelay)
	a1 := alice.Post("alice 1")
	st := replicatest.Open(t, replicatest.Config(t, alice.ID(), nil))
	defer st.Close()
	replicatest.Add(t, st, c.Genesis, ma, mr, a1)
	for _, e := range []*envelope.Envelope{
		relay.Post("alice is now called Bob"),
		relay.Admit(c.Device("ghost", "venue"), crypto.RoleMember),
		relay.Retract(a1.ID()),
	} {
		res := replicatest.Add(t, st, e)
		if len(res.Refused) != 1 || res.Refused[0].Reason != replica.ReasonNotAllowed {
			t.Errorf("the relay's envelope seq %d: admitted %d, refused %+v; want refused as not allowed", e.Header.Seq, len(res.Admitted), res.Refused)
		}
	}
	if h := st.Head(relay.ID()); h.Seq != 0 {
		t.Errorf("the relay's chain is stored up to %d", h.Seq)
	}
}

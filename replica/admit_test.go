package replica_test

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// TestRefused offers one bad envelope to a store that holds a community and
// checks the reason, the count, and that nothing stored changed.
func TestRefused(t *testing.T) {
	tests := []struct {
		name string
		env  func(t *testing.T, f *fixture) *envelope.Envelope
		want replica.Reason
	}{
		{"header bit flipped", func(t *testing.T, f *fixture) *envelope.Envelope {
			return flipped(f.alice.Post("x"), func(h *envelope.Header, _ []byte) { h.Clock ^= 1 })
		}, replica.ReasonSignature},
		{"payload bit flipped", func(t *testing.T, f *fixture) *envelope.Envelope {
			return flipped(f.alice.Post("x"), func(_ *envelope.Header, p []byte) { p[len(p)/2] ^= 0x10 })
		}, replica.ReasonPayloadHash},
		{"signature bit flipped", func(t *testing.T, f *fixture) *envelope.Envelope {
			return flipped(f.alice.Post("x"), func(h *envelope.Header, _ []byte) { h.Signature[40] ^= 1 })
		}, replica.ReasonSignature},
		{"payload of the wrong size", func(t *testing.T, f *fixture) *envelope.Envelope {
			e := f.alice.Post("x")
			return &envelope.Envelope{Header: e.Header, Payload: e.Payload[1:]}
		}, replica.ReasonPayloadHash},
		{"certificate without its payload", func(t *testing.T, f *fixture) *envelope.Envelope {
			e := f.coord.Admit(f.c.Device("carol", "venue"), crypto.RoleMember)
			return &envelope.Envelope{Header: e.Header}
		}, replica.ReasonCertificate},
		{"member issues a membership", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.alice.Admit(f.c.Device("carol", "venue"), crypto.RoleMember)
		}, replica.ReasonNotAllowed}, // never privileged: not even kept
		{"org admin issues a membership for another org", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.admin.Admit(f.c.Device("carol", "power"), crypto.RoleMember)
		}, replica.ReasonInert},
		{"org admin makes a coordinator", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.admin.Admit(f.c.Device("carol", "venue"), crypto.RoleCoordinator)
		}, replica.ReasonInert},
		{"org admin revokes", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.admin.Revoke(f.alice, 1)
		}, replica.ReasonInert},
		{"member revokes", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.alice.Revoke(f.bob, 0)
		}, replica.ReasonNotAllowed}, // never privileged: not even kept
		{"coordinator revokes itself", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.coord.Revoke(f.coord, 0)
		}, replica.ReasonInert},
		{"retraction by neither author nor coordinator", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.bob.Retract(f.base[5].ID()) // alice's post
		}, replica.ReasonNotAllowed},
		{"retraction by an org admin of a member's post", func(t *testing.T, f *fixture) *envelope.Envelope {
			return f.admin.Retract(f.base[5].ID())
		}, replica.ReasonNotAllowed},
		{"genesis of another community", func(t *testing.T, f *fixture) *envelope.Envelope {
			return replicatest.New(t, "elsewhere").Genesis
		}, replica.ReasonCommunity},
		{"second genesis by the founder", func(t *testing.T, f *fixture) *envelope.Envelope {
			g := &crypto.Certificate{Genesis: &crypto.Genesis{Nonce: crypto.ID16{9}, Founder: f.c.Founder.Membership(crypto.RoleCoordinator)}}
			e, err := f.c.Founder.Dev.NewCertificate(g, crypto.Position{Seq: 1}, f.c.Clock())
			if err != nil {
				t.Fatal(err)
			}
			return e
		}, replica.ReasonCommunity},
		{"genesis not first in its chain", func(t *testing.T, f *fixture) *envelope.Envelope {
			g := &crypto.Certificate{Genesis: &crypto.Genesis{Nonce: crypto.ID16{9}, Founder: f.alice.Membership(crypto.RoleCoordinator)}}
			return f.alice.Cert(g)
		}, replica.ReasonCertificate},
		{"chain forked behind the head", func(t *testing.T, f *fixture) *envelope.Envelope {
			// Continues a seq 1 that is not the stored one.
			fork := f.alice.PostAt(crypto.Position{Seq: 1}, f.c.Clock(), "fork")
			return f.alice.PostAt(crypto.Position{Seq: 2, Prev: fork.ID()}, f.c.Clock(), "after fork")
		}, replica.ReasonEquivocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			e := tt.env(t, f)
			if tt.want != replica.ReasonInert {
				expectRefused(t, f.st, e, tt.want)
				return
			}
			// A validly signed certificate of a member that its role does
			// not allow is kept without effect (so that every peer reaches
			// the same set, whatever order it learns in), and counted.
			before := f.st.Trust().Members()
			res := replicatest.Add(t, f.st, e)
			if len(res.Admitted) != 1 || f.st.Refusals()[replica.ReasonInert] != 1 {
				t.Fatalf("got %d admitted, %d inert; want the certificate stored without effect", len(res.Admitted), f.st.Refusals()[replica.ReasonInert])
			}
			if err := f.st.Trust().Verdict(e.ID()); !errors.Is(err, crypto.ErrNotAllowed) {
				t.Errorf("Verdict: %v, want ErrNotAllowed", err)
			}
			if after := f.st.Trust().Members(); !reflect.DeepEqual(after, before) {
				t.Errorf("an inert certificate changed the members")
			}
		})
	}
}

// TestHeaderBitFlips flips every bit of an encoded header: each variant
// either fails to decode or is refused, and none is stored.
func TestHeaderBitFlips(t *testing.T) {
	f := newFixture(t, nil)
	good := f.alice.Post("every bit counts")
	b, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(b[0])<<8 | int(b[1])
	var bad []*envelope.Envelope
	for bit := 0; bit < 8*hlen; bit++ {
		c := append([]byte(nil), b...)
		c[2+bit/8] ^= 1 << (bit % 8)
		e, err := envelope.Decode(c)
		if err != nil {
			continue
		}
		bad = append(bad, e)
	}
	if len(bad) < 4*hlen {
		t.Fatalf("only %d of %d flipped headers decode; the test is not testing much", len(bad), 8*hlen)
	}
	before := replicatest.Snap(t, f.st)
	res := replicatest.Add(t, f.st, bad...)
	if len(res.Admitted) != 0 || res.Pending != 0 || len(res.Refused) != len(bad) {
		t.Fatalf("got %d admitted, %d pending, %d refused; want all %d refused",
			len(res.Admitted), res.Pending, len(res.Refused), len(bad))
	}
	for _, r := range res.Refused {
		if r.Reason != replica.ReasonSignature && r.Reason != replica.ReasonMalformed {
			t.Errorf("refusal %v: got reason %s, want %s or %s", r, r.Reason, replica.ReasonSignature, replica.ReasonMalformed)
		}
	}
	counts := f.st.Refusals()
	if got := counts[replica.ReasonSignature] + counts[replica.ReasonMalformed]; got != uint64(len(bad)) {
		t.Errorf("refusals counted: got %d, want %d", got, len(bad))
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}
	replicatest.MustAdmit(t, f.st, good)
}

func TestWaitsForMembership(t *testing.T) {
	f := newFixture(t, nil)
	carol := f.c.Device("carol", "venue")
	p1, p2 := carol.Post("carol 1"), carol.Post("carol 2")
	before := replicatest.Snap(t, f.st)

	res := replicatest.Add(t, f.st, p1, p2)
	if len(res.Admitted) != 0 || res.Pending != 2 || len(res.Refused) != 0 {
		t.Fatalf("got %d admitted, %d pending, %v refused; want 2 pending", len(res.Admitted), res.Pending, res.Refused)
	}
	if got, want := f.st.Pending(), map[replica.Reason]int{replica.ReasonNoMembership: 2}; !maps.Equal(got, want) {
		t.Errorf("Pending: got %v, want %v", got, want)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}
	if got := f.st.Refusals(); len(got) != 0 {
		t.Errorf("Refusals: got %v, want none (waiting is not refusing)", got)
	}

	// An unrelated envelope admits nothing held.
	replicatest.MustAdmit(t, f.st, f.bob.Post("bob 2"))
	if got := f.st.Pending()[replica.ReasonNoMembership]; got != 2 {
		t.Errorf("Pending after an unrelated Add: got %d, want 2", got)
	}

	m := f.coord.Admit(carol, crypto.RoleMember)
	res = replicatest.Add(t, f.st, m)
	if got, want := res.Admitted, ids(m, p1, p2); !slices.Equal(got, want) {
		t.Errorf("Admitted: got %v, want %v", got, want)
	}
	if res.Pending != 0 || len(res.Refused) != 0 {
		t.Errorf("got %d pending, %v refused; want none", res.Pending, res.Refused)
	}
	if got := f.st.Pending(); len(got) != 0 {
		t.Errorf("Pending: got %v, want nothing", got)
	}
	if got := f.st.Head(carol.ID()); got.Seq != 2 || got.Head != p2.ID() {
		t.Errorf("carol's head: got seq %d %s, want seq 2 %s", got.Seq, got.Head, p2.ID())
	}
}

func TestWaitsForPredecessor(t *testing.T) {
	f := newFixture(t, nil)
	p2, p3, p4 := f.alice.Post("alice 2"), f.alice.Post("alice 3"), f.alice.Post("alice 4")
	before := replicatest.Snap(t, f.st)

	res := replicatest.Add(t, f.st, p4, p3)
	if res.Pending != 2 || len(res.Admitted) != 0 {
		t.Fatalf("got %d admitted, %d pending; want 2 pending", len(res.Admitted), res.Pending)
	}
	if got, want := f.st.Pending(), map[replica.Reason]int{replica.ReasonNoPredecessor: 2}; !maps.Equal(got, want) {
		t.Errorf("Pending: got %v, want %v", got, want)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}

	res = replicatest.Add(t, f.st, p2)
	if got, want := res.Admitted, ids(p2, p3, p4); !slices.Equal(got, want) {
		t.Errorf("Admitted: got %v, want %v", got, want)
	}
	stored := storedIDs(t, f.st)
	if got, want := stored[len(stored)-3:], ids(p2, p3, p4); !slices.Equal(got, want) {
		t.Errorf("local order: got %v, want %v", got, want)
	}
	if got := f.st.Pending(); len(got) != 0 {
		t.Errorf("Pending: got %v, want nothing", got)
	}
}

func TestPendingOverflow(t *testing.T) {
	f := newFixture(t, func(c *replica.Config) { c.MaxPending = 2 })
	f.alice.Post("alice 2") // never offered
	p3, p4, p5 := f.alice.Post("alice 3"), f.alice.Post("alice 4"), f.alice.Post("alice 5")
	replicatest.Add(t, f.st, p3, p4)
	expectRefusedHeld(t, f.st, p5, replica.ReasonOverflow)
	if got := f.st.Pending()[replica.ReasonNoPredecessor]; got != 2 {
		t.Errorf("Pending: got %d, want 2", got)
	}
	// Offering one already held again is not an overflow.
	if res := replicatest.Add(t, f.st, p3); res.Pending != 1 || len(res.Refused) != 0 {
		t.Errorf("re-offer of a held envelope: got %d pending, %v refused; want 1 pending", res.Pending, res.Refused)
	}
}

// expectRefusedHeld is expectRefused for a store that holds envelopes back.
func expectRefusedHeld(t *testing.T, st *replica.Store, env *envelope.Envelope, want replica.Reason) replica.Result {
	t.Helper()
	before := replicatest.Snap(t, st)
	counts := st.Refusals()
	res := replicatest.Add(t, st, env)
	if r := refusalOf(res, env.ID()); r == nil || r.Reason != want {
		t.Fatalf("refusal: got %v, want %s", r, want)
	}
	if got := st.Refusals()[want]; got != counts[want]+1 {
		t.Errorf("Refusals()[%s]: got %d, want %d", want, got, counts[want]+1)
	}
	if after := replicatest.Snap(t, st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}
	return res
}

// TestEquivocationKeepsEvidence: a device that writes two envelopes at one
// place is frozen before it, whichever branch came first: both are kept as
// evidence, and nothing of it from there on is admitted.
func TestEquivocationKeepsEvidence(t *testing.T) {
	f := newFixture(t, nil)
	stored := f.base[len(f.base)-1] // bob's seq 1
	if stored.Header.Author != f.bob.ID() || stored.Header.Seq != 1 {
		t.Fatalf("fixture: bob's first envelope is not last")
	}
	fork := f.bob.PostAt(crypto.Position{Seq: 1}, f.c.Clock(), "bob 1, second version")
	res := replicatest.Add(t, f.st, fork)
	if len(res.Refused) != 1 || res.Refused[0].Reason != replica.ReasonEquivocation {
		t.Fatalf("fork: got %+v, want refused as equivocation", res.Refused)
	}
	ids := map[envelope.Hash]bool{}
	for _, h := range f.st.Forks() {
		ids[h.ID()] = true
	}
	if len(ids) != 2 || !ids[fork.ID()] || !ids[stored.ID()] {
		t.Fatalf("Forks: got %d headers, want both versions of bob's seq 1", len(ids))
	}
	if h := f.st.Head(f.bob.ID()); h.Seq != 0 {
		t.Errorf("bob's head after the fork: %d, want nothing (frozen before seq 1)", h.Seq)
	}
	// Neither branch, nor what follows either, is admitted again.
	after := f.bob.PostAt(crypto.Position{Seq: 2, Prev: fork.ID()}, f.c.Clock(), "after the fork")
	for _, e := range []*envelope.Envelope{stored, fork, after, f.bob.Post("bob 2")} {
		expectRefused(t, f.st, e, replica.ReasonEquivocation)
	}
}

// TestEquivocationWhileHeld offers two versions of one sequence number before
// their predecessor: whichever order they come in, the device is frozen
// before them.
func TestEquivocationWhileHeld(t *testing.T) {
	f := newFixture(t, nil)
	p2 := f.alice.Post("alice 2")
	a := f.alice.PostAt(f.alice.Pos, f.c.Clock(), "alice 3a")
	b := f.alice.PostAt(f.alice.Pos, f.c.Clock(), "alice 3b")
	for _, order := range [][]*envelope.Envelope{{a, b}, {b, a}} {
		g := f.newStore(t)
		replicatest.Add(t, g, order...)
		res := replicatest.Add(t, g, p2)
		if got := g.Head(f.alice.ID()).Head; got != p2.ID() {
			t.Errorf("head after %s, %s: got %s, want %s", order[0].ID(), order[1].ID(), got, p2.ID())
		}
		// The loser was offered by an earlier call: counted, not reported.
		if err := res.Err(); err != nil {
			t.Errorf("Add of the predecessor: got %v, want no refusal", err)
		}
		if got := g.Refusals()[replica.ReasonEquivocation]; got != 1 {
			t.Errorf("Refusals()[equivocation]: got %d, want 1", got)
		}
		if len(g.Forks()) != 2 {
			t.Errorf("Forks: got %d, want 2", len(g.Forks()))
		}
	}
}

func TestClockAhead(t *testing.T) {
	f := newFixture(t, nil)
	ahead := replica.FromTime(replicatest.Start.Add(f.cfg.MaxClockAhead + time.Minute))
	e := f.alice.PostAt(f.alice.Pos, ahead, "from the future")
	before := replicatest.Snap(t, f.st)

	res := replicatest.Add(t, f.st, e)
	if res.Pending != 1 || len(res.Admitted) != 0 {
		t.Fatalf("got %d admitted, %d pending; want 1 pending", len(res.Admitted), res.Pending)
	}
	if got, want := f.st.Pending(), map[replica.Reason]int{replica.ReasonClockAhead: 1}; !maps.Equal(got, want) {
		t.Errorf("Pending: got %v, want %v", got, want)
	}
	if got := f.st.Refusals()[replica.ReasonClockAhead]; got != 1 {
		t.Errorf("Refusals()[clock-ahead]: got %d, want 1", got)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}

	// Other commits retry it but do not count it again.
	replicatest.MustAdmit(t, f.st, f.bob.Post("bob 2"))
	if err := f.st.PutLocal(replica.LocalOp{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if got := f.st.Refusals()[replica.ReasonClockAhead]; got != 1 {
		t.Errorf("Refusals()[clock-ahead] after more commits: got %d, want 1", got)
	}
	if got := f.st.Pending()[replica.ReasonClockAhead]; got != 1 {
		t.Errorf("Pending after more commits: got %d, want 1", got)
	}

	// Within the limit, the next commit admits it.
	f.clock.Advance(2 * time.Minute)
	res = replicatest.Add(t, f.st, f.bob.Post("bob 3"))
	if !contains(res.Admitted, e.ID()) {
		t.Errorf("Admitted: got %v, want it to hold %s", res.Admitted, e.ID())
	}
	if got := f.st.Pending(); len(got) != 0 {
		t.Errorf("Pending: got %v, want nothing", got)
	}
}

func TestDuplicate(t *testing.T) {
	f := newFixture(t, nil)
	for i, e := range f.base {
		before := replicatest.Snap(t, f.st)
		counts := f.st.Refusals()
		res := replicatest.Add(t, f.st, e, e)
		if res.Duplicates != 2 || len(res.Admitted) != 0 || len(res.Refused) != 0 || res.Pending != 0 {
			t.Errorf("envelope %d: got %d duplicates, %d admitted, %v refused, %d pending; want 2 duplicates",
				i, res.Duplicates, len(res.Admitted), res.Refused, res.Pending)
		}
		if after := replicatest.Snap(t, f.st); after != before {
			t.Errorf("envelope %d: store changed: got %+v, want %+v", i, after, before)
		}
		if got := f.st.Refusals(); !maps.Equal(got, counts) {
			t.Errorf("envelope %d: Refusals: got %v, want %v", i, got, counts)
		}
	}
}

// TestSameEnvelopeTwiceInOneAdd: the second copy is a duplicate of the first.
func TestSameEnvelopeTwiceInOneAdd(t *testing.T) {
	f := newFixture(t, nil)
	e := f.alice.Post("twice")
	res := replicatest.Add(t, f.st, e, e)
	if len(res.Admitted) != 1 || res.Duplicates != 1 {
		t.Errorf("got %d admitted, %d duplicates; want 1 and 1", len(res.Admitted), res.Duplicates)
	}
}

// TestIndividualPayloads checks which devices keep the payload of an
// envelope sealed to individual devices only.
func TestIndividualPayloads(t *testing.T) {
	tests := []struct {
		name     string
		self     func(f *fixture) *replicatest.Device
		keepAll  bool
		to       func(f *fixture) []*replicatest.Device
		wantHeld bool
	}{
		{"not a recipient", func(f *fixture) *replicatest.Device { return f.alice },
			false, func(f *fixture) []*replicatest.Device { return []*replicatest.Device{f.admin} }, false},
		{"not a recipient, relay", func(f *fixture) *replicatest.Device { return f.alice },
			true, func(f *fixture) []*replicatest.Device { return []*replicatest.Device{f.admin} }, true},
		{"a recipient", func(f *fixture) *replicatest.Device { return f.alice },
			false, func(f *fixture) []*replicatest.Device { return []*replicatest.Device{f.admin, f.alice} }, true},
		{"the author", func(f *fixture) *replicatest.Device { return f.bob },
			false, func(f *fixture) []*replicatest.Device { return []*replicatest.Device{f.admin} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			cfg := replicatest.Config(t, tt.self(f).ID(), f.clock.Now)
			cfg.KeepAllPayloads = tt.keepAll
			st := replicatest.Open(t, cfg)
			replicatest.MustAdmit(t, st, f.base...)
			red := f.bob.PostTo("for your eyes only", tt.to(f)...)
			if len(red.Header.Epochs) != 0 || len(red.Header.Recipients) == 0 {
				t.Fatalf("test envelope has %d epochs and %d recipients; want 0 and some", len(red.Header.Epochs), len(red.Header.Recipients))
			}
			replicatest.MustAdmit(t, st, red)
			got, err := st.Get(red.ID())
			if err != nil {
				t.Fatal(err)
			}
			if held := got.Payload != nil; held != tt.wantHeld {
				t.Errorf("payload held: got %v, want %v", held, tt.wantHeld)
			}
			if got.Header.ID() != red.ID() {
				t.Errorf("header: got %s, want %s", got.Header.ID(), red.ID())
			}
		})
	}
}

func TestRetractionByAuthor(t *testing.T) {
	f := newFixture(t, nil)
	post := f.base[5] // alice 1
	r := f.alice.Retract(post.ID())
	replicatest.MustAdmit(t, f.st, r)

	checkRetracted := func(t *testing.T, st *replica.Store) {
		t.Helper()
		got, err := st.Get(post.ID())
		if err != nil {
			t.Fatal(err)
		}
		if got.Payload != nil {
			t.Errorf("payload of the retracted envelope: got %d bytes, want none", len(got.Payload))
		}
		if by, ok := st.Retracted(post.ID()); !ok || by != r.ID() {
			t.Errorf("Retracted: got %s %v, want %s true", by, ok, r.ID())
		}
	}
	checkRetracted(t, f.st)

	// The original, payload and all, offered again: a duplicate; the payload stays gone.
	res := replicatest.Add(t, f.st, post)
	if res.Duplicates != 1 {
		t.Errorf("re-offer: got %d duplicates, want 1", res.Duplicates)
	}
	checkRetracted(t, f.st)

	// Another store learns the retraction first: it waits for its target
	// (which precedes it in its author's chain), and the target arrives
	// without keeping its payload.
	g := replicatest.Open(t, replicatest.Config(t, f.bob.ID(), f.clock.Now))
	replicatest.MustAdmit(t, g, f.base[:5]...)
	res = replicatest.Add(t, g, r)
	if res.Pending != 1 {
		t.Fatalf("retraction before its target: got %d pending, want 1", res.Pending)
	}
	if got, want := g.Pending(), map[replica.Reason]int{replica.ReasonNoPredecessor: 1}; !maps.Equal(got, want) {
		t.Errorf("Pending: got %v, want %v", got, want)
	}
	res = replicatest.Add(t, g, post)
	if got, want := res.Admitted, ids(post, r); !slices.Equal(got, want) {
		t.Errorf("Admitted: got %v, want %v", got, want)
	}
	checkRetracted(t, g)
}

// TestRetractionWaitsForTarget: a member's retraction of an envelope not
// held yet waits for it, then is refused when it turns out to be another
// author's.
func TestRetractionWaitsForTarget(t *testing.T) {
	f := newFixture(t, nil)
	post := f.alice.Post("alice 2")
	r := f.bob.Retract(post.ID())
	before := replicatest.Snap(t, f.st)
	res := replicatest.Add(t, f.st, r)
	if res.Pending != 1 {
		t.Fatalf("got %d pending, want 1", res.Pending)
	}
	if got, want := f.st.Pending(), map[replica.Reason]int{replica.ReasonNoTarget: 1}; !maps.Equal(got, want) {
		t.Errorf("Pending: got %v, want %v", got, want)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed: got %+v, want %+v", after, before)
	}
	res = replicatest.MustAdmit(t, f.st, post)
	if got := f.st.Refusals()[replica.ReasonNotAllowed]; got != 1 {
		t.Errorf("Refusals()[not-allowed]: got %d, want 1", got)
	}
	if got := f.st.Pending(); len(got) != 0 {
		t.Errorf("Pending: got %v, want nothing", got)
	}
	if _, ok := f.st.Retracted(post.ID()); ok {
		t.Errorf("post retracted by someone else's retraction")
	}
	if e, err := f.st.Get(post.ID()); err != nil || e.Payload == nil {
		t.Errorf("Get: got %v, %v; want the post with its payload", e, err)
	}
}

func TestRetractionByCoordinator(t *testing.T) {
	f := newFixture(t, nil)
	post := f.alice.Post("mis-marked")
	r := f.coord.Retract(post.ID())
	// A coordinator's retraction is admitted before its target arrives.
	replicatest.MustAdmit(t, f.st, r)
	replicatest.MustAdmit(t, f.st, post)
	got, err := f.st.Get(post.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Payload != nil {
		t.Errorf("payload: got %d bytes, want none", len(got.Payload))
	}
	if by, ok := f.st.Retracted(post.ID()); !ok || by != r.ID() {
		t.Errorf("Retracted: got %s %v, want %s true", by, ok, r.ID())
	}
}

func TestRevocationPurges(t *testing.T) {
	f := newFixture(t, nil)
	// bob's chain: seq 1 is in base; 2, 3, 4 now.
	later := []*envelope.Envelope{f.bob.Post("bob 2"), f.bob.Post("bob 3"), f.bob.Post("bob 4")}
	replicatest.MustAdmit(t, f.st, later...)

	rev := f.coord.Revoke(f.bob, 2)
	res := replicatest.Add(t, f.st, rev)
	if res.Purged != 2 {
		t.Errorf("Purged: got %d, want 2", res.Purged)
	}
	if h := f.st.Head(f.bob.ID()); h.Seq != 2 || h.Head != later[0].ID() {
		t.Errorf("bob's head: got seq %d %s, want 2 %s", h.Seq, h.Head, later[0].ID())
	}
	stored := storedIDs(t, f.st)
	for _, e := range later[1:] {
		if contains(stored, e.ID()) {
			t.Errorf("envelope %s after the last valid sequence is still stored", e.ID())
		}
		if _, err := f.st.Get(e.ID()); err == nil {
			t.Errorf("Get(%s): got the envelope, want an error", e.ID())
		}
	}
	if last, ok := f.st.Trust().Revoked(f.bob.ID()); !ok || last != 2 {
		t.Errorf("Trust().Revoked: got %d %v, want 2 true", last, ok)
	}

	// What comes later, or again, is refused.
	expectRefused(t, f.st, later[1], replica.ReasonRevoked)
	expectRefused(t, f.st, f.bob.Post("bob 5"), replica.ReasonRevoked)

	// A store that learns the revocation first ends up with the same set.
	g := f.newStore(t)
	replicatest.MustAdmit(t, g, rev)
	res = replicatest.Add(t, g, later...)
	if len(res.Admitted) != 1 || len(res.Refused) != 2 {
		t.Errorf("revocation first: got %d admitted, %d refused; want 1 and 2", len(res.Admitted), len(res.Refused))
	}
	if g.Digest() != f.st.Digest() {
		t.Errorf("digests differ with the order of learning: %x and %x", g.Digest(), f.st.Digest())
	}
}

// TestRevocationCascades revokes a coordinator before the membership it
// issued: that member loses everything.
func TestRevocationCascades(t *testing.T) {
	f := newFixture(t, nil)
	c1 := f.coord.Post("coord 1")
	carol := f.c.Device("carol", "venue")
	m := f.coord.Admit(carol, crypto.RoleMember) // coord seq 2
	dave := f.c.Device("dave", "venue")
	md := f.c.Founder.Admit(dave, crypto.RoleMember) // unaffected
	work := []*envelope.Envelope{c1, m, carol.Post("carol 1"), carol.Post("carol 2"), md, dave.Post("dave 1")}
	replicatest.MustAdmit(t, f.st, work...)

	rev := f.c.Founder.Revoke(f.coord, 1)
	res := replicatest.Add(t, f.st, rev)
	if len(res.Admitted) != 1 || len(res.Refused) != 0 {
		t.Fatalf("revocation: got %d admitted, %v refused", len(res.Admitted), res.Refused)
	}
	if res.Purged != 3 {
		t.Errorf("Purged: got %d, want 3 (coord's seq 2 and carol's two posts)", res.Purged)
	}
	if h := f.st.Head(carol.ID()); h.Seq != 0 {
		t.Errorf("carol's head: got seq %d, want nothing", h.Seq)
	}
	if h := f.st.Head(f.coord.ID()); h.Seq != 1 {
		t.Errorf("coord's head: got seq %d, want 1", h.Seq)
	}
	if h := f.st.Head(dave.ID()); h.Seq != 1 {
		t.Errorf("dave's head: got seq %d, want 1", h.Seq)
	}
	if _, ok := f.st.Trust().Member(carol.ID()); ok {
		t.Errorf("carol is still a member")
	}

	// carol's posts offered again wait for a membership that will not come.
	res = replicatest.Add(t, f.st, work[2:4]...)
	if len(res.Admitted) != 0 || res.Pending != 2 {
		t.Errorf("carol's posts again: got %d admitted, %d pending; want 2 pending", len(res.Admitted), res.Pending)
	}

	// A store that learns the revocation first holds the same set.
	g := f.newStore(t)
	replicatest.MustAdmit(t, g, md, rev)
	replicatest.Add(t, g, work...)
	if g.Digest() != f.st.Digest() {
		t.Errorf("digests differ with the order of learning:\n%v\n%v", g.Heads(), f.st.Heads())
	}
	if res := replicatest.Add(t, g, rev); res.Duplicates != 1 {
		t.Errorf("revocation again: got %d duplicates, want 1", res.Duplicates)
	}
}

// TestRevokedRetractionIsUndone: a retraction written after its author's
// last valid sequence number is purged with the rest, and the target no
// longer reads as retracted.
func TestRevokedRetractionIsUndone(t *testing.T) {
	f := newFixture(t, nil)
	post := f.base[6] // bob 1
	r := f.bob.Retract(post.ID())
	replicatest.MustAdmit(t, f.st, r)
	if _, ok := f.st.Retracted(post.ID()); !ok {
		t.Fatal("not retracted")
	}
	res := replicatest.Add(t, f.st, f.coord.Revoke(f.bob, 1))
	if res.Purged != 1 {
		t.Errorf("Purged: got %d, want 1", res.Purged)
	}
	if by, ok := f.st.Retracted(post.ID()); ok {
		t.Errorf("Retracted: got %s true, want false once the retraction is purged", by)
	}
}

// TestRefusalsOfHeldEnvelopesAreNotCallers: an envelope held back by one
// call and refused during a later call is counted, but the later call's
// result does not report it, since it offered nothing wrong.
func TestRefusalsOfHeldEnvelopesAreNotCallers(t *testing.T) {
	f := newFixture(t, nil)
	f.bob.Post("bob 2") // never offered
	held := f.bob.Post("bob 3")
	if res := replicatest.Add(t, f.st, held); res.Pending != 1 {
		t.Fatalf("got %d pending, want 1", res.Pending)
	}
	rev := f.coord.Revoke(f.bob, 1)
	res := replicatest.Add(t, f.st, rev)
	if err := res.Err(); err != nil {
		t.Errorf("revocation: got error %v, want none", err)
	}
	if !slices.Equal(res.Admitted, ids(rev)) {
		t.Errorf("Admitted: got %v, want the revocation", res.Admitted)
	}
	if got := f.st.Pending(); len(got) != 0 {
		t.Errorf("Pending: got %v, want nothing", got)
	}
	if got := f.st.Refusals()[replica.ReasonRevoked]; got != 1 {
		t.Errorf("Refusals()[revoked]: got %d, want 1", got)
	}
}

func TestNoCommunityYet(t *testing.T) {
	f := newFixture(t, nil)
	st := replicatest.Open(t, replicatest.Config(t, f.alice.ID(), f.clock.Now))
	if !st.Community().IsZero() {
		t.Fatalf("Community: got %s, want zero", st.Community())
	}
	// Everything but the genesis waits for it; the genesis lets it all in.
	res := replicatest.Add(t, st, f.base[1:]...)
	if res.Pending != len(f.base)-1 {
		t.Errorf("before the genesis: got %d pending, want %d", res.Pending, len(f.base)-1)
	}
	res = replicatest.Add(t, st, f.base[0])
	if len(res.Admitted) != len(f.base) {
		t.Errorf("with the genesis: got %d admitted, want %d", len(res.Admitted), len(f.base))
	}
	if st.Community() != f.c.ID {
		t.Errorf("Community: got %s, want %s", st.Community(), f.c.ID)
	}
	if st.Digest() != f.st.Digest() {
		t.Errorf("Digest differs from the store that got them in order")
	}
	// The first genesis founds it; another is refused.
	expectRefused(t, st, replicatest.New(t, "elsewhere").Genesis, replica.ReasonCommunity)
}

// TestAddNoHeader: envelopes built in Go without a header are refused, not
// a panic.
func TestAddNoHeader(t *testing.T) {
	f := newFixture(t, nil)
	before := replicatest.Snap(t, f.st)
	res := replicatest.Add(t, f.st, nil, &envelope.Envelope{Payload: []byte("x")}, &envelope.Envelope{Header: &envelope.Header{}})
	if len(res.Refused) != 3 {
		t.Fatalf("got %v refused, want 3", res.Refused)
	}
	for _, r := range res.Refused {
		if r.Reason != replica.ReasonMalformed {
			t.Errorf("reason: got %s, want %s", r.Reason, replica.ReasonMalformed)
		}
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed")
	}
}

func TestAddNothing(t *testing.T) {
	f := newFixture(t, nil)
	before := replicatest.Snap(t, f.st)
	res, err := f.st.Add()
	if err != nil || len(res.Admitted)+len(res.Refused)+res.Pending+res.Duplicates+res.Purged != 0 {
		t.Errorf("Add(): got %+v, %v; want an empty result", res, err)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("store changed")
	}
}

func TestClosed(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if _, err := f.st.Add(f.alice.Post("late")); err == nil {
		t.Errorf("Add after Close: got no error")
	}
	if err := f.st.PutLocal(replica.LocalOp{Key: "k", Value: []byte("v")}); err == nil {
		t.Errorf("PutLocal after Close: got no error")
	}
}

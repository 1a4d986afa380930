package replica_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// TestConcurrentWrites has many goroutines add envelopes and local values
// at once, one per call, so that the writer groups them into commits. Each
// writes its own chain, and all of them also offer one shared chain, in
// different orders, so some of it waits and is let in by other goroutines'
// calls. Every envelope is admitted exactly once.
func TestConcurrentWrites(t *testing.T) {
	const (
		writers = 12
		each    = 15
		shared  = 10
	)
	c := replicatest.New(t, "concurrent")
	certs := []*envelope.Envelope{c.Genesis}
	chains := make([][]*envelope.Envelope, writers)
	for w := range chains {
		d, m := c.Join(fmt.Sprint("writer ", w), "centre", crypto.RoleMember)
		certs = append(certs, m)
		for i := 0; i < each; i++ {
			chains[w] = append(chains[w], d.Post(fmt.Sprintf("writer %d post %d", w, i)))
		}
	}
	var common []*envelope.Envelope
	for i := 0; i < shared; i++ {
		common = append(common, c.Founder.Post(fmt.Sprint("shared ", i)))
	}
	cfg := replicatest.Config(t, c.Founder.ID(), nil)
	cfg.Logf = nil
	st := replicatest.Open(t, cfg)
	replicatest.MustAdmit(t, st, certs...)
	before := st.LastSeq()

	results := make([][]replica.Result, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Its own chain in order, each post followed by one of the
			// shared chain (rotated by w), and a local value after each.
			var order []*envelope.Envelope
			for i, e := range chains[w] {
				order = append(order, e)
				if i < shared {
					order = append(order, common[(w+i)%shared])
				}
			}
			for i, e := range order {
				res, err := st.Add(e)
				if err == nil {
					err = res.Err()
				}
				if err == nil {
					err = st.PutLocal(replica.LocalOp{Key: fmt.Sprintf("w%02d/%02d", w, i), Value: []byte{byte(w), byte(i)}})
				}
				if err != nil {
					errs <- err
					return
				}
				results[w] = append(results[w], res)
			}
			// Whatever of the shared chain is still missing.
			res, err := st.Add(common...)
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				errs <- err
				return
			}
			results[w] = append(results[w], res)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	want := map[envelope.Hash]bool{}
	for _, ch := range chains {
		for _, e := range ch {
			want[e.ID()] = true
		}
	}
	for _, e := range common {
		want[e.ID()] = true
	}
	got := map[envelope.Hash]bool{}
	for _, rs := range results {
		for _, r := range rs {
			for _, id := range r.Admitted {
				if got[id] {
					t.Errorf("envelope %s reported admitted twice", id)
				}
				got[id] = true
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("reported admitted: got %d envelopes, want %d", len(got), len(want))
	}
	if n := st.LastSeq() - before; n != uint64(len(want)) {
		t.Errorf("stored: got %d envelopes, want %d", n, len(want))
	}
	if p := st.Pending(); len(p) != 0 {
		t.Errorf("Pending: got %v, want nothing", p)
	}
	if h := st.Head(c.Founder.ID()); h.Head != common[shared-1].ID() {
		t.Errorf("founder's head: got seq %d, want the last shared post", h.Seq)
	}
	for w, ch := range chains {
		if h := st.Head(crypto.DeviceID(ch[0].Header.Author)); h.Seq != each || h.Head != ch[each-1].ID() {
			t.Errorf("writer %d: head at seq %d, want %d", w, h.Seq, each)
		}
	}
	if n := len(st.LocalWithPrefix("w")); n != writers*(each+shared) {
		t.Errorf("local values: got %d, want %d", n, writers*(each+shared))
	}
}

// TestCloseWhileAdding closes a store while goroutines add to it: every call
// returns, and what was reported stored is there after reopening.
func TestCloseWhileAdding(t *testing.T) {
	const writers = 8
	c := replicatest.New(t, "closing")
	certs := []*envelope.Envelope{c.Genesis}
	devs := make([]*replicatest.Device, writers)
	for w := range devs {
		var m *envelope.Envelope
		devs[w], m = c.Join(fmt.Sprint("writer ", w), "centre", crypto.RoleMember)
		certs = append(certs, m)
	}
	chains := make([][]*envelope.Envelope, writers)
	for w, d := range devs {
		for i := 0; i < 40; i++ {
			chains[w] = append(chains[w], d.Post(fmt.Sprint(i)))
		}
	}
	cfg := replicatest.Config(t, c.Founder.ID(), nil)
	cfg.Logf = nil
	st, err := replica.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	replicatest.MustAdmit(t, st, certs...)

	var started, wg sync.WaitGroup
	admitted := make([][]envelope.Hash, writers)
	for w := range chains {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, e := range chains[w] {
				res, err := st.Add(e)
				if i == 0 {
					started.Done()
				}
				if err != nil {
					if i == 0 {
						t.Errorf("writer %d: first Add: %v", w, err)
					}
					return
				}
				admitted[w] = append(admitted[w], res.Admitted...)
			}
		}()
	}
	started.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait() // hangs if a call is left waiting for a writer that stopped

	st = replicatest.Open(t, cfg)
	stored := storedIDs(t, st)
	for w, ids := range admitted {
		if len(ids) == 0 {
			t.Errorf("writer %d: nothing admitted", w)
		}
		for _, id := range ids {
			if !slices.Contains(stored, id) {
				t.Errorf("writer %d: %s reported admitted, not stored after reopening", w, id)
			}
		}
	}
}

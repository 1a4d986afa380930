package replica_test

import (
	"bytes"
	"slices"
	"testing"

	"noroshi/crypto/envelope"
	"noroshi/replica/replicatest"
)

// TestWantedPayloadFilled: an envelope that arrives without the payload this
// device may hold is wanted; when a copy with the payload arrives, the
// payload is stored and the envelope shows again in Since.
func TestWantedPayloadFilled(t *testing.T) {
	f := newFixture(t, nil)
	post := f.bob.Post("bob 2")
	headerOnly := &envelope.Envelope{Header: post.Header}
	replicatest.MustAdmit(t, f.st, headerOnly)
	id := post.ID()
	if got := f.st.Wanted(10); !slices.Contains(got, id) {
		t.Fatalf("Wanted = %v, want it to list the envelope held without payload", got)
	}
	last := f.st.LastSeq()
	digest := f.st.Digest()

	// A copy whose payload does not match is not taken.
	bad := &envelope.Envelope{Header: post.Header, Payload: bytes.Repeat([]byte{1}, len(post.Payload))}
	if res := replicatest.Add(t, f.st, bad); len(res.Filled) != 0 {
		t.Fatalf("a payload that does not match its hash was stored")
	}

	res := replicatest.Add(t, f.st, post)
	if len(res.Filled) != 1 || res.Filled[0] != id {
		t.Fatalf("Filled = %v, want [%s]", res.Filled, id.String()[:8])
	}
	e, err := f.st.Get(id)
	if err != nil || !bytes.Equal(e.Payload, post.Payload) {
		t.Fatalf("payload not stored after filling: %v", err)
	}
	if got := f.st.Wanted(10); slices.Contains(got, id) {
		t.Errorf("still wanted after filling")
	}
	if f.st.Digest() != digest {
		t.Errorf("filling a payload changed the digest (headers did not change)")
	}
	var again bool
	f.st.Since(last, func(_ uint64, e *envelope.Envelope) error {
		again = again || e.ID() == id
		return nil
	})
	if !again {
		t.Errorf("the filled envelope is not in Since(%d)", last)
	}
	// Filling is idempotent.
	if res := replicatest.Add(t, f.st, post); len(res.Filled) != 0 || res.Duplicates != 1 {
		t.Errorf("second copy: filled %d, duplicates %d; want 0 and 1", len(res.Filled), res.Duplicates)
	}
}

// TestNotWantedWhenNotForMe: a payload sealed to other devices only is not
// wanted by a device that may not hold it.
func TestNotWantedWhenNotForMe(t *testing.T) {
	f := newFixture(t, nil)
	red := f.coord.PostTo("for bob", f.bob)
	replicatest.MustAdmit(t, f.st, &envelope.Envelope{Header: red.Header})
	if got := f.st.Wanted(10); slices.Contains(got, red.ID()) {
		t.Errorf("alice wants a payload sealed to bob only")
	}
}

// TestSyncFillsWantedPayload: a recipient that first got a RED-style
// envelope header-only from an ordinary member (who may not hold the
// payload) gets the payload from the author at a later sync, although
// their version vectors are equal.
func TestSyncFillsWantedPayload(t *testing.T) {
	f := newFixture(t, nil) // the store is alice's
	red := f.coord.PostTo("for alice", f.alice)
	bobStore := replicatest.Open(t, replicatest.Config(t, f.bob.ID(), f.clock.Now))
	replicatest.MustAdmit(t, bobStore, f.base...)
	replicatest.MustAdmit(t, bobStore, red) // bob keeps the header only
	if e, _ := bobStore.Get(red.ID()); e.Payload != nil {
		t.Fatal("bob holds a payload sealed to alice only")
	}
	bob := &replicatest.Replica{Dev: f.bob, Store: bobStore}
	alice := &replicatest.Replica{Dev: f.alice, Store: f.st}
	if err := replicatest.Sync(t, alice, bob).Err(); err != nil {
		t.Fatal(err)
	}
	if e, err := f.st.Get(red.ID()); err != nil || e.Payload != nil {
		t.Fatalf("alice after syncing with bob: payload %v, err %v; want the header only", e != nil && e.Payload != nil, err)
	}
	if got := f.st.Wanted(10); len(got) != 1 || got[0] != red.ID() {
		t.Fatalf("alice wants %v, want the RED envelope", got)
	}
	coordStore := replicatest.Open(t, replicatest.Config(t, f.coord.ID(), f.clock.Now))
	replicatest.MustAdmit(t, coordStore, f.base...)
	replicatest.MustAdmit(t, coordStore, red)
	coord := &replicatest.Replica{Dev: f.coord, Store: coordStore}
	if f.st.Digest() != coordStore.Digest() {
		t.Fatal("alice and the author should hold the same headers")
	}
	if err := replicatest.Sync(t, alice, coord).Err(); err != nil {
		t.Fatal(err)
	}
	e, err := f.st.Get(red.ID())
	if err != nil || !bytes.Equal(e.Payload, red.Payload) {
		t.Fatalf("alice after syncing with the author: payload missing (err %v)", err)
	}
	if got := f.st.Wanted(10); len(got) != 0 {
		t.Errorf("still wanted: %v", got)
	}
}

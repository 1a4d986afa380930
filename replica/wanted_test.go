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

package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"noroshi/crypto/envelope"
)

// Round trips of the sync frames: each decoder takes arbitrary bytes
// without panicking, refuses with ErrProtocol, and what it accepts
// encodes to a frame that decodes to the same value.

// roundTrip checks one codec on b.
func roundTrip[T any](t *testing.T, b []byte, decode func([]byte) (T, error), encode func(T) []byte) {
	t.Helper()
	v, err := decode(b)
	if err != nil {
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("decode: got %v, want ErrProtocol", err)
		}
		return
	}
	again := encode(v)
	w, err := decode(again)
	if err != nil {
		t.Fatalf("re-encoded %x does not decode: %v", again, err)
	}
	if !reflect.DeepEqual(v, w) {
		t.Fatalf("round trip: got %+v, want %+v", w, v)
	}
}

func testTree() *tree {
	var heads []AuthorHead
	for i := range 40 {
		var h AuthorHead
		h.Author[0], h.Author[1] = byte(i*7), byte(i)
		h.Seq = uint64(i + 1)
		h.Head[0] = byte(i)
		heads = append(heads, h)
	}
	return buildTree(heads)
}

func FuzzFrameSummary(f *testing.F) {
	t := testTree()
	f.Add(summaryMsg{root: t.root, level1: t.level1}.encode())
	f.Add(summaryMsg{asks: true}.encode())
	f.Add([]byte{msgSummary})
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, decodeSummary, summaryMsg.encode)
	})
}

func FuzzFrameLevel2(f *testing.F) {
	t := testTree()
	f.Add(level2Of(t, []int{0, 3, 15}).encode())
	f.Add(level2Of(t, nil).encode())
	f.Add([]byte{msgLevel2, 1, 16, 0, 0})
	f.Add([]byte{msgLevel2, 1, 2, 0x80, 0})
	f.Fuzz(func(tt *testing.T, b []byte) {
		roundTrip(tt, b, decodeLevel2, level2Msg.encode)
		if m, err := decodeLevel2(b); err == nil {
			m.differing(t) // never out of range
		}
	})
}

func FuzzFrameHeads(f *testing.F) {
	hm := headsMsg{leaves: []byte{1, 9}, entries: []entry{{author: [16]byte{1, 2}, seq: 3}, {author: [16]byte{9}, seq: 300}}}
	f.Add(hm.encode())
	f.Add(headsMsg{}.encode())
	f.Add([]byte{msgHeads, 0, 0, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, decodeHeads, headsMsg.encode)
	})
}

func FuzzFrameWants(f *testing.F) {
	f.Add(encodeWants([]want{{index: 0}, {index: 2, seq: 7, head: [8]byte{1}}}), uint16(3))
	f.Add(encodeWants(nil), uint16(0))
	f.Add([]byte{msgWants, 1, 0, 0}, uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, entries uint16) {
		decode := func(b []byte) ([]want, error) { return decodeWants(b, int(entries)) }
		roundTrip(t, b, decode, encodeWants)
	})
}

func FuzzFrameEnvelopes(f *testing.F) {
	f.Add(encodeEnvelopes([][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{9}, 200)}))
	f.Add(encodeEnvelopes(nil))
	f.Add([]byte{msgEnvelopes, 0x7f})
	f.Add([]byte{msgEnvelopes, 1, 9, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, decodeEnvelopes, encodeEnvelopes)
		if encs, err := decodeEnvelopes(b); err == nil {
			size := 1 + uvarintLen(uint64(len(encs)))
			for _, e := range encs {
				size += envelopeSize(len(e))
			}
			if again := encodeEnvelopes(encs); size != len(again) {
				t.Fatalf("envelopeSize: counted %d bytes, the frame holds %d", size, len(again))
			}
		}
	})
}

func FuzzFramePayloads(f *testing.F) {
	f.Add(encodePayloads([]envelope.Hash{{1}, {2}}))
	f.Add(encodePayloads(nil))
	f.Add(binary.AppendUvarint([]byte{msgPayloads}, maxWanted+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, decodePayloads, encodePayloads)
	})
}

// TestLevel2Differing: the leaves a level-2 message shows differing are
// exactly those whose digests differ, absent leaves counting as empty.
func TestLevel2Differing(t *testing.T) {
	a := testTree()
	if got := level2Of(a, []int{0, 5, 15}).differing(a); len(got) != 0 {
		t.Errorf("a tree against itself: leaves %v differ", got)
	}
	var heads []AuthorHead
	for _, l := range []byte{0x05, 0x51, 0xf0} {
		var h AuthorHead
		h.Author[0], h.Seq = l, 1
		heads = append(heads, h)
	}
	b := buildTree(heads)
	got := level2Of(b, []int{0, 5, 15}).differing(a)
	want := map[byte]bool{}
	for _, g := range []int{0, 5, 15} {
		for j := range 16 {
			if l := g*16 + j; a.level2[l] != b.level2[l] {
				want[byte(l)] = true
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d leaves differing, want %d", len(got), len(want))
	}
	for i, l := range got {
		if !want[l] || (i > 0 && l <= got[i-1]) {
			t.Errorf("leaf %d: not differing, or out of order (%v)", l, got)
		}
	}
}

package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"noroshi/crypto/envelope"
)

// The frame codecs of the sync protocol (sync.go describes the exchange).
// Each message type has its value, an encoder and a strict decoder: the
// type byte, every count within what the frame can hold, indexes
// ascending, nothing after the last field. A decoder's error wraps
// ErrProtocol and it never panics (FuzzFrame* in syncframes_test.go);
// what a decoder returns encodes to a frame that decodes to the same value.

const (
	msgSummary   = 1
	msgInSync    = 2
	msgLevel2    = 3
	msgHeads     = 4
	msgEnvelopes = 5
	msgDone      = 6
	msgWants     = 7
	msgPayloads  = 8
	msgBusy      = 10

	summarySize = 1 + 32 + 16*8 + 1

	authorPrefix = 16
	headPrefix   = 16
	wantPrefix   = 8
)

// isSignal reports whether m is the one-byte message typ (in-sync, done,
// busy).
func isSignal(m []byte, typ byte) bool { return len(m) == 1 && m[0] == typ }

// summaryMsg opens a sync: I's root and level-1 digests, and whether I asks
// for payloads at the end.
//
//	1 || root [32] || 16 x level-1 digest [8] || asks u8 (0 or 1)
type summaryMsg struct {
	root   [32]byte
	level1 [16][8]byte
	asks   bool
}

func (m summaryMsg) encode() []byte {
	b := make([]byte, 0, summarySize)
	b = append(b, msgSummary)
	b = append(b, m.root[:]...)
	for _, d := range m.level1 {
		b = append(b, d[:]...)
	}
	if m.asks {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeSummary(b []byte) (summaryMsg, error) {
	var m summaryMsg
	if len(b) != summarySize || b[0] != msgSummary || b[len(b)-1] > 1 {
		return m, fmt.Errorf("%w: expected a summary", ErrProtocol)
	}
	copy(m.root[:], b[1:33])
	for i := range m.level1 {
		copy(m.level1[i][:], b[33+i*8:])
	}
	m.asks = b[len(b)-1] == 1
	return m, nil
}

// level2Msg is R's answer to a summary that differs: for each level-1
// bucket that differs, the digests of its leaves.
//
//	3 || n u8 || n x (level-1 index u8 || present u16 ||
//	    digest [8] for each leaf whose bit is set, bit 15 first)
type level2Msg []level2Group

type level2Group struct {
	index   uint8     // level-1 bucket, below 16, ascending
	present uint16    // leaves that hold authors, bit 15 the first
	digests [][8]byte // one for each bit set, in order
}

func (m level2Msg) encode() []byte {
	b := []byte{msgLevel2, byte(len(m))}
	for _, g := range m {
		b = append(b, g.index)
		b = binary.BigEndian.AppendUint16(b, g.present)
		for _, d := range g.digests {
			b = append(b, d[:]...)
		}
	}
	return b
}

func decodeLevel2(b []byte) (level2Msg, error) {
	if len(b) < 2 || b[0] != msgLevel2 {
		return nil, fmt.Errorf("%w: expected level-2 digests", ErrProtocol)
	}
	n := int(b[1])
	rest := b[2:]
	var m level2Msg
	last := -1
	for range n {
		if len(rest) < 3 {
			return nil, fmt.Errorf("%w: level-2 message truncated", ErrProtocol)
		}
		g := level2Group{index: rest[0], present: binary.BigEndian.Uint16(rest[1:3])}
		if g.index >= 16 || int(g.index) <= last {
			return nil, fmt.Errorf("%w: level-1 index %d after %d", ErrProtocol, g.index, last)
		}
		last = int(g.index)
		rest = rest[3:]
		k := bits.OnesCount16(g.present)
		if len(rest) < 8*k {
			return nil, fmt.Errorf("%w: level-2 message truncated", ErrProtocol)
		}
		g.digests = make([][8]byte, k)
		for j := range g.digests {
			copy(g.digests[j][:], rest[8*j:])
		}
		rest = rest[8*k:]
		m = append(m, g)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in level-2 message", ErrProtocol, len(rest))
	}
	return m, nil
}

// level2Of is the level-2 message of t for the level-1 buckets diff.
func level2Of(t *tree, diff []int) level2Msg {
	m := make(level2Msg, 0, len(diff))
	for _, i := range diff {
		g := level2Group{index: uint8(i)}
		for j := 0; j < 16; j++ {
			if len(t.heads[i*16+j]) > 0 {
				g.present |= 1 << (15 - j)
				g.digests = append(g.digests, t.level2[i*16+j])
			}
		}
		m = append(m, g)
	}
	return m
}

// differing returns the leaves whose digests in m differ from t's,
// ascending (a leaf m does not list has the zero digest).
func (m level2Msg) differing(t *tree) []byte {
	var leaves []byte
	for _, g := range m {
		k := 0
		for j := 0; j < 16; j++ {
			var theirs [8]byte
			if g.present&(1<<(15-j)) != 0 {
				theirs = g.digests[k]
				k++
			}
			if l := int(g.index)*16 + j; theirs != t.level2[l] {
				leaves = append(leaves, byte(l))
			}
		}
	}
	return leaves
}

// headsMsg is I's version vector in the leaves that differ.
//
//	4 || n u16 || n leaf indexes u8, ascending ||
//	m uvarint || m x (author [16] || seq uvarint (> 0) || head [16]),
//	authors ascending, each in one of the leaves listed
type headsMsg struct {
	leaves  []byte
	entries []entry
}

// entry is one author in a heads message.
type entry struct {
	author [authorPrefix]byte
	seq    uint64
	head   [headPrefix]byte
}

func (m headsMsg) encode() []byte {
	b := []byte{msgHeads}
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.leaves)))
	b = append(b, m.leaves...)
	b = binary.AppendUvarint(b, uint64(len(m.entries)))
	for _, e := range m.entries {
		b = append(b, e.author[:]...)
		b = binary.AppendUvarint(b, e.seq)
		b = append(b, e.head[:]...)
	}
	return b
}

func decodeHeads(m []byte) (headsMsg, error) {
	if len(m) < 3 || m[0] != msgHeads {
		return headsMsg{}, fmt.Errorf("%w: expected heads", ErrProtocol)
	}
	nl := int(binary.BigEndian.Uint16(m[1:3]))
	if nl > 256 || len(m) < 3+nl {
		return headsMsg{}, fmt.Errorf("%w: heads message too short", ErrProtocol)
	}
	leaves := bytes.Clone(m[3 : 3+nl])
	var inLeaf [256]bool
	for i, l := range leaves {
		if i > 0 && l <= leaves[i-1] {
			return headsMsg{}, fmt.Errorf("%w: leaves out of order", ErrProtocol)
		}
		inLeaf[l] = true
	}
	rest := m[3+nl:]
	nh, k := binary.Uvarint(rest)
	// An entry takes at least 33 bytes.
	if k <= 0 || nh > uint64(len(rest))/(authorPrefix+1+headPrefix) {
		return headsMsg{}, fmt.Errorf("%w: heads count", ErrProtocol)
	}
	rest = rest[k:]
	entries := make([]entry, nh)
	for i := range entries {
		e := &entries[i]
		if len(rest) < authorPrefix {
			return headsMsg{}, fmt.Errorf("%w: heads message truncated", ErrProtocol)
		}
		copy(e.author[:], rest)
		rest = rest[authorPrefix:]
		if e.seq, k = binary.Uvarint(rest); k <= 0 || e.seq == 0 {
			return headsMsg{}, fmt.Errorf("%w: heads message: bad sequence", ErrProtocol)
		}
		rest = rest[k:]
		if len(rest) < headPrefix {
			return headsMsg{}, fmt.Errorf("%w: heads message truncated", ErrProtocol)
		}
		copy(e.head[:], rest)
		rest = rest[headPrefix:]
		if !inLeaf[e.author[0]] {
			return headsMsg{}, fmt.Errorf("%w: head outside the leaves asked for", ErrProtocol)
		}
		if i > 0 && bytes.Compare(e.author[:], entries[i-1].author[:]) <= 0 {
			return headsMsg{}, fmt.Errorf("%w: heads out of order", ErrProtocol)
		}
	}
	if len(rest) != 0 {
		return headsMsg{}, fmt.Errorf("%w: %d trailing bytes in heads message", ErrProtocol, len(rest))
	}
	return headsMsg{leaves: leaves, entries: entries}, nil
}

// want is a responder's request for an author's envelopes after seq.
type want struct {
	index int              // the author's entry in the heads message
	seq   uint64           // R's sequence of the author (0: none)
	head  [wantPrefix]byte // R's head at seq, when seq > 0
}

// encodeWants encodes R's wants, whose indexes ascend.
//
//	7 || n uvarint || n x (entry index uvarint || seq uvarint ||
//	head [8] unless seq is 0), entry indexes ascending
func encodeWants(ws []want) []byte {
	b := []byte{msgWants}
	b = binary.AppendUvarint(b, uint64(len(ws)))
	for _, w := range ws {
		b = binary.AppendUvarint(b, uint64(w.index))
		b = binary.AppendUvarint(b, w.seq)
		if w.seq > 0 {
			b = append(b, w.head[:]...)
		}
	}
	return b
}

// decodeWants reads the wants of a heads message of entries entries.
func decodeWants(m []byte, entries int) ([]want, error) {
	if len(m) < 1 || m[0] != msgWants {
		return nil, fmt.Errorf("%w: expected wants", ErrProtocol)
	}
	rest := m[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(entries) {
		return nil, fmt.Errorf("%w: wants count", ErrProtocol)
	}
	rest = rest[k:]
	out := make([]want, 0, n)
	last := -1
	for range n {
		idx, k := binary.Uvarint(rest)
		if k <= 0 || idx >= uint64(entries) || int(idx) <= last {
			return nil, fmt.Errorf("%w: want of entry %d", ErrProtocol, idx)
		}
		rest = rest[k:]
		w := want{index: int(idx)}
		last = w.index
		if w.seq, k = binary.Uvarint(rest); k <= 0 {
			return nil, fmt.Errorf("%w: wants message truncated", ErrProtocol)
		}
		rest = rest[k:]
		if w.seq > 0 {
			if len(rest) < wantPrefix {
				return nil, fmt.Errorf("%w: wants message truncated", ErrProtocol)
			}
			copy(w.head[:], rest)
			rest = rest[wantPrefix:]
		}
		out = append(out, w)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in wants message", ErrProtocol, len(rest))
	}
	return out, nil
}

// encodeEnvelopes encodes envelope encodings into one frame.
//
//	5 || n uvarint || n x (length uvarint || envelope encoding)
func encodeEnvelopes(encs [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, e := range encs {
		size += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, size)
	b = append(b, msgEnvelopes)
	b = binary.AppendUvarint(b, uint64(len(encs)))
	for _, e := range encs {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// envelopeSize is what an encoding of n bytes takes in an envelopes frame.
func envelopeSize(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// decodeEnvelopes splits an envelopes frame into the encodings it carries
// (slices of m, decoded by the caller: one that does not decode is the
// sender's fault, not the frame's).
func decodeEnvelopes(m []byte) ([][]byte, error) {
	if len(m) < 2 || m[0] != msgEnvelopes {
		return nil, fmt.Errorf("%w: expected envelopes or done", ErrProtocol)
	}
	n, k := binary.Uvarint(m[1:])
	// Each encoding takes at least its length's byte (an empty one, which
	// the caller refuses as an envelope, takes only that).
	if k <= 0 || n > uint64(len(m)-1-k) {
		return nil, fmt.Errorf("%w: envelopes count", ErrProtocol)
	}
	rest := m[1+k:]
	out := make([][]byte, 0, n)
	for range n {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: envelopes message truncated", ErrProtocol)
		}
		rest = rest[k:]
		out = append(out, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in envelopes message", ErrProtocol, len(rest))
	}
	return out, nil
}

// encodePayloads asks for the payloads of ids (at most maxWanted).
//
//	8 || n uvarint (at most maxWanted) || n x header ID [32]
func encodePayloads(ids []envelope.Hash) []byte {
	b := []byte{msgPayloads}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

func decodePayloads(m []byte) ([]envelope.Hash, error) {
	if len(m) < 2 || m[0] != msgPayloads {
		return nil, fmt.Errorf("%w: expected payloads", ErrProtocol)
	}
	n, k := binary.Uvarint(m[1:])
	if k <= 0 || n > maxWanted || uint64(len(m)-1-k) != n*32 {
		return nil, fmt.Errorf("%w: payloads message", ErrProtocol)
	}
	ids := make([]envelope.Hash, n)
	for i, rest := 0, m[1+k:]; i < len(ids); i, rest = i+1, rest[32:] {
		copy(ids[i][:], rest)
	}
	return ids, nil
}

package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Anti-entropy between two stores, over one framed stream (a crypto.Channel).
//
// Both sides summarise their version vector (one entry per author: device
// ID, sequence, head header ID) as a two-level tree: 256 leaf buckets by the
// author ID's first byte, grouped into 16 buckets by its first nibble. A
// bucket's digest is the first 8 bytes of SHA-256 over its entries' leaf
// hashes, leaf = SHA-256(author || seq || head). The root is Store.Digest, a
// full SHA-256 over every entry, so a forked chain never looks in sync.
//
// Messages, one frame each, the first byte the type:
//
//	1 summary   I->R  root [32] || 16 x level-1 digest [8]
//	2 in-sync   R->I  (empty): done, one round trip
//	3 level-2   R->I  n u8, then n x (level-1 index u8 || 16 x digest [8])
//	4 heads     both  n u16 leaf indexes u8, then m u16 x (author [32] || seq u64 || head [32])
//	5 envelopes both  n u16 x (length u32 || envelope encoding)
//	6 done      both  (empty): no more envelopes from this side
//
// In sync: summary, in-sync. Out of sync: summary, level-2, heads (I's, for
// the leaves that differ), then R sends its heads for those leaves and the
// envelopes I lacks, done; then I sends the envelopes R lacks, done. Only
// authors in differing leaves cost anything beyond the envelopes themselves.
//
// An envelope's payload is sent only to a peer that may hold it (not one
// addressed to individual devices unless the peer is one of them or a relay).

// Frames is the stream the protocol runs over.
type Frames interface {
	WriteFrame([]byte) error
	ReadFrame() ([]byte, error)
}

const (
	msgSummary   = 1
	msgInSync    = 2
	msgLevel2    = 3
	msgHeads     = 4
	msgEnvelopes = 5
	msgDone      = 6

	// envelopeFrame is the target size of an envelopes frame.
	envelopeFrame = 1 << 20
	// maxHeadsPerFrame bounds a heads message.
	maxHeadsPerFrame = 60_000
)

// ErrProtocol is returned when a peer breaks the protocol.
var ErrProtocol = errors.New("sync protocol violation")

// SyncStats says what one sync moved.
type SyncStats struct {
	Sent, Received int // envelopes
	Admitted       int
	Refused        int
	Purged         int // envelopes removed by a revocation that arrived
	Rounds         int // messages this side sent
	InSync         bool
}

// tree is a version vector summarised for comparison.
type tree struct {
	root   [32]byte
	level1 [16][8]byte
	level2 [256][8]byte
	heads  map[byte][]AuthorHead // leaf index -> heads, ordered by author
}

func leafHash(h AuthorHead) [32]byte {
	b := make([]byte, 0, 72)
	b = append(b, h.Author[:]...)
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = append(b, h.Head[:]...)
	return sha256.Sum256(b)
}

func buildTree(heads []AuthorHead) *tree {
	t := &tree{heads: map[byte][]AuthorHead{}}
	root := sha256.New()
	leaves := map[byte]*bytes.Buffer{}
	for _, h := range heads {
		root.Write(h.Author[:])
		root.Write(binary.BigEndian.AppendUint64(nil, h.Seq))
		root.Write(h.Head[:])
		l := h.Author[0]
		t.heads[l] = append(t.heads[l], h)
		if leaves[l] == nil {
			leaves[l] = &bytes.Buffer{}
		}
		lh := leafHash(h)
		leaves[l].Write(lh[:])
	}
	copy(t.root[:], root.Sum(nil))
	for l, b := range leaves {
		d := sha256.Sum256(b.Bytes())
		copy(t.level2[l][:], d[:8])
	}
	for i := 0; i < 16; i++ {
		d := sha256.New()
		for j := 0; j < 16; j++ {
			d.Write(t.level2[i*16+j][:])
		}
		copy(t.level1[i][:], d.Sum(nil))
	}
	return t
}

// SyncInitiate runs the initiator's side of anti-entropy with peer.
func (s *Store) SyncInitiate(f Frames, peer crypto.DeviceID) (SyncStats, error) {
	var st SyncStats
	t := buildTree(s.Heads())
	msg := []byte{msgSummary}
	msg = append(msg, t.root[:]...)
	for _, d := range t.level1 {
		msg = append(msg, d[:]...)
	}
	if err := f.WriteFrame(msg); err != nil {
		return st, err
	}
	st.Rounds++
	m, err := f.ReadFrame()
	if err != nil {
		return st, err
	}
	switch {
	case len(m) == 1 && m[0] == msgInSync:
		st.InSync = true
		return st, nil
	case len(m) < 2 || m[0] != msgLevel2:
		return st, fmt.Errorf("%w: expected level-2 digests", ErrProtocol)
	}
	n := int(m[1])
	if len(m) != 2+n*(1+16*8) {
		return st, fmt.Errorf("%w: level-2 message of %d bytes", ErrProtocol, len(m))
	}
	var leaves []byte
	for k := 0; k < n; k++ {
		rec := m[2+k*(1+128):]
		i := int(rec[0])
		if i >= 16 {
			return st, fmt.Errorf("%w: level-1 index %d", ErrProtocol, i)
		}
		for j := 0; j < 16; j++ {
			if !bytes.Equal(rec[1+j*8:1+(j+1)*8], t.level2[i*16+j][:]) {
				leaves = append(leaves, byte(i*16+j))
			}
		}
	}
	if err := sendHeads(f, t, leaves); err != nil {
		return st, err
	}
	st.Rounds++
	theirs, err := readHeads(f, leaves)
	if err != nil {
		return st, err
	}
	if err := s.receiveEnvelopes(f, &st); err != nil {
		return st, err
	}
	if err := s.sendMissing(f, peer, mine(t, leaves), theirs, &st); err != nil {
		return st, err
	}
	st.Rounds++
	return st, nil
}

// SyncRespond runs the responder's side of anti-entropy with peer.
func (s *Store) SyncRespond(f Frames, peer crypto.DeviceID) (SyncStats, error) {
	var st SyncStats
	m, err := f.ReadFrame()
	if err != nil {
		return st, err
	}
	if len(m) != 1+32+16*8 || m[0] != msgSummary {
		return st, fmt.Errorf("%w: expected a summary", ErrProtocol)
	}
	t := buildTree(s.Heads())
	if bytes.Equal(m[1:33], t.root[:]) {
		st.InSync = true
		st.Rounds++
		return st, f.WriteFrame([]byte{msgInSync})
	}
	out := []byte{msgLevel2, 0}
	var diff []int
	for i := 0; i < 16; i++ {
		if !bytes.Equal(m[33+i*8:33+(i+1)*8], t.level1[i][:]) {
			diff = append(diff, i)
		}
	}
	if len(diff) == 0 {
		// Equal buckets but different roots: cannot happen but for a
		// truncated-digest collision; compare everything.
		diff = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	}
	out[1] = byte(len(diff))
	for _, i := range diff {
		out = append(out, byte(i))
		for j := 0; j < 16; j++ {
			out = append(out, t.level2[i*16+j][:]...)
		}
	}
	if err := f.WriteFrame(out); err != nil {
		return st, err
	}
	st.Rounds++
	hm, err := f.ReadFrame()
	if err != nil {
		return st, err
	}
	leaves, theirs, err := parseHeads(hm)
	if err != nil {
		return st, err
	}
	if err := sendHeads(f, t, leaves); err != nil {
		return st, err
	}
	if err := s.sendMissing(f, peer, mine(t, leaves), theirs, &st); err != nil {
		return st, err
	}
	st.Rounds++
	if err := s.receiveEnvelopes(f, &st); err != nil {
		return st, err
	}
	return st, nil
}

func mine(t *tree, leaves []byte) map[crypto.DeviceID]AuthorHead {
	out := map[crypto.DeviceID]AuthorHead{}
	for _, l := range leaves {
		for _, h := range t.heads[l] {
			out[h.Author] = h
		}
	}
	return out
}

func sendHeads(f Frames, t *tree, leaves []byte) error {
	var heads []AuthorHead
	for _, l := range leaves {
		heads = append(heads, t.heads[l]...)
	}
	if len(heads) > maxHeadsPerFrame || len(leaves) > 256 {
		return fmt.Errorf("%d authors differ, more than one frame carries", len(heads))
	}
	out := []byte{msgHeads}
	out = binary.BigEndian.AppendUint16(out, uint16(len(leaves)))
	out = append(out, leaves...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(heads)))
	for _, h := range heads {
		out = append(out, h.Author[:]...)
		out = binary.BigEndian.AppendUint64(out, h.Seq)
		out = append(out, h.Head[:]...)
	}
	return f.WriteFrame(out)
}

func parseHeads(m []byte) ([]byte, map[crypto.DeviceID]AuthorHead, error) {
	if len(m) < 3 || m[0] != msgHeads {
		return nil, nil, fmt.Errorf("%w: expected heads", ErrProtocol)
	}
	nl := int(binary.BigEndian.Uint16(m[1:3]))
	if nl > 256 || len(m) < 3+nl+2 {
		return nil, nil, fmt.Errorf("%w: heads message too short", ErrProtocol)
	}
	leaves := bytes.Clone(m[3 : 3+nl])
	rest := m[3+nl:]
	nh := int(binary.BigEndian.Uint16(rest[:2]))
	rest = rest[2:]
	if len(rest) != nh*72 {
		return nil, nil, fmt.Errorf("%w: heads message of %d bytes for %d heads", ErrProtocol, len(rest), nh)
	}
	inLeaf := map[byte]bool{}
	for _, l := range leaves {
		inLeaf[l] = true
	}
	heads := map[crypto.DeviceID]AuthorHead{}
	for k := 0; k < nh; k++ {
		var h AuthorHead
		copy(h.Author[:], rest[k*72:])
		h.Seq = binary.BigEndian.Uint64(rest[k*72+32:])
		copy(h.Head[:], rest[k*72+40:])
		if !inLeaf[h.Author[0]] {
			return nil, nil, fmt.Errorf("%w: head outside the leaves asked for", ErrProtocol)
		}
		heads[h.Author] = h
	}
	return leaves, heads, nil
}

func readHeads(f Frames, want []byte) (map[crypto.DeviceID]AuthorHead, error) {
	m, err := f.ReadFrame()
	if err != nil {
		return nil, err
	}
	leaves, heads, err := parseHeads(m)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(leaves, want) {
		return nil, fmt.Errorf("%w: heads for other leaves than asked", ErrProtocol)
	}
	return heads, nil
}

// sendMissing sends the envelopes the peer lacks, judged from its heads, then done.
func (s *Store) sendMissing(f Frames, peer crypto.DeviceID, ours, theirs map[crypto.DeviceID]AuthorHead, st *SyncStats) error {
	authors := make([]crypto.DeviceID, 0, len(ours))
	for a := range ours {
		authors = append(authors, a)
	}
	sort.Slice(authors, func(i, j int) bool { return bytes.Compare(authors[i][:], authors[j][:]) < 0 })
	peerRelay := false
	if m, ok := s.Trust().Member(peer); ok && m.Role == crypto.RoleRelay {
		peerRelay = true
	}
	community := s.Community()
	batch := []byte{msgEnvelopes, 0, 0}
	count := 0
	flush := func() error {
		if count == 0 {
			return nil
		}
		binary.BigEndian.PutUint16(batch[1:3], uint16(count))
		if err := f.WriteFrame(batch); err != nil {
			return err
		}
		st.Rounds++
		batch, count = []byte{msgEnvelopes, 0, 0}, 0
		return nil
	}
	for _, a := range authors {
		o := ours[a]
		from := uint64(1)
		if t, ok := theirs[a]; ok {
			if t.Seq >= o.Seq {
				continue // they have as much or more; they send us theirs
			}
			from = t.Seq + 1
			// A differing head at their sequence means a fork: the
			// envelopes after it would not chain, so send from the fork.
			if id, ok := s.chainID(a, t.Seq); !ok || id != t.Head {
				from = t.Seq
			}
		}
		for seq := from; seq <= o.Seq; seq++ {
			id, ok := s.chainID(a, seq)
			if !ok {
				continue
			}
			e, err := s.Get(id)
			if err != nil {
				return err
			}
			if e.Payload != nil && !peerRelay && !MayHoldPayload(e.Header, community, peer) {
				e.Payload = nil
			}
			b, err := e.Encode()
			if err != nil {
				return err
			}
			if len(batch)+4+len(b) > envelopeFrame || count == 65535 {
				if err := flush(); err != nil {
					return err
				}
			}
			batch = binary.BigEndian.AppendUint32(batch, uint32(len(b)))
			batch = append(batch, b...)
			count++
			st.Sent++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return f.WriteFrame([]byte{msgDone})
}

// receiveEnvelopes reads envelope frames until done, adding each batch.
func (s *Store) receiveEnvelopes(f Frames, st *SyncStats) error {
	for {
		m, err := f.ReadFrame()
		if err != nil {
			return err
		}
		if len(m) == 1 && m[0] == msgDone {
			return nil
		}
		if len(m) < 3 || m[0] != msgEnvelopes {
			return fmt.Errorf("%w: expected envelopes or done", ErrProtocol)
		}
		n := int(binary.BigEndian.Uint16(m[1:3]))
		rest := m[3:]
		envs := make([]*envelope.Envelope, 0, n)
		for k := 0; k < n; k++ {
			if len(rest) < 4 {
				return fmt.Errorf("%w: envelopes message truncated", ErrProtocol)
			}
			l := int(binary.BigEndian.Uint32(rest[:4]))
			if l > len(rest)-4 {
				return fmt.Errorf("%w: envelopes message truncated", ErrProtocol)
			}
			e, err := envelope.Decode(bytes.Clone(rest[4 : 4+l]))
			if err != nil {
				st.Refused++
			} else {
				envs = append(envs, e)
			}
			rest = rest[4+l:]
		}
		if len(rest) != 0 {
			return fmt.Errorf("%w: %d trailing bytes in envelopes message", ErrProtocol, len(rest))
		}
		st.Received += n
		res, err := s.Add(envs...)
		if err != nil {
			return err
		}
		st.Admitted += len(res.Admitted)
		st.Refused += len(res.Refused)
		st.Purged += res.Purged
	}
}

// chainID returns the header ID at author's sequence seq.
func (s *Store) chainID(author crypto.DeviceID, seq uint64) (envelope.Hash, bool) {
	var id envelope.Hash
	ok := false
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bChains).Get(chainKey(author, seq)); v != nil {
			copy(id[:], v)
			ok = true
		}
		return nil
	})
	return id, ok
}

// MayHoldPayload reports whether device d may hold the payload of h: not
// when h is sealed to individual devices only and d is none of them.
func MayHoldPayload(h *envelope.Header, community envelope.Hash, d crypto.DeviceID) bool {
	if h.Class != envelope.ClassSealed || len(h.Epochs) > 0 || len(h.Recipients) == 0 {
		return true
	}
	if crypto.DeviceID(h.Author) == d {
		return true
	}
	tag := crypto.RecipientTag(community, crypto.DeviceID(h.Author), h.Seq, d)
	for _, t := range h.Recipients {
		if t == tag {
			return true
		}
	}
	return false
}

package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
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
// leaf's digest is the first 8 bytes of SHA-256 over its entries' hashes,
// entry hash = SHA-256(author || seq || head), zero for an empty leaf; a
// level-1 digest is the first 8 bytes of SHA-256 over its 16 leaf digests.
// The root is Store.Digest, a full SHA-256 over every entry, so a forked
// chain never looks in sync.
//
// Messages, one frame each, the first byte the type; integers big-endian,
// uvarint as in encoding/binary (their codecs: syncframes.go):
//
//	1 summary   I->R  root [32] || 16 x level-1 digest [8] || asks u8
//	                  (1: I asks for payloads at the end, see msgPayloads)
//	2 in-sync   R->I  (empty): done, one round trip
//	3 level-2   R->I  n u8, then n x (level-1 index u8 || present u16 ||
//	                  digest [8] for each leaf whose bit is set, bit 15 first)
//	4 heads     I->R  n u16 || n leaf indexes u8, ascending ||
//	                  m uvarint || m x (author [16] || seq uvarint || head [16]):
//	                  every author I holds in those leaves, ascending
//	7 wants     R->I  n uvarint || n x (entry index uvarint || seq uvarint ||
//	                  head [8] unless seq is 0), entry indexes ascending
//	5 envelopes both  n uvarint || n x (length uvarint || envelope encoding)
//	6 done      both  (empty): no more envelopes from this side
//	10 busy     R->I  (empty), instead of the first answer: R answers no
//	                  more requests of I for now; I tries at a later round
//
// Authors and heads in heads messages are prefixes of their IDs (16 bytes:
// a collision would take 2^64 work); heads in wants are shorter (8 bytes),
// as a collision there only costs the evidence of a fork, which admission
// still refuses as not continuing the chain.
//
// In sync: summary, in-sync: one round trip, about 200 bytes. Out of sync:
// summary, level-2; heads (I's, for the leaves that differ only), then R
// sends wants (I's entries it is behind on, referred to by index) and the
// envelopes I lacks, done; then I sends the envelopes R wants, done. Two
// round trips and one flight; beyond the envelopes themselves, the cost is
// the digests of the buckets that differ and about 35 bytes per author in a
// leaf that differs.
//
// A fork shows as heads that differ at the lower of the two sequences: the
// side holding more sends from there (its envelope at that sequence, which
// the other keeps as evidence of equivocation); at equal sequences both do.
// The side with the longer branch gets no evidence from this exchange: it
// learns of the fork from a peer whose branch is as long or longer.
//
// An envelope's payload is sent only to a peer that may hold it (not one
// addressed to individual devices unless the peer is one of them or a relay).
//
// What one side sends in one sync is bounded (SendLimit: envelopes and
// bytes): a small request does not return the whole store. Envelopes go
// chain by chain, each from its lowest sequence, the chains of certificate
// issuers first, so a capped response leaves whole prefixes and the peer
// asks for the rest at its next round.

// Frames is the stream the protocol runs over.
type Frames interface {
	WriteFrame([]byte) error
	ReadFrame() ([]byte, error)
}

const (
	// envelopeFrame is the target size of an envelopes frame.
	envelopeFrame = 1 << 20
	// maxHeadsPerFrame bounds a heads message (at most 42 bytes an entry:
	// under 7 MB, within crypto.MaxFrame).
	maxHeadsPerFrame = 160_000
)

// ErrProtocol is returned when a peer breaks the protocol.
var ErrProtocol = errors.New("sync protocol violation")

// ErrBusy is returned to an initiator whose request the responder turned
// away for now (its rate or its syncs in progress): try at a later round.
var ErrBusy = errors.New("peer busy: it answers this device again at a later round")

// SendLimit bounds what one side sends in one sync. At least one envelope
// goes, whatever its size, so that a large envelope still travels.
type SendLimit struct {
	Envelopes int
	Bytes     int
}

// DefaultSendLimit is what SyncInitiate and SyncRespond send at most.
var DefaultSendLimit = SendLimit{Envelopes: 16384, Bytes: 16 << 20}

// SyncStats says what one sync moved.
type SyncStats struct {
	Sent, Received int // envelopes
	Admitted       int
	Refused        int
	// Forks counts the refused envelopes that were another branch of a
	// chain already held (equivocation by their author, kept as
	// evidence): an honest peer that holds the other branch sends them.
	Forks int
	// Bad counts the envelopes received that prove the sender broke the
	// rules whoever wrote them: undecodable, a bad signature, a payload
	// that does not match its header, another community. Refusals that
	// depend on this device's trust state (not a member, not allowed,
	// revoked, a fork, waiting) are not the forwarder's fault.
	Bad int
	// Duplicates counts the envelopes received that this store already
	// held.
	Duplicates int
	Purged     int // envelopes removed by a revocation that arrived
	// SentBytes counts the bytes of the envelopes sent; Capped is set
	// when this side stopped at its SendLimit (the peer gets the rest at
	// a later round).
	SentBytes int
	Capped    bool
	Rounds    int // messages this side sent
	// RoundTrips counts, on the initiator's side, the times it waited for
	// an answer: 1 in sync, 2 otherwise (then one more flight carries the
	// envelopes the responder lacks).
	RoundTrips int
	InSync     bool
	// frozen lists the authors whose envelopes were refused because this
	// device holds evidence that they forked: the evidence goes back.
	frozen map[crypto.DeviceID]bool
}

// tree is a version vector summarised for comparison.
type tree struct {
	root   [32]byte
	level1 [16][8]byte
	level2 [256][8]byte
	heads  [256][]AuthorHead // by leaf index, ordered by author
}

func leafHash(h AuthorHead) [32]byte {
	b := make([]byte, 0, 72)
	b = append(b, h.Author[:]...)
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = append(b, h.Head[:]...)
	return sha256.Sum256(b)
}

// buildTree summarises heads, which must be ordered by author.
func buildTree(heads []AuthorHead) *tree {
	t := &tree{}
	root := sha256.New()
	var leaves [256]hash.Hash
	for _, h := range heads {
		root.Write(h.Author[:])
		root.Write(binary.BigEndian.AppendUint64(nil, h.Seq))
		root.Write(h.Head[:])
		l := h.Author[0]
		t.heads[l] = append(t.heads[l], h)
		if leaves[l] == nil {
			leaves[l] = sha256.New()
		}
		lh := leafHash(h)
		leaves[l].Write(lh[:])
	}
	copy(t.root[:], root.Sum(nil))
	for l, d := range leaves {
		if d != nil {
			copy(t.level2[l][:], d.Sum(nil))
		}
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

func prefixOf(id [32]byte) (p [authorPrefix]byte) {
	copy(p[:], id[:])
	return p
}

// SyncInitiate runs the initiator's side of anti-entropy with peer,
// sending at most DefaultSendLimit.
func (s *Store) SyncInitiate(f Frames, peer crypto.DeviceID) (SyncStats, error) {
	return s.SyncInitiateWithin(f, peer, DefaultSendLimit)
}

// SyncInitiateWithin is SyncInitiate sending at most lim.
func (s *Store) SyncInitiateWithin(f Frames, peer crypto.DeviceID, lim SendLimit) (SyncStats, error) {
	var st SyncStats
	t := buildTree(s.Heads())
	wanted := s.Wanted(maxWanted)
	if err := f.WriteFrame(summaryMsg{root: t.root, level1: t.level1, asks: len(wanted) > 0}.encode()); err != nil {
		return st, err
	}
	// The last phase, whichever way the exchange goes.
	ask := func(st SyncStats, err error) (SyncStats, error) {
		if err != nil || len(wanted) == 0 {
			return st, err
		}
		err = s.askPayloads(f, wanted, &st)
		return st, err
	}
	st.Rounds++
	m, err := f.ReadFrame()
	if err != nil {
		return st, err
	}
	st.RoundTrips++
	if isSignal(m, msgInSync) {
		st.InSync = true
		return ask(st, nil)
	}
	if isSignal(m, msgBusy) {
		return st, ErrBusy
	}
	l2, err := decodeLevel2(m)
	if err != nil {
		return st, err
	}
	leaves := l2.differing(t)
	var mine []AuthorHead
	for _, l := range leaves {
		mine = append(mine, t.heads[l]...)
	}
	if len(mine) > maxHeadsPerFrame {
		return st, fmt.Errorf("%d authors differ, more than one frame carries", len(mine))
	}
	hm := headsMsg{leaves: leaves, entries: make([]entry, len(mine))}
	for i, h := range mine {
		e := &hm.entries[i]
		e.author, e.seq = prefixOf(h.Author), h.Seq
		copy(e.head[:], h.Head[:])
	}
	if err := f.WriteFrame(hm.encode()); err != nil {
		return st, err
	}
	st.Rounds++
	m, err = f.ReadFrame()
	if err != nil {
		return st, err
	}
	st.RoundTrips++
	wants, err := decodeWants(m, len(mine))
	if err != nil {
		return st, err
	}
	if err := s.receiveEnvelopes(f, &st); err != nil {
		return st, err
	}
	var sends []span
	for _, w := range wants {
		h := mine[w.index]
		from := w.seq + 1
		if w.seq > 0 && w.seq <= h.Seq {
			// A different head at their sequence: a fork; send ours
			// from there, as evidence.
			if id, ok := s.chainID(h.Author, w.seq); !ok || !bytes.Equal(id[:wantPrefix], w.head[:]) {
				from = w.seq
			}
		}
		if from <= h.Seq {
			sends = append(sends, span{author: h.Author, from: from, to: h.Seq})
		}
	}
	// Authors whose envelopes the responder sent and this device refused
	// because it holds evidence that they forked: the evidence goes back.
	for a := range st.frozen {
		sends = append(sends, span{author: a, evidence: true})
	}
	if err := s.sendEnvelopes(f, peer, sends, lim, &st); err != nil {
		return st, err
	}
	return ask(st, nil)
}

// SyncRespond runs the responder's side of anti-entropy with peer, sending
// at most DefaultSendLimit.
func (s *Store) SyncRespond(f Frames, peer crypto.DeviceID) (SyncStats, error) {
	return s.SyncRespondWithin(f, peer, DefaultSendLimit)
}

// SyncBusy answers a sync request with busy: it reads the initiator's
// summary and tells it to come back at a later round.
func (s *Store) SyncBusy(f Frames) error {
	m, err := f.ReadFrame()
	if err != nil {
		return err
	}
	if _, err := decodeSummary(m); err != nil {
		return err
	}
	return f.WriteFrame([]byte{msgBusy})
}

// SyncRespondWithin is SyncRespond sending at most lim.
func (s *Store) SyncRespondWithin(f Frames, peer crypto.DeviceID, lim SendLimit) (SyncStats, error) {
	var st SyncStats
	m, err := f.ReadFrame()
	if err != nil {
		return st, err
	}
	sum, err := decodeSummary(m)
	if err != nil {
		return st, err
	}
	// The last phase, whichever way the exchange goes.
	serve := func(st SyncStats, err error) (SyncStats, error) {
		if err != nil || !sum.asks {
			return st, err
		}
		err = s.servePayloads(f, peer, lim, &st)
		return st, err
	}
	t := buildTree(s.Heads())
	if sum.root == t.root {
		st.InSync = true
		st.Rounds++
		return serve(st, f.WriteFrame([]byte{msgInSync}))
	}
	var diff []int
	for i := 0; i < 16; i++ {
		if sum.level1[i] != t.level1[i] {
			diff = append(diff, i)
		}
	}
	if len(diff) == 0 {
		// Equal buckets but different roots: cannot happen but for a
		// truncated-digest collision; compare everything.
		diff = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	}
	if err := f.WriteFrame(level2Of(t, diff).encode()); err != nil {
		return st, err
	}
	st.Rounds++
	m, err = f.ReadFrame()
	if err != nil {
		return st, err
	}
	hm, err := decodeHeads(m)
	if err != nil {
		return st, err
	}
	leaves, theirs := hm.leaves, hm.entries
	byAuthor := make(map[[authorPrefix]byte]int, len(theirs))
	for k, e := range theirs {
		byAuthor[e.author] = k
	}
	matched := make([]bool, len(theirs))
	var wants []want
	var sends []span
	for _, l := range leaves {
		for _, h := range t.heads[l] {
			k, ok := byAuthor[prefixOf(h.Author)]
			if !ok {
				sends = append(sends, span{author: h.Author, from: 1, to: h.Seq})
				continue
			}
			matched[k] = true
			e := theirs[k]
			w := want{index: k, seq: h.Seq}
			copy(w.head[:], h.Head[:])
			switch {
			case e.seq < h.Seq:
				from := e.seq + 1
				// A different head at their sequence: a fork; send
				// ours from there, as evidence.
				if id, ok := s.chainID(h.Author, e.seq); !ok || !bytes.Equal(id[:headPrefix], e.head[:]) {
					from = e.seq
				}
				sends = append(sends, span{author: h.Author, from: from, to: h.Seq})
			case e.seq == h.Seq:
				if !bytes.Equal(h.Head[:headPrefix], e.head[:]) {
					sends = append(sends, span{author: h.Author, from: h.Seq, to: h.Seq})
					wants = append(wants, w)
				}
			default:
				wants = append(wants, w)
				if s.forkedBy(h.Author[:], e.seq) {
					// We froze this author at a fork the peer has not
					// seen: send the evidence.
					sends = append(sends, span{author: h.Author, evidence: true})
				}
			}
		}
	}
	for k := range theirs {
		if !matched[k] {
			wants = append(wants, want{index: k})
			if s.forkedBy(theirs[k].author[:], theirs[k].seq) {
				if ev := s.ForkEvidence(theirs[k].author[:]); len(ev) > 0 {
					sends = append(sends, span{author: crypto.DeviceID(ev[0].Header.Author), evidence: true})
				}
			}
		}
	}
	sort.Slice(wants, func(i, j int) bool { return wants[i].index < wants[j].index })
	if err := f.WriteFrame(encodeWants(wants)); err != nil {
		return st, err
	}
	st.Rounds++
	if err := s.sendEnvelopes(f, peer, sends, lim, &st); err != nil {
		return st, err
	}
	if err := s.receiveEnvelopes(f, &st); err != nil {
		return st, err
	}
	return serve(st, nil)
}

// span is a run of one author's chain to send; with evidence, the headers
// that prove the author forked its chain instead (see Store.ForkEvidence).
type span struct {
	author   crypto.DeviceID
	from, to uint64
	evidence bool
}

// sendEnvelopes sends the envelopes of spans, then done: the chains of
// certificate issuers first, so that a capped response carries the
// memberships the rest depends on.
func (s *Store) sendEnvelopes(f Frames, peer crypto.DeviceID, spans []span, lim SendLimit, st *SyncStats) error {
	w := s.newSender(f, peer, lim, st)
	t := s.Trust()
	issuer := func(sp span) bool {
		m, ok := t.Member(sp.author)
		return ok && (m.Role == crypto.RoleCoordinator || m.Role == crypto.RoleOrgAdmin)
	}
	sort.SliceStable(spans, func(i, j int) bool { return issuer(spans[i]) && !issuer(spans[j]) })
spans:
	for _, sp := range spans {
		if sp.evidence {
			for _, e := range s.ForkEvidence(sp.author[:]) {
				if err := w.add(e, false); err == errCapped {
					break spans
				} else if err != nil {
					return err
				}
			}
			continue
		}
		for seq := sp.from; seq <= sp.to && seq >= sp.from; seq++ {
			id, ok := s.chainID(sp.author, seq)
			if !ok {
				continue // purged since the tree was built
			}
			err := w.send(id, false)
			if err == errCapped {
				break spans
			}
			if err != nil {
				return err
			}
		}
	}
	return w.done()
}

// errCapped stops a sender at its SendLimit.
var errCapped = errors.New("send limit reached")

// sender batches envelopes into frames for one peer, leaving out payloads
// the peer may not hold.
type sender struct {
	s         *Store
	f         Frames
	peer      crypto.DeviceID
	peerRelay bool
	community envelope.Hash
	st        *SyncStats
	lim       SendLimit
	batch     [][]byte // envelope encodings for the next frame
	size      int      // their size in the frame
}

func (s *Store) newSender(f Frames, peer crypto.DeviceID, lim SendLimit, st *SyncStats) *sender {
	w := &sender{s: s, f: f, peer: peer, community: s.Community(), st: st, lim: lim}
	if m, ok := s.Trust().Member(peer); ok && m.Role == crypto.RoleRelay {
		w.peerRelay = true
	}
	return w
}

// send adds the envelope id; with payloadOnly, only if its payload goes.
// It returns errCapped, sending nothing, once the limit is reached.
func (w *sender) send(id envelope.Hash, payloadOnly bool) error {
	if w.st.Capped || (w.lim.Envelopes > 0 && w.st.Sent >= w.lim.Envelopes) {
		w.st.Capped = true
		return errCapped
	}
	e, err := w.s.Get(id)
	if err != nil {
		return nil // purged since
	}
	return w.add(e, payloadOnly)
}

// add adds envelope e; see send.
func (w *sender) add(e *envelope.Envelope, payloadOnly bool) error {
	if w.st.Capped || (w.lim.Envelopes > 0 && w.st.Sent >= w.lim.Envelopes) {
		w.st.Capped = true
		return errCapped
	}
	if e.Payload != nil && !w.peerRelay && !MayHoldPayload(e.Header, w.community, w.peer) {
		e.Payload = nil
	}
	if payloadOnly && e.Payload == nil {
		return nil
	}
	b, err := e.Encode()
	if err != nil {
		return err
	}
	if w.lim.Bytes > 0 && w.st.Sent > 0 && w.st.SentBytes+len(b) > w.lim.Bytes {
		w.st.Capped = true
		return errCapped
	}
	if 1+binary.MaxVarintLen64+w.size+envelopeSize(len(b)) > envelopeFrame {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.batch = append(w.batch, b)
	w.size += envelopeSize(len(b))
	w.st.Sent++
	w.st.SentBytes += len(b)
	return nil
}

func (w *sender) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	if err := w.f.WriteFrame(encodeEnvelopes(w.batch)); err != nil {
		return err
	}
	w.st.Rounds++
	clear(w.batch)
	w.batch, w.size = w.batch[:0], 0
	return nil
}

// done flushes and sends done.
func (w *sender) done() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.st.Rounds++
	return w.f.WriteFrame([]byte{msgDone})
}

// Payloads this device may hold but was sent without (Store.Wanted) are
// asked for in a last phase, after the exchange above or after in-sync,
// when the summary's last byte says so:
//
//	8 payloads  I->R  n uvarint (at most maxWanted) || n x header ID [32]
//
// and R answers with envelopes frames (those it holds whole and I may
// hold) and done. A device asks when it initiates; anti-entropy picks
// peers at random, so each side's wants are asked of many peers in turn.
const maxWanted = 1024

// askPayloads asks the peer for wanted payloads and admits what comes.
func (s *Store) askPayloads(f Frames, wanted []envelope.Hash, st *SyncStats) error {
	if err := f.WriteFrame(encodePayloads(wanted)); err != nil {
		return err
	}
	st.Rounds++
	return s.receiveEnvelopes(f, st)
}

// servePayloads answers a payloads message, within what lim leaves.
func (s *Store) servePayloads(f Frames, peer crypto.DeviceID, lim SendLimit, st *SyncStats) error {
	m, err := f.ReadFrame()
	if err != nil {
		return err
	}
	ids, err := decodePayloads(m)
	if err != nil {
		return err
	}
	w := s.newSender(f, peer, lim, st)
	for _, id := range ids {
		err := w.send(id, true)
		if err == errCapped {
			break
		}
		if err != nil {
			return err
		}
	}
	return w.done()
}

// receiveEnvelopes reads envelope frames until done, adding each batch.
func (s *Store) receiveEnvelopes(f Frames, st *SyncStats) error {
	for {
		m, err := f.ReadFrame()
		if err != nil {
			return err
		}
		if isSignal(m, msgDone) {
			return nil
		}
		encs, err := decodeEnvelopes(m)
		if err != nil {
			return err
		}
		envs := make([]*envelope.Envelope, 0, len(encs))
		for _, b := range encs {
			e, err := envelope.Decode(bytes.Clone(b))
			if err != nil {
				st.Refused++
				st.Bad++
			} else {
				envs = append(envs, e)
			}
		}
		st.Received += len(encs)
		res, err := s.Add(envs...)
		if err != nil {
			return err
		}
		st.Admitted += len(res.Admitted) + len(res.Filled)
		st.Refused += len(res.Refused)
		st.Duplicates += res.Duplicates
		var byID map[envelope.Hash]*envelope.Header
		for _, r := range res.Refused {
			if r.Reason == ReasonEquivocation {
				st.Forks++
				if byID == nil {
					byID = make(map[envelope.Hash]*envelope.Header, len(envs))
					for _, e := range envs {
						byID[e.ID()] = e.Header
					}
				}
				h := byID[r.ID]
				if h == nil || st.frozen[crypto.DeviceID(h.Author)] {
					continue
				}
				if a := h.Author; s.forkedBy(a[:], h.Seq) {
					if st.frozen == nil {
						st.frozen = map[crypto.DeviceID]bool{}
					}
					st.frozen[crypto.DeviceID(a)] = true
				}
			}
			if SenderAtFault(r.Reason) {
				st.Bad++
			}
		}
		st.Purged += res.Purged
	}
}

// SenderAtFault reports whether an envelope refused for reason r proves that
// whoever sent it broke the rules: an honest peer checks the same before it
// stores or forwards anything, whatever it knows of the community. Every
// other reason depends on the trust state of the device judging it (a
// membership, a role, a revocation, a fork or a clock it may not have seen
// yet), so an honest peer may forward such an envelope: never a strike.
func SenderAtFault(r Reason) bool {
	switch r {
	case ReasonMalformed, ReasonSignature, ReasonPayloadHash, ReasonCommunity:
		return true
	}
	return false
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

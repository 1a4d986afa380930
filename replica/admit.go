package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Reason says why an envelope was refused or is held back.
type Reason string

// Reasons, counted in the refusals bucket.
const (
	ReasonMalformed    Reason = "malformed"
	ReasonSignature    Reason = "bad-signature"
	ReasonPayloadHash  Reason = "payload-mismatch"
	ReasonNotMember    Reason = "not-member"
	ReasonRevoked      Reason = "revoked"
	ReasonNotAllowed   Reason = "not-allowed"
	ReasonCommunity    Reason = "other-community"
	ReasonEquivocation Reason = "equivocation"
	ReasonClockAhead   Reason = "clock-ahead"
	ReasonCertificate  Reason = "bad-certificate"
	ReasonRetraction   Reason = "bad-retraction"
	ReasonOverflow     Reason = "pending-overflow"
	// Held back, not refused: waiting for something else to arrive.
	ReasonNoPredecessor Reason = "waiting-predecessor"
	ReasonNoMembership  Reason = "waiting-membership"
	ReasonNoTarget      Reason = "waiting-target"
)

// Refusal is an envelope admission turned down, with the reason.
type Refusal struct {
	ID     envelope.Hash
	Reason Reason
	Err    error
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("envelope %s refused (%s): %v", r.ID.String()[:12], r.Reason, r.Err)
}

func (r *Refusal) Unwrap() error { return r.Err }

// Result is what became of a batch of envelopes.
type Result struct {
	Admitted   []envelope.Hash // newly stored, in the order stored
	Duplicates int
	Pending    int // held back in memory, waiting for what they depend on
	Refused    []*Refusal
	// Purged counts envelopes removed because a revocation invalidated them;
	// views built from the store must be rebuilt when it is not zero.
	Purged int
}

// Err returns the first refusal as an error, nil if none.
func (r Result) Err() error {
	if len(r.Refused) > 0 {
		return r.Refused[0]
	}
	return nil
}

type writeReq struct {
	envs  []*envelope.Envelope
	local []LocalOp
	res   Result
	err   error
	done  chan struct{}
}

// Add checks each envelope and stores those that pass, in one commit with
// whatever other writes are queued (group commit). An envelope that depends
// on one not yet held waits in memory and is admitted when that arrives.
func (s *Store) Add(envs ...*envelope.Envelope) (Result, error) {
	return s.submit(&writeReq{envs: envs})
}

var errClosed = errors.New("store closed")

func (s *Store) submit(r *writeReq) (Result, error) {
	r.done = make(chan struct{})
	select {
	case s.writes <- r:
	case <-s.done:
		return Result{}, errClosed
	}
	<-r.done
	return r.res, r.err
}

// maxBatch bounds the requests grouped into one commit.
const maxBatch = 256

// writer is the only goroutine that writes to the database.
func (s *Store) writer() {
	defer s.wg.Done()
	for {
		var batch []*writeReq
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		case <-s.done:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// commit runs one bbolt transaction for a batch of requests.
func (s *Store) commit(batch []*writeReq) {
	s.mu.RLock()
	trust := s.trust.Clone()
	pending := make(map[envelope.Hash]*pendingEnvelope, len(s.pending))
	for k, v := range s.pending {
		pending[k] = v
	}
	s.mu.RUnlock()

	a := &admitter{s: s, trust: trust, pending: pending}
	err := s.db.Update(func(tx *bolt.Tx) error {
		a.tx = tx
		for _, r := range batch {
			a.res = &r.res
			for _, op := range r.local {
				var err error
				if op.Value == nil {
					err = tx.Bucket(bLocal).Delete([]byte(op.Key))
				} else {
					err = tx.Bucket(bLocal).Put([]byte(op.Key), op.Value)
				}
				if err != nil {
					return err
				}
			}
			for _, e := range r.envs {
				if err := a.offer(e); err != nil {
					return err
				}
			}
		}
		a.res = &batch[0].res
		if err := a.retryPending(); err != nil {
			return err
		}
		if a.revoked {
			n, t, err := purge(tx)
			if err != nil {
				return err
			}
			a.trust = t
			for _, r := range batch {
				r.res.Purged += n
			}
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.res = Result{}
			r.err = fmt.Errorf("store: %w", err)
		}
		s.cfg.Logf("store commit failed: %v", err)
		return
	}
	// Report, per request, how many of its envelopes are still waiting.
	for _, r := range batch {
		for _, e := range r.envs {
			if _, ok := a.pending[e.ID()]; ok {
				r.res.Pending++
			}
		}
	}
	s.mu.Lock()
	s.trust = a.trust
	s.pending = a.pending
	s.mu.Unlock()
}

// admitter carries one transaction's admission state.
type admitter struct {
	s       *Store
	tx      *bolt.Tx
	trust   *crypto.Trust
	pending map[envelope.Hash]*pendingEnvelope
	res     *Result
	revoked bool
}

// offer admits e, holds it back, or refuses it. Only database errors are returned.
func (a *admitter) offer(e *envelope.Envelope) error {
	id := e.ID()
	reason, err := a.check(e, id)
	switch {
	case err == nil:
		if err := a.store(e, id); err != nil {
			return err
		}
		delete(a.pending, id)
		a.res.Admitted = append(a.res.Admitted, id)
		return nil
	case reason == "duplicate":
		a.res.Duplicates++
		return nil
	case reason == ReasonNoPredecessor || reason == ReasonNoMembership || reason == ReasonNoTarget || reason == ReasonClockAhead:
		if reason == ReasonClockAhead {
			if err := a.count(reason); err != nil {
				return err
			}
		}
		if _, held := a.pending[id]; !held && len(a.pending) >= a.s.cfg.MaxPending {
			a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: ReasonOverflow, Err: errors.New("too many envelopes waiting")})
			return a.count(ReasonOverflow)
		}
		a.pending[id] = &pendingEnvelope{env: e, reason: reason}
		return nil
	default:
		delete(a.pending, id)
		a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: reason, Err: err})
		a.s.cfg.Logf("refused envelope %s: %s: %v", id.String()[:12], reason, err)
		return a.count(reason)
	}
}

// retryPending offers held-back envelopes again until none moves.
func (a *admitter) retryPending() error {
	for {
		before := len(a.res.Admitted)
		ids := make([]envelope.Hash, 0, len(a.pending))
		for id := range a.pending {
			ids = append(ids, id)
		}
		// Lower sequence numbers first: a chain arrives in a few passes.
		sortPending(ids, a.pending)
		for _, id := range ids {
			p, ok := a.pending[id]
			if !ok {
				continue
			}
			if err := a.offer(p.env); err != nil {
				return err
			}
		}
		if len(a.res.Admitted) == before {
			return nil
		}
	}
}

func sortPending(ids []envelope.Hash, p map[envelope.Hash]*pendingEnvelope) {
	less := func(i, j int) bool {
		hi, hj := p[ids[i]].env.Header, p[ids[j]].env.Header
		if hi.Seq != hj.Seq {
			return hi.Seq < hj.Seq
		}
		return bytes.Compare(ids[i][:], ids[j][:]) < 0
	}
	sort.Slice(ids, less)
}

// check decides e's fate. A nil error means admit.
func (a *admitter) check(e *envelope.Envelope, id envelope.Hash) (Reason, error) {
	h := e.Header
	if a.tx.Bucket(bHeaders).Get(id[:]) != nil {
		return "duplicate", errors.New("duplicate")
	}
	if err := crypto.Verify(h); err != nil {
		if errors.Is(err, envelope.ErrMalformed) {
			return ReasonMalformed, err
		}
		return ReasonSignature, err
	}
	if e.Payload != nil {
		if err := crypto.CheckPayload(h, e.Payload); err != nil {
			return ReasonPayloadHash, err
		}
	}
	if limit := FromTime(a.s.cfg.Now().Add(a.s.cfg.MaxClockAhead)); h.Clock > limit {
		return ReasonClockAhead, fmt.Errorf("header clock %s is ahead of this device's clock by more than %s", Physical(h.Clock).UTC().Format(time.RFC3339), a.s.cfg.MaxClockAhead)
	}

	var cert *crypto.Certificate
	if h.Class == envelope.ClassCertificate {
		if e.Payload == nil {
			return ReasonCertificate, errors.New("certificate without its payload")
		}
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil {
			return ReasonCertificate, err
		}
		cert = c
		if c.Genesis != nil {
			if err := a.trust.Check(h, c); err != nil {
				if errors.Is(err, crypto.ErrOtherGenesis) {
					return ReasonCommunity, err
				}
				return ReasonCertificate, err
			}
			return a.checkChain(h, id)
		}
	}

	if err := a.trust.Admits(h); err != nil {
		switch {
		case errors.Is(err, crypto.ErrRevoked):
			return ReasonRevoked, err
		case errors.Is(err, crypto.ErrNotMember), errors.Is(err, crypto.ErrNoCommunity):
			if _, ok := a.trust.Revoked(crypto.DeviceID(h.Author)); ok {
				return ReasonRevoked, err
			}
			return ReasonNoMembership, err
		}
		return ReasonNotMember, err
	}
	if reason, err := a.checkChain(h, id); err != nil {
		return reason, err
	}
	if cert != nil {
		if err := a.trust.Check(h, cert); err != nil {
			if errors.Is(err, crypto.ErrNotAllowed) {
				return ReasonNotAllowed, err
			}
			return ReasonCertificate, err
		}
	}
	if h.Class == envelope.ClassRetraction {
		if e.Payload == nil {
			return ReasonRetraction, errors.New("retraction without its payload")
		}
		r, err := crypto.DecodeRetraction(e.Payload)
		if err != nil {
			return ReasonRetraction, err
		}
		m, _ := a.trust.Member(crypto.DeviceID(h.Author))
		target := a.tx.Bucket(bHeaders).Get(r.Target[:])
		switch {
		case target == nil && m.Role == crypto.RoleCoordinator:
		case target == nil:
			return ReasonNoTarget, errors.New("retracted envelope not held yet")
		default:
			th, err := envelope.DecodeHeader(target[8:])
			if err != nil {
				return ReasonRetraction, err
			}
			if th.Author != h.Author && m.Role != crypto.RoleCoordinator {
				return ReasonNotAllowed, fmt.Errorf("%w: only the author or a coordinator may retract", crypto.ErrNotAllowed)
			}
		}
	}
	return "", nil
}

// checkChain checks that h continues its author's chain.
func (a *admitter) checkChain(h *envelope.Header, id envelope.Hash) (Reason, error) {
	key := chainKey(h.Author, h.Seq)
	if other := a.tx.Bucket(bChains).Get(key); other != nil && !bytes.Equal(other, id[:]) {
		if hb, err := h.Encode(); err == nil {
			if err := a.tx.Bucket(bForks).Put(id[:], hb); err != nil {
				return ReasonEquivocation, err
			}
		}
		return ReasonEquivocation, fmt.Errorf("device %x wrote two different envelopes at sequence %d", h.Author[:6], h.Seq)
	}
	if h.Seq == 1 {
		return "", nil
	}
	prev := a.tx.Bucket(bChains).Get(chainKey(h.Author, h.Seq-1))
	if prev == nil {
		return ReasonNoPredecessor, fmt.Errorf("sequence %d arrived before %d", h.Seq, h.Seq-1)
	}
	if !bytes.Equal(prev, h.Prev[:]) {
		return ReasonEquivocation, fmt.Errorf("sequence %d does not follow the stored sequence %d (forked chain)", h.Seq, h.Seq-1)
	}
	return "", nil
}

func chainKey(author [32]byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 40), author[:]...), seq)
}

// store writes an admitted envelope and applies what it changes.
func (a *admitter) store(e *envelope.Envelope, id envelope.Hash) error {
	tx, h := a.tx, e.Header
	logB := tx.Bucket(bLog)
	logB.FillPercent = 1.0
	seq, err := logB.NextSequence()
	if err != nil {
		return err
	}
	sk := binary.BigEndian.AppendUint64(nil, seq)
	if err := logB.Put(sk, id[:]); err != nil {
		return err
	}
	hb, err := h.Encode()
	if err != nil {
		return err
	}
	if err := tx.Bucket(bHeaders).Put(id[:], append(bytes.Clone(sk), hb...)); err != nil {
		return err
	}
	if e.Payload != nil && a.keepPayload(h, id) {
		if err := tx.Bucket(bPayloads).Put(id[:], e.Payload); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bChains).Put(chainKey(h.Author, h.Seq), id[:]); err != nil {
		return err
	}
	if err := tx.Bucket(bAuthors).Put(h.Author[:], append(binary.BigEndian.AppendUint64(nil, h.Seq), id[:]...)); err != nil {
		return err
	}
	switch h.Class {
	case envelope.ClassCertificate:
		certs := tx.Bucket(bCerts)
		certs.FillPercent = 1.0
		if err := certs.Put(sk, id[:]); err != nil {
			return err
		}
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil {
			return err
		}
		a.trust.Apply(h, c)
		if c.Genesis != nil {
			if err := tx.Bucket(bMeta).Put([]byte("community"), id[:]); err != nil {
				return err
			}
		}
		if c.Revocation != nil {
			a.revoked = true
		}
	case envelope.ClassRetraction:
		r, err := crypto.DecodeRetraction(e.Payload)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bRetracted).Put(r.Target[:], id[:]); err != nil {
			return err
		}
		if th := tx.Bucket(bHeaders).Get(r.Target[:]); th != nil {
			if h, err := envelope.DecodeHeader(th[8:]); err == nil && h.Class == envelope.ClassSealed {
				return tx.Bucket(bPayloads).Delete(r.Target[:])
			}
		}
	}
	return nil
}

// keepPayload reports whether this device keeps the payload of h: not when
// h was retracted, nor when h is addressed only to other devices.
func (a *admitter) keepPayload(h *envelope.Header, id envelope.Hash) bool {
	if h.Class != envelope.ClassSealed {
		return true
	}
	if a.tx.Bucket(bRetracted).Get(id[:]) != nil {
		return false
	}
	if a.s.keepAll.Load() {
		return true
	}
	return MayHoldPayload(h, a.trust.Community(), a.s.cfg.Self)
}

// DeviceID converts a header's author to a device ID.
func DeviceID(author [32]byte) crypto.DeviceID { return crypto.DeviceID(author) }

func (a *admitter) count(r Reason) error {
	b := a.tx.Bucket(bRefusals)
	n := uint64(0)
	if v := b.Get([]byte(r)); v != nil {
		n = binary.BigEndian.Uint64(v)
	}
	return b.Put([]byte(r), binary.BigEndian.AppendUint64(nil, n+1))
}

// purge removes everything a revocation invalidated: a revoked device's
// envelopes after its last valid sequence number, then the envelopes of every
// device whose membership no longer chains to the genesis, until nothing
// changes. It returns how many envelopes went and the trust state after.
func purge(tx *bolt.Tx) (int, *crypto.Trust, error) {
	total := 0
	for {
		t, err := loadTrust(tx)
		if err != nil {
			return total, nil, err
		}
		n := 0
		var heads []AuthorHead
		tx.Bucket(bAuthors).ForEach(func(k, v []byte) error {
			var h AuthorHead
			copy(h.Author[:], k)
			h.Seq = binary.BigEndian.Uint64(v)
			heads = append(heads, h)
			return nil
		})
		for _, ah := range heads {
			keep := ah.Seq
			if _, ok := t.Member(ah.Author); !ok {
				keep = 0
			} else if last, ok := t.Revoked(ah.Author); ok && last < keep {
				keep = last
			}
			for seq := ah.Seq; seq > keep; seq-- {
				if err := deleteEnvelope(tx, ah.Author, seq); err != nil {
					return total, nil, err
				}
				n++
			}
			if keep != ah.Seq {
				if keep == 0 {
					if err := tx.Bucket(bAuthors).Delete(ah.Author[:]); err != nil {
						return total, nil, err
					}
				} else {
					id := tx.Bucket(bChains).Get(chainKey(ah.Author, keep))
					if err := tx.Bucket(bAuthors).Put(ah.Author[:], append(binary.BigEndian.AppendUint64(nil, keep), id...)); err != nil {
						return total, nil, err
					}
				}
			}
		}
		total += n
		if n == 0 {
			return total, t, nil
		}
	}
}

func deleteEnvelope(tx *bolt.Tx, author crypto.DeviceID, seq uint64) error {
	ck := chainKey(author, seq)
	id := bytes.Clone(tx.Bucket(bChains).Get(ck))
	if id == nil {
		return nil
	}
	hv := tx.Bucket(bHeaders).Get(id)
	if hv != nil {
		sk := bytes.Clone(hv[:8])
		if err := tx.Bucket(bLog).Delete(sk); err != nil {
			return err
		}
		if err := tx.Bucket(bCerts).Delete(sk); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bHeaders, bPayloads} {
		if err := tx.Bucket(b).Delete(id); err != nil {
			return err
		}
	}
	return tx.Bucket(bChains).Delete(ck)
}

package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
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
	// Admitted lists the envelopes newly stored, in the order stored: those
	// of this call, and those held back by earlier calls that this call's
	// commit let in (each reported to one call of that commit, or to none
	// when it had only local writes).
	Admitted   []envelope.Hash
	Duplicates int
	// Filled lists envelopes held without their payload until now: their
	// payload arrived and was stored.
	Filled  []envelope.Hash
	Pending int // this call's envelopes held back in memory, waiting for what they depend on
	// Refused lists this call's envelopes turned down. An envelope held back
	// by an earlier call and refused later is counted and logged, not reported.
	Refused []*Refusal
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
	envs  []*checked
	local []LocalOp
	res   Result
	err   error
	done  chan struct{}
}

// checked is an envelope with what can be known of it without the store: its
// ID, its header's encoding, and the verdicts of the checks that depend on
// nothing stored (signature, payload hash, certificate and retraction
// encodings). Add works them out in the caller's goroutine, so that the
// writer, which every commit waits for, does not.
type checked struct {
	env *envelope.Envelope
	id  envelope.Hash
	hb  []byte // the header's encoding; nil when it has none

	verified bool   // the verdicts below are set
	reason   Reason // signature or payload verdict; "" when both pass
	err      error
	cert     *crypto.Certificate // decoded certificate payload
	certErr  error
	retr     *crypto.Retraction // decoded retraction payload
	retrErr  error
}

func newChecked(e *envelope.Envelope) *checked {
	c := &checked{env: e}
	if e == nil || e.Header == nil {
		c.verified, c.reason, c.err = true, ReasonMalformed, errors.New("envelope without a header")
		return c
	}
	hb, err := e.Header.Encode()
	if err != nil {
		c.verified, c.reason, c.err = true, ReasonMalformed, err
		return c
	}
	c.hb = hb
	c.id = sha256.Sum256(hb)
	return c
}

// verify works out the verdicts that depend on nothing stored, once.
func (c *checked) verify() {
	if c.verified {
		return
	}
	c.verified = true
	e, h := c.env, c.env.Header
	if err := crypto.Verify(h); err != nil {
		c.reason, c.err = ReasonSignature, err
		if errors.Is(err, envelope.ErrMalformed) {
			c.reason = ReasonMalformed
		}
		return
	}
	if e.Payload != nil {
		if err := crypto.CheckPayload(h, e.Payload); err != nil {
			c.reason, c.err = ReasonPayloadHash, err
			return
		}
	}
	switch h.Class {
	case envelope.ClassCertificate:
		if e.Payload == nil {
			c.certErr = errors.New("certificate without its payload")
		} else {
			c.cert, c.certErr = crypto.DecodeCertificate(e.Payload)
		}
	case envelope.ClassRetraction:
		if e.Payload == nil {
			c.retrErr = errors.New("retraction without its payload")
		} else {
			c.retr, c.retrErr = crypto.DecodeRetraction(e.Payload)
		}
	}
}

// Add checks each envelope and stores those that pass, in one commit with
// whatever other writes are queued (group commit). An envelope that depends
// on one not yet held waits in memory and is admitted when that arrives.
func (s *Store) Add(envs ...*envelope.Envelope) (Result, error) {
	cs := make([]*checked, len(envs))
	for i, e := range envs {
		cs[i] = newChecked(e)
	}
	// Envelopes already stored are duplicates, whose signatures need no
	// checking; the writer checks again, so this read may be stale.
	// (When the read fails, the store is closing, and submit says so.)
	stored := make([]bool, len(cs))
	s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bHeaders)
		for i, c := range cs {
			stored[i] = c.hb != nil && b.Get(c.id[:]) != nil
		}
		return nil
	})
	var todo []*checked
	for i, c := range cs {
		if !stored[i] {
			todo = append(todo, c)
		}
	}
	verifyAll(todo)
	return s.submit(&writeReq{envs: cs})
}

// verifyAll verifies cs, on every CPU when there are many.
func verifyAll(cs []*checked) {
	n := runtime.GOMAXPROCS(0)
	if len(cs) < 64 || n == 1 {
		for _, c := range cs {
			c.verify()
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(cs) + n - 1) / n
	for lo := 0; lo < len(cs); lo += per {
		part := cs[lo:min(lo+per, len(cs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range part {
				c.verify()
			}
		}()
	}
	wg.Wait()
}

var errClosed = errors.New("store closed")

func (s *Store) submit(r *writeReq) (Result, error) {
	r.done = make(chan struct{})
	// Close waits for every send begun before it; the writer finishes every
	// request it was sent before it stops.
	s.closeMu.RLock()
	if s.closing {
		s.closeMu.RUnlock()
		return Result{}, errClosed
	}
	s.writes <- r
	s.closeMu.RUnlock()
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
		stop := false
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		case <-s.done:
			stop = true
		}
	drain:
		for stop || len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			s.commit(batch)
			for _, r := range batch {
				close(r.done)
			}
		}
		if stop {
			return
		}
	}
}

// commit runs one bbolt transaction for a batch of requests.
func (s *Store) commit(batch []*writeReq) {
	s.gen++
	// Only this goroutine changes s.trust (by replacing it) and s.pending, so
	// it reads them without the lock; readers take it.
	a := &admitter{s: s, gen: s.gen, trust: s.trust, base: s.pending, over: map[envelope.Hash]*pendingEnvelope{}, held: len(s.pending)}
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
			for _, c := range r.envs {
				if err := a.offer(c); err != nil {
					return err
				}
			}
		}
		if err := a.retryPending(); err != nil {
			return err
		}
		// Envelopes held since earlier commits and let in now are reported
		// to the first request that offered envelopes (not to a PutLocal).
		for _, r := range batch {
			if len(r.envs) > 0 {
				r.res.Admitted = append(r.res.Admitted, a.carry.Admitted...)
				break
			}
		}
		if a.revoked {
			n, t, err := purge(tx)
			if err != nil {
				return err
			}
			a.trust, a.trustOwned = t, true
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
	// Held envelopes must not keep this commit's requests (and every
	// envelope they carry) alive.
	for _, p := range a.over {
		if p != nil {
			p.res = nil
		}
	}
	// Report, per request, how many of its envelopes are still waiting.
	for _, r := range batch {
		for _, c := range r.envs {
			if _, ok := a.pending(c.id); ok && c.hb != nil {
				r.res.Pending++
			}
		}
	}
	if !a.trustOwned && len(a.over) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.trustOwned {
		s.trust = a.trust
	}
	for id, p := range a.over {
		if old, ok := s.pending[id]; ok {
			s.heldBy[old.reason]--
			if s.heldBy[old.reason] == 0 {
				delete(s.heldBy, old.reason)
			}
		}
		if p == nil {
			delete(s.pending, id)
		} else {
			s.pending[id] = p
			s.heldBy[p.reason]++
		}
	}
}

// admitter carries one transaction's admission state. It reads the store's
// trust state and held envelopes as they were before the transaction and
// keeps its changes aside (a trust state of its own once it changes one;
// an overlay of held envelopes), so that a failed commit changes nothing.
type admitter struct {
	s          *Store
	gen        uint64
	tx         *bolt.Tx
	trust      *crypto.Trust
	trustOwned bool // trust is this admitter's copy, not the store's
	base       map[envelope.Hash]*pendingEnvelope
	over       map[envelope.Hash]*pendingEnvelope // changes to base; nil: no longer held
	held       int                                // envelopes held, base and overlay together
	res        *Result
	carry      Result // what became of envelopes held since earlier commits
	stored     int
	retrying   bool
	revoked    bool
}

type pendingEnvelope struct {
	c      *checked
	reason Reason
	gen    uint64  // the commit that held it back last
	res    *Result // the result of the request that offered it, during that commit only
}

func (a *admitter) pending(id envelope.Hash) (*pendingEnvelope, bool) {
	if p, ok := a.over[id]; ok {
		return p, p != nil
	}
	p, ok := a.base[id]
	return p, ok
}

func (a *admitter) hold(id envelope.Hash, p *pendingEnvelope) {
	if _, ok := a.pending(id); !ok {
		a.held++
	}
	a.over[id] = p
}

func (a *admitter) release(id envelope.Hash) {
	if _, ok := a.pending(id); ok {
		a.held--
		a.over[id] = nil
	}
}

// ownTrust returns the trust state to change, copying the store's first.
func (a *admitter) ownTrust() *crypto.Trust {
	if !a.trustOwned {
		a.trust, a.trustOwned = a.trust.Clone(), true
	}
	return a.trust
}

const reasonDuplicate Reason = "duplicate"

// offer admits c, holds it back, or refuses it. Only database errors are returned.
func (a *admitter) offer(c *checked) error {
	id := c.id
	reason, err := a.check(c)
	switch {
	case err == nil:
		if err := a.store(c); err != nil {
			return err
		}
		a.release(id)
		a.stored++
		a.res.Admitted = append(a.res.Admitted, id)
		return nil
	case reason == reasonDuplicate:
		filled, err := a.fill(c)
		if err != nil {
			return err
		}
		if filled {
			a.stored++
			a.res.Filled = append(a.res.Filled, id)
		} else {
			a.res.Duplicates++
		}
		return nil
	case reason == ReasonNoPredecessor || reason == ReasonNoMembership || reason == ReasonNoTarget || reason == ReasonClockAhead:
		p, held := a.pending(id)
		if reason == ReasonClockAhead && (!held || p.reason != ReasonClockAhead) {
			// Counted once when it is first held back for its clock, not
			// at every retry.
			if err := a.count(reason); err != nil {
				return err
			}
		}
		if held && p.reason == reason && a.retrying {
			return nil // still waiting, for the same thing: nothing changes
		}
		if !held && a.held >= a.s.cfg.MaxPending {
			a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: ReasonOverflow, Err: errors.New("too many envelopes waiting")})
			return a.count(ReasonOverflow)
		}
		a.hold(id, &pendingEnvelope{c: c, reason: reason, gen: a.gen, res: a.res})
		return nil
	default:
		a.release(id)
		a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: reason, Err: err})
		a.s.cfg.Logf("refused envelope %s: %s: %v", id.String()[:12], reason, err)
		return a.count(reason)
	}
}

// retryPending offers held-back envelopes again until none moves. Nothing
// but a newly stored envelope or the passing of time lets one in, so it
// does nothing when neither happened.
func (a *admitter) retryPending() error {
	if a.stored == 0 && a.s.heldBy[ReasonClockAhead] == 0 {
		return nil
	}
	a.retrying = true
	defer func() { a.retrying = false }()
	for {
		before := a.stored
		ids := make([]envelope.Hash, 0, a.held)
		for id := range a.base {
			if _, ok := a.over[id]; !ok {
				ids = append(ids, id)
			}
		}
		for id, p := range a.over {
			if p != nil {
				ids = append(ids, id)
			}
		}
		// Lower sequence numbers first: a chain arrives in a few passes.
		held := make([]*pendingEnvelope, len(ids))
		for i, id := range ids {
			held[i], _ = a.pending(id)
		}
		sort.Slice(held, func(i, j int) bool {
			hi, hj := held[i].c.env.Header, held[j].c.env.Header
			if hi.Seq != hj.Seq {
				return hi.Seq < hj.Seq
			}
			return bytes.Compare(held[i].c.id[:], held[j].c.id[:]) < 0
		})
		for _, p := range held {
			if q, ok := a.pending(p.c.id); !ok || q != p {
				continue
			}
			// Report to the request that offered it if that is in this
			// commit; otherwise to the commit's first request with envelopes.
			a.res = &a.carry
			if p.gen == a.gen {
				a.res = p.res
			}
			if err := a.offer(p.c); err != nil {
				return err
			}
		}
		if a.stored == before {
			return nil
		}
	}
}

// check decides c's fate. A nil error means admit.
func (a *admitter) check(c *checked) (Reason, error) {
	e, id := c.env, c.id
	if c.hb != nil && a.tx.Bucket(bHeaders).Get(id[:]) != nil {
		return reasonDuplicate, errors.New("duplicate")
	}
	c.verify()
	if c.reason != "" {
		return c.reason, c.err
	}
	h := e.Header
	if limit := FromTime(a.s.cfg.Now().Add(a.s.cfg.MaxClockAhead)); h.Clock > limit {
		return ReasonClockAhead, fmt.Errorf("header clock %s is ahead of this device's clock by more than %s", Physical(h.Clock).UTC().Format(time.RFC3339), a.s.cfg.MaxClockAhead)
	}

	cert := c.cert
	if h.Class == envelope.ClassCertificate {
		if c.certErr != nil {
			return ReasonCertificate, c.certErr
		}
		if cert.Genesis != nil {
			if err := a.trust.Check(h, cert); err != nil {
				if errors.Is(err, crypto.ErrOtherGenesis) {
					return ReasonCommunity, err
				}
				return ReasonCertificate, err
			}
			return a.checkChain(h, id, c.hb)
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
	if reason, err := a.checkChain(h, id, c.hb); err != nil {
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
		if c.retrErr != nil {
			return ReasonRetraction, c.retrErr
		}
		r := c.retr
		m, _ := a.trust.Member(crypto.DeviceID(h.Author))
		target := a.tx.Bucket(bHeaders).Get(r.Target[:])
		switch {
		case target == nil && m.Role == crypto.RoleCoordinator:
		case target == nil:
			return ReasonNoTarget, errors.New("retracted envelope not held yet")
		default:
			th, err := decodeStoredHeader(target)
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
func (a *admitter) checkChain(h *envelope.Header, id envelope.Hash, hb []byte) (Reason, error) {
	key := chainKey(h.Author, h.Seq)
	if other := a.tx.Bucket(bChains).Get(key); other != nil && !bytes.Equal(other, id[:]) {
		if err := a.tx.Bucket(bForks).Put(id[:], hb); err != nil {
			return ReasonEquivocation, err
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
func (a *admitter) store(c *checked) error {
	tx, e, h, id := a.tx, c.env, c.env.Header, c.id
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
	if err := tx.Bucket(bHeaders).Put(id[:], append(bytes.Clone(sk), c.hb...)); err != nil {
		return err
	}
	if a.keepPayload(h, id) {
		if e.Payload != nil {
			if err := tx.Bucket(bPayloads).Put(id[:], e.Payload); err != nil {
				return err
			}
		} else if err := tx.Bucket(bWanted).Put(id[:], nil); err != nil {
			// A payload this device may hold, that the sender did not
			// have: asked for at the next sync (see Wanted).
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
		a.ownTrust().Apply(h, c.cert)
		if c.cert.Genesis != nil {
			if err := tx.Bucket(bMeta).Put([]byte("community"), id[:]); err != nil {
				return err
			}
		}
		if c.cert.Revocation != nil {
			a.revoked = true
		}
	case envelope.ClassRetraction:
		r := c.retr
		if err := tx.Bucket(bRetracted).Put(r.Target[:], id[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bWanted).Delete(r.Target[:]); err != nil {
			return err
		}
		if th := tx.Bucket(bHeaders).Get(r.Target[:]); th != nil {
			if h, err := decodeStoredHeader(th); err == nil && h.Class == envelope.ClassSealed {
				return tx.Bucket(bPayloads).Delete(r.Target[:])
			}
		}
	}
	return nil
}

// fill stores the payload of an envelope held without it, when this device
// wants it (see Wanted) and c carries it. The envelope moves to a new local
// sequence number, so that readers of Since see it again, now whole.
func (a *admitter) fill(c *checked) (bool, error) {
	e, id, tx := c.env, c.id, a.tx
	if e.Payload == nil || tx.Bucket(bWanted).Get(id[:]) == nil {
		return false, nil
	}
	if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
		return false, nil // a bad copy: the next peer may have a good one
	}
	hv := tx.Bucket(bHeaders).Get(id[:])
	if len(hv) < 8 {
		return false, nil
	}
	logB := tx.Bucket(bLog)
	if err := logB.Delete(bytes.Clone(hv[:8])); err != nil {
		return false, err
	}
	seq, err := logB.NextSequence()
	if err != nil {
		return false, err
	}
	sk := binary.BigEndian.AppendUint64(nil, seq)
	for _, op := range []struct {
		b    []byte
		k, v []byte
	}{
		{bLog, sk, id[:]},
		{bHeaders, id[:], append(bytes.Clone(sk), hv[8:]...)},
		{bPayloads, id[:], e.Payload},
	} {
		if err := tx.Bucket(op.b).Put(op.k, op.v); err != nil {
			return false, err
		}
	}
	return true, tx.Bucket(bWanted).Delete(id[:])
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
	decoded := map[envelope.Hash]*crypto.Certificate{}
	for {
		t, err := loadTrust(tx, decoded)
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
	if len(hv) >= 8 {
		// A purged retraction no longer retracts. (The payload it made this
		// store drop stays dropped.)
		if h, err := decodeStoredHeader(hv); err == nil && h.Class == envelope.ClassRetraction {
			if r, err := crypto.DecodeRetraction(tx.Bucket(bPayloads).Get(id)); err == nil {
				if by := tx.Bucket(bRetracted).Get(r.Target[:]); bytes.Equal(by, id) {
					if err := tx.Bucket(bRetracted).Delete(r.Target[:]); err != nil {
						return err
					}
				}
			}
		}
		sk := bytes.Clone(hv[:8])
		if err := tx.Bucket(bLog).Delete(sk); err != nil {
			return err
		}
		if err := tx.Bucket(bCerts).Delete(sk); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bHeaders, bPayloads, bWanted} {
		if err := tx.Bucket(b).Delete(id); err != nil {
			return err
		}
	}
	return tx.Bucket(bChains).Delete(ck)
}

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
	ReasonClockBack    Reason = "clock-backwards"
	ReasonCertificate  Reason = "bad-certificate"
	ReasonRetraction   Reason = "bad-retraction"
	ReasonOverflow     Reason = "pending-overflow"
	ReasonExpired      Reason = "pending-expired"
	// ReasonInert counts certificates stored without effect: validly
	// signed by a member, but not allowed at their position (see
	// crypto.Trust). They are not the sender's fault.
	ReasonInert Reason = "inert-certificate"
	// Held back, not refused: waiting for something else to arrive.
	ReasonNoPredecessor Reason = "waiting-predecessor"
	ReasonNoMembership  Reason = "waiting-membership"
	ReasonNoTarget      Reason = "waiting-target"
	// ReasonNoAnchor holds a revoked device's envelope at or below its
	// cut until the chain down from the header the revocation names
	// shows it is on it.
	ReasonNoAnchor Reason = "waiting-anchor"
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
	own   bool // envelopes this device writes now (AddOwn)
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
	return s.add(false, envs)
}

// AddOwn adds envelopes this device has just written. It also refuses a
// certificate that would have no effect (that its author may not write at
// its position), which Add stores inert: this device never writes one.
func (s *Store) AddOwn(envs ...*envelope.Envelope) (Result, error) {
	return s.add(true, envs)
}

func (s *Store) add(own bool, envs []*envelope.Envelope) (Result, error) {
	cs := make([]*checked, len(envs))
	for i, e := range envs {
		cs[i] = newChecked(e)
	}
	// Envelopes already stored are duplicates, whose signatures need no
	// checking; the writer checks again, so this read may be stale.
	// (When the read fails, the store is closing, and submit says so.)
	stored := make([]bool, len(cs))
	s.db.View(func(tx *bolt.Tx) error {
		for i, c := range cs {
			stored[i] = c.hb != nil && isStored(tx, c.id[:])
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
	return s.submit(&writeReq{envs: cs, own: own})
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
	a := &admitter{s: s, gen: s.gen, trust: s.trust, base: s.pending, over: map[envelope.Hash]*pendingEnvelope{}, held: len(s.pending), heldBytes: s.heldBytes, unknown: s.heldUnknown}
	removed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		a.tx = tx
		before := tx.Bucket(bRemoved).Sequence()
		defer func() { removed = tx.Bucket(bRemoved).Sequence() != before }()
		for _, r := range batch {
			a.res, a.own = &r.res, r.own
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
			n, err := purge(tx, a.ownTrust())
			if err != nil {
				return err
			}
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
	// Any removal changes the set, also one no result reports (a stored
	// branch cut when a revoked device's real chain arrives).
	changed := removed || len(a.carry.Admitted) > 0
	for _, r := range batch {
		changed = changed || len(r.res.Admitted) > 0 || len(r.res.Filled) > 0 || r.res.Purged > 0
	}
	if changed {
		// After the new trust state is in place (below): a consumer
		// woken by the signal reads it with what it folds.
		defer s.signal()
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
	var seq uint64
	if changed {
		// Only this goroutine commits: the log ends where this commit
		// left it.
		seq = s.LastSeq()
	}
	if !a.trustOwned && len(a.over) == 0 && !changed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.trustOwned {
		s.trust = a.trust
	}
	if changed {
		s.trustSeq = seq
	}
	s.heldBytes, s.heldUnknown = a.heldBytes, a.unknown
	for d, x := range a.byAuthor {
		h := s.heldByAuthor[d]
		h.n += x.n
		h.bytes += x.bytes
		if h.n <= 0 {
			delete(s.heldByAuthor, d)
		} else {
			s.heldByAuthor[d] = h
		}
	}
	for id, p := range a.over {
		if p != nil && p.key != "" {
			if old, ok := s.pending[id]; !ok || old.key != p.key {
				s.wake[p.key] = append(s.wake[p.key], id)
				s.wakeN++
			}
		}
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
	if s.wakeN > 2*len(s.pending)+1024 {
		s.wake, s.wakeN = map[string][]envelope.Hash{}, 0
		for id, p := range s.pending {
			if p.key != "" {
				s.wake[p.key] = append(s.wake[p.key], id)
				s.wakeN++
			}
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
	storedKeys []string // wait keys that envelopes stored in this commit satisfy
	own        bool     // offering this device's own new writes
	revoked    bool     // the trust state may have shrunk: purge
	heldBytes  int64
	unknown    authorHeld                     // held waiting for their author's membership
	byAuthor   map[crypto.DeviceID]authorHeld // changes to the store's per-author counts
	proven     map[envelope.Hash]bool         // on a revoked device's chain down from its cut
}

// authorHeld counts one author's held envelopes.
type authorHeld struct {
	n     int
	bytes int64
}

type pendingEnvelope struct {
	c      *checked
	reason Reason
	gen    uint64    // the commit that held it back last
	res    *Result   // the result of the request that offered it, during that commit only
	since  time.Time // when it was first held
	size   int64     // bytes counted against the budgets
	key    string    // what wakes it (see waitKey)
}

// waitKey names what a held envelope waits for, so that a commit offers
// again only the envelopes whose wait may be over: "p" and a chain key for
// a predecessor, "t" and an ID for a retracted target, "c" for a clock;
// "" for a membership or an anchor, which only a change of trust (a full
// pass) can bring.
func waitKey(c *checked, r Reason) string {
	h := c.env.Header
	switch r {
	case ReasonNoPredecessor:
		return "p" + string(chainKey(h.Author, h.Seq-1))
	case ReasonNoTarget:
		if c.retr != nil {
			return "t" + string(c.retr.Target[:])
		}
	case ReasonClockAhead:
		return "c"
	}
	return ""
}

func (p *pendingEnvelope) author() crypto.DeviceID { return crypto.DeviceID(p.c.env.Header.Author) }

// heldSize is what a held envelope costs: its header and payload, and a
// fixed overhead for the maps.
func heldSize(c *checked) int64 {
	n := int64(len(c.hb)) + 256
	if c.env.Payload != nil {
		n += int64(len(c.env.Payload))
	}
	return n
}

func (a *admitter) pending(id envelope.Hash) (*pendingEnvelope, bool) {
	if p, ok := a.over[id]; ok {
		return p, p != nil
	}
	p, ok := a.base[id]
	return p, ok
}

func (a *admitter) hold(id envelope.Hash, p *pendingEnvelope) {
	if old, ok := a.pending(id); ok {
		a.account(old, -1)
	}
	a.held++
	a.account(p, +1)
	a.over[id] = p
}

func (a *admitter) release(id envelope.Hash) {
	if p, ok := a.pending(id); ok {
		a.held--
		a.account(p, -1)
		a.over[id] = nil
	}
}

func (a *admitter) account(p *pendingEnvelope, sign int) {
	if a.byAuthor == nil {
		a.byAuthor = map[crypto.DeviceID]authorHeld{}
	}
	d := a.byAuthor[p.author()]
	d.n += sign
	d.bytes += int64(sign) * p.size
	a.byAuthor[p.author()] = d
	a.heldBytes += int64(sign) * p.size
	if p.reason == ReasonNoMembership {
		a.unknown.n += sign
		a.unknown.bytes += int64(sign) * p.size
	}
}

// authorHeld returns what one author has held, this commit's changes included.
func (a *admitter) authorHeld(d crypto.DeviceID) authorHeld {
	h := a.s.heldByAuthor[d]
	x := a.byAuthor[d]
	return authorHeld{n: h.n + x.n, bytes: h.bytes + x.bytes}
}

// ownTrust returns the trust state to change, copying the store's first.
func (a *admitter) ownTrust() *crypto.Trust {
	if !a.trustOwned {
		a.trust, a.trustOwned = a.trust.Clone(), true
	}
	return a.trust
}

const reasonDuplicate Reason = "duplicate"

// budget checks that holding p fits the budgets for held envelopes, in
// total and per author (see Config).
func (a *admitter) budget(p *pendingEnvelope, replacing bool) error {
	if replacing {
		return nil
	}
	cfg := a.s.cfg
	ah := a.authorHeld(p.author())
	switch {
	case a.held+1 > cfg.MaxPending:
		return fmt.Errorf("too many envelopes waiting (%d)", cfg.MaxPending)
	case a.heldBytes+p.size > cfg.MaxPendingBytes:
		return fmt.Errorf("envelopes waiting hold %d bytes, the budget is %d", a.heldBytes, cfg.MaxPendingBytes)
	case ah.n+1 > cfg.MaxPendingPerAuthor:
		return fmt.Errorf("too many envelopes of device %x waiting (%d)", p.c.env.Header.Author[:6], cfg.MaxPendingPerAuthor)
	case ah.bytes+p.size > cfg.MaxPendingBytesPerAuthor:
		return fmt.Errorf("envelopes of device %x waiting hold %d bytes, the budget is %d", p.c.env.Header.Author[:6], ah.bytes, cfg.MaxPendingBytesPerAuthor)
	}
	if p.reason == ReasonNoMembership {
		// Devices not (yet) members are cheap to make: together they
		// get a tenth of the budgets, so that they cannot crowd out the
		// members' envelopes.
		if u := a.unknown; u.n+1 > cfg.MaxPending/10 || u.bytes+p.size > cfg.MaxPendingBytes/10 {
			return fmt.Errorf("too many envelopes of devices not known as members waiting (%d, %d bytes)", u.n, u.bytes)
		}
	}
	return nil
}

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
	case reason == ReasonNoPredecessor || reason == ReasonNoMembership || reason == ReasonNoTarget || reason == ReasonClockAhead || reason == ReasonNoAnchor:
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
		if reason == ReasonNoMembership && c.env.Payload != nil && c.env.Header.Class == envelope.ClassSealed {
			// An unknown author's payload is not kept: once the author
			// is known, the payload is asked for again (see Wanted).
			c.env = &envelope.Envelope{Header: c.env.Header}
		}
		np := &pendingEnvelope{c: c, reason: reason, gen: a.gen, res: a.res, since: a.s.cfg.Now(), size: heldSize(c), key: waitKey(c, reason)}
		if held {
			np.since = p.since
		}
		if err := a.budget(np, held); err != nil {
			a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: ReasonOverflow, Err: err})
			return a.count(ReasonOverflow)
		}
		a.hold(id, np)
		return nil
	default:
		a.release(id)
		a.res.Refused = append(a.res.Refused, &Refusal{ID: id, Reason: reason, Err: err})
		a.s.cfg.Logf("refused envelope %s: %s: %v", id.String()[:12], reason, err)
		return a.count(reason)
	}
}

// retryPending offers held-back envelopes again until none moves, and
// drops those held longer than Config.PendingTTL. Nothing but a newly
// stored envelope, a change of trust or the passing of time lets one in;
// each held envelope is first tested for what it waits for (a map or a
// bbolt lookup), so a commit costs little per held envelope.
func (a *admitter) retryPending() error {
	if a.held == 0 {
		return nil
	}
	now := a.s.cfg.Now()
	// Expiry is looked at once a minute at most.
	expire := a.s.cfg.PendingTTL > 0 && now.Sub(a.s.lastExpiry) > time.Minute
	if expire {
		a.s.lastExpiry = now
	}
	proven := len(a.proven)
	if err := a.resolveAnchors(); err != nil {
		return err
	}
	// A full pass offers every held envelope again: after a change of
	// trust (memberships, cuts), to expire, or when an anchor proved a
	// chain. Otherwise only those whose wait key an envelope stored in
	// this commit satisfies, those held in this commit, and those waiting
	// for their clock.
	full := a.trustOwned || expire || len(a.proven) != proven
	if a.stored == 0 && !full && a.s.heldBy[ReasonClockAhead] == 0 {
		return nil
	}
	a.retrying, a.own = true, false
	defer func() { a.retrying = false }()
	keysDone := 0
	for pass := 0; ; pass++ {
		before := a.stored
		var held []*pendingEnvelope
		seen := map[envelope.Hash]bool{}
		visit := func(id envelope.Hash, p *pendingEnvelope) {
			if seen[id] {
				return
			}
			seen[id] = true
			if expire && now.Sub(p.since) > a.s.cfg.PendingTTL {
				a.release(id)
				a.count(ReasonExpired)
				return
			}
			if a.mayMove(p) {
				held = append(held, p)
			}
		}
		wake := func(k string) {
			for _, id := range a.s.wake[k] {
				if p, ok := a.pending(id); ok && p.key == k {
					visit(id, p)
				}
			}
		}
		if full {
			for id, p := range a.base {
				if _, ok := a.over[id]; !ok {
					visit(id, p)
				}
			}
		} else {
			for _, k := range a.storedKeys[keysDone:] {
				wake(k)
			}
			if a.s.heldBy[ReasonClockAhead] > 0 {
				wake("c")
			}
		}
		keysDone = len(a.storedKeys)
		for id, p := range a.over {
			if p != nil {
				visit(id, p)
			}
		}
		expire = false
		if err := a.resolveAnchors(); err != nil {
			return err
		}
		// Lower sequence numbers first: a chain arrives in a few passes.
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
		full = a.trustOwned
	}
}

// mayMove reports whether what a held envelope waits for may have come.
func (a *admitter) mayMove(p *pendingEnvelope) bool {
	if a.trustOwned {
		return true // trust changed in this commit: anything may move
	}
	h := p.c.env.Header
	switch p.reason {
	case ReasonNoPredecessor:
		return a.tx.Bucket(bChains).Get(chainKey(h.Author, h.Seq-1)) != nil
	case ReasonNoMembership:
		_, ok := a.trust.Member(crypto.DeviceID(h.Author))
		return ok || (p.c.cert != nil && p.c.cert.Genesis != nil)
	case ReasonNoTarget:
		return p.c.retr == nil || isStored(a.tx, p.c.retr.Target[:])
	case ReasonNoAnchor:
		return a.proven[p.c.id]
	case ReasonClockAhead:
		return h.Clock <= FromTime(a.s.cfg.Now().Add(a.s.cfg.MaxClockAhead))
	}
	return true
}

// resolveAnchors admits the chain of a revoked device down from the header
// its revocation names, once every header of it is held or stored: each
// held header on it is marked proven, and a stored branch that the chain
// does not go through (written with the stolen key below the cut) is
// removed.
func (a *admitter) resolveAnchors() error {
	if a.s.heldBy[ReasonNoAnchor] == 0 && !a.anyHeld(ReasonNoAnchor) {
		return nil
	}
	authors := map[crypto.DeviceID]bool{}
	each := func(id envelope.Hash, p *pendingEnvelope) {
		if p != nil && p.reason == ReasonNoAnchor {
			authors[p.author()] = true
		}
	}
	for id, p := range a.base {
		if _, ok := a.over[id]; !ok {
			each(id, p)
		}
	}
	for id, p := range a.over {
		each(id, p)
	}
	for author := range authors {
		cut, ok := a.trust.Cut(author)
		if !ok {
			continue
		}
		var seg []*pendingEnvelope
		p, ok := a.pending(cut.Last)
		for ok && p.author() == author {
			seg = append(seg, p)
			h := p.c.env.Header
			if h.Seq == 1 || bytes.Equal(a.tx.Bucket(bChains).Get(chainKey(h.Author, h.Seq-1)), h.Prev[:]) {
				break
			}
			p, ok = a.pending(h.Prev)
		}
		if !ok || len(seg) == 0 {
			continue // the chain down from the cut is not all here yet
		}
		low := seg[len(seg)-1].c.env.Header.Seq
		if err := a.truncate(author, low-1); err != nil {
			return err
		}
		if a.proven == nil {
			a.proven = map[envelope.Hash]bool{}
		}
		for _, p := range seg {
			a.proven[p.c.id] = true
		}
		a.revoked = true
	}
	return nil
}

func (a *admitter) anyHeld(r Reason) bool {
	for _, p := range a.over {
		if p != nil && p.reason == r {
			return true
		}
	}
	return false
}

// truncate removes an author's stored envelopes after seq keep, and their
// certificates from the trust state.
func (a *admitter) truncate(author crypto.DeviceID, keep uint64) error {
	certs, err := truncateChain(a.tx, author, keep)
	if err != nil {
		return err
	}
	if len(certs) > 0 {
		a.ownTrust().Remove(certs...)
	}
	a.revoked = true
	return nil
}

// truncateChain removes an author's stored envelopes after seq keep. It
// returns the IDs of the certificates removed: the caller takes them out
// of the trust state.
func truncateChain(tx *bolt.Tx, author crypto.DeviceID, keep uint64) ([]envelope.Hash, error) {
	v := tx.Bucket(bAuthors).Get(author[:])
	if len(v) < 8 {
		return nil, nil
	}
	head := binary.BigEndian.Uint64(v)
	var certs []envelope.Hash
	for seq := head; seq > keep; seq-- {
		id := tx.Bucket(bChains).Get(chainKey(author, seq))
		if id != nil {
			if h, _, err := storedHeader(tx, id); err == nil && h != nil && h.Class == envelope.ClassCertificate {
				certs = append(certs, envelope.Hash(id))
			}
		}
		if err := deleteEnvelope(tx, author, seq); err != nil {
			return nil, err
		}
	}
	if head <= keep {
		return nil, nil
	}
	if keep == 0 {
		return certs, tx.Bucket(bAuthors).Delete(author[:])
	}
	id := tx.Bucket(bChains).Get(chainKey(author, keep))
	return certs, tx.Bucket(bAuthors).Put(author[:], append(binary.BigEndian.AppendUint64(nil, keep), id...))
}

// check decides c's fate. A nil error means admit.
func (a *admitter) check(c *checked) (Reason, error) {
	e, id := c.env, c.id
	if c.hb != nil && isStored(a.tx, id[:]) {
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
			if err := a.trust.CheckGenesis(h, cert); err != nil {
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
		case errors.Is(err, crypto.ErrNotAllowed):
			return ReasonNotAllowed, err
		}
		return ReasonNotMember, err
	}
	if cert != nil && !a.trust.MayEverIssue(crypto.DeviceID(h.Author)) {
		// No membership in the set lets its author issue certificates:
		// not kept (once one does, the author's next sync offers it
		// again). A member writing them cannot grow every peer's trust
		// state.
		return ReasonNotAllowed, fmt.Errorf("%w: device %x is not a coordinator or an org admin", crypto.ErrNotAllowed, h.Author[:6])
	}
	if reason, err := a.checkChain(h, id, c.hb); err != nil {
		// A revoked device's chain up to its cut is the one that leads to
		// the header its revocation names: an envelope that forks from
		// what is stored waits for that chain (see resolveAnchors), which
		// removes the stored branch if the chain does not go through it.
		if cut, ok := a.trust.Cut(crypto.DeviceID(h.Author)); ok && reason == ReasonEquivocation && h.Seq <= cut.Seq && !a.proven[id] &&
			(h.Seq < cut.Seq || id == cut.Last) {
			return ReasonNoAnchor, errors.New("a revoked device's envelope waits for the chain down from its last valid envelope")
		}
		return reason, err
	}
	if cut, ok := a.trust.Cut(crypto.DeviceID(h.Author)); ok && h.Seq == cut.Seq && id != cut.Last {
		return ReasonRevoked, fmt.Errorf("%w: not the last valid envelope its revocation names", crypto.ErrRevoked)
	}
	if cert != nil && a.own {
		// This device does not write a certificate that would be inert.
		t := a.trust.Clone()
		t.Add(h, cert)
		if err := t.Verdict(id); err != nil {
			return ReasonNotAllowed, err
		}
	}
	if h.Class == envelope.ClassRetraction {
		if c.retrErr != nil {
			return ReasonRetraction, c.retrErr
		}
		r := c.retr
		m, _ := a.trust.Member(crypto.DeviceID(h.Author))
		th, _, err := storedHeader(a.tx, r.Target[:])
		switch {
		case err != nil:
			return ReasonRetraction, err
		case th == nil && m.Role == crypto.RoleCoordinator:
		case th == nil:
			return ReasonNoTarget, errors.New("retracted envelope not held yet")
		default:
			if th.Author != h.Author && m.Role != crypto.RoleCoordinator {
				return ReasonNotAllowed, fmt.Errorf("%w: only the author or a coordinator may retract", crypto.ErrNotAllowed)
			}
		}
	}
	return "", nil
}

// checkChain checks that h continues its author's chain.
//
// A device that wrote two different envelopes at one place (a cloned or
// stolen key) is frozen: its chain is cut before the fork on every peer
// that learns of it, both envelopes are kept as evidence, and nothing of
// that device from the fork on is admitted, whichever branch arrived
// first, until a coordinator's revocation names the real branch (see
// resolveAnchors). So every peer ends with the same set.
func (a *admitter) checkChain(h *envelope.Header, id envelope.Hash, hb []byte) (Reason, error) {
	_, revoked := a.trust.Cut(crypto.DeviceID(h.Author))
	if k := a.forkedAt(h.Author); k > 0 && h.Seq >= k && !revoked {
		if err := a.keepFork(h, id, hb); err != nil {
			return ReasonEquivocation, err
		}
		return ReasonEquivocation, fmt.Errorf("device %x forked its chain at sequence %d: nothing of it from there on is admitted until a coordinator revokes it", h.Author[:6], k)
	}
	key := chainKey(h.Author, h.Seq)
	if other := a.tx.Bucket(bChains).Get(key); other != nil && !bytes.Equal(other, id[:]) {
		if err := a.keepFork(h, id, hb); err != nil {
			return ReasonEquivocation, err
		}
		if !revoked {
			// Freeze the device before the fork: the stored branch goes
			// too, kept as evidence beside the other.
			if oh, ob, err := storedHeader(a.tx, other); err == nil && oh != nil {
				if err := a.keepFork(oh, envelope.Hash(other), bytes.Clone(ob)); err != nil {
					return ReasonEquivocation, err
				}
			}
			if err := a.truncate(crypto.DeviceID(h.Author), h.Seq-1); err != nil {
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
	// Clocks increase along a chain, so the canonical order of
	// certificates (by clock) follows each author's chain.
	if ph, _, err := storedHeader(a.tx, prev); err == nil && ph != nil && h.Clock <= ph.Clock {
		return ReasonClockBack, fmt.Errorf("sequence %d has a clock no later than sequence %d's", h.Seq, h.Seq-1)
	}
	return "", nil
}

// forkedAt returns the lowest sequence number at which a device is known
// to have forked its chain, 0 if none.
func (a *admitter) forkedAt(author [32]byte) uint64 {
	k, _ := a.tx.Bucket(bForks).Cursor().Seek(author[:])
	if len(k) < 40 || !bytes.HasPrefix(k, author[:]) {
		return 0
	}
	return binary.BigEndian.Uint64(k[32:40])
}

// keepFork keeps a forked header as evidence, within the budgets: a few
// per device (the lowest fork of each device is always kept: it freezes
// the device), and a total. Keys are author || sequence || header ID.
func (a *admitter) keepFork(h *envelope.Header, id envelope.Hash, hb []byte) error {
	b := a.tx.Bucket(bForks)
	key := append(chainKey(h.Author, h.Seq), id[:]...)
	if b.Get(key) != nil {
		return nil
	}
	n := 0
	lowest := true
	c := b.Cursor()
	for k, _ := c.Seek(h.Author[:]); k != nil && bytes.HasPrefix(k, h.Author[:]); k, _ = c.Next() {
		if n == 0 && bytes.Compare(k, key) < 0 {
			lowest = false
		}
		if n++; n >= MaxForksPerDevice && !lowest {
			return nil
		}
	}
	total := uint64(0)
	if v := a.tx.Bucket(bMeta).Get([]byte("forks")); len(v) == 8 {
		total = binary.BigEndian.Uint64(v)
	}
	if total >= MaxForks && !lowest {
		return nil
	}
	if err := a.tx.Bucket(bMeta).Put([]byte("forks"), binary.BigEndian.AppendUint64(nil, total+1)); err != nil {
		return err
	}
	return b.Put(key, hb)
}

// Budgets of fork evidence: one forked header proves a fork.
const (
	MaxForksPerDevice = 4
	MaxForks          = 1024
)

func chainKey(author [32]byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 40), author[:]...), seq)
}

// store writes an admitted envelope and applies what it changes.
func (a *admitter) store(c *checked) error {
	tx, e, h, id := a.tx, c.env, c.env.Header, c.id
	var payload []byte
	keep := a.keepPayload(h, id)
	if keep {
		payload = e.Payload
	}
	seq, err := putEnvelope(tx, id, c.hb, payload)
	if err != nil {
		return err
	}
	sk := seqKey(seq)
	if keep && payload == nil {
		// A payload this device may hold, that the sender did not
		// have: asked for at the next sync (see Wanted).
		if err := tx.Bucket(bWanted).Put(id[:], nil); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bChains).Put(chainKey(h.Author, h.Seq), id[:]); err != nil {
		return err
	}
	a.storedKeys = append(a.storedKeys, "p"+string(chainKey(h.Author, h.Seq)), "t"+string(id[:]))
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
		t := a.ownTrust()
		if t.Add(h, c.cert) {
			a.revoked = true
		}
		if err := t.Verdict(id); err != nil {
			a.s.cfg.Logf("certificate %s by %x has no effect: %v", id.String()[:12], h.Author[:6], err)
			if err := a.count(ReasonInert); err != nil {
				return err
			}
		}
		if c.cert.Genesis != nil {
			if err := tx.Bucket(bMeta).Put([]byte("community"), id[:]); err != nil {
				return err
			}
		}
	case envelope.ClassRetraction:
		r := c.retr
		if err := tx.Bucket(bRetracted).Put(r.Target[:], id[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bWanted).Delete(r.Target[:]); err != nil {
			return err
		}
		if th, _, err := storedHeader(tx, r.Target[:]); err == nil && th != nil && th.Class == envelope.ClassSealed {
			return dropPayload(tx, r.Target[:])
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
	filled, err := fillPayload(tx, id, e.Payload)
	if err != nil || !filled {
		return false, err
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

func (a *admitter) count(r Reason) error {
	b := a.tx.Bucket(bRefusals)
	n := uint64(0)
	if v := b.Get([]byte(r)); v != nil {
		n = binary.BigEndian.Uint64(v)
	}
	return b.Put([]byte(r), binary.BigEndian.AppendUint64(nil, n+1))
}

// purge removes everything the trust state no longer admits: a revoked
// device's envelopes after its cut, and every envelope of a device that is
// no longer a member or is a relay, until nothing changes (a removed
// certificate may remove a membership). It updates t and returns how many
// envelopes went.
func purge(tx *bolt.Tx, t *crypto.Trust) (int, error) {
	total := 0
	for {
		var heads []AuthorHead
		tx.Bucket(bAuthors).ForEach(func(k, v []byte) error {
			var h AuthorHead
			copy(h.Author[:], k)
			h.Seq = binary.BigEndian.Uint64(v)
			heads = append(heads, h)
			return nil
		})
		var certs []envelope.Hash
		n := 0
		for _, ah := range heads {
			keep := ah.Seq
			if m, ok := t.Member(ah.Author); !ok || m.Role == crypto.RoleRelay {
				keep = 0
			} else if last, ok := t.Revoked(ah.Author); ok && last < keep {
				keep = last
			}
			if keep < ah.Seq {
				n += int(ah.Seq - keep)
				removed, err := truncateChain(tx, ah.Author, keep)
				if err != nil {
					return total, err
				}
				certs = append(certs, removed...)
			}
		}
		total += n
		if len(certs) == 0 {
			return total, nil
		}
		t.Remove(certs...)
	}
}

func deleteEnvelope(tx *bolt.Tx, author crypto.DeviceID, seq uint64) error {
	ck := chainKey(author, seq)
	id := bytes.Clone(tx.Bucket(bChains).Get(ck))
	if id == nil {
		return nil
	}
	if lseq, ok := seqOf(tx, id); ok {
		// A purged retraction no longer retracts. (The payload it made this
		// store drop stays dropped.)
		if h, err := envelope.DecodeHeader(headerAt(tx, lseq)); err == nil && h.Class == envelope.ClassRetraction {
			if r, err := crypto.DecodeRetraction(payloadAt(tx, lseq)); err == nil {
				if by := tx.Bucket(bRetracted).Get(r.Target[:]); bytes.Equal(by, id) {
					if err := tx.Bucket(bRetracted).Delete(r.Target[:]); err != nil {
						return err
					}
				}
			}
		}
		if err := tx.Bucket(bCerts).Delete(seqKey(lseq)); err != nil {
			return err
		}
		if err := removeEnvelope(tx, id, lseq); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bWanted).Delete(id); err != nil {
		return err
	}
	return tx.Bucket(bChains).Delete(ck)
}

package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// FormatVersion is the store layout this program writes. Opening a store of a
// newer format fails with a message; an older one is migrated on open, or
// refused with the reason. Format 2 holds version 2 certificates (the
// insider-safe trust rules) and fork evidence keyed by author. Format 3
// keys headers and payloads by local sequence number, with an index from
// header ID to local sequence, so that a commit appends instead of
// dirtying a page per envelope (see migrate.go), and keeps a removal log.
const FormatVersion = 3

// The buckets of format 3. Only the functions of this file and admit.go
// read or write them; everything else goes through Store's methods.
//
//	meta       "format" u32, "community" genesis ID, "forks" u64 count
//	headers    local seq u64 -> header encoding (the local log: Since)
//	payloads   local seq u64 -> payload, when this device holds it
//	ids        header ID -> local seq u64
//	chains     author || author seq u64 -> header ID
//	authors    author -> author seq u64 || head header ID
//	certs      local seq u64 -> header ID, for every certificate
//	retracted  target header ID -> retraction header ID
//	forks      author || author seq u64 || header ID -> header encoding
//	refusals   reason -> u64 count
//	local      key -> value (never replicated)
//	wanted     header ID -> nothing: a payload to ask peers for
//	removed    u64 counter -> header ID of an envelope removed (RemovedSince)
//
// The headers and payloads buckets have names of their own (format 2 had
// "headers" and "payloads" keyed by header ID, and "log"), so that a
// migration never mistakes one layout for the other.
var (
	bMeta      = []byte("meta")
	bHeaders   = []byte("header-by-seq")
	bPayloads  = []byte("payload-by-seq")
	bIDs       = []byte("seq-by-id")
	bChains    = []byte("chains")
	bAuthors   = []byte("authors")
	bCerts     = []byte("certs")
	bRetracted = []byte("retracted")
	bForks     = []byte("forks")
	bRefusals  = []byte("refusals")
	bLocal     = []byte("local")
	bWanted    = []byte("wanted")
	bRemoved   = []byte("removed")
	allBuckets = [][]byte{bMeta, bHeaders, bPayloads, bIDs, bChains, bAuthors, bCerts, bRetracted, bForks, bRefusals, bLocal, bWanted, bRemoved}
)

// Default budgets of held envelopes (see Config).
const (
	DefaultMaxPending               = 20_000
	DefaultMaxPendingBytes          = 48 << 20
	DefaultMaxPendingPerAuthor      = 5_000
	DefaultMaxPendingBytesPerAuthor = 16 << 20
	DefaultPendingTTL               = 15 * time.Minute
)

// ErrOldFormat is returned by Open for a home this program cannot read.
var ErrOldFormat = errors.New("store format too old")

// ErrLocked is returned by Open when another process holds the store.
var ErrLocked = errors.New("the store is in use by another Noroshi process")

// Config configures a Store.
type Config struct {
	// Path is the bbolt file.
	Path string
	// Self is this device: payloads addressed only to other devices are not
	// kept, unless KeepAllPayloads is set (relays).
	Self            crypto.DeviceID
	KeepAllPayloads bool
	// MaxClockAhead is how far a header's clock may be ahead of Now before it
	// is held back (counted, retried later).
	MaxClockAhead time.Duration
	// MaxPending and MaxPendingBytes bound the envelopes held in memory
	// while they wait for a predecessor, a membership, a target or an
	// anchor, in total; the PerAuthor budgets bound one author's share, so
	// one member cannot fill them. A held envelope is dropped after
	// PendingTTL (sync brings it again). An unknown author's payloads are
	// not held at all.
	MaxPending               int
	MaxPendingBytes          int64
	MaxPendingPerAuthor      int
	MaxPendingBytesPerAuthor int64
	PendingTTL               time.Duration
	// LockTimeout bounds the wait for the file lock.
	LockTimeout time.Duration
	// NoSync skips fsync on commit and when the file grows. Only for tests
	// that measure nothing.
	NoSync bool
	Now    func() time.Time
	Logf   func(format string, args ...any)
}

// DefaultConfig returns the configuration for a real store at path.
func DefaultConfig(path string, self crypto.DeviceID) Config {
	return Config{
		Path:          path,
		Self:          self,
		MaxClockAhead: 5 * time.Minute,
		MaxPending:    DefaultMaxPending,
		LockTimeout:   500 * time.Millisecond,
		Now:           time.Now,
		Logf:          func(string, ...any) {},
	}
}

// Store is the bbolt-backed set of envelopes. It is safe for concurrent use.
type Store struct {
	cfg    Config
	db     *bolt.DB
	writes chan *writeReq
	done   chan struct{}
	wg     sync.WaitGroup

	// keepAll is Config.KeepAllPayloads, changeable while open (a device
	// learns it is a relay when it joins).
	keepAll atomic.Bool

	// mu guards trust, pending and heldBy. The writer is the only goroutine
	// that changes them, and it replaces trust rather than changing it.
	mu    sync.RWMutex
	trust *crypto.Trust
	// trustSeq is the local sequence the trust state covers: every
	// certificate stored up to it is in trust (see TrustAt).
	trustSeq uint64
	pending  map[envelope.Hash]*pendingEnvelope
	heldBy   map[Reason]int // len(pending) by reason
	// heldBytes and heldByAuthor count pending against the budgets.
	heldBytes    int64
	heldByAuthor map[crypto.DeviceID]authorHeld
	// heldUnknown counts pending that waits for its author's membership.
	heldUnknown authorHeld
	lastExpiry  time.Time // only the writer uses it
	// wake indexes held envelopes by what they wait for (see waitKey);
	// entries of envelopes no longer held go at the next rebuild. Only
	// the writer uses it.
	wake  map[string][]envelope.Hash
	wakeN int
	gen   uint64 // commits so far; only the writer uses it

	closeMu sync.RWMutex // held to send to writes, and to set closing
	closing bool

	// chmu guards changed, closed and replaced after each commit that
	// changed the set of envelopes (see Changed).
	chmu    sync.Mutex
	changed chan struct{}
}

// Open opens or creates the store at cfg.Path.
func Open(cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPendingBytes == 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.MaxPendingPerAuthor == 0 {
		cfg.MaxPendingPerAuthor = min(cfg.MaxPending, DefaultMaxPendingPerAuthor)
	}
	if cfg.MaxPendingBytesPerAuthor == 0 {
		cfg.MaxPendingBytesPerAuthor = min(cfg.MaxPendingBytes, DefaultMaxPendingBytesPerAuthor)
	}
	if cfg.PendingTTL == 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	if cfg.MaxClockAhead == 0 {
		cfg.MaxClockAhead = 5 * time.Minute
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout, NoSync: cfg.NoSync, NoGrowSync: cfg.NoSync})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("open store %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, db: db, writes: make(chan *writeReq, 64), done: make(chan struct{}),
		pending: map[envelope.Hash]*pendingEnvelope{}, heldBy: map[Reason]int{}, heldByAuthor: map[crypto.DeviceID]authorHeld{}, wake: map[string][]envelope.Hash{},
		changed: make(chan struct{})}
	if err := prepare(db, cfg.Logf); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		t, err := loadTrust(tx, nil)
		s.trust = t
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.trustSeq = s.LastSeq()
	s.keepAll.Store(cfg.KeepAllPayloads)
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// Close stops the writer and closes the file.
// Calls to Add and PutLocal that began before it are finished first; later
// ones return an error.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closing {
		s.closeMu.Unlock()
		return nil
	}
	s.closing = true
	s.closeMu.Unlock()
	close(s.done)
	s.wg.Wait()
	return s.db.Close()
}

// SetKeepAllPayloads makes the store keep every payload from now on, also
// those addressed to other devices (a relay), or stop doing so.
func (s *Store) SetKeepAllPayloads(keep bool) { s.keepAll.Store(keep) }

// Path returns the bbolt file's path.
func (s *Store) Path() string { return s.cfg.Path }

// loadTrust rebuilds the trust state from the stored certificates (a
// replay in their canonical order: see crypto.Trust).
// decoded, when not nil, keeps certificates decoded by earlier calls (by
// header ID): decoding one parses its hybrid recipient, which is slow.
func loadTrust(tx *bolt.Tx, decoded map[envelope.Hash]*crypto.Certificate) (*crypto.Trust, error) {
	var community envelope.Hash
	copy(community[:], tx.Bucket(bMeta).Get([]byte("community")))
	t := crypto.NewTrust(community)
	type cert struct {
		h *envelope.Header
		c *crypto.Certificate
	}
	var certs []cert
	err := tx.Bucket(bCerts).ForEach(func(k, id []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("unreadable certificate key %x", k)
		}
		e, err := envelopeAt(tx, binary.BigEndian.Uint64(k))
		if err != nil {
			return err
		}
		c := decoded[envelope.Hash(id)]
		if c == nil {
			if c, err = crypto.DecodeCertificate(e.Payload); err != nil {
				return fmt.Errorf("stored certificate %x: %w", id[:6], err)
			}
			if decoded != nil {
				decoded[envelope.Hash(id)] = c
			}
		}
		certs = append(certs, cert{e.Header, c})
		return nil
	})
	if err != nil {
		return nil, err
	}
	hs := make([]*envelope.Header, len(certs))
	cs := make([]*crypto.Certificate, len(certs))
	for i, c := range certs {
		hs[i], cs[i] = c.h, c.c
	}
	t.AddAll(hs, cs)
	return t, nil
}

// The functions below are the only readers and writers of the headers,
// payloads, ids and removed buckets (see the layout at the top of this
// file); admission and the readers of Store go through them.

// seqKey is the key of local sequence number seq.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// seqOf returns the local sequence number of the envelope with header ID id.
func seqOf(tx *bolt.Tx, id []byte) (uint64, bool) {
	v := tx.Bucket(bIDs).Get(id)
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// isStored reports whether the envelope with header ID id is stored.
func isStored(tx *bolt.Tx, id []byte) bool {
	return tx.Bucket(bIDs).Get(id) != nil
}

// headerAt returns the header encoding stored at local seq, nil if none.
// It is valid for the transaction only.
func headerAt(tx *bolt.Tx, seq uint64) []byte {
	return tx.Bucket(bHeaders).Get(seqKey(seq))
}

// payloadAt returns the payload stored at local seq, nil if none. It is
// valid for the transaction only.
func payloadAt(tx *bolt.Tx, seq uint64) []byte {
	return tx.Bucket(bPayloads).Get(seqKey(seq))
}

// storedHeader returns the decoded header of the envelope id and its
// encoding (valid for the transaction only); a nil header when it is not
// stored.
func storedHeader(tx *bolt.Tx, id []byte) (*envelope.Header, []byte, error) {
	seq, ok := seqOf(tx, id)
	if !ok {
		return nil, nil, nil
	}
	hb := headerAt(tx, seq)
	if hb == nil {
		return nil, nil, fmt.Errorf("stored header %x: missing at local seq %d", id, seq)
	}
	h, err := envelope.DecodeHeader(hb)
	if err != nil {
		return nil, nil, fmt.Errorf("stored header %x: %w", id, err)
	}
	return h, hb, nil
}

// getEnvelope returns a copy of the envelope with header ID id.
func getEnvelope(tx *bolt.Tx, id []byte) (*envelope.Envelope, error) {
	seq, ok := seqOf(tx, id)
	if !ok {
		return nil, fmt.Errorf("envelope %x not stored", id)
	}
	return envelopeAt(tx, seq)
}

// envelopeAt returns a copy of the envelope at local seq.
func envelopeAt(tx *bolt.Tx, seq uint64) (*envelope.Envelope, error) {
	hb := headerAt(tx, seq)
	if hb == nil {
		return nil, fmt.Errorf("no envelope at local seq %d", seq)
	}
	h, err := envelope.DecodeHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("stored header at local seq %d: %w", seq, err)
	}
	e := &envelope.Envelope{Header: h}
	if p := payloadAt(tx, seq); p != nil {
		e.Payload = bytes.Clone(p)
	}
	return e, nil
}

// putEnvelope stores an envelope at the next local sequence number, which
// it returns; payload may be nil.
func putEnvelope(tx *bolt.Tx, id envelope.Hash, hb, payload []byte) (uint64, error) {
	headers := tx.Bucket(bHeaders)
	headers.FillPercent = 1.0
	seq, err := headers.NextSequence()
	if err != nil {
		return 0, err
	}
	sk := seqKey(seq)
	if err := headers.Put(sk, hb); err != nil {
		return 0, err
	}
	if payload != nil {
		payloads := tx.Bucket(bPayloads)
		payloads.FillPercent = 1.0
		if err := payloads.Put(sk, payload); err != nil {
			return 0, err
		}
	}
	return seq, tx.Bucket(bIDs).Put(id[:], sk)
}

// fillPayload stores the payload of the envelope id, stored without it:
// the envelope moves to a new local sequence number, so that readers of
// Since see it again, now whole, and its old one goes to the removal log.
func fillPayload(tx *bolt.Tx, id envelope.Hash, payload []byte) (bool, error) {
	old, ok := seqOf(tx, id[:])
	if !ok {
		return false, nil
	}
	hb := bytes.Clone(headerAt(tx, old))
	if hb == nil {
		return false, nil
	}
	if err := removeEnvelope(tx, id[:], old); err != nil {
		return false, err
	}
	if _, err := putEnvelope(tx, id, hb, payload); err != nil {
		return false, err
	}
	return true, nil
}

// dropPayload deletes the payload of the envelope id, if stored.
func dropPayload(tx *bolt.Tx, id []byte) error {
	seq, ok := seqOf(tx, id)
	if !ok {
		return nil
	}
	return tx.Bucket(bPayloads).Delete(seqKey(seq))
}

// removeEnvelope deletes the envelope id stored at local seq and appends
// it to the removal log. Other buckets that name it are the caller's.
func removeEnvelope(tx *bolt.Tx, id []byte, seq uint64) error {
	sk := seqKey(seq)
	for _, b := range [][]byte{bHeaders, bPayloads} {
		if err := tx.Bucket(b).Delete(sk); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bIDs).Delete(id); err != nil {
		return err
	}
	removed := tx.Bucket(bRemoved)
	removed.FillPercent = 1.0
	n, err := removed.NextSequence()
	if err != nil {
		return err
	}
	return removed.Put(seqKey(n), bytes.Clone(id))
}

// Community returns the community's genesis ID, zero before there is one.
func (s *Store) Community() envelope.Hash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.trust.Community()
}

// TrustAt returns a snapshot of the trust state and the local sequence up
// to which it covers the log. A consumer that judges envelopes against it
// folds only those up to that sequence: the commit that stores a
// certificate is visible in the log a moment before the trust state that
// holds it replaces the old one, and the change signal fires after.
func (s *Store) TrustAt() (*crypto.Trust, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.trust.Clone(), s.trustSeq
}

// Trust returns a snapshot of the community's trust state.
func (s *Store) Trust() *crypto.Trust {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.trust.Clone()
}

// Get returns the envelope with header ID id.
func (s *Store) Get(id envelope.Hash) (*envelope.Envelope, error) {
	var e *envelope.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEnvelope(tx, id[:])
		return err
	})
	return e, err
}

// Retracted reports whether the envelope id was retracted, and by which envelope.
func (s *Store) Retracted(id envelope.Hash) (envelope.Hash, bool) {
	var by envelope.Hash
	var ok bool
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bRetracted).Get(id[:]); v != nil {
			copy(by[:], v)
			ok = true
		}
		return nil
	})
	return by, ok
}

// LastSeq returns the highest local sequence number used. It never goes
// down, even when the envelope there was removed since.
func (s *Store) LastSeq() uint64 {
	var n uint64
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bHeaders).Sequence()
		return nil
	})
	return n
}

// SeqOf returns the local sequence number of the envelope with header ID
// id, and whether it is stored. An envelope whose payload arrives after its
// header moves to a new local sequence number (see Since).
func (s *Store) SeqOf(id envelope.Hash) (uint64, bool) {
	var seq uint64
	var ok bool
	s.db.View(func(tx *bolt.Tx) error {
		seq, ok = seqOf(tx, id[:])
		return nil
	})
	return seq, ok
}

// LastRemoved returns the number of the last entry of the removal log, 0
// when nothing was ever removed (see RemovedSince).
func (s *Store) LastRemoved() uint64 {
	var n uint64
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bRemoved).Sequence()
		return nil
	})
	return n
}

// RemovedSince calls fn, in order, for every entry of the removal log after
// entry after: the number of the entry and the header ID of an envelope
// that was removed (purged after a revocation, cut from a forked chain, or
// moved to a new local sequence number when its payload arrived).
// It skips the entries of envelopes that are stored again when it reads
// them (moved, or admitted again): Since shows those at their new local
// sequence number. So a consumer that keeps two cursors, one in the local
// log (Since) and one in the removal log, and applies both in either order
// at each Changed, holds exactly the store's set of envelopes.
// Iteration stops at fn's first error.
func (s *Store) RemovedSince(after uint64, fn func(n uint64, id envelope.Hash) error) error {
	type item struct {
		n  uint64
		id envelope.Hash
	}
	for {
		var batch []item
		last := after
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bRemoved).Cursor()
			for k, v := c.Seek(seqKey(after + 1)); k != nil && len(batch) < sinceBatch; k, v = c.Next() {
				if len(k) != 8 || len(v) != len(envelope.Hash{}) {
					return fmt.Errorf("unreadable entry %x of the removal log", k)
				}
				last = binary.BigEndian.Uint64(k)
				if !isStored(tx, v) {
					batch = append(batch, item{last, envelope.Hash(v)})
				}
				if last-after >= 4*sinceBatch {
					break
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range batch {
			if err := fn(it.n, it.id); err != nil {
				return err
			}
		}
		if last == after {
			return nil
		}
		after = last
	}
}

// sinceBatch bounds the envelopes read in one read transaction, so that no
// read transaction stays open long.
const sinceBatch = 512

// Since calls fn for every envelope stored after local sequence number after,
// in local order. fn owns the envelope. Iteration stops at fn's first error.
func (s *Store) Since(after uint64, fn func(seq uint64, e *envelope.Envelope) error) error {
	for {
		type item struct {
			seq uint64
			e   *envelope.Envelope
		}
		var batch []item
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bHeaders).Cursor()
			for k, _ := c.Seek(seqKey(after + 1)); k != nil && len(batch) < sinceBatch; k, _ = c.Next() {
				seq := binary.BigEndian.Uint64(k)
				e, err := envelopeAt(tx, seq)
				if err != nil {
					return err
				}
				batch = append(batch, item{seq, e})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range batch {
			if err := fn(it.seq, it.e); err != nil {
				return err
			}
			after = it.seq
		}
		if len(batch) < sinceBatch {
			return nil
		}
	}
}

// AuthorHead is one entry of the version vector: an author's chain length
// and the ID of its last header.
type AuthorHead struct {
	Author crypto.DeviceID
	Seq    uint64
	Head   envelope.Hash
}

// Head returns author's chain head; Seq 0 when nothing of it is stored.
func (s *Store) Head(author crypto.DeviceID) AuthorHead {
	h := AuthorHead{Author: author}
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bAuthors).Get(author[:]); v != nil {
			h.Seq = binary.BigEndian.Uint64(v)
			copy(h.Head[:], v[8:])
		}
		return nil
	})
	return h
}

// Heads returns the version vector, ordered by author.
func (s *Store) Heads() []AuthorHead {
	var out []AuthorHead
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAuthors).ForEach(func(k, v []byte) error {
			var h AuthorHead
			copy(h.Author[:], k)
			h.Seq = binary.BigEndian.Uint64(v)
			copy(h.Head[:], v[8:])
			out = append(out, h)
			return nil
		})
	})
	return out
}

// Digest returns the SHA-256 over every author's (device ID, sequence, head
// header ID) in author order: equal digests mean equal sets, and a forked
// chain never looks in sync.
func (s *Store) Digest() [32]byte {
	d := sha256.New()
	for _, h := range s.Heads() {
		d.Write(h.Author[:])
		d.Write(binary.BigEndian.AppendUint64(nil, h.Seq))
		d.Write(h.Head[:])
	}
	var out [32]byte
	copy(out[:], d.Sum(nil))
	return out
}

// Refusals returns how many envelopes were refused, by reason.
func (s *Store) Refusals() map[Reason]uint64 {
	out := map[Reason]uint64{}
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bRefusals).ForEach(func(k, v []byte) error {
			out[Reason(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return out
}

// Forks returns the headers kept as evidence of equivocation.
func (s *Store) Forks() []*envelope.Header {
	var out []*envelope.Header
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bForks).ForEach(func(_, v []byte) error {
			if h, err := envelope.DecodeHeader(v); err == nil {
				out = append(out, h)
			}
			return nil
		})
	})
	return out
}

// ForkEvidence returns, as header-only envelopes, the evidence this store
// holds that the authors whose IDs start with prefix forked their chains.
func (s *Store) ForkEvidence(prefix []byte) []*envelope.Envelope {
	var out []*envelope.Envelope
	s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bForks).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if h, err := envelope.DecodeHeader(v); err == nil {
				out = append(out, &envelope.Envelope{Header: h})
			}
		}
		return nil
	})
	return out
}

// forkedBy reports whether this store holds evidence that an author whose
// ID starts with prefix forked its chain at or before sequence seq.
func (s *Store) forkedBy(prefix []byte, seq uint64) bool {
	found := false
	s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bForks).Cursor().Seek(prefix)
		found = len(k) >= 40 && bytes.HasPrefix(k, prefix) && binary.BigEndian.Uint64(k[32:40]) <= seq
		return nil
	})
	return found
}

// Pending returns how many envelopes wait in memory for a predecessor or a
// membership, by reason.
func (s *Store) Pending() map[Reason]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.heldBy)
}

// Wanted returns up to max IDs of envelopes held without the payload this
// device may hold: the sender did not have it. Sync asks peers for them.
func (s *Store) Wanted(max int) []envelope.Hash {
	var out []envelope.Hash
	s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bWanted).Cursor()
		for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
			var id envelope.Hash
			copy(id[:], k)
			out = append(out, id)
		}
		return nil
	})
	return out
}

// GetLocal returns a copy of a local (never replicated) value, nil if unset.
func (s *Store) GetLocal(key string) []byte {
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bLocal).Get([]byte(key)))
		return nil
	})
	return v
}

// LocalWithPrefix returns every local key with the given prefix and its value.
func (s *Store) LocalWithPrefix(prefix string) map[string][]byte {
	out := map[string][]byte{}
	s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bLocal).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			out[string(k)] = bytes.Clone(v)
		}
		return nil
	})
	return out
}

// LocalOp is one write to the local namespace; a nil Value deletes.
type LocalOp struct {
	Key   string
	Value []byte
}

// PutLocal writes local values, through the writer like every write.
func (s *Store) PutLocal(ops ...LocalOp) error {
	_, err := s.submit(&writeReq{local: ops})
	return err
}

// Changed returns a channel that is closed at the next commit that changes
// the set of envelopes: something admitted, a payload filled in, or
// envelopes removed. It is the store's one change signal: every consumer
// (the views in app, the gossip node's announcements) keeps its own cursor
// in the local log (see Since) and reads what is new when it fires, so no
// consumer can fall behind into an unbounded queue.
func (s *Store) Changed() <-chan struct{} {
	s.chmu.Lock()
	defer s.chmu.Unlock()
	return s.changed
}

// signal wakes every consumer waiting on Changed.
func (s *Store) signal() {
	s.chmu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.chmu.Unlock()
}

package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// The views are kept in the store file (replica's view buckets), folded
// incrementally from the last folded local sequence, so that opening a home
// costs what changed since the last open and not the size of the store.
// Only what a community's size bounds (the trust state, the directory:
// organisations, people, contacts, revocation notes, and the group keys)
// is held in memory; posts, comments, read receipts and incidents are read
// from the views a page at a time.
//
// Nothing readable is written in clear: every value that holds a title, a
// body, a name or who read what is sealed with the device's view key
// (crypto.ViewKey), bound to its key; index keys that stand for a term or a
// person are keyed hashes of it. What an attacker holding the disk but not
// the passphrase learns is listed in docs/threat-model.md ("A stolen disk").
//
// The buckets, with their keys and values:
//
//	meta       "format" u32, "key" the sealed view key, "folded" u64 local seq, "removed" u64 removal cursor
//	rec        envelope ID -> sealed view record (see encodeView)
//	feed       feedKey(post) -> search signature (see search.go), posts that are not retracted
//	ix         term(field=value) || feedKey -> nil, the feed filters (type, tag, TLP, channel)
//	unread     feedKey -> nil, posts nobody of this device's person has read
//	kids       parent ID || child ID -> nil: comments of posts, updates of incidents
//	reads      post ID || term(person) || term(device) -> sealed(device, first clock)
//	readsby    term(device) || term(reads envelope ID) -> sealed(reads envelope ID)
//	incidents  incident ID -> nil
//	retracted  target ID || retraction ID -> nil (the retraction's record is in rec)
//	locked     epoch || envelope ID -> nil: sealed envelopes waiting for that epoch's key
//	lockedby   envelope ID || epoch -> nil: the same, by envelope
//	keys       epoch -> sealed(scope, org, clock, key)
//	pgrants    epoch || commitment -> sealed(scope, org, clock, key): keys granted
//	           to this device that the trust state does not agree (yet)
//	dir        envelope ID -> nil: directory records, loaded into memory at open
//	pnum, slice  the sliced search index (see searchindex.go)
//	sources    the versions of posts that stand for an outside object (see sources.go)

// viewFormat is the version of the views' layout and encodings. Views of
// another version are dropped and folded again from the envelopes.
const viewFormat = 5

const (
	vbMeta      = "meta"
	vbRec       = "rec"
	vbFeed      = "feed"
	vbIx        = "ix"
	vbUnread    = "unread"
	vbKids      = "kids"
	vbReads     = "reads"
	vbReadsBy   = "readsby"
	vbIncidents = "incidents"
	vbRetracted = "retracted"
	vbLocked    = "locked"
	vbKeys      = "keys"
	vbDir       = "dir"
	vbPGrants   = "pgrants"
	vbLockedBy  = "lockedby"
)

var (
	metaFormat  = []byte("format")
	metaKey     = []byte("key")
	metaFolded  = []byte("folded")
	metaRemoved = []byte("removed")
)

// foldBatch bounds the envelopes folded in one view transaction, so that a
// long fold (the first open of a big home) lets the store's writer in
// between batches.
const foldBatch = 512

// progressAbove is the number of envelopes to fold above which a fold
// reports its progress (Config.Progress).
const progressAbove = 5000

// View record kinds: the first byte of a view record after its version.
const (
	kindRecord     = 'r' // a domain record: its plaintext follows
	kindRetraction = 't' // a retraction: target ID, then the reason
)

// viewRec is one folded envelope as the views keep it.
type viewRec struct {
	meta
	kind   byte
	rec    *Record       // kindRecord
	target envelope.Hash // kindRetraction
	reason string        // kindRetraction
}

// encodeView encodes a view record: version 1, kind, author, chain seq,
// clock, then the record's plaintext (or a retraction's target and reason).
func encodeView(v *viewRec, plain []byte) []byte {
	b := make([]byte, 0, 2+32+16+len(plain)+32+len(v.reason))
	b = append(b, 1, v.kind)
	b = append(b, v.author[:]...)
	b = binary.BigEndian.AppendUint64(b, v.seq)
	b = binary.BigEndian.AppendUint64(b, v.clock)
	if v.kind == kindRetraction {
		b = append(b, v.target[:]...)
		return append(b, v.reason...)
	}
	return append(b, plain...)
}

func decodeView(id envelope.Hash, b []byte) (*viewRec, error) {
	if len(b) < 2+32+16 || b[0] != 1 {
		return nil, errors.New("view record: unknown encoding")
	}
	v := &viewRec{kind: b[1]}
	v.id = id
	copy(v.author[:], b[2:34])
	v.seq = binary.BigEndian.Uint64(b[34:42])
	v.clock = binary.BigEndian.Uint64(b[42:50])
	rest := b[50:]
	switch v.kind {
	case kindRetraction:
		if len(rest) < 32 {
			return nil, errors.New("view record: short retraction")
		}
		copy(v.target[:], rest)
		v.reason = string(rest[32:])
	case kindRecord:
		r, err := DecodeRecord(rest)
		if err != nil {
			return nil, err
		}
		v.rec = r
		v.exercise = r.Exercise
	default:
		return nil, fmt.Errorf("view record: unknown kind %q", v.kind)
	}
	return v, nil
}

// feedKey orders posts newest first: the clock and the ID, inverted, so
// that a cursor walking forward goes from the newest (see meta.newer).
func feedKey(clock uint64, id envelope.Hash) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 40), ^clock)
	for _, b := range id {
		k = append(k, ^b)
	}
	return k
}

// feedID returns the post ID of a feed key.
func feedID(k []byte) envelope.Hash {
	var id envelope.Hash
	for i := range id {
		id[i] = ^k[8+i]
	}
	return id
}

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// vtx is one transaction over the views, with the key that seals them.
type vtx struct {
	tx  *replica.ViewTx
	a   *App
	rec *replica.ViewBucket
	sl  sliceCache // the sliced search index's changes (searchindex.go)
}

func (a *App) vtx(tx *replica.ViewTx) *vtx {
	return &vtx{tx: tx, a: a, rec: tx.Bucket(vbRec)}
}

func (t *vtx) b(name string) *replica.ViewBucket { return t.tx.Bucket(name) }

// term is the keyed hash of an index term, as a key part.
func (t *vtx) term(s string) []byte {
	h := t.a.vkey.Term(s)
	return h[:]
}

func (t *vtx) seal(key, plain []byte) ([]byte, error) {
	return t.a.vkey.Seal(t.a.cfg.Rand, key, plain)
}

func (t *vtx) open(key, sealed []byte) ([]byte, error) {
	return t.a.vkey.Open(key, sealed)
}

// get returns the view record of an envelope, nil when none.
func (t *vtx) get(id envelope.Hash) *viewRec {
	v := t.rec.Get(id[:])
	if v == nil {
		return nil
	}
	plain, err := t.open(cat([]byte(vbRec), id[:]), v)
	if err != nil {
		t.a.cfg.Logf("view record %s: %v", id.String()[:12], err)
		return nil
	}
	r, err := decodeView(id, plain)
	if err != nil {
		t.a.cfg.Logf("view record %s: %v", id.String()[:12], err)
		return nil
	}
	return r
}

func (t *vtx) put(v *viewRec, plain []byte) error {
	sealed, err := t.seal(cat([]byte(vbRec), v.id[:]), encodeView(v, plain))
	if err != nil {
		return err
	}
	return t.rec.Put(v.id[:], sealed)
}

// hasPrefix reports whether a bucket holds a key with the prefix.
func hasPrefix(b *replica.ViewBucket, prefix []byte) bool {
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// eachPrefix calls fn for each key with the prefix, in order, until fn
// returns false.
func eachPrefix(b *replica.ViewBucket, prefix []byte, fn func(k, v []byte) bool) {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// openViews opens or makes the view key, and drops views of another
// format. It returns the folded and removal cursors.
func (a *App) openViews() (folded, removed uint64, err error) {
	err = a.store.ViewUpdate(func(tx *replica.ViewTx) error {
		meta := tx.Bucket(vbMeta)
		f := meta.Get(metaFormat)
		sealedKey := meta.Get(metaKey)
		var key *crypto.ViewKey
		if sealedKey != nil {
			k, err := a.dev.OpenViewKey(sealedKey)
			if err != nil {
				// Another device's views (a copied home): fold again.
				a.cfg.Logf("views: %v: folding them again", err)
				sealedKey = nil
			} else {
				key = k
			}
		}
		if f == nil || len(f) != 4 || binary.BigEndian.Uint32(f) != viewFormat || sealedKey == nil {
			if f != nil {
				a.cfg.Logf("views: format %x, this program folds format %d: folding them again from the envelopes", f, viewFormat)
			}
			if err := tx.Reset(); err != nil {
				return err
			}
			meta = tx.Bucket(vbMeta)
			k, sealed, err := crypto.NewViewKey(a.cfg.Rand, a.dev)
			if err != nil {
				return err
			}
			key = k
			if err := meta.Put(metaKey, sealed); err != nil {
				return err
			}
			if err := meta.Put(metaFormat, binary.BigEndian.AppendUint32(nil, viewFormat)); err != nil {
				return err
			}
			if err := meta.Put(metaFolded, make([]byte, 8)); err != nil {
				return err
			}
			// Removals before the first fold are already missing from
			// the envelopes it folds.
			if err := meta.Put(metaRemoved, binary.BigEndian.AppendUint64(nil, a.store.LastRemoved())); err != nil {
				return err
			}
		}
		a.vkey = key
		if v := meta.Get(metaFolded); len(v) == 8 {
			folded = binary.BigEndian.Uint64(v)
		}
		if v := meta.Get(metaRemoved); len(v) == 8 {
			removed = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("open views: %w", err)
	}
	return folded, removed, nil
}

// loadViews fills what is held in memory (keys and the directory) from the
// views.
func (a *App) loadViews() error {
	a.keys = crypto.NewKeyring()
	a.epochs = map[crypto.EpochID]epochInfo{}
	a.view = newState()
	a.view.trust = a.store.Trust()
	return a.store.ViewRead(func(tx *replica.ViewTx) error {
		t := a.vtx(tx)
		var err error
		eachPrefix(t.b(vbKeys), nil, func(k, v []byte) bool {
			var plain []byte
			if plain, err = t.open(cat([]byte(vbKeys), k), v); err != nil {
				return false
			}
			g, info, ok := decodeKey(plain)
			if !ok || len(k) != len(g.Epoch) {
				err = errors.New("views: unreadable key entry")
				return false
			}
			a.keys.Add(g)
			a.epochs[g.Epoch] = info
			return true
		})
		if err != nil {
			return err
		}
		eachPrefix(t.b(vbDir), nil, func(k, _ []byte) bool {
			if v := t.get(envelope.Hash(k)); v != nil && v.rec != nil {
				a.view.record(v.meta, v.rec)
			}
			return true
		})
		return nil
	})
}

func encodeKey(g crypto.GroupKey, info epochInfo) []byte {
	b := []byte{1, byte(len(info.scope))}
	b = append(b, info.scope...)
	b = append(b, info.org[:]...)
	b = binary.BigEndian.AppendUint64(b, info.clock)
	b = append(b, g.Epoch[:]...)
	return append(b, g.Key[:]...)
}

func decodeKey(b []byte) (crypto.GroupKey, epochInfo, bool) {
	var g crypto.GroupKey
	var info epochInfo
	if len(b) < 2 || b[0] != 1 || len(b) != 2+int(b[1])+16+8+len(g.Epoch)+32 {
		return g, info, false
	}
	n := int(b[1])
	info.scope = crypto.Scope(b[2 : 2+n])
	b = b[2+n:]
	copy(info.org[:], b)
	info.clock = binary.BigEndian.Uint64(b[16:])
	b = b[24:]
	copy(g.Epoch[:], b)
	copy(g.Key[:], b[len(g.Epoch):])
	return g, info, true
}

// errBatch stops a read of the store at a full batch.
var errBatch = errors.New("batch full")

// foldLocked folds what the store holds beyond the views: removals first,
// then new envelopes, a batch per view transaction, then the envelopes
// waiting for keys that arrived. The caller holds a.mu.
func (a *App) foldLocked() error {
	a.view.trust = a.store.Trust()
	if err := a.foldRemovals(); err != nil {
		return a.reloadAfter(err)
	}
	var newEpochs []crypto.EpochID
	// A long fold says how it goes (read only where someone listens: this
	// runs after every commit).
	progress := a.cfg.Progress
	first, last := a.folded, a.folded
	if progress != nil {
		if last = a.store.LastSeq(); last-first < progressAbove {
			progress = nil
		}
	}
	for {
		// Fold only what the trust state covers: the rest comes with the
		// next change signal, which fires once the store's trust state
		// holds it.
		trust, upto := a.store.TrustAt()
		a.view.trust = trust
		var batch []*envelope.Envelope
		var seqs []uint64
		err := a.store.Since(a.folded, func(seq uint64, e *envelope.Envelope) error {
			if len(batch) == foldBatch || seq > upto {
				return errBatch
			}
			batch = append(batch, e)
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil && !errors.Is(err, errBatch) {
			return fmt.Errorf("read store: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		// A batch ends at an envelope that brings a key: what that key
		// opens is folded before anything after it (an author's profile
		// before the posts whose search terms name them), so that the
		// views do not depend on where batches happen to end (a fresh
		// fold, an incremental one, a crash between the two steps:
		// openAndCatchUp opens what is locked under a held key first).
		n := len(batch)
		var keyed []crypto.EpochID
		err = a.store.ViewUpdate(func(tx *replica.ViewTx) error {
			t := a.vtx(tx)
			for i, e := range batch {
				eps, err := t.fold(e, trust)
				if err != nil {
					return err
				}
				if len(eps) > 0 {
					keyed = eps
					n = i + 1
					break
				}
			}
			if err := t.flushSlices(); err != nil {
				return err
			}
			return tx.Bucket(vbMeta).Put(metaFolded, binary.BigEndian.AppendUint64(nil, seqs[n-1]))
		})
		if err != nil {
			return a.reloadAfter(err)
		}
		a.folded = seqs[n-1]
		a.walked(n)
		if len(keyed) > 0 {
			if err := a.reopenLocked(keyed, trust); err != nil {
				return a.reloadAfter(err)
			}
		}
		select {
		case <-a.stop:
			return nil // closing: the next open goes on from here
		default:
		}
		if progress != nil {
			progress(min(a.folded, last)-first, last-first)
		}
		if n == len(batch) && len(batch) < foldBatch {
			break
		}
	}
	adopted, err := a.adoptGrants(a.view.trust)
	if err != nil {
		return a.reloadAfter(err)
	}
	newEpochs = append(newEpochs, adopted...)
	if len(newEpochs) > 0 {
		if err := a.reopenLocked(newEpochs, a.view.trust); err != nil {
			return a.reloadAfter(err)
		}
	}
	return nil
}

// reloadAfter brings memory back in line with the views after a failed
// view transaction (the keys and directory it added in memory were not
// committed), and returns err.
func (a *App) reloadAfter(err error) error {
	a.exportGen++
	folded, removed, oerr := a.openViews()
	if oerr == nil {
		a.folded, a.removed = folded, removed
		oerr = a.loadViews()
	}
	if oerr != nil {
		a.cfg.Logf("views: reload: %v", oerr)
	}
	return fmt.Errorf("fold views: %w", err)
}

// foldRemovals takes out of the views the envelopes the store removed
// since the last fold (a revocation's purge, a forked chain's tail), a
// batch per view transaction.
func (a *App) foldRemovals() error {
	last := a.store.LastRemoved()
	for a.removed < last {
		type removal struct {
			n  uint64
			id envelope.Hash
		}
		var batch []removal
		err := a.store.RemovedSince(a.removed, func(n uint64, id envelope.Hash) error {
			if len(batch) == foldBatch || n > last {
				return errBatch
			}
			batch = append(batch, removal{n, id})
			return nil
		})
		if err != nil && !errors.Is(err, errBatch) {
			return err
		}
		// Entries of envelopes stored again are skipped by the store: the
		// cursor still moves to the end when none is left.
		upto := last
		if len(batch) == foldBatch {
			upto = batch[len(batch)-1].n
		}
		err = a.store.ViewUpdate(func(tx *replica.ViewTx) error {
			t := a.vtx(tx)
			for _, r := range batch {
				if err := t.remove(r.id); err != nil {
					return err
				}
			}
			return tx.Bucket(vbMeta).Put(metaRemoved, binary.BigEndian.AppendUint64(nil, upto))
		})
		if err != nil {
			return err
		}
		a.removed = upto
	}
	return nil
}

// reopenLocked tries again the sealed envelopes that wait for the keys of
// epochs, reading each from the store.
func (a *App) reopenLocked(epochs []crypto.EpochID, trust *crypto.Trust) error {
	for len(epochs) > 0 {
		var ids []envelope.Hash
		if err := a.store.ViewRead(func(tx *replica.ViewTx) error {
			seen := map[envelope.Hash]bool{}
			for _, ep := range epochs {
				eachPrefix(tx.Bucket(vbLocked), ep[:], func(k, _ []byte) bool {
					id := envelope.Hash(k[len(ep):])
					if !seen[id] {
						seen[id] = true
						ids = append(ids, id)
					}
					return true
				})
			}
			return nil
		}); err != nil {
			return err
		}
		epochs = nil
		for start := 0; start < len(ids); start += foldBatch {
			part := ids[start:min(start+foldBatch, len(ids))]
			var envs []*envelope.Envelope
			for _, id := range part {
				e, err := a.store.Get(id)
				if err != nil || e.Payload == nil {
					e = nil // removed, or its payload dropped: nothing to open
				}
				envs = append(envs, e)
			}
			err := a.store.ViewUpdate(func(tx *replica.ViewTx) error {
				t := a.vtx(tx)
				for i, e := range envs {
					if e == nil {
						if err := t.unlock(part[i], nil); err != nil {
							return err
						}
						continue
					}
					opened, eps, err := t.openAndFold(e, trust)
					if err != nil {
						return err
					}
					epochs = append(epochs, eps...)
					if opened {
						if err := t.unlock(part[i], e.Header.Epochs); err != nil {
							return err
						}
					}
				}
				return t.flushSlices()
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// unlock removes an envelope from the locked index, under the epochs
// given, or under every epoch it waits for (nil).
func (t *vtx) unlock(id envelope.Hash, epochs []crypto.EpochID) error {
	if epochs == nil {
		eachPrefix(t.b(vbLockedBy), id[:], func(k, _ []byte) bool {
			epochs = append(epochs, crypto.EpochID(k[len(id):]))
			return true
		})
	}
	for _, ep := range epochs {
		if err := t.b(vbLocked).Delete(cat(ep[:], id[:])); err != nil {
			return err
		}
		if err := t.b(vbLockedBy).Delete(cat(id[:], ep[:])); err != nil {
			return err
		}
	}
	return nil
}

// fold folds one envelope into the views and returns the epochs whose keys
// it brought (records locked under them may open now).
func (t *vtx) fold(e *envelope.Envelope, trust *crypto.Trust) ([]crypto.EpochID, error) {
	a := t.a
	h := e.Header
	if h.Class != envelope.ClassSealed {
		a.exportGen++ // a certificate may change who counts as what
	}
	switch h.Class {
	case envelope.ClassCertificate:
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil {
			return nil, nil
		}
		kg := c.KeyGrant
		if kg == nil {
			return nil, nil
		}
		g, ok, err := a.dev.OpenGrant(kg)
		if err != nil {
			a.cfg.Logf("key grant %s: %v", h.ID().String()[:12], err)
		}
		// A key counts only when it matches the commitment the community
		// agreed for its epoch (see crypto.Trust): a second, different
		// key under a real epoch is ignored, even when it arrives first.
		if !ok || a.keys.Has(g.Epoch) {
			return nil, nil
		}
		ei := epochInfo{scope: kg.Scope, org: kg.Org, clock: h.Clock}
		info, known := trust.Epoch(g.Epoch)
		if !known || info.Commitment != kg.Commitment {
			// Not (yet) what the community agreed for this epoch: kept
			// aside, and taken when the trust state agrees it (a grant
			// can arrive, or be judged, before what makes it count).
			return nil, t.putPendingGrant(g, ei, kg.Commitment)
		}
		sealed, err := t.seal(cat([]byte(vbKeys), g.Epoch[:]), encodeKey(g, ei))
		if err != nil {
			return nil, err
		}
		if err := t.b(vbKeys).Put(g.Epoch[:], sealed); err != nil {
			return nil, err
		}
		a.keys.Add(g)
		a.epochs[g.Epoch] = ei
		// A transport key opens no record: nothing locked moves.
		if kg.Scope == crypto.ScopeTransport {
			return nil, nil
		}
		return []crypto.EpochID{g.Epoch}, nil
	case envelope.ClassRetraction:
		r, err := crypto.DecodeRetraction(e.Payload)
		if err != nil {
			return nil, nil
		}
		v := &viewRec{meta: metaOf(h, ""), kind: kindRetraction, target: r.Target}
		if len(r.SealedReason) > 0 {
			if b, err := crypto.OpenFrom(r.SealedReason, 64<<10, a.keys); err == nil {
				v.reason = string(b)
			}
		}
		return nil, t.retract(v)
	case envelope.ClassSealed:
		if e.Payload == nil {
			return nil, nil
		}
		opened, eps, err := t.openAndFold(e, trust)
		if err != nil || opened {
			return eps, err
		}
		// Only an envelope sealed to a group key epoch may open later
		// (when that key arrives); one addressed to other devices never
		// will, and a relay holds no group key at all.
		if len(h.Epochs) > 0 && !a.isRelay(trust) {
			id := h.ID()
			for _, ep := range h.Epochs {
				if err := t.b(vbLocked).Put(cat(ep[:], id[:]), nil); err != nil {
					return nil, err
				}
				if err := t.b(vbLockedBy).Put(cat(id[:], ep[:]), nil); err != nil {
					return nil, err
				}
			}
		}
	}
	return nil, nil
}

// putPendingGrant keeps a key granted to this device that the trust state
// does not agree yet (see adoptGrants).
func (t *vtx) putPendingGrant(g crypto.GroupKey, ei epochInfo, commitment [32]byte) error {
	k := cat(g.Epoch[:], commitment[:])
	sealed, err := t.seal(cat([]byte(vbPGrants), k), encodeKey(g, ei))
	if err != nil {
		return err
	}
	return t.b(vbPGrants).Put(k, sealed)
}

// adoptGrants takes the keys kept aside whose epoch the trust state now
// agrees, and returns the epochs whose records may open now.
func (a *App) adoptGrants(trust *crypto.Trust) ([]crypto.EpochID, error) {
	var epochs []crypto.EpochID
	err := a.store.ViewUpdate(func(tx *replica.ViewTx) error {
		t := a.vtx(tx)
		b := t.b(vbPGrants)
		type entry struct{ k, v []byte }
		var all []entry
		eachPrefix(b, nil, func(k, v []byte) bool {
			all = append(all, entry{bytes.Clone(k), bytes.Clone(v)})
			return true
		})
		for _, e := range all {
			var ep crypto.EpochID
			var commitment [32]byte
			if len(e.k) != len(ep)+len(commitment) {
				continue
			}
			copy(ep[:], e.k)
			copy(commitment[:], e.k[len(ep):])
			if a.keys.Has(ep) {
				if err := b.Delete(e.k); err != nil {
					return err
				}
				continue
			}
			info, known := trust.Epoch(ep)
			if !known || info.Commitment != commitment {
				continue
			}
			plain, err := t.open(cat([]byte(vbPGrants), e.k), e.v)
			if err != nil {
				continue
			}
			g, ei, ok := decodeKey(plain)
			if !ok || g.Epoch != ep {
				continue
			}
			sealed, err := t.seal(cat([]byte(vbKeys), ep[:]), plain)
			if err != nil {
				return err
			}
			if err := t.b(vbKeys).Put(ep[:], sealed); err != nil {
				return err
			}
			if err := b.Delete(e.k); err != nil {
				return err
			}
			a.keys.Add(g)
			a.epochs[ep] = ei
			if ei.scope != crypto.ScopeTransport {
				epochs = append(epochs, ep)
			}
		}
		return nil
	})
	return epochs, err
}

// openAndFold opens a sealed envelope and folds its record; false when
// this device holds no key for it (yet).
func (t *vtx) openAndFold(e *envelope.Envelope, trust *crypto.Trust) (bool, []crypto.EpochID, error) {
	a := t.a
	plain, err := crypto.Open(e, a.dev.Identity(), a.keys)
	if errors.Is(err, crypto.ErrNotForMe) {
		return false, nil, nil
	}
	if err != nil {
		a.cfg.Logf("open %s: %v", e.Header.ID().String()[:12], err)
		return true, nil, nil
	}
	rec, err := DecodeRecord(plain)
	if err != nil {
		a.cfg.Logf("record %s: %v", e.Header.ID().String()[:12], err)
		return true, nil, nil
	}
	return true, nil, t.record(&viewRec{meta: metaOf(e.Header, rec.Exercise), kind: kindRecord, rec: rec}, plain, trust)
}

// myPerson returns this device's person, zero before it joined.
func (a *App) myPerson(trust *crypto.Trust) crypto.ID16 {
	m, _ := trust.Member(a.dev.ID())
	return m.Person
}

// record folds one opened record into the views.
func (t *vtx) record(v *viewRec, plain []byte, trust *crypto.Trust) error {
	r := v.rec
	if r.Reads == nil && r.Chunk == nil && r.Activity == nil {
		t.a.exportGen++
	}
	if v.exercise != "" {
		return t.foldExercise(v, plain, trust)
	}
	return t.foldRecord(v, plain, trust)
}

// foldRecord folds one opened record of real (not exercise) traffic.
func (t *vtx) foldRecord(v *viewRec, plain []byte, trust *crypto.Trust) error {
	r := v.rec
	id := v.id
	switch {
	case r.Chunk != nil:
		// Attachment parts are read from the store when saved.
		return nil
	case r.Community != nil, r.Org != nil, r.Member != nil, r.Contacts != nil, r.Revocation != nil,
		r.Assets != nil, r.OrgSettings != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		t.a.view.record(v.meta, r)
		return t.b(vbDir).Put(id[:], nil)
	case r.Post != nil:
		if hasPrefix(t.b(vbRetracted), id[:]) {
			return nil // retracted before it was opened here: nothing to keep
		}
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.indexPost(v, trust)
	case r.Comment != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbKids).Put(cat(r.Comment.Post[:], id[:]), nil)
	case r.Incident != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbIncidents).Put(id[:], nil)
	case r.IncidentUpdate != nil:
		return t.foldIncidentUpdate(v, plain)
	case r.Activity != nil:
		return t.foldActivity(v, plain)
	case r.ExerciseRun != nil:
		return t.foldExerciseRun(v, plain)
	case r.Reads != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.foldReads(v, trust)
	}
	return nil
}

// postTerms are the filter terms of a post, in the ix bucket.
func postTerms(r *PostRecord) []string {
	return []string{"type=" + string(r.Type), "tag=" + string(r.Tag), "tlp=" + string(r.TLP), "channel=" + string(r.Channel)}
}

// indexPost numbers a newly folded post in the search slices, then lists
// it, or, when it stands for an outside source, files it as a version of
// that source, which lists the version to show (sources.go).
func (t *vtx) indexPost(v *viewRec, trust *crypto.Trust) error {
	terms := t.terms(v)
	if err := t.slicePost(feedKey(v.clock, v.id), terms); err != nil {
		return err
	}
	if group := sourceOf(v); group != "" {
		return t.addVersion(v, group)
	}
	return t.listPost(v, terms)
}

// listPost adds a post to the feed, its filters and, when nobody of this
// device's person read it, the unread list. terms are its search terms (nil:
// worked out here).
func (t *vtx) listPost(v *viewRec, terms []termHash) error {
	p := v.rec.Post
	fk := feedKey(v.clock, v.id)
	if terms == nil {
		terms = t.terms(v)
	}
	if err := t.b(vbFeed).Put(fk, newSignature(terms)); err != nil {
		return err
	}
	for _, term := range postTerms(p) {
		if err := t.b(vbIx).Put(cat(t.term(term), fk), nil); err != nil {
			return err
		}
	}
	me := t.a.myPerson(t.a.view.trust)
	if v.author == t.a.dev.ID() || (!me.IsZero() && hasPrefix(t.b(vbReads), cat(v.id[:], t.term("person="+string(me[:]))))) {
		return nil
	}
	return t.b(vbUnread).Put(fk, nil)
}

// unindexPost takes a post out of the feed, its filters and the unread list.
func (t *vtx) unindexPost(v *viewRec) error {
	fk := feedKey(v.clock, v.id)
	for _, term := range postTerms(v.rec.Post) {
		if err := t.b(vbIx).Delete(cat(t.term(term), fk)); err != nil {
			return err
		}
	}
	if err := t.b(vbUnread).Delete(fk); err != nil {
		return err
	}
	return t.b(vbFeed).Delete(fk)
}

// terms returns the keyed hashes of a post's search terms: its title,
// body, indicators (plain and defanged) and author's name.
func (t *vtx) terms(v *viewRec) []termHash {
	p := v.rec.Post
	terms := map[string]struct{}{}
	indexTerms(p.Title, terms)
	indexTerms(p.Body, terms)
	indexTerms(t.a.view.deviceName(v.author), terms)
	for _, in := range p.Indicators {
		indexTerms(in.Value, terms)
	}
	hs := make([]termHash, 0, len(terms))
	for term := range terms {
		hs = append(hs, splitTerm(t.a.vkey.Term(term)))
	}
	return hs
}

// readKey is a read receipt's key: post, reader's person, reader's device.
func (t *vtx) readKey(post envelope.Hash, person crypto.ID16, dev crypto.DeviceID) []byte {
	return cat(post[:], t.term("person="+string(person[:])), t.term("device="+string(dev[:])))
}

// foldReads records, per post, the first time the author device read it.
func (t *vtx) foldReads(v *viewRec, trust *crypto.Trust) error {
	m, _ := trust.Member(v.author)
	me := t.a.myPerson(trust)
	if err := t.putReadsBy(v.author, v.id); err != nil {
		return err
	}
	for _, post := range v.rec.Reads.Posts {
		k := t.readKey(post, m.Person, v.author)
		if old := t.b(vbReads).Get(k); old != nil {
			if _, c, ok := t.openRead(k, old); ok && c <= v.clock {
				continue
			}
		}
		if err := t.putRead(k, v.author, v.clock); err != nil {
			return err
		}
		if !me.IsZero() && m.Person == me {
			if err := t.markRead(post); err != nil {
				return err
			}
		}
	}
	return nil
}

// putReadsBy lists a read receipt under its device, both as keyed hashes:
// nothing on the disk says which device read what.
func (t *vtx) putReadsBy(dev crypto.DeviceID, id envelope.Hash) error {
	k := cat(t.term("device="+string(dev[:])), t.term("reads="+string(id[:])))
	sealed, err := t.seal(cat([]byte(vbReadsBy), k), id[:])
	if err != nil {
		return err
	}
	return t.b(vbReadsBy).Put(k, sealed)
}

func (t *vtx) putRead(k []byte, dev crypto.DeviceID, clock uint64) error {
	sealed, err := t.seal(cat([]byte(vbReads), k), binary.BigEndian.AppendUint64(bytes.Clone(dev[:]), clock))
	if err != nil {
		return err
	}
	return t.b(vbReads).Put(k, sealed)
}

func (t *vtx) openRead(k, v []byte) (crypto.DeviceID, uint64, bool) {
	var d crypto.DeviceID
	plain, err := t.open(cat([]byte(vbReads), k), v)
	if err != nil || len(plain) != len(d)+8 {
		return d, 0, false
	}
	copy(d[:], plain)
	return d, binary.BigEndian.Uint64(plain[len(d):]), true
}

// markRead takes a post this device's person read off the unread list.
func (t *vtx) markRead(post envelope.Hash) error {
	p := t.get(post)
	if p == nil || p.rec == nil || p.rec.Post == nil {
		return nil
	}
	return t.b(vbUnread).Delete(feedKey(p.clock, p.id))
}

// retract folds a retraction: the target's content leaves the views (as
// its payload leaves the store), and the retraction is kept to say who
// retracted it, when and why.
func (t *vtx) retract(v *viewRec) error {
	t.a.exportGen++
	if err := t.put(v, nil); err != nil {
		return err
	}
	if err := t.b(vbRetracted).Put(cat(v.target[:], v.id[:]), nil); err != nil {
		return err
	}
	// Whatever its kind (a post, a comment, an incident, a receipt), its
	// content goes, as its payload goes from the store.
	if target := t.get(v.target); target == nil || target.kind != kindRecord {
		return nil
	}
	return t.remove(v.target)
}

// remove takes an envelope the store removed out of the views.
func (t *vtx) remove(id envelope.Hash) error {
	t.a.exportGen++
	v := t.get(id)
	if err := t.unlock(id, nil); err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	if err := t.rec.Delete(id[:]); err != nil {
		return err
	}
	if v.kind == kindRetraction {
		return t.b(vbRetracted).Delete(cat(v.target[:], id[:]))
	}
	if v.exercise != "" {
		return t.unfoldExercise(v)
	}
	r := v.rec
	switch {
	case r.Community != nil, r.Org != nil, r.Member != nil, r.Contacts != nil, r.Revocation != nil,
		r.Assets != nil, r.OrgSettings != nil:
		t.a.view.forget(id)
		return t.b(vbDir).Delete(id[:])
	case r.Post != nil:
		if err := t.unindexPost(v); err != nil {
			return err
		}
		if group := sourceOf(v); group != "" {
			return t.dropVersion(v, group)
		}
		return nil
	case r.Comment != nil:
		return t.b(vbKids).Delete(cat(r.Comment.Post[:], id[:]))
	case r.Incident != nil:
		return t.b(vbIncidents).Delete(id[:])
	case r.IncidentUpdate != nil:
		if err := t.b(vbAsked).Delete(cat(r.IncidentUpdate.Incident[:], id[:])); err != nil {
			return err
		}
		return t.b(vbKids).Delete(cat(r.IncidentUpdate.Incident[:], id[:]))
	case r.Reads != nil:
		return t.unfoldReads(v)
	case r.Activity != nil:
		return t.unfoldActivity(v)
	}
	return nil
}

// unfoldReads takes a removed read receipt out: each post it listed gets
// its reader's first read again from the device's other receipts.
func (t *vtx) unfoldReads(v *viewRec) error {
	trust := t.a.view.trust
	m, _ := trust.Member(v.author)
	by := t.term("device=" + string(v.author[:]))
	if err := t.b(vbReadsBy).Delete(cat(by, t.term("reads="+string(v.id[:])))); err != nil {
		return err
	}
	var others []*viewRec
	eachPrefix(t.b(vbReadsBy), by, func(k, val []byte) bool {
		plain, err := t.open(cat([]byte(vbReadsBy), k), val)
		if err != nil || len(plain) != len(envelope.Hash{}) {
			return true
		}
		if o := t.get(envelope.Hash(plain)); o != nil && o.rec != nil && o.rec.Reads != nil {
			others = append(others, o)
		}
		return true
	})
	me := t.a.myPerson(trust)
	for _, post := range v.rec.Reads.Posts {
		k := t.readKey(post, m.Person, v.author)
		var first uint64
		found := false
		for _, o := range others {
			for _, p := range o.rec.Reads.Posts {
				if p == post && (!found || o.clock < first) {
					first, found = o.clock, true
				}
			}
		}
		if found {
			if err := t.putRead(k, v.author, first); err != nil {
				return err
			}
			continue
		}
		if err := t.b(vbReads).Delete(k); err != nil {
			return err
		}
		if me.IsZero() || m.Person != me || hasPrefix(t.b(vbReads), cat(post[:], t.term("person="+string(me[:])))) {
			continue
		}
		if p := t.get(post); p != nil && p.rec != nil && p.rec.Post != nil && p.author != t.a.dev.ID() {
			if err := t.b(vbUnread).Put(feedKey(p.clock, p.id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

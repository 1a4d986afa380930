package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The buckets of formats 1 and 2 that format 3 replaces: the local log
// (local seq -> header ID), headers by header ID (local seq || header
// encoding) and payloads by header ID.
var (
	bOldLog      = []byte("log")
	bOldHeaders  = []byte("headers")
	bOldPayloads = []byte("payloads")
)

var (
	// kFormat is the meta key of the store's format.
	kFormat = []byte("format")
	// kMigrating marks a migration under way: the format it started from
	// (u32) and the last local sequence number copied (u64). The format is
	// already FormatVersion, so that an older program refuses the store
	// rather than writing to the old buckets.
	kMigrating = []byte("migrating")
)

// migrateBatch and migrateBatchBytes bound what one transaction of a
// migration copies, so that a big store migrates in bounded memory. A
// variable for tests.
var (
	migrateBatch      = 4096
	migrateBatchBytes = 16 << 20
)

// migrateHook, when set (by tests), runs after each committed batch of a
// migration; an error stops the migration there, as a kill would.
var migrateHook func(batch int) error

// prepare checks the store's format: it makes the buckets of a new store,
// refuses a newer format or an old one that cannot be migrated, and
// migrates (or goes on migrating) an older one.
func prepare(db *bolt.DB, logf func(string, ...any)) error {
	migrating := false
	err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		f := uint32(FormatVersion)
		if v := meta.Get(kFormat); v != nil {
			if len(v) != 4 {
				return fmt.Errorf("unreadable store format %x", v)
			}
			f = binary.BigEndian.Uint32(v)
		}
		if f > FormatVersion {
			return fmt.Errorf("this home was written by a newer Noroshi (store format %d, this program reads up to %d): upgrade Noroshi", f, FormatVersion)
		}
		if f < 2 {
			if certs := tx.Bucket(bCerts); certs != nil {
				if k, _ := certs.Cursor().First(); k != nil {
					return fmt.Errorf("%w: this home's community was made before the insider-safe trust rules (store format %d): its certificates cannot be checked by them; make a new home (--home DIR) and ask a coordinator for a new invite", ErrOldFormat, f)
				}
			}
		}
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if f < FormatVersion {
			// The first transaction of a migration: nothing copied yet.
			if err := meta.Put(kMigrating, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, f), 0)); err != nil {
				return err
			}
		}
		migrating = meta.Get(kMigrating) != nil
		return meta.Put(kFormat, binary.BigEndian.AppendUint32(nil, FormatVersion))
	})
	if err != nil || !migrating {
		return err
	}
	return migrate(db, logf)
}

// migrate copies the envelopes of the old layout (formats 1 and 2) into
// format 3's buckets, in batches of one transaction each, keeping every
// local sequence number (so that a consumer's cursor in the local log
// stays valid), then deletes the old buckets in the last batch's
// transaction. Each batch records how far it got: a migration stopped
// anywhere (a kill, a full disk) goes on from the last committed batch at
// the next open. Every other bucket keeps its layout: chains, authors,
// certs (keyed by local sequence already), retracted, forks, refusals,
// local, wanted, and the views of app.
func migrate(db *bolt.DB, logf func(string, ...any)) error {
	total := 0
	for batch := 1; ; batch++ {
		done := false
		n := 0
		err := db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bMeta)
			v := meta.Get(kMigrating)
			if len(v) != 12 {
				return fmt.Errorf("unreadable migration mark %x", v)
			}
			from := binary.BigEndian.Uint32(v)
			after := binary.BigEndian.Uint64(v[4:])
			headers, payloads, ids := tx.Bucket(bHeaders), tx.Bucket(bPayloads), tx.Bucket(bIDs)
			headers.FillPercent, payloads.FillPercent = 1, 1
			oldLog, oldHeaders, oldPayloads := tx.Bucket(bOldLog), tx.Bucket(bOldHeaders), tx.Bucket(bOldPayloads)
			size := 0
			more := false
			if oldLog != nil && oldHeaders != nil {
				c := oldLog.Cursor()
				for k, id := c.Seek(seqKey(after + 1)); k != nil; k, id = c.Next() {
					if n >= migrateBatch || size >= migrateBatchBytes {
						more = true
						break
					}
					if len(k) != 8 || len(id) != 32 {
						return fmt.Errorf("unreadable entry %x of the local log", k)
					}
					hv := oldHeaders.Get(id)
					if len(hv) < 8 || !bytes.Equal(hv[:8], k) {
						// A log entry without its header: nothing to copy.
						logf("store migration: local seq %d names envelope %x, which is not stored: skipped", binary.BigEndian.Uint64(k), id[:6])
						after = binary.BigEndian.Uint64(k)
						continue
					}
					sk := bytes.Clone(k)
					if err := headers.Put(sk, bytes.Clone(hv[8:])); err != nil {
						return err
					}
					size += len(hv)
					if oldPayloads != nil {
						if p := oldPayloads.Get(id); p != nil {
							if err := payloads.Put(sk, bytes.Clone(p)); err != nil {
								return err
							}
							size += len(p)
						}
					}
					if err := ids.Put(bytes.Clone(id), sk); err != nil {
						return err
					}
					after = binary.BigEndian.Uint64(k)
					n++
				}
			}
			if more {
				return meta.Put(kMigrating, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, from), after))
			}
			// The last batch: the next local sequence number follows the
			// old log's; the old buckets go.
			if oldLog != nil && oldLog.Sequence() > headers.Sequence() {
				if err := headers.SetSequence(oldLog.Sequence()); err != nil {
					return err
				}
			}
			for _, b := range [][]byte{bOldLog, bOldHeaders, bOldPayloads} {
				if tx.Bucket(b) != nil {
					if err := tx.DeleteBucket(b); err != nil {
						return err
					}
				}
			}
			done = true
			return meta.Delete(kMigrating)
		})
		if err != nil {
			return fmt.Errorf("migrate the store to format %d: %w", FormatVersion, err)
		}
		total += n
		if done {
			if total > 0 {
				logf("store migrated to format %d: %d envelopes", FormatVersion, total)
			}
			return nil
		}
		if migrateHook != nil {
			if err := migrateHook(batch); err != nil {
				return err
			}
		}
	}
}

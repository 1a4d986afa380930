package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// What `noroshi check` asks of the store file: bbolt's own consistency
// check (every page reachable once, or free; no page beyond the high water
// mark; keys in order), on the open store or on a file nobody holds.

// errRollback ends a check's read-write transaction without a commit.
var errRollback = errors.New("rollback")

// Check runs bbolt's consistency check over the open store and returns
// what it found, at most max findings (none: the file is sound). It runs
// in a read-write transaction that it rolls back, so that writers wait
// for it (bbolt's check reads the free list, which a writer changes).
func (s *Store) Check(max int) []string {
	var found []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		found = drainCheck(tx, max)
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		found = append(found, err.Error())
	}
	return found
}

// Count returns the number of envelopes held.
func (s *Store) Count() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bHeaders).Stats().KeyN
		return nil
	})
	return n
}

// drainCheck reads every finding of tx.Check, keeping the first max.
func drainCheck(tx *bolt.Tx, max int) []string {
	var found []string
	n := 0
	for err := range tx.Check() {
		n++
		if len(found) < max {
			found = append(found, err.Error())
		}
	}
	if n > len(found) {
		found = append(found, fmt.Sprintf("and %d more", n-len(found)))
	}
	return found
}

// CheckFile checks a store file that no process holds (nothing is
// written to it): its meta pages, that it is not shorter than its pages
// reach (a truncated copy), then bbolt's consistency check. It returns
// the findings, at most max (none: the file is sound); err says why the
// file could not be checked at all (missing, held by another process).
// A damaged file gives findings, never a panic.
func CheckFile(path string, max int) (found []string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store file: %w", err)
	}
	if f := checkMeta(path, fi.Size()); f != "" {
		return []string{f}, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return []string{fmt.Sprintf("bbolt cannot open it: %v", err)}, nil
	}
	defer db.Close()
	return checkNoPanic(db, max), nil
}

// checkNoPanic runs the check, turning a panic or a memory fault while
// reading a damaged page into a finding.
func checkNoPanic(db *bolt.DB, max int) (found []string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			found = append(found, fmt.Sprintf("reading the file failed: %v", r))
		}
	}()
	err := db.View(func(tx *bolt.Tx) error {
		found = drainCheck(tx, max)
		return nil
	})
	if err != nil {
		found = append(found, err.Error())
	}
	return found
}

// bbolt's meta page, after the 16-byte page header: magic, version, page
// size, flags, root bucket (page, sequence), free list page, high water
// mark (pages in use), transaction ID, checksum (FNV-64a of what comes
// before it), all little-endian on the platforms Noroshi builds for.
const (
	boltMagic    = 0xED0CDAED
	boltMetaSize = 16 + 64
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// readMeta reads the meta page at off; ok is false when it is not a valid
// one (torn, or not bbolt).
func readMeta(f io.ReaderAt, off int64) (boltMeta, bool) {
	b := make([]byte, boltMetaSize)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return boltMeta{}, false
	}
	le := binary.LittleEndian
	if le.Uint32(b[16:]) != boltMagic || le.Uint32(b[20:]) != 2 {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[16:72])
	if h.Sum64() != le.Uint64(b[72:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(b[24:]), pgid: le.Uint64(b[56:]), txid: le.Uint64(b[64:])}, true
}

// checkMeta returns a finding when neither meta page is valid or the file
// is shorter than the pages the valid one says are in use ("" when fine).
// bbolt maps the file and would fault reading past its end.
func checkMeta(path string, size int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("cannot read it: %v", err)
	}
	defer f.Close()
	return checkMetaOf(f, size)
}

// checkMetaOf is checkMeta of a file's contents.
func checkMetaOf(f io.ReaderAt, size int64) string {
	m0, ok0 := readMeta(f, 0)
	ps := int64(os.Getpagesize())
	if ok0 && m0.pageSize >= 512 && m0.pageSize <= 1<<16 {
		ps = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, ps)
	var m boltMeta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return fmt.Sprintf("neither of its two meta pages is valid (%d bytes): not a store file, or damaged", size)
	}
	if m.pageSize < 512 || m.pageSize > 1<<16 {
		return fmt.Sprintf("its meta page gives a page size of %d bytes: damaged", m.pageSize)
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return fmt.Sprintf("it is truncated: %d bytes, its pages reach %d", size, need)
	}
	return ""
}

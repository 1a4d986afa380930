package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"noroshi/replica"
)

// A home's own consistency check (`noroshi check`): the store file is
// sound by bbolt's check, and the views equal a fresh fold of the
// envelopes. The fresh fold goes into a throwaway copy of the store (one
// read transaction's snapshot, in a temporary directory) with the same
// view key, so that index keys (keyed hashes) compare as they are and
// sealed values compare by what they open to, not by their ciphertext.

// ErrDamaged is what a failed check wraps: the store file or the views
// are not what they must be.
var ErrDamaged = errors.New("check failed")

// maxCheckFindings bounds the bolt findings and view differences reported.
const maxCheckFindings = 20

// CheckReport is what a home's check found (`noroshi --json check`).
type CheckReport struct {
	// Envelopes is the number of envelopes held.
	Envelopes int `json:"envelopes"`
	// SetDigest is the store's set digest (equal sets, equal digests).
	SetDigest string `json:"set_digest"`
	// ViewsDigest is a SHA-256 over the views' decoded contents. It
	// depends on this device's view key: equal to a fresh fold of the
	// same envelopes on this device, not comparable across devices.
	ViewsDigest string `json:"views_digest"`
	// ViewsMatchFold says the stored views equal a fresh fold.
	ViewsMatchFold bool `json:"views_match_fold"`
	// BoltOK says bbolt's consistency check found nothing; BoltErrors is
	// what it found (at most 20 and a count of the rest).
	BoltOK     bool     `json:"bolt_ok"`
	BoltErrors []string `json:"bolt_errors"`
	// Pending is the number of envelopes held back waiting for a
	// predecessor, a membership or a target.
	Pending int `json:"pending"`
	// ViewDifferences names the first entries where the views and the
	// fresh fold differ (view bucket and key, never content).
	ViewDifferences []string `json:"view_differences,omitempty"`
}

// Err returns nil when the home is sound, else an error (wrapping
// ErrDamaged) that says what is wrong and what to do.
func (r CheckReport) Err() error {
	switch {
	case !r.BoltOK:
		return fmt.Errorf("%w: the store file fails bbolt's check: %s: restore the home from a backup, or join again and let peers send everything back", ErrDamaged, firstOf(r.BoltErrors))
	case !r.ViewsMatchFold:
		return fmt.Errorf("%w: views differ from a fresh fold: %s: report this as a bug; `noroshi check` on a copy shows it again, and removing the views (a newer release folds them again) repairs it", ErrDamaged, firstOf(r.ViewDifferences))
	}
	return nil
}

func firstOf(s []string) string {
	switch len(s) {
	case 0:
		return "(no detail)"
	case 1:
		return s[0]
	}
	return fmt.Sprintf("%s (and %d more)", s[0], len(s)-1)
}

// CheckStoreFile runs bbolt's check on the store file of a home that no
// process holds, before anything opens it: a damaged file gives a report
// with BoltOK false (and nothing else filled in), never a panic. A sound
// file gives a nil report: open the home and call App.Check.
func CheckStoreFile(home string) (*CheckReport, error) {
	found, err := replica.CheckFile(filepath.Join(home, StoreFileName), maxCheckFindings)
	if errors.Is(err, replica.ErrLocked) {
		return nil, fmt.Errorf("%w: %s: run the check through it (it answers on its control socket) or stop it", err, home)
	}
	if err != nil {
		return nil, fmt.Errorf("check the store file: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	return &CheckReport{BoltErrors: found, ViewsDigest: "", SetDigest: ""}, nil
}

// Check checks the home: bbolt's consistency check of the store file,
// the set digest, and the views against a fresh fold of every envelope
// (both taken from one snapshot of the store, the views caught up as the
// next open would). It changes nothing in the home.
func (a *App) Check() (CheckReport, error) {
	r := CheckReport{BoltErrors: a.store.Check(maxCheckFindings)}
	r.BoltOK = len(r.BoltErrors) == 0
	if r.BoltErrors == nil {
		r.BoltErrors = []string{}
	}
	r.Envelopes = a.store.Count()
	d := a.store.Digest()
	r.SetDigest = hex.EncodeToString(d[:])
	for _, n := range a.store.Pending() {
		r.Pending += n
	}
	if !r.BoltOK {
		r.ViewDifferences = []string{"not compared: the store file is damaged"}
		return r, nil
	}
	digest, diffs, err := a.compareFreshFold()
	if err != nil {
		return r, fmt.Errorf("check the views: %w", err)
	}
	r.ViewsDigest = hex.EncodeToString(digest[:])
	r.ViewDifferences = diffs
	r.ViewsMatchFold = len(diffs) == 0
	return r, nil
}

// compareFreshFold copies the store, opens the copy as the next open
// would (the views caught up) and a second copy whose views are folded
// afresh with the same view key, and compares their decoded views. It
// returns the stored views' digest and the first differences.
func (a *App) compareFreshFold() ([32]byte, []string, error) {
	var digest [32]byte
	dir, err := os.MkdirTemp("", "noroshi-check-")
	if err != nil {
		return digest, nil, err
	}
	defer os.RemoveAll(dir)
	stored, fresh := filepath.Join(dir, "stored"), filepath.Join(dir, "fresh")
	for _, d := range []string{stored, fresh} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return digest, nil, err
		}
	}
	// One snapshot for both: the live store moves on meanwhile.
	if err := a.store.CopyTo(filepath.Join(stored, StoreFileName)); err != nil {
		return digest, nil, fmt.Errorf("copy the store: %w", err)
	}
	if err := copyFile(filepath.Join(stored, StoreFileName), filepath.Join(fresh, StoreFileName)); err != nil {
		return digest, nil, err
	}
	if err := a.resetViewsKeepingKey(filepath.Join(fresh, StoreFileName)); err != nil {
		return digest, nil, err
	}
	open := func(home string) (*App, error) {
		cfg := a.cfg
		cfg.Home, cfg.Progress, cfg.Logf = home, nil, func(string, ...any) {}
		return OpenDevice(cfg, a.dev)
	}
	sa, err := open(stored)
	if err != nil {
		return digest, nil, fmt.Errorf("open a copy of the store: %w", err)
	}
	defer sa.Close()
	fa, err := open(fresh)
	if err != nil {
		return digest, nil, fmt.Errorf("fold a copy of the store afresh: %w", err)
	}
	defer fa.Close()
	var diffs []string
	h := sha256.New()
	err = sa.store.ViewRead(func(stx *replica.ViewTx) error {
		return fa.store.ViewRead(func(ftx *replica.ViewTx) error {
			next, stop := iter.Pull2(sa.viewEntries(stx))
			defer stop()
			fnext, fstop := iter.Pull2(fa.viewEntries(ftx))
			defer fstop()
			sk, sv, sok := next()
			fk, fv, fok := fnext()
			for sok || fok {
				switch {
				case sok && (!fok || sk < fk):
					h.Write([]byte(sk))
					h.Write(sv[:])
					diffs = appendDiff(diffs, sk, "only in the stored views")
					sk, sv, sok = next()
				case fok && (!sok || fk < sk):
					diffs = appendDiff(diffs, fk, "missing from the stored views")
					fk, fv, fok = fnext()
				default:
					h.Write([]byte(sk))
					h.Write(sv[:])
					if sv != fv {
						diffs = appendDiff(diffs, sk, "differs")
					}
					sk, sv, sok = next()
					fk, fv, fok = fnext()
				}
			}
			return nil
		})
	})
	if err != nil {
		return digest, nil, err
	}
	copy(digest[:], h.Sum(nil))
	return digest, diffs, nil
}

func appendDiff(diffs []string, key, what string) []string {
	if len(diffs) < maxCheckFindings {
		return append(diffs, key+": "+what)
	}
	if len(diffs) == maxCheckFindings {
		return append(diffs, "more differences not listed")
	}
	return diffs
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy the store: %w", err)
	}
	return out.Close()
}

// resetViewsKeepingKey drops every view of the store file at path but
// its sealed view key, so that the next open folds them all again with
// the key they had.
func (a *App) resetViewsKeepingKey(path string) error {
	sc := replica.DefaultConfig(path, a.dev.ID())
	sc.Now = a.cfg.Now
	st, err := replica.Open(sc)
	if err != nil {
		return fmt.Errorf("open a copy of the store: %w", err)
	}
	err = st.ViewUpdate(func(tx *replica.ViewTx) error {
		key := bytes.Clone(tx.Bucket(vbMeta).Get(metaKey))
		if key == nil {
			return errors.New("the views hold no view key")
		}
		if err := tx.Reset(); err != nil {
			return err
		}
		meta := tx.Bucket(vbMeta)
		for _, kv := range [][2][]byte{
			{metaKey, key},
			{metaFormat, binary.BigEndian.AppendUint32(nil, viewFormat)},
			{metaFolded, make([]byte, 8)},
			{metaRemoved, binary.BigEndian.AppendUint64(nil, st.LastRemoved())},
		} {
			if err := meta.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reset the views of a copy: %w", err)
	}
	return nil
}

// viewEntries yields the views' decoded contents in a canonical order:
// "bucket/hex key" and a hash of the value, a sealed value by what it
// opens to. What depends on the order or the batches in which envelopes
// were folded is left out or put in a form that does not: the cursors
// and post count in meta, and the search slices, given per listed post
// as the bit positions it sets (a post's number is the order it was
// folded in).
func (a *App) viewEntries(tx *replica.ViewTx) iter.Seq2[string, [32]byte] {
	return func(yield func(string, [32]byte) bool) {
		feed := tx.Bucket(vbFeed)
		for _, name := range viewBucketNames(tx) {
			switch name {
			case vbPnum:
				continue
			case vbSlice:
				if !a.searchEntries(tx, feed, yield) {
					return
				}
				continue
			}
			b := tx.Bucket(name)
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if name == vbMeta && !bytes.Equal(k, metaFormat) {
					continue
				}
				val := v
				if plain, err := a.vkey.Open(cat([]byte(name), k), v); err == nil {
					val = append([]byte("sealed:"), plain...)
				}
				if !yield(name+"/"+hex.EncodeToString(k), sha256.Sum256(val)) {
					return
				}
			}
		}
	}
}

// searchEntries yields, for each post in the feed, a hash of the bit
// positions its terms set in the search slices.
func (a *App) searchEntries(tx *replica.ViewTx, feed *replica.ViewBucket, yield func(string, [32]byte) bool) bool {
	// Per post number, FNV-1a over its positions in ascending order (the
	// columns are walked in (block, position) order).
	sums := map[uint32]uint64{}
	c := tx.Bucket(vbSlice).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 6 {
			continue
		}
		block := binary.BigEndian.Uint32(k)
		pos := binary.BigEndian.Uint16(k[4:])
		for i, by := range v {
			for bit := 0; by != 0 && bit < 8; bit++ {
				if by&(1<<bit) == 0 {
					continue
				}
				by &^= 1 << bit
				n := block*sliceBlock + uint32(i*8+bit)
				s, ok := sums[n]
				if !ok {
					s = 14695981039346656037
				}
				s = (s ^ uint64(pos>>8)) * 1099511628211
				s = (s ^ uint64(pos&0xff)) * 1099511628211
				sums[n] = s
			}
		}
	}
	byPost := map[string][]uint64{}
	pc := tx.Bucket(vbPnum).Cursor()
	for k, fk := pc.First(); k != nil; k, fk = pc.Next() {
		if len(k) != 4 || feed.Get(fk) == nil {
			continue
		}
		s, ok := sums[binary.BigEndian.Uint32(k)]
		if !ok {
			s = 0
		}
		key := string(fk)
		if !slices.Contains(byPost[key], s) {
			byPost[key] = append(byPost[key], s)
		}
	}
	keys := make([]string, 0, len(byPost))
	for k := range byPost {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sums := byPost[k]
		slices.Sort(sums)
		var b []byte
		for _, s := range sums {
			b = binary.BigEndian.AppendUint64(b, s)
		}
		if !yield(vbSlice+"/"+hex.EncodeToString([]byte(k)), sha256.Sum256(b)) {
			return false
		}
	}
	return true
}

// viewBucketNames returns the view buckets of tx and those this program
// writes, in name order (a bucket missing on one side compares as empty).
func viewBucketNames(tx *replica.ViewTx) []string {
	b := append(tx.Buckets(), vbPnum, vbSlice, vbMeta)
	slices.Sort(b)
	return slices.Compact(b)
}

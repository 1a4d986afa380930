package replica_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// The home of store format 2 kept as a fixture (see its README.txt).
const (
	format2Store     = "../app/testdata/home-format2/store.db"
	format2Device    = "5ae27f2f860f3b4d9d6305a33de318249157af9fd373c29d7c5cdb469f3a1d84"
	format2Community = "9360b5304db0d413d5dcef25bc8b93f7f1ab2dc0a0a8044e7eb16d4dbb271d96"
	format2Retracted = "575446d5768697e195c0dc40511078f835d0ba7bd1b10ee9a07eeebe990e41cf"
)

// oldStored is one envelope of a format 2 store, read with bbolt alone.
type oldStored struct {
	seq     uint64
	id      envelope.Hash
	header  []byte
	payload []byte
}

// oldStore is what a format 2 store holds, read with bbolt alone.
type oldStore struct {
	envs    []oldStored
	lastSeq uint64
	authors map[crypto.DeviceID][]byte // seq || head ID
	certs   map[uint64]envelope.Hash
	local   map[string][]byte
	other   map[string]map[string]string // the buckets the migration keeps, verbatim
}

// kept are the buckets a migration to format 3 leaves as they are.
var kept = []string{"chains", "authors", "certs", "retracted", "forks", "refusals", "local", "wanted"}

func readOldStore(t *testing.T, path string) oldStore {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o := oldStore{authors: map[crypto.DeviceID][]byte{}, certs: map[uint64]envelope.Hash{}, local: map[string][]byte{}, other: map[string]map[string]string{}}
	err = db.View(func(tx *bolt.Tx) error {
		if f := tx.Bucket([]byte("meta")).Get([]byte("format")); binary.BigEndian.Uint32(f) != 2 {
			return fmt.Errorf("fixture of format %x, want 2", f)
		}
		log, headers, payloads := tx.Bucket([]byte("log")), tx.Bucket([]byte("headers")), tx.Bucket([]byte("payloads"))
		o.lastSeq = log.Sequence()
		if err := log.ForEach(func(k, id []byte) error {
			hv := headers.Get(id)
			if !bytes.Equal(hv[:8], k) {
				return fmt.Errorf("log %x names %x stored at %x", k, id, hv[:8])
			}
			o.envs = append(o.envs, oldStored{binary.BigEndian.Uint64(k), envelope.Hash(id), bytes.Clone(hv[8:]), bytes.Clone(payloads.Get(id))})
			return nil
		}); err != nil {
			return err
		}
		tx.Bucket([]byte("authors")).ForEach(func(k, v []byte) error {
			o.authors[crypto.DeviceID(k)] = bytes.Clone(v)
			return nil
		})
		tx.Bucket([]byte("certs")).ForEach(func(k, v []byte) error {
			o.certs[binary.BigEndian.Uint64(k)] = envelope.Hash(v)
			return nil
		})
		tx.Bucket([]byte("local")).ForEach(func(k, v []byte) error {
			o.local[string(k)] = bytes.Clone(v)
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o.other = dumpBuckets(t, path, kept...)
	return o
}

// dumpBuckets returns the named buckets' keys and values (every bucket
// when none is named).
func dumpBuckets(t *testing.T, path string, names ...string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if len(names) > 0 && !slices.Contains(names, string(name)) {
				return nil
			}
			m := map[string]string{}
			var walk func(prefix string, b *bolt.Bucket)
			walk = func(prefix string, b *bolt.Bucket) {
				m[prefix+"\x00sequence"] = fmt.Sprint(b.Sequence())
				b.ForEach(func(k, v []byte) error {
					if v == nil {
						if sub := b.Bucket(k); sub != nil {
							walk(prefix+string(k)+"/", sub)
							return nil
						}
					}
					m[prefix+string(k)] = string(v)
					return nil
				})
			}
			walk("", b)
			out[string(name)] = m
			return nil
		})
	})
	return out
}

// copyFixture copies the format 2 store into a temp dir and returns a
// configuration that opens it as its device.
func copyFixture(t *testing.T) replica.Config {
	t.Helper()
	b, err := os.ReadFile(format2Store)
	if err != nil {
		t.Fatal(err)
	}
	self, err := hex.DecodeString(format2Device)
	if err != nil {
		t.Fatal(err)
	}
	cfg := replicatest.Config(t, crypto.DeviceID(self), time.Now)
	if err := os.WriteFile(cfg.Path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// logLines collects what a store logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// checkMigrated checks that st holds everything old held.
func checkMigrated(t *testing.T, st *replica.Store, old oldStore) {
	t.Helper()
	var got []oldStored
	if err := st.Since(0, func(seq uint64, e *envelope.Envelope) error {
		hb, err := e.Header.Encode()
		if err != nil {
			return err
		}
		got = append(got, oldStored{seq, e.ID(), hb, e.Payload})
		return nil
	}); err != nil {
		t.Fatalf("Since: %v", err)
	}
	if len(got) != len(old.envs) {
		t.Fatalf("Since(0): %d envelopes, want the %d of the format 2 store", len(got), len(old.envs))
	}
	for i, w := range old.envs {
		g := got[i]
		if g.seq != w.seq || g.id != w.id || !bytes.Equal(g.header, w.header) || !bytes.Equal(g.payload, w.payload) {
			t.Errorf("envelope %d: got seq %d id %s payload %d bytes, want seq %d id %s payload %d bytes", i, g.seq, g.id.String()[:12], len(g.payload), w.seq, w.id.String()[:12], len(w.payload))
		}
		if seq, ok := st.SeqOf(w.id); !ok || seq != w.seq {
			t.Errorf("SeqOf(%s): got %d %v, want %d", w.id.String()[:12], seq, ok, w.seq)
		}
		e, err := st.Get(w.id)
		if err != nil || !bytes.Equal(e.Payload, w.payload) {
			t.Errorf("Get(%s): %v", w.id.String()[:12], err)
		}
	}
	if got := st.LastSeq(); got != old.lastSeq {
		t.Errorf("LastSeq: got %d, want %d", got, old.lastSeq)
	}
	heads := st.Heads()
	if len(heads) != len(old.authors) {
		t.Errorf("Heads: got %d authors, want %d", len(heads), len(old.authors))
	}
	for _, h := range heads {
		v := old.authors[h.Author]
		if len(v) != 40 || binary.BigEndian.Uint64(v) != h.Seq || !bytes.Equal(v[8:], h.Head[:]) {
			t.Errorf("head of %s: got %d %s, want %x", h.Author.Short(), h.Seq, h.Head, v)
		}
	}
	if got := st.Community().String(); got != format2Community {
		t.Errorf("Community: got %s, want %s", got, format2Community)
	}
	trust := st.Trust()
	if got := len(trust.Members()); got != 3 {
		t.Errorf("Trust: %d members, want 3 (coordinator, org admin, member)", got)
	}
	for seq, id := range old.certs {
		if got, ok := st.SeqOf(id); !ok || got != seq {
			t.Errorf("certificate %s: SeqOf got %d %v, want %d", id.String()[:12], got, ok, seq)
		}
		if err := trust.Verdict(id); err != nil {
			t.Errorf("certificate %s: %v", id.String()[:12], err)
		}
	}
	retracted, _ := hex.DecodeString(format2Retracted)
	if _, ok := st.Retracted(envelope.Hash(retracted)); !ok {
		t.Errorf("the retracted post is no longer retracted")
	}
	if got := st.LocalWithPrefix(""); !maps.EqualFunc(got, old.local, bytes.Equal) {
		t.Errorf("local values: got %q, want %q", got, old.local)
	}
}

// TestMigrateFormat2 opens a home of store format 2 (a fixture written by
// the previous release): every envelope, local sequence number, head,
// certificate and local value is there, the old buckets are gone, and
// opening it again migrates nothing and changes nothing.
func TestMigrateFormat2(t *testing.T) {
	cfg := copyFixture(t)
	old := readOldStore(t, cfg.Path)
	if len(old.envs) != 37 || len(old.certs) != 14 {
		t.Fatalf("the fixture holds %d envelopes and %d certificates, want 37 and 14 (see its README.txt)", len(old.envs), len(old.certs))
	}
	var log logLines
	cfg.Logf = log.logf
	st := replicatest.Open(t, cfg)
	checkMigrated(t, st, old)
	if log.count("migrated") != 1 {
		t.Errorf("log: %q, want one line saying the store migrated", log.lines)
	}
	// It goes on: the next local sequence number follows the old log's.
	if err := st.PutLocal(replica.LocalOp{Key: "after", Value: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	after := dumpBuckets(t, cfg.Path)
	for _, b := range []string{"log", "headers", "payloads"} {
		if _, ok := after[b]; ok {
			t.Errorf("bucket %q of format 2 still there", b)
		}
	}
	if got := getMeta(t, cfg.Path, "format"); binary.BigEndian.Uint32(got) != replica.FormatVersion {
		t.Errorf("format after the migration: %x", got)
	}
	delete(old.other["local"], "after")
	for _, name := range kept {
		g := after[name]
		if name == "local" {
			g = maps.Clone(g)
			delete(g, "after")
		}
		if !maps.Equal(g, old.other[name]) {
			t.Errorf("bucket %q changed in the migration", name)
		}
	}

	st = replicatest.Open(t, cfg)
	compareStates(t, stateOf(t, st), want)
	if log.count("migrated") != 1 {
		t.Errorf("the second open migrated again: %q", log.lines)
	}
	st.Close()
	if again := dumpBuckets(t, cfg.Path); !maps.EqualFunc(again, after, maps.Equal) {
		t.Errorf("opening a migrated store again changed it")
	}
}

// TestMigrateInterrupted stops a migration after some of its batches, as a
// kill would, with an older program's view of it: the store is marked with
// the new format (an older program refuses it), and the next open finishes
// the migration with the same result as one that was not interrupted.
func TestMigrateInterrupted(t *testing.T) {
	whole := copyFixture(t)
	old := readOldStore(t, whole.Path)
	st := replicatest.Open(t, whole)
	want := stateOf(t, st)
	st.Close()

	for _, stopAt := range []int{1, 3, 7} {
		t.Run(fmt.Sprint("after batch ", stopAt), func(t *testing.T) {
			cfg := copyFixture(t)
			killed := errors.New("killed")
			restore := replica.SetMigrateForTest(5, func(batch int) error {
				if batch == stopAt {
					return killed
				}
				return nil
			})
			st, err := replica.Open(cfg)
			restore()
			if err == nil {
				st.Close()
				t.Fatal("Open: the interrupted migration did not stop it")
			}
			if !errors.Is(err, killed) {
				t.Fatalf("Open: %v", err)
			}
			if got := getMeta(t, cfg.Path, "format"); binary.BigEndian.Uint32(got) != replica.FormatVersion {
				t.Errorf("format during the migration: %x, want %d so that an older program refuses the store", got, replica.FormatVersion)
			}
			if got := getMeta(t, cfg.Path, "migrating"); len(got) != 12 {
				t.Errorf("migration mark: %x", got)
			}
			restore = replica.SetMigrateForTest(4, nil)
			defer restore()
			st = replicatest.Open(t, cfg)
			checkMigrated(t, st, old)
			compareStates(t, stateOf(t, st), want)
		})
	}
}

// TestReopenFormat3 reopens a store of the current format: not a byte of
// it changes.
func TestReopenFormat3(t *testing.T) {
	f := newFixture(t, nil)
	replicatest.MustAdmit(t, f.st, f.alice.Retract(f.base[5].ID()), f.bob.Post("bob 2"))
	if err := f.st.PutLocal(replica.LocalOp{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, f.st)
	f.st.Close()
	before := dumpBuckets(t, f.cfg.Path)
	var log logLines
	f.cfg.Logf = log.logf
	st := replicatest.Open(t, f.cfg)
	compareStates(t, stateOf(t, st), want)
	st.Close()
	if after := dumpBuckets(t, f.cfg.Path); !maps.EqualFunc(after, before, maps.Equal) {
		t.Errorf("reopening a format %d store changed it", replica.FormatVersion)
	}
	if log.count("migrat") != 0 {
		t.Errorf("reopening a format %d store logged %q", replica.FormatVersion, log.lines)
	}
}

// BenchmarkMigrate migrates a format 2 store of 100,000 envelopes (the
// sizes of short posts; the migration copies bytes and decodes none) and
// reports the time and the largest live heap between its batches.
func BenchmarkMigrate(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	src := filepath.Join(dir, "format2.db")
	db, err := bolt.Open(src, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	header, payload := bytes.Repeat([]byte{'h'}, 201), bytes.Repeat([]byte{'p'}, 348)
	for lo := 0; lo < n; lo += 10_000 {
		if err := db.Update(func(tx *bolt.Tx) error {
			buckets := map[string]*bolt.Bucket{}
			for _, name := range []string{"meta", "log", "headers", "payloads", "chains", "authors", "certs", "retracted", "forks", "refusals", "local", "wanted"} {
				bk, err := tx.CreateBucketIfNotExists([]byte(name))
				if err != nil {
					return err
				}
				buckets[name] = bk
			}
			buckets["log"].FillPercent = 1
			for i := lo; i < lo+10_000; i++ {
				seq, _ := buckets["log"].NextSequence()
				sk := binary.BigEndian.AppendUint64(nil, seq)
				id := envelope.Hash(sha256.Sum256(sk))
				if err := buckets["log"].Put(sk, id[:]); err != nil {
					return err
				}
				if err := buckets["headers"].Put(id[:], append(sk, header...)); err != nil {
					return err
				}
				if err := buckets["payloads"].Put(id[:], payload); err != nil {
					return err
				}
			}
			return buckets["meta"].Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 2))
		}); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	fi, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cfg := replica.DefaultConfig(filepath.Join(b.TempDir(), "store.db"), crypto.DeviceID{1})
		copyFile(b, src, cfg.Path)
		// The live heap at the end of each batch (after two collections:
		// the first keeps what sync.Pools hold, such as bbolt's pages).
		var peak uint64
		restore := replica.SetMigrateForTest(4096, func(int) error {
			var m runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&m)
			peak = maxOf(peak, m.HeapAlloc)
			return nil
		})
		b.StartTimer()
		start := time.Now()
		st, err := replica.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		b.StopTimer()
		restore()
		b.ReportMetric(float64(peak)/(1<<20), "MiB-live-heap")
		if got := st.LastSeq(); got != n {
			b.Fatalf("LastSeq after the migration: %d, want %d", got, n)
		}
		st.Close()
		b.ReportMetric(float64(d.Milliseconds()), "ms/migration")
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-store")
		b.StartTimer()
	}
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

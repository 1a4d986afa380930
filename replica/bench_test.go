package replica_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica/replicatest"
)

// benchWriters are the numbers of concurrent writers the commit benchmarks
// run with. Each writer commits one item at a time and waits for it.
var benchWriters = []int{1, 16, 64}

// BenchmarkStoreAdd measures envelopes stored per second with fsync on, one
// envelope per Add, from several writers at once so that the store's group
// commit batches them. Compare with BenchmarkRawBoltCommit, the limit, or
// run BenchmarkStoreVsRawBolt, which measures both and prints the ratio.
func BenchmarkStoreAdd(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			d := storeAddRun(b, n, b.N)
			b.ReportMetric(float64(b.N)/d.Seconds(), "envelopes/s")
		})
	}
}

// BenchmarkRawBoltCommit is the limit BenchmarkStoreAdd is compared with:
// bbolt commits of one small key each, fsync on, from the same numbers of
// writers, through db.Batch (bbolt's own batching) and through one
// db.Update per key. A third mode, layout, batches what the store writes
// for one envelope instead of one key: header and payload appended under
// the next local sequence number, the ID index (keyed by hash), the
// author's chain and head, which is the limit of the store's layout rather
// than of bbolt.
func BenchmarkRawBoltCommit(b *testing.B) {
	for _, mode := range []string{"batch", "update", "layout"} {
		for _, n := range benchWriters {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, n), func(b *testing.B) {
				d := rawBoltRun(b, mode, n, b.N)
				b.ReportMetric(float64(b.N)/d.Seconds(), "envelopes/s")
			})
		}
	}
}

// benchPreload is what the stores of BenchmarkStoreVsRawBolt hold before
// the writes it measures: in a small store, few pages exist to dirty.
const benchPreload = 10_000

// storeWriteLimit is the target of BenchmarkStoreVsRawBolt: a store write
// with fsync within 1.2 times a raw bbolt commit with batching.
const storeWriteLimit = 1.2

// BenchmarkStoreVsRawBolt stores b.N envelopes (as BenchmarkStoreAdd; at
// least 32 commits' worth) in a store that holds benchPreload already, and
// commits as many raw keys (as BenchmarkRawBoltCommit, through db.Batch and
// through db.Update, the faster of the two counting) with the same number
// of writers, in the same run, and reports the ratio of the store's time
// to raw bbolt's, with the limit. fsync times vary much from one moment to
// the next, so each is run three times, in turn, and the fastest of each
// counts. With one writer, db.Batch only adds its delay (10 ms) to each
// commit, so raw bbolt's figure is db.Update's.
func BenchmarkStoreVsRawBolt(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			// At least 32 commits of the store, whatever b.N.
			m := max(b.N, 32*n)
			var raw, st time.Duration
			for round := range 3 {
				r := rawBoltRunAfter(b, "update", n, benchPreload, m)
				if n > 1 {
					r = min(r, rawBoltRunAfter(b, "batch", n, benchPreload, m))
				}
				s := storeAddRunAfter(b, n, benchPreload, m)
				if round == 0 || r < raw {
					raw = r
				}
				if round == 0 || s < st {
					st = s
				}
			}
			ratio := float64(st) / float64(raw)
			b.ReportMetric(ratio, "store/raw")
			b.ReportMetric(storeWriteLimit, "limit")
			b.Logf("%d writers, %d envelopes after %d: store %v, raw bbolt %v: store write / raw bbolt commit = %.2f (limit %.1f)",
				n, m, benchPreload, st.Round(time.Millisecond), raw.Round(time.Millisecond), ratio, storeWriteLimit)
		})
	}
}

// storeAddRun stores n envelopes with fsync on, one per Add, from writers
// goroutines, and returns the time it took (signing not counted).
func storeAddRun(b *testing.B, writers, n int) time.Duration {
	return storeAddRunAfter(b, writers, 0, n)
}

// storeAddRunAfter is storeAddRun on a store that holds preload envelopes
// of the same writers first (stored without fsync, not counted).
func storeAddRunAfter(b *testing.B, writers, preload, n int) time.Duration {
	b.StopTimer()
	c := replicatest.New(b, "bench")
	devs := make([]*replicatest.Device, writers)
	certs := []*envelope.Envelope{c.Genesis}
	for w := range devs {
		var m *envelope.Envelope
		devs[w], m = c.Join(fmt.Sprintf("writer %d", w), "centre", crypto.RoleMember)
		certs = append(certs, m)
	}
	// Writer w adds envelopes w, w+writers, w+2*writers... of n, each the
	// next of its own chain: signing is not measured.
	var before []*envelope.Envelope
	for i := 0; i < preload; i++ {
		before = append(before, devs[i%writers].Post(fmt.Sprintf("post %d, about as long as a short message in a channel", i)))
	}
	chains := make([][]*envelope.Envelope, writers)
	for i := 0; i < n; i++ {
		w := i % writers
		chains[w] = append(chains[w], devs[w].Post(fmt.Sprintf("post %d, about as long as a short message in a channel", preload+i)))
	}
	cfg := replicatest.Config(b, devs[0].ID(), nil)
	cfg.Logf = nil
	if preload > 0 {
		st := replicatest.Open(b, cfg)
		replicatest.MustAdmit(b, st, certs...)
		for lo := 0; lo < len(before); lo += 1000 {
			replicatest.MustAdmit(b, st, before[lo:min(lo+1000, len(before))]...)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		certs = nil
	}
	cfg.NoSync = false
	st := replicatest.Open(b, cfg)
	if len(certs) > 0 {
		replicatest.MustAdmit(b, st, certs...)
	}

	b.StartTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for _, chain := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range chain {
				res, err := st.Add(e)
				if err == nil {
					err = res.Err()
				}
				if err == nil && len(res.Admitted) != 1 {
					err = fmt.Errorf("got %d admitted, want 1", len(res.Admitted))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if got, want := st.LastSeq(), uint64(1+writers+preload+n); got != want {
		b.Fatalf("LastSeq: got %d, want %d", got, want)
	}
	return d
}

// rawBoltRun commits n items to a new bbolt file with fsync on, from
// writers goroutines, in one of BenchmarkRawBoltCommit's modes, and
// returns the time it took.
func rawBoltRun(b *testing.B, mode string, writers, n int) time.Duration {
	return rawBoltRunAfter(b, mode, writers, 0, n)
}

// rawBoltRunAfter is rawBoltRun on a file that holds preload items first
// (not counted).
func rawBoltRunAfter(b *testing.B, mode string, writers, preload, n int) time.Duration {
	b.StopTimer()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	buckets := [][]byte{[]byte("b"), []byte("headers"), []byte("payloads"), []byte("ids"), []byte("chains"), []byte("authors")}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	commit := db.Update
	if mode != "update" {
		commit = db.Batch
	}
	value := make([]byte, 64)
	// The sizes of the store's values for the benchmark's posts.
	header, payload := make([]byte, 201), make([]byte, 348)
	put := func(tx *bolt.Tx, w, i int) error {
		key := binary.BigEndian.AppendUint64(nil, uint64(i))
		if mode != "layout" {
			return tx.Bucket(buckets[0]).Put(key, value)
		}
		id := sha256.Sum256(key)
		author := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(w)))
		headers := tx.Bucket(buckets[1])
		headers.FillPercent = 1
		payloads := tx.Bucket(buckets[2])
		payloads.FillPercent = 1
		seq, _ := headers.NextSequence()
		sk := binary.BigEndian.AppendUint64(nil, seq)
		// headers, payloads, ids, chains, authors, as store.go writes them.
		for j, kv := range [][2][]byte{
			{sk, header},
			{sk, payload},
			{id[:], sk},
			{binary.BigEndian.AppendUint64(author[:], uint64(i)), id[:]},
			{author[:], append(key, id[:]...)},
		} {
			if err := tx.Bucket(buckets[1+j]).Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	}

	for lo := 0; lo < preload; lo += 1000 {
		if err := db.Update(func(tx *bolt.Tx) error {
			for i := lo; i < min(lo+1000, preload); i++ {
				if err := put(tx, i%writers, i); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}

	b.StartTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := preload + w; i < preload+n; i += writers {
				if err := commit(func(tx *bolt.Tx) error { return put(tx, w, i) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return d
}

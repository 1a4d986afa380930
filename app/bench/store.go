package bench

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

// Store writes with fsync against raw bbolt commits of the same number of
// writers, in the same run.

// RawBoltModes are RawBoltCommit's modes.
var RawBoltModes = []string{"batch", "update", "layout"}

// StorePreload is what the stores of StoreVsRawBolt hold before the writes
// it measures: in a small store, few pages exist to dirty.
const StorePreload = 10_000

// StoreWriteLimit is the target for StoreVsRawBolt: a store write
// with fsync within 1.2 times a raw bbolt commit with batching.
const StoreWriteLimit = 1.2

// StoreVsRawBolt stores n envelopes from writers writers (as StoreAdd) in a
// store that holds preload already, and commits as many raw keys (as
// RawBoltCommit, through db.Batch and through db.Update, the faster of the
// two counting) with the same number of writers, in the same run, and
// returns both times. fsync times vary much from one moment to the next,
// so each is run three times, in turn, and the fastest of each counts.
// With one writer, db.Batch only adds its delay (10 ms) to each commit, so
// raw bbolt's figure is db.Update's.
func StoreVsRawBolt(tb testing.TB, writers, preload, n int) (store, raw time.Duration) {
	for round := range 3 {
		r := RawBoltCommit(tb, "update", writers, preload, n)
		if writers > 1 {
			r = min(r, RawBoltCommit(tb, "batch", writers, preload, n))
		}
		s := StoreAdd(tb, writers, preload, n)
		if round == 0 || r < raw {
			raw = r
		}
		if round == 0 || s < store {
			store = s
		}
	}
	return store, raw
}

func storeRows(r *runner) []Row {
	writers, preload := []int{1, 16, 64}, StorePreload
	if r.quick() {
		writers, preload = []int{16}, 1000
	}
	var rows []Row
	for _, w := range writers {
		r.check()
		n := 32 * w // at least 32 commits of the store
		r.progress("store: %d writers, %d envelopes after %d", w, n, preload)
		st, raw := StoreVsRawBolt(r, w, preload, n)
		per := func(d time.Duration) float64 { return micros(d) / float64(n) }
		rows = append(rows, Row{Name: fmt.Sprintf("store write, %d writers", w), Value: per(st), Limit: per(raw), Unit: "µs/envelope", Kind: Bound,
			LimitIs: "raw bbolt commit of one key (fsync; db.Update or db.Batch, the faster), same writers",
			Note:    fmt.Sprintf("target %.1f x; under 1, the store's group commit batches more than db.Batch", StoreWriteLimit)})
	}
	return rows
}

// StoreAdd stores n envelopes with fsync on, one per Add, from writers
// goroutines, in a store that holds preload envelopes of the same writers
// first (stored without fsync, not counted), and returns the time the n
// took (signing not counted).
func StoreAdd(b testing.TB, writers, preload, n int) time.Duration {
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

	d, err := inParallel(writers, func(w int) error {
		for _, e := range chains[w] {
			res, err := st.Add(e)
			if err == nil {
				err = res.Err()
			}
			if err == nil && len(res.Admitted) != 1 {
				err = fmt.Errorf("got %d admitted, want 1", len(res.Admitted))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if got, want := st.LastSeq(), uint64(1+writers+preload+n); got != want {
		b.Fatalf("LastSeq: got %d, want %d", got, want)
	}
	return d
}

// RawBoltCommit commits n items to a new bbolt file with fsync on, from
// writers goroutines, after preload items (not counted), and returns the
// time the n took. Modes (RawBoltModes): batch, bbolt commits of one small
// key each through db.Batch (bbolt's own batching); update, one db.Update
// per key; layout, batches of what the store writes for one envelope
// instead of one key: header and payload appended under the next local
// sequence number, the ID index (keyed by hash), the author's chain and
// head, which is the limit of the store's layout rather than of bbolt.
func RawBoltCommit(b testing.TB, mode string, writers, preload, n int) time.Duration {
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

	d, err := inParallel(writers, func(w int) error {
		for i := preload + w; i < preload+n; i += writers {
			if err := commit(func(tx *bolt.Tx) error { return put(tx, w, i) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// inParallel runs f(0) ... f(writers-1) in goroutines of their own and
// returns the time until all returned, and the first error.
func inParallel(writers int, f func(w int) error) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(w); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, <-errs
}

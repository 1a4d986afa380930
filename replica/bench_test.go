package replica_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

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
// commit batches them. Compare with BenchmarkRawBoltCommit, the limit.
func BenchmarkStoreAdd(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) { benchStoreAdd(b, n) })
	}
}

func benchStoreAdd(b *testing.B, writers int) {
	c := replicatest.New(b, "bench")
	devs := make([]*replicatest.Device, writers)
	certs := []*envelope.Envelope{c.Genesis}
	for w := range devs {
		var m *envelope.Envelope
		devs[w], m = c.Join(fmt.Sprintf("writer %d", w), "centre", crypto.RoleMember)
		certs = append(certs, m)
	}
	// Writer w adds envelopes w, w+writers, w+2*writers... of b.N, each the
	// next of its own chain: signing is not measured.
	chains := make([][]*envelope.Envelope, writers)
	for i := 0; i < b.N; i++ {
		w := i % writers
		chains[w] = append(chains[w], devs[w].Post(fmt.Sprintf("post %d, about as long as a short message in a channel", i)))
	}
	cfg := replicatest.Config(b, devs[0].ID(), nil)
	cfg.NoSync = false
	cfg.Logf = nil
	st := replicatest.Open(b, cfg)
	replicatest.MustAdmit(b, st, certs...)

	b.ResetTimer()
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
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if got, want := st.LastSeq(), uint64(len(certs)+b.N); got != want {
		b.Fatalf("LastSeq: got %d, want %d", got, want)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
}

// BenchmarkRawBoltCommit is the limit BenchmarkStoreAdd is compared with:
// bbolt commits of one small key each, fsync on, from the same numbers of
// writers, through db.Batch (bbolt's own batching) and through one
// db.Update per key. A third mode, layout, batches what the store writes
// for one envelope instead of one key: five puts in five buckets, two of
// them keyed by hash (so a commit of many envelopes dirties a page each),
// which is the limit of the store's layout rather than of bbolt.
func BenchmarkRawBoltCommit(b *testing.B) {
	for _, mode := range []string{"batch", "update", "layout"} {
		for _, n := range benchWriters {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, n), func(b *testing.B) { benchRawBolt(b, mode, n) })
		}
	}
}

func benchRawBolt(b *testing.B, mode string, writers int) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	buckets := [][]byte{[]byte("b"), []byte("log"), []byte("headers"), []byte("payloads"), []byte("chains"), []byte("authors")}
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
	header, payload := make([]byte, 8+201), make([]byte, 348)
	put := func(tx *bolt.Tx, w, i int) error {
		key := binary.BigEndian.AppendUint64(nil, uint64(i))
		if mode != "layout" {
			return tx.Bucket(buckets[0]).Put(key, value)
		}
		id := sha256.Sum256(key)
		author := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(w)))
		log := tx.Bucket(buckets[1])
		log.FillPercent = 1
		seq, _ := log.NextSequence()
		// log, headers, payloads, chains, authors, as store.go writes them.
		for j, kv := range [][2][]byte{
			{binary.BigEndian.AppendUint64(nil, seq), id[:]},
			{id[:], header},
			{id[:], payload},
			{binary.BigEndian.AppendUint64(author[:], uint64(i)), id[:]},
			{author[:], append(key, id[:]...)},
		} {
			if err := tx.Bucket(buckets[1+j]).Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	}

	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				if err := commit(func(tx *bolt.Tx) error { return put(tx, w, i) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
}

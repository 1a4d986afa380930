package replica_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// Benchmarks of replication against its limits. Each reports its figures
// with b.ReportMetric, next to the theoretical or local limit as a ratio:
//
//	go test ./replica -run '^$' -bench 'AntiEntropyCost|CatchUp' -benchtime 3x
//	go test ./replica -run '^$' -bench Dissemination -benchtime 40x -timeout 30m

// bsPosts builds n envelopes per device, each device's chain built in a
// goroutine of its own, and returns them in the order they would have been
// written had the devices taken turns.
func bsPosts(devs []*replicatest.Device, n int) []*envelope.Envelope {
	chains := make([][]*envelope.Envelope, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				chains[i] = append(chains[i], d.Post(fmt.Sprintf("post %d by %s, a short message", j, d.Name)))
			}
		}()
	}
	wg.Wait()
	out := make([]*envelope.Envelope, 0, n*len(devs))
	for j := 0; j < n; j++ {
		for i := range devs {
			out = append(out, chains[i][j])
		}
	}
	return out
}

// bsAddAll adds envs in batches and fails unless all are admitted.
func bsAddAll(b testing.TB, st *replica.Store, envs []*envelope.Envelope) {
	for lo := 0; lo < len(envs); lo += 2000 {
		replicatest.MustAdmit(b, st, envs[lo:min(lo+2000, len(envs))]...)
	}
}

// bsCopy copies the store file src to a new file in dir and returns its
// configuration for d.
func bsCopy(b testing.TB, src string, d *replicatest.Device) replica.Config {
	cfg := replicatest.Config(b, d.ID(), nil)
	cfg.Logf = nil
	in, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(cfg.Path, in, 0o600); err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkAntiEntropyCost: two stores of 100,000 envelopes from 200
// authors that differ by 0, 1, 100 and 10,000 envelopes (the most recent
// ones, as a peer that was away lacks them), synced over a real
// crypto.Channel. Reported: bytes on the wire (handshake included), round
// trips, the floor (the missing envelopes' bytes + 16 bytes per author that
// changed), bytes/floor, and bytes over the target (1.1 x floor +
// 1 KiB; under 1 KiB in sync).
func BenchmarkAntiEntropyCost(b *testing.B) {
	const authors, perAuthor = 200, 500
	start := time.Now()
	w := newSyWorld(b, "anti-entropy cost", authors, 2)
	posts := bsPosts(w.writers, perAuthor)
	// One store grows in steps; a copy of its file is kept at each.
	dir := b.TempDir()
	grow := replicatest.NewReplica(b, w.readers[0], w.base...)
	grow.Cfg.Logf = nil
	diffs := []int{10_000, 100, 1, 0}
	files := map[int]string{}
	done := 0
	for _, k := range diffs {
		bsAddAll(b, grow.Store, posts[done:len(posts)-k])
		done = len(posts) - k
		grow.Close()
		files[k] = filepath.Join(dir, fmt.Sprintf("lacks-%d.db", k))
		in, err := os.ReadFile(grow.Cfg.Path)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(files[k], in, 0o600); err != nil {
			b.Fatal(err)
		}
		grow.Reopen()
	}
	grow.Close()
	b.Logf("built %d envelopes from %d authors and 4 stores in %s", len(posts), authors, time.Since(start).Round(time.Second))
	full := replicatest.OpenReplica(b, w.readers[0], bsCopy(b, files[0], w.readers[0]))

	for _, k := range []int{0, 1, 100, 10_000} {
		missing := posts[len(posts)-k:]
		floor, changed := syFloor(b, missing)
		for _, side := range []string{"initiator-lacks", "responder-lacks"} {
			b.Run(fmt.Sprintf("differ=%d/%s", k, side), func(b *testing.B) {
				var last replicatest.SyncResult
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					peer := replicatest.OpenReplica(b, w.readers[1], bsCopy(b, files[k], w.readers[1]))
					b.StartTimer()
					if side == "initiator-lacks" {
						last = replicatest.Sync(b, peer, full)
					} else {
						last = replicatest.Sync(b, full, peer)
					}
					b.StopTimer()
					if got, want := peer.Store.Digest(), full.Store.Digest(); got != want {
						b.Fatalf("not in sync after the sync")
					}
					peer.Close()
					os.Remove(peer.Cfg.Path)
					b.StartTimer()
				}
				b.ReportMetric(float64(last.Bytes), "wire-bytes")
				b.ReportMetric(float64(last.I.RoundTrips), "round-trips")
				b.ReportMetric(float64(changed), "authors-changed")
				if k == 0 {
					b.ReportMetric(float64(last.Bytes)/1024, "x-1KiB-target")
					return
				}
				b.ReportMetric(float64(floor), "floor-bytes")
				b.ReportMetric(float64(last.Bytes)/float64(floor), "x-floor")
				b.ReportMetric(float64(last.Bytes)/(1.1*float64(floor)+1024), "x-target")
			})
		}
	}
}

// BenchmarkCatchUp: envelopes per second moved to a peer that was away (a
// store lacking 10,000 envelopes syncs with one that holds them), next to
// the local store's write rate (Add of the same envelopes, in batches,
// into a store that lacks them), with fsync on in both.
func BenchmarkCatchUp(b *testing.B) {
	const authors, perAuthor = 50, 200
	w := newSyWorld(b, "catch up", authors, 2)
	posts := bsPosts(w.writers, perAuthor)
	src := w.replica(b, w.readers[0])
	bsAddAll(b, src.Store, posts)
	empty := w.replica(b, w.readers[1])
	empty.Close()
	open := func(b *testing.B) *replicatest.Replica {
		cfg := bsCopy(b, empty.Cfg.Path, w.readers[1])
		cfg.NoSync = false
		return replicatest.OpenReplica(b, w.readers[1], cfg)
	}
	var addRate float64
	b.Run("local-add", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			peer := open(b)
			b.StartTimer()
			t0 := time.Now()
			// Batches of the size an envelopes frame carries.
			for lo := 0; lo < len(posts); lo += 1700 {
				replicatest.MustAdmit(b, peer.Store, posts[lo:min(lo+1700, len(posts))]...)
			}
			total += time.Since(t0)
			b.StopTimer()
			peer.Close()
			b.StartTimer()
		}
		addRate = float64(b.N*len(posts)) / total.Seconds()
		b.ReportMetric(addRate, "envelopes/s")
	})
	b.Run("sync", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			peer := open(b)
			b.StartTimer()
			t0 := time.Now()
			res := replicatest.Sync(b, peer, src)
			total += time.Since(t0)
			b.StopTimer()
			if res.I.Admitted != len(posts) {
				b.Fatalf("admitted %d, want %d", res.I.Admitted, len(posts))
			}
			peer.Close()
			b.StartTimer()
		}
		rate := float64(b.N*len(posts)) / total.Seconds()
		b.ReportMetric(rate, "envelopes/s")
		if addRate > 0 {
			b.ReportMetric(rate/addRate, "x-local-add")
		}
	})
}

// theoreticalGossip returns the time push gossip needs to reach n peers
// with the given fanout and round interval: log_(fanout+1) n + ln(n)/fanout
// rounds.
func theoreticalGossip(n, fanout int, interval time.Duration) time.Duration {
	rounds := math.Log(float64(n))/math.Log(float64(fanout+1)) + math.Log(float64(n))/float64(fanout)
	return time.Duration(rounds * float64(interval))
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// BenchmarkDissemination: time from a write on one node (stored, then
// announced, as the app does) to the last of N nodes holding it, on
// loopback, next to the theoretical push-gossip time with the memberlist
// configuration the nodes use. One op is one write. With 20% of gossip
// packets lost, the share of (envelope, node) pairs present one
// anti-entropy interval after each write.
func BenchmarkDissemination(b *testing.B) {
	const antiEntropy = 5 * time.Second
	for _, n := range []int{8, 32, 64} {
		for _, loss := range []float64{0, 0.2} {
			b.Run(fmt.Sprintf("nodes=%d/loss=%.0f%%", n, loss*100), func(b *testing.B) {
				c := replicatest.StartCluster(b, replicatest.ClusterConfig{Name: fmt.Sprintf("dissemination %d", n), Nodes: n, AntiEntropy: antiEntropy, Seed: 1, Quiet: true})
				c.Net.SetLoss(loss)
				fanout, interval := c.Nodes[0].Node.GossipParams()
				theory := theoreticalGossip(n, fanout, interval)
				all := c.Running()
				var lat []time.Duration
				present, pairs := 0, 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					id := c.Write(i%n, fmt.Sprintf("write %d", i))
					if loss == 0 {
						if !c.WaitHave(all, id, time.Minute) {
							b.Fatalf("write %d not everywhere after a minute", i)
						}
						lat = append(lat, time.Since(t0))
						continue
					}
					// Within one anti-entropy interval of the write.
					c.WaitHave(all, id, antiEntropy-time.Since(t0))
					lat = append(lat, time.Since(t0))
					for _, j := range all {
						pairs++
						if c.Nodes[j].Has(id) {
							present++
						}
					}
				}
				b.StopTimer()
				p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(theory.Microseconds())/1000, "theory-ms")
				b.ReportMetric(p50.Seconds()/theory.Seconds(), "p50/theory")
				b.ReportMetric(p99.Seconds()/theory.Seconds(), "p99/theory")
				if loss > 0 {
					b.ReportMetric(float64(present)/float64(pairs), "fraction-within-AE")
				}
			})
		}
	}
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"noroshi/app"
	"noroshi/replica/replicatest"
)

// The go test benchmarks run the code `noroshi bench` runs; each reports
// its figures with b.ReportMetric, next to its limit measured in the same
// run. None asserts a time. For example:
//
//	go test ./app/bench -run '^$' -bench 'Seal|OpenEnvelope|Raw'
//	go test ./app/bench -run '^$' -bench 'AntiEntropyCost|CatchUp' -benchtime 3x
//	go test ./app/bench -run '^$' -bench Dissemination -benchtime 40x -timeout 30m
//	go test ./app/bench -run '^$' -bench 'OpenHome|SearchKeystroke|Memory' -benchtime 3x

func BenchmarkSeal(b *testing.B) { benchEnvelopes(b, SealOp) }

// BenchmarkOpenEnvelope measures what a receiver does: verify the header,
// check the payload's hash, open it.
func BenchmarkOpenEnvelope(b *testing.B) { benchEnvelopes(b, OpenOp) }

// benchEnvelopes runs the op newOp makes for each of EnvelopeSizes.
func benchEnvelopes(b *testing.B, newOp func(testing.TB, int, int) func() error) {
	for _, s := range EnvelopeSizes {
		b.Run(s.Name, func(b *testing.B) {
			op := newOp(b, s.Size, s.Groups)
			b.SetBytes(int64(s.Size))
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRaw is the floor of Seal and OpenEnvelope (RawOps).
func BenchmarkRaw(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
		ops := RawOps(b, size.n)
		for _, mode := range RawModes {
			b.Run(mode+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					if err := ops[mode](); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

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
			d := StoreAdd(b, n, 0, b.N)
			b.ReportMetric(float64(b.N)/d.Seconds(), "envelopes/s")
		})
	}
}

// BenchmarkRawBoltCommit is the limit BenchmarkStoreAdd is compared with,
// in each of RawBoltModes.
func BenchmarkRawBoltCommit(b *testing.B) {
	for _, mode := range RawBoltModes {
		for _, n := range benchWriters {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, n), func(b *testing.B) {
				d := RawBoltCommit(b, mode, n, 0, b.N)
				b.ReportMetric(float64(b.N)/d.Seconds(), "envelopes/s")
			})
		}
	}
}

// BenchmarkStoreVsRawBolt reports StoreVsRawBolt's ratio, with the limit,
// for b.N envelopes (at least 32 commits' worth) after StorePreload.
func BenchmarkStoreVsRawBolt(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			m := max(b.N, 32*n)
			st, raw := StoreVsRawBolt(b, n, StorePreload, m)
			ratio := float64(st) / float64(raw)
			b.ReportMetric(ratio, "store/raw")
			b.ReportMetric(StoreWriteLimit, "limit")
			b.Logf("%d writers, %d envelopes after %d: store %v, raw bbolt %v: store write / raw bbolt commit = %.2f (limit %.1f)",
				n, m, StorePreload, st.Round(time.Millisecond), raw.Round(time.Millisecond), ratio, StoreWriteLimit)
		})
	}
}

// BenchmarkAntiEntropyCost: two stores of 100,000 envelopes from 200
// authors that differ by 0, 1, 100 and 10,000 envelopes, synced over a
// real crypto.Channel. Reported: bytes on the wire, round trips, the floor,
// bytes/floor, and bytes over the target (1.1 x floor + 1 KiB;
// under 1 KiB in sync).
func BenchmarkAntiEntropyCost(b *testing.B) {
	start := time.Now()
	diffs := []int{0, 1, 100, 10_000}
	a := NewAntiEntropy(b, 200, 500, diffs)
	b.Logf("built %d envelopes and their stores in %s", a.Len(), time.Since(start).Round(time.Second))
	for _, k := range diffs {
		for _, initiatorLacks := range []bool{true, false} {
			side := map[bool]string{true: "initiator-lacks", false: "responder-lacks"}[initiatorLacks]
			b.Run(fmt.Sprintf("differ=%d/%s", k, side), func(b *testing.B) {
				var last replicatest.SyncResult
				var floor, changed int
				for b.Loop() {
					last, floor, changed = a.Sync(b, k, initiatorLacks)
				}
				b.ReportMetric(float64(last.Bytes), "wire-bytes")
				b.ReportMetric(float64(last.I.RoundTrips), "round-trips")
				b.ReportMetric(float64(changed), "authors-changed")
				if k == 0 {
					b.ReportMetric(float64(last.Bytes)/InSyncTarget, "x-1KiB-target")
					return
				}
				b.ReportMetric(float64(floor), "floor-bytes")
				b.ReportMetric(float64(last.Bytes)/float64(floor), "x-floor")
				b.ReportMetric(float64(last.Bytes)/(1.1*float64(floor)+InSyncTarget), "x-target")
			})
		}
	}
}

// BenchmarkCatchUp: envelopes per second moved to a peer that was away (a
// store lacking 10,000 envelopes syncs with one that holds them), next to
// the local store's write rate, with fsync on in both.
func BenchmarkCatchUp(b *testing.B) {
	c := NewCatchUp(b, 50, 200)
	var addRate float64
	b.Run("local-add", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			total += c.LocalAdd(b)
		}
		addRate = float64(b.N*c.Len()) / total.Seconds()
		b.ReportMetric(addRate, "envelopes/s")
	})
	b.Run("sync", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			total += c.Sync(b)
		}
		rate := float64(b.N*c.Len()) / total.Seconds()
		b.ReportMetric(rate, "envelopes/s")
		if addRate > 0 {
			b.ReportMetric(rate/addRate, "x-local-add")
		}
	})
}

// BenchmarkDissemination: time from a write on one node to the last of N
// nodes holding it, on loopback, next to the theoretical push-gossip time;
// one op is one write. With 20% of gossip packets lost, the share of
// (envelope, node) pairs present one anti-entropy interval after each
// write.
func BenchmarkDissemination(b *testing.B) {
	for _, n := range []int{8, 32, 64} {
		for _, loss := range []float64{0, 0.2} {
			b.Run(fmt.Sprintf("nodes=%d/loss=%.0f%%", n, loss*100), func(b *testing.B) {
				s := Disseminate(b, n, loss, b.N)
				p50, p99 := Percentile(s.Latencies, 0.5), Percentile(s.Latencies, 0.99)
				b.ReportMetric(millis(p50), "p50-ms")
				b.ReportMetric(millis(p99), "p99-ms")
				b.ReportMetric(millis(s.Theory), "theory-ms")
				b.ReportMetric(p50.Seconds()/s.Theory.Seconds(), "p50/theory")
				b.ReportMetric(p99.Seconds()/s.Theory.Seconds(), "p99/theory")
				if loss > 0 {
					b.ReportMetric(s.Present, "fraction-within-AE")
				}
			})
		}
	}
}

// benchHomeSizes are the homes of the home benchmarks; a million posts with
// NOROSHI_BENCH_1M=1.
var benchHomeSizes = []int{10_000, 100_000, 1_000_000}

// benchHome returns a home of n posts, built once in the temp directory
// (NOROSHI_BENCH_DIR overrides).
func benchHome(b *testing.B, n int) string {
	if n > 100_000 && os.Getenv("NOROSHI_BENCH_1M") == "" {
		b.Skip("set NOROSHI_BENCH_1M=1 to build and measure a home of a million posts")
	}
	dir := os.Getenv("NOROSHI_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	home, err := app.BenchHome(dir, n, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.OpenBenchHome(home) // fold what the build left unfolded
	if err != nil {
		b.Fatal(err)
	}
	a.Close()
	return home
}

// BenchmarkOpenHome measures opening a home whose views are up to date and
// answering what `noroshi whoami` and the first page of `noroshi feed` ask,
// against the targets of 50 ms and 300 ms.
func BenchmarkOpenHome(b *testing.B) {
	for _, n := range benchHomeSizes {
		b.Run(fmt.Sprintf("posts=%d", n), func(b *testing.B) {
			home := benchHome(b, n)
			var whoami, feed time.Duration
			for b.Loop() {
				w, f, err := Open(home, 1)
				if err != nil {
					b.Fatal(err)
				}
				whoami, feed = whoami+w, feed+f
			}
			wm, fm := millis(whoami)/float64(b.N), millis(feed)/float64(b.N)
			b.ReportMetric(wm, "whoami-ms")
			b.ReportMetric(wm/millis(WhoAmITarget), "whoami/target")
			b.ReportMetric(fm, "feed-ms")
			b.ReportMetric(fm/millis(FirstPageTarget), "feed/target")
		})
	}
}

// BenchmarkSearchKeystroke types SearchQueries one character at a time on
// a home of 100,000 posts (NOROSHI_BENCH_POSTS changes it) and measures the
// answer to each keystroke (a page of 50), against the target of 50 ms.
func BenchmarkSearchKeystroke(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	a, err := app.OpenBenchHome(benchHome(b, n))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	var all []time.Duration
	for b.Loop() {
		d, _ := Keystrokes(a, SearchQueries)
		all = append(all, d...)
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	per := millis(sum) / float64(len(all))
	b.ReportMetric(per, "ms/keystroke")
	b.ReportMetric(per/millis(KeystrokeTarget), "keystroke/target")
	b.ReportMetric(millis(Percentile(all, 1)), "worst-ms")
}

// TestMemoryChild is run by BenchmarkMemory in a process of its own.
func TestMemoryChild(t *testing.T) {
	home := os.Getenv("NOROSHI_MEM_HOME")
	if home == "" {
		t.Skip("run by BenchmarkMemory")
	}
	r, err := MemChild(home)
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// memChild runs TestMemoryChild on home in a new process.
func memChild(ctx context.Context, home string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NOROSHI_MEM_HOME="+home)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return out, err
}

// BenchmarkMemory opens homes of 10,000, 100,000 and (with
// NOROSHI_BENCH_1M=1) 1,000,000 posts in a fresh process, pages through
// the whole feed, and reports the live heap and the resident set size
// against the targets: under 64 MiB resident, under 200 bytes of heap per
// stored post.
func BenchmarkMemory(b *testing.B) {
	for _, n := range benchHomeSizes {
		b.Run(fmt.Sprintf("posts=%d", n), func(b *testing.B) {
			home := benchHome(b, n)
			var r MemReport
			for b.Loop() {
				var err error
				if r, err = Memory(context.Background(), home, memChild); err != nil {
					b.Fatal(err)
				}
			}
			const mib = 1 << 20
			b.ReportMetric(float64(r.HeapOpen)/mib, "heap-MiB")
			b.ReportMetric(float64(r.HeapAfterFeed)/float64(max(r.Posts, 1)), "heap-B/post")
			b.ReportMetric(float64(r.HeapAfterFeed)/float64(max(r.Posts, 1))/HeapPerPost, "heap/target")
			b.ReportMetric(float64(r.RSSOpen)/mib, "rss-open-MiB")
			b.ReportMetric(float64(r.RSSAfterFeed)/mib, "rss-MiB")
			b.ReportMetric(float64(r.RSSRightAfter)/mib, "rss-busy-MiB")
			b.ReportMetric(float64(r.HWM)/mib, "rss-peak-MiB")
			b.ReportMetric(float64(r.RSSAfterFeed)/RSSTarget, "rss/target")
			b.ReportMetric(r.OpenMS, "open-ms")
			b.ReportMetric(r.FeedMS, "full-feed-ms")
		})
	}
}

// TestRunOnly runs the cheapest group of the table and checks its shape;
// no figure is asserted.
func TestRunOnly(t *testing.T) {
	res, err := Run(context.Background(), Options{Quick: true, Only: []string{"seal"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) > 0 {
		t.Fatalf("skipped: %v", res.Skipped)
	}
	if len(res.Rows) != 4 {
		t.Fatalf("%d rows, want 4 (seal and open, 1 KiB and 1 MiB)", len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Group != "seal" || r.Value <= 0 || r.Limit <= 0 || r.Ratio <= 0 || r.Kind != Floor {
			t.Errorf("row %+v", r)
		}
	}
	if _, err := Run(context.Background(), Options{Only: []string{"nosuch"}}); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
}

package app

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Benchmarks of a home that need app's insides. The homes come from
// BenchHome (benchhome.go); the benchmarks of the table `noroshi bench`
// prints (open, search, memory) are in noroshi/app/bench.

// benchHome returns a home of about n posts, built once, in the temp
// directory (NOROSHI_BENCH_DIR overrides).
func benchHome(tb testing.TB, n int) string {
	tb.Helper()
	dir := os.Getenv("NOROSHI_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	home, err := BenchHome(dir, n, tb.Logf)
	if err != nil {
		tb.Fatal(err)
	}
	return home
}

func benchDraft(i int) PostDraft { return BenchDraft(i) }

func benchOpen(tb testing.TB, home string) *App {
	tb.Helper()
	a, err := OpenBenchHome(home)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// BenchmarkServeReady measures what `noroshi serve` does after the key
// unlock on a home of 100,000 posts (NOROSHI_BENCH_POSTS changes it): open
// the home, bring its views up to date and start the network on loopback,
// against the target of 500 ms.
func BenchmarkServeReady(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	home := benchHome(b, n)
	benchOpen(b, home).Close() // fold what the build left unfolded
	dev, err := ReadDevice(home, DemoPassphrase)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig(home)
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		a, err := OpenDevice(cfg, dev)
		if err != nil {
			b.Fatal(err)
		}
		net, err := a.StartNetwork(NetworkConfig{BindAddr: "127.0.0.1", Profile: ProfileLAN})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		net.Close()
		a.Close()
	}
	ms := float64(total.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(ms, "ready-ms")
	b.ReportMetric(ms/500, "ready/target")
}

// BenchmarkIndicatorFeedRebuild measures what a poll of the indicator feed
// costs after a post arrived (the blocklists and the TAXII collection read
// again), on a home of NOROSHI_BENCH_POSTS posts (10,000 unless set), each
// carrying an indicator: against reading every post's summary once (the
// full feed, page by page), measured in the same run.
func BenchmarkIndicatorFeedRebuild(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	a := benchOpen(b, benchHome(b, n))
	defer a.Close()
	start := time.Now()
	for before := ""; ; {
		page := a.Feed(FeedFilter{Before: before, Limit: 500})
		if len(page) == 0 {
			break
		}
		before = page[len(page)-1].ID
	}
	walk := time.Since(start)
	var blocklists, taxii time.Duration
	var taxiiBytes uint64
	for b.Loop() {
		t0 := time.Now()
		a.feedSnapshot(TLPAmber, nil)
		t1 := time.Now()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		objs, err := a.taxiiObjects(TLPAmber)
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		taxii += time.Since(t1)
		blocklists += t1.Sub(t0)
		taxiiBytes = m1.TotalAlloc - m0.TotalAlloc
		_ = objs
	}
	runs := float64(b.N)
	b.ReportMetric(float64(blocklists.Milliseconds())/runs, "blocklists-ms")
	b.ReportMetric(float64(taxii.Milliseconds())/runs, "taxii-ms")
	b.ReportMetric(float64(taxiiBytes)/(1<<20), "taxii-alloc-MiB")
	b.ReportMetric(float64(walk.Milliseconds()), "full-feed-ms")
	b.ReportMetric(blocklists.Seconds()/runs/walk.Seconds(), "blocklists/full-feed")
	b.ReportMetric(taxii.Seconds()/runs/walk.Seconds(), "taxii/full-feed")
}

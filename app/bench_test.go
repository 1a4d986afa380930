package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"noroshi/crypto/cryptotest"
)

// Benchmarks of a home at the Games' scale and beyond. Each prints its
// ratio to the target, measured in the same run; none asserts a
// time. Homes are built once (PostBatch, a few thousand posts per commit)
// and kept in the temp directory (NOROSHI_BENCH_DIR overrides) for later
// runs: a demo community grown to n posts of varied titles, bodies, tags,
// TLPs and indicators.

var benchSizes = []int{10_000, 100_000, 1_000_000}

// benchWords make titles and bodies that a search can tell apart.
var benchWords = strings.Fields(`phishing ransomware ddos botnet scanning credential ticketing venue portal
	railway electricity broadcast sponsor wifi firewall malware loader exploit vulnerability patch advisory
	olympic paralympic stadium accreditation volunteer transport timing results streaming`)

func benchDraft(i int) PostDraft {
	w := func(k int) string { return benchWords[(i*7+k*13)%len(benchWords)] }
	return PostDraft{
		Type: PostTypes[i%len(PostTypes)], Tag: Tags[i%len(Tags)],
		TLP:     []TLP{TLPClear, TLPGreen, TLPAmber}[i%3],
		Channel: []Channel{ChannelPro, ChannelGeneral}[i%2],
		Title:   fmt.Sprintf("%s %s against %s n%d", w(0), w(1), w(2), i),
		Body: fmt.Sprintf("Observed %s of registered addresses from 203.0.113.%d; %s and %s reported by two venues. 大会関連の%sに注意。",
			w(3), i%256, w(4), w(5), []string{"フィッシング", "不正アクセス", "サービス妨害"}[i%3]),
		Indicators: []string{fmt.Sprintf("203.0.113.%d", i%256)},
	}
}

// benchHome returns a home of about n posts, built once.
func benchHome(tb testing.TB, n int) string {
	tb.Helper()
	dir := os.Getenv("NOROSHI_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	home := filepath.Join(dir, fmt.Sprintf("noroshi-bench-home-%d", n))
	done := filepath.Join(home, "complete")
	if _, err := os.Stat(done); err == nil {
		return home
	}
	os.RemoveAll(home)
	cfg := DefaultConfig(home)
	cfg.WorkFactor = cryptotest.WorkFactor
	start := time.Now()
	a, err := Demo(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	have := len(a.Feed(FeedFilter{}))
	var drafts []PostDraft
	for i := have; i < n; i++ {
		drafts = append(drafts, benchDraft(i))
		if len(drafts) == 10*postBatch || i == n-1 {
			if _, err := a.PostBatch(drafts); err != nil {
				tb.Fatal(err)
			}
			drafts = drafts[:0]
		}
	}
	if err := a.Close(); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built a home of %d posts in %v", n, time.Since(start).Round(time.Second))
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	return home
}

func benchOpen(tb testing.TB, home string) *App {
	tb.Helper()
	cfg := DefaultConfig(home)
	cfg.WorkFactor = cryptotest.WorkFactor
	dev, err := ReadDevice(home, DemoPassphrase)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := OpenDevice(cfg, dev)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// BenchmarkOpen measures opening a home whose views are up to date (the
// key unlock excluded: scrypt, unchanged) and answering what `noroshi
// whoami` and the first page of `noroshi feed` ask, against the targets
// of 50 ms and 300 ms.
func BenchmarkOpen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("posts=%d", n), func(b *testing.B) {
			if n > 100_000 && os.Getenv("NOROSHI_BENCH_1M") == "" {
				b.Skip("set NOROSHI_BENCH_1M=1 to build and measure a home of a million posts")
			}
			home := benchHome(b, n)
			dev, err := ReadDevice(home, DemoPassphrase)
			if err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig(home)
			cfg.WorkFactor = cryptotest.WorkFactor
			// The first open folds what the build left unfolded.
			a, err := OpenDevice(cfg, dev)
			if err != nil {
				b.Fatal(err)
			}
			a.Close()
			var whoami, feed time.Duration
			for b.Loop() {
				start := time.Now()
				a, err := OpenDevice(cfg, dev)
				if err != nil {
					b.Fatal(err)
				}
				a.WhoAmI()
				whoami += time.Since(start)
				if page := a.Feed(FeedFilter{Limit: 50}); len(page) != 50 {
					b.Fatalf("first page holds %d posts", len(page))
				}
				feed += time.Since(start)
				a.Close()
			}
			wm := float64(whoami.Microseconds()) / 1000 / float64(b.N)
			fm := float64(feed.Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(wm, "whoami-ms")
			b.ReportMetric(wm/50, "whoami/target")
			b.ReportMetric(fm, "feed-ms")
			b.ReportMetric(fm/300, "feed/target")
		})
	}
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

// BenchmarkSearchKeystroke types queries one character at a time on a
// home of 100,000 posts (NOROSHI_BENCH_POSTS changes it) and measures the
// answer to each keystroke (a page of 50), against the target of 50 ms.
// The queries include a word no post holds (the whole index is walked) and
// Japanese text.
func BenchmarkSearchKeystroke(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	a := benchOpen(b, benchHome(b, n))
	defer a.Close()
	queries := []string{"phishing venue", "203.0.113.77", "zzqxnotthere", "不正アクセス", "n99999"}
	var worst time.Duration
	worstOf := map[string]time.Duration{}
	keys := 0
	for b.Loop() {
		for _, q := range queries {
			typed := ""
			for _, r := range q {
				typed += string(r)
				start := time.Now()
				a.Feed(FeedFilter{Search: typed, Limit: 50})
				d := time.Since(start)
				worst = max(worst, d)
				worstOf[typed] = max(worstOf[typed], d)
				keys++
			}
		}
	}
	for _, q := range queries {
		typed := ""
		var line []string
		for _, r := range q {
			typed += string(r)
			line = append(line, fmt.Sprintf("%q %.1f", typed, float64(worstOf[typed].Microseconds())/1000))
		}
		b.Logf("worst ms per keystroke: %s", strings.Join(line, ", "))
	}
	per := b.Elapsed().Seconds() * 1000 / float64(keys)
	b.ReportMetric(per, "ms/keystroke")
	b.ReportMetric(per/50, "keystroke/target")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// memReport is what TestMemoryChild prints.
type memReport struct {
	Posts         int     `json:"posts"`
	OpenMS        float64 `json:"open_ms"`
	HeapOpen      uint64  `json:"heap_open"`
	HeapAfterFeed uint64  `json:"heap_after_feed"`
	RSSOpen       uint64  `json:"rss_open"`
	RSSAfterFeed  uint64  `json:"rss_after_feed"`
	RSSRightAfter uint64  `json:"rss_right_after"`
	HWM           uint64  `json:"hwm"`
	FeedMS        float64 `json:"feed_ms"`
}

// TestMemoryChild is run by BenchmarkMemory in a process of its own, so
// that the figures are those of a process that opens a home, not of the
// one that built it.
func TestMemoryChild(t *testing.T) {
	home := os.Getenv("NOROSHI_MEM_HOME")
	if home == "" {
		t.Skip("run by BenchmarkMemory")
	}
	start := time.Now()
	a := benchOpen(t, home)
	defer a.Close()
	r := memReport{OpenMS: float64(time.Since(start).Microseconds()) / 1000}
	r.HeapOpen, r.RSSOpen, _ = memNow()
	// A full feed query: every page, as a script paging through --json.
	start = time.Now()
	f := FeedFilter{Limit: 100}
	for {
		page := a.Feed(f)
		r.Posts += len(page)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	r.FeedMS = float64(time.Since(start).Microseconds()) / 1000
	r.HeapAfterFeed, r.RSSRightAfter, _ = memNow()
	// At rest: the process lets go of the pages it read once idle.
	time.Sleep(releaseIdle + 500*time.Millisecond)
	r.HeapAfterFeed, r.RSSAfterFeed, r.HWM = memNow()
	json.NewEncoder(os.Stdout).Encode(r)
}

// memNow returns the live heap after a collection, the resident set size
// and its peak.
func memNow() (heap, rss, hwm uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m.HeapAlloc, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return m.HeapAlloc, rss, hwm
}

// BenchmarkMemory opens homes of 10,000, 100,000 and (with
// NOROSHI_BENCH_1M=1) 1,000,000 posts in a fresh process, pages through
// the whole feed, and reports the live heap and the resident set size
// against the targets: under 64 MiB resident, under 200 bytes of heap per
// stored post.
func BenchmarkMemory(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("posts=%d", n), func(b *testing.B) {
			if n > 100_000 && os.Getenv("NOROSHI_BENCH_1M") == "" {
				b.Skip("set NOROSHI_BENCH_1M=1 to build and measure a home of a million posts")
			}
			home := benchHome(b, n)
			benchOpen(b, home).Close() // fold what the build left unfolded
			var r memReport
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), "NOROSHI_MEM_HOME="+home)
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				line := out
				if i := strings.Index(string(out), "{"); i >= 0 {
					line = out[i:]
				}
				if j := strings.Index(string(line), "\n"); j >= 0 {
					line = line[:j]
				}
				if err := json.Unmarshal(line, &r); err != nil {
					b.Fatalf("child output %q: %v", out, err)
				}
			}
			const mib = 1 << 20
			b.ReportMetric(float64(r.HeapOpen)/mib, "heap-MiB")
			b.ReportMetric(float64(r.HeapAfterFeed)/float64(max(r.Posts, 1)), "heap-B/post")
			b.ReportMetric(float64(r.HeapAfterFeed)/float64(max(r.Posts, 1))/200, "heap/target")
			b.ReportMetric(float64(r.RSSOpen)/mib, "rss-open-MiB")
			b.ReportMetric(float64(r.RSSAfterFeed)/mib, "rss-MiB")
			b.ReportMetric(float64(r.RSSRightAfter)/mib, "rss-busy-MiB")
			b.ReportMetric(float64(r.HWM)/mib, "rss-peak-MiB")
			b.ReportMetric(float64(r.RSSAfterFeed)/(64*mib), "rss/target")
			b.ReportMetric(r.OpenMS, "open-ms")
			b.ReportMetric(r.FeedMS, "full-feed-ms")
			b.Logf("%d posts: open %.0f ms, heap %.1f MiB after open, %.1f MiB after a full feed (%.0f B/post), RSS %.1f MiB after open, %.1f MiB at rest after a full feed (%.1f MiB right after it, peak %.1f MiB), full feed %.0f ms",
				r.Posts, r.OpenMS, float64(r.HeapOpen)/mib, float64(r.HeapAfterFeed)/mib, float64(r.HeapAfterFeed)/float64(max(r.Posts, 1)),
				float64(r.RSSOpen)/mib, float64(r.RSSAfterFeed)/mib, float64(r.RSSRightAfter)/mib, float64(r.HWM)/mib, r.FeedMS)
		})
	}
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

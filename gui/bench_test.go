package gui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"noroshi/app"
)

// benchPosts is the size of the benchmark feed: NOROSHI_BENCH_POSTS, else
// 100,000 (the figure).
func benchPosts() int {
	if n, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchHome returns a demo home holding about n posts, written a few
// thousand per commit (app.PostBatch: about four minutes for 100,000 here),
// built once and kept in the temp directory (NOROSHI_BENCH_DIR overrides)
// for later runs.
func benchHome(tb testing.TB, n int) string {
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
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = app.TestWorkFactor
	start := time.Now()
	a, err := app.Demo(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Close()
	have := len(a.Feed(app.FeedFilter{}))
	var drafts []app.PostDraft
	for i := have; i < n; i++ {
		drafts = append(drafts, app.PostDraft{
			Type: app.PostTypes[i%len(app.PostTypes)], Tag: app.Tags[i%len(app.Tags)],
			TLP:     []app.TLP{app.TLPClear, app.TLPGreen, app.TLPAmber}[i%3],
			Channel: []app.Channel{app.ChannelPro, app.ChannelGeneral}[i%2],
			Title:   fmt.Sprintf("Benchmark post %d: scanning of 203.0.113.%d from a botnet", i, i%256),
			Body:    "Observed **scanning** of registered addresses; see the attached list.",
		})
		if len(drafts) == 20_000 || i == n-1 {
			if _, err := a.PostBatch(drafts); err != nil {
				tb.Fatal(err)
			}
			drafts = drafts[:0]
		}
	}
	tb.Logf("built a home of %d posts in %v", n, time.Since(start))
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	return home
}

func TestBuildBenchHome(t *testing.T) {
	if os.Getenv("NOROSHI_BUILD_BENCH") == "" {
		t.Skip("set NOROSHI_BUILD_BENCH=1 to build the benchmark home ahead of the benchmark")
	}
	benchHome(t, benchPosts())
}

// openBench opens the benchmark home and reports how long unlocking and
// folding it took (app's cost, before any window).
func openBench(b *testing.B) *app.App {
	home := benchHome(b, benchPosts())
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = app.TestWorkFactor
	start := time.Now()
	a, err := app.Open(cfg, app.DemoPassphrase)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("app.Open of %d posts: %v", benchPosts(), time.Since(start))
	start = time.Now()
	n := len(a.Feed(app.FeedFilter{Limit: 200}))
	b.Logf("app.Feed, first page of %d posts: %v", n, time.Since(start))
	b.Cleanup(func() { a.Close() })
	return a
}

// BenchmarkFeedFirstFrame measures, for a home of 100,000 posts, the time
// from the key unlock to the main window's first rendered frame: the home
// opened (its views up to date), the first page of the feed read, the
// widgets made and the window drawn by the software painter at 1366x768,
// against the target of one second.
func BenchmarkFeedFirstFrame(b *testing.B) {
	a := openBench(b)
	home := a.Home()
	a.Close()
	dev, err := app.ReadDevice(home, app.DemoPassphrase)
	if err != nil {
		b.Fatal(err)
	}
	fa, w := newWindow(b)
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		cfg := app.DefaultConfig(home)
		cfg.WorkFactor = app.TestWorkFactor
		a, err := app.OpenDevice(cfg, dev)
		if err != nil {
			b.Fatal(err)
		}
		s := &Session{fa: fa, win: w, cfg: Config{App: app.Config{Home: home}}}
		u := buildUI(s, a, nil, nil)
		u.show(screenFeed)
		if w.Canvas().Capture() == nil {
			b.Fatal("no frame")
		}
		total += time.Since(start)
		if len(u.feed.posts) == 0 {
			b.Fatal("the feed shows no post")
		}
		u.stopLive()
		a.Close()
	}
	ms := float64(total.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(ms, "first-frame-ms")
	b.ReportMetric(ms/1000, "first-frame/target")
}

// BenchmarkFeedScrollPage measures scrolling the 100,000-post feed by one
// page and drawing the frame.
func BenchmarkFeedScrollPage(b *testing.B) {
	a := openBench(b)
	fa, w := newWindow(b)
	s := &Session{fa: fa, win: w, cfg: Config{App: app.Config{Home: a.Home()}}}
	u := buildUI(s, a, nil, nil)
	u.show(screenFeed)
	w.Canvas().Capture()
	page := u.feed.list.Size().Height
	offset := float32(0)
	for b.Loop() {
		offset += page
		u.feed.list.ScrollToOffset(offset)
		if w.Canvas().Capture() == nil {
			b.Fatal("no frame")
		}
	}
	b.ReportMetric(float64(offset/page), "pages")
}

// BenchmarkFeedSearchKeystroke measures one keystroke in the search box:
// the feed filtered by app and the list redrawn.
func BenchmarkFeedSearchKeystroke(b *testing.B) {
	a := openBench(b)
	fa, w := newWindow(b)
	s := &Session{fa: fa, win: w, cfg: Config{App: app.Config{Home: a.Home()}}}
	u := buildUI(s, a, nil, nil)
	u.show(screenFeed)
	queries := []string{"2", "20", "203", "203.0.113.7"}
	i := 0
	for b.Loop() {
		u.header.search.SetText(queries[i%len(queries)])
		i++
		w.Canvas().Capture()
	}
}

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"noroshi/app"
)

// A home at the Games' scale and beyond (app.BenchHome): opening it, its
// memory, and search a keystroke at a time, against the targets.

// Targets of the issue, for a home of 100,000 posts.
const (
	WhoAmITarget    = 50 * time.Millisecond  // open, then whoami
	FirstPageTarget = 300 * time.Millisecond // open, then the first page of the feed
	KeystrokeTarget = 50 * time.Millisecond  // the answer to a keystroke
	RSSTarget       = 64 << 20               // resident at rest after a full feed
	HeapPerPost     = 200                    // live heap per stored post
)

// homeSizes are the homes the open and memory rows measure.
func (r *runner) homeSizes() []int {
	if r.quick() {
		return []int{10_000}
	}
	return []int{10_000, 100_000}
}

// home returns the benchmark home of n posts, building it (once) first.
func (r *runner) home(n int) string {
	home := app.BenchHomePath(r.opts.Dir, n)
	if _, err := os.Stat(home + "/complete"); err != nil {
		r.progress("building a home of %d posts in %s (once; later runs reuse it)", n, home)
	}
	home, err := app.BenchHome(r.opts.Dir, n, r.progress)
	if err != nil {
		r.Fatal(err)
	}
	// The first open folds what the build left unfolded.
	a, err := app.OpenBenchHome(home)
	if err != nil {
		r.Fatal(err)
	}
	a.Close()
	return home
}

// Open returns the mean time, over runs opens, until a home answers
// whoami and until it answers the first page of the feed (app.BenchOpen).
func Open(home string, runs int) (whoami, firstPage time.Duration, err error) {
	for range runs {
		w, f, err := app.BenchOpen(home)
		if err != nil {
			return 0, 0, err
		}
		whoami += w
		firstPage += f
	}
	return whoami / time.Duration(runs), firstPage / time.Duration(runs), nil
}

func openRows(r *runner) []Row {
	var rows []Row
	for _, n := range r.homeSizes() {
		r.check()
		home := r.home(n)
		r.progress("open: a home of %d posts, 10 times", n)
		w, f, err := Open(home, 10)
		if err != nil {
			r.Fatal(err)
		}
		rows = append(rows,
			Row{Name: fmt.Sprintf("open %dk posts, whoami", n/1000), Value: millis(w), Limit: millis(WhoAmITarget), Unit: "ms", Kind: Target,
				LimitIs: "the issue's target (key unlock excluded)"},
			Row{Name: fmt.Sprintf("open %dk posts, first page", n/1000), Value: millis(f), Limit: millis(FirstPageTarget), Unit: "ms", Kind: Target,
				LimitIs: "the issue's target (key unlock excluded)"})
	}
	return rows
}

// MemReport is what MemChild measures.
type MemReport struct {
	Posts         int     `json:"posts"`
	OpenMS        float64 `json:"open_ms"`
	HeapOpen      uint64  `json:"heap_open"`
	HeapAfterFeed uint64  `json:"heap_after_feed"`
	RSSOpen       uint64  `json:"rss_open"`
	RSSAfterFeed  uint64  `json:"rss_after_feed"`
	RSSRightAfter uint64  `json:"rss_right_after"`
	HWM           uint64  `json:"hwm"`
	FeedMS        float64 `json:"feed_ms"`
	InProcess     bool    `json:"in_process,omitempty"`
}

// MemChild opens home, pages through the whole feed (as a script paging
// through --json), waits until the home lets go of what it read, and
// measures the process's memory at each step. Run it in a process of its
// own (Options.MemChild) so that the figures are those of a process that
// opens a home.
func MemChild(home string) (MemReport, error) {
	start := time.Now()
	a, err := app.OpenBenchHome(home)
	if err != nil {
		return MemReport{}, err
	}
	defer a.Close()
	r := MemReport{OpenMS: millis(time.Since(start))}
	r.HeapOpen, r.RSSOpen, _ = memNow()
	start = time.Now()
	f := app.FeedFilter{Limit: 100}
	for {
		page := a.Feed(f)
		r.Posts += len(page)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	r.FeedMS = millis(time.Since(start))
	r.HeapAfterFeed, r.RSSRightAfter, _ = memNow()
	// At rest: the process lets go of the pages it read once idle.
	time.Sleep(app.ReleaseIdle + 500*time.Millisecond)
	r.HeapAfterFeed, r.RSSAfterFeed, r.HWM = memNow()
	return r, nil
}

// ParseMemReport reads the JSON line a MemChild process printed among its
// other output.
func ParseMemReport(out []byte) (MemReport, error) {
	var r MemReport
	line := string(out)
	if i := strings.Index(line, "{"); i >= 0 {
		line = line[i:]
	}
	if j := strings.Index(line, "\n"); j >= 0 {
		line = line[:j]
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("memory child printed %q: %w", out, err)
	}
	return r, nil
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

// Memory measures home with MemChild in a process of its own when child
// is set, in this one otherwise.
func Memory(ctx context.Context, home string, child func(context.Context, string) ([]byte, error)) (MemReport, error) {
	if child == nil {
		r, err := MemChild(home)
		r.InProcess = true
		return r, err
	}
	out, err := child(ctx, home)
	if err != nil {
		return MemReport{}, fmt.Errorf("memory child: %w", err)
	}
	return ParseMemReport(out)
}

func memoryRows(r *runner) []Row {
	var rows []Row
	const mib = 1 << 20
	for _, n := range r.homeSizes() {
		r.check()
		home := r.home(n)
		r.progress("memory: a home of %d posts, opened in a process of its own, the whole feed read", n)
		m, err := Memory(r.ctx, home, r.opts.MemChild)
		if err != nil {
			r.Fatal(err)
		}
		where := ""
		if m.InProcess {
			where = "; measured in the bench process, not a fresh one"
		}
		rows = append(rows,
			Row{Name: fmt.Sprintf("memory %dk posts, resident at rest", n/1000), Value: float64(m.RSSAfterFeed) / mib, Limit: RSSTarget / mib, Unit: "MiB", Kind: Target,
				LimitIs: "the issue's target, after a full feed",
				Note:    fmt.Sprintf("%.1f MiB after open, %.1f MiB right after the feed, peak %.1f MiB%s", float64(m.RSSOpen)/mib, float64(m.RSSRightAfter)/mib, float64(m.HWM)/mib, where)},
			Row{Name: fmt.Sprintf("memory %dk posts, heap per post", n/1000), Value: float64(m.HeapAfterFeed) / float64(max(m.Posts, 1)), Limit: HeapPerPost, Unit: "B", Kind: Target,
				LimitIs: "the issue's target",
				Note:    fmt.Sprintf("%.1f MiB live heap after open, full feed of %d posts in %.0f ms", float64(m.HeapOpen)/mib, m.Posts, m.FeedMS)})
	}
	return rows
}

// SearchQueries are typed a character at a time: a word no post holds
// (the whole index is walked), an address, Japanese text, a title's tag.
var SearchQueries = []string{"phishing venue", "203.0.113.77", "zzqxnotthere", "不正アクセス", "n99999"}

// Keystrokes types each query one character at a time in a's feed search
// and returns the time of each answer (a page of 50), by prefix typed.
func Keystrokes(a *app.App, queries []string) (all []time.Duration, byPrefix map[string]time.Duration) {
	byPrefix = map[string]time.Duration{}
	for _, q := range queries {
		typed := ""
		for _, r := range q {
			typed += string(r)
			start := time.Now()
			a.Feed(app.FeedFilter{Search: typed, Limit: 50})
			d := time.Since(start)
			all = append(all, d)
			byPrefix[typed] = max(byPrefix[typed], d)
		}
	}
	return all, byPrefix
}

func searchRows(r *runner) []Row {
	n := 100_000
	if r.quick() {
		n = 10_000
	}
	home := r.home(n)
	a, err := app.OpenBenchHome(home)
	if err != nil {
		r.Fatal(err)
	}
	defer a.Close()
	r.progress("search: typing %d queries on %d posts, 3 times", len(SearchQueries), n)
	var all []time.Duration
	for range 3 {
		r.check()
		d, _ := Keystrokes(a, SearchQueries)
		all = append(all, d...)
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	mean := sum / time.Duration(len(all))
	return []Row{{Name: fmt.Sprintf("search keystroke, %dk posts (mean)", n/1000), Value: millis(mean), Limit: millis(KeystrokeTarget), Unit: "ms", Kind: Target,
		LimitIs: "the issue's target",
		Note:    fmt.Sprintf("p95 %.1f ms, worst %.1f ms over %d keystrokes", millis(Percentile(all, 0.95)), millis(Percentile(all, 1)), len(all))}}
}

package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Homes for benchmarks (`noroshi bench`, go test -bench): a demo community
// grown to n posts of varied titles, bodies, tags, TLPs and indicators,
// built once (PostBatch, a few thousand posts per commit) and kept for
// later runs. Their key file uses TestWorkFactor and DemoPassphrase: they
// are for measuring, never for real use.

// benchWords make titles and bodies that a search can tell apart.
var benchWords = strings.Fields(`phishing ransomware ddos botnet scanning credential ticketing venue portal
	railway electricity broadcast sponsor wifi firewall malware loader exploit vulnerability patch advisory
	olympic paralympic stadium accreditation volunteer transport timing results streaming`)

// BenchDraft returns the i-th post of a benchmark home.
func BenchDraft(i int) PostDraft {
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

// benchConfig is the configuration of a benchmark home.
func benchConfig(home string) Config {
	cfg := DefaultConfig(home)
	cfg.WorkFactor = TestWorkFactor
	return cfg
}

// BenchHome returns the benchmark home of about n posts under dir
// (dir/noroshi-bench-home-N), building it when it is not there yet (a file
// "complete" in it says it was built whole). logf hears how a build goes
// and how long it took; it may be nil.
func BenchHome(dir string, n int, logf func(string, ...any)) (string, error) {
	home := BenchHomePath(dir, n)
	done := filepath.Join(home, "complete")
	if _, err := os.Stat(done); err == nil {
		return home, nil
	}
	if err := os.RemoveAll(home); err != nil {
		return "", fmt.Errorf("bench home: %w", err)
	}
	start := time.Now()
	a, err := Demo(benchConfig(home))
	if err != nil {
		return "", fmt.Errorf("bench home: %w", err)
	}
	have := len(a.Feed(FeedFilter{}))
	var drafts []PostDraft
	for i := have; i < n; i++ {
		drafts = append(drafts, BenchDraft(i))
		if len(drafts) == 10*postBatch || i == n-1 {
			if _, err := a.PostBatch(drafts); err != nil {
				a.Close()
				return "", fmt.Errorf("bench home: %w", err)
			}
			drafts = drafts[:0]
			if logf != nil && i < n-1 {
				logf("home of %d posts: %d written in %v", n, i+1, time.Since(start).Round(time.Second))
			}
		}
	}
	if err := a.Close(); err != nil {
		return "", fmt.Errorf("bench home: %w", err)
	}
	if logf != nil {
		logf("built a home of %d posts in %v", n, time.Since(start).Round(time.Second))
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		return "", fmt.Errorf("bench home: %w", err)
	}
	return home, nil
}

// BenchHomePath is where BenchHome keeps the home of n posts under dir.
func BenchHomePath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("noroshi-bench-home-%d", n))
}

// OpenBenchHome opens a home BenchHome built (or any home of the demo
// passphrase and TestWorkFactor).
func OpenBenchHome(home string) (*App, error) {
	dev, err := ReadDevice(home, DemoPassphrase)
	if err != nil {
		return nil, fmt.Errorf("bench home: %w", err)
	}
	a, err := OpenDevice(benchConfig(home), dev)
	if err != nil {
		return nil, fmt.Errorf("bench home: %w", err)
	}
	return a, nil
}

// BenchOpen opens a home BenchHome built, measuring what `noroshi whoami`
// and the first page of `noroshi feed` ask of a home whose views are up to
// date (the key unlock excluded: scrypt, whatever the home's size): the
// time until WhoAmI answered and until the first page of 50 posts did.
func BenchOpen(home string) (whoami, firstPage time.Duration, err error) {
	dev, err := ReadDevice(home, DemoPassphrase)
	if err != nil {
		return 0, 0, fmt.Errorf("bench home: %w", err)
	}
	start := time.Now()
	a, err := OpenDevice(benchConfig(home), dev)
	if err != nil {
		return 0, 0, fmt.Errorf("bench home: %w", err)
	}
	defer a.Close()
	a.WhoAmI()
	whoami = time.Since(start)
	if page := a.Feed(FeedFilter{Limit: 50}); len(page) != 50 {
		return 0, 0, errors.New("bench home: the first page holds fewer than 50 posts")
	}
	return whoami, time.Since(start), nil
}

// ReleaseIdle is how long an open home waits, idle, before it lets go of
// the pages it read (what a measurement of memory at rest waits for).
const ReleaseIdle = releaseIdle

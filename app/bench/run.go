package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// runner runs one group: it is the testing.TB the shared measurement code
// (and replicatest, cryptotest) is given outside go test. Fatal ends the
// group with an error; temp dirs and cleanups are the group's.
type runner struct {
	// testing.TB is nil: only the methods below are ever called by the
	// measurement code and the helpers it uses; any other would panic and
	// end the group with an error.
	testing.TB
	ctx  context.Context
	opts Options
	name string

	mu       sync.Mutex
	dir      string
	cleanups []func()
	failed   []string
	skipped  []string // parts that failed while the group went on
}

func newRunner(ctx context.Context, opts Options, name string) *runner {
	return &runner{ctx: ctx, opts: opts, name: name}
}

// failure is what Fatal panics with; do recovers it.
type failure struct{ msg string }

// do runs f and returns its rows, or the failure that ended it; the
// group's cleanups run and its temp dir is removed in any case.
func (r *runner) do(f func(*runner) []Row) (rows []Row, err error) {
	defer func() {
		r.mu.Lock()
		cs := r.cleanups
		r.cleanups = nil
		r.mu.Unlock()
		func() {
			defer func() {
				if p := recover(); p != nil && err == nil {
					err = fmt.Errorf("cleanup: %v", p)
				}
			}()
			for i := len(cs) - 1; i >= 0; i-- {
				cs[i]()
			}
		}()
		if r.dir != "" {
			os.RemoveAll(r.dir)
		}
		if err == nil && len(r.failed) > 0 {
			err = fmt.Errorf("%s", r.failed[0])
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(failure); ok {
				err = fmt.Errorf("%s", f.msg)
				return
			}
			r.progress("%s: panic: %v\n%s", r.name, p, debug.Stack())
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f(r), nil
}

// part runs f, one part of the group (one size), and reports whether it
// succeeded: a part that fails is noted with why, its cleanups run, and the
// group goes on with its other parts.
func (r *runner) part(name string, f func()) (ok bool) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		fail, isFailure := p.(failure)
		if !isFailure || r.ctx.Err() != nil {
			panic(p)
		}
		r.progress("%s: %s failed: %s", r.name, name, fail.msg)
		r.skipped = append(r.skipped, name+": "+oneLine(fail.msg))
		r.cleanupNow()
		ok = false
	}()
	f()
	return true
}

// oneLine returns the first line of s, at most 300 bytes of it (a
// failure's detail, one line per node of a cluster, stays in the progress
// lines).
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSuffix(s, ":")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}

// cleanupNow runs the cleanups registered so far (closing stores, stopping
// nodes), newest first, before the group goes on to its next part.
func (r *runner) cleanupNow() {
	r.mu.Lock()
	cs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// quick reports whether the run measures the smaller sizes.
func (r *runner) quick() bool { return r.opts.Quick }

// progress writes a line to opts.Progress.
func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress == nil {
		return
	}
	fmt.Fprintf(r.opts.Progress, "%s bench %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// check ends the group when the run was cancelled.
func (r *runner) check() {
	if err := r.ctx.Err(); err != nil {
		panic(failure{err.Error()})
	}
}

// The testing.TB methods the measurement code uses.

func (r *runner) Helper()      {}
func (r *runner) Name() string { return "bench/" + r.name }
func (r *runner) Fatal(args ...any) {
	panic(failure{fmt.Sprint(args...)})
}
func (r *runner) Fatalf(format string, args ...any) {
	panic(failure{fmt.Sprintf(format, args...)})
}
func (r *runner) FailNow() { panic(failure{"failed"}) }
func (r *runner) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprint(args...))
}
func (r *runner) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *runner) Fail() { r.Error("failed") }
func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failed) > 0
}

// Log and Logf are quiet: the measurement code logs for go test -v.
func (r *runner) Log(args ...any)                 {}
func (r *runner) Logf(format string, args ...any) {}
func (r *runner) Skip(args ...any)                { panic(failure{"skipped: " + fmt.Sprint(args...)}) }
func (r *runner) Skipf(format string, args ...any) {
	panic(failure{"skipped: " + fmt.Sprintf(format, args...)})
}
func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}
func (r *runner) Context() context.Context { return r.ctx }

// TempDir returns a new directory under the group's own, removed when the
// group ends.
func (r *runner) TempDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == "" {
		d, err := os.MkdirTemp("", "noroshi-bench-")
		if err != nil {
			panic(failure{err.Error()})
		}
		r.dir = d
	}
	d, err := os.MkdirTemp(r.dir, "t")
	if err != nil {
		panic(failure{err.Error()})
	}
	return d
}

// timePair returns the time one call of op takes and the time one call
// of limit takes: the fastest of five rounds each, the two taking turns,
// each round calling one of them for at least d. A machine shared with
// other work is slowed now and then: taking turns exposes both to the same
// moments, and the fastest round is the least disturbed.
func timePair(r *runner, d time.Duration, op, limit func() error) (opTime, limitTime time.Duration) {
	for round := range 5 {
		a, b := timeRound(r, d, op), timeRound(r, d, limit)
		if round == 0 || a < opTime {
			opTime = a
		}
		if round == 0 || b < limitTime {
			limitTime = b
		}
	}
	return opTime, limitTime
}

// timeRound calls op for at least d and returns the time of one call.
func timeRound(r *runner, d time.Duration, op func() error) time.Duration {
	r.check()
	n := 0
	start := time.Now()
	for time.Since(start) < d || n == 0 {
		if err := op(); err != nil {
			r.Fatal(err)
		}
		n++
	}
	return time.Since(start) / time.Duration(n)
}

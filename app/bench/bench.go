// Package bench measures Noroshi against its limits: one table, measured in
// one run on one machine, each row next to the limit it is compared with
// (a raw primitive, a theoretical bound, an information floor, or the
// issue's target), measured in the same run. `noroshi bench` prints it and
// the go test benchmarks of this package run the same code.
//
// The measurements reuse the test helpers of replica and crypto
// (replicatest, cryptotest): they take a testing.TB, which a run outside
// go test gets from a small adapter (run.go) that turns a failure into the
// row's error.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// Kinds of limit: a floor the measured cost cannot go below (ratio 1 at
// best); a bound of the same work done the simplest way (a raw bbolt
// commit), which batching may beat; a theoretical expectation (ratio near
// 1 is as expected); or a target the cost should stay under (ratio under 1
// is met).
const (
	Floor  = "floor"
	Bound  = "bound"
	Theory = "theory"
	Target = "target"
)

// Row is one line of the table.
type Row struct {
	Group    string  `json:"group"`    // what --only selects: seal, store, ...
	Name     string  `json:"name"`     // what is measured, e.g. "seal 1 KiB"
	Value    float64 `json:"value"`    // the measured cost
	Limit    float64 `json:"limit"`    // the limit's cost, in the same unit
	Unit     string  `json:"unit"`     // of Value and Limit
	Ratio    float64 `json:"ratio"`    // Value / Limit
	Kind     string  `json:"kind"`     // Floor, Bound, Theory or Target
	LimitIs  string  `json:"limit_is"` // what the limit is
	Note     string  `json:"note,omitempty"`
	Duration float64 `json:"seconds"` // how long the measurement took
}

// Result is a run's table.
type Result struct {
	Quick   bool      `json:"quick"`
	Rows    []Row     `json:"rows"`
	Skipped []string  `json:"skipped,omitempty"` // groups that failed, with why
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
}

// Options configure a run.
type Options struct {
	// Quick measures smaller sizes (10k posts instead of 100k, fewer
	// peers, shorter loops): for a test and CI.
	Quick bool
	// Only, when set, names the groups to run (Groups lists them).
	Only []string
	// Dir holds the homes built for the home rows, kept between runs
	// (BenchHome); empty: the temp directory.
	Dir string
	// Progress hears a line on what is being measured; nil: silent.
	Progress io.Writer
	// MemChild runs MemChild(home) in a process of its own and returns its
	// JSON line (what a process that opens a home uses, not what the one
	// that built it holds); nil: the memory rows are measured in this
	// process and say so.
	MemChild func(ctx context.Context, home string) ([]byte, error)
}

// group is one group of rows.
type group struct {
	name, about string
	run         func(r *runner) []Row
}

// groups in the table's order.
var groups = []group{
	{"seal", "seal and open of an envelope vs raw ChaCha20-Poly1305 + SHA-256 + ed25519 (1 KiB, 1 MiB)", sealRows},
	{"store", "store writes (fsync) vs raw bbolt commits", storeRows},
	{"dissemination", "time until every peer holds a write vs theoretical gossip rounds (8/32/64 peers on loopback)", disseminationRows},
	{"reconcile", "anti-entropy bytes on the wire vs the information floor", reconcileRows},
	{"catchup", "catch-up of a peer that was away vs local writes of the same envelopes", catchUpRows},
	{"open", "opening a home of 10k/100k posts: whoami, first page of the feed", openRows},
	{"memory", "memory of a home of 10k/100k posts", memoryRows},
	{"search", "search, a keystroke at a time, on 100k posts", searchRows},
	{"metrics", "metrics at the Games' scale (330 organisations, 1,800 members, 8,000 posts)", metricsRows},
}

// Groups returns the names --only takes, in the table's order, and what
// each measures.
func Groups() [][2]string {
	var out [][2]string
	for _, g := range groups {
		out = append(out, [2]string{g.name, g.about})
	}
	return out
}

// ErrUnknownGroup is returned for an --only name that is no group.
var ErrUnknownGroup = errors.New("no such row")

// Run measures the groups opts selects, in order, and returns the table.
// A group that fails is left out and named in Result.Skipped with why; the
// error is for a run that could not start (an unknown group) or was
// cancelled.
func Run(ctx context.Context, opts Options) (*Result, error) {
	for _, o := range opts.Only {
		if !slices.ContainsFunc(groups, func(g group) bool { return g.name == o }) {
			names := make([]string, len(groups))
			for i, g := range groups {
				names[i] = g.name
			}
			return nil, fmt.Errorf("%w %q: give one of %s", ErrUnknownGroup, o, strings.Join(names, ", "))
		}
	}
	if opts.Dir == "" {
		opts.Dir = os.TempDir()
	}
	res := &Result{Quick: opts.Quick, Started: time.Now()}
	for _, g := range groups {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, g.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r := newRunner(ctx, opts, g.name)
		start := time.Now()
		r.progress("%s: %s", g.name, g.about)
		rows, err := r.do(g.run)
		took := time.Since(start)
		for _, s := range r.skipped {
			res.Skipped = append(res.Skipped, g.name+", "+s)
		}
		if err != nil {
			r.progress("%s: failed after %v: %v", g.name, took.Round(time.Second), err)
			res.Skipped = append(res.Skipped, g.name+": "+oneLine(err.Error()))
			continue
		}
		for i := range rows {
			rows[i].Group = g.name
			if rows[i].Limit > 0 {
				rows[i].Ratio = rows[i].Value / rows[i].Limit
			}
			rows[i].Duration = math.Round(took.Seconds()*10) / 10
			r.progress("%s: %s %s (%s %s: ratio %.2f)", g.name, rows[i].Name, fmtValue(rows[i].Value, rows[i].Unit),
				rows[i].Kind, fmtValue(rows[i].Limit, rows[i].Unit), rows[i].Ratio)
		}
		r.progress("%s: done in %v", g.name, took.Round(time.Second))
		res.Rows = append(res.Rows, rows...)
	}
	res.Seconds = math.Round(time.Since(res.Started).Seconds()*10) / 10
	return res, nil
}

// fmtValue prints a figure with its unit, with as many digits as it needs.
func fmtValue(v float64, unit string) string {
	var s string
	switch a := math.Abs(v); {
	case a == 0:
		s = "0"
	case a >= 100:
		s = fmt.Sprintf("%.0f", v)
	case a >= 10:
		s = fmt.Sprintf("%.1f", v)
	case a >= 1:
		s = fmt.Sprintf("%.2f", v)
	default:
		s = fmt.Sprintf("%.3g", v)
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// Header is the table's header.
var Header = []string{"Row", "Measured", "Limit", "Ratio", "Limit is"}

// Cells returns the table's rows as text, for Header.
func (r *Result) Cells() [][]string {
	var out [][]string
	for _, row := range r.Rows {
		limit := fmtValue(row.Limit, row.Unit) + " (" + row.Kind + ")"
		is := row.LimitIs
		if row.Note != "" {
			is += "; " + row.Note
		}
		out = append(out, []string{row.Name, fmtValue(row.Value, row.Unit), limit, fmt.Sprintf("%.2f", row.Ratio), is})
	}
	return out
}

// Text writes the table for a terminal.
func (r *Result) Text(w io.Writer) {
	cells := append([][]string{Header}, r.Cells()...)
	width := make([]int, len(Header)-1)
	for _, c := range cells {
		for i := range width {
			width[i] = max(width[i], len([]rune(c[i])))
		}
	}
	for _, c := range cells {
		var b strings.Builder
		for i := range width {
			b.WriteString(c[i] + strings.Repeat(" ", width[i]-len([]rune(c[i]))+2))
		}
		b.WriteString(c[len(c)-1])
		fmt.Fprintln(w, b.String())
	}
	for _, s := range r.Skipped {
		fmt.Fprintln(w, "not measured: "+s)
	}
}

// JSON writes the result as one JSON object.
func (r *Result) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"noroshi/internal/proofdoc"
)

// crashOpts are the flags of noroshi-proof crash.
type crashOpts struct {
	Kills   int    // SIGKILLs that land during a write, an import or a fold
	Seed    uint64 // seed of the plan and the delays (0: from the clock)
	Short   bool
	Doc     string
	Dir     string // work directory (kept); a temporary one when empty
	Bin     string // a noroshi binary to use instead of building one
	Posts   int    // posts of the bundle's source home
	Writers int    // concurrent CLI writers during the write phase
	Command string // the command line that regenerates the report
}

// The three moments a kill lands in.
const (
	phaseWrite  = "write"
	phaseImport = "import"
	phaseFold   = "fold"
)

var crashPhases = []string{phaseWrite, phaseImport, phaseFold}

func crashCmd() *cobra.Command {
	o := crashOpts{}
	cmd := &cobra.Command{
		Use:   "crash [--kills N] [--seed N] [--short] [--doc docs/reliability.md]",
		Short: "SIGKILLs at random points during writes, bundle imports and view folds; after each restart nothing acknowledged is lost and the home checks clean",
		Long: `crash kills noroshi with SIGKILL, as a power cut would, at random moments
(--seed, printed) of three kinds, and restarts it:

  write   noroshi serve while several CLI processes post, comment and mark
          posts read through its control socket
  import  noroshi import of a large bundle (exported from another home) on a
          home nobody serves, from the same starting copy each time
  fold    noroshi serve while it opens a home whose views must all be folded
          again (their format number changed, as after an upgrade)

After each restart: every write the CLI acknowledged (exit 0) is there, a
completed import brought every post of the bundle, 'noroshi check' passes
(bbolt's consistency check, the views equal to a fresh fold) and bbolt's own
CLI (go.etcd.io/bbolt/cmd/bbolt at go.mod's version, built for the run)
finds the file clean. It prints a table and exits 1 on any loss, views
mismatch or bolt error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if o.Short {
				if !cmd.Flags().Changed("kills") {
					o.Kills = 25
				}
				if !cmd.Flags().Changed("posts") {
					o.Posts = 150
				}
			}
			if o.Kills < 3 {
				return fmt.Errorf("--kills %d: give at least 3 (one of each kind)", o.Kills)
			}
			if o.Posts < 20 {
				return fmt.Errorf("--posts %d: give at least 20", o.Posts)
			}
			if o.Seed == 0 {
				o.Seed = uint64(time.Now().UnixNano())
			}
			o.Command = fmt.Sprintf("go run ./cmd/noroshi-proof crash --kills %d --posts %d --seed %d", o.Kills, o.Posts, o.Seed)
			if o.Doc != "" {
				o.Command += " --doc " + o.Doc
			}
			fmt.Fprintf(out, "crash: seed %d, %d kills\n", o.Seed, o.Kills)
			res, err := runCrash(cmd.Context(), o, out)
			if err != nil {
				return err
			}
			body := crashReport(res, o)
			fmt.Fprintln(out)
			fmt.Fprintln(out, body)
			if o.Doc != "" {
				if err := proofdoc.WriteSection(o.Doc, "crash", body); err != nil {
					return err
				}
				fmt.Fprintln(out, "crash: wrote the crash section of", o.Doc)
			}
			if res.failed() {
				return fmt.Errorf("crash: %d acknowledged writes lost, %d views mismatches, %d bolt errors, %d failed restarts or checks (seed %d; homes and logs in %s)",
					res.Lost, res.ViewMismatches, res.BoltErrors, len(res.Failures), o.Seed, res.Dir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Kills, "kills", 100, "SIGKILLs to land (each during a write, an import or a fold)")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the plan and the kill delays (0: from the clock; printed)")
	f.BoolVar(&o.Short, "short", false, "the CI version: 25 kills, a bundle of 150 posts")
	f.StringVar(&o.Doc, "doc", "", "write the crash section of this report (docs/reliability.md); without it, print only")
	f.StringVar(&o.Dir, "dir", "", "work directory for homes and logs (kept); default a temporary one, removed when the run passes")
	f.StringVar(&o.Bin, "bin", "", "use this noroshi binary instead of building ./cmd/noroshi (nogui)")
	f.IntVar(&o.Posts, "posts", 400, "posts in the bundle's source home (one in 20 with a 256 KiB attachment)")
	f.IntVar(&o.Writers, "writers", 3, "CLI processes writing at once during the write phase")
	return cmd
}

// crashResult is what a run measured.
type crashResult struct {
	Seed    uint64
	Dir     string
	Kills   map[string]int // landed, by phase
	Missed  map[string]int // attempts whose process had finished before the kill
	Acked   map[string]int // acknowledged writes by kind: post, comment, read, import
	Lost    int
	Lossage []string // what was lost, the first few
	// ViewMismatches counts checks whose views differed from a fresh
	// fold; BoltErrors checks (noroshi check's or bbolt's CLI) that
	// found the file damaged.
	ViewMismatches int
	BoltErrors     int
	Checks         int // noroshi check runs
	BoltCLIChecks  int // bbolt check runs
	BoltCLI        string
	Failures       []string // restarts or checks that failed outright
	Restarts       map[string][]time.Duration
	Envelopes      int // envelopes of the bundle's source home
	BundleBytes    int64
	Elapsed        time.Duration
}

func (r *crashResult) failed() bool {
	return r.Lost > 0 || r.ViewMismatches > 0 || r.BoltErrors > 0 || len(r.Failures) > 0
}

func (r *crashResult) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (r *crashResult) lose(format string, args ...any) {
	r.Lost++
	if len(r.Lossage) < 20 {
		r.Lossage = append(r.Lossage, fmt.Sprintf(format, args...))
	}
}

func crashSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// percentile returns the p-th percentile (0..100) of ds, nearest rank.
func crashPercentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func crashSecs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// crashReport is the crash section of docs/reliability.md.
func crashReport(r *crashResult, o crashOpts) string {
	var b strings.Builder
	b.WriteString("## Crash safety\n\n")
	b.WriteString(proofdoc.Machine(time.Now()).Markdown() + "\n\n")
	fmt.Fprintf(&b, "%d SIGKILLs landed at random moments (seed %d) on one machine, in %s: of `noroshi serve` while %d CLI processes posted, commented and marked posts read through its control socket; of `noroshi import` of a bundle of %d envelopes (%.1f MiB, exported from another home) on a home nobody served; and of `noroshi serve` while it folded a home's views again from its envelopes (their format number changed, as after an upgrade). After each restart the run checked that every acknowledged write was there, `noroshi check` (bbolt's check; the views equal to a fresh fold) and %s.\n\n",
		crashSum(r.Kills), r.Seed, r.Elapsed.Round(time.Second), o.Writers, r.Envelopes, float64(r.BundleBytes)/(1<<20), r.BoltCLI)
	var rows [][]string
	var all []time.Duration
	for _, p := range crashPhases {
		rs := r.Restarts[p]
		all = append(all, rs...)
		rows = append(rows, []string{p, fmt.Sprint(r.Kills[p]), fmt.Sprint(r.Missed[p]), crashSecs(crashPercentile(rs, 50)), crashSecs(crashPercentile(rs, 100))})
	}
	rows = append(rows, []string{"**all**", fmt.Sprint(crashSum(r.Kills)), fmt.Sprint(crashSum(r.Missed)), crashSecs(crashPercentile(all, 50)), crashSecs(crashPercentile(all, 100))})
	b.WriteString(proofdoc.Table([]string{"kills during", "kills", "finished before the kill (not counted)", "restart p50", "restart max"}, rows))
	b.WriteString("\n")
	acked := fmt.Sprintf("%d (%d posts, %d comments, %d reads, %d imports)", crashSum(r.Acked), r.Acked["post"], r.Acked["comment"], r.Acked["read"], r.Acked["import"])
	b.WriteString(proofdoc.Table([]string{"acknowledged writes", "lost", "views mismatches", "bolt errors", "noroshi check runs", "bbolt check runs", "failed restarts or checks"},
		[][]string{{acked, fmt.Sprint(r.Lost), fmt.Sprint(r.ViewMismatches), fmt.Sprint(r.BoltErrors), fmt.Sprint(r.Checks), fmt.Sprint(r.BoltCLIChecks), fmt.Sprint(len(r.Failures))}}))
	b.WriteString("\nA restart is the time from starting `noroshi serve` after the kill until its control socket answers (polled every 200 ms): opening the store, folding what the kill left unfolded (after a fold kill, every view again) and starting the network. The homes' key files use a low scrypt work factor so that the run spends its time on kills, not unlocks: a real home's restart adds its unlock (about a second at the default work factor on an idle machine). A kill that found its process already finished is not counted and is tried again with a shorter delay.\n")
	if len(r.Lossage) > 0 {
		b.WriteString("\nLost: " + strings.Join(r.Lossage, "; ") + "\n")
	}
	if len(r.Failures) > 0 {
		n := min(len(r.Failures), 10)
		b.WriteString("\nFailures: " + strings.Join(r.Failures[:n], "; ") + "\n")
	}
	fmt.Fprintf(&b, "\nRegenerate: `%s`\n", o.Command)
	return b.String()
}

// removeAll removes the work directory of a passing run.
func crashCleanup(dir string, keep bool) {
	if !keep {
		os.RemoveAll(dir)
	}
}

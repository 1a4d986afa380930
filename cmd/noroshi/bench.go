package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
	"noroshi/app/bench"
	"noroshi/internal/proofdoc"
)

// benchDocSection is the section of docs/performance.md `noroshi bench
// --doc` writes.
const benchDocSection = "bench"

func (c *cli) benchCmd() *cobra.Command {
	var quick bool
	var only []string
	var doc, memChild string
	var groups strings.Builder
	for _, g := range bench.Groups() {
		fmt.Fprintf(&groups, "  %-14s %s\n", g[0], g[1])
	}
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--only ROW,...] [--json] [--doc FILE]",
		Short: "Measure Noroshi against its limits on this machine / 性能を限界値と比較して測定",
		Long: `Measure Noroshi on this machine, each row next to its limit measured in
the same run: a floor the operation cannot cost less than (raw crypto
primitives, the information floor of a sync, the local write rate), a
bound of the same work done the simplest way (raw bbolt commits), the
theoretical gossip time, or a target of the issue (open, search, memory,
metrics). Ratio is measured / limit: 1.00 at best against a floor, near
1.00 is as expected against theory, under 1.00 meets a target.

The rows (--only takes these names):
` + groups.String() + `
A full run builds homes of 10,000 and 100,000 posts once (kept in the temp
directory, or $NOROSHI_BENCH_DIR, for later runs) and takes several
minutes; --quick measures smaller sizes (10,000 posts, 8 peers, shorter
loops). Progress goes to stderr. --doc FILE writes the table, the machine
and the command into the "bench" section of FILE (docs/performance.md).
No home is used or changed.

各項目を同じ実行で測った限界値（暗号の素の処理、bbolt の素のコミット、ゴシップの理論値、
同期の情報量の下限、ローカル書き込み速度）または目標値と比べます。--quick は小さい規模で
測ります。進捗は標準エラーに出ます。`,
		Example: `  noroshi bench
  noroshi bench --quick --only seal,store
  noroshi bench --json --only reconcile
  noroshi bench --doc docs/performance.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if memChild != "" {
				return c.benchMemChild(memChild)
			}
			// The first Ctrl-C stops after the current step (temp files
			// removed); a second one stops at once.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			finished := make(chan struct{})
			defer close(finished)
			go func() {
				select {
				case <-ctx.Done():
					stop()
					fmt.Fprintln(c.env.stderr, "bench: stopping after the current step (Ctrl-C again to stop at once) / 現在の測定の後に停止します")
				case <-finished:
				}
			}()
			opts := bench.Options{Quick: quick, Only: only, Dir: c.env.getenv("NOROSHI_BENCH_DIR"), Progress: c.env.stderr, MemChild: benchMemChild}
			if opts.Dir != "" {
				opts.Dir = c.path(opts.Dir)
			}
			started := time.Now()
			machine := proofdoc.Machine(started)
			res, err := bench.Run(ctx, opts)
			if errors.Is(err, bench.ErrUnknownGroup) {
				return fmt.Errorf("%w: --only: %v", app.ErrInvalid, err)
			}
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			fmt.Fprintf(c.env.stderr, "bench: %d rows in %v\n", len(res.Rows), time.Since(started).Round(time.Second))
			if doc != "" {
				path := c.path(doc)
				if err := proofdoc.WriteSection(path, benchDocSection, benchDoc(res, machine, benchCommand(quick, only, doc))); err != nil {
					return fmt.Errorf("%w: --doc %s: %v", app.ErrInvalid, doc, err)
				}
				fmt.Fprintf(c.env.stderr, "bench: wrote the %q section of %s\n", benchDocSection, doc)
			}
			if c.o.json {
				return res.JSON(c.out())
			}
			res.Text(c.out())
			if len(res.Skipped) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&quick, "quick", false, "smaller sizes (10,000 posts, 8 peers, shorter loops): for a test and CI")
	cmd.Flags().StringSliceVar(&only, "only", nil, "measure only these rows (comma-separated names, see above)")
	cmd.Flags().StringVar(&doc, "doc", "", `write the table into the "bench" section of this Markdown file`)
	cmd.Flags().StringVar(&memChild, "mem-child", "", "internal: measure the memory of this home in this process")
	cmd.Flags().MarkHidden("mem-child")
	return cmd
}

// benchMemChild runs `noroshi bench --mem-child HOME` in a new process of
// this binary: the memory row measures a process that only opens a home.
func benchMemChild(ctx context.Context, home string) ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "bench", "--mem-child", home)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// benchMemChild is the child's side: one JSON line on stdout.
func (c *cli) benchMemChild(home string) error {
	r, err := bench.MemChild(c.path(home))
	if err != nil {
		return err
	}
	return json.NewEncoder(c.out()).Encode(r)
}

// benchCommand is the command line that regenerates a section.
func benchCommand(quick bool, only []string, doc string) string {
	s := "noroshi bench"
	if quick {
		s += " --quick"
	}
	if len(only) > 0 {
		s += " --only " + strings.Join(only, ",")
	}
	return s + " --doc " + doc
}

// benchDoc is the "bench" section of docs/performance.md.
func benchDoc(res *bench.Result, m proofdoc.MachineInfo, command string) string {
	var b strings.Builder
	b.WriteString("## Benchmarks against the limits (`noroshi bench`)\n\n")
	b.WriteString(m.Markdown() + "\n\n")
	b.WriteString(proofdoc.Table(bench.Header, res.Cells()))
	b.WriteString("\nRatio is measured / limit, both measured in this run. Against a floor (what the operation cannot cost less than) 1.00 is the best possible; against a bound (the same work done the simplest way: raw bbolt commits) batching may go under 1.00; against theory (push gossip's expected rounds) near 1.00 is as expected; against a target (the issue's budget) under 1.00 meets it.")
	if res.Quick {
		b.WriteString(" This run measured the smaller sizes of --quick.")
	}
	b.WriteString("\n")
	for _, s := range res.Skipped {
		b.WriteString("\nNot measured: " + s + "\n")
	}
	if end := proofdoc.Machine(time.Now()).Load; end != "" {
		fmt.Fprintf(&b, "\nLoad average when it ended: %s (on a machine shared with other work, every figure is noisy: the seal, store, catch-up and metrics rows keep the fastest of several rounds, measured in turn with their limits).\n", end)
	}
	fmt.Fprintf(&b, "\nThe run took %s. Regenerate it with `make bench`, which runs `%s` (the homes of 10,000 and 100,000 posts are built on the first run and kept in the temp directory; `go test ./app/bench -bench .` runs the same measurements as Go benchmarks).\n",
		(time.Duration(res.Seconds) * time.Second).Round(time.Second), command)
	return b.String()
}

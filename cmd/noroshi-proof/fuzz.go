package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"noroshi/internal/proofdoc"
)

// Fuzzing: every Fuzz* target of the module, for a budget far longer than
// CI's. scripts/test.sh runs each target for a fixed number of executions
// (its fuzzcount table: 20000 for most, fewer for the slow ones); this
// command runs the same targets for --scale times those counts, or for
// --time each. Counts are the default because a duration-bounded go test
// -fuzz can fail with "context deadline exceeded" on a loaded machine
// (go.dev/issue/75804): such a run is reported as "deadline", not as a
// crasher.
//
// What a crasher becomes: go test writes the failing input into the
// package's testdata/fuzz/FuzzName/, where plain go test runs it from then
// on as a regression test. This command names each such file, and exits
// non-zero. With --keep N it also copies up to N of the new interesting
// inputs of each target (small ones first, none over --keep-bytes) from
// the fuzzing cache into testdata/fuzz, to grow the corpus kept in the
// repository.

// fuzzTarget is one Fuzz function of one package.
type fuzzTarget struct {
	Pkg  string // import path
	Dir  string // the package's directory
	Name string // FuzzDecode
}

// fuzzResult is what one target's run did.
type fuzzResult struct {
	fuzzTarget
	Budget   string        // "20000x", "10m0s"
	Execs    int64         // executions, as go test last reported them
	New      int           // new interesting inputs added to the cache
	Kept     []string      // of them, the files copied into testdata/fuzz
	Seeds    int           // files in testdata/fuzz/Name after the run
	Crashers []string      // failing inputs written into testdata/fuzz
	Outcome  string        // "ok", "crasher", "deadline", "failed"
	Elapsed  time.Duration // wall time of the go test run
	Output   string        // go test's output, kept for a failure
}

// fuzzOptions are the flags of the fuzz command.
type fuzzOptions struct {
	Scale     int
	Time      time.Duration
	Parallel  int
	Run       string
	Keep      int
	KeepBytes int
	Doc       string
	List      bool
}

func fuzzCmd() *cobra.Command {
	var o fuzzOptions
	cmd := &cobra.Command{
		Use:   "fuzz [packages]",
		Short: "Every fuzz target for a long budget; crashers become corpus files (regression tests)",
		Long: `Runs every Fuzz* target of the given packages (default ./...) one after the
other, each for --scale times the execution count scripts/test.sh gives it
in CI, or for --time each. Prints, per target, the executions, the new
interesting inputs and the crashers; a crasher's input is written by go test
into the package's testdata/fuzz/FuzzName/, so plain go test runs it from
then on. Exits 1 if any target found a crasher or failed.

  noroshi-proof fuzz --scale 50 --parallel 2 --doc docs/reliability.md
  noroshi-proof fuzz --time 2m --run 'FuzzFrame' ./replica/
  noroshi-proof fuzz --keep 3 --scale 20     # also keep new inputs in testdata`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFuzz(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Scale, "scale", 10, "run each target this many times its CI execution count")
	fl.DurationVar(&o.Time, "time", 0, "run each target for this long instead of a count (beware go.dev/issue/75804 on a loaded machine)")
	fl.IntVar(&o.Parallel, "parallel", 2, "fuzzing workers per target (go test -parallel)")
	fl.StringVar(&o.Run, "run", "", "only the targets whose name matches this regular expression")
	fl.IntVar(&o.Keep, "keep", 0, "copy up to this many new interesting inputs of each target into its testdata/fuzz")
	fl.IntVar(&o.KeepBytes, "keep-bytes", 4096, "largest input --keep copies")
	fl.StringVar(&o.Doc, "doc", "", `write the "fuzz" section of this file (docs/reliability.md)`)
	fl.BoolVar(&o.List, "list", false, "list the targets and their budgets, run nothing")
	return cmd
}

func runFuzz(ctx context.Context, stdout, stderr io.Writer, o fuzzOptions, pkgs []string) error {
	if o.Scale < 1 || o.Parallel < 1 || o.Keep < 0 || o.Time < 0 {
		return errors.New("fuzz: --scale and --parallel must be at least 1, --keep and --time not negative")
	}
	var match *regexp.Regexp
	if o.Run != "" {
		var err error
		if match, err = regexp.Compile(o.Run); err != nil {
			return fmt.Errorf("fuzz: --run: %w", err)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	targets, err := listFuzzTargets(ctx, root, pkgs)
	if err != nil {
		return err
	}
	if match != nil {
		targets = slices.DeleteFunc(targets, func(t fuzzTarget) bool { return !match.MatchString(t.Name) })
	}
	if len(targets) == 0 {
		return errors.New("fuzz: no fuzz target matches")
	}
	counts, err := ciFuzzCounts(filepath.Join(root, "scripts", "test.sh"))
	if err != nil {
		return err
	}
	budget := func(name string) string {
		if o.Time > 0 {
			return o.Time.String()
		}
		return strconv.Itoa(counts.count(name)*o.Scale) + "x"
	}
	if o.List {
		for _, t := range targets {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", t.Pkg, t.Name, budget(t.Name))
		}
		return nil
	}
	cache, err := goEnv(ctx, root, "GOCACHE")
	if err != nil {
		return err
	}
	machine := proofdoc.Machine(time.Now())
	start := time.Now()
	var results []fuzzResult
	for i, t := range targets {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "[%d/%d] %s %s (%s) ...\n", i+1, len(targets), t.Pkg, t.Name, budget(t.Name))
		r := fuzzOne(ctx, root, filepath.Join(cache, "fuzz", t.Pkg, t.Name), t, budget(t.Name), o)
		fmt.Fprintf(stderr, "      %s: %d executions, %d new inputs, %d kept, %s\n", r.Outcome, r.Execs, r.New, len(r.Kept), r.Elapsed.Round(time.Second))
		if r.Outcome != "ok" {
			fmt.Fprintln(stderr, indent(lastLines(r.Output, 40)))
		}
		results = append(results, r)
	}
	table := fuzzTable(results)
	fmt.Fprint(stdout, table)
	bad := 0
	for _, r := range results {
		for _, c := range r.Crashers {
			fmt.Fprintf(stdout, "crasher: %s %s: %s (now a regression test: go test -run '%s/%s' %s)\n", r.Pkg, r.Name, c, r.Name, filepath.Base(c), r.Pkg)
		}
		if r.Outcome == "crasher" || r.Outcome == "failed" {
			bad++
		}
	}
	if o.Doc != "" && ctx.Err() == nil {
		body := fuzzDoc(machine, results, o, pkgs, time.Since(start))
		if err := proofdoc.WriteSection(filepath.Join(root, o.Doc), "fuzz", body); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote the fuzz section of %s\n", o.Doc)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("fuzz: interrupted after %d of %d targets", len(results), len(targets))
	}
	if bad > 0 {
		return fmt.Errorf("fuzz: %d of %d targets found a crasher or failed", bad, len(results))
	}
	return nil
}

// fuzzFunc finds the fuzz targets in a test file.
var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz[A-Za-z0-9_]*)\(\w+ \*testing\.F\)`)

// listFuzzTargets lists the Fuzz functions of pkgs' test files (those the
// go command would build here), without compiling anything.
func listFuzzTargets(ctx context.Context, root string, pkgs []string) ([]fuzzTarget, error) {
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}},{{join .XTestGoFiles \",\"}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("go list: %v\n%s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list: %w", err)
	}
	var ts []fuzzTarget
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		for _, file := range strings.Split(f[2], ",") {
			if file == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(f[1], file))
			if err != nil {
				return nil, err
			}
			for _, m := range fuzzFunc.FindAllSubmatch(b, -1) {
				ts = append(ts, fuzzTarget{Pkg: f[0], Dir: f[1], Name: string(m[1])})
			}
		}
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Pkg != ts[j].Pkg {
			return ts[i].Pkg < ts[j].Pkg
		}
		return ts[i].Name < ts[j].Name
	})
	return ts, nil
}

// fuzzCounts is scripts/test.sh's fuzzcount table: glob patterns of target
// names and their execution count at scale 1, in the order of the case.
type fuzzCounts []struct {
	patterns []string
	n        int
}

func (c fuzzCounts) count(name string) int {
	for _, r := range c {
		for _, p := range r.patterns {
			if ok, _ := path.Match(p, name); ok {
				return r.n
			}
		}
	}
	return 20000
}

// countCase is one arm of the fuzzcount case: `FuzzA | FuzzB*) echo $((200 * scale)) ;;`.
var countCase = regexp.MustCompile(`^\s*([A-Za-z0-9_*| ]+)\)\s*echo \$\(\((\d+) \* scale\)\)`)

// ciFuzzCounts reads the fuzzcount function of scripts/test.sh, so that
// CI and this command agree on what a target's budget is.
func ciFuzzCounts(script string) (fuzzCounts, error) {
	f, err := os.Open(script)
	if err != nil {
		return nil, fmt.Errorf("fuzz: the CI counts: %w", err)
	}
	defer f.Close()
	var c fuzzCounts
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "fuzzcount()"):
			in = true
		case in && strings.HasPrefix(line, "}"):
			in = false
		case in:
			if m := countCase.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[2])
				var ps []string
				for _, p := range strings.Split(m[1], "|") {
					ps = append(ps, strings.TrimSpace(p))
				}
				c = append(c, struct {
					patterns []string
					n        int
				}{ps, n})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("fuzz: no fuzzcount table in %s", script)
	}
	return c, nil
}

var (
	execsLine   = regexp.MustCompile(`execs: (\d+)`)
	failingLine = regexp.MustCompile(`Failing input written to (\S+)`)
)

// fuzzOne runs one target with go test -fuzz and reads what it did.
func fuzzOne(ctx context.Context, root, cacheDir string, t fuzzTarget, budget string, o fuzzOptions) fuzzResult {
	r := fuzzResult{fuzzTarget: t, Budget: budget}
	before := dirNames(cacheDir)
	// -timeout 0: go test's default of 10 minutes would end a long
	// budget with a panic that reads like a finding.
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+t.Name+"$",
		"-fuzztime", budget, "-parallel", strconv.Itoa(o.Parallel), "-timeout", "0", t.Pkg)
	cmd.Dir = root
	// go test, the test binary and its fuzzing workers in a process group
	// of their own: an interrupt reaches all of them, so none is left
	// behind fuzzing on its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r.Elapsed = time.Since(start)
	r.Output = string(out)
	for _, m := range execsLine.FindAllStringSubmatch(r.Output, -1) {
		r.Execs, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range failingLine.FindAllStringSubmatch(r.Output, -1) {
		p := m[1]
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.Dir, p)
		}
		r.Crashers = append(r.Crashers, relTo(root, p))
	}
	switch {
	case len(r.Crashers) > 0:
		r.Outcome = "crasher"
	case err == nil:
		r.Outcome = "ok"
	case ctx.Err() != nil:
		r.Outcome = "interrupted"
	case strings.Contains(r.Output, "context deadline exceeded") && o.Time > 0:
		r.Outcome = "deadline" // go.dev/issue/75804: the machine was loaded, not a finding
	default:
		r.Outcome = "failed"
	}
	var fresh []string
	for name := range dirNames(cacheDir) {
		if !before[name] {
			fresh = append(fresh, name)
		}
	}
	r.New = len(fresh)
	if o.Keep > 0 {
		r.Kept = keepInputs(cacheDir, fresh, filepath.Join(t.Dir, "testdata", "fuzz", t.Name), o.Keep, o.KeepBytes)
	}
	r.Seeds = len(dirNames(filepath.Join(t.Dir, "testdata", "fuzz", t.Name)))
	return r
}

// keepInputs copies up to n of the named cache files, smallest first and
// none larger than maxBytes, into dst (the target's testdata/fuzz
// directory), and returns the names copied.
func keepInputs(cacheDir string, names []string, dst string, n, maxBytes int) []string {
	type in struct {
		name string
		size int64
	}
	var ins []in
	for _, name := range names {
		if st, err := os.Stat(filepath.Join(cacheDir, name)); err == nil && st.Mode().IsRegular() && st.Size() <= int64(maxBytes) {
			ins = append(ins, in{name, st.Size()})
		}
	}
	sort.Slice(ins, func(i, j int) bool {
		if ins[i].size != ins[j].size {
			return ins[i].size < ins[j].size
		}
		return ins[i].name < ins[j].name
	})
	var kept []string
	for _, x := range ins {
		if len(kept) == n {
			break
		}
		b, err := os.ReadFile(filepath.Join(cacheDir, x.name))
		if err != nil || !strings.HasPrefix(string(b), "go test fuzz v1\n") {
			continue
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			break
		}
		if _, err := os.Stat(filepath.Join(dst, x.name)); err == nil {
			continue
		}
		if os.WriteFile(filepath.Join(dst, x.name), b, 0o644) == nil {
			kept = append(kept, x.name)
		}
	}
	return kept
}

// dirNames is the set of file names in dir (empty if there is none).
func dirNames(dir string) map[string]bool {
	es, _ := os.ReadDir(dir)
	m := make(map[string]bool, len(es))
	for _, e := range es {
		if !e.IsDir() {
			m[e.Name()] = true
		}
	}
	return m
}

func goEnv(ctx context.Context, root, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", name)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" || v == "off" {
		return "", fmt.Errorf("go env %s is %q: fuzzing needs the build cache", name, v)
	}
	return v, nil
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "      | " + strings.ReplaceAll(s, "\n", "\n      | ") }

// fuzzTable is the per-target table, with a line of totals.
func fuzzTable(rs []fuzzResult) string {
	var rows [][]string
	var execs int64
	var fresh, kept, seeds, crashers int
	var elapsed time.Duration
	for _, r := range rs {
		rows = append(rows, []string{
			strings.TrimPrefix(r.Pkg, "noroshi/"), r.Name, r.Budget, strconv.FormatInt(r.Execs, 10),
			strconv.Itoa(r.New), strconv.Itoa(len(r.Kept)), strconv.Itoa(r.Seeds), strconv.Itoa(len(r.Crashers)),
			r.Elapsed.Round(time.Second).String(), r.Outcome,
		})
		execs += r.Execs
		fresh += r.New
		kept += len(r.Kept)
		seeds += r.Seeds
		crashers += len(r.Crashers)
		elapsed += r.Elapsed
	}
	rows = append(rows, []string{"**all**", fmt.Sprintf("%d targets", len(rs)), "", strconv.FormatInt(execs, 10),
		strconv.Itoa(fresh), strconv.Itoa(kept), strconv.Itoa(seeds), strconv.Itoa(crashers), elapsed.Round(time.Second).String(), ""})
	return proofdoc.Table([]string{"package", "target", "budget", "executions", "new inputs", "kept", "corpus files", "crashers", "time", "result"}, rows)
}

// fuzzDoc is the body of the "fuzz" section of docs/reliability.md.
func fuzzDoc(m proofdoc.MachineInfo, rs []fuzzResult, o fuzzOptions, pkgs []string, took time.Duration) string {
	var b strings.Builder
	b.WriteString("## Fuzzing\n\n")
	b.WriteString(m.Markdown() + "\n\n")
	fmt.Fprintf(&b, "Every fuzz target of the module (%d), each for ", len(rs))
	if o.Time > 0 {
		fmt.Fprintf(&b, "%s", o.Time)
	} else {
		fmt.Fprintf(&b, "%d times the execution count CI gives it (scripts/test.sh: 20000 for most, fewer for the slow ones)", o.Scale)
	}
	fmt.Fprintf(&b, ", %d fuzzing workers, one target after the other; %s in all. ", o.Parallel, took.Round(time.Second))
	b.WriteString("\"new inputs\" are the inputs that reached new code and were added to the fuzzing cache; " +
		"\"corpus files\" the seed corpus kept in the repository (testdata/fuzz/FuzzName/), which plain `go test` runs " +
		"besides the seeds the target adds itself; a crasher's input is written there by go test and stays as a regression test.\n\n")
	b.WriteString(fuzzTable(rs))
	var crashers []string
	for _, r := range rs {
		for _, c := range r.Crashers {
			crashers = append(crashers, fmt.Sprintf("- %s %s: `%s`", r.Pkg, r.Name, c))
		}
	}
	if len(crashers) > 0 {
		b.WriteString("\nCrashers of this run (each now a regression test):\n\n" + strings.Join(crashers, "\n") + "\n")
	}
	args := []string{"go run ./cmd/noroshi-proof fuzz"}
	if o.Time > 0 {
		args = append(args, "--time", o.Time.String())
	} else {
		args = append(args, "--scale", strconv.Itoa(o.Scale))
	}
	args = append(args, "--parallel", strconv.Itoa(o.Parallel))
	if o.Run != "" {
		args = append(args, "--run", "'"+o.Run+"'")
	}
	if o.Keep > 0 {
		args = append(args, "--keep", strconv.Itoa(o.Keep))
	}
	args = append(args, "--doc", o.Doc)
	if !(len(pkgs) == 1 && pkgs[0] == "./...") {
		args = append(args, pkgs...)
	}
	fmt.Fprintf(&b, "\nRegenerate with `make fuzz` or:\n\n    %s\n", strings.Join(args, " "))
	return b.String()
}

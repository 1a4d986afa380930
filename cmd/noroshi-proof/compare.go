package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"noroshi/internal/proofdoc"
)

// compare: Noroshi side by side with Syncthing (Debian's package), the
// tool a small organisation would otherwise use to share files offline.
// Two peers of each tool on loopback, in the same run, the same scenarios:
//
//  1. n1 items of 1 KiB (posts with a 1 KiB body; files of 1 KiB) written
//     on one peer: time from the last write until all are on the other;
//  2. n2 items of 1 MiB (a post with a 1 MiB attachment; a file of 1 MiB);
//  3. a peer stopped while n3 items of 1 KiB are written, then started:
//     time from its start until it holds them all (catch-up).
//
// Each tool's write time is measured too. Setup (homes, keys, configs,
// first connection) is never inside a timed span.
//
// The files, one job each:
//
//	compare.go            the command, the scenarios, the report
//	compare_noroshi.go    two noroshi serve processes (proc.go), posts written
//	                      through the control socket, arrival from the feed
//	compare_syncthing.go  two syncthing instances driven by their config file
//	                      and REST API, arrival from /rest/db/status and the disk

// compareOptions are compare's flags.
type compareOptions struct {
	Small, Large, Away int           // items of scenarios 1, 2 and 3
	Poll               time.Duration // arrival polling interval (both tools)
	Writers            int           // noroshi posts written at once through the control socket
	CLISample          int           // posts written through one CLI process each, to show its cost
	AntiEntropy        time.Duration // noroshi serve --anti-entropy
	WatcherDelay       int           // Syncthing fsWatcherDelayS
	Syncthing          string        // the syncthing binary
	Doc                string        // docs/performance.md: write the "syncthing" section
	Keep               bool          // keep the temporary directory (logs, homes)
	Short              bool
	Logf               func(format string, args ...any)
}

func defaultCompareOptions() compareOptions {
	return compareOptions{Small: 1000, Large: 100, Away: 10000, Poll: 100 * time.Millisecond, Writers: 4, CLISample: 20,
		AntiEntropy: 5 * time.Second, WatcherDelay: 1, Syncthing: "syncthing", Logf: func(string, ...any) {}}
}

func compareCmd() *cobra.Command {
	o := defaultCompareOptions()
	cmd := &cobra.Command{
		Use:   "compare [--short] [--doc docs/performance.md]",
		Short: "Noroshi side by side with Syncthing: two peers of each on loopback, the same writes, time until the other peer has them",
		Long: `compare runs two noroshi serve processes and two Syncthing instances
(Debian's syncthing package: apt-get install syncthing) on 127.0.0.1 in the
same run and measures, for each tool:

  1. 1,000 items of 1 KiB (posts, files) written on one peer: write time,
     and time from the last write until all are on the other peer;
  2. 100 items of 1 MiB (a post with a 1 MiB attachment, a file);
  3. a peer stopped while 10,000 items of 1 KiB are written, then started:
     time from its start until it holds them all.

--short uses 200, 20 and 1,000 items. --doc writes the "syncthing" section
of the given report (docs/performance.md). Everything runs in a temporary
directory, removed at the end (also on Ctrl-C) unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Short {
				o.Small, o.Large, o.Away, o.CLISample = 200, 20, 1000, 5
			}
			o.Logf = func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s compare: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
			}
			rep, err := runCompare(cmd.Context(), o)
			if err != nil {
				return err
			}
			body := rep.markdown(o, commandLine(cmd))
			fmt.Fprintln(cmd.OutOrStdout(), body)
			if o.Doc != "" {
				if err := proofdoc.WriteSection(o.Doc, "syncthing", body); err != nil {
					return err
				}
				o.Logf("wrote the syncthing section of %s", o.Doc)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Short, "short", false, "fewer items (200, 20, 1,000): a test")
	f.IntVar(&o.Small, "small", o.Small, "scenario 1: items of 1 KiB")
	f.IntVar(&o.Large, "large", o.Large, "scenario 2: items of 1 MiB")
	f.IntVar(&o.Away, "away", o.Away, "scenario 3: items of 1 KiB written while the other peer is stopped")
	f.DurationVar(&o.Poll, "poll", o.Poll, "how often arrival is checked on the receiving peer (both tools)")
	f.IntVar(&o.Writers, "writers", o.Writers, "noroshi posts written at once through the control socket (serve runs them one at a time)")
	f.IntVar(&o.CLISample, "cli-sample", o.CLISample, "noroshi posts written first through one CLI process each, to measure that path")
	f.DurationVar(&o.AntiEntropy, "anti-entropy", o.AntiEntropy, "noroshi serve --anti-entropy")
	f.IntVar(&o.WatcherDelay, "watcher-delay", o.WatcherDelay, "Syncthing's fsWatcherDelayS (seconds)")
	f.StringVar(&o.Syncthing, "syncthing", o.Syncthing, "the syncthing binary")
	f.StringVar(&o.Doc, "doc", "", "write the \"syncthing\" section of this report (docs/performance.md)")
	f.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (homes, configs, logs) and print its path")
	return cmd
}

// commandLine is the command as one runs it from the module root: the
// flags given, a report path inside the module relative to its root.
func commandLine(cmd *cobra.Command) string {
	line := "go run ./cmd/noroshi-proof compare"
	root, _ := moduleRoot()
	cmd.Flags().Visit(func(f *pflag.Flag) {
		v := f.Value.String()
		if f.Name == "doc" && filepath.IsAbs(v) && root != "" {
			if rel, err := filepath.Rel(root, v); err == nil && !strings.HasPrefix(rel, "..") {
				v = rel
			}
		}
		if f.Value.Type() == "bool" {
			line += " --" + f.Name
		} else {
			line += " --" + f.Name + " " + v
		}
	})
	return line
}

// peerPair is one tool's two peers: A writes, B receives.
type peerPair interface {
	// Write writes items on A and returns when A has acknowledged the last.
	Write(ctx context.Context, items []compareItem) error
	// WaitB returns once B holds total items (every item of the run so far),
	// checking every poll.
	WaitB(ctx context.Context, total int, poll time.Duration) error
	// StopB stops B as its user would; StartB starts it again and returns
	// once it answers (its control socket, its REST API).
	StopB(ctx context.Context) error
	StartB(ctx context.Context) error
	// AfterWrite is called after a write while B is stopped, before B is
	// started: what A must finish on its own first (Syncthing indexes the
	// new files) and how long that took.
	AfterWrite(ctx context.Context, total int) (time.Duration, error)
	Close()
}

// compareItem is one item: a post or a file.
type compareItem struct {
	Name string // file name; post title
	Data []byte // 1 KiB: the post's body; 1 MiB: its attachment
	Path string // the 1 MiB data already on disk (the file a user attaches)
}

// compareRow is one tool's figures in one scenario.
type compareRow struct {
	Scenario, Tool string
	Items          int
	Bytes          int64
	Write          time.Duration // first write to last acknowledged
	Sync           time.Duration // last write to all on B (scenarios 1, 2)
	Index          time.Duration // scenario 3: A's own work after the writes, before B starts
	Ready          time.Duration // scenario 3: B's start until it answers
	CatchUp        time.Duration // scenario 3: B's start until all on B
}

// compareReport is what a run measured.
type compareReport struct {
	Machine          proofdoc.MachineInfo
	LoadEnd          string
	SyncthingVersion string
	NoroshiVersion   string
	Rows             []compareRow
	CLIPerPost       time.Duration            // one CLI process per post
	SocketPerPost    time.Duration            // through the control socket, o.Writers at once
	IdleStart        map[string]time.Duration // by tool: B's start until it answers, nothing to catch up
}

func runCompare(ctx context.Context, o compareOptions) (*compareReport, error) {
	if _, err := exec.LookPath(o.Syncthing); err != nil {
		return nil, fmt.Errorf("compare needs Syncthing: apt-get install syncthing (or give --syncthing PATH): %w", err)
	}
	if o.Small < 1 || o.Large < 1 || o.Away < 1 || o.Writers < 1 || o.Writers > 6 || o.Poll <= 0 {
		return nil, errors.New("compare: --small, --large and --away need at least one item, --writers 1 to 6, --poll above 0")
	}
	rep := &compareReport{Machine: proofdoc.Machine(time.Now())}
	out, err := exec.CommandContext(ctx, o.Syncthing, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("syncthing --version: %w", err)
	}
	rep.SyncthingVersion = strings.TrimSpace(string(out))
	if b, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "syncthing").Output(); err == nil && len(b) > 0 {
		rep.SyncthingVersion += " (Debian package " + string(b) + ")"
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "noroshi-compare-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		defer o.Logf("kept %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	o.Logf("building noroshi in %s", dir)
	bin, err := buildNoroshi(ctx, root, dir, "nogui")
	if err != nil {
		return nil, err
	}
	if b, err := exec.Command(bin, "version").Output(); err == nil {
		rep.NoroshiVersion = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	data, err := makeItems(dir, o)
	if err != nil {
		return nil, err
	}

	o.Logf("setting up two noroshi serve on loopback")
	nr, err := newNoroshiPair(ctx, dir, bin, o)
	if nr != nil {
		defer nr.Close()
	}
	if err != nil {
		return nil, err
	}
	o.Logf("setting up two syncthing instances on loopback")
	st, err := newSyncthingPair(ctx, dir, o)
	if st != nil {
		defer st.Close()
	}
	if err != nil {
		return nil, err
	}
	// The cost of one CLI process per post, on a few posts before the
	// measured ones (they count in what B must hold).
	if rep.CLIPerPost, err = nr.cliSample(ctx, o.CLISample); err != nil {
		return nil, err
	}
	if err := nr.WaitB(ctx, nr.count, o.Poll); err != nil {
		return nil, err
	}
	// B's start when it has nothing to catch up: the start-up alone.
	rep.IdleStart = map[string]time.Duration{}
	for name, p := range map[string]peerPair{"Noroshi": nr, "Syncthing": st} {
		if err := p.StopB(ctx); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := p.StartB(ctx); err != nil {
			return nil, err
		}
		rep.IdleStart[name] = time.Since(start)
		o.Logf("%s: B answers %s after its start with nothing to catch up", name, cmpSecs(rep.IdleStart[name]))
	}
	if err := nr.connected(ctx); err != nil {
		return nil, err
	}
	if err := st.connected(ctx); err != nil {
		return nil, err
	}

	tools := []struct {
		name string
		p    peerPair
		held *int // items B must hold so far
	}{{"Noroshi", nr, &nr.count}, {"Syncthing", st, &st.count}}
	live := func(scenario string, items []compareItem, size int64) error {
		for _, t := range tools {
			o.Logf("%s: %s: writing %d items", scenario, t.name, len(items))
			start := time.Now()
			if err := t.p.Write(ctx, items); err != nil {
				return err
			}
			last := time.Now()
			*t.held += len(items)
			if err := t.p.WaitB(ctx, *t.held, o.Poll); err != nil {
				return err
			}
			done := time.Now()
			row := compareRow{Scenario: scenario, Tool: t.name, Items: len(items), Bytes: int64(len(items)) * size, Write: last.Sub(start), Sync: done.Sub(last)}
			o.Logf("%s: %s: written in %s, on the other peer %s after the last write", scenario, t.name, cmpSecs(row.Write), cmpSecs(row.Sync))
			rep.Rows = append(rep.Rows, row)
			if t.name == "Noroshi" && scenario == data.smallName {
				rep.SocketPerPost = row.Write / time.Duration(len(items))
			}
		}
		return nil
	}
	if err := live(data.smallName, data.small, 1<<10); err != nil {
		return nil, err
	}
	if err := live(data.largeName, data.large, 1<<20); err != nil {
		return nil, err
	}
	for _, t := range tools {
		name := data.awayName
		o.Logf("%s: %s: stopping the receiving peer, writing %d items", name, t.name, len(data.away))
		if err := t.p.StopB(ctx); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := t.p.Write(ctx, data.away); err != nil {
			return nil, err
		}
		row := compareRow{Scenario: name, Tool: t.name, Items: len(data.away), Bytes: int64(len(data.away)) << 10, Write: time.Since(start)}
		*t.held += len(data.away)
		if row.Index, err = t.p.AfterWrite(ctx, *t.held); err != nil {
			return nil, err
		}
		o.Logf("%s: %s: starting the receiving peer again", name, t.name)
		start = time.Now()
		if err := t.p.StartB(ctx); err != nil {
			return nil, err
		}
		row.Ready = time.Since(start)
		if err := t.p.WaitB(ctx, *t.held, o.Poll); err != nil {
			return nil, err
		}
		row.CatchUp = time.Since(start)
		o.Logf("%s: %s: answering after %s, caught up after %s", name, t.name, cmpSecs(row.Ready), cmpSecs(row.CatchUp))
		rep.Rows = append(rep.Rows, row)
	}
	if err := nr.checkDigests(ctx); err != nil {
		return nil, err
	}
	rep.LoadEnd = proofdoc.Machine(time.Now()).Load
	return rep, nil
}

// compareData are the items of the three scenarios.
type compareData struct {
	smallName, largeName, awayName string
	small, large, away             []compareItem
}

// makeItems makes the items: random bytes (incompressible, the same for
// both tools), 1 KiB items as text (a post body is text), 1 MiB items also
// written to files under dir (the file a user attaches to a post).
func makeItems(dir string, o compareOptions) (*compareData, error) {
	d := &compareData{
		smallName: fmt.Sprintf("1. %s × 1 KiB", cmpThousands(o.Small)),
		largeName: fmt.Sprintf("2. %s × 1 MiB", cmpThousands(o.Large)),
		awayName:  fmt.Sprintf("3. catch-up, %s × 1 KiB", cmpThousands(o.Away)),
	}
	text := func(seed, n int) []byte {
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
		b := make([]byte, n)
		x := uint64(seed)*0x9E3779B97F4A7C15 + 1
		for i := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[i] = alphabet[x%uint64(len(alphabet))]
		}
		return b
	}
	for i := range o.Small {
		d.small = append(d.small, compareItem{Name: fmt.Sprintf("s1-%06d.txt", i), Data: text(i+1, 1<<10)})
	}
	src := dir + "/attachments"
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	for i := range o.Large {
		it := compareItem{Name: fmt.Sprintf("s2-%06d.bin", i), Data: text(1_000_000+i, 1<<20)}
		it.Path = src + "/" + it.Name
		if err := os.WriteFile(it.Path, it.Data, 0o644); err != nil {
			return nil, err
		}
		d.large = append(d.large, it)
	}
	for i := range o.Away {
		d.away = append(d.away, compareItem{Name: fmt.Sprintf("s3-%06d.txt", i), Data: text(2_000_000+i, 1<<10)})
	}
	return d, nil
}

func cmpSecs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func cmpThousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// markdown is the report's "syncthing" section.
func (r *compareReport) markdown(o compareOptions, command string) string {
	var b strings.Builder
	b.WriteString("## Side by side with Syncthing\n\n")
	b.WriteString(r.Machine.Markdown() + "\n")
	fmt.Fprintf(&b, "Load average at the end: %s. The machine was shared with other work while this ran, so the figures are noisy: compare the two tools within this run, not with another run.\n\n", r.LoadEnd)
	fmt.Fprintf(&b, "- Syncthing: %s.\n- Noroshi: %s, built from this tree (`-tags nogui`).\n\n", r.SyncthingVersion, r.NoroshiVersion)
	b.WriteString("Two peers of each tool on 127.0.0.1, in the same run, one tool after the other in each scenario. A writes, B receives.\n\n")
	rows := [][]string{}
	for _, x := range r.Rows {
		if x.CatchUp != 0 {
			continue
		}
		rate := float64(x.Items) / x.Write.Seconds()
		total := x.Write + x.Sync
		rows = append(rows, []string{x.Scenario, x.Tool, cmpSecs(x.Write), fmt.Sprintf("%.0f items/s", rate), "**" + cmpSecs(x.Sync) + "**", cmpSecs(total),
			fmt.Sprintf("%.2f MiB/s", float64(x.Bytes)/(1<<20)/total.Seconds())})
	}
	b.WriteString(proofdoc.Table([]string{"Scenario", "Tool", "Write on A", "Write rate", "Last write → all on B", "First write → all on B", "Data / (first write → all on B)"}, rows))
	b.WriteString("\n")
	rows = rows[:0]
	for _, x := range r.Rows {
		if x.CatchUp == 0 {
			continue
		}
		idx := "—"
		if x.Index > 0 {
			idx = cmpSecs(x.Index)
		}
		rows = append(rows, []string{x.Scenario, x.Tool, cmpSecs(x.Write), idx, cmpSecs(x.Ready), cmpSecs(x.CatchUp - x.Ready), "**" + cmpSecs(x.CatchUp) + "**",
			fmt.Sprintf("%.0f items/s", float64(x.Items)/x.CatchUp.Seconds())})
	}
	b.WriteString(proofdoc.Table([]string{"Scenario", "Tool", "Write on A (B stopped)", "A indexes the new files", "B's start → B answers", "B answers → all on B", "B's start → all on B", "Catch-up rate (from B's start)"}, rows))
	b.WriteString("\n")
	b.WriteString(r.ratios())
	fmt.Fprintf(&b, `
How it is measured:

- **Items.** 1 KiB: a Noroshi post (type alert, tag info, TLP:GREEN, to the whole community) whose body is 1,024 random letters; a Syncthing file of the same 1,024 bytes. 1 MiB: a Noroshi post with one 1 MiB attachment (the largest unit a user shares; a post may carry files of up to 25 MiB, cut into 512 KiB sealed chunks, so 3 envelopes); a Syncthing file of the same 1 MiB. The data are random letters; Syncthing compresses metadata only (its default), Noroshi sends sealed ciphertext, which does not compress.
- **Writes.** Syncthing: os.WriteFile into the shared folder (no fsync; Syncthing's watcher picks the files up). Noroshi: `+"`noroshi post`"+` carried out by A's serve over its control socket (the path every CLI command on a served home takes), %d requests at once (serve runs them one at a time; each post is sealed, signed and committed to bbolt before it is acknowledged). Starting one CLI process per post costs %s per post here (%d posts, measured first), against %s per post through the socket: the process start, not the post, would dominate, so the harness speaks the control socket's protocol itself.
- **Arrival.** Noroshi: B's feed (`+"`noroshi --json feed`"+` over B's control socket) lists every post written so far; a post is shown only once the envelopes before it in its author's chain, its attachment's chunks included, are stored. Syncthing: B's `+"`/rest/db/status`"+` says needFiles 0 and at least as many global and local files as written, and every file is on B's disk with its full size. Both are checked every %s, so times are rounded up to that.
- **Catch-up.** B is stopped (SIGINT to noroshi serve, SIGTERM to syncthing), the items are written on A, then B is started and timed from its start (Noroshi's includes unlocking the home: scrypt and opening the store). Syncthing's A is first left to index the new files (its own column; not counted in B's catch-up). "B answers" is when Noroshi's control socket answers a command (whoami), or Syncthing's REST API a ping; both start replicating before they answer, so with items to fetch that column already holds part of the catch-up. Started with nothing to catch up (measured before the scenarios), B answered after %s (Noroshi) and %s (Syncthing): that is each tool's start-up alone.
- **Setup is never timed:** homes, community and invitation, keys, config files, the first connection of the two peers.

Settings, to be fair to both:

- Noroshi: `+"`noroshi serve --bind 127.0.0.1:PORT --no-mdns [--join 127.0.0.1:PORT_OF_A] --anti-entropy %s`"+` (profile lan; new envelopes are announced by gossip at once, anti-entropy repairs the rest).
- Syncthing: two homes made with `+"`syncthing generate --home DIR --no-default-folder --skip-port-probing`"+`, then each config.xml written by the harness: listen on tcp://127.0.0.1:PORT only; GUI/REST on 127.0.0.1 only with an API key; global discovery, local discovery, relays, NAT traversal, usage reporting, crash reporting, automatic upgrades and the browser off; setLowPriority off (noroshi is not niced either); each device added on the other with its tcp://127.0.0.1 address; one send-receive folder shared by both with the filesystem watcher on, fsWatcherDelayS=%d, rescanIntervalS=3600, other folder settings Syncthing's defaults. Started with `+"`syncthing serve --home DIR --no-browser --no-restart --no-upgrade`"+` (STNORESTART=1, STNOUPGRADE=1).

To reproduce (Debian or Ubuntu; root only to install the package):

`+"```"+`
sudo apt-get install -y syncthing
make compare        # = go run ./cmd/noroshi-proof compare --doc docs/performance.md
`+"```"+`

This section was written by: `+"`%s`"+` (`+"`--short`"+` runs 200, 20 and 1,000 items; `+"`--keep`"+` keeps the homes and logs).
`, o.Writers, cmpMillis(r.CLIPerPost), o.CLISample, cmpMillis(r.SocketPerPost), o.Poll, cmpSecs(r.IdleStart["Noroshi"]), cmpSecs(r.IdleStart["Syncthing"]), o.AntiEntropy, o.WatcherDelay, command)
	return b.String()
}

// ratios says, per scenario, how Noroshi's time compares with Syncthing's:
// from the first write until all are on B (scenarios 1, 2), from B's start
// until all are on B (scenario 3).
func (r *compareReport) ratios() string {
	var b strings.Builder
	for i := 0; i+1 < len(r.Rows); i += 2 {
		n, s := r.Rows[i], r.Rows[i+1]
		if n.Tool != "Noroshi" || s.Tool != "Syncthing" || n.Scenario != s.Scenario {
			continue
		}
		tn, ts, what := n.Write+n.Sync, s.Write+s.Sync, "first write → all on B"
		if n.CatchUp != 0 {
			tn, ts, what = n.CatchUp, s.CatchUp, "B's start → all on B"
		}
		if ts > 0 {
			fmt.Fprintf(&b, "- %s: Noroshi %s, Syncthing %s (%s): Noroshi takes %.1f× Syncthing's time.\n", n.Scenario, cmpSecs(tn), cmpSecs(ts), what, tn.Seconds()/ts.Seconds())
		}
	}
	return b.String()
}

func cmpMillis(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"noroshi/app"
)

// env is everything a command touches outside itself, so tests and the
// control socket can run commands with their own streams and directory.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	cwd            string
	workFactor     int
	// prompt reads a passphrase from the terminal; nil when there is none.
	prompt func(label string) (string, error)
	// held is the unlocked app of the process that owns the home, when
	// commands run inside it (noroshi serve); nil in a plain CLI process.
	held *app.App
	// net is the held app's network, when it runs one.
	net *app.Network
}

// isTerminal reports whether w is a terminal (progress lines go there only).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProcessEnv(workFactor int) *env {
	cwd, _ := os.Getwd()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, cwd: cwd, workFactor: workFactor}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		tty.Close()
		e.prompt = promptTTY
	}
	return e
}

func promptTTY(label string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer tty.Close()
	fmt.Fprint(tty, label)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return string(b), err
}

// exitError carries an exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run runs one command line and returns the exit code.
func run(args []string, e *env) int {
	if e.held == nil && forwardable(args) {
		if home, err := homeFromArgs(args, e); err == nil {
			if code, ok := forward(home, args, e); ok {
				return code
			}
			// A holder still unlocking answers in a moment.
			if code, ok := waitForHolder(home, args, e); ok {
				return code
			}
		}
	}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(e.stderr, "noroshi: %s%s\n", oneLine(phrase(err)), usageHint(root, args, err))
	return 1
}

// usageHint says what to do after one of cobra's own usage errors (an
// unknown command or flag, a wrong number of arguments), which do not.
func usageHint(root *cobra.Command, args []string, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, `unknown command "`); ok {
		name, _, _ = strings.Cut(name, `"`)
		if root.SuggestionsMinimumDistance <= 0 {
			root.SuggestionsMinimumDistance = 2
		}
		if sugg := root.SuggestionsFor(name); len(sugg) > 0 {
			return fmt.Sprintf(": did you mean %q? (noroshi --help lists the commands)", sugg[0])
		}
		return ": noroshi --help lists the commands"
	}
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "accepts ", "requires ", "invalid argument", "flag needs an argument", "bad flag syntax"} {
		if strings.HasPrefix(msg, p) {
			cmd, _, ferr := root.Find(args)
			if ferr != nil || cmd == nil {
				cmd = root
			}
			return fmt.Sprintf(": see %s --help", cmd.CommandPath())
		}
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// opts are the flags every command shares.
type opts struct {
	home           string
	passphraseFile string
	json           bool
	demo           bool
}

func newRoot(e *env) *cobra.Command {
	o := &opts{}
	c := &cli{env: e, o: o}
	root := &cobra.Command{
		Use:   "noroshi",
		Short: "Noroshi: offline-first sharing of cyber-security information for a large event",
		Long: `Noroshi shares threat information, incidents and 24-hour contacts inside a
trust community (sports bodies, venues, critical-service operators, an
organising committee and a coordination centre), signed and encrypted on
every device, so it keeps working without a central server.

Noroshi は大規模イベントのためのサイバーセキュリティ情報共有ツールです。`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// With no command, noroshi opens the desktop app (gui.go; nogui.go
		// in the relay build says there is none).
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.desktop()
		},
	}
	root.Flags().BoolVar(&o.demo, "demo", false, "open the desktop app on the demo community (created in its own home if absent)")
	pf := root.PersistentFlags()
	pf.StringVar(&o.home, "home", "", "home directory (default: $NOROSHI_HOME, else "+defaultHomeText()+")")
	pf.StringVar(&o.passphraseFile, "passphrase-file", "", "read the passphrase from this file (else $NOROSHI_PASSPHRASE, else a prompt)")
	pf.BoolVar(&o.json, "json", false, "print data as JSON")
	root.AddCommand(c.initCmd(), c.communityCmd(), c.orgCmd(), c.requestCmd(), c.endorseCmd(), c.inviteCmd(), c.joinCmd(),
		c.whoamiCmd(), c.memberCmd(), c.postCmd(), c.feedCmd(), c.showCmd(), c.readCmd(), c.commentCmd(),
		c.bookmarkCmd(), c.retractCmd(), c.attachmentCmd(), c.incidentCmd(), c.contactCmd(), c.demoCmd(),
		c.serveCmd(), c.peersCmd(), c.exportCmd(), c.importCmd(), c.markCmd(), c.versionCmd())
	root.AddCommand(c.indicatorsCmd())
	root.AddCommand(c.stixCmd())
	root.AddCommand(c.reportCmd()) // report.go
	root.AddCommand(c.advisoriesCmd())
	root.AddCommand(c.exerciseCmd())
	root.AddCommand(c.assetsCmd()) // assets.go
	root.AddCommand(c.metricsCmd())
	root.AddCommand(c.checkCmd()) // check.go
	root.AddCommand(c.updateCmd(), c.genCmd())
	root.AddCommand(c.benchCmd()) // bench.go
	applyHelp(root)
	return root
}

// desktop opens the desktop app on the home, or with --demo on the demo
// community's own home (as `noroshi demo` names it).
func (c *cli) desktop() error {
	home, err := c.home()
	if err != nil {
		return err
	}
	demoHome, err := app.DemoHome(c.path(c.o.home))
	if err != nil {
		return err
	}
	pass := ""
	if c.o.passphraseFile != "" || c.env.getenv("NOROSHI_PASSPHRASE") != "" {
		if pass, err = c.passphrase(false); err != nil {
			return err
		}
	}
	return runGUI(c.env, home, demoHome, c.o.demo, pass)
}

// cli holds what the commands share.
type cli struct {
	env *env
	o   *opts
	// namesNoted is set once the command said that names are hidden.
	namesNoted bool
	// unlocking, when set, hears that open is about to unlock home (serve
	// says so in the home's holder file).
	unlocking func(home string)
}

func (c *cli) out() io.Writer { return c.env.stdout }

// home resolves the home directory: --home, $NOROSHI_HOME, the default.
func (c *cli) home() (string, error) {
	return resolveHome(c.o.home, c.env)
}

func resolveHome(flag string, e *env) (string, error) {
	h := flag
	if h == "" {
		h = e.getenv("NOROSHI_HOME")
	}
	if h == "" {
		return app.DefaultHome()
	}
	if !filepath.IsAbs(h) {
		h = filepath.Join(e.cwd, h)
	}
	return h, nil
}

// clockSkew is NOROSHI_CLOCK_SKEW, a Go duration ("24h", "-24h") by which
// this process's clock is moved: a testing aid for a device with a wrong
// clock. Unset or unparsable, the clock is the system's (a bad value is
// said once on standard error).
func (c *cli) clockSkew() time.Duration {
	v := c.env.getenv("NOROSHI_CLOCK_SKEW")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(c.env.stderr, "noroshi: NOROSHI_CLOCK_SKEW=%q is not a duration such as 24h or -90m; the system clock is used\n", v)
		return 0
	}
	return d
}

// path resolves a file argument against the command's working directory.
func (c *cli) path(p string) string {
	if p == "" || filepath.IsAbs(p) || p == "-" {
		return p
	}
	return filepath.Join(c.env.cwd, p)
}

func (c *cli) config(home string) app.Config {
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = c.env.workFactor
	if skew := c.clockSkew(); skew != 0 {
		// A testing aid (noroshi-proof chaos): this process's clock runs
		// off by NOROSHI_CLOCK_SKEW, as a laptop with a wrong date would.
		cfg.Now = func() time.Time { return time.Now().Add(skew) }
	}
	// The first open of a big home (or the first after an upgrade) folds
	// its views: say how far it is, on one line.
	var shown uint64
	cfg.Progress = func(done, total uint64) {
		if pct := done * 100 / max(total, 1); pct >= shown+10 || done == total {
			shown = pct
			fmt.Fprintf(c.env.stderr, "noroshi: preparing this home's views: %d%% (%d of %d envelopes)\n", pct, done, total)
		}
	}
	return cfg
}

// passphrase finds the passphrase: --passphrase-file, $NOROSHI_PASSPHRASE,
// or a prompt (twice when confirm is set).
func (c *cli) passphrase(confirm bool) (string, error) {
	if c.o.passphraseFile != "" {
		b, err := os.ReadFile(c.path(c.o.passphraseFile))
		if err != nil {
			return "", fmt.Errorf("read passphrase file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := c.env.getenv("NOROSHI_PASSPHRASE"); p != "" {
		return p, nil
	}
	if c.env.prompt == nil {
		return "", errors.New("no passphrase: there is no terminal to ask on; set NOROSHI_PASSPHRASE or pass --passphrase-file")
	}
	p, err := c.env.prompt("Passphrase: ")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if confirm {
		q, err := c.env.prompt("Passphrase again: ")
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if p != q {
			return "", errors.New("the two passphrases differ: run the command again")
		}
	}
	return p, nil
}

// open returns the unlocked app and a function to release it.
func (c *cli) open() (*app.App, func(), error) {
	if c.env.held != nil {
		return c.env.held, func() {}, nil
	}
	home, err := c.home()
	if err != nil {
		return nil, nil, err
	}
	if !app.HasIdentity(home) {
		return nil, nil, fmt.Errorf("%w (%s): run `noroshi init --name \"Your Name\"`, or `noroshi demo` to try the demo", app.ErrNoIdentity, home)
	}
	pass, err := c.passphrase(false)
	if err != nil {
		return nil, nil, err
	}
	if c.unlocking != nil {
		c.unlocking(home)
	}
	a, err := app.Open(c.config(home), pass)
	if err != nil {
		if held := holderInfo(home); held != nil {
			return nil, nil, held // say which process holds the home
		}
		return nil, nil, err
	}
	// Read receipts gathered in earlier runs go out once their minute is up.
	if err := a.FlushDueReads(); err != nil {
		fmt.Fprintf(c.env.stderr, "noroshi: read receipts not sent yet: %s\n", phrase(err))
	}
	return a, func() { a.Close() }, nil
}

// withApp runs fn with the unlocked app. On a revoked device every command
// first says so, in one line on standard error; a write it refuses then
// adds nothing more.
func (c *cli) withApp(fn func(a *app.App) error) error {
	a, done, err := c.open()
	if err != nil {
		return err
	}
	defer done()
	notice := a.WhoAmI().RevokedNotice()
	if notice != "" {
		fmt.Fprintf(c.env.stderr, "noroshi: %s\n", notice)
	}
	err = fn(a)
	var revoked *app.RevokedError
	if notice != "" && errors.As(err, &revoked) {
		return exitError{code: 1}
	}
	return err
}

// namesNote says, once, that a relay shows people and organisations by ID:
// it holds no community key, so it cannot open their names.
func (c *cli) namesNote(a *app.App) {
	if c.namesNoted || a.WhoAmI().Role != app.RoleRelay {
		return
	}
	c.namesNoted = true
	fmt.Fprintln(c.env.stderr, "noroshi: names are hidden on a relay (it holds no community key)")
}

// emit prints v as JSON with --json, else id alone (for scripts) or text.
func (c *cli) emit(v any, text func(w io.Writer)) error {
	if c.o.json {
		enc := json.NewEncoder(c.out())
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	bw := bufio.NewWriter(c.out())
	text(bw)
	return bw.Flush()
}

// readInput reads a file argument ("-" is stdin), at most max bytes.
func (c *cli) readInput(p string, max int64) ([]byte, error) {
	var r io.Reader
	if p == "-" {
		r = c.env.stdin
	} else {
		f, err := os.Open(c.path(p))
		if err != nil {
			return nil, fmt.Errorf("%w: cannot read %s: %v", app.ErrInvalid, p, err)
		}
		defer f.Close()
		// A file larger than max is refused before it is read: reading
		// max+1 bytes of a 4 GiB bundle first would hold them all.
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > max {
			return nil, fmt.Errorf("%w: %s is larger than %d bytes", app.ErrTooLarge, p, max)
		}
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", app.ErrTooLarge, p, max)
	}
	return b, nil
}

// readFiles reads files to attach, each named by its base name.
func (c *cli) readFiles(paths []string) ([]app.File, error) {
	var files []app.File
	for _, p := range paths {
		b, err := c.readInput(p, app.MaxAttachmentSize)
		if err != nil {
			return nil, err
		}
		files = append(files, app.File{Name: filepath.Base(p), Data: b})
	}
	return files, nil
}

// writeOutput writes data to a file ("-" is stdout) without overwriting an
// existing file unless force is set.
func (c *cli) writeOutput(p string, data []byte, force bool) error {
	if p == "" || p == "-" {
		_, err := c.out().Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(c.path(p), flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: choose another --out, or remove it first", p)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// when formats a time for people: local time with its zone.
func when(t time.Time) string { return t.Format("2006-01-02 15:04 MST") }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// plural says n things in English: "1 peer", "2 peers", "0 peers".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

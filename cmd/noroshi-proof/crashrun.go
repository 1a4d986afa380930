package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/app"
)

// crashRun is the state of one crash run.
type crashRun struct {
	o    crashOpts
	out  io.Writer
	dir  string
	bin  string
	bolt string // bbolt's CLI, "" when it could not be built
	rng  *mrand.Rand
	res  *crashResult

	coord, venue, desk *node
	pristine           string // a copy of desk's home before any import
	bundle             string // venue's bundle file
	venuePosts         []string

	// acknowledged writes on coord: post IDs, comments (post ID -> comment
	// IDs), posts marked read.
	mu       sync.Mutex
	posts    []string
	comments map[string][]string
	reads    map[string]bool
	readable []string // venue's posts, unread on coord, to mark read

	importTime time.Duration // a whole import of the bundle, unserved
	foldTime   time.Duration // a serve start that folds every view again
}

func (c *crashRun) logf(format string, args ...any) {
	fmt.Fprintf(c.out, "crash: "+format+"\n", args...)
}

// runCrash makes the homes, plans the kills and runs them.
func runCrash(ctx context.Context, o crashOpts, out io.Writer) (*crashResult, error) {
	start := time.Now()
	c := &crashRun{o: o, out: out, rng: mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		comments: map[string][]string{}, reads: map[string]bool{},
		res: &crashResult{Seed: o.Seed, Kills: map[string]int{}, Missed: map[string]int{}, Acked: map[string]int{}, Restarts: map[string][]time.Duration{}}}
	c.dir = o.Dir
	if c.dir == "" {
		d, err := os.MkdirTemp("", "noroshi-crash-")
		if err != nil {
			return nil, err
		}
		c.dir = d
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	c.res.Dir = c.dir
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	c.bin = o.Bin
	if c.bin == "" {
		c.logf("building noroshi (nogui)")
		if c.bin, err = buildNoroshi(ctx, root, c.dir, "nogui"); err != nil {
			return nil, err
		}
	}
	c.bolt, c.res.BoltCLI = buildBboltCLI(ctx, root, c.dir)
	c.logf("%s", c.res.BoltCLI)
	if err := c.setup(ctx); err != nil {
		c.stopAll()
		return nil, fmt.Errorf("crash: setup: %w (homes and logs in %s)", err, c.dir)
	}
	// The plan: which kind each kill is, at least one of each.
	plan := make([]string, o.Kills)
	for i := range plan {
		switch {
		case i < len(crashPhases):
			plan[i] = crashPhases[i]
		default:
			plan[i] = crashPhases[c.rng.IntN(len(crashPhases))]
		}
	}
	c.rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	for i, phase := range plan {
		if err := ctx.Err(); err != nil {
			c.stopAll()
			return nil, err
		}
		// A kill that lands after the process finished is tried again
		// with a shorter delay, a few times.
		for attempt := 0; ; attempt++ {
			var landed bool
			switch phase {
			case phaseWrite:
				landed = c.writeKill(ctx)
			case phaseImport:
				landed = c.importKill(ctx, attempt)
			case phaseFold:
				landed = c.foldKill(ctx, attempt)
			}
			if landed {
				c.res.Kills[phase]++
				break
			}
			c.res.Missed[phase]++
			if attempt >= 5 || ctx.Err() != nil {
				c.res.fail("kill %d (%s): the process finished before every one of %d delays", i+1, phase, attempt+1)
				break
			}
		}
		c.logf("kill %d/%d (%s): acknowledged %d, lost %d, views mismatches %d, bolt errors %d, failures %d",
			i+1, len(plan), phase, crashSum(c.res.Acked), c.res.Lost, c.res.ViewMismatches, c.res.BoltErrors, len(c.res.Failures))
	}
	// Every comment acknowledged so far, once more, at the end.
	if c.coord.PID() == 0 {
		c.restart(ctx, c.coord, phaseWrite)
	}
	c.verifyCoord(ctx, true)
	c.stopAll()
	c.res.Elapsed = time.Since(start)
	if o.Dir == "" && !c.res.failed() {
		crashCleanup(c.dir, false)
	}
	return c.res, nil
}

func (c *crashRun) stopAll() {
	for _, n := range []*node{c.coord, c.venue, c.desk} {
		if n != nil {
			n.Stop()
		}
	}
}

// serveArgs are the arguments of every serve: loopback, no mDNS, no peers.
func (c *crashRun) serveArgs() ([]string, error) {
	p, err := freePort()
	if err != nil {
		return nil, err
	}
	return []string{"--bind", fmt.Sprintf("127.0.0.1:%d", p), "--no-mdns"}, nil
}

func (c *crashRun) serve(ctx context.Context, n *node) error {
	args, err := c.serveArgs()
	if err != nil {
		return err
	}
	return n.Serve(ctx, args...)
}

// setup makes a community of three homes: coord (the home of the write
// kills), venue (the source of the bundle: many posts, some with an
// attachment) and desk (the home of the import and fold kills, a copy of
// it kept from before any import).
func (c *crashRun) setup(ctx context.Context) error {
	c.logf("making a community of three homes in %s", c.dir)
	// Key files at a low scrypt work factor: every restart unlocks the
	// home, and the run is about what the kills leave, not the unlock.
	// Everything else is made by the CLI, as newCommunity does.
	var nodes []*node
	for _, name := range []string{"coord", "venue", "desk"} {
		n := &node{Name: name, Home: filepath.Join(c.dir, name), Bin: c.bin, Log: filepath.Join(c.dir, name+".log")}
		cfg := app.DefaultConfig(n.Home)
		cfg.WorkFactor = app.TestWorkFactor
		if _, err := app.Init(cfg, name, passphrase); err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	c.coord, c.venue, c.desk = nodes[0], nodes[1], nodes[2]
	if _, err := c.coord.Run(ctx, "community", "create", "--name", "Noroshi crash proof", "--org", "Coordination Centre", "--org-kind", "coordination"); err != nil {
		return err
	}
	if _, err := c.coord.Run(ctx, "org", "add", "--name", "Venue North", "--kind", "venue"); err != nil {
		return err
	}
	for _, n := range []*node{c.venue, c.desk} {
		req, inv := filepath.Join(c.dir, n.Name+".request"), filepath.Join(c.dir, n.Name+".invite")
		args := []string{"invite", "--request", req, "--org", "Venue North", "--out", inv}
		if n == c.venue {
			args = append(args, "--role", "org-admin")
		}
		if _, err := n.Run(ctx, "request", "--out", req); err != nil {
			return err
		}
		if _, err := c.coord.Run(ctx, args...); err != nil {
			return err
		}
		if _, err := n.Run(ctx, "join", inv); err != nil {
			return err
		}
	}
	c.pristine = filepath.Join(c.dir, "desk.pristine")
	if err := copyTree(c.desk.Home, c.pristine); err != nil {
		return err
	}
	// The bundle's source: posts written through serve's socket, a few at
	// once, one in 20 with an attachment.
	if err := c.serve(ctx, c.venue); err != nil {
		return err
	}
	c.logf("writing %d posts on venue", c.o.Posts)
	att := filepath.Join(c.dir, "attachment.bin")
	blob := make([]byte, 256<<10)
	rand.Read(blob)
	if err := os.WriteFile(att, blob, 0o644); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < c.o.Posts; i += 4 {
				args := []string{"post", "--type", "alert", "--tag", "info", "--tlp", "green", "--title", fmt.Sprintf("venue bulletin %d", i), "--body", strings.Repeat(fmt.Sprintf("line %d of a bulletin about 203.0.113.%d. ", i, i%250), 8)}
				if i%20 == 0 {
					args = append(args, "--attach", att)
				}
				if _, err := crashRun1(ctx, c.venue, args...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	c.bundle = filepath.Join(c.dir, "venue.bundle")
	if _, err := crashRun1(ctx, c.venue, "export", "--out", c.bundle); err != nil {
		return err
	}
	if fi, err := os.Stat(c.bundle); err == nil {
		c.res.BundleBytes = fi.Size()
	}
	var feed []crashPost
	if err := crashJSON(ctx, c.venue, &feed, "feed", "--limit", "0"); err != nil {
		return err
	}
	for _, p := range feed {
		c.venuePosts = append(c.venuePosts, p.ID)
	}
	var chk crashCheck
	if err := crashJSON(ctx, c.venue, &chk, "check"); err != nil {
		return err
	}
	c.res.Envelopes = chk.Envelopes
	if err := c.venue.Stop(); err != nil {
		return err
	}
	// coord holds venue's posts (unread: the write kills mark them read).
	if _, err := c.coord.Run(ctx, "import", c.bundle); err != nil {
		return err
	}
	c.readable = append(c.readable, c.venuePosts...)
	// Calibration: how long a whole import and a whole fold work after
	// their unlock (the kills land within that).
	_, w, err := c.startKill(ctx, c.desk, -1, nil, "import", c.bundle)
	if err != nil {
		return err
	}
	c.importTime = w
	c.verifyDesk(ctx, "calibration")
	if err := c.resetViewFormat(c.desk.Home); err != nil {
		return err
	}
	args, err := c.serveArgs()
	if err != nil {
		return err
	}
	busy := func() bool { return !holderServing(c.desk.Home) }
	if _, c.foldTime, err = c.startKill(ctx, c.desk, -1, busy, append([]string{"serve"}, args...)...); err != nil {
		return err
	}
	c.logf("bundle: %d envelopes, %.1f MiB; after the unlock a whole import works %s, a serve start with a whole fold %s",
		c.res.Envelopes, float64(c.res.BundleBytes)/(1<<20), c.importTime.Round(time.Millisecond), c.foldTime.Round(time.Millisecond))
	return c.serve(ctx, c.coord)
}

// crashPost is what the checks read of `noroshi --json feed`.
type crashPost struct {
	ID     string `json:"id"`
	Unread bool   `json:"unread"`
}

// crashCheck is `noroshi --json check`'s report.
type crashCheck struct {
	Envelopes      int      `json:"envelopes"`
	SetDigest      string   `json:"set_digest"`
	ViewsDigest    string   `json:"views_digest"`
	ViewsMatchFold bool     `json:"views_match_fold"`
	BoltOK         bool     `json:"bolt_ok"`
	BoltErrors     []string `json:"bolt_errors"`
	Pending        int      `json:"pending"`
	Differences    []string `json:"view_differences"`
}

// check runs `noroshi --json check` (through serve's socket when it runs)
// and counts what it found.
func (c *crashRun) check(ctx context.Context, n *node, when string) {
	c.res.Checks++
	out, err := crashRun1(ctx, n, "--json", "check")
	var r crashCheck
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		c.res.fail("%s: noroshi check on %s: %v", when, n.Name, err)
		return
	}
	if !r.BoltOK {
		c.res.BoltErrors++
		c.res.fail("%s: noroshi check on %s: bolt: %s", when, n.Name, strings.Join(r.BoltErrors, "; "))
	}
	if r.BoltOK && !r.ViewsMatchFold {
		c.res.ViewMismatches++
		c.res.fail("%s: noroshi check on %s: views differ from a fresh fold: %s", when, n.Name, strings.Join(r.Differences, "; "))
	}
}

// boltCheck runs bbolt's own CLI on a home's store file (nobody may hold it).
func (c *crashRun) boltCheck(ctx context.Context, n *node, when string) {
	if c.bolt == "" {
		return
	}
	c.res.BoltCLIChecks++
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, c.bolt, "check", filepath.Join(n.Home, "store.db")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		c.res.BoltErrors++
		c.res.fail("%s: bbolt check %s: %v: %s", when, n.Name, err, strings.TrimSpace(string(out)))
	}
}

// restart starts serve on n again and records how long it took.
func (c *crashRun) restart(ctx context.Context, n *node, phase string) bool {
	for try := 0; try < 2; try++ {
		t0 := time.Now()
		err := c.serve(ctx, n)
		if err == nil {
			c.res.Restarts[phase] = append(c.res.Restarts[phase], time.Since(t0))
			return true
		}
		if try == 1 {
			c.res.fail("%s: restart of %s: %v", phase, n.Name, err)
		}
	}
	return false
}

// writeKill kills coord's serve while CLI writers post, comment and mark
// read through its socket, then restarts it and checks.
func (c *crashRun) writeKill(ctx context.Context) bool {
	if c.coord.PID() == 0 && !c.restart(ctx, c.coord, phaseWrite) {
		return true
	}
	var stop sync.WaitGroup
	var stopped sync.Mutex
	halt := false
	halted := func() bool { stopped.Lock(); defer stopped.Unlock(); return halt }
	var iterComments []string // posts commented in this round
	var imu sync.Mutex
	for w := range c.o.Writers {
		stop.Add(1)
		seed := c.rng.Uint64()
		go func() {
			defer stop.Done()
			rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
			for i := 0; !halted(); i++ {
				c.writeOne(ctx, rng, w, i, &imu, &iterComments)
			}
		}()
	}
	delay := time.Duration(300+c.rng.IntN(2700)) * time.Millisecond
	time.Sleep(delay)
	c.coord.Kill()
	stopped.Lock()
	halt = true
	stopped.Unlock()
	stop.Wait()
	c.boltCheck(ctx, c.coord, "after a write kill")
	if !c.restart(ctx, c.coord, phaseWrite) {
		return true
	}
	c.verifyCoord(ctx, false, iterComments...)
	c.check(ctx, c.coord, "after a write kill")
	return true
}

// writeOne runs one CLI write and records it when acknowledged.
func (c *crashRun) writeOne(ctx context.Context, rng *mrand.Rand, w, i int, imu *sync.Mutex, commented *[]string) {
	c.mu.Lock()
	var target string
	op := rng.IntN(10)
	switch {
	case op >= 6 && op < 9 && len(c.posts) > 0:
		target = c.posts[len(c.posts)-1-rng.IntN(min(len(c.posts), 10))]
	case op == 9 && len(c.readable) > 0:
		target = c.readable[rng.IntN(len(c.readable))]
	default:
		op = 0
	}
	c.mu.Unlock()
	var args []string
	kind := "post"
	switch {
	case op == 9:
		kind, args = "read", []string{"read", target}
	case op >= 6:
		kind, args = "comment", []string{"comment", target, "--body", fmt.Sprintf("comment %d.%d", w, i)}
	default:
		args = []string{"post", "--type", "alert", "--tag", "caution", "--tlp", "green", "--title", fmt.Sprintf("crash write %d.%d.%d", w, i, rng.Uint32()), "--body", "written while serve may be killed"}
	}
	out, err := socketOnly(ctx, c.coord, args...)
	if err != nil {
		return // not acknowledged: it may or may not be there
	}
	id := strings.TrimSpace(out)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Acked[kind]++
	switch kind {
	case "post":
		c.posts = append(c.posts, id)
	case "comment":
		c.comments[target] = append(c.comments[target], id)
		imu.Lock()
		*commented = append(*commented, target)
		imu.Unlock()
	case "read":
		c.reads[target] = true
	}
}

// socketOnly runs a command on n's home through serve's control socket
// only: without the passphrase (and without a terminal to ask on), a
// command that finds no serve fails at once rather than opening the home
// itself, which would hold it while serve restarts.
func socketOnly(ctx context.Context, n *node, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, n.Bin, append([]string{"--home", n.Home}, args...)...)
	cmd.Env = append(n.env(), "NOROSHI_PASSPHRASE=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: noroshi %s: %v: %s", n.Name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// verifyCoord checks that every acknowledged post is in coord's feed,
// every post marked read is read, and the comments on the posts given (on
// every post commented, with all) are there.
func (c *crashRun) verifyCoord(ctx context.Context, all bool, commented ...string) {
	var feed []crashPost
	if err := crashJSON(ctx, c.coord, &feed, "feed", "--limit", "0"); err != nil {
		c.res.fail("feed of coord: %v", err)
		return
	}
	have := map[string]crashPost{}
	for _, p := range feed {
		have[p.ID] = p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.posts {
		if _, ok := have[id]; !ok {
			c.res.lose("post %s", short12(id))
		}
	}
	for id := range c.reads {
		if p, ok := have[id]; !ok || p.Unread {
			c.res.lose("read mark of post %s", short12(id))
		}
	}
	if all {
		commented = commented[:0]
		for p := range c.comments {
			commented = append(commented, p)
		}
	}
	seen := map[string]bool{}
	for _, post := range commented {
		if seen[post] {
			continue
		}
		seen[post] = true
		var d struct {
			Comments []struct {
				ID string `json:"id"`
			} `json:"comment_list"`
		}
		if err := crashJSON(ctx, c.coord, &d, "show", post); err != nil {
			c.res.fail("show %s on coord: %v", short12(post), err)
			continue
		}
		got := map[string]bool{}
		for _, cm := range d.Comments {
			got[cm.ID] = true
		}
		for _, id := range c.comments[post] {
			if !got[id] {
				c.res.lose("comment %s on post %s", short12(id), short12(post))
			}
		}
	}
}

// crashRun1 runs a command on n, again (up to 5 times, a second apart)
// while serve does not answer on its control socket: a busy machine
// makes an accept wait, which is no finding of this run.
func crashRun1(ctx context.Context, n *node, args ...string) (string, error) {
	for try := 0; ; try++ {
		out, err := n.Run(ctx, args...)
		if err == nil || try == 4 || !strings.Contains(err.Error(), "did not answer on its control socket") {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(time.Second):
		}
	}
}

// crashJSON is crashRun1 with --json, decoded into v.
func crashJSON(ctx context.Context, n *node, v any, args ...string) error {
	out, err := crashRun1(ctx, n, append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: noroshi --json %s: %v", n.Name, strings.Join(args, " "), err)
	}
	return nil
}

func short12(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// verifyDesk checks that desk holds every post of the bundle (after an
// import that was acknowledged).
func (c *crashRun) verifyDesk(ctx context.Context, when string) {
	var feed []crashPost
	if err := crashJSON(ctx, c.desk, &feed, "feed", "--limit", "0"); err != nil {
		c.res.fail("%s: feed of desk: %v", when, err)
		return
	}
	have := map[string]bool{}
	for _, p := range feed {
		have[p.ID] = true
	}
	for _, id := range c.venuePosts {
		if !have[id] {
			c.res.lose("%s: imported post %s", when, short12(id))
		}
	}
}

// crashStamp is a store file's size and modification time: it changes at
// the first commit after a process started (the end of its unlock).
func crashStamp(home string) string {
	fi, err := os.Stat(filepath.Join(home, "store.db"))
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
}

// startKill starts `noroshi args...` on n's home, waits until its first
// commit (the unlock is over: the work began), then extra, and kills it
// with SIGKILL, unless it finished before. It returns whether the kill
// landed (the process ran, and busy, if given, still held) and how long
// the work ran before the kill or the end. A negative extra calibrates:
// the process runs to its end, or (with busy) until busy no longer holds.
func (c *crashRun) startKill(ctx context.Context, n *node, extra time.Duration, busy func() bool, args ...string) (landed bool, work time.Duration, err error) {
	cmd := exec.Command(n.Bin, append([]string{"--home", n.Home}, args...)...)
	cmd.Env = n.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return false, 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	before := crashStamp(n.Home)
	if err := cmd.Start(); err != nil {
		return false, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	var began time.Time
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var deadline <-chan time.Time
	for {
		select {
		case err := <-exited:
			if began.IsZero() {
				began = time.Now()
			}
			if err != nil {
				return false, time.Since(began), fmt.Errorf("noroshi %s on %s failed before the kill: %v (log %s)", strings.Join(args, " "), n.Name, err, n.Log)
			}
			return false, time.Since(began), nil
		case <-ctx.Done():
			kill()
			return false, 0, ctx.Err()
		case <-tick.C:
			if began.IsZero() && crashStamp(n.Home) != before {
				began = time.Now()
				if extra >= 0 {
					deadline = time.After(extra)
				}
			}
			if !began.IsZero() && extra < 0 && busy != nil && !busy() {
				work = time.Since(began)
				kill()
				return false, work, nil
			}
		case <-deadline:
			landed = busy == nil || busy()
			work = time.Since(began)
			kill()
			return landed, work, nil
		}
	}
}

// importKill copies desk's home from before any import, kills an
// unserved import of the bundle mid-way, restarts (serve), checks, imports
// the bundle again to the end and checks that all of it is there.
func (c *crashRun) importKill(ctx context.Context, attempt int) bool {
	os.RemoveAll(c.desk.Home)
	if err := copyTree(c.pristine, c.desk.Home); err != nil {
		c.res.fail("import: copy desk's home: %v", err)
		return true
	}
	span := max(c.importTime>>attempt, time.Millisecond)
	extra := time.Duration(c.rng.Int64N(int64(span)))
	landed, _, err := c.startKill(ctx, c.desk, extra, nil, "import", c.bundle)
	if err != nil {
		c.res.fail("import: %v", err)
		return true
	}
	c.boltCheck(ctx, c.desk, "after an import kill")
	if !c.restart(ctx, c.desk, phaseImport) {
		return true
	}
	c.check(ctx, c.desk, "after an import kill")
	if _, err := crashRun1(ctx, c.desk, "import", c.bundle); err != nil {
		c.res.fail("import again after a kill: %v", err)
	} else {
		c.res.Acked["import"]++
		c.verifyDesk(ctx, "after an import kill")
	}
	if err := c.desk.Stop(); err != nil {
		c.res.fail("stop desk: %v", err)
	}
	// The same home checked unserved (the CLI opens it itself).
	c.check(ctx, c.desk, "after an import kill, unserved")
	return landed
}

// foldKill makes desk's views fold again at the next open (their format
// number changed, as an upgrade does) and kills serve while it opens.
func (c *crashRun) foldKill(ctx context.Context, attempt int) bool {
	if err := c.resetViewFormat(c.desk.Home); err != nil {
		c.res.fail("fold: %v", err)
		return true
	}
	span := max(c.foldTime>>attempt, time.Millisecond)
	extra := time.Duration(c.rng.Int64N(int64(span)))
	args, err := c.serveArgs()
	if err != nil {
		c.res.fail("fold: %v", err)
		return true
	}
	// The kill lands in the fold while serve does not answer yet.
	busy := func() bool { return !holderServing(c.desk.Home) }
	landed, _, err := c.startKill(ctx, c.desk, extra, busy, append([]string{"serve"}, args...)...)
	if err != nil {
		c.res.fail("fold: %v", err)
		return true
	}
	c.boltCheck(ctx, c.desk, "after a fold kill")
	if !c.restart(ctx, c.desk, phaseFold) {
		return true
	}
	c.check(ctx, c.desk, "after a fold kill")
	c.verifyDesk(ctx, "after a fold kill")
	if err := c.desk.Stop(); err != nil {
		c.res.fail("stop desk: %v", err)
	}
	return landed
}

// holderServing reports whether a home's holder file says serve answers.
func holderServing(home string) bool {
	n := node{Home: home}
	return n.serving()
}

// resetViewFormat writes another format number into a home's views (the
// home must be unheld): the next open drops them and folds every envelope
// again, as after an upgrade that changes their layout.
func (c *crashRun) resetViewFormat(home string) error {
	db, err := bolt.Open(filepath.Join(home, "store.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s's store: %w", home, err)
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		views, err := tx.CreateBucketIfNotExists([]byte("views"))
		if err != nil {
			return err
		}
		meta, err := views.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return meta.Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 0xffff))
	})
}

// copyTree copies a directory of regular files (a home).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil // the control socket
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
}

// buildBboltCLI builds bbolt's own CLI at the version go.mod requires, in a
// module of its own under dir. It returns the binary ("" when it cannot be
// built) and a sentence for the report.
func buildBboltCLI(ctx context.Context, root, dir string) (string, string) {
	lcmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "go.etcd.io/bbolt")
	lcmd.Dir = root
	out, err := lcmd.Output()
	ver := strings.TrimSpace(string(out))
	if err != nil || ver == "" {
		return "", fmt.Sprintf("bbolt's CLI was not built (go list -m go.etcd.io/bbolt: %v): only noroshi check's bbolt check ran", err)
	}
	mod := filepath.Join(dir, "bbolt-cli")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return "", "bbolt's CLI was not built: " + err.Error()
	}
	bin := filepath.Join(mod, "bbolt")
	for _, args := range [][]string{
		{"mod", "init", "noroshi-proof/bboltcli"},
		{"get", "go.etcd.io/bbolt/cmd/bbolt@" + ver},
		{"build", "-o", bin, "go.etcd.io/bbolt/cmd/bbolt"},
	} {
		if args[0] == "mod" {
			if _, err := os.Stat(filepath.Join(mod, "go.mod")); err == nil {
				continue
			}
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if i := strings.IndexByte(msg, '\n'); i > 0 {
				msg = msg[:i]
			}
			return "", fmt.Sprintf("bbolt's CLI %s was not built (go %s: %v: %s; its dependencies are not in the module cache or proxy?): only noroshi check's bbolt check ran", ver, args[0], err, msg)
		}
	}
	return bin, fmt.Sprintf("`bbolt check` (bbolt's own CLI, go.etcd.io/bbolt/cmd/bbolt %s) found the file clean", ver)
}

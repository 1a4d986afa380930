package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"noroshi/internal/proofdoc"
)

// chaosOpts are the flags of noroshi-proof chaos.
type chaosOpts struct {
	Nodes   int
	Rounds  int
	Writes  int // operations per node per round
	Seed    uint64
	Short   bool
	Doc     string
	Dir     string        // work directory (homes, logs, bundles); a temporary one when empty
	Bin     string        // a noroshi binary to use instead of building one
	Skew    time.Duration // the skewed node's clock offset
	AE      time.Duration // --anti-entropy of every serve
	Command string        // the command line that regenerates the report
}

func chaosCmd() *cobra.Command {
	o := chaosOpts{}
	cmd := &cobra.Command{
		Use:   "chaos [--nodes 5..7] [--rounds N] [--seed N] [--short] [--doc docs/reliability.md]",
		Short: "5 to 7 serve processes in network namespaces under partitions, WAN, kills, a skewed clock and an air gap (root)",
		Long: `chaos runs real noroshi serve processes, each in a network namespace of its
own joined to a bridge in a hub namespace the run creates (names start with
nrc<pid>-; stale ones of a killed run are removed first), writes on every
node while it partitions them (also in one direction only), adds WAN delay,
loss and reordering (tc netem; iptables loss where the kernel has no netem),
kills nodes mid-write and restarts them, runs one node with its clock a day
off (NOROSHI_CLOCK_SKEW), invites a member mid-run and revokes one, and
carries bundles to a node that has no network. After each heal it waits
until every node lists exactly what it may read, measures how long that
took, and at the end greps every home for the canary strings (everything is
sealed at rest: none may be found). It exits 1 on any loss, duplicate,
forbidden listing or divergence. Without root it says it skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if os.Geteuid() != 0 {
				fmt.Fprintln(out, "chaos: skipped: network namespaces need root (run it as root, or in CI where it is root)")
				return nil
			}
			if o.Short {
				if !cmd.Flags().Changed("nodes") {
					o.Nodes = 5
				}
				if !cmd.Flags().Changed("rounds") {
					o.Rounds = 3
				}
				if !cmd.Flags().Changed("writes") {
					o.Writes = 3
				}
			}
			if o.Nodes < 5 || o.Nodes > 7 {
				return fmt.Errorf("--nodes %d: give 5, 6 or 7", o.Nodes)
			}
			if o.Rounds < 3 {
				return fmt.Errorf("--rounds %d: give at least 3 (retraction, skewed clock, invite and revocation each take one)", o.Rounds)
			}
			if o.Seed == 0 {
				o.Seed = uint64(time.Now().UnixNano())
			}
			o.Command = fmt.Sprintf("sudo go run ./cmd/noroshi-proof chaos --nodes %d --rounds %d --writes %d --seed %d", o.Nodes, o.Rounds, o.Writes, o.Seed)
			if o.Doc != "" {
				o.Command += " --doc " + o.Doc
			}
			res, err := runChaos(cmd.Context(), o, out)
			if err != nil {
				return err
			}
			body := chaosReport(res, o)
			fmt.Fprintln(out)
			fmt.Fprintln(out, body)
			if o.Doc != "" {
				if err := proofdoc.WriteSection(o.Doc, "chaos", body); err != nil {
					return err
				}
				fmt.Fprintln(out, "chaos: wrote the chaos section of", o.Doc)
			}
			if res.failed() {
				return fmt.Errorf("chaos: %d lost, %d duplicated, %d forbidden, %d heals diverged (seed %d)", res.Lost, res.Duplicated, res.Forbidden, res.Divergent, res.Seed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 6, "network nodes (5 to 7; the last is invited mid-run), plus one air-gapped node")
	f.IntVar(&o.Rounds, "rounds", 6, "rounds of faults")
	f.IntVar(&o.Writes, "writes", 5, "operations per node per round")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the plan and the writes (0: from the clock; printed)")
	f.BoolVar(&o.Short, "short", false, "the CI version: 5 nodes, 3 rounds, 3 writes per node per round")
	f.StringVar(&o.Doc, "doc", "", "write the chaos section of this report (docs/reliability.md); without it, print only")
	f.StringVar(&o.Dir, "dir", "", "work directory for homes and logs (kept); default a temporary one, removed")
	f.DurationVar(&o.Skew, "skew", -24*time.Hour, "clock offset of the skewed node (NOROSHI_CLOCK_SKEW)")
	f.StringVar(&o.Bin, "bin", "", "use this noroshi binary instead of building ./cmd/noroshi (nogui)")
	f.DurationVar(&o.AE, "anti-entropy", time.Second, "anti-entropy interval of every serve")
	return cmd
}

// chaosRun is the state of one run.
type chaosRun struct {
	o      chaosOpts
	out    io.Writer
	dir    string
	bin    string
	cn     *chaosNet
	roles  chaosRoles
	plan   []roundPlan
	nodes  []*node // network nodes; nodes[roles.Invited] is nil until invited
	airgap *node
	names  []string
	orgOf  map[string]string // node name -> organisation name
	person map[string]string // node name -> person ID
	device map[string]string // node name -> device ID

	mu      sync.Mutex
	led     ledger
	down    map[string]bool // killed, being restarted
	joined  map[string]bool // members whose devices are in (invited ones after their join)
	revoked map[string]bool
	skewed  string // the node running with a skewed clock, if any

	hasCheck  bool
	airMark   string
	bundles   int
	seq       int
	startTime time.Time
}

func (c *chaosRun) logf(format string, args ...any) {
	fmt.Fprintf(c.out, "chaos %6.1fs  %s\n", time.Since(c.startTime).Seconds(), fmt.Sprintf(format, args...))
}

// runChaos runs the whole thing and returns what it measured. An error is a
// failure of the harness (build, namespaces); what noroshi did wrong is in
// the result.
func runChaos(ctx context.Context, o chaosOpts, out io.Writer) (res chaosResult, err error) {
	c := &chaosRun{o: o, out: out, roles: rolesFor(o.Nodes), startTime: time.Now(),
		orgOf: map[string]string{}, person: map[string]string{}, device: map[string]string{},
		down: map[string]bool{}, joined: map[string]bool{}, revoked: map[string]bool{}}
	c.plan = planRounds(o.Seed, o.Nodes, o.Rounds, o.Writes)
	res = chaosResult{Seed: o.Seed, Nodes: o.Nodes, Rounds: o.Rounds, Bound: 30*o.AE + 2*300*time.Millisecond + 5*time.Second}
	c.logf("seed %d: %d network nodes (the last invited mid-run) and one air-gapped node, %d rounds", o.Seed, o.Nodes, o.Rounds)

	if stale, err := removeStaleNetns(ctx); err != nil {
		return res, err
	} else if len(stale) > 0 {
		c.logf("removed %d namespaces of a killed run: %s", len(stale), strings.Join(stale, " "))
	}
	root, err := moduleRoot()
	if err != nil {
		return res, err
	}
	c.dir = o.Dir
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "noroshi-chaos-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(c.dir)
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return res, err
	}
	if o.Bin != "" {
		c.bin = o.Bin
	} else if c.bin, err = buildNoroshi(ctx, root, c.dir, "nogui"); err != nil {
		return res, err
	}
	if c.cn, err = newChaosNet(ctx, os.Getpid(), o.Nodes); err != nil {
		return res, err
	}
	defer func() {
		// Also when interrupted: every serve killed, then the namespaces.
		for _, n := range append(slices.Clone(c.nodes), c.airgap) {
			if n != nil {
				_ = n.Kill()
			}
		}
		c.cn.teardown()
	}()
	res.WAN = c.cn.wanProfile()
	c.logf("network: %s hub, WAN profile: %s", c.cn.hub, res.WAN)

	if err := c.makeCommunity(ctx); err != nil {
		return res, err
	}
	for i, n := range c.nodes {
		if n != nil {
			if err := c.serve(ctx, i); err != nil {
				return res, err
			}
		}
	}
	var probe struct {
		SetDigest string `json:"set_digest"`
	}
	c.hasCheck = c.nodes[0].JSON(ctx, &probe, "check") == nil && probe.SetDigest != ""
	if !c.hasCheck {
		c.logf("noroshi check is not there yet: the set is compared through what each node lists")
	}

	for r, p := range c.plan {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		c.logf("%s", p.describe(c.names))
		if len(p.Drops) > 0 {
			res.Partitions++
			if p.Partition == partAsymmetric {
				res.Asymmetric++
			}
		}
		res.Kills += len(p.Kills)
		if err := c.roundStart(ctx, p); err != nil {
			return res, err
		}
		// Faults on, writes under them, kills mid-write.
		for i := range c.nodes {
			var drop []int
			for _, d := range p.Drops {
				if d[0] == i {
					drop = append(drop, d[1])
				}
			}
			if err := c.cn.shape(ctx, i, drop, p.WAN); err != nil {
				return res, err
			}
		}
		c.writeRound(ctx, r, p)
		if p.Retract {
			c.retract(ctx)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(2 * time.Second): // the faults hold a little longer
		}
		// Evidence that the faults bit: before the heal, some node lacks
		// something (a partition with nothing missing proves nothing).
		if len(p.Drops) > 0 {
			if v := c.assessNow(ctx, false); v.ok() {
				c.logf("before the heal: every node already lists everything (the partition cut nothing that was written)")
			} else {
				res.Held++
				c.logf("before the heal: %d posts not yet where they must be (the partition holds)", len(v.Missing))
			}
		}
		for i := range c.nodes {
			if err := c.cn.shape(ctx, i, nil, false); err != nil {
				return res, err
			}
		}
		took, v := c.converge(ctx, res.Bound)
		if c.skewed != "" {
			c.skewEvidence(ctx, &res)
		}
		if v.ok() {
			res.Convergence = append(res.Convergence, took)
			c.logf("healed: converged in %s", took.Round(10*time.Millisecond))
		} else {
			res.Divergent++
			res.Notes = append(res.Notes, fmt.Sprintf("round %d: not converged within %s: %s", r+1, res.Bound, v))
			c.logf("healed: NOT converged within %s: %s", res.Bound, v)
		}
		if err := c.carryBundle(ctx); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("round %d: air gap: %v", r+1, err))
			c.logf("air gap: %v", err)
		}
	}
	// The skewed node back on time, then the final accounting.
	if c.skewed != "" {
		if err := c.unskew(ctx); err != nil {
			return res, err
		}
		if _, v := c.converge(ctx, res.Bound); !v.ok() {
			res.Divergent++
			res.Notes = append(res.Notes, "after the clock came back: "+v.String())
		}
	}
	final := c.assessNow(ctx, true)
	if err := c.carryBundle(ctx); err == nil {
		final = c.assessNow(ctx, true)
	}
	lost := map[string]bool{}
	for _, m := range final.Missing {
		_, canary, _ := strings.Cut(m, ": ")
		lost[canary] = true
	}
	res.Lost, res.Duplicated, res.Forbidden = len(lost), len(final.Duplicated), len(final.Forbidden)
	if !final.ok() {
		res.Notes = append(res.Notes, "at the end: "+final.String())
	}
	inc := c.checkIncidents(ctx)
	res.Lost += len(inc.Missing)
	res.Duplicated += len(inc.Duplicated)
	if !inc.ok() {
		res.Notes = append(res.Notes, "incidents: "+inc.String())
	}
	clear := c.grepHomes()
	res.Forbidden += len(clear)
	for _, s := range clear {
		res.Notes = append(res.Notes, "in clear on disk: "+s)
	}
	res.Written, res.Acked = c.led.tally()
	if c.hasCheck {
		var ck struct {
			Envelopes int `json:"envelopes"`
		}
		if err := c.nodes[0].JSON(ctx, &ck, "check"); err == nil {
			res.Envelopes = ck.Envelopes
		}
	}
	for _, n := range c.nodes {
		if n != nil {
			_ = n.Stop()
		}
	}
	return res, nil
}

// Who is who: network node i's name, organisation and role.
func (c *chaosRun) member(i int) member {
	switch {
	case i == 0:
		return member{Name: "coord", Org: "Coordination Centre"}
	case i == c.roles.Invited:
		return member{Name: "late", Org: "Late Venue", OrgKind: "venue"}
	case i == 1:
		return member{Name: "venue-a1", Org: "Venue A", OrgKind: "venue", Role: "org-admin"}
	case i == 2:
		return member{Name: "venue-a2", Org: "Venue A", OrgKind: "venue"}
	case i == 3:
		return member{Name: "venue-b", Org: "Venue B", OrgKind: "venue", Role: "org-admin"}
	default:
		return member{Name: fmt.Sprintf("sports-%d", i), Org: "Sports Body", OrgKind: "sports-body"}
	}
}

func (c *chaosRun) makeCommunity(ctx context.Context) error {
	var ms []member
	for i := range c.o.Nodes {
		m := c.member(i)
		c.names = append(c.names, m.Name)
		c.orgOf[m.Name] = m.Org
		if i != c.roles.Invited {
			ms = append(ms, m)
		}
	}
	ms = append(ms, member{Name: "airgap", Org: "Air Gap Site", OrgKind: "venue"})
	c.orgOf["airgap"] = "Air Gap Site"
	c.logf("making the community: %d homes", len(ms))
	nodes, err := newCommunity(ctx, c.dir, c.bin, ms)
	if err != nil {
		return err
	}
	c.nodes = make([]*node, c.o.Nodes)
	for i, n := range nodes[:len(nodes)-1] {
		c.nodes[i] = n
		n.Netns = c.cn.ns[i]
		c.joined[n.Name] = true
	}
	c.airgap = nodes[len(nodes)-1]
	c.joined["airgap"] = true
	return c.loadMembers(ctx, c.airgap)
}

// loadMembers reads person and device IDs from a home's member list.
func (c *chaosRun) loadMembers(ctx context.Context, n *node) error {
	var ms []struct {
		Person  string `json:"person"`
		Name    string `json:"name"`
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	if err := n.JSON(ctx, &ms, "member", "list"); err != nil {
		return err
	}
	for _, m := range ms {
		c.person[m.Name] = m.Person
		if len(m.Devices) > 0 {
			c.device[m.Name] = m.Devices[0].ID
		}
	}
	return nil
}

func (c *chaosRun) serveArgs(i int) []string {
	args := []string{"--bind", c.cn.ips[i] + ":7946", "--no-mdns", "--anti-entropy", c.o.AE.String()}
	for j, ip := range c.cn.ips {
		if j != i {
			args = append(args, "--join", ip+":7946")
		}
	}
	return args
}

// serve starts network node i's serve in its namespace (a few tries: a
// restart right after a kill can find the home still held).
func (c *chaosRun) serve(ctx context.Context, i int) error {
	var err error
	for try := range 3 {
		if err = c.nodes[i].Serve(ctx, c.serveArgs(i)...); err == nil {
			return nil
		}
		c.logf("%s: serve try %d: %v", c.names[i], try+1, err)
		time.Sleep(time.Second)
	}
	return err
}

// roundStart carries out a round's one-off events that come before its
// faults: the skewed clock undone or set, the invite, the revocation.
func (c *chaosRun) roundStart(ctx context.Context, p roundPlan) error {
	if c.skewed != "" && !p.Skew {
		if err := c.unskew(ctx); err != nil {
			return err
		}
	}
	if p.Skew {
		i := c.roles.SkewNode
		n := c.nodes[i]
		_ = n.Stop()
		n.Env = []string{"NOROSHI_CLOCK_SKEW=" + c.o.Skew.String()}
		if err := c.serve(ctx, i); err != nil {
			return err
		}
		c.skewed = n.Name
		c.logf("%s: serving with its clock off by %s", n.Name, c.o.Skew)
	}
	if p.Invite {
		if err := c.invite(ctx); err != nil {
			return err
		}
	}
	if p.Revoke {
		name := c.names[c.roles.RevokeNode]
		w := c.led.add(&write{Kind: wRevoke, Node: "coord"})
		_, err := c.nodes[0].Run(ctx, "member", "revoke", c.device[name], "--reason", "laptop lost during the chaos run")
		w.Acked = err == nil
		if err != nil {
			c.logf("revocation of %s not acknowledged: %v", name, err)
		} else {
			c.logf("%s revoked; its laptop goes away", name)
		}
		c.mu.Lock()
		c.revoked[name] = true
		c.mu.Unlock()
		_ = c.nodes[c.roles.RevokeNode].Stop()
	}
	return nil
}

func (c *chaosRun) unskew(ctx context.Context) error {
	i := c.roles.SkewNode
	n := c.nodes[i]
	_ = n.Stop()
	n.Env = nil
	c.skewed = ""
	c.logf("%s: clock back on time", n.Name)
	return c.serve(ctx, i)
}

// skewEvidence checks, once the others converged, that the node with the
// skewed clock holds back what they wrote (their headers are a day ahead of
// its clock: refused as clock-ahead and retried, DESIGN.md section 3) when
// its clock is behind, and notes what it lists.
func (c *chaosRun) skewEvidence(ctx context.Context, res *chaosResult) {
	n := c.nodeByName(c.skewed)
	l, err := c.list(ctx, n)
	if err != nil {
		c.logf("%s: %v", n.Name, err)
		return
	}
	c.mu.Lock()
	v := c.led.assess(map[string]listing{n.Name: l})
	c.mu.Unlock()
	peers, _ := n.Run(ctx, "--json", "peers")
	held := strings.Count(peers, "clock-ahead")
	msg := fmt.Sprintf("%s (clock %s): %d posts not listed yet while its clock is off, %d mentions of clock-ahead in peers --json; %d listed outside their audience or twice",
		n.Name, c.o.Skew, len(v.Missing), held, len(v.Forbidden)+len(v.Duplicated))
	c.logf("%s", msg)
	res.Notes = append(res.Notes, msg)
	if len(v.Forbidden)+len(v.Duplicated) > 0 {
		res.Forbidden += len(v.Forbidden)
		res.Duplicated += len(v.Duplicated)
	}
}

// invite makes the late member's home, has the coordinator invite it, and
// serves it.
func (c *chaosRun) invite(ctx context.Context) error {
	i := c.roles.Invited
	m := c.member(i)
	n := &node{Name: m.Name, Home: filepath.Join(c.dir, m.Name), Bin: c.bin, Log: filepath.Join(c.dir, m.Name+".log"), Netns: c.cn.ns[i]}
	coord := c.nodes[0]
	w := c.led.add(&write{Kind: wInvite, Node: coord.Name})
	req, inv := filepath.Join(c.dir, m.Name+".request"), filepath.Join(c.dir, m.Name+".invite")
	for _, step := range []func() error{
		func() error { _, err := n.Run(ctx, "init", "--name", m.Name); return err },
		func() error { _, err := coord.Run(ctx, "org", "add", "--name", m.Org, "--kind", m.OrgKind); return err },
		func() error { _, err := n.Run(ctx, "request", "--out", req); return err },
		func() error {
			_, err := coord.Run(ctx, "invite", "--request", req, "--org", m.Org, "--out", inv)
			return err
		},
		func() error { _, err := n.Run(ctx, "join", inv); return err },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("invite mid-run: %w", err)
		}
	}
	w.Acked = true
	c.nodes[i] = n
	if err := c.serve(ctx, i); err != nil {
		return err
	}
	c.mu.Lock()
	c.joined[n.Name] = true
	c.mu.Unlock()
	c.logf("%s invited and serving", n.Name)
	return c.loadMembers(ctx, coord)
}

// liveNames are the network nodes that serve now (not revoked, joined).
func (c *chaosRun) liveNames() []string {
	var ns []string
	for _, n := range c.nodes {
		if n != nil && c.joined[n.Name] && !c.revoked[n.Name] {
			ns = append(ns, n.Name)
		}
	}
	return ns
}

func (c *chaosRun) nodeByName(name string) *node {
	if name == "airgap" {
		return c.airgap
	}
	for _, n := range c.nodes {
		if n != nil && n.Name == name {
			return n
		}
	}
	return nil
}

// writeRound has every live node write p.Writes operations at once while
// the round's victims are killed mid-write and restarted.
func (c *chaosRun) writeRound(ctx context.Context, r int, p roundPlan) {
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		if n == nil || c.revoked[n.Name] {
			continue
		}
		rng := rand.New(rand.NewPCG(c.o.Seed, uint64(r*100+i+1)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range p.Writes {
				if ctx.Err() != nil {
					return
				}
				c.waitUp(ctx, n.Name)
				c.writeOne(ctx, rng, n)
			}
		}()
	}
	for _, k := range p.Kills {
		n := c.nodes[k]
		if n == nil || c.revoked[n.Name] {
			continue
		}
		delay := time.Duration(300+rand.New(rand.NewPCG(c.o.Seed, uint64(r*100+k+50))).IntN(1200)) * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			c.mu.Lock()
			c.down[n.Name] = true
			c.mu.Unlock()
			_ = n.Kill()
			c.logf("%s: SIGKILL", n.Name)
			time.Sleep(500 * time.Millisecond)
			if err := c.serve(ctx, k); err != nil {
				c.logf("%s: restart failed: %v", n.Name, err)
			}
			c.mu.Lock()
			c.down[n.Name] = false
			c.mu.Unlock()
		}()
	}
	wg.Wait()
}

func (c *chaosRun) waitUp(ctx context.Context, name string) {
	for range 300 {
		c.mu.Lock()
		d := c.down[name]
		c.mu.Unlock()
		if !d || ctx.Err() != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// canary is a unique string for a write.
func (c *chaosRun) canary(kind, node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("chaos-%s-%s-%d-%x", kind, node, c.seq, c.o.Seed&0xffffff)
}

// audience returns who must and who may list a post written now by author
// at tlp (to: the RED recipient).
func (c *chaosRun) audience(author, tlp, to string) (must, may map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	must, may = map[string]bool{}, map[string]bool{}
	all := append(slices.Clone(c.names), "airgap")
	for _, n := range all {
		switch tlp {
		case "green":
			may[n] = true // a member invited later may read it or not
			if c.joined[n] && !c.revoked[n] {
				must[n] = true
			}
		case "amber+strict":
			if c.orgOf[n] == c.orgOf[author] {
				may[n] = true
				must[n] = c.joined[n] && !c.revoked[n]
			}
			if n == "coord" {
				may[n] = true // coordinators may hold every organisation's key
			}
		case "red":
			if n == author || n == to {
				may[n], must[n] = true, true
			}
		}
	}
	return must, may
}

// writeOne does one operation on n: a post (GREEN, AMBER+STRICT or RED to
// someone), a comment, a read or an incident.
func (c *chaosRun) writeOne(ctx context.Context, rng *rand.Rand, n *node) {
	x := rng.IntN(100)
	switch {
	case x < 50:
		tlp := "green"
		var to string
		switch y := rng.IntN(10); {
		case y < 2:
			tlp = "amber+strict"
		case y < 4:
			live := slices.DeleteFunc(c.liveNames(), func(s string) bool { return s == n.Name })
			if len(live) > 0 {
				tlp, to = "red", live[rng.IntN(len(live))]
			}
		}
		canary := c.canary("post", n.Name)
		must, may := c.audience(n.Name, tlp, to)
		w := &write{Kind: wPost, Node: n.Name, Canary: canary, Must: must, May: may}
		args := []string{"post", "--type", "alert", "--tag", "info", "--tlp", tlp, "--title", canary, "--body", "body of " + canary}
		if to != "" {
			args = append(args, "--to-member", c.person[to])
		}
		c.record(ctx, w, n, args)
	case x < 75:
		target := c.pickPost(rng, n.Name)
		if target == nil {
			return
		}
		canary := c.canary("comment", n.Name)
		w := &write{Kind: wComment, Node: n.Name, Canary: canary, Post: target.Canary}
		c.record(ctx, w, n, []string{"comment", target.ID, "--body", canary})
	case x < 90:
		target := c.pickPost(rng, n.Name)
		if target == nil {
			return
		}
		w := &write{Kind: wRead, Node: n.Name, Post: target.Canary}
		c.record(ctx, w, n, []string{"read", target.ID})
	default:
		canary := c.canary("incident", n.Name)
		w := &write{Kind: wIncident, Node: n.Name, Canary: canary}
		c.record(ctx, w, n, []string{"incident", "report", "--category", "dos", "--title", canary, "--affects-event", "no"})
	}
}

// record runs a write and keeps it in the ledger, acknowledged when the CLI
// returned success (its output's first line is the new ID).
func (c *chaosRun) record(ctx context.Context, w *write, n *node, args []string) {
	c.mu.Lock()
	c.led.add(w)
	c.mu.Unlock()
	out, err := n.Run(ctx, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		w.Acked = true
		w.ID = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	}
}

// pickPost picks an acknowledged GREEN post, not retracted, that node has
// seen already, or nil.
func (c *chaosRun) pickPost(rng *rand.Rand, _ string) *write {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []*write
	for _, w := range c.led.writes {
		if w.Kind == wPost && w.Acked && !w.Retracted && !w.Doubtful && w.ID != "" && len(w.Must) > 3 {
			ps = append(ps, w)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ps[rng.IntN(len(ps))]
}

// retract has the author of an acknowledged GREEN post retract it.
func (c *chaosRun) retract(ctx context.Context) {
	c.mu.Lock()
	var target *write
	for _, w := range c.led.writes {
		if w.Kind == wPost && w.Acked && len(w.Must) > 3 && !c.revoked[w.Node] && c.nodeByName(w.Node) != nil {
			target = w
			break
		}
	}
	c.mu.Unlock()
	if target == nil {
		c.logf("no post to retract yet")
		return
	}
	n := c.nodeByName(target.Node)
	c.waitUp(ctx, n.Name)
	w := c.led.add(&write{Kind: wRetract, Node: n.Name, Post: target.Canary})
	_, err := n.Run(ctx, "retract", target.ID, "--reason", "chaos run")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		w.Acked, target.Retracted = true, true
		c.logf("%s retracted %s", n.Name, target.Canary)
	} else {
		target.Doubtful = true
		c.logf("retraction not acknowledged: %v", err)
	}
}

// list reads what a node lists.
func (c *chaosRun) list(ctx context.Context, n *node) (listing, error) {
	var ps []struct {
		Title    string `json:"title"`
		Comments int    `json:"comments"`
	}
	if err := n.JSON(ctx, &ps, "feed", "--limit", "0"); err != nil {
		return listing{}, err
	}
	l := listing{Comments: map[string]int{}}
	for _, p := range ps {
		l.Titles = append(l.Titles, p.Title)
		l.Comments[p.Title] = p.Comments
	}
	return l, nil
}

// assessNow lists every live network node (the skewed one only when
// withSkewed) and, when withAirgap, the air-gapped node, and assesses them.
func (c *chaosRun) assessNow(ctx context.Context, withAirgap bool) verdict {
	lists := map[string]listing{}
	var v verdict
	names := c.liveNames()
	if withAirgap {
		names = append(names, "airgap")
	}
	for _, name := range names {
		if name == c.skewed {
			continue
		}
		l, err := c.list(ctx, c.nodeByName(name))
		if err != nil {
			v.Missing = append(v.Missing, name+": "+err.Error())
			continue
		}
		lists[name] = l
	}
	c.mu.Lock()
	lv := c.led.assess(lists)
	c.mu.Unlock()
	v.Missing = append(v.Missing, lv.Missing...)
	v.Duplicated, v.Forbidden = lv.Duplicated, lv.Forbidden
	if c.hasCheck && v.ok() {
		digests := map[string][]string{}
		for _, name := range c.liveNames() {
			if name == c.skewed {
				continue
			}
			var ck struct {
				SetDigest string `json:"set_digest"`
			}
			if err := c.nodeByName(name).JSON(ctx, &ck, "check"); err != nil {
				v.Missing = append(v.Missing, name+": check: "+err.Error())
				continue
			}
			digests[ck.SetDigest] = append(digests[ck.SetDigest], name)
		}
		if len(digests) > 1 {
			for d, ns := range digests {
				v.Missing = append(v.Missing, fmt.Sprintf("set digest %.12s on %s", d, strings.Join(ns, " ")))
			}
		}
	}
	return v
}

// converge polls until the live network nodes list what they must, or the
// bound passes; it returns the time taken and the last verdict.
func (c *chaosRun) converge(ctx context.Context, bound time.Duration) (time.Duration, verdict) {
	start := time.Now()
	for {
		v := c.assessNow(ctx, false)
		if v.ok() || time.Since(start) > bound || ctx.Err() != nil {
			return time.Since(start), v
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// carryBundle exports from the coordinator what the air-gapped node lacks
// (by its mark) and imports it there.
func (c *chaosRun) carryBundle(ctx context.Context) error {
	c.bundles++
	bundle := filepath.Join(c.dir, fmt.Sprintf("airgap-%d.bundle", c.bundles))
	mark := filepath.Join(c.dir, "airgap.mark")
	args := []string{"export", "--out", bundle}
	if c.airMark != "" {
		args = append(args, "--since", c.airMark)
	}
	if _, err := c.nodes[0].Run(ctx, args...); err != nil {
		return err
	}
	if _, err := c.airgap.Run(ctx, "import", bundle, "--mark-out", mark); err != nil {
		return err
	}
	c.airMark = mark
	return nil
}

// checkIncidents checks that the coordinator lists every acknowledged
// incident exactly once.
func (c *chaosRun) checkIncidents(ctx context.Context) verdict {
	var v verdict
	var incs []struct {
		Title string `json:"title"`
	}
	if err := c.nodes[0].JSON(ctx, &incs, "incident", "list"); err != nil {
		v.Missing = append(v.Missing, "coord: incident list: "+err.Error())
		return v
	}
	count := map[string]int{}
	for _, i := range incs {
		count[i.Title]++
	}
	for _, w := range c.led.writes {
		if w.Kind != wIncident {
			continue
		}
		switch n := count[w.Canary]; {
		case n == 0 && w.Acked:
			v.Missing = append(v.Missing, "coord: "+w.Canary)
		case n > 1:
			v.Duplicated = append(v.Duplicated, fmt.Sprintf("coord: %s listed %d times", w.Canary, n))
		}
	}
	return v
}

// grepHomes looks for every canary in clear in every file of every home and
// bundle: everything is sealed at rest (DESIGN.md section 4), so none may be
// found.
func (c *chaosRun) grepHomes() []string {
	canaries := c.led.canaries()
	var found []string
	_ = filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".log") || filepath.Base(path) == "noroshi" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, cn := range canaries {
			if bytes.Contains(b, []byte(cn)) {
				rel, _ := filepath.Rel(c.dir, path)
				found = append(found, cn+" in "+rel)
			}
		}
		return nil
	})
	return found
}

// chaosReport is the report section.
func chaosReport(r chaosResult, o chaosOpts) string {
	var b strings.Builder
	b.WriteString("## Chaos: partitions, WAN, kills, a skewed clock and an air gap\n\n")
	b.WriteString(proofdoc.Machine(time.Now()).Markdown() + "\n\n")
	fmt.Fprintf(&b, "%d `noroshi serve` processes (nogui build), each in a network namespace of its own on one bridge, the last invited mid-run, and one node that only imports bundles; `--anti-entropy %s`. Each round: a partition (two groups, one node cut off, or links cut in one direction only), the WAN profile every other round (%s), one or two nodes killed with SIGKILL mid-write and restarted, writes on every node (GREEN, AMBER+STRICT and RED posts, comments, reads, incidents); once each: a retraction, a node with its clock %s off, an invite, a revocation. After each heal every node must list exactly the posts it may read, each once, with its comments (convergence time: from the heal until all do; bound %s); at the end every home and bundle is searched for the canary strings in clear.\n\n",
		r.Nodes, o.AE, r.WAN, o.Skew, secs(r.Bound))
	b.WriteString(r.table())
	b.WriteString("\n")
	if len(r.Notes) > 0 {
		for _, n := range r.Notes {
			b.WriteString("- " + n + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Seed %d. Regenerate with:\n\n    %s\n", r.Seed, o.Command)
	return b.String()
}

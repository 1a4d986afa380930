package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"noroshi/crypto"
	"noroshi/internal/proofdoc"
)

// noroshi-proof hostile: a community of three honest devices serving on
// loopback, and a fourth, hostile, device: a real invited member that holds
// its membership and the community transport key, and sends at full speed
// on every channel (gossip, sync streams, bundle files) what an honest
// client never writes. The honest devices keep writing posts meanwhile. It
// checks that they stay up, keep converging, stay within their memory
// budget, and count every attack under its reason.

// hostileOpts configures a run.
type hostileOpts struct {
	duration time.Duration // of the attack at full speed
	bound    time.Duration // within which every honest write reaches every honest peer
	doc      string        // docs/reliability.md to write the "hostile" section of
	command  string        // the command line, for the report
	out      io.Writer     // progress
}

// hostileKind is one kind of attack, where an honest peer counts it, and
// under which reasons.
type hostileKind struct {
	key, channel, what string
	// where: "dropped", "refusals", "refused_envelopes" (noroshi --json
	// peers), or "import" (what noroshi import answered).
	where   string
	reasons []string
	all     bool // every reason must be counted, not one of them
}

var hostileKinds = []hostileKind{
	{"gossip-forged", "gossip", "announcements of envelopes that do not exist, naming unknown and honest holders", "dropped",
		[]string{"announce-holder", "announce-rate", "announce-total", "pull-rate", "pull-total", "pull-queue", "queue-pruned"}, false},
	{"gossip-replayed", "gossip", "one announcement replayed", "dropped", []string{"announce-seen"}, false},
	{"gossip-malformed", "gossip", "announcements of a wrong length or sequence 0", "dropped", []string{"announce-malformed"}, false},
	{"gossip-unknown-type", "gossip", "user messages of a type no version knows", "dropped", []string{"message-type"}, false},
	{"gossip-oversized", "gossip", "user messages of 60 KB (UDP) and 1 MiB (TCP)", "dropped", []string{"announce-malformed"}, false},
	{"gossip-bad-meta", "gossip", "members whose metadata does not decode or names another device", "dropped", []string{"meta-malformed"}, false},
	{"gossip-revoked", "gossip", "the revoked device joining the gossip", "dropped", []string{"gossip-member"}, false},
	{"stream-silent", "stream", "connections that never speak (handshake slots)", "dropped", []string{"handshake-per-ip", "handshake-slots"}, false},
	{"stream-stranger", "stream", "a handshake by a device of no membership", "refusals", []string{"membership-unknown"}, false},
	{"stream-revoked", "stream", "a handshake by the revoked device", "refusals", []string{"revoked"}, false},
	{"stream-malformed", "stream", "a frame that authenticates but is no sync message", "dropped", []string{"stream-protocol"}, false},
	{"stream-oversized", "stream", "a frame header announcing 4 GiB", "dropped", []string{"stream-protocol"}, false},
	{"stream-replayed-frames", "stream", "an earlier session's frames replayed on a new one", "dropped", []string{"stream-protocol"}, false},
	{"stream-bad-signature", "stream", "envelopes whose signature does not verify", "refused_envelopes", []string{"bad-signature"}, false},
	{"stream-replayed-envelopes", "stream", "envelopes the peer holds, sent again", "dropped", []string{"envelope-duplicate"}, false},
	{"stream-equivocation", "stream", "two envelopes at one place of its own chain", "refused_envelopes", []string{"equivocation"}, false},
	{"stream-revoked-author", "stream", "envelopes signed by the revoked device", "refused_envelopes", []string{"revoked"}, false},
	{"stream-sync-flood", "stream", "sync requests at full speed", "dropped", []string{"sync-rate", "sync-total", "syncs-at-once", "send-bytes", "send-total"}, false},
	{"bundle-replayed", "bundle", "a valid bundle imported again", "import", []string{"duplicates"}, false},
	{"bundle-forged", "bundle", "a valid bundle with one byte changed", "import", []string{"file-damaged"}, false},
	{"bundle-envelopes", "bundle", "a bundle of forged envelopes: bad signatures, equivocation, a revoked author", "import",
		[]string{"refused:bad-signature", "refused:forked-chain", "refused:revoked-author"}, true},
	{"bundle-malformed", "bundle", "random bytes, a truncated bundle, an age header over garbage", "import",
		[]string{"file-not-a-bundle", "file-truncated", "file-damaged"}, false},
	{"bundle-oversized", "bundle", "a file of 4 GiB + 1 byte (sparse)", "import", []string{"file-too-large"}, false},
	{"bundle-large", "bundle", "32 MiB of random bytes behind an age header (within the size limit)", "import", []string{"file-damaged", "file-not-a-bundle"}, false},
}

// peerMemBudget is what budget.go and replica.Config let peers make a node
// hold: the gossip's structures (2 MiB), 18 syncs in progress (22 MiB
// each), 128 handshakes (10 KiB each), envelopes held for a predecessor
// (48 MiB). A node's memory budget is what it held before the attack plus
// this plus twice the largest bundle file it was given to import (the
// file and its plaintext).
const peerMemBudget = 2<<20 + 18*(22<<20) + 128*(10<<10) + 48<<20

func hostileCmd() *cobra.Command {
	var o hostileOpts
	var short bool
	cmd := &cobra.Command{
		Use:   "hostile",
		Short: "A member that sends forged, oversized, replayed, malformed, equivocating and revoked-author messages at full speed on every channel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if short && !cmd.Flags().Changed("duration") {
				o.duration = 20 * time.Second
			}
			o.out = cmd.OutOrStdout()
			o.command = "go run ./cmd/noroshi-proof " + strings.Join(os.Args[1:], " ")
			r, err := runHostile(cmd.Context(), o)
			if r != nil {
				fmt.Fprintln(o.out)
				fmt.Fprint(o.out, r.markdown(false))
			}
			if err != nil {
				return err
			}
			if o.doc != "" {
				if err := proofdoc.WriteSection(o.doc, "hostile", r.markdown(true)); err != nil {
					return err
				}
				fmt.Fprintf(o.out, "wrote the hostile section of %s\n", o.doc)
			}
			if f := r.failures(); len(f) > 0 {
				return fmt.Errorf("hostile: %d failures:\n  %s", len(f), strings.Join(f, "\n  "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "duration", 60*time.Second, "how long the hostile member attacks at full speed")
	f.BoolVar(&short, "short", false, "a short run for CI (20 s of attack)")
	f.DurationVar(&o.bound, "bound", 60*time.Second, "every honest write must reach every honest peer within this")
	f.StringVar(&o.doc, "doc", "", "write the hostile section of this report (docs/reliability.md)")
	return cmd
}

// hostileHonest is an honest device of the run and what was measured of it.
type hostileHonest struct {
	*node
	v          hVictim
	gossipPort int
	rssStart   uint64 // bytes, before the attack
	hwmStart   uint64 // VmHWM before the attack (unlocking the key file's scrypt peaks at start)
	hwm        uint64 // VmHWM at the end
	rssMax     uint64 // the largest VmRSS sampled
	written    int
	alive      bool
	answers    bool
	start, end hostileCounters
}

// hostileCounters are an honest node's counts: "dropped:R",
// "refusals:R", "refused_envelopes:R".
type hostileCounters map[string]uint64

// hostileReport is what a run measured.
type hostileReport struct {
	opts     hostileOpts
	machine  proofdoc.MachineInfo
	honest   []*hostileHonest
	sent     map[string]int
	probe    map[string]hostileCounters // by kind: what its probe made the victim count
	imports  hostileCounters            // what imports answered, over the run
	final    map[string]uint64          // by kind: counted in the run (all honest peers)
	lat      []time.Duration            // write to arrival at another honest peer
	missing  []string                   // writes that never arrived
	posts    int
	bundleMB float64 // the largest bundle file imported (MiB)
	errs     []string
	elapsed  time.Duration
}

// runHostile runs the whole proof: builds noroshi, makes the community,
// serves the honest devices, probes each attack kind once, attacks at full
// speed for the duration while the honest devices write, and measures.
func runHostile(ctx context.Context, o hostileOpts) (*hostileReport, error) {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		if o.out != nil {
			fmt.Fprintf(o.out, "[%5.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "noroshi-hostile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logf("building noroshi")
	bin, err := buildNoroshi(ctx, root, dir, "nogui")
	if err != nil {
		return nil, err
	}
	logf("making the community with the CLI")
	nodes, err := newCommunity(ctx, dir, bin, []member{
		{Name: "coord", Org: "Coordination Centre"},
		{Name: "venue-1", Org: "Venue North"},
		{Name: "venue-2", Org: "Venue South"},
		{Name: "mallory", Org: "Power Co"},
		{Name: "mallory-2", Org: "Power Co"},
	})
	if err != nil {
		return nil, err
	}
	// The second device the attacker holds is revoked by the coordinator
	// before anything serves.
	var who struct {
		Device string `json:"device"`
	}
	if err := nodes[4].JSON(ctx, &who, "whoami"); err != nil {
		return nil, err
	}
	if _, err := nodes[0].Run(ctx, "member", "revoke", who.Device, "--reason", "noroshi-proof hostile: held by the attacker"); err != nil {
		return nil, err
	}

	r := &hostileReport{opts: o, imports: hostileCounters{}}
	for _, n := range nodes[:3] {
		h := &hostileHonest{node: n}
		if h.gossipPort, err = freePort(); err != nil {
			return nil, err
		}
		args := []string{"--bind", fmt.Sprintf("127.0.0.1:%d", h.gossipPort), "--no-mdns", "--anti-entropy", "1s"}
		if len(r.honest) > 0 {
			args = append(args, "--join", fmt.Sprintf("127.0.0.1:%d", r.honest[0].gossipPort))
		}
		if err := n.Serve(ctx, args...); err != nil {
			return nil, err
		}
		defer n.Stop()
		if err := n.JSON(ctx, &who, "whoami"); err != nil {
			return nil, err
		}
		id, err := crypto.ParseDeviceID(who.Device)
		if err != nil {
			return nil, err
		}
		h.v = hVictim{name: n.Name, id: id, gossip: fmt.Sprintf("127.0.0.1:%d", h.gossipPort), sync: fmt.Sprintf("127.0.0.1:%d", h.gossipPort+1)}
		r.honest = append(r.honest, h)
	}
	logf("3 honest devices serve; waiting until they see each other")
	if err := waitMesh(ctx, r.honest); err != nil {
		return nil, err
	}

	at, err := newAttacker(nodes[3].Home, nodes[4].Home, dir)
	if err != nil {
		return nil, err
	}
	defer at.Close()
	for _, h := range r.honest {
		m, ok := at.store.Trust().Member(h.v.id)
		if !ok {
			return nil, fmt.Errorf("hostile: %s is not a member in the attacker's store", h.Name)
		}
		h.v.pub = crypto.PublicDevice{ID: h.v.id, Recipient: m.Recipient}
	}
	// The revocation rotated the transport key: the attacker, still a
	// member, is sent the new one at its first sync, as any member is.
	before := len(at.tkeys)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := at.learn(r.honest[0].v); err != nil {
			logf("hostile: first sync: %v", err)
		}
		at.tkeys = at.app.TransportKeys()
		if len(at.tkeys) > before || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	logf("the attacker holds %d transport keys (%d before its first sync)", len(at.tkeys), before)
	if err := at.joinGossip(victims(r.honest)); err != nil {
		return nil, err
	}
	for _, h := range r.honest {
		if h.start, err = readCounters(ctx, h.node); err != nil {
			return nil, err
		}
		h.rssStart, h.hwmStart = procMem(h.PID())
	}

	// Memory, sampled all along.
	stopMem := make(chan struct{})
	var memWG sync.WaitGroup
	memWG.Add(1)
	go func() {
		defer memWG.Done()
		for {
			for _, h := range r.honest {
				if rss, _ := procMem(h.PID()); rss > h.rssMax {
					h.rssMax = rss
				}
			}
			select {
			case <-stopMem:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopMem); memWG.Wait() }()

	logf("probing each attack kind once (venue-1 for the network, venue-2 for bundles)")
	r.probe = map[string]hostileCounters{}
	if err := r.runProbes(ctx, at, logf); err != nil {
		return r, err
	}

	logf("attacking at full speed for %s while the honest devices write", o.duration)
	r.attack(ctx, at, logf)

	logf("attack over; waiting for every honest write to reach every honest peer")
	for _, h := range r.honest {
		h.alive = syscall.Kill(h.PID(), 0) == nil
		_, err := h.Run(ctx, "whoami")
		h.answers = err == nil
		if h.end, err = readCounters(ctx, h.node); err != nil {
			r.errs = append(r.errs, err.Error())
		}
		_, h.hwm = procMem(h.PID())
	}
	r.sent = at.Sent()
	r.tally()
	r.machine = proofdoc.Machine(time.Now())
	r.elapsed = time.Since(t0)
	return r, nil
}

func victims(hs []*hostileHonest) []hVictim {
	var out []hVictim
	for _, h := range hs {
		out = append(out, h.v)
	}
	return out
}

// waitMesh waits until every honest node sees the others alive.
func waitMesh(ctx context.Context, hs []*hostileHonest) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok := true
		for _, h := range hs {
			var p struct {
				Peers []struct {
					State string `json:"state"`
				} `json:"peers"`
			}
			if err := h.JSON(ctx, &p, "peers"); err != nil {
				return err
			}
			alive := 0
			for _, q := range p.Peers {
				if q.State == "alive" {
					alive++
				}
			}
			ok = ok && alive >= len(hs)-1
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("hostile: the honest devices did not see each other within 60 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// readCounters reads an honest node's counts from `noroshi --json peers`.
func readCounters(ctx context.Context, n *node) (hostileCounters, error) {
	var p struct {
		Refusals         map[string]uint64 `json:"refusals"`
		Dropped          map[string]uint64 `json:"dropped"`
		RefusedEnvelopes map[string]uint64 `json:"refused_envelopes"`
	}
	if err := n.JSON(ctx, &p, "peers"); err != nil {
		return nil, err
	}
	c := hostileCounters{}
	for k, v := range p.Refusals {
		c["refusals:"+k] = v
	}
	for k, v := range p.Dropped {
		c["dropped:"+k] = v
	}
	for k, v := range p.RefusedEnvelopes {
		c["refused_envelopes:"+k] = v
	}
	return c, nil
}

// delta is what b counts more than a.
func (b hostileCounters) delta(a hostileCounters) hostileCounters {
	d := hostileCounters{}
	for k, v := range b {
		if v > a[k] {
			d[k] = v - a[k]
		}
	}
	return d
}

func (c hostileCounters) String() string {
	var ks []string
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var s []string
	for _, k := range ks {
		s = append(s, fmt.Sprintf("%s %d", k[strings.Index(k, ":")+1:], c[k]))
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// counted is what c counts of kind k's reasons.
func (k hostileKind) counted(c hostileCounters) (uint64, bool) {
	var sum uint64
	all := true
	for _, r := range k.reasons {
		key := k.where + ":" + r
		sum += c[key]
		if c[key] == 0 {
			all = false
		}
	}
	if k.all {
		return sum, all
	}
	return sum, sum > 0
}

// procMem reads VmRSS and VmHWM (bytes) of a process.
func procMem(pid int) (rss, hwm uint64) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	return rss, hwm
}

// kind returns the attack kind named key.
func kindOf(key string) hostileKind {
	for _, k := range hostileKinds {
		if k.key == key {
			return k
		}
	}
	panic("hostile: no attack kind " + key)
}

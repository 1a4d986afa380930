package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The network of a chaos run: a hub namespace holding a bridge, and one
// namespace per node joined to it by a veth pair, all named with a per-run
// prefix ("nrc<pid>-"), so nothing touches the host's own network. Faults
// are applied inside the node namespaces: directed drops with an htb tree
// whose blackhole class (pfifo limit 0) takes the packets to the cut
// destinations (one direction only when only one side has it), netem for
// delay, loss and reordering where the kernel has it, else iptables'
// random drop for loss.

// chaosNetPrefix starts the name of every namespace a run creates.
const chaosNetPrefix = "nrc"

// chaosNet is a run's namespaces.
type chaosNet struct {
	prefix string   // "nrc1234-"
	hub    string   // namespace holding the bridge
	ns     []string // node namespaces
	ips    []string // node addresses, 10.99.0.1 ...
	netem  bool     // tc netem works here
	ipt    string   // iptables binary usable for random loss, "" if none
}

// run runs a command and returns its error with its output.
func run(ctx context.Context, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// newChaosNet creates the hub and n node namespaces.
func newChaosNet(ctx context.Context, pid, n int) (*chaosNet, error) {
	cn := &chaosNet{prefix: fmt.Sprintf("%s%d-", chaosNetPrefix, pid)}
	cn.hub = cn.prefix + "hub"
	steps := [][]string{
		{"ip", "netns", "add", cn.hub},
		{"ip", "-n", cn.hub, "link", "set", "lo", "up"},
		{"ip", "-n", cn.hub, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", cn.hub, "link", "set", "br0", "up"},
	}
	for i := range n {
		ns := fmt.Sprintf("%sn%d", cn.prefix, i)
		ip := fmt.Sprintf("10.99.0.%d", i+1)
		cn.ns, cn.ips = append(cn.ns, ns), append(cn.ips, ip)
		veth := fmt.Sprintf("v%d", i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", cn.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "-n", cn.hub, "link", "set", veth, "master", "br0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
		)
	}
	for _, s := range steps {
		if err := run(ctx, s...); err != nil {
			cn.teardown()
			return nil, err
		}
	}
	// What this kernel offers for delay and loss.
	if run(ctx, "ip", "netns", "exec", cn.ns[0], "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms") == nil {
		cn.netem = true
		_ = run(ctx, "ip", "netns", "exec", cn.ns[0], "tc", "qdisc", "del", "dev", "lo", "root")
	}
	for _, bin := range []string{"iptables-legacy", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		if run(ctx, "ip", "netns", "exec", cn.ns[0], bin, "-w", "-L", "INPUT") == nil {
			cn.ipt = bin
			break
		}
	}
	return cn, nil
}

// wanProfile says what the WAN profile does on this machine.
func (cn *chaosNet) wanProfile() string {
	switch {
	case cn.netem:
		return "netem 100-300 ms, 5% loss, reordering"
	case cn.ipt != "":
		return "5% loss (iptables; no sch_netem in this kernel: no delay, no reordering)"
	default:
		return "none (no sch_netem, no iptables)"
	}
}

// shape sets node i's faults: packets to the nodes in drop are dropped at
// its egress, and the WAN profile when wan. It replaces what was set
// before; shape(i, nil, false) heals.
func (cn *chaosNet) shape(ctx context.Context, i int, drop []int, wan bool) error {
	ns := cn.ns[i]
	x := func(argv ...string) error { return run(ctx, append([]string{"ip", "netns", "exec", ns}, argv...)...) }
	_ = x("tc", "qdisc", "del", "dev", "eth0", "root")
	if cn.ipt != "" {
		if err := x(cn.ipt, "-w", "-F", "INPUT"); err != nil {
			return err
		}
	}
	useNetem := wan && cn.netem
	if len(drop) > 0 || useNetem {
		steps := [][]string{
			{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1", "r2q", "100000"},
			{"tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"},
			{"tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:2", "htb", "rate", "10gbit"},
			{"tc", "qdisc", "add", "dev", "eth0", "parent", "1:2", "handle", "20:", "pfifo", "limit", "0"},
		}
		if useNetem {
			steps = append(steps, []string{"tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:", "netem",
				"delay", "200ms", "100ms", "distribution", "normal", "loss", "5%", "reorder", "10%", "limit", "10000"})
		}
		for _, d := range drop {
			steps = append(steps, []string{"tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1",
				"u32", "match", "ip", "dst", cn.ips[d] + "/32", "flowid", "1:2"})
		}
		for _, s := range steps {
			if err := x(s...); err != nil {
				return err
			}
		}
	}
	if wan && !cn.netem && cn.ipt != "" {
		if err := x(cn.ipt, "-w", "-A", "INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", "0.05", "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// teardown deletes every namespace of the run (the processes in them
// must be gone first, or their namespace lives on until they exit).
func (cn *chaosNet) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ns := range append(append([]string{}, cn.ns...), cn.hub) {
		_ = run(ctx, "ip", "netns", "del", ns)
	}
}

// removeStaleNetns deletes the namespaces left by chaos runs whose process
// is gone (killed before it could clean up), with the serve processes
// still running in them, and reports their names.
func removeStaleNetns(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var removed []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := f[0]
		pid, ok := staleRunPID(name)
		if !ok || processAlive(pid) {
			continue
		}
		// The serve processes the killed run left in it go first (they
		// would keep the namespace alive).
		if pids, err := exec.CommandContext(ctx, "ip", "netns", "pids", name).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				if n, err := strconv.Atoi(p); err == nil && n > 1 {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
		if err := run(ctx, "ip", "netns", "del", name); err != nil {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// staleRunPID reads the run's process ID from a namespace name made by
// newChaosNet ("nrc1234-n0").
func staleRunPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, chaosNetPrefix)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(num)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

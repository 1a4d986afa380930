package replicatest

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// ClusterConfig configures StartCluster.
type ClusterConfig struct {
	// Name names the community (and so derives its device keys).
	Name string
	// Nodes is how many nodes to start, each a member device with a store
	// of its own.
	Nodes int
	// AntiEntropy is each node's anti-entropy interval (0: 500ms).
	AntiEntropy time.Duration
	// GossipInterval overrides the test profile's (0: keep it).
	GossipInterval time.Duration
	// Seed seeds the network's packet loss.
	Seed uint64
	// Quiet drops the nodes' and stores' logs (large clusters log a lot).
	Quiet bool
	// Logf, when set, receives the nodes' logs (not the stores').
	Logf func(format string, args ...any)
	// JoinTimeout is how long StartCluster waits until every node sees
	// every other alive (0: a minute; a busy machine may need more).
	JoinTimeout time.Duration
}

// Cluster is a community whose members run real Nodes (memberlist on
// loopback, sync streams over crypto.Channel) on a Network that a test can
// partition. Nodes and stores are closed when the test ends.
type Cluster struct {
	tb   testing.TB
	cfg  ClusterConfig
	C    *Community
	Net  *Network
	Base []*envelope.Envelope // the genesis and every membership
	// Nodes, by index. A stopped node keeps its entry (Running false).
	Nodes []*ClusterNode

	changed chan struct{} // a store changed somewhere

	mu sync.Mutex // guards writes to devices
}

// ClusterNode is one member of a Cluster.
type ClusterNode struct {
	*Replica
	Index int
	Node  *replica.Node
	ends  *Endpoints
	watch chan struct{} // closed when the node stops: its watch ends
}

// watch wakes the cluster's waiters at each change of store, until stop.
func (c *Cluster) watch(store *replica.Store, stop <-chan struct{}) {
	for {
		select {
		case <-store.Changed():
			c.Changed()
		case <-stop:
			return
		}
	}
}

// Running reports whether the node runs.
func (n *ClusterNode) Running() bool { return n.Node != nil }

// StartCluster starts cfg.Nodes nodes on a new Network, each joining the
// first, and waits until every node sees every other alive.
func StartCluster(tb testing.TB, cfg ClusterConfig) *Cluster {
	tb.Helper()
	if cfg.Name == "" {
		cfg.Name = "cluster"
	}
	if cfg.AntiEntropy == 0 {
		cfg.AntiEntropy = 500 * time.Millisecond
	}
	c := &Cluster{tb: tb, cfg: cfg, C: New(tb, cfg.Name), Net: NewNetwork(cfg.Seed), changed: make(chan struct{}, 1)}
	devs, certs := c.C.Members("node", cfg.Nodes, crypto.RoleMember)
	c.Base = append([]*envelope.Envelope{c.C.Genesis}, certs...)
	for i, d := range devs {
		scfg := Config(tb, d.ID(), nil)
		if cfg.Quiet {
			scfg.Logf = nil
		}
		n := &ClusterNode{Replica: OpenReplica(tb, d, scfg, c.Base...), Index: i}
		c.Nodes = append(c.Nodes, n)
		c.start(n, 0, 0)
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = time.Minute
	}
	c.WaitMembers(cfg.Nodes, cfg.JoinTimeout)
	return c
}

// start runs a node for n on the ports given (0: new ones).
func (c *Cluster) start(n *ClusterNode, gossipPort, syncPort int) {
	c.tb.Helper()
	ends, err := c.Net.Attach(n.Index, gossipPort, syncPort)
	if err != nil && (gossipPort != 0 || syncPort != 0) {
		// Taken meanwhile: a node that left may come back elsewhere.
		c.tb.Logf("node %d: %v; binding new ports", n.Index, err)
		ends, err = c.Net.Attach(n.Index, 0, 0)
	}
	if err != nil {
		c.tb.Fatalf("node %d: %v", n.Index, err)
	}
	n.ends = ends
	var join []string
	for _, o := range c.Nodes {
		if o != n && o.Running() {
			join = append(join, o.Node.GossipAddr())
			break
		}
	}
	logf := c.tb.Logf
	if c.cfg.Quiet {
		logf = nil
	}
	if c.cfg.Logf != nil {
		logf = c.cfg.Logf
	}
	node, err := replica.StartNode(n.Store, replica.NodeConfig{
		Device:              n.Dev.Dev,
		BindAddr:            "127.0.0.1",
		Join:                join,
		TransportKeys:       [][]byte{c.C.TransportKey()},
		AntiEntropyInterval: c.cfg.AntiEntropy,
		GossipInterval:      c.cfg.GossipInterval,
		Test:                true,
		Logf:                logf,
		Transport:           ends.Transport,
		Listener:            ends.Listener,
		Dial:                ends.Dial,
	})
	if err != nil {
		c.tb.Fatalf("start node %d: %v", n.Index, err)
	}
	n.Node = node
	n.watch = make(chan struct{})
	go c.watch(n.Store, n.watch)
	// Cleanups run last in first out: this one, registered after the
	// store's, closes the node before its store.
	c.tb.Cleanup(func() { c.stopNode(n) })
}

func (c *Cluster) stopNode(n *ClusterNode) {
	if n.Node == nil {
		return
	}
	close(n.watch)
	if err := n.Node.Close(); err != nil {
		c.tb.Logf("close node %d: %v", n.Index, err)
	}
	n.Node = nil
}

// Stop closes node i and its store, as a crash or a shutdown would.
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	n := c.Nodes[i]
	c.stopNode(n)
	n.Close()
}

// Restart reopens node i's store from its file and starts a node on the
// same ports again, joining a running node.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	n := c.Nodes[i]
	if n.Running() {
		c.tb.Fatalf("Restart of node %d, which runs", i)
	}
	n.Reopen()
	c.start(n, n.ends.GossipPort, n.ends.SyncPort)
	c.Changed()
}

// Changed wakes up the waiters: something may have changed.
func (c *Cluster) Changed() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Write has node i post text as its next envelope and stores it, as the
// app does; the node announces it from the store's change signal. It
// returns the envelope's ID.
func (c *Cluster) Write(i int, text string) envelope.Hash {
	c.tb.Helper()
	n := c.Nodes[i]
	c.mu.Lock()
	e := n.Dev.Post(text)
	c.mu.Unlock()
	MustAdmit(c.tb, n.Store, e)
	c.Changed()
	return e.ID()
}

// WaitFor waits until cond holds, checking it again whenever a store
// changes (and at least every 250ms), for at most timeout. It reports
// whether cond held.
func (c *Cluster) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-c.changed:
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
}

// Running returns the indexes of the running nodes.
func (c *Cluster) Running() []int {
	var out []int
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n.Index)
		}
	}
	return out
}

// Converged reports whether the nodes given (nil: every running node) hold
// the same set of envelopes.
func (c *Cluster) Converged(nodes []int) bool {
	if nodes == nil {
		nodes = c.Running()
	}
	var first [32]byte
	for k, i := range nodes {
		d := c.Nodes[i].Store.Digest()
		if k == 0 {
			first = d
		} else if d != first {
			return false
		}
	}
	return true
}

// WaitConverged waits until the nodes given (nil: every running node) hold
// the same set, and fails the test with what each holds if they do not
// within timeout.
func (c *Cluster) WaitConverged(nodes []int, timeout time.Duration) {
	c.tb.Helper()
	if c.WaitFor(timeout, func() bool { return c.Converged(nodes) }) {
		return
	}
	c.tb.Fatalf("not converged after %s:\n%s", timeout, c.Describe(nodes))
}

// WaitHave waits until every node given holds id.
func (c *Cluster) WaitHave(nodes []int, id envelope.Hash, timeout time.Duration) bool {
	return c.WaitFor(timeout, func() bool {
		for _, i := range nodes {
			if !c.Nodes[i].Has(id) {
				return false
			}
		}
		return true
	})
}

// Has reports whether the node's store holds id.
func (n *ClusterNode) Has(id envelope.Hash) bool {
	_, err := n.Store.Get(id)
	return err == nil
}

// WaitMembers waits until every running node sees want members alive
// (itself included).
func (c *Cluster) WaitMembers(want int, timeout time.Duration) {
	c.tb.Helper()
	ok := c.WaitFor(timeout, func() bool {
		for _, i := range c.Running() {
			if c.alive(i) < want {
				return false
			}
		}
		return true
	})
	if !ok {
		var s string
		for _, i := range c.Running() {
			s += fmt.Sprintf("node %d sees %d alive\n", i, c.alive(i))
		}
		c.tb.Fatalf("membership: want %d alive everywhere after %s:\n%s", want, timeout, s)
	}
}

func (c *Cluster) alive(i int) int {
	k := 1
	for _, p := range c.Nodes[i].Node.Peers() {
		if p.State == "alive" {
			k++
		}
	}
	return k
}

// Describe says what each node holds, for failure messages.
func (c *Cluster) Describe(nodes []int) string {
	if nodes == nil {
		nodes = c.Running()
	}
	byDigest := map[[32]byte][]int{}
	for _, i := range nodes {
		d := c.Nodes[i].Store.Digest()
		byDigest[d] = append(byDigest[d], i)
	}
	var lines []string
	for d, ns := range byDigest {
		lines = append(lines, fmt.Sprintf("digest %x (%d envelopes): nodes %v", d[:6], c.Nodes[ns[0]].Store.LastSeq(), ns))
	}
	sort.Strings(lines)
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

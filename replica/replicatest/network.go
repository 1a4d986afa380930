package replicatest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Network is a loopback network for clusters of real Nodes that a test can
// cut into groups and heal, and that can drop a share of gossip packets.
// Each node is known by an index. Its memberlist transport is a real
// memberlist.NetTransport on 127.0.0.1 wrapped so that packets to a node
// in another group (or lost at random) are dropped and streams to it
// refused; its sync streams go through a dialer that refuses them too.
//
// It is safe for concurrent use.
type Network struct {
	mu    sync.Mutex
	group map[int]int    // node -> group; nodes not listed are in group 0
	owner map[string]int // "127.0.0.1:port" -> node
	loss  float64
	rng   *rand.Rand

	// Counters, for tests that check the network did something.
	Sent, Dropped, Refused atomic.Int64
}

// NewNetwork returns a network with every node in one group and no loss.
// seed seeds the choice of lost packets.
func NewNetwork(seed uint64) *Network {
	return &Network{group: map[int]int{}, owner: map[string]int{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Partition cuts the network into the groups given; nodes in no group form
// one more group together.
func (n *Network) Partition(groups ...[]int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = map[int]int{}
	for g, nodes := range groups {
		for _, i := range nodes {
			n.group[i] = g + 1
		}
	}
}

// Heal joins every group again.
func (n *Network) Heal() { n.Partition() }

// SetLoss makes each gossip packet (UDP) lost with probability p.
func (n *Network) SetLoss(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss = p
}

// Connected reports whether nodes a and b are in the same group.
func (n *Network) Connected(a, b int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.group[a] == n.group[b]
}

func (n *Network) register(node int, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.owner[addr] = node
}

// reach reports whether from may send to the owner of addr; packet says
// whether it is a gossip packet, which may be lost. Addresses no node owns
// are unreachable.
func (n *Network) reach(from int, addr string, packet bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	to, ok := n.owner[addr]
	if !ok || n.group[from] != n.group[to] {
		return false
	}
	return !packet || n.loss == 0 || n.rng.Float64() >= n.loss
}

// Endpoints are one node's network hooks, for replica.NodeConfig.
type Endpoints struct {
	Transport memberlist.Transport
	Listener  net.Listener
	Dial      func(addr string) (net.Conn, error)
	// GossipPort and SyncPort are the ports bound, to bind again after a
	// restart.
	GossipPort, SyncPort int
}

// Attach binds node's gossip transport and sync listener on 127.0.0.1, on
// the ports given (0: any free port), and returns its hooks.
func (n *Network) Attach(node, gossipPort, syncPort int) (*Endpoints, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: gossipPort})
	if err != nil {
		return nil, fmt.Errorf("gossip transport: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(syncPort)))
	if err != nil {
		nt.Shutdown()
		return nil, fmt.Errorf("sync listener: %w", err)
	}
	gp := nt.GetAutoBindPort()
	sp := ln.Addr().(*net.TCPAddr).Port
	n.register(node, net.JoinHostPort("127.0.0.1", strconv.Itoa(gp)))
	n.register(node, net.JoinHostPort("127.0.0.1", strconv.Itoa(sp)))
	return &Endpoints{
		Transport:  &transport{nt: nt, net: n, node: node},
		Listener:   ln,
		Dial:       func(addr string) (net.Conn, error) { return n.dial(node, addr) },
		GossipPort: gp,
		SyncPort:   sp,
	}, nil
}

var errPartitioned = errors.New("replicatest: no route to host (partitioned)")

func (n *Network) dial(from int, addr string) (net.Conn, error) {
	if !n.reach(from, addr, false) {
		n.Refused.Add(1)
		return nil, errPartitioned
	}
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// transport is a memberlist.Transport that drops packets and refuses
// streams across a cut.
type transport struct {
	nt   *memberlist.NetTransport
	net  *Network
	node int
}

var _ memberlist.Transport = (*transport)(nil)

func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.nt.FinalAdvertiseAddr(ip, port)
}

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.net.Sent.Add(1)
	if !t.net.reach(t.node, addr, true) {
		t.net.Dropped.Add(1)
		return time.Now(), nil
	}
	return t.nt.WriteTo(b, addr)
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.nt.PacketCh() }

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if !t.net.reach(t.node, addr, false) {
		t.net.Refused.Add(1)
		return nil, errPartitioned
	}
	return t.nt.DialTimeout(addr, timeout)
}

func (t *transport) StreamCh() <-chan net.Conn { return t.nt.StreamCh() }

func (t *transport) Shutdown() error { return t.nt.Shutdown() }

package replica

import (
	"bytes"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
	"noroshi/replica/lan"
)

// A Node is this device on the network: a memberlist member (SWIM failure
// detection, gossip encrypted with the community transport key) that
// announces this device's new envelopes by broadcast, pulls what it lacks
// over an authenticated stream (crypto.Channel), and runs anti-entropy with
// a random peer every AntiEntropyInterval.
//
// The node, one job a file:
//
//	gossip.go       configuration and start, addresses, Close
//	peers.go        the peer table: states, remembered addresses, holders
//	strikes.go      peers that sent bad data, and how long they are ignored
//	announce.go     announcements: their codec, sending from the store's
//	                change signal, receiving and queueing pulls
//	antientropy.go  the loops: accepting streams, pulls, anti-entropy rounds
//	delegate.go     memberlist's delegates, their contracts, node metadata
//	peercheck.go    who may open a stream (membership proofs, refusals)
//	budget.go       what a peer can make this node hold or do
//	dropped.go      what was dropped, by reason
//	discover.go     the node's use of package lan (mDNS)
//
// Each node also listens for sync streams on SyncPort (its gossip port + 1
// unless set), advertised in its memberlist metadata.

// Profile selects memberlist timings.
type Profile string

// Profiles: a venue LAN, or relays across the internet.
const (
	ProfileLAN Profile = "lan"
	ProfileWAN Profile = "wan"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	Device *crypto.Device
	// BindAddr and BindPort are where memberlist listens (UDP and TCP);
	// SyncPort is where sync streams are accepted (0: BindPort+1).
	BindAddr string
	BindPort int
	SyncPort int
	// AdvertiseAddr, when set, is the address others reach this node at
	// ("host:port" of the gossip port), for relays behind port forwarding.
	AdvertiseAddr string
	// Join lists gossip addresses of known peers.
	Join []string
	// Relays lists sync addresses ("host:port") that this node syncs with
	// by streams it opens itself, without joining their gossip (a laptop
	// behind NAT, across the internet).
	Relays  []string
	Profile Profile
	// TransportKeys are the community's memberlist keys, newest first; the
	// first is used to send.
	TransportKeys [][]byte
	// AntiEntropyInterval is the time between two anti-entropy rounds.
	AntiEntropyInterval time.Duration
	// GossipInterval overrides the profile's memberlist gossip interval.
	GossipInterval time.Duration
	// Test shortens memberlist's timers for loopback tests.
	Test bool
	// MDNS advertises this node on the local network and joins the peers
	// of the same community found there (package lan); off unless set.
	// MDNSInterface restricts it to one interface (default: every
	// interface up with multicast and IPv4); MDNSInterval is the time
	// between two queries while alone (0: lan.DefaultInterval).
	MDNS          bool
	MDNSInterface string
	MDNSInterval  time.Duration
	Logf          func(format string, args ...any)
	Rand          io.Reader
	// Now is the wall clock (nil: time.Now). It stamps peer states and
	// drives budgets, strikes, probes and socket deadlines: a test clock
	// must run with the real one (an offset), not stand still, so it is
	// not the store's Config.Now, which tests freeze.
	Now func() time.Time
	// Budget bounds what peers can make this node hold or do; zero
	// fields take DefaultBudget's.
	Budget Budget

	// Network hooks for tests (partitions, packet loss): a memberlist
	// transport to use instead of UDP/TCP on BindAddr, a listener for sync
	// streams, and a dialer for them. Nil means the real network.
	Transport memberlist.Transport
	Listener  net.Listener
	Dial      func(addr string) (net.Conn, error)
}

// Node runs replication for one store.
type Node struct {
	cfg     NodeConfig
	store   *Store
	ml      *memberlist.Memberlist
	disc    *lan.Discoverer // LAN discovery, nil when off
	keyring *memberlist.Keyring
	queue   *memberlist.TransmitLimitedQueue
	// fanout and gossipEvery are memberlist's GossipNodes and
	// GossipInterval, as configured.
	fanout      int
	gossipEvery time.Duration
	ln          net.Listener
	dev         *crypto.Device

	pulls chan pull // announcements of envelopes to pull
	stop  chan struct{}
	wg    sync.WaitGroup

	// bud holds the budgets (see Budget), the announcement IDs already
	// heard, and the counts of what was dropped.
	bud *nodeBudget

	mu sync.Mutex
	// held is, per peer, how far along this device's own chain the peer
	// is known to hold: after a sync, everything this device had.
	held map[crypto.DeviceID]uint64
	// heldMore is closed when a peer is known to hold more of this
	// device's chain (see Delivered).
	heldMore chan struct{}
	peers    map[string]*PeerState // by node name
	relay    map[string]*PeerState // stream-only peers, by device
	rng      *rand.Rand
	// strikes counts bad data per peer; past maxStrikes the peer is
	// ignored until the time in ignored.
	strikes map[crypto.DeviceID]int
	ignored map[crypto.DeviceID]time.Time
	// Membership proofs and refusals (peercheck.go): this device's proof
	// and the trust state it was built from; refusals made, by reason;
	// when each unknown gossip member was last probed, and the probes
	// running.
	proof      []byte
	proofTrust *crypto.Trust
	refusals   map[string]int
	probed     map[crypto.DeviceID]time.Time
	probing    int

	// joining is set while reconnect runs a join.
	joining atomic.Bool

	// logOn is cleared on Close: memberlist's goroutines may still log
	// while they wind down, after the caller's logger is gone.
	logOn atomic.Bool
}

func (n *Node) logf(format string, args ...any) {
	if n.logOn.Load() {
		n.cfg.Logf(format, args...)
	}
}

// now reads the node's clock.
func (n *Node) now() time.Time { return n.cfg.Now() }

// syncDeadline bounds a sync stream once authenticated.
const syncDeadline = 2 * time.Minute

// StartNode starts replication for store.
func StartNode(store *Store, cfg NodeConfig) (*Node, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AntiEntropyInterval == 0 {
		cfg.AntiEntropyInterval = 5 * time.Second
	}
	if cfg.Profile == "" {
		cfg.Profile = ProfileLAN
	}
	if cfg.SyncPort == 0 && cfg.BindPort != 0 {
		cfg.SyncPort = cfg.BindPort + 1
	}
	if store.Community().IsZero() {
		return nil, errors.New("no community in this store yet: join one before serving")
	}
	if err := checkDiscovery(cfg); err != nil {
		return nil, err
	}
	if len(cfg.TransportKeys) == 0 {
		return nil, errors.New("no transport key: this device was given none (is it a member?)")
	}
	if cfg.Dial == nil {
		cfg.Dial = func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
	}
	n := &Node{cfg: cfg, store: store, dev: cfg.Device, pulls: make(chan pull, pullQueue), stop: make(chan struct{}),
		bud: newNodeBudget(cfg.Budget), held: map[crypto.DeviceID]uint64{}, heldMore: make(chan struct{}), strikes: map[crypto.DeviceID]int{}, ignored: map[crypto.DeviceID]time.Time{}, peers: map[string]*PeerState{}, relay: map[string]*PeerState{},
		refusals: map[string]int{}, probed: map[crypto.DeviceID]time.Time{},
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}

	ln := cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.SyncPort)))
		if err != nil {
			return nil, fmt.Errorf("sync listener: %w", err)
		}
	}
	n.ln = ln
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		n.cfg.SyncPort = a.Port
	}
	mc, err := n.memberlistConfig()
	if err != nil {
		ln.Close()
		return nil, err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("gossip: %w", err)
	}
	n.ml = ml
	if mc.BindPort == 0 {
		// Port chosen by the OS: advertise the real one.
		n.cfg.BindPort = int(ml.LocalNode().Port)
	}

	// This device's envelopes stored before now are anti-entropy's; those
	// stored from now on are announced.
	announced := store.Head(n.dev.ID()).Seq
	n.wg.Add(4)
	go n.acceptLoop()
	go n.pullLoop()
	go n.antiEntropyLoop()
	go n.announceLoop(announced)
	join := append([]string{}, cfg.Join...)
	for _, p := range n.remembered() {
		join = append(join, p.Addr)
	}
	if len(join) > 0 {
		if _, err := ml.Join(join); err != nil {
			n.logf("join %v: %v (will keep trying through anti-entropy and new peers)", join, err)
		}
	}
	if cfg.MDNS {
		n.disc = startDiscovery(n)
	}
	return n, nil
}

// memberlistConfig returns memberlist's configuration for n: the profile's
// timings, the transport keys, and n's delegates.
func (n *Node) memberlistConfig() (*memberlist.Config, error) {
	cfg := n.cfg
	var mc *memberlist.Config
	switch {
	case cfg.Test:
		mc = memberlist.DefaultLocalConfig()
		// Short, but not so short that a loaded test machine declares
		// its peers dead.
		mc.ProbeInterval = 500 * time.Millisecond
		mc.ProbeTimeout = 400 * time.Millisecond
		mc.SuspicionMult = 4
		mc.PushPullInterval = 2 * time.Second
		// Forget dead peers soon, so that tests of long partitions
		// need not wait long (reconnect brings them back).
		mc.GossipToTheDeadTime = 3 * time.Second
		mc.SuspicionMaxTimeoutMult = 2
	case cfg.Profile == ProfileWAN:
		mc = memberlist.DefaultWANConfig()
	default:
		mc = memberlist.DefaultLANConfig()
	}
	if cfg.GossipInterval != 0 {
		mc.GossipInterval = cfg.GossipInterval
	}
	mc.Name = cfg.Device.ID().String()
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertisePort = cfg.BindPort
	if cfg.AdvertiseAddr != "" {
		host, port, err := net.SplitHostPort(cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("--advertise %q: want host:port", cfg.AdvertiseAddr)
		}
		mc.AdvertiseAddr = host
		if mc.AdvertisePort, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("--advertise %q: bad port", cfg.AdvertiseAddr)
		}
	}
	kr, err := memberlist.NewKeyring(cfg.TransportKeys, cfg.TransportKeys[0])
	if err != nil {
		return nil, fmt.Errorf("transport key: %w", err)
	}
	mc.Keyring = kr
	n.keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.EnableCompression = false // ciphertext does not compress
	n.logOn.Store(true)
	mc.Logger = log.New(logfWriter(n.logf), "memberlist: ", 0)
	d := &delegate{n: n}
	// The metadata is checked here, not in NodeMeta, which may not fail.
	if m := d.NodeMeta(memberlist.MetaMaxSize); len(m) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata of %d bytes, memberlist carries %d", len(m), memberlist.MetaMaxSize)
	}
	mc.Delegate = d
	mc.Events = d
	mc.Alive = d
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	}
	n.fanout, n.gossipEvery = mc.GossipNodes, mc.GossipInterval
	// Each node sends an announcement announceRetransmitMult x
	// ceil(log10(N+1)) times: memberlist's own multiplier (2 in the local
	// profile, 4 on a LAN) leaves a node unreached often enough (each
	// hears about k copies, so misses with probability about e^-k) that
	// the slowest writes waited for anti-entropy.
	n.queue = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return n.numMembers() }, RetransmitMult: max(mc.RetransmitMult, announceRetransmitMult)}
	return mc, nil
}

// GossipAddr returns the address this node gossips on.
func (n *Node) GossipAddr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// GossipParams returns how announcements spread: memberlist's fanout (peers
// each gossip round sends to) and the time between two gossip rounds. Push
// gossip reaches N peers in about log_(fanout+1) N + ln(N)/fanout rounds.
func (n *Node) GossipParams() (fanout int, interval time.Duration) {
	return n.fanout, n.gossipEvery
}

// SyncAddr returns the address this node accepts sync streams on.
func (n *Node) SyncAddr() string { return n.ln.Addr().String() }

// Join adds peers by gossip address.
func (n *Node) Join(addrs ...string) error {
	_, err := n.ml.Join(addrs)
	return err
}

// GossipMembers returns how many members memberlist holds alive or
// suspect, this node included.
func (n *Node) GossipMembers() int { return n.numMembers() }

func (n *Node) numMembers() int {
	if n.ml == nil {
		return 1
	}
	return n.ml.NumMembers()
}

// Close leaves the gossip and stops every goroutine.
func (n *Node) Close() error {
	select {
	case <-n.stop:
		return nil
	default:
	}
	n.rememberPeers()
	close(n.stop)
	if n.disc != nil {
		n.disc.Close() // before leaving: it must not join anyone now
	}
	n.ml.Leave(time.Second)
	err := n.ml.Shutdown()
	n.ln.Close()
	n.wg.Wait()
	n.logOn.Store(false)
	return err
}

// SetTransportKeys installs new memberlist keys (after a rotation): the
// first becomes primary, older ones stay for the grace period the caller
// decides, so honest peers that were offline can come back.
func (n *Node) SetTransportKeys(keys [][]byte) error {
	kr := n.keyring
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return err
		}
	}
	if err := kr.UseKey(keys[0]); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, k := range keys {
		keep[string(k)] = true
	}
	for _, k := range kr.GetKeys() {
		if !keep[string(k)] {
			kr.RemoveKey(k)
		}
	}
	return nil
}

func (n *Node) rand() io.Reader {
	if n.cfg.Rand != nil {
		return n.cfg.Rand
	}
	return cryptoRand{}
}

type logfWriter func(string, ...any)

func (w logfWriter) Write(p []byte) (int, error) {
	w("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// cryptoRand reads from crypto/rand.
type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return cryptorand.Read(p) }

package replica

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// A Node is this device on the network: a memberlist member (SWIM failure
// detection, gossip encrypted with the community transport key) that
// announces new envelopes by broadcast, pulls what it lacks over an
// authenticated stream (crypto.Channel), and runs anti-entropy with a random
// peer every AntiEntropyInterval.
//
// Announcements are small (about 110 bytes): author, sequence, header ID and
// the device that holds it. memberlist sends a user broadcast only from its
// origin, a few times; so each node re-broadcasts an announcement once, the
// first time it hears it, as Serf does. The handler never blocks memberlist:
// it queues a pull and returns.
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
	// of the same community found there (see Discoverer); off unless set.
	// MDNSInterface restricts it to one interface (default: every
	// interface up with multicast and IPv4); MDNSInterval is the time
	// between two queries while alone (0: DefaultMDNSInterval).
	MDNS          bool
	MDNSInterface string
	MDNSInterval  time.Duration
	// OnChange is called after envelopes were admitted by a sync (from
	// the node's worker goroutines; it must not block long).
	OnChange func(Result)
	Logf     func(format string, args ...any)
	Rand     io.Reader
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

// PeerState is what this node knows of one peer.
type PeerState struct {
	Device      crypto.DeviceID
	Name        string
	Addr        string // gossip address
	SyncAddr    string
	State       string // alive, suspect, dead, left, relay-link
	Role        crypto.Role
	LastContact time.Time
	LastSync    time.Time
	// At the last sync: envelopes sent to the peer (it lacked them) and
	// received from it (this node lacked them).
	Sent, Received int
	InSync         bool
	Err            string
	// Refused is the last refusal of a stream with the peer, by either
	// side; nil after a sync succeeds.
	Refused *PeerRefusal
}

// Node runs replication for one store.
type Node struct {
	cfg     NodeConfig
	store   *Store
	ml      *memberlist.Memberlist
	disc    *Discoverer // LAN discovery, nil when off
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

	// bud holds the budgets (see Budget) and the announcement IDs
	// already heard.
	bud *nodeBudget

	mu sync.Mutex
	// held is, per peer, how far along this device's own chain the peer
	// is known to hold: after a sync, everything this device had.
	held  map[crypto.DeviceID]uint64
	peers map[string]*PeerState // by node name
	relay map[string]*PeerState // stream-only peers, by device
	rng   *rand.Rand
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

const (
	metaVersion  = 1
	announceType = 1
	announceSize = 1 + 32 + 8 + 32 + 32 + 2
	// announceRetransmitMult sets how many times each node sends an
	// announcement (see StartNode).
	announceRetransmitMult = 8
	// seenFor is how long an announcement ID is remembered.
	seenFor = 10 * time.Minute
)

// StartNode starts replication for store.
func StartNode(store *Store, cfg NodeConfig) (*Node, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
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
	n := &Node{cfg: cfg, store: store, dev: cfg.Device, pulls: make(chan pull, 256), stop: make(chan struct{}),
		bud: newNodeBudget(cfg.Budget), held: map[crypto.DeviceID]uint64{}, strikes: map[crypto.DeviceID]int{}, ignored: map[crypto.DeviceID]time.Time{}, peers: map[string]*PeerState{}, relay: map[string]*PeerState{},
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
	if n.cfg.Dial == nil {
		n.cfg.Dial = func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
	}
	n.ln = ln
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		n.cfg.SyncPort = a.Port
	}

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
			ln.Close()
			return nil, fmt.Errorf("--advertise %q: want host:port", cfg.AdvertiseAddr)
		}
		mc.AdvertiseAddr = host
		if mc.AdvertisePort, err = strconv.Atoi(port); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--advertise %q: bad port", cfg.AdvertiseAddr)
		}
	}
	kr, err := memberlist.NewKeyring(cfg.TransportKeys, cfg.TransportKeys[0])
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("transport key: %w", err)
	}
	mc.Keyring = kr
	n.keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.EnableCompression = false // ciphertext does not compress
	n.logOn.Store(true)
	mc.Logger = log.New(logfWriter(n.logf), "memberlist: ", 0)
	d := &delegate{n: n}
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

	n.wg.Add(3)
	go n.acceptLoop()
	go n.pullLoop()
	go n.antiEntropyLoop()
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

// localPeerPrefix keys the peers remembered in the store's local namespace,
// so a restarted node finds its peers again without --join: after a key
// rotation it missed, over sync streams, which need no transport key.
const localPeerPrefix = "peer/"

// remembered returns the peers saved by rememberPeers.
func (n *Node) remembered() []PeerState {
	var out []PeerState
	for k, v := range n.store.LocalWithPrefix(localPeerPrefix) {
		addr, sync, ok := strings.Cut(string(v), "\n")
		if !ok || len(v) > 600 {
			continue
		}
		out = append(out, PeerState{Name: strings.TrimPrefix(k, localPeerPrefix), Addr: addr, SyncAddr: sync})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// rememberPeers saves the gossip and sync addresses of the peers seen alive.
func (n *Node) rememberPeers() {
	var ops []LocalOp
	n.mu.Lock()
	for name, p := range n.peers {
		if p.State == "alive" && p.Addr != "" && p.SyncAddr != "" {
			ops = append(ops, LocalOp{Key: localPeerPrefix + name, Value: []byte(p.Addr + "\n" + p.SyncAddr)})
		}
	}
	n.mu.Unlock()
	if len(ops) > 0 {
		if err := n.store.PutLocal(ops...); err != nil {
			n.logf("remember peers: %v", err)
		}
	}
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

// Announce tells the peers about envelopes this device just wrote or got:
// of each author, the highest sequence given (a pull of it brings the
// rest of the chain).
func (n *Node) Announce(ids ...envelope.Hash) {
	type last struct {
		seq uint64
		id  envelope.Hash
	}
	latest := map[crypto.DeviceID]last{}
	var order []crypto.DeviceID
	for _, id := range ids {
		e, err := n.store.Get(id)
		if err != nil {
			continue
		}
		a := crypto.DeviceID(e.Header.Author)
		l, ok := latest[a]
		if !ok {
			order = append(order, a)
		}
		if !ok || e.Header.Seq > l.seq {
			latest[a] = last{e.Header.Seq, id}
		}
	}
	self := n.dev.ID()
	for _, a := range order {
		l := latest[a]
		msg := make([]byte, 0, announceSize)
		msg = append(msg, announceType)
		msg = append(msg, a[:]...)
		msg = binary.BigEndian.AppendUint64(msg, l.seq)
		msg = append(msg, l.id[:]...)
		msg = append(msg, self[:]...)
		msg = binary.BigEndian.AppendUint16(msg, uint16(n.cfg.SyncPort))
		n.bud.mu.Lock()
		n.bud.seen.add(l.id, time.Now())
		n.bud.mu.Unlock()
		n.broadcast(msg)
	}
}

// broadcast queues msg in memberlist's broadcast queue, which holds at most
// QueueMax messages: past it, those sent most often and the oldest go.
func (n *Node) broadcast(msg []byte) {
	n.queue.QueueBroadcast(broadcast(msg))
	if over := n.queue.NumQueued() - n.bud.cfg.QueueMax; over > 0 {
		n.queue.Prune(n.bud.cfg.QueueMax)
		n.bud.count(BudgetQueuePruned, over)
	}
}

// Peers returns what this node knows of its peers, ordered by name.
func (n *Node) Peers() []PeerState {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []PeerState
	byDevice := map[crypto.DeviceID]int{}
	for _, p := range n.peers {
		byDevice[p.Device] = len(out)
		out = append(out, *p)
	}
	for _, p := range n.relay {
		// A gossip member that also syncs over a stream of its own is one
		// peer: its gossip entry, with the newer sync's figures.
		if i, ok := byDevice[p.Device]; ok {
			if g := &out[i]; p.LastSync.After(g.LastSync) {
				g.LastSync, g.Sent, g.Received, g.InSync, g.Err, g.Refused = p.LastSync, p.Sent, p.Received, p.InSync, p.Err, p.Refused
			}
			continue
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].SyncAddr < out[j].SyncAddr)
	})
	return out
}

// Misbehaviour: an envelope that proves its sender broke the rules
// (SenderAtFault: undecodable, a bad signature, a payload that does not
// match, another community) costs a peer one strike, a broken protocol or a
// frame that does not authenticate ten; at maxStrikes the peer is ignored
// (its streams refused, not picked for anti-entropy) for ignoreFor.
// Refusals that depend on this device's trust state are never strikes: an
// honest peer forwards what it admitted before it learnt of a revocation or
// a demotion, and the other branch of a fork.
const (
	maxStrikes = 50
	ignoreFor  = 10 * time.Minute
)

// strike counts what a sync with peer showed. The caller holds n.mu.
func (n *Node) strike(peer crypto.DeviceID, st SyncStats, err error) {
	// Only what proves the peer itself broke the rules: forwarding a
	// validly signed envelope of another author that this device refuses
	// for its own trust state (a revocation or a demotion the peer had not
	// seen, another branch of a fork) is what an honest peer does.
	add := st.Bad
	if err != nil && (errors.Is(err, ErrProtocol) || strings.Contains(err.Error(), "does not authenticate")) {
		add += 10
	}
	if add == 0 {
		return
	}
	n.strikes[peer] += add
	if n.strikes[peer] >= maxStrikes {
		n.ignored[peer] = time.Now().Add(ignoreFor)
		delete(n.strikes, peer)
		n.logf("peer %s sent bad data repeatedly: ignored for %s", peer.Short(), ignoreFor)
	}
}

// Holders returns the peers known to hold this device's envelope of
// sequence seq (they synced with this device after it was written).
func (n *Node) Holders(seq uint64) []crypto.DeviceID {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []crypto.DeviceID
	for d, s := range n.held {
		if s >= seq {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// SyncWith runs one anti-entropy round with the peer at a sync address.
func (n *Node) SyncWith(addr string) (SyncStats, error) {
	conn, err := n.cfg.Dial(addr)
	if err != nil {
		return SyncStats{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	ch, err := n.dev.Dial(n.rand(), conn, n.store.Community(), n.ownProof(), n.checkStream)
	if err != nil {
		n.refused(addr, crypto.DeviceID{}, err)
		return SyncStats{}, err
	}
	mine := n.store.Head(n.dev.ID()).Seq
	st, err := n.store.SyncInitiateWithin(ch, ch.Peer(), n.bud.sendLimit())
	n.afterSync(ch.Peer(), addr, mine, st, err)
	return st, err
}

func (n *Node) rand() io.Reader {
	if n.cfg.Rand != nil {
		return n.cfg.Rand
	}
	return cryptoRand{}
}

func (n *Node) afterSync(peer crypto.DeviceID, addr string, mine uint64, st SyncStats, err error) {
	now := time.Now()
	n.mu.Lock()
	heldMore := err == nil && mine > n.held[peer]
	if heldMore {
		n.held[peer] = mine
	}
	n.strike(peer, st, err)
	if st.Capped {
		n.bud.count(BudgetResponseCapped, 1)
	}
	p := n.peers[peer.String()]
	if p == nil {
		p = n.relay[peer.String()]
	}
	if p == nil {
		p = &PeerState{Device: peer, Name: peer.String(), SyncAddr: addr, State: "relay-link"}
		n.relay[peer.String()] = p
	}
	if errors.Is(err, ErrBusy) {
		// Reached, and asked to come back later (its budgets): the
		// link is fine, the next round syncs.
		p.LastContact = now
		n.mu.Unlock()
		return
	}
	p.LastSync, p.LastContact = now, now
	if m, ok := n.store.Trust().Member(peer); ok {
		p.Role = m.Role
	}
	if err != nil {
		p.Err = err.Error()
	} else {
		p.Err, p.Sent, p.Received, p.InSync = "", st.Sent, st.Received, st.InSync
		p.Refused = nil
	}
	n.mu.Unlock()
	if err != nil {
		n.logf("sync with %s: %v", addr, err)
		return
	}
	// OnChange also when a peer newly holds this device's envelopes: the
	// author's delivery state changed.
	if (st.Admitted > 0 || st.Purged > 0 || heldMore) && n.cfg.OnChange != nil {
		n.cfg.OnChange(Result{Admitted: make([]envelope.Hash, st.Admitted), Purged: st.Purged})
	}
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			return
		}
		// A bounded number of streams may be in their handshake, each
		// for HandshakeTimeout (see handshakeSlot).
		release, ok := n.handshakeSlot(conn)
		if !ok {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer conn.Close()
			defer release()
			ch, err := n.dev.Accept(n.rand(), conn, n.store.Community(), n.ownProof(), n.checkStream)
			if err != nil {
				n.refused("", crypto.DeviceID{}, err)
				n.logf("sync from %s refused: %v", conn.RemoteAddr(), err)
				return
			}
			release()
			conn.SetDeadline(time.Now().Add(2 * time.Minute))
			lim, done, ok := n.syncSlot(ch.Peer())
			if !ok {
				n.store.SyncBusy(ch)
				return
			}
			mine := n.store.Head(n.dev.ID()).Seq
			st, err := n.store.SyncRespondWithin(ch, ch.Peer(), lim)
			done(st.SentBytes)
			n.afterSync(ch.Peer(), conn.RemoteAddr().String(), mine, st, err)
		}()
	}
}

// pull is an announced envelope, and where to fetch it.
type pull struct {
	addr   string // the holder's sync address
	author crypto.DeviceID
	seq    uint64
}

// pullLoop syncs with peers that announced something this node lacks. It
// coalesces: several announcements from one peer cost one sync, and one
// whose envelope arrived meanwhile costs nothing. The store is read here,
// not in handleAnnounce, which runs on memberlist's receive path.
func (n *Node) pullLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case p := <-n.pulls:
			batch := []pull{p}
		drain:
			for {
				select {
				case p := <-n.pulls:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			pending := map[string]bool{}
			var order []string
			for _, p := range batch {
				if pending[p.addr] || n.store.Head(p.author).Seq >= p.seq {
					continue
				}
				pending[p.addr] = true
				order = append(order, p.addr)
			}
			for _, a := range order {
				switch n.bud.pulls.allow(a, time.Now()) {
				case limitPeer:
					n.bud.count(BudgetPullRate, 1)
				case limitTotal:
					n.bud.count(BudgetPullTotal, 1)
				default:
					n.SyncWith(a)
				}
			}
		}
	}
}

func (n *Node) antiEntropyLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.AntiEntropyInterval)
	defer t.Stop()
	for round := 1; ; round++ {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if addr := n.randomPeer(); addr != "" {
				n.SyncWith(addr)
			}
			n.reconnect()
			if round%20 == 0 {
				n.rememberPeers()
			}
		}
	}
}

// reconnect now and then joins again a peer that memberlist declared dead
// or that left, as Serf does: memberlist forgets a dead peer after
// GossipToTheDeadTime, so without it the two sides of a partition that
// lasted longer would never merge again. Each round tries one such peer
// with probability failed/(failed+alive), one join at a time, in a
// goroutine of its own so that anti-entropy never waits for it.
func (n *Node) reconnect() {
	n.mu.Lock()
	var failed []string
	alive := 0
	for _, p := range n.peers {
		switch {
		case p.State == "alive":
			alive++
			continue
		case p.Addr == "" || (p.State != "dead" && p.State != "left"):
			continue
		}
		if until, ok := n.ignored[p.Device]; ok && time.Now().Before(until) {
			continue
		}
		failed = append(failed, p.Addr)
	}
	sort.Strings(failed)
	addr := ""
	if len(failed) > 0 && n.rng.IntN(len(failed)+alive) < len(failed) {
		addr = failed[n.rng.IntN(len(failed))]
	}
	n.mu.Unlock()
	if addr == "" || !n.joining.CompareAndSwap(false, true) {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.joining.Store(false)
		if _, err := n.ml.Join([]string{addr}); err == nil {
			n.logf("rejoined %s", addr)
		}
	}()
}

// GossipMembers returns how many members memberlist holds alive or
// suspect, this node included.
func (n *Node) GossipMembers() int { return n.numMembers() }

func (n *Node) isIgnored(d crypto.DeviceID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	until, ok := n.ignored[d]
	return ok && time.Now().Before(until)
}

// randomPeer picks an alive gossip peer or a configured relay; when none is
// alive, any peer ever seen, so that a node whose peers were all declared
// dead (a partition, a loaded machine) still tries to heal.
//
// It reads the peers memberlist's events reported (n.peers), not
// memberlist's Members: those are pointers into memberlist's state, which
// its goroutines change while the caller reads them (a data race).
func (n *Node) randomPeer() string {
	var addrs []string
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.State != "alive" || p.SyncAddr == "" {
			continue
		}
		if until, ok := n.ignored[p.Device]; ok && now.Before(until) {
			continue
		}
		addrs = append(addrs, p.SyncAddr)
	}
	sort.Strings(addrs)
	addrs = append(addrs, n.cfg.Relays...)
	if len(addrs) == 0 {
		for _, p := range n.peers {
			if p.SyncAddr != "" {
				addrs = append(addrs, p.SyncAddr)
			}
		}
		if len(addrs) == 0 {
			n.mu.Unlock()
			for _, p := range n.remembered() {
				addrs = append(addrs, p.SyncAddr)
			}
			n.mu.Lock()
		}
		sort.Strings(addrs)
	}
	if len(addrs) == 0 {
		return ""
	}
	return addrs[n.rng.IntN(len(addrs))]
}

// handleAnnounce is called for each announcement received. It must not block.
func (n *Node) handleAnnounce(msg []byte, from net.IP) {
	if len(msg) != announceSize {
		return
	}
	var author crypto.DeviceID
	copy(author[:], msg[1:33])
	seq := binary.BigEndian.Uint64(msg[33:41])
	var id envelope.Hash
	copy(id[:], msg[41:73])
	var holder crypto.DeviceID
	copy(holder[:], msg[73:105])
	port := binary.BigEndian.Uint16(msg[105:107])

	now := time.Now()
	b := n.bud
	b.mu.Lock()
	dup := b.seen.has(id, now)
	b.mu.Unlock()
	if dup {
		return
	}
	addr := ""
	n.mu.Lock()
	if p := n.peers[holder.String()]; p != nil {
		addr = p.SyncAddr
	}
	n.mu.Unlock()
	// Rated by the holder named (the gossip does not say who sent it):
	// holders that are no gossip peer share one budget.
	key := holder
	if addr == "" {
		key = crypto.DeviceID{}
	}
	switch b.announce.allow(key, now) {
	case limitPeer:
		b.count(BudgetAnnounceRate, 1)
		return
	case limitTotal:
		b.count(BudgetAnnounceTotal, 1)
		return
	}
	// Remembered only once accepted: a refused one may come again from
	// an honest peer.
	b.mu.Lock()
	b.seen.add(id, now)
	b.mu.Unlock()
	if addr == "" && from != nil {
		addr = net.JoinHostPort(from.String(), strconv.Itoa(int(port)))
	}
	// Re-broadcast once, on first receipt.
	n.broadcast(bytes.Clone(msg))
	if addr == "" {
		b.count(BudgetAnnounceHolder, 1)
		return
	}
	select {
	case n.pulls <- pull{addr: addr, author: author, seq: seq}:
	default: // full: anti-entropy will catch up
		b.count(BudgetPullQueue, 1)
	}
}

// delegate adapts Node to memberlist's delegates. Bad messages are dropped.
type delegate struct{ n *Node }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.AliveDelegate = (*delegate)(nil)
)

// NotifyAlive vetoes a gossip member that is not a member of the community
// or is revoked: during the transport key's grace period a revoked device
// still holds an accepted key, and must not take part all the same. Its
// metadata names its device; streams check the same with a signature. A
// member this store does not know yet (invited after its last sync) is
// refused too, and probed: a stream to its sync port brings its proof, so
// that its next alive message is accepted.
func (d *delegate) NotifyAlive(m *memberlist.Node) error {
	if m.Name == d.n.dev.ID().String() {
		return nil
	}
	id, port, ok := parseMeta(m.Meta)
	if !ok || m.Name != id.String() {
		return errors.New("gossip member without valid metadata")
	}
	err := d.n.checkPeer(id, nil)
	var r *crypto.Refusal
	if errors.As(err, &r) && r.Reason == crypto.RefusedMembership {
		d.n.probe(id, m.Addr, port)
	}
	return err
}

// NodeMeta: version u8 || device [32] || sync port u16 (35 bytes, far under
// memberlist's 512-byte limit).
func (d *delegate) NodeMeta(limit int) []byte {
	id := d.n.dev.ID()
	b := append([]byte{metaVersion}, id[:]...)
	return binary.BigEndian.AppendUint16(b, uint16(d.n.cfg.SyncPort))
}

func parseMeta(b []byte) (crypto.DeviceID, uint16, bool) {
	var id crypto.DeviceID
	if len(b) != 35 || b[0] != metaVersion {
		return id, 0, false
	}
	copy(id[:], b[1:33])
	return id, binary.BigEndian.Uint16(b[33:]), true
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != announceType {
		return
	}
	d.n.handleAnnounce(b, nil)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

func (d *delegate) NotifyJoin(m *memberlist.Node)   { d.update(m, "alive") }
func (d *delegate) NotifyUpdate(m *memberlist.Node) { d.update(m, "") }
func (d *delegate) NotifyLeave(m *memberlist.Node) {
	state := "dead"
	if m.State == memberlist.StateLeft {
		state = "left"
	}
	d.update(m, state)
}

func (d *delegate) update(m *memberlist.Node, state string) {
	if m.Name == d.n.dev.ID().String() {
		return
	}
	id, port, ok := parseMeta(m.Meta)
	if !ok {
		return
	}
	n := d.n
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[m.Name]
	if p == nil {
		p = &PeerState{Device: id, Name: m.Name}
		n.peers[m.Name] = p
	}
	p.Addr = net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
	p.SyncAddr = net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(port)))
	if state == "" {
		state = stateName(m.State)
	}
	p.State = state
	p.LastContact = time.Now()
}

// broadcast is a memberlist.Broadcast that never invalidates another: a
// UniqueBroadcast, so queueing it does not scan the queue.
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}
func (b broadcast) UniqueBroadcast()                      {}

type logfWriter func(string, ...any)

func (w logfWriter) Write(p []byte) (int, error) {
	w("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// cryptoRand reads from crypto/rand.
type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return cryptorand.Read(p) }

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

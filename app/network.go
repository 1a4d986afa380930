package app

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"noroshi/crypto"
	"noroshi/replica"
)

// NetworkConfig says how this device reaches its peers.
type NetworkConfig struct {
	// BindAddr and BindPort: where gossip listens (UDP and TCP); sync
	// streams listen on BindPort+1.
	BindAddr string
	BindPort int
	// Advertise is the address others reach this device at, when it differs
	// from the bound one (a relay behind port forwarding).
	Advertise string
	// Join lists gossip addresses of peers to join.
	Join []string
	// Relays lists relay sync addresses this device syncs with over streams
	// it opens itself (across the internet, behind NAT).
	Relays []string
	// Profile is "lan" (a venue network) or "wan" (relays across the internet).
	Profile replica.Profile
	// AntiEntropy is the time between two anti-entropy rounds.
	AntiEntropy time.Duration
	// Test shortens memberlist's timers for loopback tests.
	Test bool
	// MDNS finds and joins peers of the community on the local network
	// (mDNS): `serve` and the desktop app set it unless told not to. It
	// reveals to the LAN that a Noroshi node runs at this address and
	// gossip port, nothing of the community (see package replica/lan).
	// MDNSInterface restricts it to one network interface (default: all).
	MDNS          bool
	MDNSInterface string
}

// Network is this device's replication: gossip, anti-entropy, sync streams.
type Network struct {
	a       *App
	node    *replica.Node
	stop    chan struct{} // closed by Close: watch ends
	done    chan struct{} // closed when watch has ended
	closing sync.Once
}

// StartNetwork starts replicating with peers. Both ends follow the store's
// one change signal (replica.Store.Changed): the app folds what the node
// admits, and the node announces this device's own writes.
func (a *App) StartNetwork(nc NetworkConfig) (*Network, error) {
	if a.store.Community().IsZero() {
		return nil, fmt.Errorf("%w: join a community before serving", ErrNoCommunity)
	}
	keys := a.TransportKeys()
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: this device holds no transport key (joined before this version? ask for a new invite)", ErrNotAllowed)
	}
	node, err := replica.StartNode(a.store, replica.NodeConfig{
		Device: a.dev, BindAddr: nc.BindAddr, BindPort: nc.BindPort, AdvertiseAddr: nc.Advertise,
		Join: nc.Join, Relays: nc.Relays, Profile: nc.Profile, TransportKeys: keys,
		AntiEntropyInterval: nc.AntiEntropy, Test: nc.Test, Logf: a.cfg.Logf, Rand: a.cfg.Rand,
		MDNS: nc.MDNS, MDNSInterface: nc.MDNSInterface,
	})
	if err != nil {
		return nil, err
	}
	n := &Network{a: a, node: node, stop: make(chan struct{}), done: make(chan struct{})}
	a.mu.Lock()
	a.net = n
	a.mu.Unlock()
	go n.watch(keys)
	return n, nil
}

// watch follows the views and the node until Close: when the views change
// (a key rotation folded in), it installs the transport keys learned; when
// a peer is known to hold more of this device's chain, it tells the front
// ends (Changed), whose delivery view moved.
func (n *Network) watch(installed [][]byte) {
	defer close(n.done)
	for {
		// The signals are taken before the keys are read: a change that
		// lands in between wakes the next round.
		changed, delivered := n.a.Changed(), n.node.Delivered()
		if keys := n.a.TransportKeys(); len(keys) > 0 && !slices.EqualFunc(keys, installed, bytes.Equal) {
			if err := n.node.SetTransportKeys(keys); err != nil {
				n.a.cfg.Logf("transport keys: %v", err)
			} else {
				installed = keys
			}
		}
		select {
		case <-n.stop:
			return
		case <-delivered:
			n.a.notify()
		case <-changed:
		}
	}
}

// Close stops replicating. Closing again does nothing.
func (n *Network) Close() error {
	n.a.mu.Lock()
	if n.a.net == n {
		n.a.net = nil
	}
	n.a.mu.Unlock()
	n.closing.Do(func() { close(n.stop) })
	<-n.done
	return n.node.Close()
}

// holders returns the peers known to hold this device's envelope of
// sequence seq; none when the network does not run (n nil).
func (n *Network) holders(seq uint64) []crypto.DeviceID {
	if n == nil {
		return nil
	}
	return n.node.Holders(seq)
}

// GossipAddr returns the address peers join.
func (n *Network) GossipAddr() string { return n.node.GossipAddr() }

// SyncAddr returns the address relayed laptops sync with.
func (n *Network) SyncAddr() string { return n.node.SyncAddr() }

// Join joins peers by gossip address.
func (n *Network) Join(addrs ...string) error { return n.node.Join(addrs...) }

// TransportGrace is how long a superseded transport key stays in the
// gossip keyring after a rotation, so that honest peers that were offline
// during the rotation can still gossip and be handed the new key.
const TransportGrace = 72 * time.Hour

// TransportKeys returns the community's gossip transport keys this device
// holds, newest first: the current one, and those superseded less than
// TransportGrace ago.
func (a *App) TransportKeys() [][]byte {
	a.mu.RLock()
	defer a.mu.RUnlock()
	type ek struct {
		clock uint64
		key   []byte
		id    crypto.EpochID
	}
	var all []ek
	for e := range a.epochs {
		// Only epochs the community agreed (created by a coordinator).
		info, ok := a.view.trust.Epoch(e)
		if !ok || info.Scope != crypto.ScopeTransport {
			continue
		}
		g, _ := a.keys.Get(e)
		all = append(all, ek{info.Clock, bytes.Clone(g.Key[:]), e})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].clock != all[j].clock {
			return all[i].clock > all[j].clock
		}
		return bytes.Compare(all[i].id[:], all[j].id[:]) > 0
	})
	var out [][]byte
	now := a.cfg.Now()
	for i, k := range all {
		// Key i was superseded when key i-1 was granted.
		if i > 0 && now.Sub(wallTime(all[i-1].clock)) > TransportGrace {
			break
		}
		out = append(out, k.key)
	}
	return out
}

// Peer is one peer as `noroshi peers` and the sync screen show it.
type Peer struct {
	Device      string      `json:"device"`
	Name        string      `json:"name"`
	OrgName     string      `json:"org_name"`
	Role        crypto.Role `json:"role"`
	Addr        string      `json:"addr"`
	SyncAddr    string      `json:"sync_addr"`
	State       string      `json:"state"`
	LastContact time.Time   `json:"last_contact,omitzero"`
	LastSync    time.Time   `json:"last_sync,omitzero"`
	// At the last sync: how many envelopes the peer lacked (sent to it) and
	// this device lacked (received).
	PeerLacked int    `json:"peer_lacked"`
	WeLacked   int    `json:"we_lacked"`
	InSync     bool   `json:"in_sync"`
	Error      string `json:"error,omitempty"`
	// Refused is the last refusal of a stream with the peer, by either
	// side, and why; nil once a sync succeeds.
	Refused *replica.PeerRefusal `json:"refused,omitempty"`
}

// Connectivity is the state the header badge shows.
type Connectivity struct {
	// State is "connected" (a coordinator or relay is reachable),
	// "mesh" (only other peers), or "alone".
	State string `json:"state"`
	Peers int    `json:"peers"`
}

// Peers returns the peers this device knows and the connectivity state.
func (n *Network) Peers() ([]Peer, Connectivity) {
	ps := n.node.Peers()
	n.a.mu.RLock()
	defer n.a.mu.RUnlock()
	s := n.a.view
	var out []Peer
	conn := Connectivity{State: "alone"}
	for _, p := range ps {
		m, _ := s.trust.Member(p.Device)
		q := Peer{Device: p.Device.String(), Name: s.deviceName(p.Device), OrgName: s.orgName(m.Org), Role: m.Role,
			Addr: p.Addr, SyncAddr: p.SyncAddr, State: p.State, LastContact: p.LastContact, LastSync: p.LastSync,
			PeerLacked: p.Sent, WeLacked: p.Received, InSync: p.InSync, Error: p.Err, Refused: p.Refused}
		out = append(out, q)
		alive := p.State == "alive" || (p.State == "relay-link" && p.Err == "")
		if !alive {
			continue
		}
		conn.Peers++
		if m.Role == crypto.RoleCoordinator || m.Role == crypto.RoleRelay {
			conn.State = "connected"
		} else if conn.State == "alone" {
			conn.State = "mesh"
		}
	}
	return out, conn
}

// Refusals returns how many streams this device refused, by reason
// (other-community, wrong-version, membership-unknown, revoked, refused).
func (n *Network) Refusals() map[string]int { return n.node.Refusals() }

// RefusedEnvelopes returns how many envelopes this device's store refused
// at admission since it was made (by stream, bundle or its own writes), by
// reason (replica.Reason names: "bad-signature", "equivocation",
// "revoked", "not-member", ...). Unlike Refusals and Dropped, the counts
// are kept across restarts.
func (n *Network) RefusedEnvelopes() map[string]uint64 {
	out := map[string]uint64{}
	for r, k := range n.a.store.Refusals() {
		out[string(r)] = k
	}
	return out
}

// Dropped returns how many gossip and stream messages this device dropped
// since the network started, by reason: a budget exceeded, a queue full, a
// message malformed (replica.DropReason names, such as "announce-rate",
// "pull-queue", "announce-malformed", "stream-protocol").
func (n *Network) Dropped() map[string]uint64 {
	out := map[string]uint64{}
	for r, k := range n.node.Dropped() {
		out[string(r)] = k
	}
	return out
}

package replica

import (
	"bytes"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
)

// The peer table: what this node knows of each peer, from memberlist's
// events (gossip members, by node name) and from syncs over streams
// (relay links, by device); the addresses remembered across restarts; and
// how far along this device's chain each peer is known to hold.

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

// Delivered returns a channel that is closed the next time a peer is known
// to hold more of this device's chain (Holders changed): the delivery state
// of this device's envelopes moved.
func (n *Node) Delivered() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.heldMore
}

// delivered wakes the waiters of Delivered. The caller holds n.mu.
func (n *Node) delivered() {
	close(n.heldMore)
	n.heldMore = make(chan struct{})
}

// setMember records what memberlist reported of gossip member m, whose
// metadata named device id and sync port; state "" takes m's. The caller
// holds n.mu.
func (n *Node) setMember(m *memberlist.Node, id crypto.DeviceID, syncPort uint16, state string) {
	p := n.peers[m.Name]
	if p == nil {
		p = &PeerState{Device: id, Name: m.Name}
		n.peers[m.Name] = p
	}
	p.Addr = net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
	p.SyncAddr = net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(syncPort)))
	if state == "" {
		state = stateName(m.State)
	}
	p.State = state
	p.LastContact = n.now()
}

// streamPeer returns the entry of a peer reached over a stream: its gossip
// entry, else its relay link, made when new. The caller holds n.mu.
func (n *Node) streamPeer(peer crypto.DeviceID, addr string) *PeerState {
	p := n.peers[peer.String()]
	if p == nil {
		p = n.relay[peer.String()]
	}
	if p == nil {
		p = &PeerState{Device: peer, Name: peer.String(), SyncAddr: addr, State: "relay-link"}
		n.relay[peer.String()] = p
	}
	return p
}

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

// randomPeer picks an alive gossip peer or a configured relay; when none is
// alive, any peer ever seen, so that a node whose peers were all declared
// dead (a partition, a loaded machine) still tries to heal.
//
// It reads the peers memberlist's events reported (n.peers), not
// memberlist's Members: those are pointers into memberlist's state, which
// its goroutines change while the caller reads them (a data race).
func (n *Node) randomPeer() string {
	var addrs []string
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.State != "alive" || p.SyncAddr == "" || n.ignoredAt(p.Device, now) {
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

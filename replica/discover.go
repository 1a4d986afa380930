package replica

import (
	"crypto/hmac"
	"net"

	"noroshi/replica/lan"
)

// LAN discovery is package lan's: with NodeConfig.MDNS set, a Node starts a
// lan.Discoverer once its gossip runs, hands it the transport keys and its
// Join, and stops it first thing in Close.

// DiscoveryStats counts what LAN discovery did since the node started.
type DiscoveryStats = lan.Stats

// Discovery returns what LAN discovery did; zero when it is off.
func (n *Node) Discovery() DiscoveryStats {
	if n.disc == nil {
		return DiscoveryStats{}
	}
	return n.disc.Stats()
}

// checkDiscovery refuses an mDNS interface that does not exist.
func checkDiscovery(cfg NodeConfig) error {
	if !cfg.MDNS {
		return nil
	}
	return lan.CheckInterface(cfg.MDNSInterface)
}

// startDiscovery starts LAN discovery for n, once its gossip runs.
func startDiscovery(n *Node) *lan.Discoverer {
	return lan.Start(lan.Config{
		Interface: n.cfg.MDNSInterface,
		BindIP:    net.ParseIP(n.cfg.BindAddr),
		Port:      n.cfg.BindPort,
		Interval:  n.cfg.MDNSInterval,
		Keys:      n.transportKeys,
		Known:     n.knownAddr,
		Join:      func(addrs []string) error { return n.Join(addrs...) },
		Peers:     func() int { return n.numMembers() - 1 },
		Logf:      n.logf,
		Now:       n.cfg.Now,
	})
}

// transportKeys returns the keyring's keys, primary first.
func (n *Node) transportKeys() [][]byte {
	p := n.keyring.GetPrimaryKey()
	if len(p) == 0 {
		return nil // no key: advertise nothing, join nobody
	}
	out := [][]byte{p}
	for _, k := range n.keyring.GetKeys() {
		if !hmac.Equal(k, p) {
			out = append(out, k)
		}
	}
	return out
}

// knownAddr tells whether addr is this node's or a live member's gossip
// address.
//
// It reads the peers memberlist's events reported (n.peers), not
// memberlist's Members, whose nodes memberlist changes while they are read.
func (n *Node) knownAddr(addr string) bool {
	if n.GossipAddr() == addr {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.Addr == addr && p.State != "dead" && p.State != "left" {
			return true
		}
	}
	return false
}

package replica

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"time"

	"noroshi/crypto"
)

// Who may open a stream, and what both sides are told when one is refused.
//
// A device proves its membership when it connects: each side sends its
// membership proof (Store.MembershipProof) inside the encrypted handshake.
// checkPeer admits a device this store knows as a member, not revoked; a
// device it does not know is admitted when its proof holds (its
// certificates go to admission, and the sync that follows brings their
// issuers' chains). A revoked device is refused with a revocation notice,
// which it admits: so it learns it is revoked. A refusal is kept on the
// peer (PeerState.Refused) on both sides, and counted by reason on the
// refusing side (Node.Refusals).

// PeerRefusal is the last refusal of a stream with a peer.
type PeerRefusal struct {
	// Reason is a crypto.RefusalReason's name: other-community,
	// wrong-version, membership-unknown, revoked, refused.
	Reason string    `json:"reason"`
	ByPeer bool      `json:"by_peer"` // the peer refused this device; else this device refused the peer
	Msg    string    `json:"message"`
	At     time.Time `json:"at"`
}

const (
	// probeEvery is the least time between two probes of one device
	// whose gossip was refused for an unknown membership; maxProbes
	// bounds the probes running at once.
	probeEvery = 30 * time.Second
	maxProbes  = 4
)

// ownProof returns this device's membership proof, built again only when
// the trust state changed.
func (n *Node) ownProof() []byte {
	t := n.store.Trust()
	n.mu.Lock()
	if n.proofTrust == t {
		p := n.proof
		n.mu.Unlock()
		return p
	}
	n.mu.Unlock()
	p, err := n.store.MembershipProof(n.dev.ID())
	if err != nil {
		n.logf("membership proof: %v", err)
		p = nil
	}
	n.mu.Lock()
	n.proof, n.proofTrust = p, t
	n.mu.Unlock()
	return p
}

// checkPeer admits a stream peer that sent proof (nil from the gossip: the
// device's metadata only): a member of the community, not revoked, not
// ignored for bad data. Its refusals are *crypto.Refusal, which the channel
// sends to the peer.
func (n *Node) checkPeer(d crypto.DeviceID, proof []byte) error {
	n.mu.Lock()
	until, ignored := n.ignored[d], n.ignoredAt(d, n.now())
	n.mu.Unlock()
	if ignored {
		return &crypto.Refusal{Reason: crypto.RefusedOther, Msg: fmt.Sprintf("device %s sent bad data and is ignored until %s", d.Short(), until.Format(time.RFC3339))}
	}
	t := n.store.Trust()
	_, member := t.Member(d)
	if !member && len(proof) > 0 {
		if _, err := n.store.AdmitProof(proof); err != nil {
			n.logf("membership proof of %s: %v", d.Short(), err)
		}
		t = n.store.Trust()
		_, member = t.Member(d)
	}
	if _, revoked := t.Revoked(d); revoked {
		r := &crypto.Refusal{Reason: crypto.RefusedRevoked, Msg: fmt.Sprintf("device %s is revoked: it can no longer sync with this community", d.Short())}
		if proof != nil { // a stream: tell it
			notice, err := n.store.RevocationNotice(d)
			if err != nil {
				n.logf("revocation notice for %s: %v", d.Short(), err)
			}
			r.Data = notice
		}
		return r
	}
	if member {
		return nil
	}
	if len(proof) > 0 {
		err := n.store.ProvesMember(d, proof)
		if err == nil {
			return nil
		}
		return &crypto.Refusal{Reason: crypto.RefusedMembership, Msg: fmt.Sprintf("membership of device %s not yet known: its proof does not hold (%v)", d.Short(), err)}
	}
	return &crypto.Refusal{Reason: crypto.RefusedMembership, Msg: fmt.Sprintf("membership of device %s not yet known: it sent no proof", d.Short())}
}

// checkStream is checkPeer for a stream's handshake: a refusal is counted
// before the channel sends it, so the count is there when the peer hears.
func (n *Node) checkStream(d crypto.DeviceID, proof []byte) error {
	err := n.checkPeer(d, proof)
	var r *crypto.Refusal
	if errors.As(err, &r) {
		n.mu.Lock()
		n.refusals[r.Reason.String()]++
		n.mu.Unlock()
	}
	return err
}

// refused records a handshake that failed with the peer at addr (dev, when
// known), on the peer's state; when the peer refused this device as
// revoked, it admits the revocation notice the peer sent.
func (n *Node) refused(addr string, dev crypto.DeviceID, err error) {
	var r *crypto.Refusal
	if !errors.As(err, &r) {
		return
	}
	if r.Peer != (crypto.DeviceID{}) {
		dev = r.Peer
	}
	if r.Remote && r.Reason == crypto.RefusedRevoked && len(r.Data) > 0 {
		if _, err := n.store.AdmitRevocationNotice(r.Data); err != nil {
			n.logf("revocation notice from %s: %v", addr, err)
		}
	}
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if !r.Remote && r.Peer == (crypto.DeviceID{}) {
		// Refused before the peer authenticated (another community,
		// another version); checkStream counts the others.
		n.refusals[r.Reason.String()]++
	}
	var p *PeerState
	if dev != (crypto.DeviceID{}) {
		if p = n.peers[dev.String()]; p == nil {
			p = n.relay[dev.String()]
		}
	}
	if p == nil && addr != "" {
		for _, q := range n.peers {
			if q.SyncAddr == addr {
				p = q
			}
		}
		for _, q := range n.relay {
			if q.SyncAddr == addr {
				p = q
			}
		}
	}
	if p == nil && r.Remote && dev != (crypto.DeviceID{}) {
		// A peer that authenticated and refused this device: keep it
		// in view, as a stream link, so that `peers` says why.
		p = &PeerState{Device: dev, Name: dev.String(), SyncAddr: addr, State: "relay-link"}
		n.relay[dev.String()] = p
	}
	if p == nil {
		return
	}
	p.Refused = &PeerRefusal{Reason: r.Reason.String(), ByPeer: r.Remote, Msg: r.Msg, At: now}
	p.LastContact = now
}

// Refusals returns how many streams this node refused,
// by reason (crypto.RefusalReason names).
func (n *Node) Refusals() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.refusals)
}

// probe opens a stream to a gossip member whose membership this store does
// not know, so that its proof arrives (and the sync that follows brings its
// certificates' chains): the next alive message of it is then accepted. At
// most one probe per device per probeEvery, maxProbes at once.
func (n *Node) probe(d crypto.DeviceID, ip net.IP, port uint16) {
	if ip == nil || port == 0 {
		return
	}
	now := n.now()
	n.mu.Lock()
	if last, ok := n.probed[d]; (ok && now.Sub(last) < probeEvery) || n.probing >= maxProbes {
		n.mu.Unlock()
		return
	}
	select {
	case <-n.stop:
		n.mu.Unlock()
		return
	default:
	}
	if len(n.probed) >= 1024 {
		for k, t := range n.probed {
			if now.Sub(t) >= probeEvery {
				delete(n.probed, k)
			}
		}
	}
	n.probed[d] = now
	n.probing++
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		defer func() {
			n.mu.Lock()
			n.probing--
			n.mu.Unlock()
		}()
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
		if _, err := n.SyncWith(addr); err != nil {
			n.logf("probe of %s at %s: %v", d.Short(), addr, err)
		}
	}()
}

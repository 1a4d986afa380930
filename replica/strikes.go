package replica

import (
	"errors"
	"strings"
	"time"

	"noroshi/crypto"
)

// Misbehaviour: an envelope that proves its sender broke the rules
// (SenderAtFault: undecodable, a bad signature, a payload that does not
// match, another community) costs a peer one strike, a broken protocol or a
// frame that does not authenticate ten; at maxStrikes the peer is ignored
// (its streams refused, not picked for anti-entropy, not rejoined) for
// ignoreFor.
// Refusals that depend on this device's trust state are never strikes: an
// honest peer forwards what it admitted before it learnt of a revocation or
// a demotion, and the other branch of a fork.
const (
	maxStrikes = 50
	ignoreFor  = 10 * time.Minute
	// protocolStrikes is what a broken protocol or a forged frame costs.
	protocolStrikes = 10
)

// strike counts what a sync with peer showed. The caller holds n.mu.
func (n *Node) strike(peer crypto.DeviceID, st SyncStats, err error) {
	// Only what proves the peer itself broke the rules: forwarding a
	// validly signed envelope of another author that this device refuses
	// for its own trust state (a revocation or a demotion the peer had not
	// seen, another branch of a fork) is what an honest peer does.
	add := st.Bad
	if brokeProtocol(err) {
		add += protocolStrikes
	}
	if add == 0 {
		return
	}
	n.strikes[peer] += add
	if n.strikes[peer] >= maxStrikes {
		n.ignored[peer] = n.now().Add(ignoreFor)
		delete(n.strikes, peer)
		n.logf("peer %s sent bad data repeatedly: ignored for %s", peer.Short(), ignoreFor)
	}
}

// brokeProtocol reports whether a sync's error proves the peer broke the
// protocol: a malformed frame, one that does not authenticate, or one whose
// length is out of bounds (the channel's errors, which crypto does not
// export).
func brokeProtocol(err error) bool {
	return err != nil && (errors.Is(err, ErrProtocol) || strings.Contains(err.Error(), "does not authenticate") ||
		strings.Contains(err.Error(), "out of bounds"))
}

// ignoredAt reports whether peer d is ignored at now. The
// caller holds n.mu.
func (n *Node) ignoredAt(d crypto.DeviceID, now time.Time) bool {
	until, ok := n.ignored[d]
	return ok && now.Before(until)
}

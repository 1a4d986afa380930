package replica

import "maps"

// Every gossip or stream message this node drops, and every request it
// turns away, is counted by reason (Node.Dropped): a budget exceeded (the
// Budget* reasons, see budget.go), a queue full, a message malformed.
// Nothing is dropped silently; what is dropped is never queued.

// DropReason says why a message or a request was dropped.
type DropReason string

// Reasons other than budgets.
const (
	// Gossip messages (memberlist user messages and member metadata).
	DropMessageType       DropReason = "message-type"       // a user message of a type this version does not know
	DropAnnounceMalformed DropReason = "announce-malformed" // an announcement that does not decode
	DropAnnounceSeen      DropReason = "announce-seen"      // an announcement heard before (each is re-broadcast once)
	DropMetaMalformed     DropReason = "meta-malformed"     // a gossip member whose metadata does not decode: not admitted
	DropGossipMember      DropReason = "gossip-member"      // a gossip member refused for its membership (not known, revoked, ignored): not admitted
	// Sync streams.
	DropHandshake      DropReason = "stream-handshake"   // a stream that failed its handshake for another reason than a refusal (Node.Refusals counts those)
	DropStreamProtocol DropReason = "stream-protocol"    // a sync that broke the protocol or sent a frame that does not authenticate
	DropEnvelopeBad    DropReason = "envelope-bad"       // envelopes received that prove their sender broke the rules (SenderAtFault)
	DropEnvelopeDup    DropReason = "envelope-duplicate" // envelopes received that this node already held (a replay, or two peers sending the same)
)

// Dropped returns what this node dropped since it started, by reason.
func (n *Node) Dropped() map[DropReason]uint64 { return n.bud.dropped() }

// drop counts k messages dropped for reason r.
func (n *Node) drop(r DropReason, k int) { n.bud.count(r, k) }

// count counts k messages dropped for reason r.
func (b *nodeBudget) count(r DropReason, k int) {
	if k <= 0 {
		return
	}
	b.cmu.Lock()
	b.drops[r] += uint64(k)
	b.cmu.Unlock()
}

func (b *nodeBudget) dropped() map[DropReason]uint64 {
	b.cmu.Lock()
	defer b.cmu.Unlock()
	return maps.Clone(b.drops)
}

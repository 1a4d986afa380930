package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Announcements: how a write reaches the peers before the next anti-entropy
// round.
//
// This device's own envelopes are announced from the store's change signal
// (announceLoop): at each commit that changed the set (Store.Changed), when
// the head of this device's chain moved, the node broadcasts the new head.
// One announcement of the head is enough, as a pull of it brings the chain
// before it. So a post goes: the app's write, Store.AddOwn, one commit,
// Changed closes, announceLoop reads Store.Head, broadcast.
//
// memberlist sends a user broadcast only from its origin, a few times; so
// each node re-broadcasts an announcement once, the first time it hears it,
// as Serf does. The handler never blocks memberlist: it queues a pull (the
// pulls channel, pullQueue deep) and returns; pullLoop syncs with the holder.
//
// Encoding, 107 bytes, integers big-endian:
//
//	type u8 = 1 || author [32] || seq u64 (> 0) || header ID [32] ||
//	holder [32] || holder's sync port u16
//
// The holder is the device that holds the envelope, pulled from at the
// sync address its gossip metadata gives; the port is kept for the wire
// format's sake (a holder that is no gossip peer is not pulled from).

const (
	announceType = 1
	announceSize = 1 + 32 + 8 + 32 + 32 + 2
	// announceRetransmitMult sets how many times each node sends an
	// announcement (see memberlistConfig).
	announceRetransmitMult = 8
	// pullQueue bounds the pulls waiting for pullLoop.
	pullQueue = 256
)

// errAnnounce is returned for an announcement that does not decode.
var errAnnounce = errors.New("malformed announcement")

// announcement says that holder holds author's chain up to seq, whose
// header is id.
type announcement struct {
	author crypto.DeviceID
	seq    uint64
	id     envelope.Hash
	holder crypto.DeviceID
	port   uint16
}

func (a announcement) encode() []byte {
	b := make([]byte, 0, announceSize)
	b = append(b, announceType)
	b = append(b, a.author[:]...)
	b = binary.BigEndian.AppendUint64(b, a.seq)
	b = append(b, a.id[:]...)
	b = append(b, a.holder[:]...)
	return binary.BigEndian.AppendUint16(b, a.port)
}

// decodeAnnounce reads an announcement; it copies what it keeps.
func decodeAnnounce(b []byte) (announcement, error) {
	var a announcement
	if len(b) != announceSize || b[0] != announceType {
		return a, fmt.Errorf("%w: %d bytes", errAnnounce, len(b))
	}
	copy(a.author[:], b[1:33])
	a.seq = binary.BigEndian.Uint64(b[33:41])
	copy(a.id[:], b[41:73])
	copy(a.holder[:], b[73:105])
	a.port = binary.BigEndian.Uint16(b[105:107])
	if a.seq == 0 {
		return a, fmt.Errorf("%w: sequence 0", errAnnounce)
	}
	return a, nil
}

// announceLoop announces this device's envelopes as the store commits
// them: the head of its chain, each time it moved past announced.
func (n *Node) announceLoop(announced uint64) {
	defer n.wg.Done()
	self := n.dev.ID()
	for {
		// The channel is taken before the head is read: a commit in
		// between closes it, and the loop reads again.
		changed := n.store.Changed()
		if h := n.store.Head(self); h.Seq > announced {
			announced = h.Seq
			a := announcement{author: self, seq: h.Seq, id: h.Head, holder: self, port: uint16(n.cfg.SyncPort)}
			n.bud.mu.Lock()
			n.bud.seen.add(a.id, n.now())
			n.bud.mu.Unlock()
			n.broadcast(a.encode())
		}
		select {
		case <-n.stop:
			return
		case <-changed:
		}
	}
}

// broadcast queues msg in memberlist's broadcast queue, which holds at most
// QueueMax messages: past it, those sent most often and the oldest go.
func (n *Node) broadcast(msg []byte) {
	n.queue.QueueBroadcast(broadcast(msg))
	if over := n.queue.NumQueued() - n.bud.cfg.QueueMax; over > 0 {
		n.queue.Prune(n.bud.cfg.QueueMax)
		n.drop(BudgetQueuePruned, over)
	}
}

// pull is an announced envelope, and where to fetch it.
type pull struct {
	addr   string // the holder's sync address
	author crypto.DeviceID
	seq    uint64
}

// handleAnnounce takes an announcement heard on the gossip: the first time,
// within the announcement budgets, it re-broadcasts it and queues a pull.
// It runs on memberlist's receive path (see delegate.NotifyMsg): it reads
// no store and never blocks.
func (n *Node) handleAnnounce(a announcement) {
	now := n.now()
	b := n.bud
	b.mu.Lock()
	dup := b.seen.has(a.id, now)
	b.mu.Unlock()
	if dup {
		n.drop(DropAnnounceSeen, 1)
		return
	}
	addr := ""
	n.mu.Lock()
	if p := n.peers[a.holder.String()]; p != nil {
		addr = p.SyncAddr
	}
	n.mu.Unlock()
	// Rated by the holder named (the gossip does not say who sent it):
	// holders that are no gossip peer share one budget.
	key := a.holder
	if addr == "" {
		key = crypto.DeviceID{}
	}
	switch b.announce.allow(key, now) {
	case limitPeer:
		n.drop(BudgetAnnounceRate, 1)
		return
	case limitTotal:
		n.drop(BudgetAnnounceTotal, 1)
		return
	}
	// Remembered only once accepted: a refused one may come again from
	// an honest peer.
	b.mu.Lock()
	b.seen.add(a.id, now)
	b.mu.Unlock()
	// Re-broadcast once, on first receipt.
	n.broadcast(a.encode())
	if addr == "" {
		n.drop(BudgetAnnounceHolder, 1)
		return
	}
	select {
	case n.pulls <- pull{addr: addr, author: a.author, seq: a.seq}:
	default: // full: anti-entropy will catch up
		n.drop(BudgetPullQueue, 1)
	}
}

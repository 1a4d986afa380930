package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
)

// delegate adapts Node to memberlist's delegates. What memberlist
// guarantees, and what each method must therefore do:
//
//   - Delegate methods (NodeMeta, NotifyMsg, GetBroadcasts, LocalState,
//     MergeRemoteState) are called concurrently, from memberlist's packet
//     and stream handlers and its gossip timer. NotifyMsg and GetBroadcasts
//     run on the UDP receive path: they must not block, nor touch the
//     store, nor do I/O. NotifyMsg's slice is memberlist's buffer, reused
//     after it returns: what is kept is copied (decodeAnnounce does).
//   - NotifyAlive and the event methods (NotifyJoin, NotifyUpdate,
//     NotifyLeave) are called with memberlist's node lock held, never
//     concurrently with one another: they must not call back into
//     memberlist (NumMembers, Members, Join: a deadlock), must not block,
//     and must not keep the *memberlist.Node (memberlist changes it later).
//     NotifyAlive's error vetoes the member.
//   - NodeMeta's answer must fit in its limit (memberlist.MetaMaxSize):
//     memberlistConfig checks that at start, as it must not fail later.
//
// A message that does not decode is counted (Node.Dropped) and dropped,
// never fatal.
type delegate struct{ n *Node }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.AliveDelegate = (*delegate)(nil)
)

// Node metadata, what a member tells the others about itself in its alive
// messages: version u8 = 1 || device [32] || sync port u16 (35 bytes, far
// under memberlist's 512).
const (
	metaVersion = 1
	metaSize    = 1 + 32 + 2
)

// errMeta is returned for node metadata that does not decode.
var errMeta = errors.New("malformed node metadata")

// nodeMeta is what a member's metadata says.
type nodeMeta struct {
	device   crypto.DeviceID
	syncPort uint16
}

func (m nodeMeta) encode() []byte {
	b := append(make([]byte, 0, metaSize), metaVersion)
	b = append(b, m.device[:]...)
	return binary.BigEndian.AppendUint16(b, m.syncPort)
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) != metaSize || b[0] != metaVersion {
		return m, fmt.Errorf("%w: %d bytes", errMeta, len(b))
	}
	copy(m.device[:], b[1:33])
	m.syncPort = binary.BigEndian.Uint16(b[33:])
	return m, nil
}

// NotifyAlive vetoes a gossip member that is not a member of the community
// or is revoked: during the transport key's grace period a revoked device
// still holds an accepted key, and must not take part all the same. Its
// metadata names its device; streams check the same with a signature. A
// member this store does not know yet (invited after its last sync) is
// refused too, and probed: a stream to its sync port brings its proof, so
// that its next alive message is accepted. The probe runs in a goroutine
// of its own.
func (d *delegate) NotifyAlive(m *memberlist.Node) error {
	if m.Name == d.n.dev.ID().String() {
		return nil
	}
	meta, err := decodeMeta(m.Meta)
	if err != nil || m.Name != meta.device.String() {
		d.n.drop(DropMetaMalformed, 1)
		return errors.New("gossip member without valid metadata")
	}
	err = d.n.checkPeer(meta.device, nil)
	if err != nil {
		d.n.drop(DropGossipMember, 1)
	}
	var r *crypto.Refusal
	if errors.As(err, &r) && r.Reason == crypto.RefusedMembership {
		d.n.probe(meta.device, m.Addr, meta.syncPort)
	}
	return err
}

// NodeMeta returns this node's metadata.
func (d *delegate) NodeMeta(limit int) []byte {
	return nodeMeta{device: d.n.dev.ID(), syncPort: uint16(d.n.cfg.SyncPort)}.encode()
}

// NotifyMsg takes a user message: an announcement.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != announceType {
		d.n.drop(DropMessageType, 1)
		return
	}
	a, err := decodeAnnounce(b)
	if err != nil {
		d.n.drop(DropAnnounceMalformed, 1)
		return
	}
	d.n.handleAnnounce(a)
}

// GetBroadcasts hands memberlist the announcements queued.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.queue.GetBroadcasts(overhead, limit)
}

// LocalState and MergeRemoteState: nothing rides on push-pull; the set of
// envelopes is compared by sync streams.
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

// update records an event of member m in the peer table.
func (d *delegate) update(m *memberlist.Node, state string) {
	if m.Name == d.n.dev.ID().String() {
		return
	}
	meta, err := decodeMeta(m.Meta)
	if err != nil {
		d.n.drop(DropMetaMalformed, 1)
		return
	}
	n := d.n
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setMember(m, meta.device, meta.syncPort, state)
}

// broadcast is a memberlist.Broadcast that never invalidates another: a
// UniqueBroadcast, so queueing it does not scan the queue.
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}
func (b broadcast) UniqueBroadcast()                      {}

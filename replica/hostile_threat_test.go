package replica_test

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"log"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// Attacks of noroshi-proof hostile (a member process that forges at full
// speed) that an honest node dropped without counting them: each must now
// show under its reason in Node.Dropped, as `noroshi peers --json` shows.

// hostileStream opens a sync stream to addr as member d of c, whose store
// r proves its membership, and returns the raw connection and the channel.
func hostileStream(t *testing.T, c *replicatest.Community, r *replicatest.Replica, addr string) (net.Conn, *crypto.Channel) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	proof, err := r.Store.MembershipProof(r.Dev.ID())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := r.Dev.Dev.Dial(rand.Reader, conn, [32]byte(c.ID), proof, func(crypto.DeviceID, []byte) error { return nil })
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return conn, ch
}

// waitDropped waits until node counts at least want under reason.
func waitDropped(t *testing.T, node *replica.Node, reason replica.DropReason, want uint64) {
	t.Helper()
	var got uint64
	settle(10*time.Second, func() uint64 { got = node.Dropped()[reason]; return got }, func(uint64) {})
	if got < want {
		t.Errorf("dropped %s: %d, want at least %d (all: %v)", reason, got, want, node.Dropped())
	}
}

// TestThreatOversizedFrameIsCounted: a member sends a frame header
// announcing 4 GiB after the handshake. The stream is closed (nothing is
// allocated for it), and counted as a broken protocol, a strike.
func TestThreatOversizedFrameIsCounted(t *testing.T) {
	w := newSyncWorld(t, "oversized frame", 5, replica.Budget{})
	hostile := replicatest.NewReplica(t, w.others[0], w.base...)
	conn, _ := hostileStream(t, w.c, hostile, w.node.SyncAddr())
	if _, err := conn.Write([]byte{0xff, 0xff, 0xff, 0xf0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, conn) // until the victim closes the stream
	waitDropped(t, w.node, replica.DropStreamProtocol, 1)
}

// TestThreatReplayedEnvelopesAreCounted: a member sends, as the envelopes
// the victim wanted, envelopes the victim already holds. They change
// nothing and are counted as duplicates.
func TestThreatReplayedEnvelopesAreCounted(t *testing.T) {
	w := newSyncWorld(t, "replayed envelopes", 20, replica.Budget{})
	hostile := replicatest.NewReplica(t, w.others[0], w.base...)
	replicatest.MustAdmit(t, hostile.Store, w.posts...)
	before := w.victim.Store.Digest()
	conn, ch := hostileStream(t, w.c, hostile, w.node.SyncAddr())
	// A summary that is never in sync, heads of no leaf, then the replays.
	sum := make([]byte, 1+32+16*8+1)
	sum[0] = 1
	rand.Read(sum[1 : len(sum)-1])
	if err := ch.WriteFrame(sum); err != nil {
		t.Fatal(err)
	}
	if m, err := ch.ReadFrame(); err != nil || m[0] != 3 {
		t.Fatalf("answer to the summary: %v %v", m, err)
	}
	if err := ch.WriteFrame([]byte{4, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ch.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 1 && m[0] == 6 {
			break
		}
	}
	frame := binary.AppendUvarint([]byte{5}, uint64(len(w.posts)))
	for _, e := range w.posts {
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		frame = append(binary.AppendUvarint(frame, uint64(len(b))), b...)
	}
	if err := ch.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	if err := ch.WriteFrame([]byte{6}); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, conn)
	waitDropped(t, w.node, replica.DropEnvelopeDup, uint64(len(w.posts)))
	if w.victim.Store.Digest() != before {
		t.Errorf("replayed envelopes changed the victim's set")
	}
}

// TestThreatRevokedGossipMemberIsCounted: a revoked device, still holding
// the transport key during its grace period, joins the gossip with valid
// metadata. It is not admitted, and each refusal is counted.
func TestThreatRevokedGossipMemberIsCounted(t *testing.T) {
	c := replicatest.New(t, "revoked gossip")
	victim, vm := c.Join("victim", "venue", crypto.RoleMember)
	gone, gm := c.Join("gone", "power", crypto.RoleMember)
	rev := c.Founder.Revoke(gone, 0)
	r := replicatest.NewReplica(t, victim, c.Genesis, vm, gm, rev)
	n := bgNode(t, c, r, replica.Budget{}, nil)

	id := gone.ID()
	meta := binary.BigEndian.AppendUint16(append([]byte{1}, id[:]...), 1)
	mc := memberlist.DefaultLocalConfig()
	mc.Name = id.String()
	mc.BindAddr, mc.BindPort = "127.0.0.1", 0
	mc.Delegate = hostileDelegate{meta}
	mc.Logger = log.New(io.Discard, "", 0)
	kr, err := memberlist.NewKeyring([][]byte{c.TransportKey()}, c.TransportKey())
	if err != nil {
		t.Fatal(err)
	}
	mc.Keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Shutdown()
	ml.Join([]string{n.GossipAddr()}) // refused: the error is expected
	waitDropped(t, n, replica.DropGossipMember, 1)
	if got := n.GossipMembers(); got != 1 {
		t.Errorf("the victim's gossip holds %d members, want itself alone", got)
	}
}

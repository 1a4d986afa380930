package replica_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// startNode runs a node for r on loopback, alone (no join), with real TCP
// streams.
func startNode(t *testing.T, c *replicatest.Community, r *replicatest.Replica) *replica.Node {
	t.Helper()
	n, err := replica.StartNode(r.Store, replica.NodeConfig{
		Device:              r.Dev.Dev,
		BindAddr:            "127.0.0.1",
		TransportKeys:       [][]byte{c.TransportKey()},
		AntiEntropyInterval: 1 << 40, // syncs only when the test says
		Test:                true,
		Logf:                t.Logf,
	})
	if err != nil {
		t.Fatalf("start %s's node: %v", r.Dev.Name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func peerState(n *replica.Node, d crypto.DeviceID) (replica.PeerState, bool) {
	for _, p := range n.Peers() {
		if p.Device == d {
			return p, true
		}
	}
	return replica.PeerState{}, false
}

// TestThreatNewcomerReachesOlderPeer: a device invited after a peer last
// synced is not refused by that peer: it proves its membership in the
// handshake, and the sync that follows brings its certificates' chains.
// Both sides hold only their own stores.
func TestThreatNewcomerReachesOlderPeer(t *testing.T) {
	c := replicatest.New(t, "newcomer")
	p, pm := c.Join("older peer", "org a", crypto.RoleMember)
	older := replicatest.NewReplica(t, p, c.Genesis, pm)
	// After the older peer's last sync, the coordinator writes and then
	// invites a newcomer: the invite holds the coordinator's chain.
	post := c.Founder.Post("after the older peer's last sync")
	nd, nm := c.Join("newcomer", "org b", crypto.RoleMember)
	newcomer := replicatest.NewReplica(t, nd, c.Genesis, pm, post, nm)
	hello := newcomer.Write("hello from the newcomer")

	pn := startNode(t, c, older)
	nn := startNode(t, c, newcomer)
	st, err := nn.SyncWith(pn.SyncAddr())
	if err != nil {
		t.Fatalf("newcomer's sync with the older peer: %v, want it to succeed", err)
	}
	// The older peer admits what it was sent after the newcomer's side
	// returns: wait for its store's change (or give up after a long while).
	for {
		changed := older.Store.Changed()
		if _, err := older.Store.Get(hello.ID()); err == nil {
			break
		}
		select {
		case <-changed:
		case <-time.After(time.Minute):
			t.Fatalf("older peer: no change a minute after the sync")
		}
	}
	if _, ok := older.Store.Trust().Member(nd.ID()); !ok {
		t.Errorf("older peer: the newcomer is not a member after the sync")
	}
	if _, err := older.Store.Get(hello.ID()); err != nil {
		t.Errorf("older peer lacks the newcomer's post after the sync (sync stats %+v): %v", st, err)
	}
	// And the other way: the older peer dials the newcomer.
	if _, err := pn.SyncWith(nn.SyncAddr()); err != nil {
		t.Errorf("older peer's sync with the newcomer: %v", err)
	}
	if got := pn.Refusals(); len(got) != 0 {
		t.Errorf("older peer's refusals: %v, want none", got)
	}
}

// A device that is no member, whatever it sends as proof, is refused, and
// both sides say why.
func TestStrangerRefusedWithReason(t *testing.T) {
	c := replicatest.New(t, "stranger")
	p, pm := c.Join("member", "org a", crypto.RoleMember)
	member := replicatest.NewReplica(t, p, c.Genesis, pm)
	// A stranger holds the community's genesis, and a membership of its
	// own that it signed itself.
	s := c.Device("stranger", "org x")
	self := s.Cert(&crypto.Certificate{Membership: func() *crypto.Membership { m := s.Membership(crypto.RoleCoordinator); return &m }()})
	stranger := replicatest.NewReplica(t, s)
	replicatest.Add(t, stranger.Store, c.Genesis, pm, self)

	mn := startNode(t, c, member)
	sn := startNode(t, c, stranger)
	_, err := sn.SyncWith(mn.SyncAddr())
	var r *crypto.Refusal
	if !errors.As(err, &r) || !r.Remote || r.Reason != crypto.RefusedMembership {
		t.Fatalf("stranger's sync: got %v, want a refusal by the peer for an unknown membership", err)
	}
	if got := mn.Refusals()["membership-unknown"]; got != 1 {
		t.Errorf("member's refusals: %v, want membership-unknown 1", mn.Refusals())
	}
	if ps, ok := peerState(sn, p.ID()); !ok || ps.Refused == nil || ps.Refused.Reason != "membership-unknown" || !ps.Refused.ByPeer {
		t.Errorf("stranger's view of the member: %+v, want refused by the peer, membership-unknown", ps)
	}
}

// A peer of another community: both sides say so.
func TestOtherCommunityRefusedWithReason(t *testing.T) {
	a, b := replicatest.New(t, "community a"), replicatest.New(t, "community b")
	ra := replicatest.NewReplica(t, a.Founder, a.Genesis)
	rb := replicatest.NewReplica(t, b.Founder, b.Genesis)
	na, nb := startNode(t, a, ra), startNode(t, b, rb)
	_, err := na.SyncWith(nb.SyncAddr())
	if err == nil || !strings.Contains(err.Error(), "peer is of another community, or this is not a Noroshi sync port") {
		t.Errorf("sync across communities: got %v, want the message about another community", err)
	}
}

// TestThreatRevokedDeviceIsTold: a revoked device that connects to a peer
// is refused, and told: the peer sends it the revocation, which it admits
// (so its trust says it is revoked) and it records the reason.
func TestThreatRevokedDeviceIsTold(t *testing.T) {
	c := replicatest.New(t, "revoked")
	p, pm := c.Join("peer", "org a", crypto.RoleMember)
	v, vm := c.Join("revoked one", "org b", crypto.RoleMember)
	// The revoked device last synced before a few more envelopes of the
	// coordinator and its own revocation.
	revokedStore := replicatest.NewReplica(t, v, c.Genesis, pm, vm)
	more := []*envelope.Envelope{c.Founder.Post("one"), c.Founder.Post("two")}
	rev := c.Founder.Revoke(v, 0)
	peerStore := replicatest.NewReplica(t, p, append([]*envelope.Envelope{c.Genesis, pm, vm}, append(more, rev)...)...)

	pn := startNode(t, c, peerStore)
	vn := startNode(t, c, revokedStore)
	_, err := vn.SyncWith(pn.SyncAddr())
	var r *crypto.Refusal
	if !errors.As(err, &r) || !r.Remote || r.Reason != crypto.RefusedRevoked {
		t.Fatalf("revoked device's sync: got %v, want a refusal by the peer: revoked", err)
	}
	if _, revoked := revokedStore.Store.Trust().Revoked(v.ID()); !revoked {
		t.Errorf("revoked device's own trust does not say it is revoked after the refusal")
	}
	if ps, ok := peerState(vn, p.ID()); !ok || ps.Refused == nil || ps.Refused.Reason != "revoked" {
		t.Errorf("revoked device's view of the peer: %+v, want refused: revoked", ps)
	}
	if got := pn.Refusals()["revoked"]; got != 1 {
		t.Errorf("peer's refusals: %v, want revoked 1", pn.Refusals())
	}
}

func TestMembershipProofBounds(t *testing.T) {
	c := replicatest.New(t, "proof")
	d, dm := c.Join("member", "org a", crypto.RoleMember)
	r := replicatest.NewReplica(t, d, c.Genesis, dm)
	proof, err := r.Store.MembershipProof(d.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("membership proof of a member admitted by the founder: %d bytes", len(proof))
	if _, err := r.Store.MembershipProof(c.Device("nobody", "x").ID()); err == nil {
		t.Errorf("proof of a device that is no member: got one, want an error")
	}
	// Another store that knows only the genesis learns the member from it.
	other := replicatest.NewReplica(t, c.Founder, c.Genesis)
	if err := other.Store.ProvesMember(d.ID(), proof); err != nil {
		t.Errorf("ProvesMember: %v", err)
	}
	if _, err := other.Store.AdmitProof(proof); err != nil {
		t.Errorf("AdmitProof: %v", err)
	}
	if _, ok := other.Store.Trust().Member(d.ID()); !ok {
		t.Errorf("after AdmitProof, the member is unknown")
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0}, append(bytes.Clone(proof), 0), proof[:len(proof)-1], {1, 0xff, 0xff}} {
		if _, err := other.Store.AdmitProof(bad); !errors.Is(err, replica.ErrProof) {
			t.Errorf("AdmitProof(%.8x...): got %v, want ErrProof", bad, err)
		}
	}
}

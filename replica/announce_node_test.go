package replica_test

import (
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// waitStore waits until cond holds, checking it again at each change of
// store; it gives up after bound (a bound on the wait, not a timed
// assertion).
func waitStore(t *testing.T, store *replica.Store, bound time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		changed := store.Changed()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return cond()
		}
	}
}

// TestOwnWriteAnnouncedFromChangeSignal: a write stored on one device,
// with nothing but the store's commit to tell its node, reaches a peer by
// announcement and pull, with anti-entropy out of the way; the writer then
// counts the peer among the holders.
func TestOwnWriteAnnouncedFromChangeSignal(t *testing.T) {
	c := replicatest.New(t, "announce")
	da, am := c.Join("writer", "org a", crypto.RoleMember)
	db, bm := c.Join("reader", "org b", crypto.RoleMember)
	a := replicatest.NewReplica(t, da, c.Genesis, am, bm)
	b := replicatest.NewReplica(t, db, c.Genesis, am, bm)
	na, nb := startNode(t, c, a), startNode(t, c, b)
	if err := nb.Join(na.GossipAddr()); err != nil {
		t.Fatal(err)
	}
	known := func(n *replica.Node, d crypto.DeviceID) bool {
		p, ok := peerState(n, d)
		return ok && p.State == "alive"
	}
	for deadline := time.Now().Add(time.Minute); !known(na, db.ID()) || !known(nb, da.ID()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two nodes do not see each other alive after a minute")
		}
	}

	delivered := na.Delivered()
	e := a.Write("announced, not pulled by anti-entropy")
	if !waitStore(t, b.Store, time.Minute, func() bool { _, err := b.Store.Get(e.ID()); return err == nil }) {
		t.Fatalf("the reader lacks the write a minute after it was stored (dropped %v)", nb.Dropped())
	}
	// The reader pulled from the writer: the writer's side of that sync
	// counts the reader as a holder of sequence e.Header.Seq.
	select {
	case <-delivered:
	case <-time.After(time.Minute):
		t.Fatal("Delivered not closed a minute after the reader pulled")
	}
	if got := na.Holders(e.Header.Seq); len(got) != 1 || got[0] != db.ID() {
		t.Errorf("holders of sequence %d: got %v, want the reader", e.Header.Seq, got)
	}
}

// TestDroppedMessagesCounted: gossip messages that do not decode are
// counted by reason, not taken.
func TestDroppedMessagesCounted(t *testing.T) {
	w := newFloodWorld(t, replica.Budget{})
	announce := make([]byte, 1+32+8+32+32+2)
	announce[0] = 1
	for _, msg := range [][]byte{
		{9, 1, 2},           // unknown type
		announce[:50],       // truncated announcement
		announce,            // sequence 0
		append(announce, 0), // one byte too many
	} {
		if err := w.h.ml.SendToAddress(w.h.to, msg); err != nil {
			t.Fatal(err)
		}
	}
	want := map[replica.DropReason]uint64{replica.DropMessageType: 1, replica.DropAnnounceMalformed: 3}
	ok := func() bool {
		d := w.node.Dropped()
		return d[replica.DropMessageType] >= want[replica.DropMessageType] && d[replica.DropAnnounceMalformed] >= want[replica.DropAnnounceMalformed]
	}
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %v a minute after sending, want at least %v", w.node.Dropped(), want)
		}
	}
	if d := w.node.Budgets().Dropped; d[replica.DropAnnounceMalformed] == 0 {
		t.Errorf("Budgets().Dropped %v does not show what Dropped shows", d)
	}
}

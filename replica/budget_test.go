package replica_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// Budgets of rule 7 on real Nodes over loopback: what a hostile member
// sending at full speed makes an honest node hold. Sizes and heap are
// asserted against the budget (replica.Budget), never a time; waits only
// bound how long the test lets the network settle.

// bgNode starts a Node for r on loopback that runs no anti-entropy of its
// own (the test drives every sync), with budget bud.
func bgNode(t testing.TB, c *replicatest.Community, r *replicatest.Replica, bud replica.Budget, dial func(string) (net.Conn, error)) *replica.Node {
	t.Helper()
	n, err := replica.StartNode(r.Store, replica.NodeConfig{
		Device:              r.Dev.Dev,
		BindAddr:            "127.0.0.1",
		TransportKeys:       [][]byte{c.TransportKey()},
		AntiEntropyInterval: time.Hour,
		Test:                true,
		Budget:              bud,
		Dial:                dial,
	})
	if err != nil {
		t.Fatalf("start %s's node: %v", r.Dev.Name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// dialFrom returns a dialer whose streams leave from the loopback address ip
// (127.0.0.0/8 is all loopback on Linux): a peer on another host.
func dialFrom(ip string) func(string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return d.Dial("tcp", addr)
	}
}

// liveHeap returns the live heap after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// settle polls f until its value stops changing for a few polls (at most
// limit), calling each on every value seen.
func settle[T comparable](limit time.Duration, f func() T, each func(T)) {
	deadline := time.Now().Add(limit)
	var last T
	same := 0
	for same < 5 && time.Now().Before(deadline) {
		v := f()
		each(v)
		if v == last {
			same++
		} else {
			same, last = 0, v
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostileGossip is a member's memberlist without a Node: it holds the
// transport key and a member's metadata, and sends what it likes.
type hostileGossip struct {
	ml   *memberlist.Memberlist
	id   crypto.DeviceID
	to   memberlist.Address
	sent int
}

type hostileDelegate struct{ meta []byte }

func (d hostileDelegate) NodeMeta(int) []byte                  { return d.meta }
func (hostileDelegate) NotifyMsg([]byte)                       {}
func (hostileDelegate) GetBroadcasts(int, int) [][]byte        { return nil }
func (hostileDelegate) LocalState(bool) []byte                 { return nil }
func (hostileDelegate) MergeRemoteState(buf []byte, join bool) {}

// joinHostile joins victim's gossip as member d.
func joinHostile(t testing.TB, c *replicatest.Community, d *replicatest.Device, victim *replica.Node, victimID crypto.DeviceID) *hostileGossip {
	t.Helper()
	id := d.ID()
	meta := append([]byte{1}, id[:]...)
	meta = binary.BigEndian.AppendUint16(meta, 1)
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
	t.Cleanup(func() { ml.Shutdown() })
	if _, err := ml.Join([]string{victim.GossipAddr()}); err != nil {
		t.Fatalf("hostile member cannot join: %v", err)
	}
	h := &hostileGossip{ml: ml, id: id, to: memberlist.Address{Addr: victim.GossipAddr(), Name: victimID.String()}}
	// The victim must know the hostile member as a gossip peer (its
	// announcements then name a known holder).
	for deadline := time.Now().Add(20 * time.Second); victim.GossipMembers() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the victim did not admit the hostile member to its gossip")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return h
}

// flood sends n announcements of envelopes that do not exist, each new,
// naming the hostile member as author and holder, as fast as it can.
func (h *hostileGossip) flood(t testing.TB, n int) {
	t.Helper()
	msg := make([]byte, 1+32+8+32+32+2)
	msg[0] = 1
	copy(msg[1:33], h.id[:])
	copy(msg[73:105], h.id[:])
	binary.BigEndian.PutUint16(msg[105:], 1)
	for range n {
		h.sent++
		binary.BigEndian.PutUint64(msg[33:41], uint64(h.sent))
		binary.BigEndian.PutUint64(msg[41:49], uint64(h.sent))
		copy(msg[49:73], h.id[:24])
		if err := h.ml.SendToAddress(h.to, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// floodWorld is a victim node with a community store, and a hostile member.
type floodWorld struct {
	c      *replicatest.Community
	victim *replicatest.Replica
	node   *replica.Node
	h      *hostileGossip
}

func newFloodWorld(t testing.TB, bud replica.Budget) *floodWorld {
	t.Helper()
	c := replicatest.New(t, "flood")
	victim, vm := c.Join("victim", "venue", crypto.RoleMember)
	hostile, hm := c.Join("hostile", "power", crypto.RoleMember)
	r := replicatest.NewReplica(t, victim, c.Genesis, vm, hm)
	n := bgNode(t, c, r, bud, nil)
	return &floodWorld{c: c, victim: r, node: n, h: joinHostile(t, c, hostile, n, victim.ID())}
}

// run floods the victim with n announcements and waits until it has taken
// them in, checking the queue and the seen set against the budget at every
// look. It returns the heap growth and what the node holds at the end.
func (w *floodWorld) run(t testing.TB, n int) (int64, replica.BudgetStats) {
	t.Helper()
	bud := w.node.Budgets().Budget
	check := func(st replica.BudgetStats) {
		if st.Queue > bud.QueueMax {
			t.Errorf("broadcast queue holds %d announcements, budget %d", st.Queue, bud.QueueMax)
		}
		if st.Seen > bud.SeenMax {
			t.Errorf("seen set holds %d IDs, budget %d", st.Seen, bud.SeenMax)
		}
	}
	heap0 := liveHeap()
	t0 := time.Now()
	w.h.flood(t, n)
	t1 := time.Now()
	settle(30*time.Second, func() string {
		st := w.node.Budgets()
		check(st)
		return fmt.Sprint(st.Queue, st.Seen, st.Dropped)
	}, func(string) {})
	st := w.node.Budgets()
	check(st)
	t.Logf("flood sent in %s, taken in after %s", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	growth := liveHeap() - heap0
	runtime.KeepAlive(w)
	return growth, st
}

// announceHeapBudget is what the gossip's structures may hold (budget.go's
// doc: about 2 MiB), with room for memberlist's own handoff queue.
const announceHeapBudget = 4 << 20

func TestThreatAnnounceFloodStaysInBudget(t *testing.T) {
	t.Run("queue and seen set full", func(t *testing.T) {
		const n = 8000
		// Rates out of the way: every announcement that memberlist
		// hands over is taken, so the count budgets must hold.
		w := newFloodWorld(t, replica.Budget{QueueMax: 256, SeenMax: 2048,
			AnnounceRate: 1e9, AnnounceBurst: 1 << 30, AnnounceTotalRate: 1e9, AnnounceTotalBurst: 1 << 30})
		growth, st := w.run(t, n)
		t.Logf("%d announcements sent: queue %d, seen %d, heap grew %d KiB, refused %v", n, st.Queue, st.Seen, growth>>10, st.Dropped)
		if st.Dropped[replica.BudgetQueuePruned] == 0 {
			t.Errorf("nothing pruned from the broadcast queue: the flood did not reach its budget (refused %v)", st.Dropped)
		}
		if growth > announceHeapBudget {
			t.Errorf("heap grew by %d bytes under the flood, budget %d", growth, announceHeapBudget)
		}
	})
	t.Run("default rates", func(t *testing.T) {
		const n = 3000
		w := newFloodWorld(t, replica.Budget{})
		growth, st := w.run(t, n)
		t.Logf("%d announcements sent: queue %d, seen %d, heap grew %d KiB, refused %v", n, st.Queue, st.Seen, growth>>10, st.Dropped)
		if st.Dropped[replica.BudgetAnnounceRate] == 0 {
			t.Errorf("no announcement refused for its holder's rate (refused %v)", st.Dropped)
		}
		if growth > announceHeapBudget {
			t.Errorf("heap grew by %d bytes under the flood, budget %d", growth, announceHeapBudget)
		}
	})
}

// BenchmarkHostileAnnounceFlood: one op is one announcement a hostile member
// sends to a victim node at full speed; reported are the victim's heap
// growth, broadcast queue and seen set once it has taken them in.
func BenchmarkHostileAnnounceFlood(b *testing.B) {
	for _, tc := range []struct {
		name string
		bud  replica.Budget
	}{
		{"default", replica.Budget{}},
		{"no-rates", replica.Budget{AnnounceRate: 1e9, AnnounceBurst: 1 << 30, AnnounceTotalRate: 1e9, AnnounceTotalBurst: 1 << 30}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := newFloodWorld(b, tc.bud)
			b.ResetTimer()
			growth, st := w.run(b, b.N)
			b.StopTimer()
			b.ReportMetric(float64(growth), "heap-B")
			b.ReportMetric(float64(st.Queue), "queue")
			b.ReportMetric(float64(st.Seen), "seen")
			var refused uint64
			for _, v := range st.Dropped {
				refused += v
			}
			b.ReportMetric(float64(refused), "refused")
		})
	}
}

// syncWorld is a victim node holding posts, and member devices to ask it.
type syncWorld struct {
	c      *replicatest.Community
	base   []*envelope.Envelope
	posts  []*envelope.Envelope
	victim *replicatest.Replica
	node   *replica.Node
	others []*replicatest.Device
}

func newSyncWorld(t testing.TB, name string, posts int, bud replica.Budget) *syncWorld {
	t.Helper()
	w := &syncWorld{c: replicatest.New(t, name)}
	victim, vm := w.c.Join("victim", "venue", crypto.RoleMember)
	writers, wc := w.c.Members("writer", 4, crypto.RoleMember)
	others, oc := w.c.Members("peer", 3, crypto.RoleMember)
	w.others = others
	w.base = append(append([]*envelope.Envelope{w.c.Genesis, vm}, wc...), oc...)
	for i := 0; len(w.posts) < posts; i++ {
		w.posts = append(w.posts, writers[i%len(writers)].Post(fmt.Sprintf("post %d", i)))
	}
	w.victim = replicatest.NewReplica(t, victim, w.base...)
	replicatest.MustAdmit(t, w.victim.Store, w.posts...)
	w.node = bgNode(t, w.c, w.victim, bud, nil)
	return w
}

// TestThreatSyncRequestFloodIsRateLimited: a member that asks again and
// again with an empty store gets a bounded response each time and, past its
// rate, busy; others are still answered, and a peer that is behind gets
// the rest at its next rounds.
func TestThreatSyncRequestFloodIsRateLimited(t *testing.T) {
	const posts, cap, burst = 120, 25, 3
	t.Run("flood", func(t *testing.T) {
		w := newSyncWorld(t, "sync flood", posts, replica.Budget{SyncBurst: burst, SyncRate: 1e-9, ResponseEnvelopes: cap})
		hostile := replicatest.NewReplica(t, w.others[0], w.base...)
		hn := bgNode(t, w.c, hostile, replica.Budget{}, nil)
		answered, busy := 0, 0
		for range 20 {
			st, err := hn.SyncWith(w.node.SyncAddr())
			switch {
			case errors.Is(err, replica.ErrBusy):
				busy++
			case err != nil:
				t.Fatalf("sync: %v", err)
			default:
				answered++
				if st.Received > cap {
					t.Errorf("one response carried %d envelopes, budget %d", st.Received, cap)
				}
			}
		}
		if answered != burst || busy != 20-burst {
			t.Errorf("answered %d, busy %d; want %d answered (the burst), %d busy", answered, busy, burst, 20-burst)
		}
		refused := w.node.Budgets().Dropped
		if refused[replica.BudgetSyncRate] != uint64(20-burst) {
			t.Errorf("refusals for the sync rate: %d, want %d (all %v)", refused[replica.BudgetSyncRate], 20-burst, refused)
		}
		if refused[replica.BudgetResponseCapped] != burst {
			t.Errorf("responses capped: %d, want %d (each answer stops at its budget)", refused[replica.BudgetResponseCapped], burst)
		}
		// Another member is still answered.
		other := replicatest.NewReplica(t, w.others[1], w.base...)
		on := bgNode(t, w.c, other, replica.Budget{}, nil)
		if st, err := on.SyncWith(w.node.SyncAddr()); err != nil || st.Received == 0 {
			t.Errorf("another member's sync during the flood: %+v, %v; want envelopes", st, err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// A peer whose answers used up its bytes is answered busy
		// until its bucket refills (here: never).
		w := newSyncWorld(t, "sync bytes", posts, replica.Budget{SendBurst: 20_000, SendRate: 1e-9})
		hostile := replicatest.NewReplica(t, w.others[0], w.base...)
		hn := bgNode(t, w.c, hostile, replica.Budget{}, nil)
		got, busy := 0, 0
		for range 8 {
			st, err := hn.SyncWith(w.node.SyncAddr())
			switch {
			case errors.Is(err, replica.ErrBusy):
				busy++
			case err != nil:
				t.Fatalf("sync: %v", err)
			case busy > 0:
				t.Errorf("answered again after busy, with no time to refill")
			default:
				got += st.Received
			}
		}
		if got == 0 || got >= posts || busy < 5 {
			t.Errorf("%d envelopes in answers, %d syncs busy; want some but not the %d held, and at least 5 busy", got, busy, posts)
		}
		if r := w.node.Budgets().Dropped[replica.BudgetSendBytes]; r != uint64(busy) {
			t.Errorf("refusals for bytes sent: %d, want %d", r, busy)
		}
	})
	t.Run("the rest at the next rounds", func(t *testing.T) {
		w := newSyncWorld(t, "sync rest", posts, replica.Budget{SyncBurst: 100, ResponseEnvelopes: cap})
		peer := replicatest.NewReplica(t, w.others[2], w.base...)
		pn := bgNode(t, w.c, peer, replica.Budget{}, nil)
		rounds := 0
		for ; peer.Store.Digest() != w.victim.Store.Digest(); rounds++ {
			if rounds > posts/cap+2 {
				t.Fatalf("not converged after %d rounds of at most %d envelopes", rounds, cap)
			}
			st, err := pn.SyncWith(w.node.SyncAddr())
			if err != nil {
				t.Fatalf("round %d: %v", rounds, err)
			}
			if st.Received > cap {
				t.Errorf("round %d carried %d envelopes, budget %d", rounds, st.Received, cap)
			}
		}
		if p := peer.Store.Pending(); len(p) != 0 {
			t.Errorf("held back after converging: %v", p)
		}
		t.Logf("%d posts in %d rounds of at most %d", posts, rounds, cap)
	})
}

// TestThreatHandshakeSlotsAreBounded: streams that connect and never speak
// hold at most the handshake budget, per source address and in total, each
// for the handshake timeout; a real peer from elsewhere still syncs.
func TestThreatHandshakeSlotsAreBounded(t *testing.T) {
	const total, perIP = 8, 2
	w := newSyncWorld(t, "handshakes", 10, replica.Budget{Handshakes: total, HandshakesPerIP: perIP, HandshakeTimeout: 3 * time.Second})
	addr := w.node.SyncAddr()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	open := func(ip string, n int) {
		for range n {
			c, err := dialFrom(ip)(addr)
			if err != nil {
				t.Fatalf("dial from %s: %v", ip, err)
			}
			conns = append(conns, c)
		}
	}
	watch := func(max int, want replica.DropReason, wantCount uint64) {
		t.Helper()
		settle(20*time.Second, func() uint64 {
			st := w.node.Budgets()
			if st.Handshakes > max {
				t.Errorf("%d handshakes held, budget %d", st.Handshakes, max)
			}
			return st.Dropped[want]
		}, func(uint64) {})
		if got := w.node.Budgets().Dropped[want]; got < wantCount {
			t.Errorf("refusals %s: %d, want at least %d", want, got, wantCount)
		}
	}
	// One address opens 60 silent streams: it holds perIP slots.
	open("127.0.0.1", 60)
	watch(perIP, replica.BudgetHandshakesPerIP, 60-perIP)
	peer := replicatest.NewReplica(t, w.others[0], w.base...)
	pn := bgNode(t, w.c, peer, replica.Budget{}, dialFrom("127.0.0.2"))
	if st, err := pn.SyncWith(addr); err != nil || st.Received == 0 {
		t.Fatalf("a real peer's sync while one address floods: %+v, %v", st, err)
	}
	// Many addresses: the total holds.
	for i := 3; i < 23; i++ {
		open(fmt.Sprintf("127.0.0.%d", i), perIP)
	}
	watch(total, replica.BudgetHandshakes, 40-total)
	// The slots free themselves at the timeout; the peer syncs again.
	for deadline := time.Now().Add(30 * time.Second); w.node.Budgets().Handshakes > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d handshakes still held 30s after they began (timeout 3s)", w.node.Budgets().Handshakes)
		}
	}
	replicatest.MustAdmit(t, w.victim.Store, w.others[1].Post("after the flood"))
	if st, err := pn.SyncWith(addr); err != nil || st.Received == 0 {
		t.Errorf("a real peer's sync after the flood: %+v, %v", st, err)
	}
}

// TestForwardingIsNotAStrike: a peer that forwards validly signed envelopes
// of an author this node has seen revoked (the peer had not) is not struck
// off: its next stream is accepted. Only envelopes that prove their sender
// broke the rules are strikes.
func TestForwardingIsNotAStrike(t *testing.T) {
	c := replicatest.New(t, "forwarding")
	coord, cm := c.Join("coord", "centre", crypto.RoleCoordinator)
	author, am := c.Join("author", "venue", crypto.RoleMember)
	fwd, fm := c.Join("forwarder", "power", crypto.RoleMember)
	vic, vm := c.Join("victim", "rail", crypto.RoleMember)
	base := []*envelope.Envelope{c.Genesis, cm, am, fm, vm}
	first := author.Post("before the revocation")
	var later []*envelope.Envelope
	for i := range 80 {
		later = append(later, author.Post(fmt.Sprintf("after the revocation %d", i)))
	}
	rev := coord.Cert(&crypto.Certificate{Revocation: &crypto.Revocation{Device: author.ID(), LastValidSeq: first.Header.Seq, LastValid: first.ID()}})

	f := replicatest.NewReplica(t, fwd, base...)
	replicatest.MustAdmit(t, f.Store, first)
	replicatest.MustAdmit(t, f.Store, later...)
	v := replicatest.NewReplica(t, vic, base...)
	replicatest.MustAdmit(t, v.Store, first, rev)
	fn := bgNode(t, c, f, replica.Budget{}, nil)
	vn := bgNode(t, c, v, replica.Budget{}, nil)

	// The victim asks; the forwarder answers with the author's later
	// envelopes before it learns of the revocation.
	st, err := vn.SyncWith(fn.SyncAddr())
	if err != nil {
		t.Fatalf("victim's sync: %v", err)
	}
	if st.Refused < 50 {
		t.Fatalf("victim refused %d envelopes, want the %d forwarded after the revocation", st.Refused, len(later))
	}
	if st.Bad != 0 {
		t.Errorf("%d refusals counted against the forwarder, want 0: all were validly signed", st.Bad)
	}
	// The forwarder is not ignored: its own stream is accepted.
	if _, err := fn.SyncWith(vn.SyncAddr()); err != nil {
		t.Errorf("the forwarder's next sync: %v; want it accepted (forwarding is no strike)", err)
	}
}

// Which refusals are strikes: only those that prove the sender broke the
// rules, whatever it knows of the community.
func TestSenderAtFault(t *testing.T) {
	for r, want := range map[replica.Reason]bool{
		replica.ReasonMalformed: true, replica.ReasonSignature: true, replica.ReasonPayloadHash: true, replica.ReasonCommunity: true,
		replica.ReasonNotMember: false, replica.ReasonNotAllowed: false, replica.ReasonRevoked: false, replica.ReasonEquivocation: false,
		replica.ReasonNoMembership: false, replica.ReasonNoPredecessor: false, replica.ReasonNoTarget: false,
		replica.ReasonClockAhead: false, replica.ReasonOverflow: false,
	} {
		if got := replica.SenderAtFault(r); got != want {
			t.Errorf("SenderAtFault(%s) = %v, want %v", r, got, want)
		}
	}
}

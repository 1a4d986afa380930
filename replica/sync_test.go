package replica_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// syWorld is a community for sync tests: writers that post, readers that
// only hold stores, and the envelopes (genesis, memberships) every store
// starts with.
type syWorld struct {
	c       *replicatest.Community
	writers []*replicatest.Device
	readers []*replicatest.Device
	base    []*envelope.Envelope
}

func newSyWorld(t testing.TB, name string, writers, readers int) *syWorld {
	t.Helper()
	w := &syWorld{c: replicatest.New(t, name)}
	var wc, rc []*envelope.Envelope
	w.writers, wc = w.c.Members("writer", writers, crypto.RoleMember)
	w.readers, rc = w.c.Members("reader", readers, crypto.RoleMember)
	w.base = append(append([]*envelope.Envelope{w.c.Genesis}, wc...), rc...)
	return w
}

// replica opens a store for d holding the base and envs.
func (w *syWorld) replica(t testing.TB, d *replicatest.Device, envs ...*envelope.Envelope) *replicatest.Replica {
	t.Helper()
	r := replicatest.NewReplica(t, d, w.base...)
	if len(envs) > 0 {
		replicatest.MustAdmit(t, r.Store, envs...)
	}
	return r
}

// syClone closes r's store, copies its file for d, and opens both.
func syClone(t testing.TB, r *replicatest.Replica, d *replicatest.Device) *replicatest.Replica {
	t.Helper()
	r.Close()
	b, err := os.ReadFile(r.Cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := replicatest.Config(t, d.ID(), nil)
	if err := os.WriteFile(cfg.Path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r.Reopen()
	return replicatest.OpenReplica(t, d, cfg)
}

// syPosts has each device post n envelopes, taking turns, and returns them
// in the order written.
func syPosts(devs []*replicatest.Device, n int, label string) []*envelope.Envelope {
	var out []*envelope.Envelope
	for j := 0; j < n; j++ {
		for _, d := range devs {
			out = append(out, d.Post(fmt.Sprintf("%s %s %d", label, d.Name, j)))
		}
	}
	return out
}

// syHeld returns the IDs in st, sorted, and the IDs of those whose payload
// is held.
func syHeld(t testing.TB, st *replica.Store) (all, withPayload []string) {
	t.Helper()
	for _, e := range replicatest.Since(t, st) {
		all = append(all, e.ID().String())
		if e.Payload != nil {
			withPayload = append(withPayload, e.ID().String())
		}
	}
	slices.Sort(all)
	slices.Sort(withPayload)
	return all, withPayload
}

// syExpectEqual checks that a and b hold the same envelopes and digest.
func syExpectEqual(t *testing.T, a, b *replicatest.Replica) {
	t.Helper()
	if da, db := a.Store.Digest(), b.Store.Digest(); da != db {
		t.Errorf("digests differ: %s %x, %s %x", a.Dev.Name, da[:6], b.Dev.Name, db[:6])
	}
	ia, _ := syHeld(t, a.Store)
	ib, _ := syHeld(t, b.Store)
	if !slices.Equal(ia, ib) {
		t.Errorf("%s holds %d envelopes, %s %d; want the same set", a.Dev.Name, len(ia), b.Dev.Name, len(ib))
	}
}

func TestSyncInSync(t *testing.T) {
	w := newSyWorld(t, "in sync", 3, 2)
	posts := syPosts(w.writers, 4, "post")
	a := w.replica(t, w.readers[0], posts...)
	b := w.replica(t, w.readers[1], posts...)
	res := replicatest.Sync(t, a, b)
	if !res.I.InSync || !res.R.InSync {
		t.Errorf("InSync: initiator %v, responder %v; want both true", res.I.InSync, res.R.InSync)
	}
	if res.I.RoundTrips != 1 {
		t.Errorf("round trips: got %d, want 1", res.I.RoundTrips)
	}
	if res.Bytes >= 1024 {
		t.Errorf("bytes on the wire in sync: got %d, want under 1 KiB", res.Bytes)
	}
	if res.I.Sent+res.I.Received+res.R.Sent+res.R.Received != 0 {
		t.Errorf("envelopes moved in sync: %+v %+v", res.I, res.R)
	}
}

func TestSyncDisjointWrites(t *testing.T) {
	w := newSyWorld(t, "disjoint", 6, 0)
	// a and b write their own chains; each also holds other writers'
	// chains that the other lacks, and some chains in common.
	common := syPosts(w.writers[4:], 3, "common")
	onlyA := append(syPosts(w.writers[0:1], 5, "a"), syPosts(w.writers[2:3], 3, "a holds")...)
	onlyB := append(syPosts(w.writers[1:2], 7, "b"), syPosts(w.writers[3:4], 4, "b holds")...)
	// A chain both hold, b further along than a.
	longer := syPosts(w.writers[5:6], 2, "longer")
	a := w.replica(t, w.writers[0], append(append(slices.Clone(common), onlyA...), longer[0])...)
	b := w.replica(t, w.writers[1], append(append(slices.Clone(common), onlyB...), longer...)...)

	for _, initiator := range []string{"a", "b"} {
		t.Run(initiator+" initiates", func(t *testing.T) {
			a, b := syClone(t, a, w.writers[0]), syClone(t, b, w.writers[1])
			i, r := a, b
			if initiator == "b" {
				i, r = b, a
			}
			res := replicatest.Sync(t, i, r)
			syExpectEqual(t, a, b)
			all, _ := syHeld(t, a.Store)
			if want := len(w.base) + len(common) + len(onlyA) + len(onlyB) + len(longer); len(all) != want {
				t.Errorf("after sync: %d envelopes, want %d (the union)", len(all), want)
			}
			gotA := res.I.Admitted
			if initiator == "b" {
				gotA = res.R.Admitted
			}
			if want := len(onlyB) + 1; gotA != want {
				t.Errorf("a admitted %d, want %d", gotA, want)
			}
			if res.I.RoundTrips != 2 {
				t.Errorf("round trips: got %d, want 2", res.I.RoundTrips)
			}
			if res.I.Refused+res.R.Refused != 0 {
				t.Errorf("refused: %d and %d, want none", res.I.Refused, res.R.Refused)
			}
			// Applying twice equals once.
			before := replicatest.Snap(t, a.Store)
			again := replicatest.Sync(t, i, r)
			if !again.I.InSync || again.Bytes >= 1024 {
				t.Errorf("second sync: InSync %v, %d bytes; want in sync under 1 KiB", again.I.InSync, again.Bytes)
			}
			if after := replicatest.Snap(t, a.Store); after != before {
				t.Errorf("a second sync changed the store")
			}
		})
	}
}

// A peer that holds only the genesis and its peer's membership gets every
// other membership and every post in one sync, whatever order they come in.
func TestSyncFromScratch(t *testing.T) {
	w := newSyWorld(t, "scratch", 4, 1)
	posts := syPosts(w.writers, 5, "post")
	a := w.replica(t, w.writers[0], posts...)
	b := replicatest.NewReplica(t, w.readers[0], w.base[:2]...)
	res := replicatest.Sync(t, b, a)
	syExpectEqual(t, a, b)
	if want := len(w.base) - 2 + len(posts); res.I.Admitted != want {
		t.Errorf("admitted: got %d, want %d", res.I.Admitted, want)
	}
	if p := b.Store.Pending(); len(p) != 0 {
		t.Errorf("pending after sync: %v, want none", p)
	}
}

func TestSyncForks(t *testing.T) {
	w := newSyWorld(t, "forks", 3, 2)
	x := w.writers[2]
	first := x.Post("x 1")
	pos := x.Pos
	forkA := x.PostAt(pos, w.c.Clock(), "x 2, as a sees it")
	forkB := x.PostAt(pos, w.c.Clock(), "x 2, as b sees it")
	afterA := x.PostAt(pos.Next(forkA.ID()), w.c.Clock(), "x 3 after a's branch")

	hasFork := func(st *replica.Store, id envelope.Hash) bool {
		for _, h := range st.Forks() {
			if h.Seq == 2 && sha(h) == id {
				return true
			}
		}
		return false
	}

	// Whatever branch each side holds, syncing ends with both sides
	// holding evidence of both branches, x frozen before the fork (at
	// seq 1), and equal digests.
	converged := func(t *testing.T, a, b *replicatest.Replica) {
		t.Helper()
		for _, r := range []*replicatest.Replica{a, b} {
			if !hasFork(r.Store, forkA.ID()) || !hasFork(r.Store, forkB.ID()) {
				t.Errorf("%s's evidence: branch a %v, branch b %v; want both", r.Dev.Name, hasFork(r.Store, forkA.ID()), hasFork(r.Store, forkB.ID()))
			}
			if got := r.Store.Head(x.ID()); got.Seq != 1 || got.Head != first.ID() {
				t.Errorf("%s's head of x: seq %d, want 1 (frozen before the fork)", r.Dev.Name, got.Seq)
			}
		}
		if a.Store.Digest() != b.Store.Digest() {
			t.Errorf("digests differ after the fork was learnt on both sides")
		}
	}

	t.Run("same length", func(t *testing.T) {
		a := w.replica(t, w.readers[0], first, forkA)
		b := w.replica(t, w.readers[1], first, forkB)
		res := replicatest.Sync(t, a, b)
		if res.I.Forks == 0 || res.R.Forks == 0 {
			t.Errorf("forks counted: initiator %d, responder %d; want both", res.I.Forks, res.R.Forks)
		}
		if res.I.Bad+res.R.Bad != 0 {
			t.Errorf("fork evidence counted as bad data: %d and %d", res.I.Bad, res.R.Bad)
		}
		converged(t, a, b)
		// Syncing again changes nothing.
		replicatest.Sync(t, b, a)
		converged(t, a, b)
	})

	for _, dir := range []string{"a initiates", "b initiates"} {
		t.Run("one branch longer, "+dir, func(t *testing.T) {
			a := w.replica(t, w.readers[0], first, forkA, afterA)
			b := w.replica(t, w.readers[1], first, forkB)
			i, r := a, b
			if dir == "b initiates" {
				i, r = b, a
			}
			for range 2 {
				res := replicatest.Sync(t, i, r)
				if res.I.Bad+res.R.Bad != 0 {
					t.Errorf("fork evidence counted as bad data: %d and %d", res.I.Bad, res.R.Bad)
				}
				i, r = r, i
			}
			converged(t, a, b)
		})
	}
}

func sha(h *envelope.Header) envelope.Hash {
	return (&envelope.Envelope{Header: h}).ID()
}

// syRecorder records the frames written to f and read from it.
type syRecorder struct {
	f           replica.Frames
	wrote, read [][]byte
}

func (r *syRecorder) WriteFrame(b []byte) error {
	r.wrote = append(r.wrote, bytes.Clone(b))
	return r.f.WriteFrame(b)
}

func (r *syRecorder) ReadFrame() ([]byte, error) {
	b, err := r.f.ReadFrame()
	if err == nil {
		r.read = append(r.read, bytes.Clone(b))
	}
	return b, err
}

// syEnvelopesIn decodes the envelopes carried by envelopes messages (type
// 5: count uvarint, then length uvarint and encoding each).
func syEnvelopesIn(t testing.TB, frames [][]byte) []*envelope.Envelope {
	t.Helper()
	var out []*envelope.Envelope
	for _, m := range frames {
		if len(m) == 0 || m[0] != 5 {
			continue
		}
		n, k := binary.Uvarint(m[1:])
		rest := m[1+k:]
		for range n {
			l, k := binary.Uvarint(rest)
			e, err := envelope.Decode(rest[k : k+int(l)])
			if err != nil {
				t.Fatalf("envelope on the wire: %v", err)
			}
			out = append(out, e)
			rest = rest[k+int(l):]
		}
	}
	return out
}

// RED-style envelopes (sealed to devices only) travel without their payload
// to other members, with it to the recipient and to a relay, which forwards
// it to the recipient when the author is away.
func TestSyncIndividualPayloads(t *testing.T) {
	w := newSyWorld(t, "red", 1, 0)
	author := w.writers[0]
	var certs []*envelope.Envelope
	other, m1 := w.c.Join("other", "org 1", crypto.RoleMember)
	recipient, m2 := w.c.Join("recipient", "org 2", crypto.RoleMember)
	relayDev, m3 := w.c.Join("relay", "org 0", crypto.RoleRelay)
	certs = append(certs, m1, m2, m3)
	w.base = append(w.base, certs...)
	red := author.PostTo("for the recipient only", recipient)
	green := author.Post("for everyone")

	src := w.replica(t, author, red, green)
	// sendFrom syncs from (initiator) to a new replica of d and returns
	// the envelopes on the wire and the replica.
	sendFrom := func(t *testing.T, from *replicatest.Replica, to *replicatest.Replica) []*envelope.Envelope {
		t.Helper()
		var rec *syRecorder
		res := replicatest.SyncOver(t, from, to, func(f replica.Frames) replica.Frames {
			rec = &syRecorder{f: f}
			return rec
		})
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		syExpectEqual(t, from, to)
		return syEnvelopesIn(t, rec.wrote)
	}
	payloadOf := func(envs []*envelope.Envelope, id envelope.Hash) (sent, withPayload bool) {
		for _, e := range envs {
			if e.ID() == id {
				return true, e.Payload != nil
			}
		}
		return false, false
	}
	stored := func(r *replicatest.Replica, id envelope.Hash) []byte {
		e, err := r.Store.Get(id)
		if err != nil {
			t.Fatalf("%s: %v", r.Dev.Name, err)
		}
		return e.Payload
	}

	toOther := w.replica(t, other)
	wire := sendFrom(t, src, toOther)
	if sent, p := payloadOf(wire, red.ID()); !sent || p {
		t.Errorf("to another member: RED sent %v, with payload %v; want the header only", sent, p)
	}
	if sent, p := payloadOf(wire, green.ID()); !sent || !p {
		t.Errorf("to another member: community post sent %v, with payload %v; want both", sent, p)
	}
	if stored(toOther, red.ID()) != nil {
		t.Errorf("another member stores the RED payload")
	}

	toRecipient := w.replica(t, recipient)
	wire = sendFrom(t, src, toRecipient)
	if sent, p := payloadOf(wire, red.ID()); !sent || !p {
		t.Errorf("to the recipient: RED sent %v, with payload %v; want both", sent, p)
	}
	e, _ := toRecipient.Store.Get(red.ID())
	if got, err := crypto.Open(e, recipient.Dev.Identity()); err != nil || !bytes.Contains(got, []byte("for the recipient only")) {
		t.Errorf("the recipient opens the RED payload: %q, %v", got, err)
	}

	cfg := replicatest.Config(t, relayDev.ID(), nil)
	cfg.KeepAllPayloads = true
	relay := replicatest.OpenReplica(t, relayDev, cfg, w.base...)
	wire = sendFrom(t, src, relay)
	if sent, p := payloadOf(wire, red.ID()); !sent || !p {
		t.Errorf("to a relay: RED sent %v, with payload %v; want both", sent, p)
	}
	if stored(relay, red.ID()) == nil {
		t.Errorf("the relay does not store the RED payload")
	}

	// The author is away: the relay forwards to the recipient, and only
	// the header to another member.
	recipient2 := replicatest.NewReplica(t, recipient, w.base...)
	wire = sendFrom(t, relay, recipient2)
	if sent, p := payloadOf(wire, red.ID()); !sent || !p {
		t.Errorf("relay to the recipient: RED sent %v, with payload %v; want both", sent, p)
	}
	if stored(recipient2, red.ID()) == nil {
		t.Errorf("the recipient did not get the RED payload from the relay")
	}
	other2 := replicatest.NewReplica(t, other, w.base...)
	wire = sendFrom(t, relay, other2)
	if sent, p := payloadOf(wire, red.ID()); !sent || p {
		t.Errorf("relay to another member: RED sent %v, with payload %v; want the header only", sent, p)
	}
}

// syFloor is what a sync of missing cannot cost less than: the envelopes'
// encoded bytes and 16 bytes per author that changed.
func syFloor(t testing.TB, missing []*envelope.Envelope) (floor, authors int) {
	t.Helper()
	changed := map[[32]byte]bool{}
	for _, e := range missing {
		changed[e.Header.Author] = true
	}
	return replicatest.Encoded(t, missing...) + 16*len(changed), len(changed)
}

// TestSyncCost measures the bytes on the wire (handshake included) and
// checks them against a bound proportional to what was missing: under 1 KiB
// in sync; at most 1.1 x the floor + 2 KiB when catching up.
func TestSyncCost(t *testing.T) {
	const authors, perAuthor = 50, 40
	w := newSyWorld(t, "cost", authors, 3)
	posts := syPosts(w.writers, perAuthor, "post")
	full := w.replica(t, w.readers[0], posts...)
	lack100 := w.replica(t, w.readers[1], posts[:len(posts)-100]...)
	lack1 := syClone(t, lack100, w.readers[1])
	replicatest.MustAdmit(t, lack1.Store, posts[len(posts)-100:len(posts)-1]...)
	same := syClone(t, full, w.readers[1])

	for _, tc := range []struct {
		k    int
		peer *replicatest.Replica
	}{{0, same}, {1, lack1}, {100, lack100}} {
		for _, dir := range []string{"responder lacks", "initiator lacks"} {
			t.Run(fmt.Sprintf("differ by %d, %s", tc.k, dir), func(t *testing.T) {
				peer := syClone(t, tc.peer, w.readers[2])
				i, r := full, peer
				if dir == "initiator lacks" {
					i, r = peer, full
				}
				res := replicatest.Sync(t, i, r)
				syExpectEqual(t, full, peer)
				missing := posts[len(posts)-tc.k:]
				floor, changed := syFloor(t, missing)
				t.Logf("differ by %d (%d authors): %d bytes on the wire, floor %d, %d round trips", tc.k, changed, res.Bytes, floor, res.I.RoundTrips)
				if tc.k == 0 {
					if res.Bytes >= 1024 || res.I.RoundTrips != 1 {
						t.Errorf("in sync: %d bytes, %d round trips; want under 1 KiB, 1", res.Bytes, res.I.RoundTrips)
					}
					return
				}
				if bound := int64(float64(floor)*1.1) + 2048; res.Bytes > bound {
					t.Errorf("catching up %d envelopes: %d bytes, want at most %d (1.1 x floor %d + 2 KiB)", tc.k, res.Bytes, bound, floor)
				}
				if got := res.I.Sent + res.R.Sent; got != tc.k {
					t.Errorf("envelopes sent: got %d, want %d", got, tc.k)
				}
			})
		}
	}
}

// syFrames is a Frames that reads the frames coded in its input (each a u16
// length and that many bytes; a short last one as it is) and discards what
// is written. It ends with io.EOF, so no sync over it can wait forever.
type syFrames struct {
	in     []byte
	writes int
}

func (f *syFrames) WriteFrame(b []byte) error {
	if len(b) > crypto.MaxFrame {
		return fmt.Errorf("frame of %d bytes", len(b))
	}
	f.writes++
	return nil
}

func (f *syFrames) ReadFrame() ([]byte, error) {
	if len(f.in) < 2 {
		return nil, io.EOF
	}
	n := int(binary.BigEndian.Uint16(f.in))
	f.in = f.in[2:]
	n = min(n, len(f.in))
	b := bytes.Clone(f.in[:n])
	f.in = f.in[n:]
	return b, nil
}

func syCode(frames [][]byte) []byte {
	var out []byte
	for _, m := range frames {
		if len(m) > 0xffff {
			m = m[:0xffff]
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// syFuzzWorld is a small scenario for the fuzz targets: the responder's
// and the initiator's envelopes, and every valid envelope there is.
type syFuzzWorld struct {
	w            *syWorld
	mine, theirs []*envelope.Envelope
	known        map[envelope.Hash]bool // what the responder's store starts with
	template     []byte                 // that store's file
	// Frames of a real sync, as each side read them.
	initiatorRead, responderRead [][]byte
}

func newSyFuzzWorld(f *testing.F) *syFuzzWorld {
	w := newSyWorld(f, "fuzz", 4, 2)
	x := w.writers[3]
	first := x.Post("x 1")
	pos := x.Pos
	fw := &syFuzzWorld{w: w, known: map[envelope.Hash]bool{}}
	fw.mine = append(syPosts(w.writers[:1], 2, "mine"), first, x.PostAt(pos, w.c.Clock(), "x 2 mine"))
	fw.theirs = append(syPosts(w.writers[1:3], 3, "theirs"), first, x.PostAt(pos, w.c.Clock(), "x 2 theirs"),
		w.writers[2].PostTo("red", w.readers[1]))
	for _, e := range slices.Concat(w.base, fw.mine) {
		fw.known[e.ID()] = true
	}
	a := w.replica(f, w.readers[0], fw.mine...)
	a.Close()
	tmpl, err := os.ReadFile(a.Cfg.Path)
	if err != nil {
		f.Fatal(err)
	}
	fw.template = tmpl
	a.Reopen()
	b := w.replica(f, w.readers[1], fw.theirs...)
	var rec *syRecorder
	res := replicatest.SyncOver(f, a, b, func(fr replica.Frames) replica.Frames {
		rec = &syRecorder{f: fr}
		return rec
	})
	if err := res.Err(); err != nil {
		f.Fatal(err)
	}
	fw.initiatorRead, fw.responderRead = rec.read, rec.wrote
	return fw
}

// store opens the store the fuzz targets run on: a copy of a template, so
// that no envelope is verified again at every run.
func (fw *syFuzzWorld) store(t testing.TB) *replicatest.Replica {
	cfg := replicatest.Config(t, fw.w.readers[0].ID(), nil)
	if err := os.WriteFile(cfg.Path, fw.template, 0o600); err != nil {
		t.Fatal(err)
	}
	return replicatest.OpenReplica(t, fw.w.readers[0], cfg)
}

// check fails t if st holds anything admission would refuse: a new copy of
// the template given every envelope st gained, in st's order, admits them
// all, and their payloads match.
func (fw *syFuzzWorld) check(t *testing.T, st *replica.Store) {
	var rest []*envelope.Envelope
	for _, e := range replicatest.Since(t, st) {
		if !fw.known[e.ID()] {
			rest = append(rest, e)
		}
		if e.Payload != nil {
			if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
				t.Fatalf("stored a payload that does not match: %v", err)
			}
		}
	}
	if len(rest) == 0 {
		return
	}
	fresh := fw.store(t)
	res := replicatest.Add(t, fresh.Store, rest...)
	if len(res.Admitted) != len(rest) {
		t.Fatalf("a new store admits %d of the %d envelopes stored (refused %v, %d pending)", len(res.Admitted), len(rest), res.Refused, res.Pending)
	}
}

func (fw *syFuzzWorld) seeds(f *testing.F, frames [][]byte) {
	f.Add(syCode(frames))
	for i := range frames {
		f.Add(syCode(frames[:i]))
		mut := slices.Clone(frames)
		m := bytes.Clone(mut[i])
		if len(m) > 1 {
			m[len(m)/2] ^= 0x40
		}
		mut[i] = m
		f.Add(syCode(mut))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 6})
	f.Add([]byte{0, 2, 5, 0xff})
}

func FuzzSyncRespond(f *testing.F) {
	fw := newSyFuzzWorld(f)
	fw.seeds(f, fw.responderRead)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fw.store(t)
		fr := &syFrames{in: data}
		r.Store.SyncRespond(fr, fw.w.readers[1].ID())
		fw.check(t, r.Store)
	})
}

func FuzzSyncInitiate(f *testing.F) {
	fw := newSyFuzzWorld(f)
	fw.seeds(f, fw.initiatorRead)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fw.store(t)
		fr := &syFrames{in: data}
		r.Store.SyncInitiate(fr, fw.w.readers[1].ID())
		fw.check(t, r.Store)
	})
}

// Malformed messages are protocol errors and change nothing.
func TestSyncProtocolErrors(t *testing.T) {
	w := newSyWorld(t, "protocol", 2, 1)
	posts := syPosts(w.writers, 2, "post")
	r := w.replica(t, w.readers[0], posts...)
	summary := append([]byte{1}, make([]byte, 32+16*8)...)
	for _, tc := range []struct {
		name      string
		initiator bool
		frames    [][]byte
	}{
		{"respond: empty frame", false, [][]byte{{}}},
		{"respond: wrong type", false, [][]byte{{4, 0, 0, 0}}},
		{"respond: short summary", false, [][]byte{summary[:50]}},
		{"respond: heads out of leaves", false, [][]byte{summary, slices.Concat([]byte{4, 0, 1, 7, 1}, make([]byte, 16), []byte{1}, make([]byte, 16))}},
		{"respond: heads count too big", false, [][]byte{summary, {4, 0, 0, 0xff, 0xff, 0x03}}},
		{"respond: heads leaves out of order", false, [][]byte{summary, {4, 0, 2, 9, 3, 0}}},
		{"respond: heads with sequence 0", false, [][]byte{summary, append(append([]byte{4, 0, 1, 0, 1}, make([]byte, 16)...), make([]byte, 17)...)}},
		{"respond: envelopes count beyond the frame", false, [][]byte{summary, {4, 0, 0, 0}, {5, 0x7f}}},
		{"initiate: not level-2", true, [][]byte{{9}}},
		{"initiate: level-1 index 16", true, [][]byte{{3, 1, 16, 0, 0}}},
		{"initiate: level-2 truncated", true, [][]byte{{3, 1, 0, 0x80, 0}}},
		{"initiate: level-2 trailing", true, [][]byte{{3, 0, 1}}},
		{"initiate: wants beyond entries", true, [][]byte{{3, 0}, {7, 1, 0, 0}}},
		{"initiate: envelope truncated", true, [][]byte{{3, 0}, {7, 0}, {5, 1, 9, 1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := replicatest.Snap(t, r.Store)
			fr := &syFrames{in: syCode(tc.frames)}
			var err error
			if tc.initiator {
				_, err = r.Store.SyncInitiate(fr, w.readers[0].ID())
			} else {
				_, err = r.Store.SyncRespond(fr, w.readers[0].ID())
			}
			if !errors.Is(err, replica.ErrProtocol) {
				t.Errorf("got %v, want ErrProtocol", err)
			}
			if after := replicatest.Snap(t, r.Store); after != before {
				t.Errorf("the store changed")
			}
		})
	}
}

// A stored file is what tests copy; make sure a copy is a faithful store.
func TestSyncCloneIsFaithful(t *testing.T) {
	w := newSyWorld(t, "clone", 2, 2)
	a := w.replica(t, w.readers[0], syPosts(w.writers, 3, "post")...)
	b := syClone(t, a, w.readers[1])
	if replicatest.Snap(t, a.Store) != replicatest.Snap(t, b.Store) {
		t.Errorf("a copied store differs from its original")
	}
	if filepath.Dir(a.Cfg.Path) == filepath.Dir(b.Cfg.Path) {
		t.Errorf("the copy shares its directory with the original")
	}
}

package replica_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// state is everything a store shows that must survive a restart.
type state struct {
	snap      replicatest.Snapshot
	heads     []replica.AuthorHead
	community envelope.Hash
	trust     *crypto.Trust
	refusals  map[replica.Reason]uint64
	forks     []envelope.Hash
	local     map[string][]byte
	envs      []string // every stored envelope's encoding, in local order
}

func stateOf(t *testing.T, st *replica.Store) state {
	t.Helper()
	s := state{
		snap:      replicatest.Snap(t, st),
		heads:     st.Heads(),
		community: st.Community(),
		trust:     st.Trust(),
		refusals:  st.Refusals(),
		local:     st.LocalWithPrefix(""),
	}
	for _, h := range st.Forks() {
		s.forks = append(s.forks, h.ID())
	}
	for _, e := range replicatest.Since(t, st) {
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s.envs = append(s.envs, string(b))
	}
	return s
}

func compareStates(t *testing.T, got, want state) {
	t.Helper()
	if got.snap != want.snap {
		t.Errorf("snapshot: got %+v, want %+v", got.snap, want.snap)
	}
	if !slices.Equal(got.heads, want.heads) {
		t.Errorf("Heads: got %v, want %v", got.heads, want.heads)
	}
	if got.community != want.community {
		t.Errorf("Community: got %s, want %s", got.community, want.community)
	}
	if !reflect.DeepEqual(got.trust, want.trust) {
		t.Errorf("Trust: got members %v, want %v", got.trust.Members(), want.trust.Members())
	}
	if !maps.Equal(got.refusals, want.refusals) {
		t.Errorf("Refusals: got %v, want %v", got.refusals, want.refusals)
	}
	if !slices.Equal(got.forks, want.forks) {
		t.Errorf("Forks: got %v, want %v", got.forks, want.forks)
	}
	if !maps.EqualFunc(got.local, want.local, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("local values: got %q, want %q", got.local, want.local)
	}
	if !slices.Equal(got.envs, want.envs) {
		t.Errorf("Since(0): got %d envelopes, want %d, or different bytes", len(got.envs), len(want.envs))
	}
}

// TestReopen closes a store that has seen every kind of envelope and opens it
// again: it shows the same.
func TestReopen(t *testing.T) {
	f := newFixture(t, nil)
	post := f.alice.Post("alice 2")
	carol := f.c.Device("carol", "venue")
	replicatest.MustAdmit(t, f.st,
		post, f.alice.Retract(post.ID()),
		f.bob.PostTo("to admin", f.admin),
		f.bob.PostTo("to alice", f.alice),
		f.admin.Admit(carol, crypto.RoleMember), carol.Post("carol 1"),
		f.bob.Post("bob 2"), f.bob.Post("bob 3"))
	replicatest.Add(t, f.st, f.coord.Revoke(f.bob, 2))
	replicatest.Add(t, f.st, f.alice.PostAt(crypto.Position{Seq: 1}, f.c.Clock(), "fork"))
	pos := f.alice.Pos
	replicatest.Add(t, f.st, f.alice.Admit(f.c.Device("eve", "venue"), crypto.RoleCoordinator))
	f.alice.Pos = pos
	if err := f.st.PutLocal(replica.LocalOp{Key: "bookmark/1", Value: []byte("x")}, replica.LocalOp{Key: "last", Value: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, f.st)
	if len(want.forks) < 2 || len(want.refusals) == 0 {
		t.Fatalf("the test store should hold a fork and refusals: %v %v", want.forks, want.refusals)
	}
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}

	st := replicatest.Open(t, f.cfg)
	compareStates(t, stateOf(t, st), want)

	// It goes on where it stopped (alice forked above: frozen; the
	// coordinator writes on).
	e := f.coord.Post("after the restart")
	res := replicatest.MustAdmit(t, st, e)
	if got := st.LastSeq(); got != want.snap.LastSeq+1 {
		t.Errorf("LastSeq: got %d, want %d", got, want.snap.LastSeq+1)
	}
	var seqs []uint64
	st.Since(want.snap.LastSeq, func(seq uint64, e *envelope.Envelope) error {
		seqs = append(seqs, seq)
		return nil
	})
	if !slices.Equal(seqs, []uint64{want.snap.LastSeq + 1}) || res.Admitted[0] != e.ID() {
		t.Errorf("Since(last): got seqs %v, want [%d]", seqs, want.snap.LastSeq+1)
	}
}

func TestOpenNewerFormat(t *testing.T) {
	tests := []struct {
		name    string
		format  []byte
		wantErr string
	}{
		{"newer", binary.BigEndian.AppendUint32(nil, replica.FormatVersion+1), "upgrade Noroshi"},
		{"much newer", binary.BigEndian.AppendUint32(nil, 1<<31), "upgrade Noroshi"},
		{"unreadable", []byte{0, 1}, "store format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replicatest.Config(t, crypto.DeviceID{1}, nil)
			st, err := replica.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			setMeta(t, cfg.Path, "format", tt.format)

			st, err = replica.Open(cfg)
			if err == nil {
				st.Close()
				t.Fatalf("Open: got no error, want one saying %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, replica.ErrLocked) {
				t.Errorf("Open: got %v, want an error saying %q", err, tt.wantErr)
			}
			if got := getMeta(t, cfg.Path, "format"); string(got) != string(tt.format) {
				t.Errorf("format after a refused open: got %x, want %x unchanged", got, tt.format)
			}
			// The file is not left locked.
			setMeta(t, cfg.Path, "format", binary.BigEndian.AppendUint32(nil, replica.FormatVersion))
			replicatest.Open(t, cfg)
		})
	}
}

func setMeta(t *testing.T, path, key string, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte(key), value)
	}); err != nil {
		t.Fatal(err)
	}
}

func getMeta(t *testing.T, path, key string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte(key))...)
		return nil
	})
	return v
}

func TestOpenLocked(t *testing.T) {
	cfg := replicatest.Config(t, crypto.DeviceID{1}, nil)
	first, err := replica.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second := cfg
	second.LockTimeout = 10 * time.Millisecond
	if st, err := replica.Open(second); !errors.Is(err, replica.ErrLocked) {
		if err == nil {
			st.Close()
		}
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	replicatest.Open(t, second)
}

func TestOpenBadPath(t *testing.T) {
	cfg := replicatest.Config(t, crypto.DeviceID{1}, nil)
	cfg.Path = t.TempDir() + "/no/such/dir/store.db"
	if st, err := replica.Open(cfg); err == nil {
		st.Close()
		t.Fatal("Open in a missing directory: got no error")
	}
}

// TestSince reads more envelopes than one read transaction takes (512).
func TestSince(t *testing.T) {
	f := newFixture(t, nil)
	var more []*envelope.Envelope
	for i := 0; i < 560; i++ {
		more = append(more, f.bob.Post(fmt.Sprint("bob ", i+2)))
	}
	replicatest.MustAdmit(t, f.st, more...)
	all := append(slices.Clone(f.base), more...)

	tests := []struct {
		after uint64
		want  []*envelope.Envelope
	}{
		{0, all},
		{1, all[1:]},
		{5, all[5:]},
		{515, all[515:]},
		{uint64(len(all)) - 1, all[len(all)-1:]},
		{uint64(len(all)), nil},
		{1 << 40, nil},
	}
	for _, tt := range tests {
		var got []envelope.Hash
		var seqs []uint64
		err := f.st.Since(tt.after, func(seq uint64, e *envelope.Envelope) error {
			got = append(got, e.ID())
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			t.Fatalf("Since(%d): %v", tt.after, err)
		}
		if !slices.Equal(got, ids(tt.want...)) {
			t.Errorf("Since(%d): got %d envelopes, want %d", tt.after, len(got), len(tt.want))
		}
		for i, s := range seqs {
			if s != tt.after+uint64(i)+1 {
				t.Errorf("Since(%d): envelope %d has seq %d, want %d", tt.after, i, s, tt.after+uint64(i)+1)
				break
			}
		}
	}

	// An error from fn stops the iteration and is returned.
	stop := errors.New("stop")
	n := 0
	err := f.st.Since(0, func(uint64, *envelope.Envelope) error {
		n++
		if n == 520 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 520 {
		t.Errorf("Since with an error at 520: got %v after %d calls, want stop after 520", err, n)
	}
}

func TestLocal(t *testing.T) {
	f := newFixture(t, nil)
	before := replicatest.Snap(t, f.st)
	steps := []struct {
		ops  []replica.LocalOp
		want map[string]string
	}{
		{[]replica.LocalOp{{Key: "a/1", Value: []byte("one")}, {Key: "a/2", Value: []byte("two")}, {Key: "b", Value: []byte{}}},
			map[string]string{"a/1": "one", "a/2": "two", "b": ""}},
		{[]replica.LocalOp{{Key: "a/1", Value: []byte("uno")}, {Key: "a/2"}},
			map[string]string{"a/1": "uno", "b": ""}},
		{[]replica.LocalOp{{Key: "never set"}}, map[string]string{"a/1": "uno", "b": ""}},
	}
	for i, s := range steps {
		if err := f.st.PutLocal(s.ops...); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for k, v := range f.st.LocalWithPrefix("") {
			got[k] = string(v)
		}
		if !maps.Equal(got, s.want) {
			t.Errorf("step %d: got %q, want %q", i, got, s.want)
		}
	}
	if got := f.st.LocalWithPrefix("a/"); len(got) != 1 || string(got["a/1"]) != "uno" {
		t.Errorf("LocalWithPrefix(a/): got %q", got)
	}
	if got := f.st.GetLocal("a/2"); got != nil {
		t.Errorf("GetLocal of a deleted key: got %q, want nil", got)
	}
	if got := f.st.GetLocal("b"); got == nil || len(got) != 0 {
		t.Errorf("GetLocal of an empty value: got %#v, want empty and not nil", got)
	}
	if after := replicatest.Snap(t, f.st); after != before {
		t.Errorf("local writes changed the envelope set")
	}
}

func TestHeadsAndDigest(t *testing.T) {
	f := newFixture(t, nil)
	heads := f.st.Heads()
	if len(heads) != 3 {
		t.Fatalf("Heads: got %d authors, want 3 (founder, alice, bob)", len(heads))
	}
	for i := 1; i < len(heads); i++ {
		if string(heads[i-1].Author[:]) >= string(heads[i].Author[:]) {
			t.Errorf("Heads not in author order at %d", i)
		}
	}
	for _, h := range heads {
		if got := f.st.Head(h.Author); got != h {
			t.Errorf("Head(%s): got %+v, want %+v", h.Author.Short(), got, h)
		}
	}
	if got := f.st.Head(crypto.DeviceID{9}); got.Seq != 0 || !got.Head.IsZero() {
		t.Errorf("Head of an unknown device: got %+v, want zero", got)
	}
	d := f.st.Digest()
	replicatest.MustAdmit(t, f.st, f.bob.Post("bob 2"))
	if f.st.Digest() == d {
		t.Errorf("Digest did not change with a new envelope")
	}
}

// TestOpenOldFormat: a home of store format 1 that holds a community was
// made before the insider-safe trust rules: it is refused with the reason
// and left as it was; one that holds no community yet (an identity only)
// is upgraded.
func TestOpenOldFormat(t *testing.T) {
	f := newFixture(t, nil)
	f.st.Close()
	setMeta(t, f.cfg.Path, "format", binary.BigEndian.AppendUint32(nil, 1))
	st, err := replica.Open(f.cfg)
	if err == nil {
		st.Close()
		t.Fatal("Open of a format 1 home with a community: no error")
	}
	if !errors.Is(err, replica.ErrOldFormat) || !strings.Contains(err.Error(), "new invite") {
		t.Errorf("Open: got %v, want ErrOldFormat saying what to do", err)
	}
	if got := getMeta(t, f.cfg.Path, "format"); binary.BigEndian.Uint32(got) != 1 {
		t.Errorf("format after a refused open: %x, want 1 unchanged", got)
	}

	empty := replicatest.Config(t, crypto.DeviceID{1}, nil)
	st, err = replica.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	setMeta(t, empty.Path, "format", binary.BigEndian.AppendUint32(nil, 1))
	if st, err = replica.Open(empty); err != nil {
		t.Fatalf("Open of an empty format 1 store: %v", err)
	}
	st.Close()
	if got := getMeta(t, empty.Path, "format"); binary.BigEndian.Uint32(got) != replica.FormatVersion {
		t.Errorf("format after opening an empty format 1 store: %x, want %d", got, replica.FormatVersion)
	}
}

// logConsumer follows a store as a view would: a cursor in the local log
// (Since) and one in the removal log (RemovedSince).
type logConsumer struct {
	removalsFirst bool
	seq, removed  uint64
	set           map[envelope.Hash]bool
	gone          []envelope.Hash // what RemovedSince reported
}

func (c *logConsumer) catchUp(t *testing.T, st *replica.Store) {
	t.Helper()
	since := func() {
		if err := st.Since(c.seq, func(seq uint64, e *envelope.Envelope) error {
			c.set[e.ID()] = true
			c.seq = seq
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	removals := func() {
		last := st.LastRemoved()
		if err := st.RemovedSince(c.removed, func(n uint64, id envelope.Hash) error {
			if n <= c.removed {
				t.Errorf("RemovedSince(%d) gave entry %d", c.removed, n)
			}
			delete(c.set, id)
			c.gone = append(c.gone, id)
			c.removed = n
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		c.removed = max(c.removed, last)
	}
	if c.removalsFirst {
		removals()
		since()
	} else {
		since()
		removals()
	}
}

func storedSet(t *testing.T, st *replica.Store) map[envelope.Hash]bool {
	t.Helper()
	out := map[envelope.Hash]bool{}
	for _, e := range replicatest.Since(t, st) {
		out[e.ID()] = true
	}
	return out
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestRemovalLog: consumers that follow the local log and the removal log
// (in either order, at every change or once at the end) hold exactly the
// store's set after adds, a payload filled in (the envelope moves), a fork
// truncation and a purge after a revocation; each of those fires Changed.
func TestRemovalLog(t *testing.T) {
	f := newFixture(t, nil)
	st := f.st
	consumers := []*logConsumer{{}, {removalsFirst: true}, {}}
	for _, c := range consumers {
		c.set = map[envelope.Hash]bool{}
	}
	step := func(name string, envs ...*envelope.Envelope) replica.Result {
		t.Helper()
		ch := st.Changed()
		res := replicatest.Add(t, st, envs...)
		if !isClosed(ch) {
			t.Errorf("%s: Changed did not fire", name)
		}
		want := storedSet(t, st)
		for i, c := range consumers[:2] {
			c.catchUp(t, st)
			if !maps.Equal(c.set, want) {
				t.Errorf("%s: consumer %d holds %d envelopes, the store %d", name, i, len(c.set), len(want))
			}
		}
		return res
	}
	if got := st.LastRemoved(); got != 0 {
		t.Errorf("LastRemoved of a new store: %d", got)
	}
	step("add", f.bob.Post("bob 2"))

	// A payload filled in: the envelope moves to a new local sequence
	// number; the removal log has its old one, and RemovedSince, which
	// finds it stored, skips it.
	post := f.coord.PostTo("for alice", f.alice)
	step("header only", &envelope.Envelope{Header: post.Header})
	seq, ok := st.SeqOf(post.ID())
	if !ok {
		t.Fatal("SeqOf: the header-only envelope is not stored")
	}
	if res := step("fill", post); len(res.Filled) != 1 {
		t.Fatalf("the payload was not filled in: %+v", res)
	}
	if moved, ok := st.SeqOf(post.ID()); !ok || moved <= seq {
		t.Errorf("SeqOf after the fill: %d %v, want more than %d", moved, ok, seq)
	}
	if got := st.LastRemoved(); got != 1 {
		t.Errorf("LastRemoved after a fill: %d, want 1", got)
	}
	if _, ok := st.SeqOf(envelope.Hash{1}); ok {
		t.Errorf("SeqOf of an envelope never stored: found")
	}

	// A fork: alice's chain is cut before it.
	alice1 := f.base[5]
	step("fork", f.alice.PostAt(crypto.Position{Seq: 1}, f.c.Clock(), "fork"))
	if _, ok := st.SeqOf(alice1.ID()); ok {
		t.Fatal("the forked chain was not cut")
	}

	// A revocation: bob's envelopes after sequence 2 are purged.
	bob3, bob4 := f.bob.Post("bob 3"), f.bob.Post("bob 4")
	step("more", bob3, bob4)
	if res := step("revoke", f.coord.Revoke(f.bob, 2)); res.Purged != 2 {
		t.Errorf("Purged: %d, want bob's 2 envelopes after his cut", res.Purged)
	}
	for _, e := range []*envelope.Envelope{bob3, bob4} {
		if _, ok := st.SeqOf(e.ID()); ok {
			t.Errorf("bob's envelope %s not purged", e.ID().String()[:8])
		}
	}

	// The consumer that catches up once, at the end.
	late := consumers[2]
	late.catchUp(t, st)
	if want := storedSet(t, st); !maps.Equal(late.set, want) {
		t.Errorf("the late consumer holds %d envelopes, the store %d", len(late.set), len(want))
	}
	// Every removal was reported once, to each consumer that held the
	// envelope; the moved one to none.
	wantGone := []envelope.Hash{alice1.ID(), bob3.ID(), bob4.ID()}
	for i, c := range consumers {
		for _, id := range wantGone {
			if n := countOf(c.gone, id); (i < 2 && n != 1) || n > 1 {
				t.Errorf("consumer %d: %s reported removed %d times", i, id.String()[:8], n)
			}
		}
		if slices.Contains(c.gone, post.ID()) {
			t.Errorf("consumer %d: the moved envelope reported removed", i)
		}
	}
	if got := st.LastRemoved(); got < 4 {
		t.Errorf("LastRemoved: %d, want at least 4", got)
	}
	// RemovedSince from the last entry reports nothing; an error stops it.
	n := 0
	st.RemovedSince(st.LastRemoved(), func(uint64, envelope.Hash) error { n++; return nil })
	stop := errors.New("stop")
	if err := st.RemovedSince(0, func(uint64, envelope.Hash) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("RemovedSince: %v after %d calls, want stop after 1", err, n)
	}

	// The removal log survives a restart.
	last := st.LastRemoved()
	st.Close()
	st = replicatest.Open(t, f.cfg)
	if got := st.LastRemoved(); got != last {
		t.Errorf("LastRemoved after a restart: %d, want %d", got, last)
	}
}

func countOf(ids []envelope.Hash, id envelope.Hash) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

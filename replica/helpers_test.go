package replica_test

import (
	"bytes"
	"errors"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// fixture is a community and a store that holds its start: the genesis, the
// memberships of a second coordinator, an org admin and two members, and one
// post by each member. The store belongs to alice.
type fixture struct {
	c     *replicatest.Community
	clock *replicatest.Clock
	cfg   replica.Config
	st    *replica.Store

	coord *replicatest.Device // coordinator, centre
	admin *replicatest.Device // org admin, venue
	alice *replicatest.Device // member, venue; the store's own device
	bob   *replicatest.Device // member, power

	base []*envelope.Envelope // what the store was given, in order
}

func newFixture(t testing.TB, configure func(*replica.Config)) *fixture {
	t.Helper()
	f := &fixture{c: replicatest.New(t, "games"), clock: replicatest.NewClock(replicatest.Start)}
	var mc, ma, mal, mb *envelope.Envelope
	f.coord, mc = f.c.Join("coord", "centre", crypto.RoleCoordinator)
	f.admin, ma = f.c.Join("admin", "venue", crypto.RoleOrgAdmin)
	f.alice, mal = f.c.Join("alice", "venue", crypto.RoleMember)
	f.bob, mb = f.c.Join("bob", "power", crypto.RoleMember)
	f.base = []*envelope.Envelope{f.c.Genesis, mc, ma, mal, mb, f.alice.Post("alice 1"), f.bob.Post("bob 1")}
	f.cfg = replicatest.Config(t, f.alice.ID(), f.clock.Now)
	if configure != nil {
		configure(&f.cfg)
	}
	f.st = replicatest.Open(t, f.cfg)
	replicatest.MustAdmit(t, f.st, f.base...)
	return f
}

// newStore opens another store of alice's that holds the fixture's base.
func (f *fixture) newStore(t testing.TB) *replica.Store {
	t.Helper()
	st := replicatest.Open(t, replicatest.Config(t, f.alice.ID(), f.clock.Now))
	replicatest.MustAdmit(t, st, f.base...)
	return st
}

// flipped returns a copy of e whose header or payload was changed by mut.
func flipped(e *envelope.Envelope, mut func(h *envelope.Header, payload []byte)) *envelope.Envelope {
	h := *e.Header
	p := bytes.Clone(e.Payload)
	mut(&h, p)
	return &envelope.Envelope{Header: &h, Payload: p}
}

// refusalOf returns the refusal in res of the envelope id, nil if none.
func refusalOf(res replica.Result, id envelope.Hash) *replica.Refusal {
	for _, r := range res.Refused {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// expectRefused adds env, checks that it is refused with want, counted once
// more under want, and that nothing stored changed.
func expectRefused(t *testing.T, st *replica.Store, env *envelope.Envelope, want replica.Reason) replica.Result {
	t.Helper()
	before := replicatest.Snap(t, st)
	counts := st.Refusals()
	res := replicatest.Add(t, st, env)
	id := env.ID()
	r := refusalOf(res, id)
	switch {
	case r == nil:
		t.Fatalf("Add: got %d admitted, %d pending, %d duplicates, refused %v; want refused %s",
			len(res.Admitted), res.Pending, res.Duplicates, res.Refused, want)
	case r.Reason != want:
		t.Errorf("refusal reason: got %s (%v), want %s", r.Reason, r.Err, want)
	}
	var ref *replica.Refusal
	if err := res.Err(); !errors.As(err, &ref) || ref.Reason != want {
		t.Errorf("Result.Err: got %v, want a *Refusal with reason %s", err, want)
	}
	if got := st.Refusals()[want]; got != counts[want]+1 {
		t.Errorf("Refusals()[%s]: got %d, want %d", want, got, counts[want]+1)
	}
	if after := replicatest.Snap(t, st); after != before {
		t.Errorf("store changed by a refused envelope:\n got %+v\nwant %+v", after, before)
	}
	if p := st.Pending(); len(p) != 0 {
		t.Errorf("Pending: got %v, want nothing held", p)
	}
	return res
}

// ids returns the IDs of envs.
func ids(envs ...*envelope.Envelope) []envelope.Hash {
	out := make([]envelope.Hash, len(envs))
	for i, e := range envs {
		out[i] = e.ID()
	}
	return out
}

// storedIDs returns the IDs stored in st, in local order.
func storedIDs(t testing.TB, st *replica.Store) []envelope.Hash {
	t.Helper()
	return ids(replicatest.Since(t, st)...)
}

func contains(hs []envelope.Hash, id envelope.Hash) bool {
	for _, h := range hs {
		if h == id {
			return true
		}
	}
	return false
}

package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// Replication against its limits: the bytes an anti-entropy round costs
// against the information floor, the rate a peer that was away catches up
// at against the local store's write rate, and the time a write takes to
// reach every peer against the theoretical push-gossip time.

// world is a community of writers that post and readers that only hold
// stores; base is what every store starts with (genesis, memberships).
type world struct {
	writers, readers []*replicatest.Device
	base             []*envelope.Envelope
}

func newWorld(tb testing.TB, name string, writers, readers int) *world {
	c := replicatest.New(tb, name)
	w := &world{}
	var wc, rc []*envelope.Envelope
	w.writers, wc = c.Members("writer", writers, crypto.RoleMember)
	w.readers, rc = c.Members("reader", readers, crypto.RoleMember)
	w.base = append(append([]*envelope.Envelope{c.Genesis}, wc...), rc...)
	return w
}

// posts builds n envelopes per device, each device's chain built in a
// goroutine of its own, and returns them in the order they would have been
// written had the devices taken turns.
func posts(devs []*replicatest.Device, n int) []*envelope.Envelope {
	chains := make([][]*envelope.Envelope, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				chains[i] = append(chains[i], d.Post(fmt.Sprintf("post %d by %s, a short message", j, d.Name)))
			}
		}()
	}
	wg.Wait()
	out := make([]*envelope.Envelope, 0, n*len(devs))
	for j := 0; j < n; j++ {
		for i := range devs {
			out = append(out, chains[i][j])
		}
	}
	return out
}

// addAll adds envs in batches and fails unless all are admitted.
func addAll(tb testing.TB, st *replica.Store, envs []*envelope.Envelope) {
	for lo := 0; lo < len(envs); lo += 2000 {
		replicatest.MustAdmit(tb, st, envs[lo:min(lo+2000, len(envs))]...)
	}
}

// copyStore copies the store file src to a new file and returns its
// configuration for d.
func copyStore(tb testing.TB, src string, d *replicatest.Device) replica.Config {
	cfg := replicatest.Config(tb, d.ID(), nil)
	cfg.Logf = nil
	in, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(cfg.Path, in, 0o600); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// SyncFloor is what a sync of missing cannot cost less than: the envelopes'
// encoded bytes and 16 bytes per author that changed.
func SyncFloor(tb testing.TB, missing []*envelope.Envelope) (floor, authors int) {
	changed := map[[32]byte]bool{}
	for _, e := range missing {
		changed[e.Header.Author] = true
	}
	return replicatest.Encoded(tb, missing...) + 16*len(changed), len(changed)
}

// AntiEntropy is a store of authors x perAuthor envelopes and copies of it
// that lack the most recent k of them, for k in the diffs it was built
// with (as a peer that was away lacks them).
type AntiEntropy struct {
	w     *world
	posts []*envelope.Envelope
	files map[int]string
	full  *replicatest.Replica
}

// NewAntiEntropy builds the stores: one store grows in steps and a copy of
// its file is kept at each.
func NewAntiEntropy(tb testing.TB, authors, perAuthor int, diffs []int) *AntiEntropy {
	a := &AntiEntropy{w: newWorld(tb, "anti-entropy cost", authors, 2), files: map[int]string{}}
	a.posts = posts(a.w.writers, perAuthor)
	dir := tb.TempDir()
	grow := replicatest.NewReplica(tb, a.w.readers[0], a.w.base...)
	grow.Cfg.Logf = nil
	diffs = slices.Clone(diffs)
	slices.Sort(diffs)
	slices.Reverse(diffs)
	done := 0
	for _, k := range diffs {
		addAll(tb, grow.Store, a.posts[done:len(a.posts)-k])
		done = len(a.posts) - k
		grow.Close()
		a.files[k] = filepath.Join(dir, fmt.Sprintf("lacks-%d.db", k))
		in, err := os.ReadFile(grow.Cfg.Path)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(a.files[k], in, 0o600); err != nil {
			tb.Fatal(err)
		}
		grow.Reopen()
	}
	addAll(tb, grow.Store, a.posts[done:])
	grow.Close()
	full := filepath.Join(dir, "full.db")
	in, err := os.ReadFile(grow.Cfg.Path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(full, in, 0o600); err != nil {
		tb.Fatal(err)
	}
	a.full = replicatest.OpenReplica(tb, a.w.readers[0], copyStore(tb, full, a.w.readers[0]))
	return a
}

// Len is the number of envelopes of the full store.
func (a *AntiEntropy) Len() int { return len(a.posts) }

// Sync syncs a fresh copy of the store that lacks k envelopes with the
// full one (the one lacking them initiates when initiatorLacks) over a
// real crypto.Channel, checks that both end equal, and returns what the
// sync did and the floor of its cost.
func (a *AntiEntropy) Sync(tb testing.TB, k int, initiatorLacks bool) (res replicatest.SyncResult, floor, changed int) {
	file, ok := a.files[k]
	if !ok {
		tb.Fatalf("no store lacking %d was built", k)
	}
	peer := replicatest.OpenReplica(tb, a.w.readers[1], copyStore(tb, file, a.w.readers[1]))
	if initiatorLacks {
		res = replicatest.Sync(tb, peer, a.full)
	} else {
		res = replicatest.Sync(tb, a.full, peer)
	}
	if peer.Store.Digest() != a.full.Store.Digest() {
		tb.Fatalf("not in sync after the sync")
	}
	peer.Close()
	os.Remove(peer.Cfg.Path)
	floor, changed = SyncFloor(tb, a.posts[len(a.posts)-k:])
	return res, floor, changed
}

// InSyncTarget is the bound on the bytes of a round between peers
// already in sync; a round that moves envelopes should cost at most 1.1
// times the floor and this.
const InSyncTarget = 1024

func reconcileRows(r *runner) []Row {
	authors, per, diffs := 200, 500, []int{10_000, 100, 1, 0}
	if r.quick() {
		authors, per, diffs = 50, 200, []int{100, 0}
	}
	r.progress("reconcile: building %d envelopes from %d authors and %d stores", authors*per, authors, len(diffs)+1)
	a := NewAntiEntropy(r, authors, per, diffs)
	var rows []Row
	for _, k := range diffs {
		r.check()
		res, floor, changed := a.Sync(r, k, true)
		row := Row{Name: fmt.Sprintf("anti-entropy, %d of %d missing", k, a.Len()), Value: float64(res.Bytes), Unit: "B",
			Note: fmt.Sprintf("%d round trips, %d authors changed; handshake %d B more", res.I.RoundTrips, changed, res.HandshakeBytes)}
		if k == 0 {
			row.Name = fmt.Sprintf("anti-entropy, in sync (%d each)", a.Len())
			row.Limit, row.Kind, row.LimitIs = InSyncTarget, Target, "1 KiB a round in sync"
		} else {
			row.Limit, row.Kind, row.LimitIs = float64(floor), Floor, "the missing envelopes' bytes + 16 B per changed author"
		}
		rows = append(rows, row)
	}
	return rows
}

// CatchUp is a store holding authors x perAuthor envelopes and an empty
// store (fsync on) of another member, for a peer that was away.
type CatchUp struct {
	w     *world
	posts []*envelope.Envelope
	src   *replicatest.Replica
	empty string
}

// NewCatchUp builds the two stores.
func NewCatchUp(tb testing.TB, authors, perAuthor int) *CatchUp {
	c := &CatchUp{w: newWorld(tb, "catch up", authors, 2)}
	c.posts = posts(c.w.writers, perAuthor)
	c.src = replicatest.NewReplica(tb, c.w.readers[0], c.w.base...)
	addAll(tb, c.src.Store, c.posts)
	empty := replicatest.NewReplica(tb, c.w.readers[1], c.w.base...)
	empty.Close()
	c.empty = empty.Cfg.Path
	return c
}

// Len is the number of envelopes to catch up on.
func (c *CatchUp) Len() int { return len(c.posts) }

func (c *CatchUp) open(tb testing.TB) *replicatest.Replica {
	cfg := copyStore(tb, c.empty, c.w.readers[1])
	cfg.NoSync = false
	return replicatest.OpenReplica(tb, c.w.readers[1], cfg)
}

// LocalAdd returns the time a copy of the empty store takes to Add the
// envelopes, in batches of the size an envelopes frame carries.
func (c *CatchUp) LocalAdd(tb testing.TB) time.Duration {
	peer := c.open(tb)
	defer peer.Close()
	t0 := time.Now()
	for lo := 0; lo < len(c.posts); lo += 1700 {
		replicatest.MustAdmit(tb, peer.Store, c.posts[lo:min(lo+1700, len(c.posts))]...)
	}
	return time.Since(t0)
}

// Sync returns the time a copy of the empty store takes to get them all
// in one anti-entropy round with the full one.
func (c *CatchUp) Sync(tb testing.TB) time.Duration {
	peer := c.open(tb)
	defer peer.Close()
	t0 := time.Now()
	res := replicatest.Sync(tb, peer, c.src)
	d := time.Since(t0)
	if res.I.Admitted != len(c.posts) {
		tb.Fatalf("admitted %d, want %d", res.I.Admitted, len(c.posts))
	}
	return d
}

func catchUpRows(r *runner) []Row {
	authors, per := 50, 200
	if r.quick() {
		authors, per = 20, 100
	}
	r.progress("catchup: building %d envelopes", authors*per)
	c := NewCatchUp(r, authors, per)
	var local, synced time.Duration
	for round := range 3 { // the fastest of three of each
		r.check()
		l, s := c.LocalAdd(r), c.Sync(r)
		if round == 0 || l < local {
			local = l
		}
		if round == 0 || s < synced {
			synced = s
		}
	}
	per1 := func(d time.Duration) float64 { return micros(d) / float64(c.Len()) }
	return []Row{{Name: fmt.Sprintf("catch-up of %d envelopes", c.Len()), Value: per1(synced), Limit: per1(local), Unit: "µs/envelope", Kind: Bound,
		LimitIs: "local Add of the same envelopes (fsync), batches of 1,700",
		Note:    fmt.Sprintf("%.0f envelopes/s against %.0f", float64(c.Len())/synced.Seconds(), float64(c.Len())/local.Seconds())}}
}

// TheoreticalGossip returns the time push gossip needs to reach n peers
// with the given fanout and round interval: log_(fanout+1) n + ln(n)/fanout
// rounds.
func TheoreticalGossip(n, fanout int, interval time.Duration) time.Duration {
	rounds := math.Log(float64(n))/math.Log(float64(fanout+1)) + math.Log(float64(n))/float64(fanout)
	return time.Duration(rounds * float64(interval))
}

// Percentile returns the p-th percentile (0 < p <= 1) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// DisseminationAntiEntropy is the anti-entropy interval of the nodes of
// Disseminate.
const DisseminationAntiEntropy = 5 * time.Second

// Spread is what Disseminate measured.
type Spread struct {
	Latencies []time.Duration // from each write to the last node holding it
	Theory    time.Duration   // push gossip with the nodes' fanout and interval
	Fanout    int
	Interval  time.Duration
	// Present is the share of (envelope, node) pairs present one
	// anti-entropy interval after each write (with loss).
	Present float64
}

// Disseminate starts nodes nodes (memberlist and sync streams on loopback,
// in process) with the share loss of gossip packets lost, and makes
// writes writes, each on the next node (stored, then announced, as the app
// does). Without loss it waits, after each write, until every node holds
// it (a minute at most); with loss, one anti-entropy interval.
func Disseminate(tb testing.TB, nodes int, loss float64, writes int) Spread {
	c := replicatest.StartCluster(tb, replicatest.ClusterConfig{Name: fmt.Sprintf("dissemination %d", nodes), Nodes: nodes,
		AntiEntropy: DisseminationAntiEntropy, Seed: 1, Quiet: true, JoinTimeout: 3 * time.Minute})
	c.Net.SetLoss(loss)
	var s Spread
	s.Fanout, s.Interval = c.Nodes[0].Node.GossipParams()
	s.Theory = TheoreticalGossip(nodes, s.Fanout, s.Interval)
	all := c.Running()
	present, pairs := 0, 0
	for i := 0; i < writes; i++ {
		t0 := time.Now()
		id := c.Write(i%nodes, fmt.Sprintf("write %d", i))
		if loss == 0 {
			if !c.WaitHave(all, id, time.Minute) {
				tb.Fatalf("write %d not everywhere after a minute", i)
			}
			s.Latencies = append(s.Latencies, time.Since(t0))
			continue
		}
		c.WaitHave(all, id, DisseminationAntiEntropy-time.Since(t0))
		s.Latencies = append(s.Latencies, time.Since(t0))
		for _, j := range all {
			pairs++
			if c.Nodes[j].Has(id) {
				present++
			}
		}
	}
	if pairs > 0 {
		s.Present = float64(present) / float64(pairs)
	}
	return s
}

func disseminationRows(r *runner) []Row {
	sizes, writes := []int{8, 32, 64}, 20
	if r.quick() {
		sizes, writes = []int{8}, 5
	}
	var rows []Row
	for _, n := range sizes {
		r.check()
		r.progress("dissemination: starting %d nodes on loopback, %d writes", n, writes)
		var s Spread
		if !r.part(fmt.Sprintf("%d peers", n), func() { s = Disseminate(r, n, 0, writes) }) {
			continue
		}
		p50, p99 := Percentile(s.Latencies, 0.5), Percentile(s.Latencies, 0.99)
		rows = append(rows, Row{Name: fmt.Sprintf("dissemination to %d peers (p50)", n), Value: millis(p50), Limit: millis(s.Theory), Unit: "ms", Kind: Theory,
			LimitIs: fmt.Sprintf("push gossip, fanout %d, %v rounds: log_%d(n) + ln(n)/%d rounds", s.Fanout, s.Interval, s.Fanout+1, s.Fanout),
			Note:    fmt.Sprintf("p99 %.0f ms over %d writes", millis(p99), len(s.Latencies))})
		r.cleanupNow()
	}
	return rows
}

package replica_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// Clusters of real Nodes on loopback: memberlist gossip, announcements,
// pulls and anti-entropy over crypto.Channel streams. Waits are bounded
// and wake up on every store change; nothing is timed.

const clConverge = 90 * time.Second

func TestClusterEveryWriteReachesEveryone(t *testing.T) {
	for _, n := range []int{3, 10, 32} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			c := replicatest.StartCluster(t, replicatest.ClusterConfig{Name: fmt.Sprintf("everyone %d", n), Nodes: n, Quiet: n > 10})
			var written []envelope.Hash
			// A few writers, a few writes each, some at once.
			writers := []int{0, n / 2, n - 1}
			for round := 0; round < 3; round++ {
				for _, w := range writers {
					written = append(written, c.Write(w, fmt.Sprintf("round %d from %d", round, w)))
				}
			}
			all := c.Running()
			for _, id := range written {
				if !c.WaitHave(all, id, clConverge) {
					t.Fatalf("envelope %s not everywhere:\n%s", id.String()[:12], c.Describe(nil))
				}
			}
			c.WaitConverged(nil, clConverge)
		})
	}
}

// clWriteEach has each node given write one envelope.
func clWriteEach(c *replicatest.Cluster, nodes []int, label string) []envelope.Hash {
	var out []envelope.Hash
	for _, i := range nodes {
		out = append(out, c.Write(i, fmt.Sprintf("%s from %d", label, i)))
	}
	return out
}

// clExpectAll checks that every running node holds every ID given.
func clExpectAll(t *testing.T, c *replicatest.Cluster, ids []envelope.Hash) {
	t.Helper()
	for _, i := range c.Running() {
		for _, id := range ids {
			if !c.Nodes[i].Has(id) {
				t.Errorf("node %d lacks %s", i, id.String()[:12])
			}
		}
	}
}

func TestClusterPartitions(t *testing.T) {
	const n = 9
	c := replicatest.StartCluster(t, replicatest.ClusterConfig{Name: "partitions", Nodes: n, Quiet: true})
	var all []envelope.Hash
	for _, tc := range []struct {
		name   string
		groups [][]int
	}{
		{"two groups", [][]int{{0, 1, 2, 3}, {4, 5, 6, 7, 8}}},
		{"three groups", [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5, 8}}},
		{"one node alone", [][]int{{4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c.Net.Partition(tc.groups...)
			// Each side writes and converges on its own.
			groups := clGroups(n, tc.groups)
			for g, nodes := range groups {
				all = append(all, clWriteEach(c, nodes[:min(2, len(nodes))], fmt.Sprintf("%s, side %d", tc.name, g))...)
			}
			for _, nodes := range groups {
				c.WaitConverged(nodes, clConverge)
			}
			if len(groups) > 1 && c.Converged(nil) {
				t.Fatalf("the sides converged across a cut")
			}
			// Hold the cut until memberlist has declared the other
			// sides dead, so that the heal has to merge memberlist's
			// views again: gossip to the dead does for a short while
			// (3s in the test profile), then only the nodes' reconnects
			// can. (A node alone probes ever more slowly, as
			// memberlist's Lifeguard does; its side is not waited for.)
			noticed := c.WaitFor(clConverge, func() bool {
				for _, nodes := range groups {
					for _, i := range nodes {
						if len(nodes) == 1 {
							continue
						}
						if c.Nodes[i].Node.GossipMembers() != len(nodes) {
							return false
						}
					}
				}
				return true
			})
			if !noticed {
				t.Fatalf("memberlist did not declare the other sides of the cut dead")
			}
			t.Logf("cut noticed after %s", time.Since(start).Round(time.Millisecond))
			c.Net.Heal()
			c.WaitConverged(nil, clConverge)
			t.Logf("healed after %s", time.Since(start).Round(time.Millisecond))
			clExpectAll(t, c, all)
		})
	}
}

// clGroups lists every group of a partition, nodes in no group given
// together as the last.
func clGroups(n int, groups [][]int) [][]int {
	out := slices.Clone(groups)
	var rest []int
	for i := 0; i < n; i++ {
		in := false
		for _, g := range groups {
			in = in || slices.Contains(g, i)
		}
		if !in {
			rest = append(rest, i)
		}
	}
	if len(rest) > 0 {
		out = append(out, rest)
	}
	return out
}

// Random cuts, writes on both sides, and nodes stopped and restarted from
// their files while syncs run; after each heal, every node holds
// everything written.
func TestClusterRandomCutsAndRestarts(t *testing.T) {
	const n = 8
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	c := replicatest.StartCluster(t, replicatest.ClusterConfig{Name: "random cuts", Nodes: n, Seed: seed, Quiet: true})
	var all []envelope.Hash
	for round := 0; round < rounds; round++ {
		// A random cut into 2 or 3 groups.
		k := 2 + rng.IntN(2)
		groups := make([][]int, k)
		for _, i := range rng.Perm(n) {
			g := rng.IntN(k)
			groups[g] = append(groups[g], i)
		}
		c.Net.Partition(groups...)
		t.Logf("round %d: cut %v", round, groups)
		// Writes on random running nodes; a random node goes down right
		// after, with pulls and syncs in flight.
		for w := 0; w < 4; w++ {
			i := c.Running()[rng.IntN(len(c.Running()))]
			all = append(all, c.Write(i, fmt.Sprintf("round %d write %d on %d", round, w, i)))
		}
		victim := c.Running()[rng.IntN(len(c.Running()))]
		c.Stop(victim)
		// More writes while it is down; then it comes back, still cut.
		for w := 0; w < 3; w++ {
			i := c.Running()[rng.IntN(len(c.Running()))]
			all = append(all, c.Write(i, fmt.Sprintf("round %d late write %d on %d", round, w, i)))
		}
		c.Restart(victim)
		c.Net.Heal()
		c.WaitConverged(nil, clConverge)
		clExpectAll(t, c, all)
	}
	// Once more with every node up and a node stopped in the middle of a
	// burst of writes.
	var burst []envelope.Hash
	for w := 0; w < 10; w++ {
		burst = append(burst, c.Write(w%(n-1), fmt.Sprintf("burst %d", w)))
		if w == 4 {
			c.Stop(7)
		}
	}
	c.Restart(7)
	c.WaitConverged(nil, clConverge)
	clExpectAll(t, c, append(all, burst...))
}

// With a fifth of gossip packets lost, announcements and anti-entropy
// still bring every envelope everywhere.
func TestClusterPacketLoss(t *testing.T) {
	c := replicatest.StartCluster(t, replicatest.ClusterConfig{Name: "lossy", Nodes: 8, Seed: 7, Quiet: true})
	c.Net.SetLoss(0.2)
	ids := clWriteEach(c, []int{0, 1, 2, 3, 4, 5, 6, 7}, "lossy")
	c.WaitConverged(nil, clConverge)
	clExpectAll(t, c, ids)
	if c.Net.Dropped.Load() == 0 {
		t.Errorf("no packet was dropped")
	}
}

// syModel is the pure model of TestSyncModel: per peer, the set of
// envelope IDs it holds; and which side of a cut each peer is on.
type syModel struct {
	held  []map[envelope.Hash]bool
	side  []int
	envs  map[envelope.Hash]*envelope.Envelope
	peers []*replicatest.Replica
}

func (m *syModel) union(a, b int) map[envelope.Hash]bool {
	u := maps.Clone(m.held[a])
	maps.Copy(u, m.held[b])
	return u
}

// missing returns the envelopes in u that set lacks.
func (m *syModel) missing(u, set map[envelope.Hash]bool) []*envelope.Envelope {
	var out []*envelope.Envelope
	for id := range u {
		if !set[id] {
			out = append(out, m.envs[id])
		}
	}
	return out
}

// TestSyncModel runs random writes, syncs between random pairs (directly,
// over crypto.Channel on net.Pipe), syncs cut short, crashes and restarts,
// and partitions, against a model where a sync leaves both peers with the
// union of what they held. Invariants: every store holds exactly its
// model's set; two stores with the same set have the same digest, however
// they came to it; a sync applied twice changes nothing the second time;
// and a sync's bytes stay under 1.1 x the floor + 2 KiB.
func TestSyncModel(t *testing.T) {
	const peers = 4
	w := newSyWorld(t, "model", 0, peers)
	tmplR := w.replica(t, w.readers[0])
	tmplR.Close()
	tmpl, err := os.ReadFile(tmplR.Cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	baseIDs := map[envelope.Hash]bool{}
	for _, e := range w.base {
		baseIDs[e.ID()] = true
	}
	rapid.Check(t, func(rt *rapid.T) {
		m := &syModel{envs: map[envelope.Hash]*envelope.Envelope{}}
		for _, d := range w.readers {
			d.Pos = crypto.Position{Seq: 1}
			cfg := replicatest.Config(t, d.ID(), nil)
			cfg.Logf = nil
			if err := os.WriteFile(cfg.Path, tmpl, 0o600); err != nil {
				t.Fatal(err)
			}
			m.peers = append(m.peers, replicatest.OpenReplica(t, d, cfg))
			m.held = append(m.held, maps.Clone(baseIDs))
			m.side = append(m.side, 0)
		}
		defer func() {
			for _, p := range m.peers {
				p.Close()
			}
		}()
		peer := rapid.IntRange(0, peers-1)
		pair := func(rt *rapid.T) (int, int) {
			a := peer.Draw(rt, "a")
			b := peer.Draw(rt, "b")
			if a == b {
				rt.Skip("same peer")
			}
			return a, b
		}
		writes := 0
		rt.Repeat(map[string]func(*rapid.T){
			"write": func(rt *rapid.T) {
				p := peer.Draw(rt, "peer")
				n := rapid.IntRange(1, 3).Draw(rt, "n")
				for range n {
					writes++
					e := m.peers[p].Dev.Post(fmt.Sprintf("write %d", writes))
					if res, err := m.peers[p].Store.Add(e); err != nil || len(res.Admitted) != 1 {
						rt.Fatalf("write on %d: %v %+v", p, err, res)
					}
					m.envs[e.ID()] = e
					m.held[p][e.ID()] = true
				}
			},
			"sync": func(rt *rapid.T) {
				a, b := pair(rt)
				if m.side[a] != m.side[b] {
					rt.Skip("across the cut")
				}
				u := m.union(a, b)
				miss := append(m.missing(u, m.held[a]), m.missing(u, m.held[b])...)
				res := replicatest.SyncOver(t, m.peers[a], m.peers[b], nil)
				if err := res.Err(); err != nil {
					rt.Fatalf("sync %d -> %d: %v", a, b, err)
				}
				m.held[a], m.held[b] = u, maps.Clone(u)
				floor, _ := syFloor(t, miss)
				if len(miss) == 0 {
					if !res.I.InSync || res.Bytes >= 1024 {
						rt.Fatalf("sync of equal sets: InSync %v, %d bytes", res.I.InSync, res.Bytes)
					}
				} else if bound := int64(float64(floor)*1.1) + 2048; res.Bytes > bound {
					rt.Fatalf("sync of %d missing envelopes: %d bytes, bound %d", len(miss), res.Bytes, bound)
				}
				// Applying twice equals once.
				sa, sb := replicatest.Snap(t, m.peers[a].Store), replicatest.Snap(t, m.peers[b].Store)
				again := replicatest.SyncOver(t, m.peers[b], m.peers[a], nil)
				if again.Err() != nil || !again.I.InSync {
					rt.Fatalf("second sync: %v, InSync %v", again.Err(), again.I.InSync)
				}
				if replicatest.Snap(t, m.peers[a].Store) != sa || replicatest.Snap(t, m.peers[b].Store) != sb {
					rt.Fatalf("a second sync changed a store")
				}
			},
			"sync cut short, both crash": func(rt *rapid.T) {
				a, b := pair(rt)
				if m.side[a] != m.side[b] {
					rt.Skip("across the cut")
				}
				k := rapid.IntRange(0, 6).Draw(rt, "frames")
				u := m.union(a, b)
				replicatest.SyncOver(t, m.peers[a], m.peers[b], func(f replica.Frames) replica.Frames { return replicatest.CutAfter(f, k) })
				for _, p := range []int{a, b} {
					m.peers[p].Restart()
					got := replicatest.IDs(t, m.peers[p].Store)
					for id := range m.held[p] {
						if !got[id] {
							rt.Fatalf("peer %d lost %s in a sync cut short", p, id.String()[:12])
						}
					}
					for id := range got {
						if !u[id] {
							rt.Fatalf("peer %d holds %s, which neither side held", p, id.String()[:12])
						}
					}
					m.held[p] = got
				}
			},
			"restart": func(rt *rapid.T) {
				m.peers[peer.Draw(rt, "peer")].Restart()
			},
			"partition": func(rt *rapid.T) {
				for p := range m.side {
					m.side[p] = rapid.IntRange(0, 1).Draw(rt, fmt.Sprint("side of ", p))
				}
			},
			"heal": func(rt *rapid.T) {
				for p := range m.side {
					m.side[p] = 0
				}
			},
			"": func(rt *rapid.T) {
				byDigest := map[string][32]byte{}
				for p, r := range m.peers {
					got := replicatest.IDs(t, r.Store)
					if !maps.Equal(got, m.held[p]) {
						rt.Fatalf("peer %d holds %d envelopes, the model %d", p, len(got), len(m.held[p]))
					}
					var keys []string
					for id := range got {
						keys = append(keys, id.String())
					}
					slices.Sort(keys)
					key := fmt.Sprint(keys)
					d := r.Store.Digest()
					if other, ok := byDigest[key]; ok && other != d {
						rt.Fatalf("peer %d: equal sets, different digests", p)
					}
					byDigest[key] = d
				}
			},
		})
	})
}

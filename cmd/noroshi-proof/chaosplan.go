package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"noroshi/internal/proofdoc"
)

// The pure parts of the chaos harness: the plan of rounds drawn from a
// seed, the ledger of writes and the exactly-once accounting over what the
// nodes list, and the table. No process, no network, no clock here.

// Partition kinds of a round.
const (
	partNone       = "none"
	partSplit      = "split"      // two groups, both directions cut
	partIsolate    = "isolate"    // one node cut off from every other, both directions
	partAsymmetric = "asymmetric" // some directed links dropped, one direction only
)

// roundPlan is what one round of chaos does.
type roundPlan struct {
	Index     int
	Partition string
	// Drops are the directed links cut (from, to), network node indices:
	// packets from `from` to `to` are dropped at from's egress.
	Drops [][2]int
	WAN   bool  // delay, loss and reordering (netem), or loss only where netem is missing
	Kills []int // nodes killed with SIGKILL while they write, then restarted
	// Writes is how many operations each live node does this round.
	Writes int
	// One-off events of the run.
	Retract bool // an author retracts one of its posts
	Invite  bool // the coordinator invites a new member, who then serves
	Revoke  bool // the coordinator revokes a member's device (which then goes away)
	Skew    bool // skewNode runs with its clock off by a day this round
}

// chaosRoles names which network node plays which one-off part. Node 0 is
// the coordinator; the last network node joins mid-run.
type chaosRoles struct {
	Nodes      int // network nodes, the one invited mid-run included
	SkewNode   int
	RevokeNode int
	Invited    int
}

func rolesFor(nodes int) chaosRoles {
	return chaosRoles{Nodes: nodes, SkewNode: 1, RevokeNode: 2, Invited: nodes - 1}
}

// live reports whether network node i serves during round r of plan.
func (c chaosRoles) live(plan []roundPlan, r, i int) bool {
	if i == c.Invited {
		for _, p := range plan[:r+1] {
			if p.Invite {
				return true // invited at the start of that round, then serves
			}
		}
		return false
	}
	if i == c.RevokeNode {
		for _, p := range plan[:r+1] {
			if p.Revoke {
				return false // revoked at the start of this round or before
			}
		}
	}
	return true
}

// planRounds draws the rounds of a run from seed: the same seed, nodes and
// rounds give the same plan.
func planRounds(seed uint64, nodes, rounds, writes int) []roundPlan {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	roles := rolesFor(nodes)
	plan := make([]roundPlan, rounds)
	for r := range plan {
		plan[r] = roundPlan{Index: r, Writes: writes}
	}
	// One-off events: a retraction early, the skewed clock in the second
	// round (undone in the third), the invite in the middle, the
	// revocation in the last round (after the previous heal).
	plan[0].Retract = true
	if rounds >= 3 {
		plan[1].Skew = true
	}
	plan[rounds/2].Invite = true
	if rounds >= 2 {
		plan[rounds-1].Revoke = true
	}
	kinds := []string{partSplit, partIsolate, partAsymmetric, partAsymmetric, partNone}
	for r := range plan {
		p := &plan[r]
		var live []int
		for i := range nodes {
			if roles.live(plan, r, i) {
				live = append(live, i)
			}
		}
		// The first rounds cover each kind once, then at random.
		if r < 3 {
			p.Partition = kinds[r]
		} else {
			p.Partition = kinds[rng.IntN(len(kinds))]
		}
		p.WAN = r%2 == 1 || rng.IntN(3) == 0
		switch p.Partition {
		case partSplit:
			perm := slices.Clone(live)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			cut := 1 + rng.IntN(len(perm)-1)
			for _, a := range perm[:cut] {
				for _, b := range perm[cut:] {
					p.Drops = append(p.Drops, [2]int{a, b}, [2]int{b, a})
				}
			}
		case partIsolate:
			a := live[rng.IntN(len(live))]
			for _, b := range live {
				if b != a {
					p.Drops = append(p.Drops, [2]int{a, b}, [2]int{b, a})
				}
			}
		case partAsymmetric:
			// One node hears everyone but is heard by no one (or by
			// half), and one more directed link at random.
			a := live[rng.IntN(len(live))]
			for _, b := range live {
				if b != a && (rng.IntN(4) != 0) {
					p.Drops = append(p.Drops, [2]int{a, b})
				}
			}
			x, y := live[rng.IntN(len(live))], live[rng.IntN(len(live))]
			if x != y && !slices.Contains(p.Drops, [2]int{x, y}) {
				p.Drops = append(p.Drops, [2]int{x, y})
			}
		}
		sort.Slice(p.Drops, func(i, j int) bool {
			if p.Drops[i][0] != p.Drops[j][0] {
				return p.Drops[i][0] < p.Drops[j][0]
			}
			return p.Drops[i][1] < p.Drops[j][1]
		})
		// One or two nodes killed mid-write (never the one invited this
		// round, which is not serving yet when the round starts).
		nk := 1 + rng.IntN(2)
		perm := slices.Clone(live)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for _, k := range perm {
			if len(p.Kills) == nk {
				break
			}
			if p.Invite && k == roles.Invited {
				continue
			}
			p.Kills = append(p.Kills, k)
		}
		slices.Sort(p.Kills)
	}
	return plan
}

// describe is one line about a round, for the log.
func (p roundPlan) describe(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "round %d: %s", p.Index+1, p.Partition)
	if len(p.Drops) > 0 {
		var ds []string
		for _, d := range p.Drops {
			ds = append(ds, names[d[0]]+"->"+names[d[1]])
		}
		fmt.Fprintf(&b, " (drop %s)", strings.Join(ds, " "))
	}
	if p.WAN {
		b.WriteString(", WAN")
	}
	if len(p.Kills) > 0 {
		var ks []string
		for _, k := range p.Kills {
			ks = append(ks, names[k])
		}
		fmt.Fprintf(&b, ", SIGKILL %s", strings.Join(ks, " "))
	}
	for _, e := range []struct {
		on   bool
		name string
	}{{p.Retract, "retraction"}, {p.Invite, "invite"}, {p.Revoke, "revocation"}, {p.Skew, "clock skew"}} {
		if e.on {
			b.WriteString(", " + e.name)
		}
	}
	return b.String()
}

// Kinds of writes in the ledger.
const (
	wPost     = "post"
	wComment  = "comment"
	wRead     = "read"
	wIncident = "incident"
	wRetract  = "retraction"
	wRevoke   = "revocation"
	wInvite   = "invite"
)

// write is one write the harness asked a node for.
type write struct {
	Kind   string
	Node   string // who wrote it
	Canary string // a post's title, a comment's body, an incident's title: unique in the run
	ID     string // what the CLI printed, when it returned success
	Acked  bool   // the CLI returned success
	Post   string // a comment's, read's or retraction's post canary
	// Must are the nodes that must list the post once converged, May
	// those that may (Must is a subset): its audience.
	Must, May map[string]bool
	Retracted bool // an acknowledged retraction took it down
	Doubtful  bool // a retraction of it was tried and not acknowledged: present or not, both fine
}

// ledger is every write of a run.
type ledger struct{ writes []*write }

func (l *ledger) add(w *write) *write { l.writes = append(l.writes, w); return w }

// listing is what one node lists: the titles of the posts in its feed
// (one entry per listed post) and each post's comment count.
type listing struct {
	Titles   []string
	Comments map[string]int // by title
}

// verdict is the accounting of one check over some nodes.
type verdict struct {
	Missing    []string // "node: canary": an acknowledged write not (yet) listed where it must be
	Duplicated []string // listed more than once, or more comments than were written
	Forbidden  []string // listed by a node outside its audience, or retracted and still listed
}

func (v verdict) ok() bool { return len(v.Missing)+len(v.Duplicated)+len(v.Forbidden) == 0 }

func (v verdict) String() string {
	var parts []string
	show := func(what string, xs []string) {
		if len(xs) == 0 {
			return
		}
		s := xs
		if len(s) > 4 {
			s = append(slices.Clone(s[:4]), fmt.Sprintf("and %d more", len(xs)-4))
		}
		parts = append(parts, what+": "+strings.Join(s, ", "))
	}
	show("missing", v.Missing)
	show("duplicated", v.Duplicated)
	show("forbidden", v.Forbidden)
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, "; ")
}

// assess checks what each node lists against the ledger: every
// acknowledged post listed exactly once where it must be and nowhere
// outside its audience, none listed twice, comment counts between the
// acknowledged and the attempted comments.
func (l *ledger) assess(lists map[string]listing) verdict {
	var v verdict
	posts := map[string]*write{}
	acked, tried := map[string]int{}, map[string]int{}
	for _, w := range l.writes {
		switch w.Kind {
		case wPost:
			posts[w.Canary] = w
		case wComment:
			tried[w.Post]++
			if w.Acked {
				acked[w.Post]++
			}
		}
	}
	nodes := make([]string, 0, len(lists))
	for n := range lists {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		ls := lists[n]
		count := map[string]int{}
		for _, t := range ls.Titles {
			count[t]++
		}
		for t, c := range count {
			w := posts[t]
			switch {
			case w == nil:
				// Not one of ours (none is written by anyone else).
				v.Forbidden = append(v.Forbidden, n+": unknown post "+strconv.Quote(t))
				continue
			case c > 1:
				v.Duplicated = append(v.Duplicated, fmt.Sprintf("%s: %s listed %d times", n, t, c))
			}
			if !w.May[n] {
				v.Forbidden = append(v.Forbidden, n+": "+t+" (outside its audience)")
			} else if w.Retracted {
				v.Forbidden = append(v.Forbidden, n+": "+t+" (retracted)")
			}
			if got := ls.Comments[t]; got > tried[t] {
				v.Duplicated = append(v.Duplicated, fmt.Sprintf("%s: %s has %d comments, %d written", n, t, got, tried[t]))
			}
		}
		for _, w := range l.writes {
			if w.Kind != wPost || !w.Acked || w.Retracted || w.Doubtful || !w.Must[n] {
				continue
			}
			if count[w.Canary] == 0 {
				v.Missing = append(v.Missing, n+": "+w.Canary)
			} else if got := ls.Comments[w.Canary]; got < acked[w.Canary] {
				v.Missing = append(v.Missing, fmt.Sprintf("%s: %s has %d comments, %d acknowledged", n, w.Canary, got, acked[w.Canary]))
			}
		}
	}
	return v
}

// tally counts a run's writes for the table.
func (l *ledger) tally() (written, acked int) {
	for _, w := range l.writes {
		written++
		if w.Acked {
			acked++
		}
	}
	return written, acked
}

// canaries are every unique string the run wrote into a sealed record.
func (l *ledger) canaries() []string {
	var cs []string
	for _, w := range l.writes {
		if w.Canary != "" {
			cs = append(cs, w.Canary)
		}
	}
	return cs
}

// chaosResult is what a run measured.
type chaosResult struct {
	Seed        uint64
	Nodes       int
	Rounds      int
	Partitions  int // rounds with a partition
	Held        int // of which some node lacked something before the heal (the cut bit)
	Asymmetric  int // of which one-direction only
	WAN         string
	Kills       int
	Written     int
	Acked       int
	Envelopes   int // envelopes the coordinator holds at the end (noroshi check), 0 when unknown
	Lost        int // acknowledged posts and comments missing at the end
	Duplicated  int
	Forbidden   int // listed outside the audience, or canaries found in clear on a disk
	Divergent   int // heals after which the nodes did not converge within the bound
	Convergence []time.Duration
	Bound       time.Duration
	Notes       []string
}

func (r chaosResult) failed() bool {
	return r.Lost+r.Duplicated+r.Forbidden+r.Divergent > 0
}

// percentile of sorted durations (nearest rank); 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// table renders the result as Markdown.
func (r chaosResult) table() string {
	c := slices.Clone(r.Convergence)
	slices.Sort(c)
	header := []string{"nodes", "rounds", "partitions (asymmetric; held)", "WAN", "kills", "writes", "acknowledged", "envelopes held", "lost", "duplicated", "forbidden", "diverged", "convergence p50", "p95", "max", "bound"}
	row := []string{
		strconv.Itoa(r.Nodes), strconv.Itoa(r.Rounds),
		fmt.Sprintf("%d (%d; %d held)", r.Partitions, r.Asymmetric, r.Held), r.WAN, strconv.Itoa(r.Kills),
		strconv.Itoa(r.Written), strconv.Itoa(r.Acked), strconv.Itoa(r.Envelopes), strconv.Itoa(r.Lost), strconv.Itoa(r.Duplicated),
		strconv.Itoa(r.Forbidden), strconv.Itoa(r.Divergent),
		secs(percentile(c, 0.5)), secs(percentile(c, 0.95)), secs(percentile(c, 1)), secs(r.Bound),
	}
	return proofdoc.Table(header, [][]string{row})
}

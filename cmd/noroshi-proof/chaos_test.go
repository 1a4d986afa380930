package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The same seed gives the same plan; the plan has every kind of fault and
// every one-off event, cuts only live nodes, and never kills the coordinator
// out of existence.
func TestChaosPlanFromSeed(t *testing.T) {
	for _, nodes := range []int{5, 6, 7} {
		a := planRounds(7, nodes, 6, 4)
		b := planRounds(7, nodes, 6, 4)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("nodes %d: two plans from one seed differ", nodes)
		}
		if reflect.DeepEqual(a, planRounds(8, nodes, 6, 4)) {
			t.Errorf("nodes %d: seeds 7 and 8 give the same plan", nodes)
		}
		roles := rolesFor(nodes)
		seen := map[string]bool{}
		var retract, invite, revoke, skew, wan int
		for r, p := range a {
			seen[p.Partition] = true
			for _, e := range []struct {
				on bool
				n  *int
			}{{p.Retract, &retract}, {p.Invite, &invite}, {p.Revoke, &revoke}, {p.Skew, &skew}, {p.WAN, &wan}} {
				if e.on {
					*e.n++
				}
			}
			for _, d := range p.Drops {
				if d[0] == d[1] || !roles.live(a, r, d[0]) || !roles.live(a, r, d[1]) {
					t.Errorf("nodes %d round %d: drop %v cuts a node that does not serve", nodes, r, d)
				}
			}
			if len(p.Kills) == 0 {
				t.Errorf("nodes %d round %d: no kill", nodes, r)
			}
			for _, k := range p.Kills {
				if !roles.live(a, r, k) {
					t.Errorf("nodes %d round %d: kills %d, which does not serve", nodes, r, k)
				}
			}
			if p.Partition == partAsymmetric {
				for _, d := range p.Drops {
					if slices.Contains(p.Drops, [2]int{d[1], d[0]}) {
						t.Errorf("nodes %d round %d: asymmetric partition cuts %v both ways", nodes, r, d)
					}
				}
			}
		}
		for _, k := range []string{partSplit, partIsolate, partAsymmetric} {
			if !seen[k] {
				t.Errorf("nodes %d: no %s partition in %d rounds", nodes, k, len(a))
			}
		}
		if retract != 1 || invite != 1 || revoke != 1 || skew != 1 || wan == 0 {
			t.Errorf("nodes %d: retract %d invite %d revoke %d skew %d wan %d", nodes, retract, invite, revoke, skew, wan)
		}
		if roles.live(a, 0, roles.Invited) || !roles.live(a, len(a)-1, roles.Invited) {
			t.Errorf("nodes %d: the invited node serves before its invite or not after", nodes)
		}
		if roles.live(a, len(a)-1, roles.RevokeNode) || !roles.live(a, 0, roles.RevokeNode) {
			t.Errorf("nodes %d: the revoked node serves after its revocation or not before", nodes)
		}
	}
}

// The accounting: an acknowledged post listed once where it must be is
// fine; missing, twice, outside its audience, retracted and still listed,
// more comments than written, fewer than acknowledged: each is counted.
func TestChaosAccounting(t *testing.T) {
	all := map[string]bool{"a": true, "b": true, "c": true}
	onlyA := map[string]bool{"a": true}
	var l ledger
	l.add(&write{Kind: wPost, Node: "a", Canary: "p1", Acked: true, Must: all, May: all})
	l.add(&write{Kind: wPost, Node: "a", Canary: "red", Acked: true, Must: onlyA, May: onlyA})
	l.add(&write{Kind: wPost, Node: "b", Canary: "unacked", Must: all, May: all})
	l.add(&write{Kind: wPost, Node: "b", Canary: "gone", Acked: true, Retracted: true, Must: all, May: all})
	l.add(&write{Kind: wComment, Node: "b", Canary: "c1", Post: "p1", Acked: true})
	l.add(&write{Kind: wComment, Node: "c", Canary: "c2", Post: "p1"})
	l.add(&write{Kind: wRead, Node: "c", Post: "p1", Acked: true})

	good := map[string]listing{
		"a": {Titles: []string{"p1", "red", "unacked"}, Comments: map[string]int{"p1": 2}},
		"b": {Titles: []string{"p1"}, Comments: map[string]int{"p1": 1}},
		"c": {Titles: []string{"p1", "unacked"}, Comments: map[string]int{"p1": 1}},
	}
	if v := l.assess(good); !v.ok() {
		t.Fatalf("a converged state judged wrong: %s", v)
	}
	if w, a := l.tally(); w != 7 || a != 5 {
		t.Errorf("tally: %d written, %d acknowledged; want 7, 5", w, a)
	}
	for _, tc := range []struct {
		name  string
		lists map[string]listing
		want  func(verdict) int
	}{
		{"missing", map[string]listing{"b": {Comments: map[string]int{}}}, func(v verdict) int { return len(v.Missing) }},
		{"twice", map[string]listing{"b": {Titles: []string{"p1", "p1"}, Comments: map[string]int{"p1": 1}}}, func(v verdict) int { return len(v.Duplicated) }},
		{"outside", map[string]listing{"b": {Titles: []string{"p1", "red"}, Comments: map[string]int{"p1": 1}}}, func(v verdict) int { return len(v.Forbidden) }},
		{"retracted", map[string]listing{"b": {Titles: []string{"p1", "gone"}, Comments: map[string]int{"p1": 1}}}, func(v verdict) int { return len(v.Forbidden) }},
		{"unknown", map[string]listing{"b": {Titles: []string{"p1", "stranger"}, Comments: map[string]int{"p1": 1}}}, func(v verdict) int { return len(v.Forbidden) }},
		{"comments doubled", map[string]listing{"b": {Titles: []string{"p1"}, Comments: map[string]int{"p1": 3}}}, func(v verdict) int { return len(v.Duplicated) }},
		{"comment lost", map[string]listing{"b": {Titles: []string{"p1"}, Comments: map[string]int{"p1": 0}}}, func(v verdict) int { return len(v.Missing) }},
	} {
		v := l.assess(tc.lists)
		if tc.want(v) != 1 || v.ok() {
			t.Errorf("%s: %s", tc.name, v)
		}
	}
}

func TestChaosTable(t *testing.T) {
	r := chaosResult{Nodes: 5, Rounds: 3, Partitions: 3, Asymmetric: 1, Held: 2, WAN: "5% loss", Kills: 4, Written: 60, Acked: 55,
		Convergence: []time.Duration{3 * time.Second, time.Second, 2 * time.Second}, Bound: 35 * time.Second}
	s := r.table()
	for _, want := range []string{"| 5 | 3 | 3 (1; 2 held) | 5% loss | 4 | 60 | 55 | 0 | 0 | 0 | 0 | 0 | 2.0 s | 3.0 s | 3.0 s | 35.0 s |", "convergence p50"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if r.failed() {
		t.Error("a clean run judged failed")
	}
	r.Lost = 1
	if !r.failed() {
		t.Error("a loss not judged a failure")
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing: %s", got)
	}
	if pid, ok := staleRunPID("nrc1234-n0"); !ok || pid != 1234 {
		t.Errorf("staleRunPID: %d %v", pid, ok)
	}
	for _, name := range []string{"other", "nrc-x", "nrcabc-n0"} {
		if _, ok := staleRunPID(name); ok {
			t.Errorf("staleRunPID(%q) claims a chaos namespace", name)
		}
	}
}

// TestProofChaosShort runs the CI version of the chaos harness: root only,
// in scripts/test.sh's proof stage (NOROSHI_PROOF=1).
func TestProofChaosShort(t *testing.T) {
	proofRun(t)
	if os.Geteuid() != 0 {
		t.Skip("chaos: skipped: network namespaces need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var out bytes.Buffer
	o := chaosOpts{Nodes: 5, Rounds: 3, Writes: 3, Seed: uint64(time.Now().UnixNano()), Skew: -24 * time.Hour, AE: time.Second, Command: "NOROSHI_PROOF=1 go test -run TestProofChaosShort ./cmd/noroshi-proof/"}
	res, err := runChaos(ctx, o, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(chaosReport(res, o))
	if res.failed() {
		t.Fatalf("chaos (seed %d): %d lost, %d duplicated, %d forbidden, %d heals diverged: %s", res.Seed, res.Lost, res.Duplicated, res.Forbidden, res.Divergent, strings.Join(res.Notes, "; "))
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"noroshi/internal/proofdoc"
)

// TestFuzzCountsFollowCI: the budgets come from scripts/test.sh's own
// fuzzcount table, so that CI and make fuzz agree.
func TestFuzzCountsFollowCI(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ciFuzzCounts(filepath.Join(root, "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"FuzzJoin": 200, "FuzzChannelHandshake": 200, "FuzzImportSections": 200, "FuzzImportBundle": 3000, "FuzzFrameHeads": 20000, "FuzzSomethingNew": 20000} {
		if got := c.count(name); got != want {
			t.Errorf("count(%s) = %d, want %d", name, got, want)
		}
	}
}

// TestListFuzzTargets lists a package's targets from its test files.
func TestListFuzzTargets(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ts, err := listFuzzTargets(context.Background(), root, []string{"./crypto/envelope"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range ts {
		if x.Pkg != "noroshi/crypto/envelope" || x.Dir != filepath.Join(root, "crypto", "envelope") {
			t.Errorf("target %+v", x)
		}
		names = append(names, x.Name)
	}
	if !slices.Contains(names, "FuzzDecode") || !slices.Contains(names, "FuzzDecodeHeader") {
		t.Errorf("targets %v", names)
	}
}

// TestKeepInputs copies the smallest corpus files, none too large, none
// twice, and nothing that is not a corpus file.
func TestKeepInputs(t *testing.T) {
	cache, dst := t.TempDir(), filepath.Join(t.TempDir(), "testdata", "fuzz", "FuzzX")
	files := map[string]string{
		"a": "go test fuzz v1\n[]byte(\"0123456789\")\n",
		"b": "go test fuzz v1\n[]byte(\"0\")\n",
		"c": "go test fuzz v1\n[]byte(\"" + strings.Repeat("x", 5000) + "\")\n",
		"d": "not a corpus file",
		"e": "go test fuzz v1\n[]byte(\"01\")\n",
	}
	var names []string
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(cache, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	got := keepInputs(cache, names, dst, 2, 4096)
	if !slices.Equal(got, []string{"b", "e"}) {
		t.Fatalf("kept %v, want [b e]", got)
	}
	if again := keepInputs(cache, names, dst, 5, 4096); !slices.Equal(again, []string{"a"}) {
		t.Fatalf("second time kept %v, want [a]", again)
	}
	if n := len(dirNames(dst)); n != 3 {
		t.Fatalf("%d files in %s", n, dst)
	}
}

// TestFuzzDoc: the section names the command that regenerates it.
func TestFuzzDoc(t *testing.T) {
	rs := []fuzzResult{{fuzzTarget: fuzzTarget{Pkg: "noroshi/replica", Name: "FuzzFrameHeads"}, Budget: "100000x", Execs: 100000, New: 4, Seeds: 3, Outcome: "ok"}}
	doc := fuzzDoc(proofdoc.Machine(time.Now()), rs, fuzzOptions{Scale: 5, Parallel: 2, Doc: "docs/reliability.md"}, []string{"./..."}, 0)
	for _, want := range []string{"## Fuzzing", "| replica | FuzzFrameHeads | 100000x | 100000 | 4 |", "go run ./cmd/noroshi-proof fuzz --scale 5 --parallel 2 --doc docs/reliability.md"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc lacks %q:\n%s", want, doc)
		}
	}
}

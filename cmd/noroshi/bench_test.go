package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"noroshi/app"
)

// benchRun runs `noroshi ARGS` in this process and returns stdout, stderr
// and the exit code.
func benchRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, cwd: dir, workFactor: app.TestWorkFactor,
		getenv: func(k string) string { return "" }}
	code := run(args, e)
	return stdout.String(), stderr.String(), code
}

// TestBenchQuickTable runs two cheap rows of `noroshi bench --quick` and
// checks the table's shape, the JSON and the doc section; no figure is
// asserted (the machine is shared).
func TestBenchQuickTable(t *testing.T) {
	out, errOut, code := benchRun(t, "--json", "bench", "--quick", "--only", "seal,reconcile")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "bench seal:") || !strings.Contains(errOut, "bench reconcile:") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
	var res struct {
		Quick bool `json:"quick"`
		Rows  []struct {
			Group, Name, Unit, Kind string
			Value, Limit, Ratio     float64
			LimitIs                 string `json:"limit_is"`
		} `json:"rows"`
		Skipped []string `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Quick || len(res.Skipped) > 0 {
		t.Fatalf("quick %v, skipped %v", res.Quick, res.Skipped)
	}
	groups := map[string]int{}
	for _, r := range res.Rows {
		groups[r.Group]++
		if r.Name == "" || r.Unit == "" || r.LimitIs == "" || !strings.Contains(" floor bound theory target ", " "+r.Kind+" ") {
			t.Errorf("row without its description: %+v", r)
		}
		if !(r.Value > 0) || !(r.Limit > 0) || !(r.Ratio > 0) {
			t.Errorf("row %q: value %v, limit %v, ratio %v: want positive numbers", r.Name, r.Value, r.Limit, r.Ratio)
		}
	}
	if groups["seal"] != 4 || groups["reconcile"] != 2 || len(groups) != 2 {
		t.Errorf("rows by group: %v; want seal 4 (seal, open x 1 KiB, 1 MiB), reconcile 2 (100 missing, in sync)", groups)
	}
}

// TestBenchDoc writes the doc section of a quick run of one row and keeps
// the rest of the file.
func TestBenchDoc(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "performance.md")
	if err := os.WriteFile(doc, []byte("# Noroshi: performance\n\nkept by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := benchRun(t, "bench", "--quick", "--only", "seal", "--doc", doc)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "Row") {
		t.Errorf("table: want a header and 4 rows:\n%s", out)
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"kept by hand", "<!-- begin bench", "## Benchmarks", "Measured on", "| seal 1 KiB |", "noroshi bench --quick --only seal --doc " + doc, "<!-- end bench -->"} {
		if !strings.Contains(s, want) {
			t.Errorf("doc lacks %q:\n%s", want, s)
		}
	}
}

func TestBenchUnknownRow(t *testing.T) {
	_, errOut, code := benchRun(t, "bench", "--only", "nosuch")
	if code == 0 || !strings.Contains(errOut, "give one of seal, store") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d, stderr %q; want one line naming the rows", code, errOut)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"noroshi/app"
)

// checkJSON is the agreed shape of `noroshi --json check`.
type checkJSON struct {
	Envelopes      *int     `json:"envelopes"`
	SetDigest      string   `json:"set_digest"`
	ViewsDigest    string   `json:"views_digest"`
	ViewsMatchFold *bool    `json:"views_match_fold"`
	BoltOK         *bool    `json:"bolt_ok"`
	BoltErrors     []string `json:"bolt_errors"`
	Pending        *int     `json:"pending"`
}

// `noroshi check` on a served home (through the control socket) and on
// the same home once nobody holds it: exit 0, the agreed JSON, the same
// digests; the text form is a short summary.
func TestCheckCommand(t *testing.T) {
	home, a := heldHome(t, 3)
	code, out, errOut := outputs(t, []string{"--home", home, "--json", "check"}, "")
	if code != 0 {
		t.Fatalf("served: exit %d: %s", code, errOut)
	}
	var served checkJSON
	if err := json.Unmarshal([]byte(out), &served); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if served.Envelopes == nil || *served.Envelopes == 0 || len(served.SetDigest) != 64 || len(served.ViewsDigest) != 64 ||
		served.ViewsMatchFold == nil || !*served.ViewsMatchFold || served.BoltOK == nil || !*served.BoltOK || served.BoltErrors == nil || served.Pending == nil {
		t.Errorf("served: %s", out)
	}
	a.Close()
	os.Remove(filepath.Join(home, app.SocketName))
	code, out, errOut = outputs(t, []string{"--home", home, "check", "--json"}, "")
	var alone checkJSON
	if code != 0 || json.Unmarshal([]byte(out), &alone) != nil {
		t.Fatalf("alone: exit %d: %s%s", code, out, errOut)
	}
	if alone.SetDigest != served.SetDigest || alone.ViewsDigest != served.ViewsDigest {
		t.Errorf("digests differ between the served and the closed home:\n%+v\n%+v", served, alone)
	}
	code, out, _ = outputs(t, []string{"--home", home, "check"}, "")
	if code != 0 || !strings.Contains(out, "views: equal to a fresh fold") || !strings.Contains(out, "ストアファイル: 正常") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
}

// A store file cut short fails the check of a home nobody holds: exit 1,
// one line that says so and what to do, the report with bolt_ok false.
func TestCheckCommandTruncatedStore(t *testing.T) {
	home, a := heldHome(t, 2)
	a.Close()
	os.Remove(filepath.Join(home, app.SocketName))
	path := filepath.Join(home, app.StoreFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := outputs(t, []string{"--home", home, "--json", "check"}, "")
	if code != 1 || !strings.HasPrefix(errOut, "noroshi: check failed: the store file fails bbolt's check: it is truncated") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "backup") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	var r checkJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.BoltOK == nil || *r.BoltOK || len(r.BoltErrors) == 0 {
		t.Errorf("report: %s", out)
	}
}

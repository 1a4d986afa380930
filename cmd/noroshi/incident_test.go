package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"noroshi/app"
)

// cliRunner runs the CLI in-process against homes under one directory.
type cliRunner struct {
	t   *testing.T
	dir string
}

func (r cliRunner) run(home string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, cwd: r.dir, workFactor: app.TestWorkFactor,
		getenv: func(k string) string {
			if k == "NOROSHI_PASSPHRASE" {
				return scriptPassphrase
			}
			return ""
		}}
	code := run(append([]string{"--home", filepath.Join(r.dir, home)}, args...), e)
	return code, stdout.String(), stderr.String()
}

func (r cliRunner) ok(home string, args ...string) string {
	r.t.Helper()
	code, out, errs := r.run(home, args...)
	if code != 0 {
		r.t.Fatalf("%s %v: exit %d: %s", home, args, code, errs)
	}
	return out
}

// TestCLIRefusesForbiddenMoves tries, through the CLI, every status move
// the rules forbid to the reporting organisation and to a coordinator,
// from every status: each is refused on one line that names the move, the
// reason and the moves allowed instead, and changes nothing.
func TestCLIRefusesForbiddenMoves(t *testing.T) {
	r := cliRunner{t: t, dir: t.TempDir()}
	r.ok("coord", "init", "--name", "Duty Officer")
	r.ok("coord", "community", "create", "--name", "Games 2026", "--org", "Coordination Centre", "--org-kind", "coordination")
	r.ok("coord", "org", "add", "--name", "Venue North", "--kind", "venue")
	r.ok("lead", "init", "--name", "Venue Lead")
	r.ok("lead", "request", "--out", "lead.request")
	r.ok("coord", "invite", "--request", "lead.request", "--org", "Venue North", "--role", "member", "--out", "lead.invite")
	r.ok("lead", "join", "lead.invite")
	at := map[app.Status]string{}
	for _, s := range app.Statuses {
		at[s] = strings.TrimSpace(r.ok("lead", "incident", "report", "--category", "outage", "--title", "outage "+string(s)))
	}
	r.ok("lead", "export", "--out", "report.bundle")
	r.ok("coord", "import", "report.bundle")
	for _, s := range app.Statuses[1:] {
		r.ok("coord", "incident", "update", at[s], "--status", string(s))
	}
	r.ok("coord", "export", "--out", "moved.bundle")
	r.ok("lead", "import", "moved.bundle")
	refused := 0
	for _, home := range []string{"coord", "lead"} {
		for _, from := range app.Statuses {
			var inc app.Incident
			if err := json.Unmarshal([]byte(r.ok(home, "incident", "show", at[from], "--json")), &inc); err != nil {
				t.Fatal(err)
			}
			if inc.Status != from {
				t.Fatalf("%s: incident at %s shows %s", home, from, inc.Status)
			}
			allowed := "no move allowed to you from " + string(from)
			if len(inc.Moves) > 0 {
				allowed = "allowed to you from " + string(from) + ": " + joinEnum(inc.Moves)
			}
			for _, to := range app.Statuses {
				if to == from || (slices.Contains(inc.Moves, to) && from != app.StatusClosed) {
					continue
				}
				code, _, errs := r.run(home, "incident", "update", at[from], "--status", string(to))
				prefix := "noroshi: not allowed: " + string(from) + " -> " + string(to) + ": "
				if code == 0 || !strings.HasPrefix(errs, prefix) || !strings.HasSuffix(errs, "("+allowed+")\n") || strings.Count(errs, "\n") != 1 {
					t.Fatalf("%s %s -> %s: exit %d, %q (want %q ... (%s))", home, from, to, code, errs, prefix, allowed)
				}
				refused++
			}
			var after app.Incident
			json.Unmarshal([]byte(r.ok(home, "incident", "show", at[from], "--json")), &after)
			if after.Status != from || len(after.Timeline) != len(inc.Timeline) {
				t.Fatalf("%s: a refused move at %s wrote something", home, from)
			}
		}
	}
	// Coordinators: from closed, a reopening without a note (3 moves) and
	// back to reported or to resolved; the venue: all but its allowed.
	if refused < 20 {
		t.Fatalf("only %d moves refused", refused)
	}
}

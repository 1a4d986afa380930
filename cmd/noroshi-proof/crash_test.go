package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestProofCrashShort runs a short crash run (a few kills of each kind) on real
// processes: nothing acknowledged is lost, every check passes.
func TestProofCrashShort(t *testing.T) {
	proofRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out bytes.Buffer
	o := crashOpts{Kills: 20, Seed: 12, Posts: 40, Writers: 2, Dir: t.TempDir(), Command: "test"}
	res, err := runCrash(ctx, o, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	body := crashReport(res, o)
	if res.failed() {
		t.Fatalf("crash run failed:\n%s\n%s", body, out.String())
	}
	for _, p := range crashPhases {
		if res.Kills[p] == 0 {
			t.Errorf("no kill landed during %s\n%s", p, out.String())
		}
	}
	if crashSum(res.Kills) != o.Kills || res.Checks < o.Kills || res.Acked["post"] == 0 {
		t.Errorf("kills %v, checks %d, acknowledged %v", res.Kills, res.Checks, res.Acked)
	}
	if !strings.HasPrefix(body, "## Crash safety\n") || !strings.Contains(body, "Regenerate: `test`") {
		t.Errorf("report:\n%s", body)
	}
}

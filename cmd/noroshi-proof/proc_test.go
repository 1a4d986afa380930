package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestTwoServesReplicate checks the process driver itself: a community of
// two homes made with the CLI, both served on loopback, a post written on
// one read on the other.
func TestTwoServesReplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds noroshi and runs two serve processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := buildNoroshi(ctx, root, dir, "nogui")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := newCommunity(ctx, dir, bin, []member{
		{Name: "coord", Org: "Coordination Centre"},
		{Name: "venue", Org: "Venue North", Role: "org-admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Serve(ctx, "--bind", fmt.Sprintf("127.0.0.1:%d", p1), "--no-mdns", "--anti-entropy", "500ms"); err != nil {
		t.Fatal(err)
	}
	defer nodes[0].Stop()
	p2, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Serve(ctx, "--bind", fmt.Sprintf("127.0.0.1:%d", p2), "--no-mdns", "--anti-entropy", "500ms", "--join", fmt.Sprintf("127.0.0.1:%d", p1)); err != nil {
		t.Fatal(err)
	}
	defer nodes[1].Stop()
	if _, err := nodes[1].Run(ctx, "post", "--type", "alert", "--tag", "important", "--tlp", "green", "--title", "proof driver canary"); err != nil {
		t.Fatal(err)
	}
	for {
		out, err := nodes[0].Run(ctx, "feed")
		if err == nil && strings.Contains(out, "proof driver canary") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the post never reached the coordinator: %v\n%s", err, out)
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err := nodes[1].Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// proofRun skips t unless NOROSHI_PROOF=1: a short proof run of real
// processes takes minutes, and scripts/test.sh runs them in a stage of
// their own after the unit suite, when the machine is quieter
// (NOROSHI_PROOF=1 go test -run '^TestProof' ./cmd/noroshi-proof/).
func proofRun(t *testing.T) {
	t.Helper()
	if os.Getenv("NOROSHI_PROOF") != "1" {
		t.Skip("a proof run of real processes: set NOROSHI_PROOF=1 (scripts/test.sh runs it in its proof stage)")
	}
}

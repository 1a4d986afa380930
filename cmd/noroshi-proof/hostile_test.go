package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestProofHostileShort runs the hostile peer's short version: three honest
// serves, one member forging on every channel. It fails on a crash, a
// memory budget exceeded, divergence, or an attack kind nobody counted.
func TestProofHostileShort(t *testing.T) {
	proofRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	r, err := runHostile(ctx, hostileOpts{duration: 20 * time.Second, bound: 60 * time.Second, out: io.Discard, command: "go test -run TestProofHostileShort ./cmd/noroshi-proof"})
	if r != nil {
		t.Log("\n" + r.markdown(false))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.failures() {
		t.Error(f)
	}
}

package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"noroshi/app"
)

// TestThreatOversizedFileRefusedBeforeReading: a file given to a command
// (a bundle to `noroshi import`, which serve runs for the CLI) that is
// larger than the command's limit is refused without being read: before,
// readInput read limit+1 bytes first, so a 4 GiB + 1 sparse file handed to
// import made serve hold 4 GiB before saying it was too large (found by
// noroshi-proof hostile).
func TestThreatOversizedFileRefusedBeforeReading(t *testing.T) {
	const limit = 64 << 20
	p := filepath.Join(t.TempDir(), "huge.bundle")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(limit + 1); err != nil { // sparse: no disk
		t.Fatal(err)
	}
	f.Close()
	c := &cli{env: feedEnv(t.TempDir(), nil, nil), o: &opts{}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = c.readInput(p, limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, app.ErrTooLarge) {
		t.Fatalf("readInput of a file over the limit: %v, want ErrTooLarge", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("refusing a file over the limit allocated %d bytes: it was read first", got)
	}
}

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"noroshi/internal/proofdoc"
)

// TestProofCompareShort runs compare --short against Debian's syncthing when it
// is installed: every scenario of both tools completes and the report
// section is written. It asserts no time: the figures are only printed.
func TestProofCompareShort(t *testing.T) {
	proofRun(t)
	if _, err := exec.LookPath("syncthing"); err != nil {
		t.Skip("syncthing is not installed (apt-get install syncthing): the comparison is not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	o := defaultCompareOptions()
	o.Small, o.Large, o.Away, o.CLISample = 200, 20, 1000, 5
	o.Logf = t.Logf
	rep, err := runCompare(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 6 {
		t.Fatalf("got %d rows, want 6 (3 scenarios × 2 tools): %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Items == 0 || r.Write <= 0 {
			t.Errorf("row %+v: no items or no write time", r)
		}
		if strings.HasPrefix(r.Scenario, "3.") && r.CatchUp <= 0 {
			t.Errorf("row %+v: no catch-up time", r)
		}
	}
	doc := filepath.Join(t.TempDir(), "performance.md")
	body := rep.markdown(o, "go run ./cmd/noroshi-proof compare --short")
	if err := proofdoc.WriteSection(doc, "syncthing", body); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!-- begin syncthing", "## Side by side with Syncthing", "syncthing v", "| 3. catch-up", "make compare"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the report lacks %q:\n%s", want, b)
		}
	}
	t.Logf("\n%s", body)
}

// TestControlRunRefusesBadFrames checks the control socket client against
// a holder that answers with an unknown frame kind.
func TestControlRunRefusesBadFrames(t *testing.T) {
	home := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(home, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte{'z', 0, 0, 0, 1, 'x'})
	}()
	if _, err := controlRun(context.Background(), home, "whoami"); err == nil || !strings.Contains(err.Error(), "unknown frame kind") {
		t.Fatalf("got %v, want an unknown frame kind error", err)
	}
}

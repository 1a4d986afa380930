package proofdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteSectionKeepsTheOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs", "performance.md")
	if err := WriteSection(path, "bench", "## Bench\n\nfirst\n"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "syncthing", "## Syncthing\n\nsecond\n"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "bench", "## Bench\n\nthird\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "# Noroshi: performance\n") {
		t.Errorf("no title:\n%s", s)
	}
	if strings.Contains(s, "first") || !strings.Contains(s, "third") || !strings.Contains(s, "second") {
		t.Errorf("sections not replaced in place:\n%s", s)
	}
	if strings.Index(s, "third") > strings.Index(s, "second") {
		t.Errorf("the bench section moved:\n%s", s)
	}
}

func TestWriteSectionRefusesBrokenMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reliability.md")
	begin, _ := markers("chaos")
	if err := os.WriteFile(path, []byte("# x\n"+begin+"\nhalf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "chaos", "## Chaos"); err == nil {
		t.Fatal("a section with no end marker was overwritten")
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "half") {
		t.Error("the file changed on a refused write")
	}
}

func TestMachine(t *testing.T) {
	m := Machine(time.Date(2026, 12, 7, 11, 40, 0, 0, time.UTC))
	if m.Cores < 1 || m.GoVersion == "" {
		t.Fatalf("machine: %+v", m)
	}
	if s := m.Markdown(); !strings.Contains(s, "2026-12-07 11:40 UTC") || !strings.Contains(s, m.GoVersion) {
		t.Errorf("markdown: %s", s)
	}
}

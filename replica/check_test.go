package replica

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckMeta: the meta pages of any file, however damaged, give a
// finding or none, never a panic; a file cut short of its pages is
// always found.
func FuzzCheckMeta(f *testing.F) {
	path := filepath.Join(f.TempDir(), "store.db")
	s := openTestStore(f, path)
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:4096])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		found := checkMetaOf(bytes.NewReader(b), int64(len(b)))
		if len(b) < 2*512 && found == "" {
			t.Errorf("a file of %d bytes passes", len(b))
		}
	})
}

// A sound store file passes CheckFile; one cut short is found truncated.
func TestCheckFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := openTestStore(t, path)
	if found := s.Check(10); len(found) != 0 {
		t.Errorf("open store: %v", found)
	}
	s.Close()
	if found, err := CheckFile(path, 10); err != nil || len(found) != 0 {
		t.Fatalf("sound file: %v, %v", found, err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)-4096], 0o600); err != nil {
		t.Fatal(err)
	}
	if found, err := CheckFile(path, 10); err != nil || len(found) != 1 || !strings.Contains(found[0], "truncated") {
		t.Errorf("truncated file: %v, %v", found, err)
	}
}

func openTestStore(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

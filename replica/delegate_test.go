package replica

import (
	"errors"
	"testing"

	"github.com/hashicorp/memberlist"
)

// FuzzNodeMeta: the metadata decoder takes arbitrary bytes without
// panicking, and what it accepts encodes back byte for byte.
func FuzzNodeMeta(f *testing.F) {
	m := nodeMeta{syncPort: 7947}
	m.device[0] = 9
	f.Add(m.encode())
	f.Add([]byte{metaVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, errMeta) {
				t.Fatalf("got %v, want errMeta", err)
			}
			return
		}
		if again := m.encode(); string(again) != string(b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
	})
}

func TestNodeMetaFits(t *testing.T) {
	if n := len((nodeMeta{}).encode()); n != metaSize || n > memberlist.MetaMaxSize {
		t.Errorf("metadata of %d bytes, want %d (memberlist carries %d)", n, metaSize, memberlist.MetaMaxSize)
	}
}

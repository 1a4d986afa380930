package replica

import (
	"errors"
	"testing"
)

// FuzzAnnounce: the announcement decoder takes arbitrary bytes without
// panicking, and what it accepts encodes back byte for byte.
func FuzzAnnounce(f *testing.F) {
	a := announcement{seq: 7, port: 7947}
	a.author[0], a.id[0], a.holder[0] = 1, 2, 3
	f.Add(a.encode())
	f.Add(announcement{}.encode())
	f.Add([]byte{announceType})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnnounce(b)
		if err != nil {
			if !errors.Is(err, errAnnounce) {
				t.Fatalf("got %v, want errAnnounce", err)
			}
			return
		}
		if again := a.encode(); string(again) != string(b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
		if a.seq == 0 {
			t.Fatal("sequence 0 accepted")
		}
	})
}

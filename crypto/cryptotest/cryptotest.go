// Package cryptotest provides deterministic keys and randomness for tests.
//
// It is for tests only: nothing here is secret or random, and WorkFactor is
// far too low to protect a real key file. Production code must never import
// it; the one exception is noroshi/app/bench (`noroshi bench`), whose keys
// are thrown away after each measurement.
package cryptotest

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"

	"noroshi/crypto"
)

// WorkFactor is a low scrypt work factor (2^10) that makes key files fast to
// write and read in tests. Real key files use crypto.DefaultWorkFactor.
const WorkFactor = 10

// Rand returns a deterministic stream of bytes seeded by seed: the same seed
// always gives the same stream, different seeds give unrelated streams.
func Rand(seed string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte("noroshi/cryptotest/v1\x00" + seed)))
}

// Device returns a device named name whose signing key, and so whose ID, is
// derived from name: the same name always gives the same device ID. The age
// identity is drawn by age from crypto/rand, so its recipient differs from
// one call to the next.
func Device(t testing.TB, name string) *crypto.Device {
	t.Helper()
	d, err := crypto.NewDevice(Rand("device/"+name), name)
	if err != nil {
		t.Fatalf("cryptotest.Device(%q): %v", name, err)
	}
	return d
}

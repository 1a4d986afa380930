package crypto_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
)

// The limits Seal and Open are measured against: BenchmarkRaw does the least
// any sealed, signed envelope needs, one ChaCha20-Poly1305 pass over the
// payload and one ed25519 signature (seal) or verification (open).

var benchSizes = []struct {
	name   string
	size   int
	groups int
}{
	{"1KiB/1group", 1 << 10, 1},
	{"1KiB/4groups", 1 << 10, 4},
	{"1MiB/1group", 1 << 20, 1},
	{"1MiB/4groups", 1 << 20, 4},
}

func benchSetup(b *testing.B, size, groups int) (*crypto.Device, crypto.Audience, *crypto.Keyring, []byte) {
	d := cryptotest.Device(b, "bench")
	var aud crypto.Audience
	k := crypto.NewKeyring()
	for i := range groups {
		g, err := crypto.NewGroupKey(cryptotest.Rand(fmt.Sprint("bench ", i)))
		if err != nil {
			b.Fatal(err)
		}
		aud.Groups = append(aud.Groups, g)
		k.Add(g)
	}
	record := make([]byte, size)
	rand.Read(record)
	return d, aud, k, record
}

func BenchmarkSeal(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			d, aud, _, record := benchSetup(b, bs.size, bs.groups)
			pos := crypto.Position{Seq: 1}
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Seal(rand.Reader, community, pos, 1, aud, record); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen measures what a receiver does: verify the header, check the
// payload's hash, open it.
func BenchmarkOpen(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			d, aud, k, record := benchSetup(b, bs.size, bs.groups)
			e, err := d.Seal(rand.Reader, community, crypto.Position{Seq: 1}, 1, aud, record)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := crypto.Verify(e.Header); err != nil {
					b.Fatal(err)
				}
				if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
					b.Fatal(err)
				}
				if _, err := crypto.Open(e, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRaw is the floor: one AEAD pass over the payload and one ed25519
// operation on a header-sized message; the +sha256 variants add the hash of
// the payload that every envelope carries.
func BenchmarkRaw(b *testing.B) {
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	pk := sk.Public().(ed25519.PublicKey)
	header := make([]byte, 185+16) // a header with one epoch
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
		plain := make([]byte, size.n)
		rand.Read(plain)
		sealed := aead.Seal(nil, nonce, plain, nil)
		sig := ed25519.Sign(sk, header)
		b.Run("seal/"+size.name, func(b *testing.B) {
			out := make([]byte, 0, len(sealed))
			b.SetBytes(int64(size.n))
			for b.Loop() {
				out = aead.Seal(out[:0], nonce, plain, nil)
				ed25519.Sign(sk, header)
			}
		})
		// With the SHA-256 of the payload that content addressing needs on
		// both sides (Seal computes it, receivers check it): the real floor.
		b.Run("seal+sha256/"+size.name, func(b *testing.B) {
			out := make([]byte, 0, len(sealed))
			b.SetBytes(int64(size.n))
			for b.Loop() {
				out = aead.Seal(out[:0], nonce, plain, nil)
				sha256.Sum256(out)
				ed25519.Sign(sk, header)
			}
		})
		b.Run("open+sha256/"+size.name, func(b *testing.B) {
			out := make([]byte, 0, len(plain))
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if !ed25519.Verify(pk, header, sig) {
					b.Fatal("bad signature")
				}
				sha256.Sum256(sealed)
				var err error
				if out, err = aead.Open(out[:0], nonce, sealed, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("open/"+size.name, func(b *testing.B) {
			out := make([]byte, 0, len(plain))
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if !ed25519.Verify(pk, header, sig) {
					b.Fatal("bad signature")
				}
				var err error
				if out, err = aead.Open(out[:0], nonce, sealed, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

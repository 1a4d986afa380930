package bench

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
)

// Sealing and opening an envelope against the least any sealed, signed
// envelope needs: one ChaCha20-Poly1305 pass over the payload, the SHA-256
// of the sealed payload that content addressing needs on both sides (Seal
// computes it, receivers check it), and one ed25519 signature (seal) or
// verification (open) of a header-sized message.

// EnvelopeSize is a size BenchmarkSeal and BenchmarkOpenEnvelope measure.
type EnvelopeSize struct {
	Name   string
	Size   int
	Groups int
}

// EnvelopeSizes are the sizes the go test benchmarks measure; the table
// measures those of one group.
var EnvelopeSizes = []EnvelopeSize{
	{"1KiB/1group", 1 << 10, 1},
	{"1KiB/4groups", 1 << 10, 4},
	{"1MiB/1group", 1 << 20, 1},
	{"1MiB/4groups", 1 << 20, 4},
}

var benchCommunity = envelope.Hash(sha256.Sum256([]byte("a community")))

func sealSetup(tb testing.TB, size, groups int) (*crypto.Device, crypto.Audience, *crypto.Keyring, []byte) {
	d := cryptotest.Device(tb, "bench")
	var aud crypto.Audience
	k := crypto.NewKeyring()
	for i := range groups {
		g, err := crypto.NewGroupKey(cryptotest.Rand(fmt.Sprint("bench ", i)))
		if err != nil {
			tb.Fatal(err)
		}
		aud.Groups = append(aud.Groups, g)
		k.Add(g)
	}
	record := make([]byte, size)
	rand.Read(record)
	return d, aud, k, record
}

// SealOp returns one Seal of a record of size bytes to groups group keys.
func SealOp(tb testing.TB, size, groups int) func() error {
	d, aud, _, record := sealSetup(tb, size, groups)
	pos := crypto.Position{Seq: 1}
	return func() error {
		_, err := d.Seal(rand.Reader, benchCommunity, pos, 1, aud, record)
		return err
	}
}

// OpenOp returns what a receiver does with such an envelope: verify the
// header, check the payload's hash, open it.
func OpenOp(tb testing.TB, size, groups int) func() error {
	d, aud, k, record := sealSetup(tb, size, groups)
	e, err := d.Seal(rand.Reader, benchCommunity, crypto.Position{Seq: 1}, 1, aud, record)
	if err != nil {
		tb.Fatal(err)
	}
	return func() error {
		if err := crypto.Verify(e.Header); err != nil {
			return err
		}
		if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
			return err
		}
		_, err := crypto.Open(e, k)
		return err
	}
}

// RawModes are the floors RawOps returns: an AEAD pass and an ed25519
// operation, and the same with the SHA-256 of the payload (the real
// floor).
var RawModes = []string{"seal", "seal+sha256", "open", "open+sha256"}

// RawOps returns, for each of RawModes, one raw operation on size bytes.
func RawOps(tb testing.TB, size int) map[string]func() error {
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pk := sk.Public().(ed25519.PublicKey)
	header := make([]byte, 185+16) // a header with one epoch
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	plain := make([]byte, size)
	rand.Read(plain)
	sealed := aead.Seal(nil, nonce, plain, nil)
	sig := ed25519.Sign(sk, header)
	out := make([]byte, 0, len(sealed))
	open := func(hash bool) func() error {
		return func() error {
			if !ed25519.Verify(pk, header, sig) {
				return errors.New("bad signature")
			}
			if hash {
				sha256.Sum256(sealed)
			}
			var err error
			out, err = aead.Open(out[:0], nonce, sealed, nil)
			return err
		}
	}
	seal := func(hash bool) func() error {
		return func() error {
			out = aead.Seal(out[:0], nonce, plain, nil)
			if hash {
				sha256.Sum256(out)
			}
			ed25519.Sign(sk, header)
			return nil
		}
	}
	return map[string]func() error{"seal": seal(false), "seal+sha256": seal(true), "open": open(false), "open+sha256": open(true)}
}

func sealRows(r *runner) []Row {
	d := 200 * time.Millisecond
	if r.quick() {
		d = 30 * time.Millisecond
	}
	var rows []Row
	for _, s := range []struct {
		name string
		n    int
	}{{"1 KiB", 1 << 10}, {"1 MiB", 1 << 20}} {
		raw := RawOps(r, s.n)
		r.progress("seal: %s", s.name)
		seal, rawSeal := timePair(r, d, SealOp(r, s.n, 1), raw["seal+sha256"])
		open, rawOpen := timePair(r, d, OpenOp(r, s.n, 1), raw["open+sha256"])
		rows = append(rows,
			Row{Name: "seal " + s.name, Value: micros(seal), Limit: micros(rawSeal), Unit: "µs", Kind: Floor,
				LimitIs: "ChaCha20-Poly1305 + SHA-256 + ed25519 sign"},
			Row{Name: "open " + s.name, Value: micros(open), Limit: micros(rawOpen), Unit: "µs", Kind: Floor,
				LimitIs: "ed25519 verify + SHA-256 + ChaCha20-Poly1305 open"})
	}
	return rows
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
func millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

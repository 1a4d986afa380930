package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// viewKeyVersion is the first byte of everything a ViewKey seals.
const viewKeyVersion = 1

// ViewKey seals what one device keeps for itself: the views app folds from
// the envelopes (titles, bodies, names) and the keyed hashes of its search
// and filter terms, so that nothing readable sits in the store file in
// clear. It never leaves the device: at rest it is sealed to the device's
// own age identity, and it is never replicated. Losing it costs a rebuild
// of the views from the envelopes, nothing more.
type ViewKey struct {
	aead  cipher.AEAD
	term  []byte    // HMAC key of Term
	terms sync.Pool // of hash.Hash: HMACs under term, reset for reuse
}

// NewViewKey makes a view key for device d and returns it with its sealed
// form, to be stored.
func NewViewKey(rand io.Reader, d *Device) (*ViewKey, []byte, error) {
	raw := make([]byte, 32)
	if _, err := io.ReadFull(rand, raw); err != nil {
		return nil, nil, fmt.Errorf("view key: %w", err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, d.Recipient())
	if err != nil {
		return nil, nil, fmt.Errorf("seal view key: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return nil, nil, fmt.Errorf("seal view key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, fmt.Errorf("seal view key: %w", err)
	}
	k, err := viewKeyFrom(raw)
	return k, buf.Bytes(), err
}

// OpenViewKey opens a view key sealed by NewViewKey for this device.
func (d *Device) OpenViewKey(sealed []byte) (*ViewKey, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), d.age)
	if err != nil {
		return nil, fmt.Errorf("open view key: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return nil, fmt.Errorf("open view key: %w", err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("open view key: %d bytes, want 32", len(raw))
	}
	return viewKeyFrom(raw)
}

// viewKeyFrom derives the sealing and term keys from the raw key.
func viewKeyFrom(raw []byte) (*ViewKey, error) {
	derive := func(info string) []byte {
		out := make([]byte, 32)
		io.ReadFull(hkdf.New(sha256.New, raw, nil, []byte(info)), out)
		return out
	}
	aead, err := chacha20poly1305.NewX(derive("noroshi view seal v1"))
	if err != nil {
		return nil, err
	}
	k := &ViewKey{aead: aead, term: derive("noroshi view terms v1")}
	k.terms.New = func() any { return hmac.New(sha256.New, k.term) }
	return k, nil
}

// ErrViewSeal is returned by ViewKey.Open for a value that was not sealed
// by this key with this associated data.
var ErrViewSeal = errors.New("view value does not open with this device's view key")

// Seal seals plain, bound to ad (where it is stored: a value moved to
// another key does not open). The nonce is random.
func (k *ViewKey) Seal(rand io.Reader, ad, plain []byte) ([]byte, error) {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(plain)+k.aead.Overhead())
	out[0] = viewKeyVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("view seal: %w", err)
	}
	return k.aead.Seal(out, out[1:], plain, ad), nil
}

// Open opens a value sealed by Seal with the same ad.
func (k *ViewKey) Open(ad, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+chacha20poly1305.NonceSizeX+k.aead.Overhead() || sealed[0] != viewKeyVersion {
		return nil, ErrViewSeal
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	plain, err := k.aead.Open(nil, nonce, sealed[1+chacha20poly1305.NonceSizeX:], ad)
	if err != nil {
		return nil, ErrViewSeal
	}
	return plain, nil
}

// Term returns the keyed hash of an index term: equal terms give equal
// hashes on this device, and nobody without the key can tell which term a
// hash stands for or test a guess. Only the first 8 bytes are kept: an
// index needs no more, and a collision costs one false candidate that the
// caller checks against the opened value anyway.
func (k *ViewKey) Term(s string) [8]byte {
	m := k.terms.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, s)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	k.terms.Put(m)
	var out [8]byte
	copy(out[:], sum[:])
	return out
}

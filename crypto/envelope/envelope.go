// Package envelope is Noroshi's wire format, and nothing else: the byte layout
// of an envelope's signed header and of an envelope as it travels (in a bundle,
// over a stream, in the store).
//
// It owns encoding and decoding only. It does not sign, verify, seal or open
// anything (package crypto does), and it must never import any other Noroshi
// package.
//
// # Header, format version 1
//
// All integers are big-endian. A header is exactly:
//
//	version      u8    = 1
//	class        u8    1 certificate, 2 sealed record, 3 retraction
//	author       [32]  the author device's ed25519 public key
//	seq          u64   the author's sequence number, from 1
//	prev         [32]  SHA-256 of the author's previous header; zero when seq = 1
//	clock        u64   hybrid logical clock: unix milliseconds << 16 | counter
//	nEpochs      u8    at most MaxEpochs
//	epochs       nEpochs x [16]   key epoch IDs the payload is sealed to, strictly ascending
//	nRecipients  u16   at most MaxRecipients
//	recipients   nRecipients x [16]  keyed hashes of recipient device IDs, strictly ascending
//	payloadHash  [32]  SHA-256 of the payload
//	payloadSize  u32   1 to MaxPayload
//	signature    [64]  ed25519 over SignedPrefix || every byte above
//
// The encoding is canonical: for every header there is exactly one byte
// string, and Decode refuses anything else (unsorted or repeated lists,
// trailing bytes, an unknown class, a first header with a non-zero prev), so
// that Encode(Decode(b)) == b for every b that decodes. A header's ID is the
// SHA-256 of its encoding, signature included.
//
// # Envelope
//
//	headerLen    u16
//	header       headerLen bytes
//	payloadLen   u32   0 (header only) or exactly header.payloadSize
//	payload      payloadLen bytes
package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Version is the header format version this package writes and reads.
const Version = 1

// Limits. A header is at most fixedSize + MaxEpochs*16 + MaxRecipients*16 bytes.
const (
	MaxEpochs     = 16
	MaxRecipients = 512
	MaxPayload    = 4 << 20
	// SignatureSize is the size of an ed25519 signature.
	SignatureSize = 64

	fixedSize     = 1 + 1 + 32 + 8 + 32 + 8 + 1 + 2 + 32 + 4 + SignatureSize
	MaxHeaderSize = fixedSize + MaxEpochs*16 + MaxRecipients*16
)

// SignedPrefix separates header signatures from every other ed25519 use.
const SignedPrefix = "noroshi/header/v1\x00"

// Class says what an envelope's payload is.
type Class uint8

const (
	ClassCertificate Class = 1 // a clear trust certificate (package crypto)
	ClassSealed      Class = 2 // an age-encrypted domain record
	ClassRetraction  Class = 3 // a clear, signed retraction of an earlier envelope
)

func (c Class) String() string {
	switch c {
	case ClassCertificate:
		return "certificate"
	case ClassSealed:
		return "sealed"
	case ClassRetraction:
		return "retraction"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Hash is a SHA-256 digest: a header ID, a payload hash, a chain link.
type Hash [32]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeroes.
func (h Hash) IsZero() bool { return h == Hash{} }

// EpochID names one epoch of one group key.
type EpochID [16]byte

// Tag is a keyed hash of a recipient device's ID.
type Tag [16]byte

// Header is the signed, public part of an envelope.
type Header struct {
	Version     uint8
	Class       Class
	Author      [32]byte
	Seq         uint64
	Prev        Hash
	Clock       uint64
	Epochs      []EpochID
	Recipients  []Tag
	PayloadHash Hash
	PayloadSize uint32
	Signature   [SignatureSize]byte
}

// Errors returned by Decode. Each wraps ErrMalformed.
var (
	ErrMalformed = errors.New("malformed envelope")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// check validates the fields that the encoding constrains.
func (h *Header) check() error {
	if err := checkVersion(h.Version); err != nil {
		return err
	}
	switch h.Class {
	case ClassCertificate, ClassSealed, ClassRetraction:
	default:
		return malformed("unknown class %d", h.Class)
	}
	if h.Seq == 0 {
		return malformed("sequence number 0")
	}
	if (h.Seq == 1) != h.Prev.IsZero() {
		return malformed("sequence %d with prev %s", h.Seq, h.Prev)
	}
	if len(h.Epochs) > MaxEpochs {
		return malformed("%d epochs, at most %d", len(h.Epochs), MaxEpochs)
	}
	if len(h.Recipients) > MaxRecipients {
		return malformed("%d recipients, at most %d", len(h.Recipients), MaxRecipients)
	}
	for i := 1; i < len(h.Epochs); i++ {
		if bytes.Compare(h.Epochs[i-1][:], h.Epochs[i][:]) >= 0 {
			return malformed("epochs not strictly ascending")
		}
	}
	for i := 1; i < len(h.Recipients); i++ {
		if bytes.Compare(h.Recipients[i-1][:], h.Recipients[i][:]) >= 0 {
			return malformed("recipients not strictly ascending")
		}
	}
	if h.PayloadSize == 0 || h.PayloadSize > MaxPayload {
		return malformed("payload size %d, must be 1 to %d", h.PayloadSize, MaxPayload)
	}
	return nil
}

func checkVersion(v uint8) error {
	switch {
	case v > Version:
		return malformed("header version %d, this program reads version %d: upgrade Noroshi to read newer envelopes", v, Version)
	case v != Version:
		return malformed("unknown header version %d", v)
	}
	return nil
}

// appendUnsigned appends every header field but the signature.
func (h *Header) appendUnsigned(b []byte) []byte {
	b = append(b, h.Version, byte(h.Class))
	b = append(b, h.Author[:]...)
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = append(b, h.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, h.Clock)
	b = append(b, byte(len(h.Epochs)))
	for _, e := range h.Epochs {
		b = append(b, e[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Recipients)))
	for _, r := range h.Recipients {
		b = append(b, r[:]...)
	}
	b = append(b, h.PayloadHash[:]...)
	b = binary.BigEndian.AppendUint32(b, h.PayloadSize)
	return b
}

// SignedMessage returns the bytes the header's signature covers. The header
// must be valid apart from its signature.
func (h *Header) SignedMessage() ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(SignedPrefix)+h.size())
	b = append(b, SignedPrefix...)
	return h.appendUnsigned(b), nil
}

func (h *Header) size() int {
	return fixedSize + 16*len(h.Epochs) + 16*len(h.Recipients)
}

// Encode returns the canonical encoding of h.
func (h *Header) Encode() ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, h.size())
	b = h.appendUnsigned(b)
	return append(b, h.Signature[:]...), nil
}

// ID returns the SHA-256 of the header's canonical encoding.
func (h *Header) ID() Hash {
	b, err := h.Encode()
	if err != nil {
		return Hash{}
	}
	return sha256.Sum256(b)
}

// DecodeHeader parses a header. It checks the encoding only: the caller
// verifies the signature and everything else.
func DecodeHeader(b []byte) (*Header, error) {
	// The version comes first, whatever the length: a newer format may be
	// shorter or longer, and its reader must be told to upgrade.
	if len(b) == 0 {
		return nil, malformed("empty header")
	}
	if err := checkVersion(b[0]); err != nil {
		return nil, err
	}
	if len(b) < fixedSize {
		return nil, malformed("header of %d bytes, at least %d", len(b), fixedSize)
	}
	if len(b) > MaxHeaderSize {
		return nil, malformed("header of %d bytes, at most %d", len(b), MaxHeaderSize)
	}
	r := reader{b: b}
	h := &Header{}
	h.Version = r.u8()
	h.Class = Class(r.u8())
	copy(h.Author[:], r.next(32))
	h.Seq = r.u64()
	copy(h.Prev[:], r.next(32))
	h.Clock = r.u64()
	if n := int(r.u8()); n > 0 {
		if n > MaxEpochs {
			return nil, malformed("%d epochs, at most %d", n, MaxEpochs)
		}
		h.Epochs = make([]EpochID, n)
		for i := range h.Epochs {
			copy(h.Epochs[i][:], r.next(16))
		}
	}
	if n := int(r.u16()); n > 0 {
		if n > MaxRecipients {
			return nil, malformed("%d recipients, at most %d", n, MaxRecipients)
		}
		h.Recipients = make([]Tag, n)
		for i := range h.Recipients {
			copy(h.Recipients[i][:], r.next(16))
		}
	}
	copy(h.PayloadHash[:], r.next(32))
	h.PayloadSize = r.u32()
	copy(h.Signature[:], r.next(SignatureSize))
	if r.short {
		return nil, malformed("header truncated")
	}
	if r.off != len(b) {
		return nil, malformed("%d trailing bytes after header", len(b)-r.off)
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// Envelope is a header and, when this peer holds it, the payload.
type Envelope struct {
	Header  *Header
	Payload []byte // nil when only the header is held
}

// ID returns the envelope's header ID.
func (e *Envelope) ID() Hash { return e.Header.ID() }

// Encode returns the envelope's wire encoding.
func (e *Envelope) Encode() ([]byte, error) {
	hb, err := e.Header.Encode()
	if err != nil {
		return nil, err
	}
	if e.Payload != nil && len(e.Payload) != int(e.Header.PayloadSize) {
		return nil, malformed("payload of %d bytes, header says %d", len(e.Payload), e.Header.PayloadSize)
	}
	b := make([]byte, 0, 2+len(hb)+4+len(e.Payload))
	b = binary.BigEndian.AppendUint16(b, uint16(len(hb)))
	b = append(b, hb...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Payload)))
	return append(b, e.Payload...), nil
}

// Decode parses one envelope that fills b exactly.
func Decode(b []byte) (*Envelope, error) {
	e, n, err := DecodePrefix(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, malformed("%d trailing bytes after envelope", len(b)-n)
	}
	return e, nil
}

// DecodePrefix parses the envelope at the start of b and returns how many
// bytes it took. The payload aliases b.
func DecodePrefix(b []byte) (*Envelope, int, error) {
	r := reader{b: b}
	hl := int(r.u16())
	hb := r.next(hl)
	if r.short {
		return nil, 0, malformed("envelope truncated in header")
	}
	h, err := DecodeHeader(hb)
	if err != nil {
		return nil, 0, err
	}
	pl := r.u32()
	if r.short {
		return nil, 0, malformed("envelope truncated before payload length")
	}
	e := &Envelope{Header: h}
	if pl != 0 {
		if pl != h.PayloadSize {
			return nil, 0, malformed("payload of %d bytes, header says %d", pl, h.PayloadSize)
		}
		e.Payload = r.next(int(pl))
		if r.short {
			return nil, 0, malformed("envelope truncated in payload")
		}
	}
	return e, r.off, nil
}

// reader reads big-endian fields and remembers whether it ran short, so that
// decoders check once at the end.
type reader struct {
	b     []byte
	off   int
	short bool
}

func (r *reader) next(n int) []byte {
	if r.short || n < 0 || len(r.b)-r.off < n {
		r.short = true
		return make([]byte, n&0xffff)
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8   { return r.next(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.next(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.next(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.next(8)) }

// MarshalText encodes h as hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error { return decodeHex(h[:], b, "hash") }

// MarshalText encodes e as hex.
func (e EpochID) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(e[:])), nil }

// UnmarshalText decodes 32 hex digits.
func (e *EpochID) UnmarshalText(b []byte) error { return decodeHex(e[:], b, "epoch ID") }

func decodeHex(dst, src []byte, what string) error {
	if hex.DecodedLen(len(src)) != len(dst) {
		return fmt.Errorf("%s: want %d hex digits, got %d", what, 2*len(dst), len(src))
	}
	if _, err := hex.Decode(dst, src); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

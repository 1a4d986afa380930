package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"noroshi/crypto/envelope"
)

// rawHeader encodes h field by field, exactly as the package doc lays the
// format out, without checking anything: it builds the invalid headers that
// Encode refuses to write, and it checks Encode against the doc.
func rawHeader(h *envelope.Header) []byte {
	var b []byte
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
	return append(b, h.Signature[:]...)
}

// rawEnvelope frames a header and a payload as the package doc lays it out.
func rawEnvelope(header, payload []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(len(header)))
	b = append(b, header...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// fill returns n bytes counting up from v.
func fill(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v + byte(i)
	}
	return b
}

// header returns a valid header (the signature is not a real one: this
// package does not verify) for payload, with options applied.
func header(payload []byte, opts ...func(*envelope.Header)) *envelope.Header {
	h := &envelope.Header{
		Version:     envelope.Version,
		Class:       envelope.ClassSealed,
		Author:      [32]byte(fill(32, 0x10)),
		Seq:         3,
		Prev:        envelope.Hash(fill(32, 0x40)),
		Clock:       1_700_000_000_000 << 16,
		Epochs:      []envelope.EpochID{envelope.EpochID(fill(16, 0x01)), envelope.EpochID(fill(16, 0x02))},
		Recipients:  []envelope.Tag{envelope.Tag(fill(16, 0x05)), envelope.Tag(fill(16, 0x06)), envelope.Tag(fill(16, 0x07))},
		PayloadHash: sha256.Sum256(payload),
		PayloadSize: uint32(len(payload)),
		Signature:   [64]byte(fill(64, 0x80)),
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

func manyEpochs(n int) []envelope.EpochID {
	out := make([]envelope.EpochID, n)
	for i := range out {
		binary.BigEndian.PutUint16(out[i][:], uint16(i+1))
	}
	return out
}

func manyTags(n int) []envelope.Tag {
	out := make([]envelope.Tag, n)
	for i := range out {
		binary.BigEndian.PutUint16(out[i][:], uint16(i+1))
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	payload := []byte("a sealed record, as far as this package knows")
	tests := []struct {
		name    string
		h       *envelope.Header
		payload []byte
	}{
		{"sealed with payload", header(payload), payload},
		{"sealed header only", header(payload), nil},
		{"certificate first of chain", header(payload, func(h *envelope.Header) {
			h.Class, h.Seq, h.Prev, h.Epochs, h.Recipients = envelope.ClassCertificate, 1, envelope.Hash{}, nil, nil
		}), payload},
		{"retraction", header(payload, func(h *envelope.Header) {
			h.Class, h.Epochs, h.Recipients = envelope.ClassRetraction, nil, nil
		}), payload},
		{"only recipients", header(payload, func(h *envelope.Header) { h.Epochs = nil }), payload},
		{"only epochs", header(payload, func(h *envelope.Header) { h.Recipients = nil }), payload},
		{"limits", header(nil, func(h *envelope.Header) {
			h.Seq, h.Clock = ^uint64(0), ^uint64(0)
			h.Epochs, h.Recipients = manyEpochs(envelope.MaxEpochs), manyTags(envelope.MaxRecipients)
			h.PayloadSize = envelope.MaxPayload
		}), nil},
		{"one byte payload", header([]byte{0}), []byte{0}},
		{"largest payload", header(nil, func(h *envelope.Header) { h.PayloadSize = envelope.MaxPayload }), make([]byte, envelope.MaxPayload)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb, err := tt.h.Encode()
			if err != nil {
				t.Fatalf("Header.Encode: %v", err)
			}
			if want := rawHeader(tt.h); !bytes.Equal(hb, want) {
				t.Fatalf("Header.Encode does not follow the documented layout:\ngot  %x\nwant %x", hb, want)
			}
			if len(hb) > envelope.MaxHeaderSize {
				t.Errorf("header of %d bytes, above MaxHeaderSize %d", len(hb), envelope.MaxHeaderSize)
			}
			h2, err := envelope.DecodeHeader(hb)
			if err != nil {
				t.Fatalf("DecodeHeader: %v", err)
			}
			if got, want := h2.ID(), envelope.Hash(sha256.Sum256(hb)); got != want {
				t.Errorf("ID() = %s, want SHA-256 of the encoding %s", got, want)
			}
			if got, want := h2.ID(), tt.h.ID(); got != want {
				t.Errorf("decoded ID %s, want %s", got, want)
			}
			hb2, err := h2.Encode()
			if err != nil || !bytes.Equal(hb2, hb) {
				t.Fatalf("re-encoding the decoded header: got %x, %v; want %x", hb2, err, hb)
			}

			e := &envelope.Envelope{Header: tt.h, Payload: tt.payload}
			eb, err := e.Encode()
			if err != nil {
				t.Fatalf("Envelope.Encode: %v", err)
			}
			if want := rawEnvelope(hb, tt.payload); !bytes.Equal(eb, want) {
				t.Fatalf("Envelope.Encode does not follow the documented layout")
			}
			e2, err := envelope.Decode(eb)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if (e2.Payload == nil) != (tt.payload == nil) || !bytes.Equal(e2.Payload, tt.payload) {
				t.Errorf("decoded payload of %d bytes (nil %v), want %d (nil %v)", len(e2.Payload), e2.Payload == nil, len(tt.payload), tt.payload == nil)
			}
			if got, want := e2.ID(), tt.h.ID(); got != want {
				t.Errorf("decoded envelope ID %s, want %s", got, want)
			}
			eb2, err := e2.Encode()
			if err != nil || !bytes.Equal(eb2, eb) {
				t.Errorf("re-encoding the decoded envelope differs (err %v)", err)
			}
		})
	}
}

func TestDecodePrefix(t *testing.T) {
	p1, p2 := []byte("first"), []byte("second payload")
	e1, err := (&envelope.Envelope{Header: header(p1), Payload: p1}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	e2, err := (&envelope.Envelope{Header: header(p2, func(h *envelope.Header) { h.Seq = 4 })}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	stream := append(append(append([]byte{}, e1...), e2...), 0xff)
	got1, n1, err := envelope.DecodePrefix(stream)
	if err != nil || n1 != len(e1) {
		t.Fatalf("first DecodePrefix: got %d bytes, %v; want %d, nil", n1, err, len(e1))
	}
	if !bytes.Equal(got1.Payload, p1) {
		t.Errorf("first payload %q, want %q", got1.Payload, p1)
	}
	got2, n2, err := envelope.DecodePrefix(stream[n1:])
	if err != nil || n2 != len(e2) {
		t.Fatalf("second DecodePrefix: got %d bytes, %v; want %d, nil", n2, err, len(e2))
	}
	if got2.Payload != nil || got2.Header.Seq != 4 {
		t.Errorf("second envelope: got seq %d with payload %v, want seq 4 header only", got2.Header.Seq, got2.Payload)
	}
	if _, err := envelope.Decode(stream[:n1+1]); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Decode with trailing bytes: got %v, want ErrMalformed", err)
	}
}

func TestRefusals(t *testing.T) {
	payload := []byte("payload")
	tests := []struct {
		name string
		h    *envelope.Header
		want string // in the error message
	}{
		{"version 0", header(payload, func(h *envelope.Header) { h.Version = 0 }), "version 0"},
		{"version 2", header(payload, func(h *envelope.Header) { h.Version = 2 }), "upgrade"},
		{"class 0", header(payload, func(h *envelope.Header) { h.Class = 0 }), "class 0"},
		{"class 4", header(payload, func(h *envelope.Header) { h.Class = 4 }), "class 4"},
		{"class 255", header(payload, func(h *envelope.Header) { h.Class = 255 }), "class 255"},
		{"seq 0", header(payload, func(h *envelope.Header) { h.Seq, h.Prev = 0, envelope.Hash{} }), "sequence number 0"},
		{"seq 1 with prev", header(payload, func(h *envelope.Header) { h.Seq = 1 }), "prev"},
		{"seq 2 without prev", header(payload, func(h *envelope.Header) { h.Seq, h.Prev = 2, envelope.Hash{} }), "prev"},
		{"unsorted epochs", header(payload, func(h *envelope.Header) { h.Epochs[0], h.Epochs[1] = h.Epochs[1], h.Epochs[0] }), "epochs"},
		{"duplicate epochs", header(payload, func(h *envelope.Header) { h.Epochs[1] = h.Epochs[0] }), "epochs"},
		{"too many epochs", header(payload, func(h *envelope.Header) { h.Epochs = manyEpochs(envelope.MaxEpochs + 1) }), "epochs"},
		{"unsorted recipients", header(payload, func(h *envelope.Header) { h.Recipients[1], h.Recipients[2] = h.Recipients[2], h.Recipients[1] }), "recipients"},
		{"duplicate recipients", header(payload, func(h *envelope.Header) { h.Recipients[2] = h.Recipients[1] }), "recipients"},
		{"too many recipients", header(payload, func(h *envelope.Header) { h.Recipients = manyTags(envelope.MaxRecipients + 1) }), "recipients"},
		{"payload size 0", header(payload, func(h *envelope.Header) { h.PayloadSize = 0 }), "payload size 0"},
		{"payload size above max", header(payload, func(h *envelope.Header) { h.PayloadSize = envelope.MaxPayload + 1 }), "payload size"},
		{"payload size max uint32", header(payload, func(h *envelope.Header) { h.PayloadSize = ^uint32(0) }), "payload size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.h.Encode(); err == nil {
				t.Errorf("Header.Encode: got %x, want an error", b)
			}
			if _, err := tt.h.SignedMessage(); err == nil {
				t.Errorf("SignedMessage: got no error, want one")
			}
			if id := tt.h.ID(); !id.IsZero() {
				t.Errorf("ID of an invalid header: got %s, want zero", id)
			}
			raw := rawHeader(tt.h)
			h, err := envelope.DecodeHeader(raw)
			if err == nil {
				t.Fatalf("DecodeHeader: got %+v, want an error", h)
			}
			if h != nil {
				t.Errorf("DecodeHeader returned a header with its error")
			}
			if !errors.Is(err, envelope.ErrMalformed) {
				t.Errorf("DecodeHeader: got %v, want an error wrapping ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeHeader: got %q, want a message containing %q", err, tt.want)
			}
			if _, err := envelope.Decode(rawEnvelope(raw, nil)); !errors.Is(err, envelope.ErrMalformed) {
				t.Errorf("Decode: got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	payload := []byte("payload")
	h := header(payload)
	hb, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	withLen := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[2+len(hb):], n)
		return b
	}
	good := rawEnvelope(hb, payload)
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"trailing byte after envelope", append(bytes.Clone(good), 0), "trailing"},
		{"trailing byte after header-only envelope", append(rawEnvelope(hb, nil), 0), "trailing"},
		{"trailing byte inside header", rawEnvelope(append(bytes.Clone(hb), 0), payload), "trailing"},
		{"payload shorter than header says", rawEnvelope(hb, payload[1:]), "header says"},
		{"payload longer than header says", rawEnvelope(hb, append(bytes.Clone(payload), 0)), "header says"},
		{"payload length past the end", withLen(good, uint32(len(payload)+1)), "header says"},
		{"huge payload length", withLen(good, ^uint32(0)), "header says"},
		{"header length too large", append([]byte{0xff, 0xff}, good[2:]...), "truncated"},
		{"header length too small", append([]byte{0, 10}, good[2:]...), "at least"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := envelope.Decode(tt.b)
			if err == nil {
				t.Fatalf("Decode: got %+v, want an error", e)
			}
			if !errors.Is(err, envelope.ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode: got %q, want ErrMalformed mentioning %q", err, tt.want)
			}
		})
	}

	t.Run("payload of the wrong size on encode", func(t *testing.T) {
		for _, p := range [][]byte{{}, payload[1:], append(bytes.Clone(payload), 0)} {
			if b, err := (&envelope.Envelope{Header: h, Payload: p}).Encode(); err == nil {
				t.Errorf("Encode with a %d-byte payload for a %d-byte header: got %x, want an error", len(p), h.PayloadSize, b)
			}
		}
	})
}

func TestVersion2SaysUpgrade(t *testing.T) {
	b := rawHeader(header([]byte("x"), func(h *envelope.Header) { h.Version = 2 }))
	// A future version may change everything after the version byte: the
	// message must say "upgrade" whatever follows.
	for _, hb := range [][]byte{b, b[:1], append(b[:1], bytes.Repeat([]byte{0xee}, 300)...)} {
		_, err := envelope.Decode(rawEnvelope(hb, nil))
		if err == nil || !strings.Contains(err.Error(), "upgrade") {
			t.Errorf("version 2 header of %d bytes: got %v, want a message saying upgrade", len(hb), err)
		}
	}
}

func TestTruncated(t *testing.T) {
	payload := []byte("a payload of a few bytes")
	for _, tt := range []struct {
		name    string
		payload []byte
	}{{"with payload", payload}, {"header only", nil}} {
		h := header(payload)
		b, err := (&envelope.Envelope{Header: h, Payload: tt.payload}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := h.Encode()
		for i := range len(b) {
			if e, err := envelope.Decode(b[:i]); err == nil || !errors.Is(err, envelope.ErrMalformed) {
				t.Errorf("%s: Decode of the first %d of %d bytes: got %v, %v; want ErrMalformed", tt.name, i, len(b), e, err)
			}
			if e, _, err := envelope.DecodePrefix(b[:i]); err == nil {
				t.Errorf("%s: DecodePrefix of the first %d of %d bytes: got %v, want an error", tt.name, i, len(b), e)
			}
		}
		for i := range len(hb) {
			if _, err := envelope.DecodeHeader(hb[:i]); !errors.Is(err, envelope.ErrMalformed) {
				t.Errorf("DecodeHeader of the first %d of %d bytes: got %v, want ErrMalformed", i, len(hb), err)
			}
		}
	}
}

// TestDecodeCopies checks that a decoded header does not alias its input,
// and documents that a decoded payload does.
func TestDecodeCopies(t *testing.T) {
	payload := []byte("payload")
	b, err := (&envelope.Envelope{Header: header(payload), Payload: payload}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	id := e.ID()
	for i := range b[:len(b)-len(payload)] {
		b[i] ^= 0xff
	}
	if got := e.ID(); got != id {
		t.Errorf("header changed with its input buffer: ID %s, want %s", got, id)
	}
}

func TestClassString(t *testing.T) {
	for _, tt := range []struct {
		c    envelope.Class
		want string
	}{
		{envelope.ClassCertificate, "certificate"},
		{envelope.ClassSealed, "sealed"},
		{envelope.ClassRetraction, "retraction"},
		{7, "class(7)"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Class(%d).String() = %q, want %q", uint8(tt.c), got, tt.want)
		}
	}
}

func TestHexText(t *testing.T) {
	h := envelope.Hash(fill(32, 0xa0))
	b, err := h.MarshalText()
	if err != nil || string(b) != h.String() || len(b) != 64 {
		t.Fatalf("Hash.MarshalText: got %q, %v; want %q", b, err, h.String())
	}
	var h2 envelope.Hash
	if err := h2.UnmarshalText(b); err != nil || h2 != h {
		t.Errorf("Hash.UnmarshalText: got %s, %v; want %s", h2, err, h)
	}
	e := envelope.EpochID(fill(16, 0x33))
	eb, _ := e.MarshalText()
	var e2 envelope.EpochID
	if err := e2.UnmarshalText(eb); err != nil || e2 != e {
		t.Errorf("EpochID.UnmarshalText: got %x, %v; want %x", e2, err, e)
	}
	for _, bad := range []string{"", "00", strings.Repeat("0", 63), strings.Repeat("0", 65), strings.Repeat("g", 64)} {
		if err := h2.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("Hash.UnmarshalText(%q): got no error, want one", bad)
		}
	}
	if err := e2.UnmarshalText([]byte(strings.Repeat("0", 64))); err == nil {
		t.Errorf("EpochID.UnmarshalText of 64 digits: got no error, want one")
	}
}

func fuzzSeeds() [][]byte {
	var seeds [][]byte
	payload := []byte("fuzz payload")
	for _, h := range []*envelope.Header{
		header(payload),
		header(payload, func(h *envelope.Header) {
			h.Class, h.Seq, h.Prev, h.Epochs, h.Recipients = envelope.ClassCertificate, 1, envelope.Hash{}, nil, nil
		}),
		header(payload, func(h *envelope.Header) { h.Class, h.Epochs = envelope.ClassRetraction, nil }),
	} {
		for _, p := range [][]byte{payload, nil} {
			b, err := (&envelope.Envelope{Header: h, Payload: p}).Encode()
			if err != nil {
				panic(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzDecode checks that Decode never panics, and that it is canonical:
// whatever decodes encodes back to the very same bytes (as age's
// internal/format FuzzMalleability does).
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := envelope.Decode(b)
		if err != nil {
			if e != nil {
				t.Errorf("Decode returned an envelope with its error %v", err)
			}
			if !errors.Is(err, envelope.ErrMalformed) {
				t.Errorf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded envelope: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Encode(Decode(b)) != b:\ngot  %x\nwant %x", out, b)
		}
		if got, want := e.ID(), envelope.Hash(sha256.Sum256(b[2:2+binary.BigEndian.Uint16(b)])); got != want {
			t.Errorf("ID %s, want %s", got, want)
		}
	})
}

// FuzzDecodeHeader is FuzzDecode for a bare header.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s[2 : 2+binary.BigEndian.Uint16(s)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := envelope.DecodeHeader(b)
		if err != nil {
			if h != nil {
				t.Errorf("DecodeHeader returned a header with its error %v", err)
			}
			return
		}
		out, err := h.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded header: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Encode(DecodeHeader(b)) != b:\ngot  %x\nwant %x", out, b)
		}
		msg, err := h.SignedMessage()
		if err != nil {
			t.Fatalf("SignedMessage of a decoded header: %v", err)
		}
		if want := append([]byte(envelope.SignedPrefix), b[:len(b)-envelope.SignatureSize]...); !bytes.Equal(msg, want) {
			t.Errorf("SignedMessage is not the prefix and the unsigned bytes")
		}
	})
}

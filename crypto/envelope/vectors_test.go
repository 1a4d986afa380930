package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"noroshi/crypto/envelope"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the vectors defined in vectors_test.go")

const vectorsFile = "testdata/vectors.json"

// vector is one test vector as stored in testdata/vectors.json. Inputs
// first, then what an implementation must produce from them. Byte strings
// are lower-case hex. See testdata/README.md.
type vector struct {
	Name string `json:"name"`

	// Inputs.
	Seed        string   `json:"ed25519_seed"`
	Class       uint8    `json:"class"`
	Seq         uint64   `json:"seq"`
	Prev        string   `json:"prev"`
	Clock       uint64   `json:"clock"`
	Epochs      []string `json:"epochs"`
	Recipients  []string `json:"recipients"`
	Payload     string   `json:"payload"`
	PayloadText string   `json:"payload_text,omitempty"` // the payload, when it is text, for humans

	// Outputs.
	Author         string `json:"author"`
	PayloadHash    string `json:"payload_hash"`
	SignedMessage  string `json:"signed_message"`
	Signature      string `json:"signature"`
	Header         string `json:"header"`
	HeaderID       string `json:"header_id"`
	Envelope       string `json:"envelope"`
	EnvelopeHeader string `json:"envelope_header_only"`
}

func seed(label string) []byte {
	s := sha256.Sum256([]byte("noroshi/envelope/test-vector-seed/" + label))
	return s[:]
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func hexes[T ~[16]byte](xs ...T) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, hexOf(x[:]))
	}
	return out
}

func id16(s string) [16]byte {
	h := sha256.Sum256([]byte(s))
	return [16]byte(h[:16])
}

// vectorInputs defines the vectors. Changing it changes vectors.json (run
// go test -run TestVectors -update).
func vectorInputs() []vector {
	epochA, epochB := envelope.EpochID(id16("epoch a")), envelope.EpochID(id16("epoch b"))
	if bytes.Compare(epochA[:], epochB[:]) > 0 {
		epochA, epochB = epochB, epochA
	}
	tags := []envelope.Tag{envelope.Tag(id16("tag 1")), envelope.Tag(id16("tag 2")), envelope.Tag(id16("tag 3"))}
	sortTags(tags)
	prev := sha256.Sum256([]byte("the author's previous header"))
	cert := `{"v":1,"revocation":{"device":"` + hexOf(bytes.Repeat([]byte{0xd0}, 32)) + `","last_valid_seq":41}}`
	sealed := []byte("age-encryption.org/v1\n-> noroshi-group AAAAAAAAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\nnot real ciphertext, the envelope does not care\n")
	return []vector{
		{
			Name: "certificate, first of its chain, no audience",
			Seed: hexOf(seed("founder")), Class: uint8(envelope.ClassCertificate),
			Seq: 1, Prev: hexOf(make([]byte, 32)), Clock: 1_767_225_600_000 << 16,
			Epochs: []string{}, Recipients: []string{},
			Payload: hexOf([]byte(cert)), PayloadText: cert,
		},
		{
			Name: "sealed record to two epochs and three recipients",
			Seed: hexOf(seed("member")), Class: uint8(envelope.ClassSealed),
			Seq: 42, Prev: hexOf(prev[:]), Clock: 1_767_225_600_123<<16 | 7,
			Epochs: hexes(epochA, epochB), Recipients: hexes(tags...),
			Payload: hexOf(sealed),
		},
		{
			Name: "retraction, largest clock and sequence",
			Seed: hexOf(seed("coordinator")), Class: uint8(envelope.ClassRetraction),
			Seq: ^uint64(0), Prev: hexOf(bytes.Repeat([]byte{0xff}, 32)), Clock: ^uint64(0),
			Epochs: []string{}, Recipients: []string{},
			Payload: hexOf([]byte("retract")), PayloadText: "retract",
		},
	}
}

func sortTags(t []envelope.Tag) {
	for i := range t {
		for j := i + 1; j < len(t); j++ {
			if bytes.Compare(t[j][:], t[i][:]) < 0 {
				t[i], t[j] = t[j], t[i]
			}
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// build computes a vector's outputs from its inputs, signing with ed25519
// directly: a second implementation needs nothing but ed25519 and SHA-256.
func build(t *testing.T, v vector) vector {
	t.Helper()
	sk := ed25519.NewKeyFromSeed(mustHex(t, v.Seed))
	payload := mustHex(t, v.Payload)
	h := &envelope.Header{
		Version:     envelope.Version,
		Class:       envelope.Class(v.Class),
		Author:      [32]byte(sk.Public().(ed25519.PublicKey)),
		Seq:         v.Seq,
		Prev:        envelope.Hash(mustHex(t, v.Prev)),
		Clock:       v.Clock,
		PayloadHash: sha256.Sum256(payload),
		PayloadSize: uint32(len(payload)),
	}
	for _, e := range v.Epochs {
		h.Epochs = append(h.Epochs, envelope.EpochID(mustHex(t, e)))
	}
	for _, r := range v.Recipients {
		h.Recipients = append(h.Recipients, envelope.Tag(mustHex(t, r)))
	}
	msg, err := h.SignedMessage()
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	copy(h.Signature[:], ed25519.Sign(sk, msg))
	hb, err := h.Encode()
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	eb, err := (&envelope.Envelope{Header: h, Payload: payload}).Encode()
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	ebh, err := (&envelope.Envelope{Header: h}).Encode()
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	id := h.ID()
	v.Author = hexOf(h.Author[:])
	v.PayloadHash = hexOf(h.PayloadHash[:])
	v.SignedMessage = hexOf(msg)
	v.Signature = hexOf(h.Signature[:])
	v.Header = hexOf(hb)
	v.HeaderID = hexOf(id[:])
	v.Envelope = hexOf(eb)
	v.EnvelopeHeader = hexOf(ebh)
	return v
}

func TestVectors(t *testing.T) {
	var want []vector
	for _, v := range vectorInputs() {
		want = append(want, build(t, v))
	}
	if *update {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorsFile)
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update to write it)", err)
	}
	var got []vector
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%s: %v", vectorsFile, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s holds %d vectors, want %d (run with -update after changing the vectors)", vectorsFile, len(got), len(want))
	}
	for i, f := range got {
		t.Run(f.Name, func(t *testing.T) {
			// Rebuilding from the file's own inputs must give the file's outputs.
			if r := build(t, f); !vectorsEqual(r, f) {
				t.Errorf("rebuilt from the file's inputs:\ngot  %+v\nwant %+v", r, f)
			}
			// And the file must hold the vectors this test defines.
			if w := want[i]; !vectorsEqual(f, w) {
				t.Errorf("%s differs from vectorInputs (run with -update after an intended change):\ngot  %+v\nwant %+v", vectorsFile, f, w)
			}
			// The envelope decodes to the inputs, and the signature verifies.
			e, err := envelope.Decode(mustHex(t, f.Envelope))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := hexOf(e.Payload); got != f.Payload {
				t.Errorf("decoded payload %s, want %s", got, f.Payload)
			}
			if got := e.ID().String(); got != f.HeaderID {
				t.Errorf("decoded header ID %s, want %s", got, f.HeaderID)
			}
			h := e.Header
			if h.Class != envelope.Class(f.Class) || h.Seq != f.Seq || h.Clock != f.Clock || h.Prev.String() != f.Prev {
				t.Errorf("decoded header %+v does not match the inputs", h)
			}
			msg, _ := h.SignedMessage()
			if !ed25519.Verify(ed25519.PublicKey(h.Author[:]), msg, h.Signature[:]) {
				t.Errorf("signature does not verify")
			}
			eh, err := envelope.Decode(mustHex(t, f.EnvelopeHeader))
			if err != nil || eh.Payload != nil || eh.ID().String() != f.HeaderID {
				t.Errorf("header-only envelope: got %v, %v; want header %s without payload", eh, err, f.HeaderID)
			}
		})
	}
}

func vectorsEqual(a, b vector) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

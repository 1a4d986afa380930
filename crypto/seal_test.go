package crypto_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
)

var community = envelope.Hash(sha256.Sum256([]byte("a community")))

func groupKey(t testing.TB, name string) crypto.GroupKey {
	t.Helper()
	g, err := crypto.NewGroupKey(cryptotest.Rand("group/" + name))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func keyring(keys ...crypto.GroupKey) *crypto.Keyring {
	k := crypto.NewKeyring()
	for _, g := range keys {
		k.Add(g)
	}
	return k
}

// receive does what a peer does with an envelope from outside: decode,
// verify, check the payload, open.
func receive(t *testing.T, e *envelope.Envelope, ids ...age.Identity) ([]byte, error) {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	e, err = envelope.Decode(b)
	if err != nil {
		return nil, err
	}
	if err := crypto.Verify(e.Header); err != nil {
		return nil, err
	}
	if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
		return nil, err
	}
	return crypto.Open(e, ids...)
}

// world is a small community: Alice writes; Bob is in org A, Carol in org B;
// Dave is in org A too, on another device; each device holds its own
// identity and the group keys its organisation was granted.
type world struct {
	alice, bob, carol, dave *crypto.Device
	comm, commOld           crypto.GroupKey // two epochs of the community key
	orgA, orgB              crypto.GroupKey
}

func newWorld(t *testing.T) *world {
	return &world{
		alice: cryptotest.Device(t, "alice"), bob: cryptotest.Device(t, "bob"),
		carol: cryptotest.Device(t, "carol"), dave: cryptotest.Device(t, "dave"),
		comm: groupKey(t, "community 2"), commOld: groupKey(t, "community 1"),
		orgA: groupKey(t, "org A"), orgB: groupKey(t, "org B"),
	}
}

// all returns every key d holds: its identity and the keyring of its groups.
func (w *world) all(d *crypto.Device) []age.Identity {
	k := keyring(w.comm, w.commOld)
	switch d {
	case w.bob, w.dave:
		k.Add(w.orgA)
	case w.carol:
		k.Add(w.orgB)
	}
	return []age.Identity{d.Identity(), k}
}

func TestSealOpen(t *testing.T) {
	w := newWorld(t)
	pub := func(ds ...*crypto.Device) []crypto.PublicDevice {
		var out []crypto.PublicDevice
		for _, d := range ds {
			out = append(out, d.Public())
		}
		return out
	}
	tests := []struct {
		name     string
		aud      crypto.Audience
		canOpen  []*crypto.Device
		cannot   []*crypto.Device
		epochs   int
		nDevices int
	}{
		{
			name:    "community key (GREEN)",
			aud:     crypto.Audience{Groups: []crypto.GroupKey{w.comm}},
			canOpen: []*crypto.Device{w.bob, w.carol, w.dave},
			epochs:  1,
		},
		{
			name:    "organisation key (AMBER+STRICT for org A): not on org B's device",
			aud:     crypto.Audience{Groups: []crypto.GroupKey{w.orgA}},
			canOpen: []*crypto.Device{w.bob, w.dave},
			cannot:  []*crypto.Device{w.carol, w.alice},
			epochs:  1,
		},
		{
			name:     "devices only (RED): no other device, with all its keys",
			aud:      crypto.Audience{Devices: pub(w.bob, w.carol)},
			canOpen:  []*crypto.Device{w.bob, w.carol},
			cannot:   []*crypto.Device{w.dave, w.alice},
			nDevices: 2,
		},
		{
			name:     "group and device",
			aud:      crypto.Audience{Groups: []crypto.GroupKey{w.orgB}, Devices: pub(w.bob)},
			canOpen:  []*crypto.Device{w.bob, w.carol},
			cannot:   []*crypto.Device{w.dave},
			epochs:   1,
			nDevices: 1,
		},
		{
			name:     "duplicates are listed once",
			aud:      crypto.Audience{Groups: []crypto.GroupKey{w.orgA, w.orgB, w.orgA}, Devices: pub(w.carol, w.carol)},
			canOpen:  []*crypto.Device{w.bob, w.carol, w.dave},
			epochs:   2,
			nDevices: 1,
		},
		{
			name:    "old epoch",
			aud:     crypto.Audience{Groups: []crypto.GroupKey{w.commOld}},
			canOpen: []*crypto.Device{w.bob},
			epochs:  1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			record := []byte(fmt.Sprintf("record %d: %s", i, tt.name))
			pos := crypto.Position{Seq: 5, Prev: envelope.Hash(sha256.Sum256([]byte("prev")))}
			e, err := w.alice.Seal(cryptotest.Rand(tt.name), community, pos, 77, tt.aud, record)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			h := e.Header
			if h.Class != envelope.ClassSealed || h.Seq != 5 || h.Prev != pos.Prev || h.Clock != 77 || DeviceOf(h) != w.alice.ID() {
				t.Errorf("header %+v does not say what was sealed", h)
			}
			if len(h.Epochs) != tt.epochs || len(h.Recipients) != tt.nDevices {
				t.Errorf("header lists %d epochs and %d recipients, want %d and %d", len(h.Epochs), len(h.Recipients), tt.epochs, tt.nDevices)
			}
			for _, g := range tt.aud.Groups {
				if !slices.Contains(h.Epochs, g.Epoch) {
					t.Errorf("header does not list epoch %x", g.Epoch[:4])
				}
			}
			for _, p := range tt.aud.Devices {
				if tag := crypto.RecipientTag(community, w.alice.ID(), 5, p.ID); !slices.Contains(h.Recipients, tag) {
					t.Errorf("header does not list the tag of %s", p.ID.Short())
				}
			}
			if bytes.Contains(e.Payload, record) {
				t.Errorf("the payload holds the record in clear")
			}
			for _, d := range tt.canOpen {
				got, err := receive(t, e, w.all(d)...)
				if err != nil || !bytes.Equal(got, record) {
					t.Errorf("%s opens: got %q, %v; want %q", d.Name, got, err, record)
				}
			}
			for _, d := range tt.cannot {
				got, err := receive(t, e, w.all(d)...)
				if !errors.Is(err, crypto.ErrNotForMe) {
					t.Errorf("%s, holding all its keys, opens: got %q, %v; want ErrNotForMe", d.Name, got, err)
				}
			}
		})
	}
}

// DeviceOf returns a header's author.
func DeviceOf(h *envelope.Header) crypto.DeviceID { return crypto.DeviceID(h.Author) }

func TestSealRefuses(t *testing.T) {
	w := newWorld(t)
	many := make([]crypto.GroupKey, envelope.MaxEpochs+1)
	for i := range many {
		many[i] = groupKey(t, fmt.Sprint(i))
	}
	badDevice := crypto.PublicDevice{ID: w.bob.ID(), Recipient: "age1notarecipient"}
	classic := crypto.PublicDevice{ID: w.bob.ID(), Recipient: mustX25519(t)}
	tests := []struct {
		name   string
		pos    crypto.Position
		aud    crypto.Audience
		record []byte
	}{
		{"no audience", crypto.Position{Seq: 1}, crypto.Audience{}, []byte("x")},
		{"too many groups", crypto.Position{Seq: 1}, crypto.Audience{Groups: many}, []byte("x")},
		{"bad recipient", crypto.Position{Seq: 1}, crypto.Audience{Devices: []crypto.PublicDevice{badDevice}}, []byte("x")},
		{"classic recipient", crypto.Position{Seq: 1}, crypto.Audience{Devices: []crypto.PublicDevice{classic}}, []byte("x")},
		{"record too large", crypto.Position{Seq: 1}, crypto.Audience{Groups: []crypto.GroupKey{w.comm}}, make([]byte, envelope.MaxPayload)},
		{"seq 0", crypto.Position{}, crypto.Audience{Groups: []crypto.GroupKey{w.comm}}, []byte("x")},
		{"seq 2 without prev", crypto.Position{Seq: 2}, crypto.Audience{Groups: []crypto.GroupKey{w.comm}}, []byte("x")},
	}
	for _, tt := range tests {
		if e, err := w.alice.Seal(cryptotest.Rand(tt.name), community, tt.pos, 1, tt.aud, tt.record); err == nil {
			t.Errorf("%s: Seal gave %v, want an error", tt.name, e.ID())
		}
	}
}

func mustX25519(t *testing.T) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

func TestTamper(t *testing.T) {
	w := newWorld(t)
	record := []byte("the payload")
	pos := crypto.Position{Seq: 2, Prev: envelope.Hash(sha256.Sum256([]byte("prev")))}
	aud := crypto.Audience{Groups: []crypto.GroupKey{w.comm}, Devices: []crypto.PublicDevice{w.bob.Public()}}
	e, err := w.alice.Seal(cryptotest.Rand("tamper"), community, pos, 9, aud, record)
	if err != nil {
		t.Fatal(err)
	}
	bob := w.all(w.bob)
	hb, err := e.Header.Encode()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("header bit", func(t *testing.T) {
		// Every bit flipped anywhere in the header, signature included,
		// makes the header malformed or its signature fail.
		for i := range len(hb) * 8 {
			b := bytes.Clone(hb)
			b[i/8] ^= 1 << (i % 8)
			h, err := envelope.DecodeHeader(b)
			if err != nil {
				if !errors.Is(err, envelope.ErrMalformed) {
					t.Fatalf("bit %d: DecodeHeader: got %v, want ErrMalformed", i, err)
				}
				continue
			}
			if err := crypto.Verify(h); !errors.Is(err, crypto.ErrBadSignature) {
				t.Fatalf("bit %d flipped: Verify got %v, want ErrBadSignature", i, err)
			}
		}
	})

	t.Run("payload bit", func(t *testing.T) {
		for _, i := range []int{0, len(e.Payload) / 2, len(e.Payload) - 1} {
			p := bytes.Clone(e.Payload)
			p[i] ^= 0x10
			if err := crypto.CheckPayload(e.Header, p); !errors.Is(err, crypto.ErrPayloadHash) {
				t.Errorf("byte %d flipped: CheckPayload got %v, want ErrPayloadHash", i, err)
			}
			// Opened without checking the hash, the ciphertext still fails.
			if got, err := crypto.Open(&envelope.Envelope{Header: e.Header, Payload: p}, bob...); err == nil {
				t.Errorf("byte %d flipped: Open gave %q, want an error", i, got)
			}
		}
		if err := crypto.CheckPayload(e.Header, e.Payload[:len(e.Payload)-1]); !errors.Is(err, crypto.ErrPayloadHash) {
			t.Errorf("truncated payload: CheckPayload got %v, want ErrPayloadHash", err)
		}
	})

	// Mallory, a member, copies Alice's ciphertext under her own header and
	// signs it: the header verifies, the payload hash matches, and Open
	// refuses because the plaintext binds Alice and her chain position.
	mallory := cryptotest.Device(t, "mallory")
	resign := func(d *crypto.Device, pos crypto.Position, payload []byte) *envelope.Envelope {
		h := *e.Header
		h.Seq, h.Prev = pos.Seq, pos.Prev
		h.PayloadHash, h.PayloadSize = sha256.Sum256(payload), uint32(len(payload))
		if err := d.Sign(&h); err != nil {
			t.Fatal(err)
		}
		return &envelope.Envelope{Header: &h, Payload: payload}
	}
	for _, tt := range []struct {
		name string
		e    *envelope.Envelope
	}{
		{"another author", resign(mallory, pos, e.Payload)},
		{"another author, first of chain", resign(mallory, crypto.Position{Seq: 1}, e.Payload)},
		{"same author, another sequence", resign(w.alice, pos.Next(e.ID()), e.Payload)},
		{"same author, another prev", resign(w.alice, crypto.Position{Seq: 2, Prev: envelope.Hash{1}}, e.Payload)},
	} {
		got, err := receive(t, tt.e, bob...)
		if !errors.Is(err, crypto.ErrBinding) {
			t.Errorf("%s: got %q, %v; want ErrBinding", tt.name, got, err)
		}
	}
	// Mallory changes the ciphertext and re-signs: the age layer refuses it.
	p := bytes.Clone(e.Payload)
	p[len(p)-3] ^= 1
	if got, err := receive(t, resign(mallory, pos, p), bob...); err == nil || errors.Is(err, crypto.ErrNotForMe) {
		t.Errorf("re-signed altered ciphertext: got %q, %v; want a decryption error", got, err)
	}

	t.Run("signature bit", func(t *testing.T) {
		h := *e.Header
		h.Signature[10] ^= 4
		if err := crypto.Verify(&h); !errors.Is(err, crypto.ErrBadSignature) {
			t.Errorf("Verify: got %v, want ErrBadSignature", err)
		}
		h = *e.Header
		h.Author[0] ^= 1
		if err := crypto.Verify(&h); !errors.Is(err, crypto.ErrBadSignature) {
			t.Errorf("Verify with another author: got %v, want ErrBadSignature", err)
		}
	})
}

func TestOpenRefuses(t *testing.T) {
	w := newWorld(t)
	clear, err := w.alice.NewClear(envelope.ClassRetraction, crypto.Position{Seq: 1}, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.Open(clear, w.all(w.bob)...); err == nil {
		t.Errorf("Open of a retraction: got no error")
	}
	e, err := w.alice.Seal(cryptotest.Rand("o"), community, crypto.Position{Seq: 1}, 1, crypto.Audience{Groups: []crypto.GroupKey{w.comm}}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.Open(&envelope.Envelope{Header: e.Header}, w.all(w.bob)...); err == nil || !strings.Contains(err.Error(), "not held") {
		t.Errorf("Open of a header without payload: got %v, want an error saying not held", err)
	}
	if _, err := crypto.Open(e); err == nil {
		t.Errorf("Open with no identity: got no error")
	}
	// A key under the right epoch ID but with other bytes does not open.
	forged := w.comm
	forged.Key[0] ^= 1
	if got, err := crypto.Open(e, keyring(forged)); err == nil {
		t.Errorf("Open with a forged key for the epoch: got %q", got)
	}
}

func TestNewClear(t *testing.T) {
	w := newWorld(t)
	payload := []byte(`{"v":1}`)
	e, err := w.alice.NewClear(envelope.ClassCertificate, crypto.Position{Seq: 1}, 3, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := crypto.Verify(e.Header); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := crypto.CheckPayload(e.Header, e.Payload); err != nil {
		t.Errorf("CheckPayload: %v", err)
	}
	for _, tt := range []struct {
		name    string
		class   envelope.Class
		payload []byte
	}{
		{"sealed class", envelope.ClassSealed, payload},
		{"empty payload", envelope.ClassCertificate, nil},
		{"too large", envelope.ClassCertificate, make([]byte, envelope.MaxPayload+1)},
		{"unknown class", 9, payload},
	} {
		if _, err := w.alice.NewClear(tt.class, crypto.Position{Seq: 1}, 3, tt.payload); err == nil {
			t.Errorf("NewClear %s: got no error", tt.name)
		}
	}
}

func TestRecipientTag(t *testing.T) {
	a, b := cryptotest.Device(t, "a").ID(), cryptotest.Device(t, "b").ID()
	other := envelope.Hash(sha256.Sum256([]byte("another community")))
	base := crypto.RecipientTag(community, a, 1, b)
	if again := crypto.RecipientTag(community, a, 1, b); again != base {
		t.Fatalf("RecipientTag is not deterministic: %x then %x", base, again)
	}
	for _, tt := range []struct {
		name string
		tag  envelope.Tag
	}{
		{"another community", crypto.RecipientTag(other, a, 1, b)},
		{"another author", crypto.RecipientTag(community, b, 1, b)},
		{"another seq", crypto.RecipientTag(community, a, 2, b)},
		{"another device", crypto.RecipientTag(community, a, 1, a)},
	} {
		if tt.tag == base {
			t.Errorf("%s: same tag %x", tt.name, base)
		}
	}
}

func TestKeyring(t *testing.T) {
	g1, g2, g3 := groupKey(t, "1"), groupKey(t, "2"), groupKey(t, "3")
	k := keyring(g3, g1, g2, g1)
	ep := k.Epochs()
	if len(ep) != 3 || !slices.IsSortedFunc(ep, func(a, b crypto.EpochID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Errorf("Epochs() = %x, want three sorted epochs", ep)
	}
	if got, ok := k.Get(g2.Epoch); !ok || got != g2 {
		t.Errorf("Get(%x) = %v, %v; want the key", g2.Epoch[:4], got, ok)
	}
	var unknown crypto.EpochID
	if k.Has(unknown) {
		t.Errorf("Has(zero epoch) = true")
	}
	if _, ok := k.Get(unknown); ok {
		t.Errorf("Get(zero epoch) found a key")
	}
}

func TestSealToOpenFrom(t *testing.T) {
	w := newWorld(t)
	data := bytes.Repeat([]byte("k"), 100)
	sealed, err := crypto.SealTo(cryptotest.Rand("st"), data, crypto.Audience{Groups: []crypto.GroupKey{w.orgA}, Devices: []crypto.PublicDevice{w.carol.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*crypto.Device{w.bob, w.carol} {
		if got, err := crypto.OpenFrom(sealed, 100, w.all(d)...); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: OpenFrom got %q, %v", d.Name, got, err)
		}
	}
	if _, err := crypto.OpenFrom(sealed, 99, w.all(w.bob)...); err == nil {
		t.Errorf("OpenFrom with max 99 of 100 bytes: got no error")
	}
	if _, err := crypto.OpenFrom(sealed, 100, w.alice.Identity()); !errors.Is(err, crypto.ErrNotForMe) {
		t.Errorf("OpenFrom by a non-recipient: got %v, want ErrNotForMe", err)
	}
	if _, err := crypto.OpenFrom([]byte("not age"), 100, w.alice.Identity()); err == nil {
		t.Errorf("OpenFrom of garbage: got no error")
	}
	if _, err := crypto.SealTo(cryptotest.Rand("st"), data, crypto.Audience{}); err == nil {
		t.Errorf("SealTo nobody: got no error")
	}
}

func TestDeviceID(t *testing.T) {
	d := cryptotest.Device(t, "alice")
	if again := cryptotest.Device(t, "alice"); again.ID() != d.ID() {
		t.Errorf("cryptotest.Device is not deterministic: %s then %s", d.ID(), again.ID())
	}
	id := d.ID()
	got, err := crypto.ParseDeviceID(id.String())
	if err != nil || got != id {
		t.Errorf("ParseDeviceID(String()) = %s, %v; want %s", got, err, id)
	}
	if len(id.Short()) != 12 || !strings.HasPrefix(id.String(), id.Short()) {
		t.Errorf("Short() = %q, want the first 12 digits of %s", id.Short(), id)
	}
	for _, bad := range []string{"", "zz", id.String()[:62], id.String() + "00"} {
		if _, err := crypto.ParseDeviceID(bad); err == nil {
			t.Errorf("ParseDeviceID(%q): got no error", bad)
		}
	}
	var u crypto.DeviceID
	if err := u.UnmarshalText([]byte(id.String())); err != nil || u != id {
		t.Errorf("UnmarshalText: got %s, %v", u, err)
	}
	if !strings.HasPrefix(d.Public().Recipient, "age1pq1") {
		t.Errorf("recipient %.12s..., want age1pq1...", d.Public().Recipient)
	}
	var i crypto.ID16
	for _, bad := range []string{"", "00", strings.Repeat("g", 32)} {
		if err := i.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("ID16.UnmarshalText(%q): got no error", bad)
		}
	}
}

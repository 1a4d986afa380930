package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"filippo.io/age"

	"noroshi/crypto/envelope"
)

// Position is where an envelope sits in its author's chain.
type Position struct {
	Seq  uint64        // from 1
	Prev envelope.Hash // the previous header's ID; zero for Seq 1
}

// Next returns the position after the envelope with header ID id at p.
func (p Position) Next(id envelope.Hash) Position { return Position{Seq: p.Seq + 1, Prev: id} }

// Audience is who a sealed payload is for: group keys (the community, one or
// more organisations) and individual devices. Sealing to a group costs about
// 100 bytes; to a device about 1.6 KB (a hybrid post-quantum stanza).
type Audience struct {
	Groups  []GroupKey
	Devices []PublicDevice
}

// Errors from Verify and Open.
var (
	ErrBadSignature = errors.New("header signature does not verify")
	ErrNotForMe     = errors.New("this device holds no key for this payload")
	ErrBinding      = errors.New("sealed payload is bound to another author or chain position")
	ErrPayloadHash  = errors.New("payload does not match the hash in its header")
)

// recordVersion is the version of the sealed plaintext framing.
const recordVersion = 1

// bindingSize is the plaintext prefix that binds a sealed record to its
// header: version u8, author [32], seq u64, prev [32].
const bindingSize = 1 + 32 + 8 + 32

// RecipientTag is the keyed hash of a recipient device ID listed in a header.
// It is keyed by the community and the envelope's author and sequence, so tags
// cannot be linked across envelopes or communities; members and relays, who
// know the device IDs, can tell who an envelope is for.
func RecipientTag(community envelope.Hash, author DeviceID, seq uint64, device DeviceID) envelope.Tag {
	h := sha256.New()
	h.Write([]byte("noroshi/recipient-tag/v1\x00"))
	h.Write(community[:])
	h.Write(author[:])
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	h.Write(s[:])
	h.Write(device[:])
	var t envelope.Tag
	copy(t[:], h.Sum(nil))
	return t
}

// Sign fills in h's author and signature. h must be complete otherwise.
func (d *Device) Sign(h *envelope.Header) error {
	h.Version = envelope.Version
	h.Author = d.ID()
	msg, err := h.SignedMessage()
	if err != nil {
		return err
	}
	copy(h.Signature[:], d.SignBytes(msg))
	return nil
}

// Verify checks h's signature against its author.
func Verify(h *envelope.Header) error {
	msg, err := h.SignedMessage()
	if err != nil {
		return err
	}
	if !VerifyBytes(DeviceID(h.Author), msg, h.Signature[:]) {
		return ErrBadSignature
	}
	return nil
}

// CheckPayload reports whether payload is the one h was signed over.
func CheckPayload(h *envelope.Header, payload []byte) error {
	if len(payload) != int(h.PayloadSize) || sha256.Sum256(payload) != h.PayloadHash {
		return ErrPayloadHash
	}
	return nil
}

// NewClear signs an envelope whose payload travels in clear: a certificate or
// a retraction.
func (d *Device) NewClear(class envelope.Class, pos Position, clock uint64, payload []byte) (*envelope.Envelope, error) {
	if class == envelope.ClassSealed {
		return nil, errors.New("NewClear: sealed class")
	}
	if len(payload) > envelope.MaxPayload {
		// Checked here: uint32(len) below could wrap to a valid size.
		return nil, fmt.Errorf("NewClear: payload of %d bytes, at most %d", len(payload), envelope.MaxPayload)
	}
	h := &envelope.Header{
		Class: class, Seq: pos.Seq, Prev: pos.Prev, Clock: clock,
		PayloadHash: sha256.Sum256(payload), PayloadSize: uint32(len(payload)),
	}
	if err := d.Sign(h); err != nil {
		return nil, err
	}
	return &envelope.Envelope{Header: h, Payload: payload}, nil
}

// Seal encrypts record for aud with age, binds it to this device and pos, and
// signs the header. community keys the recipient tags.
func (d *Device) Seal(rand io.Reader, community envelope.Hash, pos Position, clock uint64, aud Audience, record []byte) (*envelope.Envelope, error) {
	if len(aud.Groups) == 0 && len(aud.Devices) == 0 {
		return nil, errors.New("seal: no audience")
	}
	if len(aud.Groups) > envelope.MaxEpochs {
		return nil, fmt.Errorf("seal: %d group keys, at most %d", len(aud.Groups), envelope.MaxEpochs)
	}
	if len(aud.Devices) > envelope.MaxRecipients {
		return nil, fmt.Errorf("seal: %d devices, at most %d", len(aud.Devices), envelope.MaxRecipients)
	}
	author := d.ID()
	recipients := make([]age.Recipient, 0, len(aud.Groups)+len(aud.Devices))
	h := &envelope.Header{Class: envelope.ClassSealed, Seq: pos.Seq, Prev: pos.Prev, Clock: clock}
	seenEpoch := map[EpochID]bool{}
	for _, g := range aud.Groups {
		if seenEpoch[g.Epoch] {
			continue
		}
		seenEpoch[g.Epoch] = true
		recipients = append(recipients, groupRecipient{key: g, rand: rand})
		h.Epochs = append(h.Epochs, g.Epoch)
	}
	seenDev := map[DeviceID]bool{}
	for _, p := range aud.Devices {
		if seenDev[p.ID] {
			continue
		}
		seenDev[p.ID] = true
		r, err := p.AgeRecipient()
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		recipients = append(recipients, r)
		h.Recipients = append(h.Recipients, RecipientTag(community, author, pos.Seq, p.ID))
	}
	sort.Slice(h.Epochs, func(i, j int) bool { return bytes.Compare(h.Epochs[i][:], h.Epochs[j][:]) < 0 })
	sort.Slice(h.Recipients, func(i, j int) bool { return bytes.Compare(h.Recipients[i][:], h.Recipients[j][:]) < 0 })

	var out bytes.Buffer
	out.Grow(len(record) + len(record)/4096 + 512 + 1700*len(aud.Devices))
	w, err := age.Encrypt(&out, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	var bind [bindingSize]byte
	bind[0] = recordVersion
	copy(bind[1:33], author[:])
	binary.BigEndian.PutUint64(bind[33:41], pos.Seq)
	copy(bind[41:], pos.Prev[:])
	if _, err := w.Write(bind[:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(record); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	payload := out.Bytes()
	if len(payload) > envelope.MaxPayload {
		return nil, fmt.Errorf("seal: sealed record of %d bytes, at most %d", len(payload), envelope.MaxPayload)
	}
	h.PayloadHash = sha256.Sum256(payload)
	h.PayloadSize = uint32(len(payload))
	if err := d.Sign(h); err != nil {
		return nil, err
	}
	return &envelope.Envelope{Header: h, Payload: payload}, nil
}

// Open decrypts a sealed envelope with identities (a device's own identity,
// its Keyring) and checks that the plaintext is bound to the header. The
// header's signature and payload hash must have been checked already.
func Open(e *envelope.Envelope, identities ...age.Identity) ([]byte, error) {
	if e.Header.Class != envelope.ClassSealed {
		return nil, fmt.Errorf("open: %s envelope is not sealed", e.Header.Class)
	}
	if e.Payload == nil {
		return nil, errors.New("open: payload not held")
	}
	plain, err := decrypt(e.Payload, int64(len(e.Payload)), identities)
	if errors.Is(err, ErrNotForMe) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	if len(plain) < bindingSize || plain[0] != recordVersion {
		return nil, fmt.Errorf("open: unknown record framing (upgrade Noroshi): %w", ErrBinding)
	}
	h := e.Header
	if !bytes.Equal(plain[1:33], h.Author[:]) ||
		binary.BigEndian.Uint64(plain[33:41]) != h.Seq ||
		!bytes.Equal(plain[41:bindingSize], h.Prev[:]) {
		return nil, ErrBinding
	}
	return plain[bindingSize:], nil
}

// SealTo encrypts small data (a group key, an invite) to devices and groups
// with no header around it: the plain age format.
func SealTo(rand io.Reader, data []byte, aud Audience) ([]byte, error) {
	var recipients []age.Recipient
	for _, g := range aud.Groups {
		recipients = append(recipients, groupRecipient{key: g, rand: rand})
	}
	for _, p := range aud.Devices {
		r, err := p.AgeRecipient()
		if err != nil {
			return nil, err
		}
		recipients = append(recipients, r)
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// OpenFrom decrypts what SealTo made, reading at most max bytes of plaintext.
func OpenFrom(sealed []byte, max int64, identities ...age.Identity) ([]byte, error) {
	return decrypt(sealed, max, identities)
}

// decrypt opens an age file held in memory, refusing a plaintext larger than
// max. age's ReaderAt interface tells the plaintext's size up front (having
// authenticated the final chunk), so the plaintext is decrypted into one
// buffer of that size: no io.ReadAll growing a buffer by doubling, and none
// of the per-chunk allocations and copies of age's streaming reader. This
// made Open of 1 MiB about 2.5 times faster.
func decrypt(sealed []byte, max int64, identities []age.Identity) ([]byte, error) {
	r, size, err := age.DecryptReaderAt(bytes.NewReader(sealed), int64(len(sealed)), identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w (%w)", ErrNotForMe, err)
		}
		return nil, err
	}
	if size > max {
		return nil, fmt.Errorf("sealed data of %d bytes, larger than %d", size, max)
	}
	plain := make([]byte, size)
	n, err := r.ReadAt(plain, 0)
	if n == len(plain) && (err == nil || err == io.EOF) {
		return plain, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

package crypto

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"

	"filippo.io/age"
)

// DeviceID is a device's ed25519 public key. It names the device everywhere:
// in headers, certificates and chains.
type DeviceID [32]byte

// String returns the ID in lower-case hex.
func (d DeviceID) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex digits, enough for people to tell devices apart.
func (d DeviceID) Short() string { return d.String()[:12] }

// ParseDeviceID parses the 64-digit hex form.
func ParseDeviceID(s string) (DeviceID, error) {
	var d DeviceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("device ID %q is not 64 hex digits", s)
	}
	copy(d[:], b)
	return d, nil
}

// Device is one machine's secret keys: an ed25519 key that signs every header
// it writes, and an age hybrid post-quantum identity (ML-KEM-768 + X25519)
// that opens what is sealed to this device: key grants, invites, RED posts.
type Device struct {
	sign ed25519.PrivateKey
	age  *age.HybridIdentity
	// Name is the person's name as typed at init. It travels only sealed.
	Name string
}

// NewDevice makes a new device identity. The signing key's randomness comes
// from rand; age draws its own from crypto/rand.
func NewDevice(rand io.Reader, name string) (*Device, error) {
	_, sk, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("generate age identity: %w", err)
	}
	return &Device{sign: sk, age: id, Name: name}, nil
}

// ID returns the device's public ID.
func (d *Device) ID() DeviceID {
	var id DeviceID
	copy(id[:], d.sign.Public().(ed25519.PublicKey))
	return id
}

// Recipient returns the device's age recipient (an "age1pq1..." string).
func (d *Device) Recipient() *age.HybridRecipient { return d.age.Recipient() }

// Public returns what others need to address this device.
func (d *Device) Public() PublicDevice {
	return PublicDevice{ID: d.ID(), Recipient: d.age.Recipient().String()}
}

// Identity returns the device's age identity, for opening what is sealed to it.
func (d *Device) Identity() age.Identity { return d.age }

// SignBytes signs msg with the device's ed25519 key.
func (d *Device) SignBytes(msg []byte) []byte { return ed25519.Sign(d.sign, msg) }

// PublicDevice is the public half of a device: its ID and its age recipient.
type PublicDevice struct {
	ID        DeviceID
	Recipient string // age1pq1...
}

// AgeRecipient parses the device's age recipient.
func (p PublicDevice) AgeRecipient() (*age.HybridRecipient, error) {
	r, err := age.ParseHybridRecipient(p.Recipient)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", p.ID.Short(), err)
	}
	return r, nil
}

// VerifyBytes checks an ed25519 signature by device id over msg.
func VerifyBytes(id DeviceID, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(id[:]), msg, sig)
}

// MarshalText encodes d as hex.
func (d DeviceID) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (d *DeviceID) UnmarshalText(b []byte) error {
	p, err := ParseDeviceID(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ID16 is a 16-byte random identifier: a person, an organisation.
type ID16 [16]byte

// NewID16 draws an ID from rand.
func NewID16(rand io.Reader) (ID16, error) {
	var id ID16
	_, err := io.ReadFull(rand, id[:])
	return id, err
}

func (i ID16) String() string { return hex.EncodeToString(i[:]) }

// IsZero reports whether i is unset.
func (i ID16) IsZero() bool { return i == ID16{} }

// MarshalText encodes i as hex.
func (i ID16) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText decodes 32 hex digits.
func (i *ID16) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("ID %q is not 32 hex digits", b)
	}
	_, err := hex.Decode(i[:], b)
	if err != nil {
		return fmt.Errorf("ID %q is not 32 hex digits", b)
	}
	return nil
}

package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"noroshi/crypto/envelope"
)

// Role is what a device may do in a community.
type Role string

// Roles. A relay stores and forwards; it is granted no group key.
const (
	RoleCoordinator Role = "coordinator"
	RoleOrgAdmin    Role = "org-admin"
	RoleMember      Role = "member"
	RoleRelay       Role = "relay"
)

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleCoordinator, RoleOrgAdmin, RoleMember, RoleRelay:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use coordinator, org-admin, member or relay", s)
}

// Scope names what a group key is for.
type Scope string

// Scopes of group keys.
const (
	ScopeCommunity Scope = "community"
	ScopeOrg       Scope = "org"
	// ScopeTransport is the community's gossip transport key (memberlist's
	// keyring), granted to every device, relays included.
	ScopeTransport Scope = "transport"
)

// certVersion is the version of the certificate encoding. Version 2 added
// person IDs bound to a person's first device, endorsements, revocation
// anchors by hash and epoch key commitments; version 1 certificates, whose
// authority cannot be checked by those rules, are refused with a message.
const certVersion = 2

// MaxCertificate bounds a certificate's encoding.
const MaxCertificate = 1 << 20

// Certificate is a trust statement, carried in clear as the payload of a
// ClassCertificate envelope. It holds keys, roles and epochs only: names
// travel sealed. Exactly one of the pointers is set.
type Certificate struct {
	V          int         `json:"v"`
	Genesis    *Genesis    `json:"genesis,omitempty"`
	Membership *Membership `json:"membership,omitempty"`
	Revocation *Revocation `json:"revocation,omitempty"`
	KeyGrant   *KeyGrant   `json:"key_grant,omitempty"`
}

// Genesis founds a community. It is the first envelope of the founding
// coordinator's chain; the community's ID is its header ID. The founder is a
// coordinator by this certificate alone.
type Genesis struct {
	Nonce   ID16       `json:"nonce"`
	Founder Membership `json:"founder"`
}

// Membership admits one device: its keys, the person it belongs to, the
// organisation, and the role. A later membership for the same device (a role
// change) supersedes an earlier one; a device's recipient never changes.
//
// A new person's first device has Person == PersonOf(Device), so no issuer
// can make up a person ID that collides with another person's. A device
// added to an existing person (Person != PersonOf(Device)) by an org admin
// carries an Endorsement by one of that person's active devices.
type Membership struct {
	Device      DeviceID     `json:"device"`
	Recipient   string       `json:"recipient"`
	Person      ID16         `json:"person"`
	Org         ID16         `json:"org"`
	Role        Role         `json:"role"`
	Endorsement *Endorsement `json:"endorsement,omitempty"`
}

// Endorsement is a device's signature admitting another device to its
// person: over EndorsementMessage.
type Endorsement struct {
	Device DeviceID `json:"device"`
	Sig    []byte   `json:"sig"`
}

// Revocation removes a device. Envelopes of its chain after the header
// LastValid (at sequence LastValidSeq; zero for "nothing") are refused by
// every peer, whatever order it learns things in, and so is any other
// envelope of that device at or below LastValidSeq: a stolen key cannot
// write a fork below the cut.
type Revocation struct {
	Device       DeviceID      `json:"device"`
	LastValidSeq uint64        `json:"last_valid_seq"`
	LastValid    envelope.Hash `json:"last_valid"`
}

// KeyGrant hands one epoch of a group key to devices, sealed to each.
// Commitment binds the epoch to its key (see KeyCommitment), and the epoch ID
// is derived from the commitment (EpochOf): every recipient checks the key
// it opens against both, and every peer refuses a grant whose epoch ID does
// not derive from its commitment.
type KeyGrant struct {
	Scope      Scope    `json:"scope"`
	Org        ID16     `json:"org,omitempty"`
	Epoch      EpochID  `json:"epoch"`
	Commitment [32]byte `json:"commitment"`
	Grants     []Grant  `json:"grants"`
}

// PersonOf returns the person ID of a person whose first device is d.
func PersonOf(d DeviceID) ID16 {
	h := sha256.Sum256(append([]byte("noroshi/person/v1\x00"), d[:]...))
	return ID16(h[:16])
}

// KeyCommitment commits to a group key of one scope.
func KeyCommitment(scope Scope, org ID16, g GroupKey) [32]byte {
	h := sha256.New()
	h.Write([]byte("noroshi/epoch/v1\x00"))
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(org[:])
	h.Write(g.Key[:])
	return [32]byte(h.Sum(nil))
}

// EpochOf returns the epoch ID a key commitment names: an epoch is bound to
// its key (and scope) by its very ID, so no grant can put a second key, or
// another scope, under an epoch that exists.
func EpochOf(commitment [32]byte) EpochID {
	h := sha256.Sum256(append([]byte("noroshi/epoch-id/v1\x00"), commitment[:]...))
	return EpochID(h[:16])
}

// NewScopedKey draws a new group key for scope (and organisation org for
// ScopeOrg), with its epoch ID derived from it (see EpochOf).
func NewScopedKey(rand io.Reader, scope Scope, org ID16) (GroupKey, error) {
	var g GroupKey
	if _, err := io.ReadFull(rand, g.Key[:]); err != nil {
		return g, fmt.Errorf("new group key: %w", err)
	}
	g.Epoch = EpochOf(KeyCommitment(scope, org, g))
	return g, nil
}

// EndorsementMessage is what an endorsing device signs: the community and
// the membership without its endorsement.
func EndorsementMessage(community envelope.Hash, m Membership) []byte {
	m.Endorsement = nil
	b, _ := json.Marshal(m)
	return append(append([]byte("noroshi/endorse/v1\x00"), community[:]...), b...)
}

// Endorse signs m as one of its person's devices, for community.
func (d *Device) Endorse(community envelope.Hash, m Membership) *Endorsement {
	return &Endorsement{Device: d.ID(), Sig: d.SignBytes(EndorsementMessage(community, m))}
}

// Grant is a group key sealed to one device.
type Grant struct {
	Device DeviceID `json:"device"`
	Sealed []byte   `json:"sealed"`
}

// Encode returns the certificate's encoding.
func (c *Certificate) Encode() ([]byte, error) {
	c.V = certVersion
	if err := c.check(); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// DecodeCertificate parses a certificate, refusing unknown fields and
// anything but exactly one statement.
func DecodeCertificate(b []byte) (*Certificate, error) {
	if len(b) > MaxCertificate {
		return nil, fmt.Errorf("certificate of %d bytes, at most %d", len(b), MaxCertificate)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	c := &Certificate{}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	// dec.More would miss a stray "}" or "]": insist on the end of input.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("certificate: trailing data")
	}
	if c.V < certVersion {
		return nil, fmt.Errorf("certificate version %d, from a Noroshi before the insider-safe trust rules: its community must be re-created with this version", c.V)
	}
	if c.V != certVersion {
		return nil, fmt.Errorf("certificate version %d, this program reads %d: upgrade Noroshi", c.V, certVersion)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certificate) check() error {
	n := 0
	if c.Genesis != nil {
		n++
		if err := c.Genesis.Founder.check(); err != nil {
			return err
		}
		if c.Genesis.Founder.Role != RoleCoordinator {
			return errors.New("certificate: the founder must be a coordinator")
		}
		if c.Genesis.Founder.Person != PersonOf(c.Genesis.Founder.Device) || c.Genesis.Founder.Endorsement != nil {
			return errors.New("certificate: the founder's person ID must be derived from its device")
		}
	}
	if c.Membership != nil {
		n++
		if err := c.Membership.check(); err != nil {
			return err
		}
	}
	if r := c.Revocation; r != nil {
		n++
		if (r.LastValidSeq == 0) != r.LastValid.IsZero() {
			return errors.New("certificate: a revocation names its last valid header by sequence and hash, or neither")
		}
	}
	if g := c.KeyGrant; g != nil {
		n++
		switch g.Scope {
		case ScopeCommunity, ScopeTransport:
			if !g.Org.IsZero() {
				return errors.New("certificate: community key grant names an organisation")
			}
		case ScopeOrg:
			if g.Org.IsZero() {
				return errors.New("certificate: organisation key grant without an organisation")
			}
		default:
			return fmt.Errorf("certificate: unknown key scope %q", g.Scope)
		}
		if len(g.Grants) == 0 {
			return errors.New("certificate: key grant to nobody")
		}
	}
	if n != 1 {
		return fmt.Errorf("certificate holds %d statements, want exactly 1", n)
	}
	return nil
}

func (m *Membership) check() error {
	if _, err := ParseRole(string(m.Role)); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if _, err := (PublicDevice{ID: m.Device, Recipient: m.Recipient}).AgeRecipient(); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if m.Person.IsZero() || m.Org.IsZero() {
		return errors.New("certificate: membership without person or organisation")
	}
	if e := m.Endorsement; e != nil && len(e.Sig) != ed25519.SignatureSize {
		return errors.New("certificate: endorsement signature of the wrong size")
	}
	return nil
}

// Public returns the member device's public keys.
func (m *Membership) Public() PublicDevice {
	return PublicDevice{ID: m.Device, Recipient: m.Recipient}
}

// grantedKey is what a Grant seals: the key and the epoch and scope it is for,
// so a grant cannot be replayed under another epoch.
type grantedKey struct {
	Scope Scope    `json:"scope"`
	Org   ID16     `json:"org,omitempty"`
	Epoch EpochID  `json:"epoch"`
	Key   [32]byte `json:"key"`
}

// NewKeyGrant seals g to each device.
func NewKeyGrant(rand io.Reader, scope Scope, org ID16, g GroupKey, to []PublicDevice) (*KeyGrant, error) {
	plain, err := json.Marshal(grantedKey{Scope: scope, Org: org, Epoch: g.Epoch, Key: g.Key})
	if err != nil {
		return nil, err
	}
	kg := &KeyGrant{Scope: scope, Org: org, Epoch: g.Epoch, Commitment: KeyCommitment(scope, org, g)}
	if EpochOf(kg.Commitment) != g.Epoch {
		return nil, errors.New("key grant: the epoch ID is not derived from the key and scope: make the key with NewScopedKey")
	}
	for _, p := range to {
		sealed, err := SealTo(rand, plain, Audience{Devices: []PublicDevice{p}})
		if err != nil {
			return nil, fmt.Errorf("grant key to %s: %w", p.ID.Short(), err)
		}
		kg.Grants = append(kg.Grants, Grant{Device: p.ID, Sealed: sealed})
	}
	return kg, nil
}

// OpenGrant returns the group key kg grants to d, if any.
func (d *Device) OpenGrant(kg *KeyGrant) (GroupKey, bool, error) {
	id := d.ID()
	for _, g := range kg.Grants {
		if g.Device != id {
			continue
		}
		plain, err := OpenFrom(g.Sealed, 4096, d.Identity())
		if err != nil {
			return GroupKey{}, false, fmt.Errorf("open key grant: %w", err)
		}
		var k grantedKey
		if err := json.Unmarshal(plain, &k); err != nil {
			return GroupKey{}, false, fmt.Errorf("open key grant: %w", err)
		}
		if k.Scope != kg.Scope || k.Org != kg.Org || k.Epoch != kg.Epoch {
			return GroupKey{}, false, errors.New("open key grant: sealed key names another epoch")
		}
		g := GroupKey{Epoch: k.Epoch, Key: k.Key}
		if c := KeyCommitment(k.Scope, k.Org, g); c != kg.Commitment || EpochOf(c) != kg.Epoch {
			return GroupKey{}, false, errors.New("open key grant: the key does not match the epoch's commitment")
		}
		return g, true, nil
	}
	return GroupKey{}, false, nil
}

// NewCertificate signs a certificate envelope at pos.
func (d *Device) NewCertificate(c *Certificate, pos Position, clock uint64) (*envelope.Envelope, error) {
	b, err := c.Encode()
	if err != nil {
		return nil, err
	}
	return d.NewClear(envelope.ClassCertificate, pos, clock, b)
}

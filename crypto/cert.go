package crypto

import (
	"bytes"
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

// certVersion is the version of the certificate encoding.
const certVersion = 1

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
// change) supersedes an earlier one.
type Membership struct {
	Device    DeviceID `json:"device"`
	Recipient string   `json:"recipient"`
	Person    ID16     `json:"person"`
	Org       ID16     `json:"org"`
	Role      Role     `json:"role"`
}

// Revocation removes a device. Envelopes of its chain after LastValidSeq are
// refused by every peer, whatever order it learns things in.
type Revocation struct {
	Device       DeviceID `json:"device"`
	LastValidSeq uint64   `json:"last_valid_seq"`
}

// KeyGrant hands one epoch of a group key to devices, sealed to each.
type KeyGrant struct {
	Scope  Scope   `json:"scope"`
	Org    ID16    `json:"org,omitempty"`
	Epoch  EpochID `json:"epoch"`
	Grants []Grant `json:"grants"`
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
	}
	if c.Membership != nil {
		n++
		if err := c.Membership.check(); err != nil {
			return err
		}
	}
	if c.Revocation != nil {
		n++
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
	kg := &KeyGrant{Scope: scope, Org: org, Epoch: g.Epoch}
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
		return GroupKey{Epoch: k.Epoch, Key: k.Key}, true, nil
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

package crypto

import (
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"

	"noroshi/crypto/envelope"
)

// EpochID names one epoch of one group key. It is public: headers list the
// epochs their payload is sealed to.
type EpochID = envelope.EpochID

// GroupKey is a 256-bit symmetric key for one epoch of one scope (the whole
// community, or one organisation). Group keys travel only sealed to each
// member device's hybrid recipient (see KeyGrant).
type GroupKey struct {
	Epoch EpochID
	Key   [32]byte
}

// NewGroupKey draws a new key and a new epoch ID from rand.
func NewGroupKey(rand io.Reader) (GroupKey, error) {
	var g GroupKey
	if _, err := io.ReadFull(rand, g.Epoch[:]); err != nil {
		return g, fmt.Errorf("new group key: %w", err)
	}
	if _, err := io.ReadFull(rand, g.Key[:]); err != nil {
		return g, fmt.Errorf("new group key: %w", err)
	}
	return g, nil
}

// groupStanzaType is the age stanza type that wraps a file key with a group
// key: "-> noroshi-group EPOCH NONCE" and a 32-byte body, the file key sealed
// with XChaCha20-Poly1305 under the group key with the epoch ID as additional
// data. It costs microseconds and about 100 bytes, where a hybrid stanza
// costs about 1.6 KB.
const groupStanzaType = "noroshi-group"

var b64 = base64.RawStdEncoding

// groupRecipient is an age.Recipient for one group key.
type groupRecipient struct {
	key  GroupKey
	rand io.Reader
}

var _ age.RecipientWithLabels = groupRecipient{}

func (r groupRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	s, _, err := r.WrapWithLabels(fileKey)
	return s, err
}

// WrapWithLabels says "postquantum": a 256-bit symmetric key is, so group
// keys may be mixed with age's hybrid recipients in one file.
func (r groupRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	aead, err := chacha20poly1305.NewX(r.key.Key[:])
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return nil, nil, fmt.Errorf("group stanza nonce: %w", err)
	}
	body := aead.Seal(nil, nonce, fileKey, r.key.Epoch[:])
	return []*age.Stanza{{
		Type: groupStanzaType,
		Args: []string{b64.EncodeToString(r.key.Epoch[:]), b64.EncodeToString(nonce)},
		Body: body,
	}}, []string{"postquantum"}, nil
}

// Keyring holds the group keys a device has: every epoch of the community key
// and of each organisation key it was granted. It is an age.Identity.
type Keyring struct {
	keys  map[EpochID]cipher.AEAD
	group map[EpochID]GroupKey
}

var _ age.Identity = (*Keyring)(nil)

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{keys: map[EpochID]cipher.AEAD{}, group: map[EpochID]GroupKey{}}
}

// Add puts g in the keyring.
func (k *Keyring) Add(g GroupKey) {
	aead, err := chacha20poly1305.NewX(g.Key[:])
	if err != nil {
		return // cannot happen: the key is 32 bytes
	}
	k.keys[g.Epoch] = aead
	k.group[g.Epoch] = g
}

// Has reports whether the keyring holds epoch e.
func (k *Keyring) Has(e EpochID) bool { _, ok := k.keys[e]; return ok }

// Get returns the key of epoch e.
func (k *Keyring) Get(e EpochID) (GroupKey, bool) { g, ok := k.group[e]; return g, ok }

// Epochs returns every epoch held, sorted.
func (k *Keyring) Epochs() []EpochID {
	out := make([]EpochID, 0, len(k.group))
	for e := range k.group {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}

// Unwrap implements age.Identity for group stanzas.
func (k *Keyring) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != groupStanzaType || len(s.Args) != 2 {
			continue
		}
		ep, err := b64.DecodeString(s.Args[0])
		if err != nil || len(ep) != len(EpochID{}) {
			return nil, errors.New("malformed noroshi-group stanza")
		}
		var e EpochID
		copy(e[:], ep)
		aead, ok := k.keys[e]
		if !ok {
			continue
		}
		nonce, err := b64.DecodeString(s.Args[1])
		if err != nil || len(nonce) != aead.NonceSize() {
			return nil, errors.New("malformed noroshi-group stanza")
		}
		fileKey, err := aead.Open(nil, nonce, s.Body, e[:])
		if err != nil {
			return nil, fmt.Errorf("noroshi-group stanza does not open with epoch %x: %w", e[:4], err)
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

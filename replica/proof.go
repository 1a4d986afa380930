package replica

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// A membership proof is what a device shows a peer when it connects (inside
// the encrypted channel, before the peer decides whether to talk to it): the
// certificate envelopes that make it a member. Those are its memberships,
// recursively the memberships of their issuers and endorsers back to the
// founder, and the genesis; so a peer that synced before the device was
// invited learns of it from the device itself.
//
// Encoding: version u8 = 1 || count u16 || count x (u32 length || envelope
// encoding). A proof holds at most MaxProofEnvelopes envelopes and
// MaxProofBytes bytes. A revocation notice (what a peer sends a revoked
// device it refuses) has the same encoding and larger bounds.
const (
	proofVersion = 1
	// MaxProofEnvelopes and MaxProofBytes bound a membership proof.
	MaxProofEnvelopes = 64
	MaxProofBytes     = 256 << 10
	// maxNoticeEnvelopes and maxNoticeBytes bound a revocation notice: the
	// revocations, their issuers' proofs, and the revokers' chains before
	// the revocations (headers, with the payloads of certificates).
	maxNoticeEnvelopes = 2048
	maxNoticeBytes     = crypto.MaxProof
)

// ErrProof is returned for a proof that does not decode or does not hold.
var ErrProof = errors.New("membership proof")

func encodeProof(envs []*envelope.Envelope, maxEnvs, maxBytes int) ([]byte, error) {
	if len(envs) > maxEnvs {
		return nil, fmt.Errorf("%w: %d envelopes, at most %d", ErrProof, len(envs), maxEnvs)
	}
	b := binary.BigEndian.AppendUint16([]byte{proofVersion}, uint16(len(envs)))
	for _, e := range envs {
		eb, err := e.Encode()
		if err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(eb)))
		b = append(b, eb...)
		if len(b) > maxBytes {
			return nil, fmt.Errorf("%w: over %d bytes", ErrProof, maxBytes)
		}
	}
	return b, nil
}

// decodeProof parses a proof strictly: its version, its count, every
// envelope filling its length exactly, nothing after the last, no envelope
// twice.
func decodeProof(b []byte, maxEnvs, maxBytes int) ([]*envelope.Envelope, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrProof, len(b), maxBytes)
	}
	if len(b) < 3 || b[0] != proofVersion {
		return nil, fmt.Errorf("%w: not a proof of version %d", ErrProof, proofVersion)
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n > maxEnvs {
		return nil, fmt.Errorf("%w: %d envelopes, at most %d", ErrProof, n, maxEnvs)
	}
	b = b[3:]
	envs := make([]*envelope.Envelope, 0, n)
	seen := make(map[envelope.Hash]bool, n)
	for i := 0; i < n; i++ {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: cut at envelope %d", ErrProof, i)
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%w: envelope %d of %d bytes, %d left", ErrProof, i, l, len(b)-4)
		}
		e, err := envelope.Decode(bytes.Clone(b[4 : 4+l]))
		if err != nil {
			return nil, fmt.Errorf("%w: envelope %d: %v", ErrProof, i, err)
		}
		id := e.ID()
		if seen[id] {
			return nil, fmt.Errorf("%w: envelope %d twice", ErrProof, i)
		}
		seen[id] = true
		envs = append(envs, e)
		b = b[4+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last envelope", ErrProof, len(b))
	}
	return envs, nil
}

// certSubject is the part of a certificate's encoding that says whom it is
// about: decoding only this, not the hybrid recipients, keeps a scan of
// every stored certificate cheap.
type certSubject struct {
	Genesis    *struct{} `json:"genesis"`
	Membership *struct {
		Device      crypto.DeviceID `json:"device"`
		Endorsement *struct {
			Device crypto.DeviceID `json:"device"`
		} `json:"endorsement"`
	} `json:"membership"`
	Revocation *struct {
		Device crypto.DeviceID `json:"device"`
	} `json:"revocation"`
}

type storedCert struct {
	seq uint64 // local sequence number: an order that admitted issuers first
	env *envelope.Envelope
	sub certSubject
}

// certIndex reads every stored certificate that is a genesis, a membership
// or a revocation.
func (s *Store) certIndex(tx *bolt.Tx) (genesis *storedCert, members, revocations map[crypto.DeviceID][]*storedCert, err error) {
	members, revocations = map[crypto.DeviceID][]*storedCert{}, map[crypto.DeviceID][]*storedCert{}
	err = tx.Bucket(bCerts).ForEach(func(k, id []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("unreadable certificate key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		p := payloadAt(tx, seq)
		// Key grants, the large ones, are none of these.
		if !bytes.Contains(p, []byte(`"membership"`)) && !bytes.Contains(p, []byte(`"revocation"`)) && !bytes.Contains(p, []byte(`"genesis"`)) {
			return nil
		}
		var sub certSubject
		if json.Unmarshal(p, &sub) != nil {
			return nil
		}
		e, err := envelopeAt(tx, seq)
		if err != nil {
			return err
		}
		c := &storedCert{seq: seq, env: e, sub: sub}
		switch {
		case sub.Genesis != nil:
			genesis = c
		case sub.Membership != nil:
			members[sub.Membership.Device] = append(members[sub.Membership.Device], c)
		case sub.Revocation != nil:
			revocations[sub.Revocation.Device] = append(revocations[sub.Revocation.Device], c)
		}
		return nil
	})
	return genesis, members, revocations, err
}

// proofOf adds to out the certificates that make each of ds a member:
// their memberships, and recursively those of the issuers and endorsers.
func proofOf(ds []crypto.DeviceID, genesis *storedCert, members map[crypto.DeviceID][]*storedCert, out map[envelope.Hash]*storedCert) {
	if genesis != nil {
		out[genesis.env.ID()] = genesis
	}
	done := map[crypto.DeviceID]bool{}
	for len(ds) > 0 {
		d := ds[len(ds)-1]
		ds = ds[:len(ds)-1]
		if done[d] {
			continue
		}
		done[d] = true
		for _, c := range members[d] {
			out[c.env.ID()] = c
			ds = append(ds, crypto.DeviceID(c.env.Header.Author))
			if en := c.sub.Membership.Endorsement; en != nil {
				ds = append(ds, en.Device)
			}
		}
	}
}

func inStoreOrder(m map[envelope.Hash]*storedCert) []*envelope.Envelope {
	cs := make([]*storedCert, 0, len(m))
	for _, c := range m {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	out := make([]*envelope.Envelope, len(cs))
	for i, c := range cs {
		out[i] = c.env
	}
	return out
}

// MembershipProof returns the proof that d is a member, from what this
// store holds: at most MaxProofEnvelopes envelopes and MaxProofBytes bytes.
func (s *Store) MembershipProof(d crypto.DeviceID) ([]byte, error) {
	var envs []*envelope.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		genesis, members, _, err := s.certIndex(tx)
		if err != nil {
			return err
		}
		if len(members[d]) == 0 && (genesis == nil || crypto.DeviceID(genesis.env.Header.Author) != d) {
			return fmt.Errorf("%w: no membership of device %s in this store", ErrProof, d.Short())
		}
		out := map[envelope.Hash]*storedCert{}
		proofOf([]crypto.DeviceID{d}, genesis, members, out)
		envs = inStoreOrder(out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return encodeProof(envs, MaxProofEnvelopes, MaxProofBytes)
}

// AdmitProof offers the envelopes of a peer's membership proof to
// admission, which checks each as it checks any envelope. Those whose
// author's chain this store lacks wait (within admission's budgets) until
// it arrives by sync.
func (s *Store) AdmitProof(b []byte) (Result, error) {
	envs, err := decodeProof(b, MaxProofEnvelopes, MaxProofBytes)
	if err != nil {
		return Result{}, err
	}
	return s.Add(envs...)
}

// ProvesMember reports whether proof shows device d a member, not revoked:
// every envelope's signature verifies, and with its certificates added to
// this store's trust, d is a member and not revoked. It is how a peer that
// does not know d yet decides to talk to it: admission proper still needs
// the issuers' chains, which the sync with d brings. A certificate that
// forks a chain this store holds does not count.
func (s *Store) ProvesMember(d crypto.DeviceID, proof []byte) error {
	envs, err := decodeProof(proof, MaxProofEnvelopes, MaxProofBytes)
	if err != nil {
		return err
	}
	var hs []*envelope.Header
	var cs []*crypto.Certificate
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, e := range envs {
			h := e.Header
			if h.Class != envelope.ClassCertificate || e.Payload == nil {
				continue
			}
			if crypto.Verify(h) != nil || crypto.CheckPayload(h, e.Payload) != nil {
				return fmt.Errorf("%w: envelope %s does not verify", ErrProof, e.ID().String()[:12])
			}
			id := e.ID()
			if at := tx.Bucket(bChains).Get(chainKey(h.Author, h.Seq)); at != nil && !bytes.Equal(at, id[:]) {
				return fmt.Errorf("%w: envelope %s forks its author's chain", ErrProof, id.String()[:12])
			}
			c, err := crypto.DecodeCertificate(e.Payload)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrProof, err)
			}
			hs, cs = append(hs, h), append(cs, c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := s.Trust().Clone()
	t.AddAll(hs, cs)
	if _, ok := t.Member(d); !ok {
		return fmt.Errorf("%w: it does not make device %s a member", ErrProof, d.Short())
	}
	if _, revoked := t.Revoked(d); revoked {
		return fmt.Errorf("%w: device %s is revoked", ErrProof, d.Short())
	}
	return nil
}

// RevocationNotice returns what a peer sends a revoked device it refuses,
// so that the device learns it: the revocations of d, the membership proofs
// of their issuers, and each issuer's chain before its revocation (headers,
// with the payloads of certificates), as far back as the bounds allow, so
// that a device that missed part of that chain can admit the revocation.
// It returns nil when this store holds no revocation of d.
func (s *Store) RevocationNotice(d crypto.DeviceID) ([]byte, error) {
	var envs []*envelope.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		genesis, members, revocations, err := s.certIndex(tx)
		if err != nil {
			return err
		}
		if len(revocations[d]) == 0 {
			return nil
		}
		out := map[envelope.Hash]*storedCert{}
		var issuers []crypto.DeviceID
		for _, r := range revocations[d] {
			out[r.env.ID()] = r
			issuers = append(issuers, crypto.DeviceID(r.env.Header.Author))
		}
		proofOf(issuers, genesis, members, out)
		envs = inStoreOrder(out)
		size := 3
		for _, e := range envs {
			size += encodedSize(e)
		}
		// The revokers' chains, newest first, while the bounds allow.
		var chain []*envelope.Envelope
		have := map[envelope.Hash]bool{}
		for _, e := range envs {
			have[e.ID()] = true
		}
		for _, r := range revocations[d] {
			h := r.env.Header
			for seq := h.Seq - 1; seq >= 1 && len(envs)+len(chain) < maxNoticeEnvelopes; seq-- {
				id := tx.Bucket(bChains).Get(chainKey(h.Author, seq))
				if id == nil {
					break
				}
				e, err := getEnvelope(tx, id)
				if err != nil {
					return err
				}
				if have[e.ID()] {
					continue
				}
				if e.Header.Class == envelope.ClassSealed {
					e.Payload = nil
				}
				if size += encodedSize(e); size > maxNoticeBytes {
					break
				}
				have[e.ID()] = true
				chain = append(chain, e)
			}
		}
		// Lowest sequence first, then the rest.
		sort.SliceStable(chain, func(i, j int) bool { return chain[i].Header.Seq < chain[j].Header.Seq })
		envs = append(chain, envs...)
		return nil
	})
	if err != nil || envs == nil {
		return nil, err
	}
	return encodeProof(envs, maxNoticeEnvelopes, maxNoticeBytes)
}

// encodedSize is e's size in a proof; an envelope that does not encode
// counts as too large for any.
func encodedSize(e *envelope.Envelope) int {
	b, err := e.Encode()
	if err != nil {
		return maxNoticeBytes + 1
	}
	return 4 + len(b)
}

// AdmitRevocationNotice offers a revocation notice's envelopes to
// admission.
func (s *Store) AdmitRevocationNotice(b []byte) (Result, error) {
	envs, err := decodeProof(b, maxNoticeEnvelopes, maxNoticeBytes)
	if err != nil {
		return Result{}, err
	}
	return s.Add(envs...)
}

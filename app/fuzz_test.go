package app

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"noroshi/crypto"
)

// FuzzDecodeJoinRequest: a join request comes from outside (a file handed
// over by a new member). Decoding never panics; whatever decodes verifies
// and re-encodes to a request that decodes the same.
func FuzzDecodeJoinRequest(f *testing.F) {
	clock := newFakeClock()
	a := openNew(f, clock, "Fuzz Member")
	req, err := a.JoinRequest()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(req)
	f.Add([]byte(`{"v":1,"type":"noroshi-join-request"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeJoinRequest(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !crypto.VerifyBytes(r.Device, r.signedBytes(), r.Signature) {
			t.Fatal("decoded a request whose signature does not verify")
		}
	})
}

// FuzzJoin: an invite comes from outside. Joining with arbitrary bytes never
// panics and, when refused, stores nothing.
func FuzzJoin(f *testing.F) {
	clock := newFakeClock()
	centre := openNew(f, clock, "Duty Officer")
	if _, err := centre.CreateCommunity(CommunityOptions{Name: "Fuzz", OrgName: "Centre", OrgKind: KindCoordination}); err != nil {
		f.Fatal(err)
	}
	m := openNew(f, clock, "Member")
	req, err := m.JoinRequest()
	if err != nil {
		f.Fatal(err)
	}
	inv, _, err := centre.Invite(req, InviteOptions{Org: "Centre", Role: crypto.RoleMember})
	if err != nil {
		f.Fatal(err)
	}
	// A sealed but meaningless invite, so the fuzzer reaches the bundle parser.
	junk, err := crypto.SealTo(rand.Reader, []byte("noroshi-bundle\n\x00\x00\x00\x01\x00\x00\x00\x02{}"), crypto.Audience{Devices: []crypto.PublicDevice{m.Device()}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(inv[:min(len(inv), 4096)])
	f.Add(junk)
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Equal(b, inv) {
			return
		}
		before := m.store.Digest()
		if _, err := m.Join(b); err == nil {
			t.Fatal("joined with a fuzzed invite")
		}
		if m.store.Digest() != before {
			t.Fatal("a refused invite changed the store")
		}
	})
}

// FuzzDecodeRecord: a record is decrypted from a peer's envelope; decoding
// never panics and encodes back to something that decodes equal.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []*Record{
		{Post: &PostRecord{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "t"}},
		{Chunk: &ChunkRecord{Index: 2}, Blob: []byte{0, 1, 2, '\n'}},
		{Reads: &ReadsRecord{}},
	} {
		b, err := r.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		b2, err := r.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := DecodeRecord(b2)
		if err != nil || r2.count() != 1 || !bytes.Equal(r2.Blob, r.Blob) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzDecodeEndorsement: an endorsement file comes from outside (another
// device, by hand). Decoding arbitrary bytes never panics, and whatever
// decodes is for the join request given and carries a signature that
// verifies.
func FuzzDecodeEndorsement(f *testing.F) {
	c := newCommunity(f)
	laptop := openNew(f, c.clock, "Power Analyst")
	reqBytes, err := laptop.JoinRequest()
	if err != nil {
		f.Fatal(err)
	}
	req, err := DecodeJoinRequest(reqBytes)
	if err != nil {
		f.Fatal(err)
	}
	en, err := c.power.Endorse(reqBytes, "")
	if err != nil {
		f.Fatal(err)
	}
	community := c.power.store.Community()
	f.Add(en)
	f.Add([]byte(`{"v":1,"type":"noroshi-endorsement"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeEndorsement(b, req, community)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if m.Device != req.Device || m.Endorsement == nil ||
			!crypto.VerifyBytes(m.Endorsement.Device, crypto.EndorsementMessage(community, m), m.Endorsement.Sig) {
			t.Fatal("decoded an endorsement that is not for this request or does not verify")
		}
	})
}

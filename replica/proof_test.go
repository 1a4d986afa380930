package replica_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"noroshi/crypto"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// FuzzMembershipProof feeds the proof decoder arbitrary bytes: it must
// never panic, and what it accepts it re-encodes byte for byte.
func FuzzMembershipProof(f *testing.F) {
	c := replicatest.New(f, "fuzz proof")
	d, dm := c.Join("member", "org a", crypto.RoleMember)
	r := replicatest.NewReplica(f, d, c.Genesis, dm)
	proof, err := r.Store.MembershipProof(d.ID())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(proof)
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0})
	f.Add(binary.BigEndian.AppendUint16([]byte{1}, 65))
	f.Fuzz(func(t *testing.T, b []byte) {
		envs, err := replica.DecodeProof(b)
		if err != nil {
			if !errors.Is(err, replica.ErrProof) {
				t.Fatalf("got %v, want ErrProof", err)
			}
			return
		}
		if len(envs) > replica.MaxProofEnvelopes {
			t.Fatalf("%d envelopes accepted", len(envs))
		}
		again, err := replica.EncodeProof(envs)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding: %v, equal %v", err, bytes.Equal(again, b))
		}
	})
}

package replica

import "noroshi/crypto/envelope"

// DecodeProof and EncodeProof expose the proof encoding to the fuzz test.
func DecodeProof(b []byte) ([]*envelope.Envelope, error) {
	return decodeProof(b, MaxProofEnvelopes, MaxProofBytes)
}

func EncodeProof(envs []*envelope.Envelope) ([]byte, error) {
	return encodeProof(envs, MaxProofEnvelopes, MaxProofBytes)
}

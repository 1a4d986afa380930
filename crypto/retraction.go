package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"noroshi/crypto/envelope"
)

// retractionVersion is the version of the retraction encoding.
const retractionVersion = 1

// maxRetraction bounds a retraction's encoding.
const maxRetraction = 64 << 10

// Retraction withdraws an earlier envelope: honest peers drop its payload and
// never send it again; the header stays, so the chain stays verifiable. It is
// carried in clear as the payload of a ClassRetraction envelope, so relays
// obey it too. The reason is free text, so it travels sealed (to the
// community key) inside the retraction.
type Retraction struct {
	V            int           `json:"v"`
	Target       envelope.Hash `json:"target"`
	SealedReason []byte        `json:"sealed_reason,omitempty"`
}

// Encode returns the retraction's encoding.
func (r *Retraction) Encode() ([]byte, error) {
	r.V = retractionVersion
	if r.Target.IsZero() {
		return nil, errors.New("retraction without a target")
	}
	return json.Marshal(r)
}

// DecodeRetraction parses a retraction strictly.
func DecodeRetraction(b []byte) (*Retraction, error) {
	if len(b) > maxRetraction {
		return nil, fmt.Errorf("retraction of %d bytes, at most %d", len(b), maxRetraction)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	r := &Retraction{}
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("retraction: %w", err)
	}
	// dec.More would miss a stray "}" or "]": insist on the end of input.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("retraction: trailing data")
	}
	if r.V != retractionVersion {
		return nil, fmt.Errorf("retraction version %d, this program reads %d: upgrade Noroshi", r.V, retractionVersion)
	}
	if r.Target.IsZero() {
		return nil, errors.New("retraction without a target")
	}
	return r, nil
}

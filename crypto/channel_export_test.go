//go:build go1.26

package crypto

import (
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"io"
	"net"
)

// AcceptReplayable is Accept with the ML-KEM encapsulation's randomness
// drawn from rand too (derandomized encapsulation, which the standard
// library offers for known-answer tests only): given the same rand, the
// server's side is the same, so a recorded client replays against it.
func (d *Device) AcceptReplayable(rand io.Reader, conn net.Conn, community [32]byte, proof []byte, check Check) (*Channel, error) {
	return d.accept(rand, conn, community, proof, check, func(ek *mlkem.EncapsulationKey768) ([]byte, []byte, error) {
		m := make([]byte, 32)
		if _, err := io.ReadFull(rand, m); err != nil {
			return nil, nil, err
		}
		return mlkemtest.Encapsulate768(ek, m)
	})
}

// ParseHandshake exposes the decoder of handshake frames to the fuzz test.
func ParseHandshake(b []byte) (kind byte, proof []byte, refusal *Refusal, err error) {
	m, err := parseHandshake(b)
	return m.kind, m.proof, m.refusal, err
}

package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// A Channel is an authenticated, encrypted stream between two devices of the
// same community, for catch-up and payload transfer between peers. Each side
// proves its device key by signing the handshake transcript, which binds
// fresh X25519 ephemeral keys, so the traffic keys are forward-secret and a
// recorded session cannot be replayed. Who may talk is the caller's decision
// (Accept's check function): typically "a member, not revoked".
//
// Handshake (all integers big-endian; "hello" is 1+32+32+32+32 bytes):
//
//	C -> S  hello: version u8 = 1 || community [32] || device [32] || ephemeral X25519 [32] || nonce [32]
//	S -> C  hello (the same layout) || signature [64] over
//	          "noroshi/channel/v1 server" || transcript
//	C -> S  signature [64] over "noroshi/channel/v1 client" || transcript
//
// where transcript is C's hello || S's hello. Keys: HKDF-SHA256 over the
// X25519 shared secret, salt transcript hash, info "c2s" and "s2c".
//
// Frames: u32 length of the sealed frame || ChaCha20-Poly1305 of the
// plaintext, nonce = 64-bit frame counter, one counter per direction. A frame
// holds at most MaxFrame plaintext bytes.

const (
	channelVersion = 1
	helloSize      = 1 + 32 + 32 + 32 + 32
	// MaxFrame bounds one frame's plaintext.
	MaxFrame = 8 << 20
)

// Errors from the handshake.
var (
	ErrHandshake = errors.New("channel handshake failed")
	ErrPeer      = errors.New("peer not allowed")
)

// Channel is an encrypted stream. It is not safe for concurrent reads, nor
// for concurrent writes; one reader and one writer may run at once.
type Channel struct {
	conn      net.Conn
	peer      DeviceID
	send      cipher.AEAD
	recv      cipher.AEAD
	sendCount uint64
	recvCount uint64
	// rerr is the first read error: after a frame fails to read or to
	// authenticate, the stream is out of step and every later read fails.
	rerr error
	// Counts of bytes on the wire, for measurements.
	BytesSent, BytesReceived int64
}

// Peer returns the authenticated device at the other end.
func (c *Channel) Peer() DeviceID { return c.peer }

// Close closes the underlying connection.
func (c *Channel) Close() error { return c.conn.Close() }

// SetDeadline sets the underlying connection's deadline.
func (c *Channel) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

type hello struct {
	raw       []byte
	community [32]byte
	device    DeviceID
	ephemeral []byte
}

func makeHello(rand io.Reader, community [32]byte, d DeviceID) (hello, *ecdh.PrivateKey, error) {
	// The ephemeral key is drawn from rand itself: GenerateKey ignores its
	// reader since Go 1.26, and a caller's rand (a test recording a
	// session) must decide every random byte of the handshake.
	seed := make([]byte, 32)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return hello{}, nil, err
	}
	eph, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		return hello{}, nil, err
	}
	b := make([]byte, 0, helloSize)
	b = append(b, channelVersion)
	b = append(b, community[:]...)
	b = append(b, d[:]...)
	b = append(b, eph.PublicKey().Bytes()...)
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return hello{}, nil, err
	}
	b = append(b, nonce...)
	h, _ := parseHello(b)
	return h, eph, nil
}

func parseHello(b []byte) (hello, error) {
	if len(b) != helloSize {
		return hello{}, fmt.Errorf("%w: hello of %d bytes", ErrHandshake, len(b))
	}
	if b[0] != channelVersion {
		return hello{}, fmt.Errorf("%w: peer speaks channel version %d, this program %d: upgrade the older side", ErrHandshake, b[0], channelVersion)
	}
	h := hello{raw: b}
	copy(h.community[:], b[1:33])
	copy(h.device[:], b[33:65])
	h.ephemeral = b[65:97]
	return h, nil
}

func transcript(c, s hello) []byte {
	return append(append(make([]byte, 0, 2*helloSize), c.raw...), s.raw...)
}

func keys(eph *ecdh.PrivateKey, peerEph []byte, tr []byte) (c2s, s2c cipher.AEAD, err error) {
	pub, err := ecdh.X25519().NewPublicKey(peerEph)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	salt := sha256.Sum256(tr)
	k1, err := hkdf.Key(sha256.New, shared, salt[:], "noroshi/channel/v1 c2s", chacha20poly1305.KeySize)
	if err != nil {
		return nil, nil, err
	}
	k2, err := hkdf.Key(sha256.New, shared, salt[:], "noroshi/channel/v1 s2c", chacha20poly1305.KeySize)
	if err != nil {
		return nil, nil, err
	}
	if c2s, err = chacha20poly1305.New(k1); err != nil {
		return nil, nil, err
	}
	s2c, err = chacha20poly1305.New(k2)
	return c2s, s2c, err
}

// Dial runs the client side of the handshake on conn. check decides whether
// the server's device may be talked to.
func (d *Device) Dial(rand io.Reader, conn net.Conn, community [32]byte, check func(DeviceID) error) (*Channel, error) {
	ch, eph, err := makeHello(rand, community, d.ID())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(ch.raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	buf := make([]byte, helloSize+64)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	sh, err := parseHello(buf[:helloSize])
	if err != nil {
		return nil, err
	}
	if sh.community != community {
		return nil, fmt.Errorf("%w: the peer belongs to another community", ErrPeer)
	}
	tr := transcript(ch, sh)
	if !VerifyBytes(sh.device, append([]byte("noroshi/channel/v1 server"), tr...), buf[helloSize:]) {
		return nil, fmt.Errorf("%w: server signature does not verify", ErrHandshake)
	}
	if err := check(sh.device); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPeer, err)
	}
	if _, err := conn.Write(d.SignBytes(append([]byte("noroshi/channel/v1 client"), tr...))); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	c2s, s2c, err := keys(eph, sh.ephemeral, tr)
	if err != nil {
		return nil, err
	}
	return &Channel{conn: conn, peer: sh.device, send: c2s, recv: s2c, BytesSent: helloSize + 64, BytesReceived: helloSize + 64}, nil
}

// Accept runs the server side of the handshake on conn.
func (d *Device) Accept(rand io.Reader, conn net.Conn, community [32]byte, check func(DeviceID) error) (*Channel, error) {
	buf := make([]byte, helloSize)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	ch, err := parseHello(buf)
	if err != nil {
		return nil, err
	}
	if ch.community != community {
		return nil, fmt.Errorf("%w: the peer belongs to another community", ErrPeer)
	}
	if err := check(ch.device); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPeer, err)
	}
	sh, eph, err := makeHello(rand, community, d.ID())
	if err != nil {
		return nil, err
	}
	tr := transcript(ch, sh)
	out := append(bytes.Clone(sh.raw), d.SignBytes(append([]byte("noroshi/channel/v1 server"), tr...))...)
	if _, err := conn.Write(out); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	sig := make([]byte, 64)
	if _, err := io.ReadFull(conn, sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	if !VerifyBytes(ch.device, append([]byte("noroshi/channel/v1 client"), tr...), sig) {
		return nil, fmt.Errorf("%w: client signature does not verify", ErrHandshake)
	}
	c2s, s2c, err := keys(eph, ch.ephemeral, tr)
	if err != nil {
		return nil, err
	}
	return &Channel{conn: conn, peer: ch.device, send: s2c, recv: c2s, BytesSent: helloSize + 64, BytesReceived: helloSize + 64}, nil
}

func nonceFor(n uint64) []byte {
	b := make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(b[4:], n)
	return b
}

// WriteFrame seals and sends one frame.
func (c *Channel) WriteFrame(p []byte) error {
	if len(p) > MaxFrame {
		return fmt.Errorf("frame of %d bytes, at most %d", len(p), MaxFrame)
	}
	sealed := c.send.Seal(make([]byte, 4, 4+len(p)+c.send.Overhead()), nonceFor(c.sendCount), p, nil)
	c.sendCount++
	binary.BigEndian.PutUint32(sealed[:4], uint32(len(sealed)-4))
	n, err := c.conn.Write(sealed)
	c.BytesSent += int64(n)
	return err
}

// ReadFrame receives and opens one frame. After an error, every later call
// returns that error: a frame that was cut, forged, replayed or reordered
// leaves the stream out of step for good.
func (c *Channel) ReadFrame() ([]byte, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	p, err := c.readFrame()
	if err != nil {
		c.rerr = err
	}
	return p, err
}

func (c *Channel) readFrame() ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(c.conn, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > MaxFrame+uint32(c.recv.Overhead()) || n < uint32(c.recv.Overhead()) {
		return nil, fmt.Errorf("frame of %d bytes out of bounds", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		return nil, err
	}
	c.BytesReceived += int64(4 + n)
	p, err := c.recv.Open(b[:0], nonceFor(c.recvCount), b, nil)
	if err != nil {
		return nil, fmt.Errorf("frame does not authenticate: %w", err)
	}
	c.recvCount++
	return p, nil
}

package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// A Channel is an authenticated, encrypted stream between two devices of the
// same community, for catch-up and payload transfer between peers.
//
// The key agreement is hybrid, X25519 and ML-KEM-768, both secrets mixed into
// the keys: a recording stays sealed unless both are broken (a quantum
// computer breaks X25519 alone). Nothing that identifies the community or a
// device travels in clear: the first two messages hold the version,
// ephemeral keys, KEM data and nonces; the device IDs, their signatures and
// their membership proofs travel encrypted. The community ID is mixed into
// the keys, so a peer of another community, or anything that is not a
// Noroshi sync port, fails at the first encrypted frame (a *Refusal of
// reason RefusedCommunity). Each side proves its device key by signing the
// transcript, which binds fresh ephemeral keys: the traffic keys are
// forward-secret and a recorded session cannot be replayed.
//
// Who may talk is the caller's decision (the check functions of Dial and
// Accept): typically "a member, not revoked", judged with the proof the peer
// sent, bytes the channel does not read. A check that refuses with a
// *Refusal has its reason, message and data (for example the certificates
// that revoke the peer) sent to the peer, encrypted: both sides know why.
//
// Handshake, version 2 (integers big-endian):
//
//	C -> S  version u8 = 2 || X25519 ephemeral [32] || ML-KEM-768 encapsulation key [1184] || nonce [32]
//	S -> C  version u8 = 2 || X25519 ephemeral [32] || ML-KEM-768 ciphertext [1088] || nonce [32]
//
// Keys: prk = HKDF-Extract(SHA-256, salt "noroshi/channel/v2" || community,
// secret ML-KEM shared key || X25519 shared secret); th = SHA-256 of the two
// messages above; the client-to-server key is HKDF-Expand(prk,
// "noroshi/channel/v2 c2s" || th, 32), the other "s2c". Then, as frames
// under those keys (counters from 0):
//
//	S -> C  auth:     1 || device [32] || signature [64] || proof
//	C -> S  auth (the same layout), or a refusal
//	S -> C  ok:       2, or a refusal
//	refusal:          3 || reason u8 || message length u16 || message || data
//
// The server signs "noroshi/channel/v2 server" || community || th || its
// device; the client "noroshi/channel/v2 client" || community || th || its
// device || the server's device. A proof and a refusal's data hold at most
// MaxProof bytes. Data frames follow, the counters continuing.
//
// Frames: u32 length of the sealed frame || ChaCha20-Poly1305 of the
// plaintext, nonce = 64-bit frame counter, one counter per direction. A frame
// holds at most MaxFrame plaintext bytes.
//
// Randomness: the caller's rand draws the X25519 keys, the seed of the
// ML-KEM decapsulation key and the nonces. ML-KEM encapsulation (the
// server's) draws from crypto/rand: the standard library derandomizes it for
// known-answer tests only (crypto/mlkem/mlkemtest), which the tests that
// replay a recorded session use through export_test.go.

const (
	channelVersion = 2
	// A version 1 client reads a hello of this size; a server answers it
	// so that the old program says "upgrade".
	v1HelloReply = 1 + 32*4 + 64
	clientHello  = 1 + 32 + mlkem.EncapsulationKeySize768 + 32
	serverHello  = 1 + 32 + mlkem.CiphertextSize768 + 32
	// MaxFrame bounds one frame's plaintext.
	MaxFrame = 8 << 20
	// MaxProof bounds a membership proof and a refusal's data.
	MaxProof = 1 << 20
	// maxRefusalMsg bounds a refusal's message.
	maxRefusalMsg = 1024
	// maxHandshakeFrame bounds a handshake frame's plaintext.
	maxHandshakeFrame = 1 + 32 + 64 + MaxProof
)

// Handshake frame kinds.
const (
	hsAuth    = 1
	hsOK      = 2
	hsRefusal = 3
)

// Errors from the handshake. Every error of Dial and Accept wraps one of
// them; a *Refusal says more.
var (
	ErrHandshake = errors.New("channel handshake failed")
	ErrPeer      = errors.New("peer not allowed")
)

// RefusalReason says why a channel was refused.
type RefusalReason uint8

// Reasons for a refusal.
const (
	// RefusedOther: a reason the message alone says.
	RefusedOther RefusalReason = iota
	// RefusedCommunity: the peer is of another community, or is not a
	// Noroshi sync port at all.
	RefusedCommunity
	// RefusedVersion: the two programs speak different channel versions.
	RefusedVersion
	// RefusedMembership: the peer's membership is not known, and its proof
	// is missing or does not hold.
	RefusedMembership
	// RefusedRevoked: the peer's device is revoked.
	RefusedRevoked
	numRefusalReasons
)

var refusalNames = [numRefusalReasons]string{"refused", "other-community", "wrong-version", "membership-unknown", "revoked"}

// String returns the reason's name, as `peers --json` shows it.
func (r RefusalReason) String() string {
	if r < numRefusalReasons {
		return refusalNames[r]
	}
	return refusalNames[RefusedOther]
}

// A Refusal is why a channel was not opened. A check function returns one
// to tell the peer why (Data travels with it, opaque to the channel); Dial
// and Accept return one when this side refused the peer, when the peer
// refused this side (Remote), and when the peer is of another community or
// speaks another version.
type Refusal struct {
	Reason RefusalReason
	Msg    string // one line, for people
	Data   []byte // at most MaxProof bytes
	Remote bool   // the peer refused this device
	// Peer is the peer's device when it was authenticated, zero before.
	Peer DeviceID
	// Err is ErrPeer or ErrHandshake, for errors.Is.
	Err error
}

func (r *Refusal) Error() string {
	if r.Remote {
		return fmt.Sprintf("%v: the peer refused this device (%s): %s", r.Err, r.Reason, r.Msg)
	}
	return fmt.Sprintf("%v: %s", r.Err, r.Msg)
}

func (r *Refusal) Unwrap() error { return r.Err }

func errOtherCommunity() *Refusal {
	return &Refusal{Reason: RefusedCommunity, Err: ErrHandshake,
		Msg: "peer is of another community, or this is not a Noroshi sync port"}
}

// Channel is an encrypted stream. It is not safe for concurrent reads, nor
// for concurrent writes; one reader and one writer may run at once.
type Channel struct {
	conn      net.Conn
	peer      DeviceID
	peerProof []byte
	send      cipher.AEAD
	recv      cipher.AEAD
	sendCount uint64
	recvCount uint64
	// rerr is the first read error: after a frame fails to read or to
	// authenticate, the stream is out of step and every later read fails.
	rerr error
	// Counts of bytes on the wire after the handshake, and of the
	// handshake's bytes both ways, for measurements.
	BytesSent, BytesReceived int64
	HandshakeBytes           int64
}

// Peer returns the authenticated device at the other end.
func (c *Channel) Peer() DeviceID { return c.peer }

// PeerProof returns the proof the peer sent in the handshake.
func (c *Channel) PeerProof() []byte { return c.peerProof }

// Close closes the underlying connection.
func (c *Channel) Close() error { return c.conn.Close() }

// SetDeadline sets the underlying connection's deadline.
func (c *Channel) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// Check decides whether the peer's device, which sent proof, may be talked
// to. A *Refusal it returns travels to the peer; any other error travels as
// a refusal of reason RefusedOther with the error's text.
type Check func(peer DeviceID, proof []byte) error

// encapsulate is ML-KEM encapsulation: the server's only randomness not
// drawn from the caller's rand.
type encapsulate func(ek *mlkem.EncapsulationKey768) (shared, ciphertext []byte, err error)

func encapsulateRandom(ek *mlkem.EncapsulationKey768) ([]byte, []byte, error) {
	shared, ct := ek.Encapsulate()
	return shared, ct, nil
}

func readRand(rand io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("%w: randomness: %v", ErrHandshake, err)
	}
	return b, nil
}

// x25519 draws an ephemeral key from rand itself: GenerateKey ignores its
// reader since Go 1.26, and a caller's rand (a test recording a session)
// must decide the handshake's random bytes.
func x25519(rand io.Reader) (*ecdh.PrivateKey, error) {
	seed, err := readRand(rand, 32)
	if err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return k, nil
}

// sessionKeys mixes both shared secrets and the community into the keys.
func sessionKeys(community [32]byte, kemShared []byte, eph *ecdh.PrivateKey, peerEph []byte, th [32]byte) (c2s, s2c cipher.AEAD, err error) {
	pub, err := ecdh.X25519().NewPublicKey(peerEph)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	x, err := eph.ECDH(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	salt := append([]byte("noroshi/channel/v2"), community[:]...)
	prk, err := hkdf.Extract(sha256.New, append(bytes.Clone(kemShared), x...), salt)
	if err != nil {
		return nil, nil, err
	}
	aead := func(label string) (cipher.AEAD, error) {
		k, err := hkdf.Expand(sha256.New, prk, label+string(th[:]), chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		return chacha20poly1305.New(k)
	}
	if c2s, err = aead("noroshi/channel/v2 c2s"); err != nil {
		return nil, nil, err
	}
	s2c, err = aead("noroshi/channel/v2 s2c")
	return c2s, s2c, err
}

func serverSigned(community [32]byte, th [32]byte, server DeviceID) []byte {
	b := append([]byte("noroshi/channel/v2 server"), community[:]...)
	b = append(b, th[:]...)
	return append(b, server[:]...)
}

func clientSigned(community [32]byte, th [32]byte, client, server DeviceID) []byte {
	b := append([]byte("noroshi/channel/v2 client"), community[:]...)
	b = append(b, th[:]...)
	b = append(b, client[:]...)
	return append(b, server[:]...)
}

func authFrame(d *Device, sig, proof []byte) []byte {
	id := d.ID()
	b := make([]byte, 0, 1+32+64+len(proof))
	b = append(append(append(b, hsAuth), id[:]...), sig...)
	return append(b, proof...)
}

func refusalFrame(r *Refusal) []byte {
	msg := r.Msg
	if len(msg) > maxRefusalMsg {
		msg = msg[:maxRefusalMsg]
	}
	data := r.Data
	if len(data) > MaxProof {
		data = nil
	}
	b := []byte{hsRefusal, byte(r.Reason)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
	return append(append(b, msg...), data...)
}

// handshakeMsg is a decoded handshake frame.
type handshakeMsg struct {
	kind    byte
	device  DeviceID
	sig     []byte
	proof   []byte
	refusal *Refusal
}

// parseHandshake decodes a handshake frame (plaintext). It refuses
// anything that is not exactly one of the three kinds.
func parseHandshake(b []byte) (handshakeMsg, error) {
	if len(b) == 0 {
		return handshakeMsg{}, fmt.Errorf("%w: empty handshake frame", ErrHandshake)
	}
	m := handshakeMsg{kind: b[0]}
	switch b[0] {
	case hsAuth:
		if len(b) < 1+32+64 || len(b) > maxHandshakeFrame {
			return m, fmt.Errorf("%w: auth frame of %d bytes", ErrHandshake, len(b))
		}
		copy(m.device[:], b[1:33])
		m.sig = b[33:97]
		m.proof = bytes.Clone(b[97:])
		return m, nil
	case hsOK:
		if len(b) != 1 {
			return m, fmt.Errorf("%w: ok frame of %d bytes", ErrHandshake, len(b))
		}
		return m, nil
	case hsRefusal:
		if len(b) < 4 {
			return m, fmt.Errorf("%w: refusal frame of %d bytes", ErrHandshake, len(b))
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n > maxRefusalMsg || len(b) < 4+n || len(b)-4-n > MaxProof {
			return m, fmt.Errorf("%w: malformed refusal frame", ErrHandshake)
		}
		reason := RefusalReason(b[1])
		if reason >= numRefusalReasons {
			reason = RefusedOther
		}
		m.refusal = &Refusal{Reason: reason, Msg: oneLine(string(b[4 : 4+n])), Data: bytes.Clone(b[4+n:]), Remote: true, Err: ErrPeer}
		return m, nil
	}
	return m, fmt.Errorf("%w: handshake frame of kind %d", ErrHandshake, b[0])
}

// oneLine makes a peer's message safe to print: valid UTF-8, no control
// characters.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// readHandshake reads and decodes one handshake frame. A frame that does
// not open, or a peer that hangs up instead of sending it, means the two
// sides derived different keys: another community, or not Noroshi.
func (c *Channel) readHandshake() (handshakeMsg, error) {
	b, err := c.readFrameMax(maxHandshakeFrame)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errOpen) {
			return handshakeMsg{}, errOtherCommunity()
		}
		return handshakeMsg{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return parseHandshake(b)
}

// refuse tells the peer why, and returns the refusal as this side's error.
func (c *Channel) refuse(err error) error {
	r, ok := err.(*Refusal)
	if !ok {
		r = &Refusal{Reason: RefusedOther, Msg: err.Error()}
	}
	r = &Refusal{Reason: r.Reason, Msg: r.Msg, Data: r.Data, Err: ErrPeer, Peer: c.peer}
	c.WriteFrame(refusalFrame(r)) // best effort: the peer may be gone
	return r
}

// finish resets the byte counts to those after the handshake.
func (c *Channel) finish() *Channel {
	c.HandshakeBytes = c.BytesSent + c.BytesReceived
	c.BytesSent, c.BytesReceived = 0, 0
	return c
}

// Dial runs the client side of the handshake on conn: it sends proof (this
// device's membership proof, opaque to the channel; nil for none) and asks
// check whether the server's device, with the proof it sent, may be talked
// to.
func (d *Device) Dial(rand io.Reader, conn net.Conn, community [32]byte, proof []byte, check Check) (*Channel, error) {
	if len(proof) > MaxProof {
		return nil, fmt.Errorf("%w: proof of %d bytes, at most %d", ErrHandshake, len(proof), MaxProof)
	}
	eph, err := x25519(rand)
	if err != nil {
		return nil, err
	}
	seed, err := readRand(rand, mlkem.SeedSize)
	if err != nil {
		return nil, err
	}
	dk, err := mlkem.NewDecapsulationKey768(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	nonce, err := readRand(rand, 32)
	if err != nil {
		return nil, err
	}
	m1 := make([]byte, 0, clientHello)
	m1 = append(m1, channelVersion)
	m1 = append(m1, eph.PublicKey().Bytes()...)
	m1 = append(m1, dk.EncapsulationKey().Bytes()...)
	m1 = append(m1, nonce...)
	m2 := make([]byte, serverHello)
	_, err = conn.Write(m1)
	if err == nil {
		_, err = io.ReadFull(conn, m2[:1])
	}
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, fmt.Errorf("%w: no answer: %v", ErrHandshake, err)
		}
		// Hung up (or reset) on a hello it could not read.
		return nil, &Refusal{Reason: RefusedVersion, Err: ErrHandshake,
			Msg: "the peer closed the connection before the key exchange: it runs an older Noroshi (upgrade it), or this is not a Noroshi sync port"}
	}
	if v := m2[0]; v != channelVersion {
		if v > channelVersion && v < 16 {
			return nil, &Refusal{Reason: RefusedVersion, Err: ErrHandshake,
				Msg: fmt.Sprintf("peer speaks channel version %d, this program %d: upgrade this Noroshi", v, channelVersion)}
		}
		return nil, errOtherCommunity()
	}
	if _, err := io.ReadFull(conn, m2[1:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	kem, err := dk.Decapsulate(m2[33 : 33+mlkem.CiphertextSize768])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	th := sha256.Sum256(append(bytes.Clone(m1), m2...))
	c2s, s2c, err := sessionKeys(community, kem, eph, m2[1:33], th)
	if err != nil {
		return nil, err
	}
	c := &Channel{conn: conn, send: c2s, recv: s2c, BytesSent: clientHello, BytesReceived: serverHello}
	sa, err := c.readHandshake()
	if err != nil {
		return nil, err
	}
	switch sa.kind {
	case hsRefusal:
		return nil, sa.refusal
	case hsAuth:
	default:
		return nil, fmt.Errorf("%w: expected the server's auth frame", ErrHandshake)
	}
	if !VerifyBytes(sa.device, serverSigned(community, th, sa.device), sa.sig) {
		return nil, fmt.Errorf("%w: server signature does not verify", ErrHandshake)
	}
	c.peer, c.peerProof = sa.device, sa.proof
	if err := check(sa.device, sa.proof); err != nil {
		return nil, c.refuse(err)
	}
	sig := d.SignBytes(clientSigned(community, th, d.ID(), sa.device))
	if err := c.WriteFrame(authFrame(d, sig, proof)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	v, err := c.readHandshake()
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) && r.Reason == RefusedCommunity {
			// The server opened our frames before: it hung up.
			return nil, fmt.Errorf("%w: the peer closed the connection without a verdict", ErrHandshake)
		}
		return nil, err
	}
	switch v.kind {
	case hsOK:
		return c.finish(), nil
	case hsRefusal:
		v.refusal.Peer = c.peer
		return nil, v.refusal
	}
	return nil, fmt.Errorf("%w: expected the server's verdict", ErrHandshake)
}

// Accept runs the server side of the handshake on conn: it sends proof and
// asks check whether the client's device, with the proof it sent, may be
// talked to.
func (d *Device) Accept(rand io.Reader, conn net.Conn, community [32]byte, proof []byte, check Check) (*Channel, error) {
	return d.accept(rand, conn, community, proof, check, encapsulateRandom)
}

func (d *Device) accept(rand io.Reader, conn net.Conn, community [32]byte, proof []byte, check Check, encaps encapsulate) (*Channel, error) {
	if len(proof) > MaxProof {
		return nil, fmt.Errorf("%w: proof of %d bytes, at most %d", ErrHandshake, len(proof), MaxProof)
	}
	m1 := make([]byte, clientHello)
	if _, err := io.ReadFull(conn, m1[:1]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	switch v := m1[0]; {
	case v == channelVersion:
	case v == 1:
		// Answer in the old layout, so that the old program says
		// "peer speaks channel version 2, this program 1: upgrade".
		old := make([]byte, v1HelloReply)
		old[0] = channelVersion
		conn.Write(old)
		return nil, &Refusal{Reason: RefusedVersion, Err: ErrHandshake,
			Msg: fmt.Sprintf("peer speaks channel version 1, this program %d: upgrade the older side", channelVersion)}
	case v > channelVersion && v < 16:
		conn.Write([]byte{channelVersion})
		return nil, &Refusal{Reason: RefusedVersion, Err: ErrHandshake,
			Msg: fmt.Sprintf("peer speaks channel version %d, this program %d: upgrade this Noroshi", v, channelVersion)}
	default:
		return nil, &Refusal{Reason: RefusedCommunity, Err: ErrHandshake,
			Msg: fmt.Sprintf("the peer is not a Noroshi device (it sent 0x%02x first)", v)}
	}
	if _, err := io.ReadFull(conn, m1[1:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	ek, err := mlkem.NewEncapsulationKey768(m1[33 : 33+mlkem.EncapsulationKeySize768])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	eph, err := x25519(rand)
	if err != nil {
		return nil, err
	}
	kem, ct, err := encaps(ek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	nonce, err := readRand(rand, 32)
	if err != nil {
		return nil, err
	}
	m2 := make([]byte, 0, serverHello)
	m2 = append(m2, channelVersion)
	m2 = append(m2, eph.PublicKey().Bytes()...)
	m2 = append(m2, ct...)
	m2 = append(m2, nonce...)
	th := sha256.Sum256(append(bytes.Clone(m1), m2...))
	c2s, s2c, err := sessionKeys(community, kem, eph, m1[1:33], th)
	if err != nil {
		return nil, err
	}
	c := &Channel{conn: conn, send: s2c, recv: c2s, BytesSent: serverHello, BytesReceived: clientHello}
	sig := d.SignBytes(serverSigned(community, th, d.ID()))
	// The hello and the auth frame go in one write.
	auth := c.seal(authFrame(d, sig, proof))
	if _, err := conn.Write(append(m2, auth...)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	c.BytesSent += int64(len(auth))
	ca, err := c.readHandshake()
	if err != nil {
		return nil, err
	}
	switch ca.kind {
	case hsRefusal:
		return nil, ca.refusal // unauthenticated: Peer stays zero
	case hsAuth:
	default:
		return nil, fmt.Errorf("%w: expected the client's auth frame", ErrHandshake)
	}
	if !VerifyBytes(ca.device, clientSigned(community, th, ca.device, d.ID()), ca.sig) {
		return nil, fmt.Errorf("%w: client signature does not verify", ErrHandshake)
	}
	c.peer, c.peerProof = ca.device, ca.proof
	if err := check(ca.device, ca.proof); err != nil {
		return nil, c.refuse(err)
	}
	if err := c.WriteFrame([]byte{hsOK}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return c.finish(), nil
}

func nonceFor(n uint64) []byte {
	b := make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(b[4:], n)
	return b
}

// seal seals one frame with the next send counter.
func (c *Channel) seal(p []byte) []byte {
	sealed := c.send.Seal(make([]byte, 4, 4+len(p)+c.send.Overhead()), nonceFor(c.sendCount), p, nil)
	c.sendCount++
	binary.BigEndian.PutUint32(sealed[:4], uint32(len(sealed)-4))
	return sealed
}

// WriteFrame seals and sends one frame.
func (c *Channel) WriteFrame(p []byte) error {
	if len(p) > MaxFrame {
		return fmt.Errorf("frame of %d bytes, at most %d", len(p), MaxFrame)
	}
	n, err := c.conn.Write(c.seal(p))
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
	p, err := c.readFrameMax(MaxFrame)
	if err != nil {
		c.rerr = err
	}
	return p, err
}

var errOpen = errors.New("frame does not authenticate")

func (c *Channel) readFrameMax(max uint32) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(c.conn, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > max+uint32(c.recv.Overhead()) || n < uint32(c.recv.Overhead()) {
		return nil, fmt.Errorf("frame of %d bytes out of bounds", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		return nil, err
	}
	c.BytesReceived += int64(4 + n)
	p, err := c.recv.Open(b[:0], nonceFor(c.recvCount), b, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOpen, err)
	}
	c.recvCount++
	return p, nil
}

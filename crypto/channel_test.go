package crypto_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
)

var (
	channelCommunity = [32]byte{'g', 'a', 'm', 'e', 's'}
	otherCommunity   = [32]byte{'o', 't', 'h', 'e', 'r'}
)

func allowAll(crypto.DeviceID, []byte) error { return nil }

// Sizes of the handshake's clear messages (see crypto/channel.go).
const (
	clientHello = 1 + 32 + mlkem.EncapsulationKeySize768 + 32
	serverHello = 1 + 32 + mlkem.CiphertextSize768 + 32
	// An auth frame without a proof: length, kind, device, signature, tag.
	authFrame = 4 + 1 + 32 + 64 + 16
)

// handshakeResult is what one side of a handshake returned.
type handshakeResult struct {
	ch  *crypto.Channel
	err error
}

// side is one end of a handshake: its device, community, proof and check.
type side struct {
	dev       *crypto.Device
	community [32]byte
	proof     []byte
	check     crypto.Check
}

// handshake runs Dial on one end of a pipe and Accept on the other and
// returns both results. Each side closes its end when its handshake fails,
// as a real caller does, so that the other side sees the end of the stream
// instead of waiting forever.
func handshake(t testing.TB, client, server *crypto.Device, cc, sc [32]byte, ccheck, scheck crypto.Check) (c, s handshakeResult) {
	t.Helper()
	return handshakeSides(t, side{client, cc, nil, ccheck}, side{server, sc, nil, scheck})
}

func handshakeSides(t testing.TB, client, server side) (c, s handshakeResult) {
	t.Helper()
	cconn, sconn := net.Pipe()
	t.Cleanup(func() { cconn.Close(); sconn.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ch, s.err = server.dev.Accept(cryptotest.Rand("server"), sconn, server.community, server.proof, server.check)
		if s.err != nil {
			sconn.Close()
		}
	}()
	c.ch, c.err = client.dev.Dial(cryptotest.Rand("client"), cconn, client.community, client.proof, client.check)
	if c.err != nil {
		cconn.Close()
	}
	wg.Wait()
	return c, s
}

func mustHandshake(t testing.TB, client, server *crypto.Device) (c, s *crypto.Channel) {
	t.Helper()
	cr, sr := handshake(t, client, server, channelCommunity, channelCommunity, allowAll, allowAll)
	if cr.err != nil || sr.err != nil {
		t.Fatalf("handshake: client %v, server %v; want both nil", cr.err, sr.err)
	}
	return cr.ch, sr.ch
}

// exchange writes frames on w in one goroutine and reads as many on r.
func exchange(t *testing.T, w, r *crypto.Channel, frames [][]byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for _, f := range frames {
			if err := w.WriteFrame(f); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i, want := range frames {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("ReadFrame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes %.16x..., want %d bytes %.16x...", i, len(got), got, len(want), want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("WriteFrame: %v", err)
	}
}

func TestChannelHandshakeBothWays(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	for _, tc := range []struct {
		name           string
		client, server *crypto.Device
	}{
		{"alice dials bob", alice, bob},
		{"bob dials alice", bob, alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := mustHandshake(t, tc.client, tc.server)
			if got, want := c.Peer(), tc.server.ID(); got != want {
				t.Errorf("client's Peer: got %s, want %s", got.Short(), want.Short())
			}
			if got, want := s.Peer(), tc.client.ID(); got != want {
				t.Errorf("server's Peer: got %s, want %s", got.Short(), want.Short())
			}
			frames := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{0xab}, 70_000)}
			exchange(t, c, s, frames)
			exchange(t, s, c, frames)
			if c.BytesSent != s.BytesReceived || s.BytesSent != c.BytesReceived {
				t.Errorf("byte counts: client sent %d, server received %d; server sent %d, client received %d; want equal pairs",
					c.BytesSent, s.BytesReceived, s.BytesSent, c.BytesReceived)
			}
			// Frames: 4-byte length and a 16-byte tag each.
			payload := int64(0)
			for _, f := range frames {
				payload += int64(len(f)) + 4 + 16
			}
			if c.BytesSent != payload {
				t.Errorf("client BytesSent: got %d, want %d", c.BytesSent, payload)
			}
			// Handshake: both hellos, both auth frames, the verdict.
			if want := int64(clientHello + serverHello + 2*authFrame + 4 + 1 + 16); c.HandshakeBytes != want || s.HandshakeBytes != want {
				t.Errorf("HandshakeBytes: client %d, server %d, want %d", c.HandshakeBytes, s.HandshakeBytes, want)
			}
		})
	}
}

// Each side's check gets the proof the other sent, opaque bytes.
func TestChannelProofs(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	aproof, bproof := []byte("alice's certificates"), bytes.Repeat([]byte("b"), 100_000)
	var gotA, gotB []byte
	c, s := handshakeSides(t,
		side{alice, channelCommunity, aproof, func(d crypto.DeviceID, p []byte) error { gotB = p; return nil }},
		side{bob, channelCommunity, bproof, func(d crypto.DeviceID, p []byte) error { gotA = p; return nil }})
	if c.err != nil || s.err != nil {
		t.Fatalf("handshake: client %v, server %v", c.err, s.err)
	}
	if !bytes.Equal(gotA, aproof) || !bytes.Equal(s.ch.PeerProof(), aproof) {
		t.Errorf("server got alice's proof %q, want %q", gotA, aproof)
	}
	if !bytes.Equal(gotB, bproof) || !bytes.Equal(c.ch.PeerProof(), bproof) {
		t.Errorf("client got bob's proof of %d bytes, want %d", len(gotB), len(bproof))
	}
	cr, _ := handshakeSides(t, side{alice, channelCommunity, make([]byte, crypto.MaxProof+1), allowAll}, side{bob, channelCommunity, nil, allowAll})
	if !errors.Is(cr.err, crypto.ErrHandshake) {
		t.Errorf("a proof over MaxProof: got %v, want ErrHandshake", cr.err)
	}
}

func TestChannelMaxFrame(t *testing.T) {
	c, s := mustHandshake(t, cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob"))
	exchange(t, c, s, [][]byte{bytes.Repeat([]byte{1}, crypto.MaxFrame)})
	if err := c.WriteFrame(make([]byte, crypto.MaxFrame+1)); err == nil {
		t.Errorf("WriteFrame of MaxFrame+1 bytes: got nil error, want a refusal")
	}
}

// A frame whose length prefix claims more than MaxFrame is refused before
// anything is read or allocated for it.
func TestChannelFrameLengthBound(t *testing.T) {
	for _, n := range []uint32{0, 15, crypto.MaxFrame + 17, 1<<32 - 1} {
		s, _ := serverOverBytes(t, append(clientTranscript(t, nil), binary.BigEndian.AppendUint32(nil, n)...))
		if _, err := s.ReadFrame(); err == nil || !strings.Contains(err.Error(), "out of bounds") {
			t.Errorf("frame length %d: got %v, want out of bounds", n, err)
		}
	}
}

func refusalOf(t *testing.T, who string, err error, reason crypto.RefusalReason, remote bool) *crypto.Refusal {
	t.Helper()
	var r *crypto.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("%s: got %v, want a *Refusal (%s)", who, err, reason)
	}
	if r.Reason != reason || r.Remote != remote {
		t.Errorf("%s: got reason %s remote %v (%v), want %s remote %v", who, r.Reason, r.Remote, err, reason, remote)
	}
	return r
}

// A peer of another community fails at the first encrypted frame, on both
// sides, with a message that says so.
func TestChannelWrongCommunity(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	var asked bool
	ask := func(crypto.DeviceID, []byte) error { asked = true; return nil }
	c, s := handshake(t, alice, bob, otherCommunity, channelCommunity, ask, ask)
	for _, r := range []struct {
		who string
		err error
	}{{"client", c.err}, {"server", s.err}} {
		ref := refusalOf(t, r.who, r.err, crypto.RefusedCommunity, false)
		if !strings.Contains(ref.Error(), "peer is of another community, or this is not a Noroshi sync port") {
			t.Errorf("%s: got %q, want the message about another community", r.who, ref.Error())
		}
		if !errors.Is(r.err, crypto.ErrHandshake) {
			t.Errorf("%s: got %v, want ErrHandshake", r.who, r.err)
		}
	}
	if asked {
		t.Errorf("a check was asked about a peer of another community: its device ID crossed")
	}
}

func TestChannelCheckRefuses(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	revoked := func(crypto.DeviceID, []byte) error {
		return &crypto.Refusal{Reason: crypto.RefusedRevoked, Msg: "device is revoked", Data: []byte("the revocation")}
	}
	t.Run("server refuses client", func(t *testing.T) {
		var asked crypto.DeviceID
		c, s := handshake(t, alice, bob, channelCommunity, channelCommunity, allowAll, func(d crypto.DeviceID, p []byte) error {
			asked = d
			return revoked(d, p)
		})
		if !errors.Is(s.err, crypto.ErrPeer) || !strings.Contains(s.err.Error(), "revoked") {
			t.Errorf("server: got %v, want ErrPeer saying revoked", s.err)
		}
		refusalOf(t, "server", s.err, crypto.RefusedRevoked, false)
		if asked != alice.ID() {
			t.Errorf("server's check was asked about %s, want alice %s", asked.Short(), alice.ID().Short())
		}
		r := refusalOf(t, "client", c.err, crypto.RefusedRevoked, true)
		if !bytes.Equal(r.Data, []byte("the revocation")) || r.Msg != "device is revoked" || !errors.Is(c.err, crypto.ErrPeer) {
			t.Errorf("client: got %q with data %q, want the server's message and data", r.Msg, r.Data)
		}
	})
	t.Run("client refuses server", func(t *testing.T) {
		c, s := handshake(t, alice, bob, channelCommunity, channelCommunity, func(crypto.DeviceID, []byte) error {
			return errors.New("not a member")
		}, allowAll)
		refusalOf(t, "client", c.err, crypto.RefusedOther, false)
		r := refusalOf(t, "server", s.err, crypto.RefusedOther, true)
		if r.Msg != "not a member" {
			t.Errorf("server: got message %q, want the client's", r.Msg)
		}
	})
}

// Refusal messages are printed: a peer cannot put control characters in
// them.
func TestChannelRefusalMessageIsOneLine(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	c, _ := handshake(t, alice, bob, channelCommunity, channelCommunity, allowAll, func(crypto.DeviceID, []byte) error {
		return errors.New("line one\n\x1b[31mred\xff")
	})
	r := refusalOf(t, "client", c.err, crypto.RefusedOther, true)
	if strings.ContainsAny(r.Msg, "\n\x1b") || !strings.Contains(r.Msg, "red") {
		t.Errorf("got message %q, want one printable line", r.Msg)
	}
}

// Programs of different channel versions, and things that are not Noroshi
// at all, are told apart, and the older side is told to upgrade.
func TestChannelVersions(t *testing.T) {
	bob := cryptotest.Device(t, "bob")
	t.Run("old client", func(t *testing.T) {
		cconn, sconn := net.Pipe()
		defer cconn.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := bob.Accept(serverRand(), sconn, channelCommunity, nil, allowAll)
			sconn.Close()
			errc <- err
		}()
		go cconn.Write(append([]byte{1}, make([]byte, 128)...)) // a version 1 hello
		reply, _ := io.ReadAll(cconn)
		// A version 1 client reads 193 bytes and checks the first.
		if len(reply) != 193 || reply[0] != 2 {
			t.Errorf("reply to a version 1 client: %d bytes starting %x, want 193 starting 02", len(reply), reply[:min(1, len(reply))])
		}
		r := refusalOf(t, "server", <-errc, crypto.RefusedVersion, false)
		if !strings.Contains(r.Msg, "upgrade") {
			t.Errorf("got %q, want it to say upgrade", r.Msg)
		}
	})
	dial := func(t *testing.T, serve func(net.Conn)) error {
		cconn, sconn := net.Pipe()
		defer cconn.Close()
		go func() { serve(sconn); sconn.Close() }()
		_, err := cryptotest.Device(t, "alice").Dial(cryptotest.Rand("client"), cconn, channelCommunity, nil, allowAll)
		return err
	}
	t.Run("old server", func(t *testing.T) {
		// A version 1 server reads a hello's worth and hangs up.
		err := dial(t, func(c net.Conn) { io.ReadFull(c, make([]byte, 129)) })
		if r := refusalOf(t, "client", err, crypto.RefusedVersion, false); !strings.Contains(r.Msg, "older Noroshi") {
			t.Errorf("got %q, want it to name an older Noroshi", r.Msg)
		}
	})
	t.Run("not Noroshi", func(t *testing.T) {
		err := dial(t, func(c net.Conn) {
			go io.Copy(io.Discard, c)
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		})
		if r := refusalOf(t, "client", err, crypto.RefusedCommunity, false); !strings.Contains(r.Msg, "not a Noroshi sync port") {
			t.Errorf("got %q", r.Msg)
		}
	})
}

// clientTranscript returns what alice, dialling with deterministic
// randomness, sends to a server (bob, replayable, also deterministic) during
// the handshake, followed by the frames given, sealed.
func clientTranscript(t testing.TB, frames [][]byte) []byte {
	t.Helper()
	c, _ := recordSession(t, frames)
	return c
}

// recordSession records both directions of a session of alice (client)
// with bob (server), both with deterministic randomness.
func recordSession(t testing.TB, frames [][]byte) (client, server []byte) {
	t.Helper()
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	cconn, sconn := net.Pipe()
	crec, srec := &recordingConn{Conn: cconn}, &recordingConn{Conn: sconn}
	done := make(chan error, 1)
	go func() {
		s, err := bob.AcceptReplayable(cryptotest.Rand("server"), srec, channelCommunity, nil, allowAll)
		if err == nil {
			for range frames {
				if _, err = s.ReadFrame(); err != nil {
					break
				}
			}
		}
		sconn.Close()
		done <- err
	}()
	c, err := alice.Dial(cryptotest.Rand("client"), crec, channelCommunity, nil, allowAll)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	for _, f := range frames {
		if err := c.WriteFrame(f); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	cconn.Close()
	return crec.bytes(), srec.bytes()
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recordingConn) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// bytesConn is a net.Conn that reads from a fixed byte string and throws
// away what is written.
type bytesConn struct{ r *bytes.Reader }

func newBytesConn(b []byte) bytesConn { return bytesConn{bytes.NewReader(b)} }

func (c bytesConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c bytesConn) Close() error                     { return nil }
func (c bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c bytesConn) SetDeadline(time.Time) error      { return nil }
func (c bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c bytesConn) SetWriteDeadline(time.Time) error { return nil }

func serverRand() io.Reader           { return cryptotest.Rand("server") }
func bob(t testing.TB) *crypto.Device { return cryptotest.Device(t, "bob") }

// acceptBytes runs bob's side of the handshake, with the randomness a
// recorded client transcript expects, on a connection that delivers b.
func acceptBytes(t testing.TB, b []byte) (*crypto.Channel, error) {
	return bob(t).AcceptReplayable(serverRand(), newBytesConn(b), channelCommunity, nil, allowAll)
}

// serverOverBytes runs bob's side of the handshake on a connection that
// delivers b, and fails the test unless the handshake completes.
func serverOverBytes(t testing.TB, b []byte) (*crypto.Channel, error) {
	t.Helper()
	s, err := acceptBytes(t, b)
	if err != nil {
		t.Fatalf("Accept over a recorded transcript: %v", err)
	}
	return s, nil
}

// The handshake is deterministic given both sides' randomness (the
// server's ML-KEM encapsulation included, through AcceptReplayable), so a
// recorded client transcript replays against a server with the same
// randomness; with fresh server randomness (every real server, whose
// encapsulation draws from crypto/rand) the same bytes are refused.
func TestChannelRecordedSession(t *testing.T) {
	frames := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	rec := clientTranscript(t, frames)
	s, _ := serverOverBytes(t, rec)
	for i, want := range frames {
		got, err := s.ReadFrame()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := s.ReadFrame(); err != io.EOF {
		t.Errorf("after the last frame: got %v, want io.EOF", err)
	}
	_, err := bob(t).AcceptReplayable(cryptotest.Rand("another server"), newBytesConn(rec), channelCommunity, nil, allowAll)
	if !errors.Is(err, crypto.ErrHandshake) {
		t.Errorf("recorded session replayed to a fresh server: got %v, want ErrHandshake", err)
	}
	_, err = bob(t).Accept(serverRand(), newBytesConn(rec), channelCommunity, nil, allowAll)
	if !errors.Is(err, crypto.ErrHandshake) {
		t.Errorf("recorded session replayed to a real server with the same rand: got %v, want ErrHandshake", err)
	}
}

// Frames in a recorded client stream, after the handshake.
func splitFrames(t testing.TB, b []byte) (handshake []byte, frames [][]byte) {
	t.Helper()
	const hs = clientHello + authFrame
	handshake, b = b[:hs], b[hs:]
	for len(b) > 0 {
		n := binary.BigEndian.Uint32(b)
		frames = append(frames, b[:4+n])
		b = b[4+n:]
	}
	return handshake, frames
}

func TestChannelTamperedFrames(t *testing.T) {
	rec := clientTranscript(t, [][]byte{[]byte("first frame"), []byte("second frame"), []byte("third frame")})
	hs, fr := splitFrames(t, rec)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(f []byte, i int) []byte {
		f = bytes.Clone(f)
		f[i] ^= 1
		return f
	}
	for _, tc := range []struct {
		name   string
		stream []byte
		good   int // frames that read before the failure
	}{
		{"untouched", join(fr...), 3},
		{"flipped ciphertext", join(fr[0], flip(fr[1], 6), fr[2]), 1},
		{"flipped tag", join(flip(fr[0], len(fr[0])-1), fr[1]), 0},
		{"replayed frame", join(fr[0], fr[0], fr[1]), 1},
		{"reordered frames", join(fr[1], fr[0], fr[2]), 0},
		{"dropped frame", join(fr[0], fr[2]), 1},
		{"truncated frame", join(fr[0], fr[1][:len(fr[1])-3]), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := serverOverBytes(t, join(hs, tc.stream))
			for i := 0; i < tc.good; i++ {
				if _, err := s.ReadFrame(); err != nil {
					t.Fatalf("frame %d: %v, want it read", i, err)
				}
			}
			if tc.good == 3 {
				return
			}
			if p, err := s.ReadFrame(); err == nil {
				t.Errorf("frame %d: got %q, want an error", tc.good, p)
			}
			// The stream stays broken: nothing after a bad frame reads.
			if p, err := s.ReadFrame(); err == nil {
				t.Errorf("frame after a bad one: got %q, want an error", p)
			}
		})
	}
}

func TestChannelHandshakeTampered(t *testing.T) {
	rec := clientTranscript(t, nil)
	for _, tc := range []struct {
		name string
		at   int
	}{
		{"version", 0},
		{"ephemeral", 1},
		{"encapsulation key", 33},
		{"nonce", 33 + mlkem.EncapsulationKeySize768},
		{"auth frame length", clientHello + 2},
		{"auth frame", clientHello + 20},
		{"auth frame tag", len(rec) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(rec)
			b[tc.at] ^= 0x80
			if _, err := acceptBytes(t, b); !errors.Is(err, crypto.ErrHandshake) {
				t.Errorf("got %v, want ErrHandshake", err)
			}
		})
	}
	for n := 0; n < len(rec); n += 37 {
		if _, err := acceptBytes(t, rec[:n]); !errors.Is(err, crypto.ErrHandshake) {
			t.Errorf("handshake cut at %d bytes: got %v, want ErrHandshake", n, err)
		}
	}
}

// rawClient runs the client side of the handshake as the doc comment of
// crypto/channel.go describes it, written again from that description, up
// to the point where it sends its auth frame: it lets a test send what a
// real client never would.
type rawClient struct {
	conn      net.Conn
	community [32]byte
	th        [32]byte
	c2s, s2c  []byte
	server    crypto.DeviceID
}

func dialRaw(t *testing.T, conn net.Conn, community [32]byte) *rawClient {
	t.Helper()
	rand := cryptotest.Rand("raw client")
	seed := make([]byte, 32+mlkem.SeedSize+32)
	io.ReadFull(rand, seed)
	eph, err := ecdh.X25519().NewPrivateKey(seed[:32])
	if err != nil {
		t.Fatal(err)
	}
	dk, err := mlkem.NewDecapsulationKey768(seed[32 : 32+mlkem.SeedSize])
	if err != nil {
		t.Fatal(err)
	}
	m1 := append([]byte{2}, eph.PublicKey().Bytes()...)
	m1 = append(append(m1, dk.EncapsulationKey().Bytes()...), seed[32+mlkem.SeedSize:]...)
	if _, err := conn.Write(m1); err != nil {
		t.Fatal(err)
	}
	m2 := make([]byte, serverHello)
	if _, err := io.ReadFull(conn, m2); err != nil {
		t.Fatal(err)
	}
	kem, err := dk.Decapsulate(m2[33 : 33+mlkem.CiphertextSize768])
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ecdh.X25519().NewPublicKey(m2[1:33])
	x, err := eph.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawClient{conn: conn, community: community, th: sha256.Sum256(append(m1, m2...))}
	prk, _ := hkdf.Extract(sha256.New, append(kem, x...), append([]byte("noroshi/channel/v2"), community[:]...))
	r.c2s, _ = hkdf.Expand(sha256.New, prk, "noroshi/channel/v2 c2s"+string(r.th[:]), 32)
	r.s2c, _ = hkdf.Expand(sha256.New, prk, "noroshi/channel/v2 s2c"+string(r.th[:]), 32)
	// The server's auth frame: kind 1 || device || signature.
	var lb [4]byte
	io.ReadFull(conn, lb[:])
	sealed := make([]byte, binary.BigEndian.Uint32(lb[:]))
	io.ReadFull(conn, sealed)
	aead, _ := chacha20poly1305.New(r.s2c)
	auth, err := aead.Open(nil, make([]byte, 12), sealed, nil)
	if err != nil {
		t.Fatalf("server's auth frame does not open with keys derived from the description: %v", err)
	}
	if auth[0] != 1 || len(auth) != 1+32+64 {
		t.Fatalf("server's auth frame: kind %d, %d bytes", auth[0], len(auth))
	}
	copy(r.server[:], auth[1:33])
	signed := append([]byte("noroshi/channel/v2 server"), community[:]...)
	signed = append(append(signed, r.th[:]...), r.server[:]...)
	if !crypto.VerifyBytes(r.server, signed, auth[33:97]) {
		t.Fatalf("server's signature does not verify over the described message")
	}
	return r
}

// sendAuth sends an auth frame naming device, with signature sig.
func (r *rawClient) sendAuth(t *testing.T, device crypto.DeviceID, sig []byte) {
	aead, _ := chacha20poly1305.New(r.c2s)
	p := append(append([]byte{1}, device[:]...), sig...)
	sealed := aead.Seal(nil, make([]byte, 12), p, nil)
	if _, err := r.conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(sealed))), sealed...)); err != nil {
		t.Fatal(err)
	}
}

func (r *rawClient) clientSigned(client crypto.DeviceID) []byte {
	b := append([]byte("noroshi/channel/v2 client"), r.community[:]...)
	b = append(append(b, r.th[:]...), client[:]...)
	return append(b, r.server[:]...)
}

// A client that claims another device's ID cannot sign for it; one that
// signs as itself, following the description, is admitted.
func TestChannelImpersonation(t *testing.T) {
	alice, mallory := cryptotest.Device(t, "alice"), cryptotest.Device(t, "mallory")
	for _, tc := range []struct {
		name   string
		claim  crypto.DeviceID
		signer *crypto.Device
		ok     bool
	}{
		{"mallory signs as alice", alice.ID(), mallory, false},
		{"mallory signs as mallory", mallory.ID(), mallory, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cconn, sconn := net.Pipe()
			defer cconn.Close()
			errc := make(chan error, 1)
			go func() {
				_, err := bob(t).Accept(serverRand(), sconn, channelCommunity, nil, allowAll)
				sconn.Close()
				errc <- err
			}()
			r := dialRaw(t, cconn, channelCommunity)
			r.sendAuth(t, tc.claim, tc.signer.SignBytes(r.clientSigned(tc.claim)))
			go io.Copy(io.Discard, cconn)
			err := <-errc
			if tc.ok && err != nil {
				t.Errorf("Accept: got %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, crypto.ErrHandshake) {
				t.Errorf("Accept: got %v, want ErrHandshake", err)
			}
		})
	}
}

// TestThreatRecorderLearnsNothingBeforeKeyExchange: a recorder on the
// venue LAN sees neither the community ID nor either device ID, in clear,
// anywhere in a session (the hellos, before the key exchange, hold only
// version, ephemeral keys, KEM data and nonces); and the key agreement
// holds an ML-KEM-768 exchange, so breaking X25519 later is not enough.
func TestThreatRecorderLearnsNothingBeforeKeyExchange(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	crec, srec := recordSession(t, [][]byte{[]byte("a frame")})
	aid, bid := alice.ID(), bob.ID()
	for _, dir := range []struct {
		name string
		b    []byte
	}{{"client to server", crec}, {"server to client", srec}} {
		for _, secret := range []struct {
			name string
			b    []byte
		}{{"community ID", channelCommunity[:]}, {"alice's device ID", aid[:]}, {"bob's device ID", bid[:]}} {
			// Any 8 bytes of it would do to recognise it.
			for i := 0; i+8 <= len(secret.b); i += 8 {
				if bytes.Contains(dir.b, secret.b[i:i+8]) {
					t.Errorf("%s: the %s travels in clear (bytes %d-%d found)", dir.name, secret.name, i, i+8)
					break
				}
			}
		}
	}
	// Before the key exchange: exactly the two hellos.
	if len(crec) < clientHello || len(srec) < serverHello {
		t.Fatalf("recorded %d and %d bytes, want at least the hellos", len(crec), len(srec))
	}
	hello := crec[:clientHello]
	ek := hello[33 : 33+mlkem.EncapsulationKeySize768]
	if _, err := mlkem.NewEncapsulationKey768(ek); err != nil {
		t.Errorf("client hello: no ML-KEM-768 encapsulation key where the description puts it: %v", err)
	}
}

// FuzzChannelHandshake feeds the server side of the handshake arbitrary
// client bytes. It must never panic, and fail only with ErrHandshake or
// ErrPeer; when the handshake completes (the corpus holds a real recorded
// client, which a replayable server with the same randomness accepts), the
// frames after it are read until the first error.
func FuzzChannelHandshake(f *testing.F) {
	f.Add(clientTranscript(f, nil))
	f.Add(clientTranscript(f, [][]byte{[]byte("hello"), {}}))
	f.Add([]byte{1})
	f.Add([]byte{2})
	f.Add(make([]byte, clientHello))
	b := bob(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := b.AcceptReplayable(serverRand(), newBytesConn(data), channelCommunity, nil, allowAll)
		if err != nil {
			if !errors.Is(err, crypto.ErrHandshake) && !errors.Is(err, crypto.ErrPeer) {
				t.Fatalf("Accept: got %v, want ErrHandshake or ErrPeer", err)
			}
			return
		}
		readAll(t, s)
	})
}

// FuzzHandshakeFrame feeds the decoder of the encrypted handshake frames
// (auth, ok, refusal) arbitrary plaintexts: frames a peer of the same
// community may send. It must never panic, and what it returns must hold
// its bounds.
func FuzzHandshakeFrame(f *testing.F) {
	f.Add(append(append([]byte{1}, make([]byte, 96)...), "proof"...))
	f.Add([]byte{2})
	f.Add([]byte{3, 4, 0, 3, 'a', 'b', 'c', 'd', 'a', 't', 'a'})
	f.Add([]byte{3, 9, 0xff, 0xff})
	f.Add([]byte{3, 1, 0, 2, '\n', 0x1b})
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, proof, r, err := crypto.ParseHandshake(data)
		if err != nil {
			if !errors.Is(err, crypto.ErrHandshake) {
				t.Fatalf("got %v, want ErrHandshake", err)
			}
			return
		}
		switch kind {
		case 1:
			if len(proof) != len(data)-97 || len(proof) > crypto.MaxProof {
				t.Fatalf("auth frame of %d bytes: proof of %d", len(data), len(proof))
			}
		case 2:
			if len(data) != 1 {
				t.Fatalf("ok frame of %d bytes accepted", len(data))
			}
		case 3:
			if r == nil || !r.Remote || len(r.Data) > crypto.MaxProof || len(r.Msg) > 3*1024 || strings.ContainsAny(r.Msg, "\n\r\x1b\x00") {
				t.Fatalf("refusal %+v out of bounds", r)
			}
			if r.Reason.String() == "" {
				t.Fatalf("reason %d has no name", r.Reason)
			}
		default:
			t.Fatalf("kind %d accepted", kind)
		}
	})
}

func readAll(t *testing.T, s *crypto.Channel) {
	for i := 0; ; i++ {
		p, err := s.ReadFrame()
		if err != nil {
			return
		}
		if len(p) > crypto.MaxFrame {
			t.Fatalf("frame %d of %d bytes, more than MaxFrame", i, len(p))
		}
	}
}

// FuzzReadFrame feeds arbitrary bytes to ReadFrame on an established
// channel. It must never panic nor return more than MaxFrame bytes.
func FuzzReadFrame(f *testing.F) {
	rec := clientTranscript(f, [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 300)})
	hs, frames := splitFrames(f, rec)
	f.Add(bytes.Join(frames, nil))
	f.Add(frames[1])
	f.Add([]byte{0, 0, 0, 16})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	b := bob(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := b.AcceptReplayable(serverRand(), newBytesConn(append(bytes.Clone(hs), data...)), channelCommunity, nil, allowAll)
		if err != nil {
			t.Fatalf("Accept over a recorded handshake: %v", err)
		}
		readAll(t, s)
	})
}

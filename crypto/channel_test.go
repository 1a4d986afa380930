package crypto_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
)

var (
	channelCommunity = [32]byte{'g', 'a', 'm', 'e', 's'}
	otherCommunity   = [32]byte{'o', 't', 'h', 'e', 'r'}
)

func allowAll(crypto.DeviceID) error { return nil }

// handshake runs Dial on one end of a pipe and Accept on the other, both
// with the community given, and returns both results. Each side closes its
// end when its handshake fails, as a real caller does, so that the other
// side sees the end of the stream instead of waiting forever.
type handshakeResult struct {
	ch  *crypto.Channel
	err error
}

func handshake(t testing.TB, client, server *crypto.Device, cc, sc [32]byte, ccheck, scheck func(crypto.DeviceID) error) (c, s handshakeResult) {
	t.Helper()
	cconn, sconn := net.Pipe()
	t.Cleanup(func() { cconn.Close(); sconn.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ch, s.err = server.Accept(cryptotest.Rand("server"), sconn, sc, scheck)
		if s.err != nil {
			sconn.Close()
		}
	}()
	c.ch, c.err = client.Dial(cryptotest.Rand("client"), cconn, cc, ccheck)
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
			// Handshake: hello + signature each way; frames: 4-byte
			// length and a 16-byte tag each.
			payload := int64(0)
			for _, f := range frames {
				payload += int64(len(f)) + 4 + 16
			}
			if want := int64(1+32*4+64) + payload; c.BytesSent != want {
				t.Errorf("client BytesSent: got %d, want %d", c.BytesSent, want)
			}
		})
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

func TestChannelWrongCommunity(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	c, s := handshake(t, alice, bob, otherCommunity, channelCommunity, allowAll, allowAll)
	if !errors.Is(s.err, crypto.ErrPeer) {
		t.Errorf("server: got %v, want ErrPeer", s.err)
	}
	if c.err == nil {
		t.Errorf("client: got a channel to a server of another community, want an error")
	}
}

func TestChannelCheckRefuses(t *testing.T) {
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	refuse := func(crypto.DeviceID) error { return errors.New("revoked") }
	t.Run("server refuses client", func(t *testing.T) {
		var asked crypto.DeviceID
		c, s := handshake(t, alice, bob, channelCommunity, channelCommunity, allowAll, func(d crypto.DeviceID) error {
			asked = d
			return refuse(d)
		})
		if !errors.Is(s.err, crypto.ErrPeer) || !strings.Contains(s.err.Error(), "revoked") {
			t.Errorf("server: got %v, want ErrPeer saying revoked", s.err)
		}
		if asked != alice.ID() {
			t.Errorf("server's check was asked about %s, want alice %s", asked.Short(), alice.ID().Short())
		}
		if c.err == nil {
			t.Errorf("client: got a channel, want an error")
		}
	})
	t.Run("client refuses server", func(t *testing.T) {
		c, s := handshake(t, alice, bob, channelCommunity, channelCommunity, refuse, allowAll)
		if !errors.Is(c.err, crypto.ErrPeer) {
			t.Errorf("client: got %v, want ErrPeer", c.err)
		}
		if !errors.Is(s.err, crypto.ErrHandshake) {
			t.Errorf("server: got %v, want ErrHandshake (no client signature)", s.err)
		}
	})
}

// clientTranscript returns what alice, dialling with deterministic
// randomness, sends to a server (bob, also deterministic) during the
// handshake, followed by the frames given, sealed.
func clientTranscript(t testing.TB, frames [][]byte) []byte {
	t.Helper()
	alice, bob := cryptotest.Device(t, "alice"), cryptotest.Device(t, "bob")
	cconn, sconn := net.Pipe()
	rec := &recordingConn{Conn: cconn}
	done := make(chan error, 1)
	go func() {
		s, err := bob.Accept(cryptotest.Rand("server"), sconn, channelCommunity, allowAll)
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
	c, err := alice.Dial(cryptotest.Rand("client"), rec, channelCommunity, allowAll)
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
	return rec.buf.Bytes()
}

type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.buf.Write(p)
	return r.Conn.Write(p)
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
	return bob(t).Accept(serverRand(), newBytesConn(b), channelCommunity, allowAll)
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

// The handshake is deterministic given both sides' randomness, so a recorded
// client transcript replays against a server with the same randomness; with
// fresh server randomness (every real server) the same bytes are refused.
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
	_, err := bob(t).Accept(cryptotest.Rand("another server"), newBytesConn(rec), channelCommunity, allowAll)
	if !errors.Is(err, crypto.ErrHandshake) {
		t.Errorf("recorded session replayed to a fresh server: got %v, want ErrHandshake", err)
	}
}

// Frames in a recorded stream, after the handshake.
func splitFrames(t testing.TB, b []byte) (handshake []byte, frames [][]byte) {
	t.Helper()
	const hs = 1 + 32*4 + 64
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
	const hello = 1 + 32*4
	for _, tc := range []struct {
		name string
		at   int
		want error
	}{
		{"version", 0, crypto.ErrHandshake},
		{"community", 1, crypto.ErrPeer},
		{"device", 33, crypto.ErrHandshake},    // the signature no longer verifies
		{"ephemeral", 65, crypto.ErrHandshake}, // idem
		{"nonce", 97, crypto.ErrHandshake},     // idem
		{"signature", hello + 3, crypto.ErrHandshake},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(rec)
			b[tc.at] ^= 0x80
			if _, err := acceptBytes(t, b); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	for n := 0; n < len(rec); n += 37 {
		if _, err := acceptBytes(t, rec[:n]); !errors.Is(err, crypto.ErrHandshake) {
			t.Errorf("handshake cut at %d bytes: got %v, want ErrHandshake", n, err)
		}
	}
}

// A client that claims another device's ID cannot sign for it.
func TestChannelImpersonation(t *testing.T) {
	alice, mallory := cryptotest.Device(t, "alice"), cryptotest.Device(t, "mallory")
	cconn, sconn := net.Pipe()
	defer cconn.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := bob(t).Accept(serverRand(), sconn, channelCommunity, allowAll)
		sconn.Close()
		errc <- err
	}()
	// Mallory's hello names alice; the signature is mallory's.
	hello := append([]byte{1}, channelCommunity[:]...)
	id := alice.ID()
	hello = append(hello, id[:]...)
	hello = append(hello, bytes.Repeat([]byte{9}, 64)...) // ephemeral and nonce
	hello[65] = 9
	if _, err := cconn.Write(hello); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, len(hello)+64)
	if _, err := io.ReadFull(cconn, reply); err != nil {
		t.Fatal(err)
	}
	tr := append(bytes.Clone(hello), reply[:len(hello)]...)
	if _, err := cconn.Write(mallory.SignBytes(append([]byte("noroshi/channel/v1 client"), tr...))); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, crypto.ErrHandshake) {
		t.Errorf("Accept: got %v, want ErrHandshake", err)
	}
}

// FuzzChannelHandshake feeds the server side of the handshake arbitrary
// client bytes. It must never panic; when the handshake completes (the
// corpus holds a real recorded client, which a server with the same
// randomness accepts), the frames after it are read until the first error.
func FuzzChannelHandshake(f *testing.F) {
	f.Add(clientTranscript(f, nil))
	f.Add(clientTranscript(f, [][]byte{[]byte("hello"), {}}))
	f.Add([]byte{1})
	f.Add(make([]byte, 1+32*4))
	b := bob(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := b.Accept(serverRand(), newBytesConn(data), channelCommunity, allowAll)
		if err != nil {
			if !errors.Is(err, crypto.ErrHandshake) && !errors.Is(err, crypto.ErrPeer) {
				t.Fatalf("Accept: got %v, want ErrHandshake or ErrPeer", err)
			}
			return
		}
		readAll(t, s)
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
		s, err := b.Accept(serverRand(), newBytesConn(append(bytes.Clone(hs), data...)), channelCommunity, allowAll)
		if err != nil {
			t.Fatalf("Accept over a recorded handshake: %v", err)
		}
		readAll(t, s)
	})
}

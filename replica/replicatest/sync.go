package replicatest

import (
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Replica is one device of a community with a store of its own, on a real
// bbolt file that outlives Restart. Its store is closed when the test ends.
type Replica struct {
	tb    testing.TB
	Dev   *Device
	Cfg   replica.Config
	Store *replica.Store
}

// Members returns n new devices of c, called prefix 0, prefix 1..., spread
// over three organisations, and the founder's memberships that admit them
// with role, in order.
func (c *Community) Members(prefix string, n int, role crypto.Role) ([]*Device, []*envelope.Envelope) {
	c.tb.Helper()
	devs := make([]*Device, n)
	certs := make([]*envelope.Envelope, n)
	for i := range devs {
		devs[i], certs[i] = c.Join(fmt.Sprintf("%s %d", prefix, i), fmt.Sprintf("org %d", i%3), role)
	}
	return devs, certs
}

// NewReplica opens a store for d in a temp dir and adds base to it (every
// envelope must be admitted). The store's clock is stopped at Start.
func NewReplica(tb testing.TB, d *Device, base ...*envelope.Envelope) *Replica {
	tb.Helper()
	cfg := Config(tb, d.ID(), nil)
	return OpenReplica(tb, d, cfg, base...)
}

// OpenReplica opens a store for d with cfg and adds base to it.
func OpenReplica(tb testing.TB, d *Device, cfg replica.Config, base ...*envelope.Envelope) *Replica {
	tb.Helper()
	r := &Replica{tb: tb, Dev: d, Cfg: cfg}
	st, err := replica.Open(cfg)
	if err != nil {
		tb.Fatalf("Open %s's store: %v", d.Name, err)
	}
	r.Store = st
	tb.Cleanup(func() {
		if r.Store != nil {
			r.Store.Close()
		}
	})
	if len(base) > 0 {
		MustAdmit(tb, st, base...)
	}
	return r
}

// Close closes the store; Reopen opens it again from its file.
func (r *Replica) Close() {
	r.tb.Helper()
	if r.Store == nil {
		return
	}
	if err := r.Store.Close(); err != nil {
		r.tb.Errorf("close %s's store: %v", r.Dev.Name, err)
	}
	r.Store = nil
}

// Reopen opens the store again from its file, after Close.
func (r *Replica) Reopen() {
	r.tb.Helper()
	if r.Store != nil {
		r.tb.Fatalf("Reopen of %s's store while it is open", r.Dev.Name)
	}
	st, err := replica.Open(r.Cfg)
	if err != nil {
		r.tb.Fatalf("reopen %s's store: %v", r.Dev.Name, err)
	}
	r.Store = st
}

// Restart closes the store and opens it again from its file, as a process
// that crashed and started again would.
func (r *Replica) Restart() {
	r.tb.Helper()
	r.Close()
	r.Reopen()
}

// Write seals text to the community key as the device's next envelope and
// adds it to its own store.
func (r *Replica) Write(text string) *envelope.Envelope {
	r.tb.Helper()
	e := r.Dev.Post(text)
	MustAdmit(r.tb, r.Store, e)
	return e
}

// TransportKey returns the community's memberlist key for tests.
func (c *Community) TransportKey() []byte {
	b := make([]byte, 32)
	if _, err := cryptotest.Rand(c.Name + "/transport").Read(b); err != nil {
		c.tb.Fatal(err)
	}
	return b
}

// SyncResult is what one sync between two stores did.
type SyncResult struct {
	I, R       replica.SyncStats // the initiator's and the responder's
	IErr, RErr error
	// Bytes counts every byte on the wire after the channel handshake,
	// both ways; HandshakeBytes the handshake's (hybrid key exchange,
	// device authentication), a fixed cost per connection.
	Bytes, HandshakeBytes int64
}

// Err returns the first error of either side.
func (r SyncResult) Err() error { return errors.Join(r.IErr, r.RErr) }

// Sync runs one anti-entropy round between a (initiator) and b (responder)
// over a real crypto.Channel on net.Pipe, and fails the test on an error.
func Sync(tb testing.TB, a, b *Replica) SyncResult {
	tb.Helper()
	res := SyncOver(tb, a, b, nil)
	if err := res.Err(); err != nil {
		tb.Fatalf("sync %s -> %s: %v", a.Dev.Name, b.Dev.Name, err)
	}
	return res
}

// Checker admits a stream peer as a Node does for members it knows: a
// member, not revoked. (It ignores the peer's membership proof.)
func Checker(st *replica.Store) crypto.Check {
	return func(d crypto.DeviceID, _ []byte) error {
		t := st.Trust()
		if _, ok := t.Member(d); !ok {
			return fmt.Errorf("device %s is not a member", d.Short())
		}
		if _, revoked := t.Revoked(d); revoked {
			return fmt.Errorf("device %s is revoked", d.Short())
		}
		return nil
	}
}

// SyncOver is Sync with the initiator's frames passed through wrap (nil: as
// they are), and errors returned, not fatal: wrap may cut the stream. When
// one side fails, its end of the pipe is closed, so the other side fails
// too instead of waiting.
func SyncOver(tb testing.TB, a, b *Replica, wrap func(replica.Frames) replica.Frames) SyncResult {
	tb.Helper()
	ca, cb := net.Pipe()
	deadline := time.Now().Add(2 * time.Minute)
	ca.SetDeadline(deadline)
	cb.SetDeadline(deadline)
	var res SyncResult
	var rBytes int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cb.Close()
		ch, err := b.Dev.Dev.Accept(cryptorand.Reader, cb, b.Store.Community(), nil, Checker(b.Store))
		if err != nil {
			res.RErr = err
			return
		}
		res.R, res.RErr = b.Store.SyncRespond(ch, ch.Peer())
		rBytes = ch.BytesSent
	}()
	func() {
		defer ca.Close()
		ch, err := a.Dev.Dev.Dial(cryptorand.Reader, ca, a.Store.Community(), nil, Checker(a.Store))
		if err != nil {
			res.IErr = err
			return
		}
		var f replica.Frames = ch
		if wrap != nil {
			f = wrap(ch)
		}
		res.I, res.IErr = a.Store.SyncInitiate(f, ch.Peer())
		res.Bytes = ch.BytesSent
		res.HandshakeBytes = ch.HandshakeBytes
	}()
	wg.Wait()
	res.Bytes += rBytes
	return res
}

// CutAfter returns frames that fail, as a broken connection does, after n
// frames were written or read.
func CutAfter(f replica.Frames, n int) replica.Frames { return &cutFrames{f: f, left: n} }

type cutFrames struct {
	f    replica.Frames
	left int
}

var errCut = errors.New("replicatest: connection cut")

func (c *cutFrames) WriteFrame(b []byte) error {
	if c.left <= 0 {
		return errCut
	}
	c.left--
	return c.f.WriteFrame(b)
}

func (c *cutFrames) ReadFrame() ([]byte, error) {
	if c.left <= 0 {
		return nil, errCut
	}
	c.left--
	return c.f.ReadFrame()
}

// IDs returns the header IDs stored in st, as a set.
func IDs(tb testing.TB, st *replica.Store) map[envelope.Hash]bool {
	tb.Helper()
	out := map[envelope.Hash]bool{}
	for _, e := range Since(tb, st) {
		out[e.ID()] = true
	}
	return out
}

// Encoded returns the sum of the encoded sizes of envs, as they travel.
func Encoded(tb testing.TB, envs ...*envelope.Envelope) int {
	tb.Helper()
	n := 0
	for _, e := range envs {
		b, err := e.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		n += len(b)
	}
	return n
}

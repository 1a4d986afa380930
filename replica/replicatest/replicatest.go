// Package replicatest builds small communities in memory and opens stores on
// real bbolt files in temp dirs, for tests of package replica and of the
// packages above it.
//
// Everything is deterministic but the age ciphertexts (age draws file keys
// from crypto/rand): device keys derive from names, header clocks are
// explicit HLC values counted from a fixed start time, and stores read a
// Clock that moves only when a test moves it.
//
// It is for tests only and must never be imported by production code; the
// one exception is noroshi/app/bench (`noroshi bench`), whose communities
// are thrown away after each measurement.
package replicatest

import (
	"crypto/sha256"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Start is the wall time a community is built at; stores made by Config read
// a Clock set to it.
var Start = time.Date(2026, 7, 24, 9, 0, 0, 0, time.UTC)

// Clock is a wall clock that moves only when told to. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Community is a community built in memory: a founding coordinator whose
// first envelope is the genesis, and a community group key that posts are
// sealed to. Its methods are safe for concurrent use; a Device's are not.
type Community struct {
	tb      testing.TB
	Name    string
	Founder *Device
	Genesis *envelope.Envelope
	ID      envelope.Hash // the genesis header ID
	Key     crypto.GroupKey
	ticks   atomic.Uint64
}

// Device is one device of a community, a member or not yet. It writes its own
// chain: Pos is where its next envelope goes (tests may set it, to fork a
// chain). A Device must be used by one goroutine at a time.
type Device struct {
	c      *Community
	Name   string
	Dev    *crypto.Device
	Person crypto.ID16
	Org    crypto.ID16
	Pos    crypto.Position
	// Chain holds the IDs of the envelopes d built, by sequence - 1.
	Chain []envelope.Hash
	rand  io.Reader
}

// New founds a community called name: its founder (a coordinator of the
// organisation "centre") has signed the genesis at Position{Seq: 1}. Device
// keys derive from the community's name and the device's, so two
// communities with different names share no device.
func New(tb testing.TB, name string) *Community {
	tb.Helper()
	c := &Community{tb: tb, Name: name}
	key, err := crypto.NewGroupKey(cryptotest.Rand(name + "/community-key"))
	if err != nil {
		tb.Fatal(err)
	}
	c.Key = key
	c.Founder = c.Device("founder", "centre")
	g := &crypto.Certificate{Genesis: &crypto.Genesis{
		Nonce:   id16(name + "/genesis"),
		Founder: c.Founder.Membership(crypto.RoleCoordinator),
	}}
	c.Genesis = c.Founder.Cert(g)
	c.ID = c.Genesis.ID()
	return c
}

// Clock returns a new header clock: Start, then one HLC tick more at every
// call, so that clocks increase in the order envelopes are built.
func (c *Community) Clock() uint64 {
	return replica.FromTime(Start) + c.ticks.Add(1)
}

// Device returns a new device of the organisation org, not yet a member.
func (c *Community) Device(name, org string) *Device {
	c.tb.Helper()
	dev := cryptotest.Device(c.tb, c.Name+"/"+name)
	return &Device{
		c:      c,
		Name:   name,
		Dev:    dev,
		Person: crypto.PersonOf(dev.ID()),
		Org:    id16(c.Name + "/org/" + org),
		Pos:    crypto.Position{Seq: 1},
		rand:   cryptotest.Rand(c.Name + "/seal/" + name),
	}
}

// Join returns a new device of org and its membership with role, issued by
// the founder.
func (c *Community) Join(name, org string, role crypto.Role) (*Device, *envelope.Envelope) {
	c.tb.Helper()
	d := c.Device(name, org)
	return d, c.Founder.Admit(d, role)
}

// ID returns the device's ID.
func (d *Device) ID() crypto.DeviceID { return d.Dev.ID() }

// Membership returns the membership statement that admits d with role.
func (d *Device) Membership(role crypto.Role) crypto.Membership {
	return crypto.Membership{Device: d.ID(), Recipient: d.Dev.Public().Recipient, Person: d.Person, Org: d.Org, Role: role}
}

// Cert signs c as d's next envelope.
func (d *Device) Cert(c *crypto.Certificate) *envelope.Envelope {
	d.c.tb.Helper()
	e, err := d.Dev.NewCertificate(c, d.Pos, d.c.Clock())
	if err != nil {
		d.c.tb.Fatalf("%s: NewCertificate: %v", d.Name, err)
	}
	return d.advance(e)
}

// Admit issues, as d's next envelope, a membership for other with role.
func (d *Device) Admit(other *Device, role crypto.Role) *envelope.Envelope {
	d.c.tb.Helper()
	m := other.Membership(role)
	return d.Cert(&crypto.Certificate{Membership: &m})
}

// Revoke issues, as d's next envelope, the revocation of other after its
// envelope at sequence number lastValid (named by its hash: other must
// have built it).
func (d *Device) Revoke(other *Device, lastValid uint64) *envelope.Envelope {
	d.c.tb.Helper()
	r := &crypto.Revocation{Device: other.ID(), LastValidSeq: lastValid}
	if lastValid > 0 {
		if lastValid > uint64(len(other.Chain)) {
			d.c.tb.Fatalf("%s: revoke %s after sequence %d: it built only %d", d.Name, other.Name, lastValid, len(other.Chain))
		}
		r.LastValid = other.Chain[lastValid-1]
	}
	return d.Cert(&crypto.Certificate{Revocation: r})
}

// Post seals record to the community key as d's next envelope.
func (d *Device) Post(record string) *envelope.Envelope {
	d.c.tb.Helper()
	return d.seal(crypto.Audience{Groups: []crypto.GroupKey{d.c.Key}}, record)
}

// PostAt seals record to the community key at pos with clock, without moving
// d's chain: for forks and clocks from the future.
func (d *Device) PostAt(pos crypto.Position, clock uint64, record string) *envelope.Envelope {
	d.c.tb.Helper()
	e, err := d.Dev.Seal(d.rand, d.c.ID, pos, clock, crypto.Audience{Groups: []crypto.GroupKey{d.c.Key}}, []byte(record))
	if err != nil {
		d.c.tb.Fatalf("%s: Seal: %v", d.Name, err)
	}
	return e
}

// PostTo seals record to the given devices only (as TLP:RED is), with no
// group key, as d's next envelope.
func (d *Device) PostTo(record string, to ...*Device) *envelope.Envelope {
	d.c.tb.Helper()
	aud := crypto.Audience{}
	for _, o := range to {
		aud.Devices = append(aud.Devices, o.Dev.Public())
	}
	return d.seal(aud, record)
}

func (d *Device) seal(aud crypto.Audience, record string) *envelope.Envelope {
	d.c.tb.Helper()
	e, err := d.Dev.Seal(d.rand, d.c.ID, d.Pos, d.c.Clock(), aud, []byte(record))
	if err != nil {
		d.c.tb.Fatalf("%s: Seal: %v", d.Name, err)
	}
	return d.advance(e)
}

// Retract withdraws target as d's next envelope.
func (d *Device) Retract(target envelope.Hash) *envelope.Envelope {
	d.c.tb.Helper()
	b, err := (&crypto.Retraction{Target: target}).Encode()
	if err != nil {
		d.c.tb.Fatal(err)
	}
	e, err := d.Dev.NewClear(envelope.ClassRetraction, d.Pos, d.c.Clock(), b)
	if err != nil {
		d.c.tb.Fatalf("%s: NewClear: %v", d.Name, err)
	}
	return d.advance(e)
}

func (d *Device) advance(e *envelope.Envelope) *envelope.Envelope {
	d.Pos = d.Pos.Next(e.ID())
	if n := int(e.Header.Seq) - 1; n <= len(d.Chain) {
		d.Chain = append(d.Chain[:n:n], e.ID())
	}
	return e
}

func id16(s string) crypto.ID16 {
	var id crypto.ID16
	sum := sha256.Sum256([]byte("noroshi/replicatest/" + s))
	copy(id[:], sum[:])
	return id
}

// Config returns a store configuration for self: a new file in a temp dir,
// no fsync, a short lock timeout, the wall clock now (nil: Start, stopped)
// and tb's log.
func Config(tb testing.TB, self crypto.DeviceID, now func() time.Time) replica.Config {
	tb.Helper()
	if now == nil {
		now = NewClock(Start).Now
	}
	cfg := replica.DefaultConfig(filepath.Join(tb.TempDir(), "store.db"), self)
	cfg.NoSync = true
	cfg.LockTimeout = 50 * time.Millisecond
	cfg.Now = now
	cfg.Logf = tb.Logf
	return cfg
}

// Open opens a store with cfg and closes it when the test ends.
func Open(tb testing.TB, cfg replica.Config) *replica.Store {
	tb.Helper()
	st, err := replica.Open(cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return st
}

// Add adds envs and fails the test on a store error (not on a refusal).
func Add(tb testing.TB, st *replica.Store, envs ...*envelope.Envelope) replica.Result {
	tb.Helper()
	res, err := st.Add(envs...)
	if err != nil {
		tb.Fatalf("Add: %v", err)
	}
	return res
}

// MustAdmit adds envs and fails the test unless every one of them is stored
// by this call.
func MustAdmit(tb testing.TB, st *replica.Store, envs ...*envelope.Envelope) replica.Result {
	tb.Helper()
	res := Add(tb, st, envs...)
	if err := res.Err(); err != nil {
		tb.Fatalf("Add: %v", err)
	}
	if len(res.Admitted) != len(envs) || res.Pending != 0 || res.Duplicates != 0 {
		tb.Fatalf("Add of %d envelopes: got %d admitted, %d pending, %d duplicates; want all admitted",
			len(envs), len(res.Admitted), res.Pending, res.Duplicates)
	}
	return res
}

// Since returns every envelope stored, in local order.
func Since(tb testing.TB, st *replica.Store) []*envelope.Envelope {
	tb.Helper()
	var out []*envelope.Envelope
	if err := st.Since(0, func(_ uint64, e *envelope.Envelope) error {
		out = append(out, e)
		return nil
	}); err != nil {
		tb.Fatalf("Since: %v", err)
	}
	return out
}

// Snapshot is what a store shows of its contents: enough to tell that
// nothing changed.
type Snapshot struct {
	Digest  [32]byte
	LastSeq uint64
	Held    string // every stored ID and whether its payload is held, in local order
}

// Snap takes a snapshot of st.
func Snap(tb testing.TB, st *replica.Store) Snapshot {
	tb.Helper()
	s := Snapshot{Digest: st.Digest(), LastSeq: st.LastSeq()}
	for _, e := range Since(tb, st) {
		s.Held += e.ID().String()[:16] + ":" + strconv.FormatBool(e.Payload != nil) + " "
	}
	return s
}

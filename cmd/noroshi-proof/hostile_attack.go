package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"noroshi/app"
	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// The hostile peer: a real member of the community (its home made by the
// harness, invited like any other) that loads its own keys and forges what
// an honest client never writes, on every channel. It imports noroshi/app
// only to unlock its home, and noroshi/replica and noroshi/crypto to sign
// and frame; it changes nothing in them.

// hVictim is an honest device as the attacker sees it.
type hVictim struct {
	name   string
	id     crypto.DeviceID
	pub    crypto.PublicDevice
	gossip string // host:port
	sync   string // host:port
}

// attacker holds the hostile member's keys and what it forges from.
type attacker struct {
	app       *app.App
	store     *replica.Store
	dev       *crypto.Device // the hostile member
	dev2      *crypto.Device // a second device it held, revoked by the coordinator
	community envelope.Hash
	proof     []byte
	proof2    []byte
	tkeys     [][]byte
	dir       string // where bundle files go
	ml        *memberlist.Memberlist
	pos0      crypto.Position // the place of its chain it equivocates at

	mu       sync.Mutex
	sent     map[string]int // by attack kind
	replayed []byte         // a recorded sync session's frames (ciphertext)
	bundle   []byte         // a valid bundle it exported
}

// newAttacker unlocks the hostile member's home (and the revoked device's
// keys) and joins the community's gossip with the transport key.
func newAttacker(home, home2, dir string) (*attacker, error) {
	dev, err := app.ReadDevice(home, passphrase)
	if err != nil {
		return nil, fmt.Errorf("hostile: unlock its home: %w", err)
	}
	dev2, err := app.ReadDevice(home2, passphrase)
	if err != nil {
		return nil, fmt.Errorf("hostile: unlock its second home: %w", err)
	}
	a, err := app.OpenDevice(app.DefaultConfig(home), dev)
	if err != nil {
		return nil, fmt.Errorf("hostile: open its home: %w", err)
	}
	at := &attacker{app: a, store: a.Store(), dev: dev, dev2: dev2, community: a.Store().Community(), tkeys: a.TransportKeys(), dir: dir, sent: map[string]int{}}
	if len(at.tkeys) == 0 {
		a.Close()
		return nil, errors.New("hostile: its home holds no transport key")
	}
	if at.proof, err = at.store.MembershipProof(dev.ID()); err != nil {
		a.Close()
		return nil, fmt.Errorf("hostile: membership proof: %w", err)
	}
	// The revoked device's proof, as its own store held it before the
	// revocation (the hostile member's store has not heard of it).
	at.proof2, _ = at.store.MembershipProof(dev2.ID())
	h := at.store.Head(dev.ID())
	at.pos0 = crypto.Position{Seq: h.Seq + 1, Prev: h.Head}
	var buf bytes.Buffer
	if _, err := a.Export(&buf, app.ExportOptions{}); err != nil {
		a.Close()
		return nil, fmt.Errorf("hostile: export a bundle: %w", err)
	}
	at.bundle = buf.Bytes()
	return at, nil
}

// Close leaves the gossip and closes the hostile home.
func (at *attacker) Close() {
	if at.ml != nil {
		at.ml.Shutdown()
	}
	at.app.Close()
}

func (at *attacker) count(kind string, n int) {
	at.mu.Lock()
	at.sent[kind] += n
	at.mu.Unlock()
}

// Sent returns what was sent, by attack kind.
func (at *attacker) Sent() map[string]int {
	at.mu.Lock()
	defer at.mu.Unlock()
	out := map[string]int{}
	for k, v := range at.sent {
		out[k] = v
	}
	return out
}

// --- gossip ---

type hostileDelegate struct{ meta []byte }

func (d hostileDelegate) NodeMeta(int) []byte               { return d.meta }
func (hostileDelegate) NotifyMsg([]byte)                    { /* what honest peers gossip: ignored */ }
func (hostileDelegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (hostileDelegate) LocalState(bool) []byte              { return nil }
func (hostileDelegate) MergeRemoteState(buf []byte, _ bool) {}

// meta encodes node metadata as honest nodes do: version 1, device, sync
// port.
func hMeta(id crypto.DeviceID, port uint16) []byte {
	b := append([]byte{1}, id[:]...)
	return binary.BigEndian.AppendUint16(b, port)
}

// gossipMember starts a memberlist member with the community transport key,
// named name, whose metadata is m, and joins it to addrs.
func (at *attacker) gossipMember(name string, m []byte, addrs []string) (*memberlist.Memberlist, error) {
	mc := memberlist.DefaultLocalConfig()
	mc.Name = name
	mc.BindAddr, mc.BindPort = "127.0.0.1", 0
	mc.Delegate = hostileDelegate{m}
	mc.Logger = log.New(io.Discard, "", 0)
	kr, err := memberlist.NewKeyring(at.tkeys, at.tkeys[0])
	if err != nil {
		return nil, err
	}
	mc.Keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, err
	}
	_, err = ml.Join(addrs)
	return ml, err
}

// joinGossip joins the honest peers' gossip as the hostile member, with
// valid metadata (its sync port a closed one).
func (at *attacker) joinGossip(vs []hVictim) error {
	var addrs []string
	for _, v := range vs {
		addrs = append(addrs, v.gossip)
	}
	ml, err := at.gossipMember(at.dev.ID().String(), hMeta(at.dev.ID(), 1), addrs)
	if err != nil {
		if ml != nil {
			ml.Shutdown()
		}
		return fmt.Errorf("hostile: join the gossip: %w", err)
	}
	at.ml = ml
	return nil
}

func hRand(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// announcement builds a 107-byte announcement (replica/announce.go).
func hAnnounce(author crypto.DeviceID, seq uint64, id []byte, holder crypto.DeviceID) []byte {
	b := []byte{1}
	b = append(b, author[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, id...)
	b = append(b, holder[:]...)
	return binary.BigEndian.AppendUint16(b, 1)
}

func (at *attacker) toAddr(v hVictim) memberlist.Address {
	return memberlist.Address{Addr: v.gossip, Name: v.id.String()}
}

// sendUDP sends user messages to v as memberlist packets.
func (at *attacker) sendUDP(kind string, v hVictim, msgs ...[]byte) error {
	for _, m := range msgs {
		if err := at.ml.SendToAddress(at.toAddr(v), m); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
	}
	at.count(kind, len(msgs))
	return nil
}

// gossipForged: announcements of envelopes that do not exist, naming a
// holder that is no gossip peer, and naming an honest holder.
func (at *attacker) gossipForged(v hVictim, others []hVictim, n int) error {
	msgs := make([][]byte, 0, n)
	for i := range n {
		holder := crypto.DeviceID(hRand(32))
		if i%2 == 1 && len(others) > 0 {
			holder = others[i%len(others)].id
		}
		msgs = append(msgs, hAnnounce(crypto.DeviceID(hRand(32)), uint64(i+1), hRand(32), holder))
	}
	return at.sendUDP("gossip-forged", v, msgs...)
}

// gossipReplayed sends one announcement again and again: each is re-sent
// once by an honest peer, never twice.
func (at *attacker) gossipReplayed(v hVictim, msg []byte, n int) error {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = msg
	}
	return at.sendUDP("gossip-replayed", v, msgs...)
}

// gossipMalformed: announcements of the wrong length or sequence 0.
func (at *attacker) gossipMalformed(v hVictim, n int) error {
	var bad [][]byte
	for i := range n {
		a := hAnnounce(at.dev.ID(), 0, hRand(32), at.dev.ID())
		switch i % 3 {
		case 1:
			a = a[:50]
		case 2:
			a = append(a, 0, 0, 0)
		}
		bad = append(bad, a)
	}
	return at.sendUDP("gossip-malformed", v, bad...)
}

// gossipUnknown: user messages of a type no version knows.
func (at *attacker) gossipUnknown(v hVictim, n int) error {
	var typ [][]byte
	for i := range n {
		typ = append(typ, append([]byte{0x42 + byte(i%100)}, hRand(20)...))
	}
	return at.sendUDP("gossip-unknown-type", v, typ...)
}

// gossipOversized: a user message as large as a UDP packet carries, and one
// of 1 MiB over memberlist's reliable (TCP) path.
func (at *attacker) gossipOversized(v hVictim) error {
	big := hRand(60_000)
	big[0] = 1
	if err := at.sendUDP("gossip-oversized", v, big); err != nil {
		return err
	}
	for _, m := range at.ml.Members() {
		if m.Name == v.id.String() {
			huge := hRand(1 << 20)
			huge[0] = 1
			if err := at.ml.SendReliable(m, huge); err != nil {
				return fmt.Errorf("gossip-oversized: %w", err)
			}
			at.count("gossip-oversized", 1)
		}
	}
	return nil
}

// gossipBadMeta: members whose metadata does not decode, or names another
// device than the member's name.
func (at *attacker) gossipBadMeta(v hVictim, i int) error {
	m := []byte{9, 9, 9}
	if i%2 == 1 {
		m = hMeta(crypto.DeviceID(hRand(32)), 1)
	}
	ml, _ := at.gossipMember(hex.EncodeToString(hRand(32)), m, []string{v.gossip})
	if ml != nil {
		ml.Shutdown()
	}
	at.count("gossip-bad-meta", 1)
	return nil
}

// gossipRevoked: the revoked device joins the gossip with valid metadata
// (it still holds the transport key during the grace period).
func (at *attacker) gossipRevoked(v hVictim) error {
	ml, _ := at.gossipMember(at.dev2.ID().String(), hMeta(at.dev2.ID(), 1), []string{v.gossip})
	if ml != nil {
		ml.Shutdown()
	}
	at.count("gossip-revoked", 1)
	return nil
}

// --- sync streams ---

// errHBusy is an honest peer's busy answer (its sync budgets).
var errHBusy = errors.New("busy")

// hRecorder keeps what is written on a connection once on is set.
type hRecorder struct {
	net.Conn
	mu  sync.Mutex
	on  bool
	buf []byte
}

func (r *hRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	if r.on {
		r.buf = append(r.buf, p...)
	}
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// open dials v's sync port and runs the channel handshake as dev.
func (at *attacker) open(v hVictim, dev *crypto.Device, proof []byte) (*hRecorder, *crypto.Channel, error) {
	c, err := net.DialTimeout("tcp", v.sync, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rc := &hRecorder{Conn: c}
	ch, err := dev.Dial(rand.Reader, rc, [32]byte(at.community), proof, func(crypto.DeviceID, []byte) error { return nil })
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	rc.on = true
	return rc, ch, nil
}

// drain reads until the peer closes the stream: by then it has counted
// what the stream did.
func hDrain(c net.Conn) {
	io.Copy(io.Discard, c)
}

// summary is a sync summary (replica/syncframes.go) with a random root:
// never in sync.
func hSummary() []byte {
	b := make([]byte, 1+32+16*8+1)
	b[0] = 1
	rand.Read(b[1 : 1+32+16*8])
	return b
}

// hEnvelopesFrame encodes envelopes as the sync protocol's message 5.
func hEnvelopesFrame(encs [][]byte) []byte {
	b := []byte{5}
	b = binary.AppendUvarint(b, uint64(len(encs)))
	for _, e := range encs {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// push opens a sync with v as initiator, takes its (empty) answer, and sends
// encs as the envelopes v wanted: what a modified client can send. With no
// envelopes it is a plain sync request.
func (at *attacker) push(v hVictim, encs [][]byte) error {
	rc, ch, err := at.open(v, at.dev, at.proof)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := ch.WriteFrame(hSummary()); err != nil {
		return err
	}
	m, err := ch.ReadFrame()
	if err != nil {
		return err
	}
	if len(m) == 1 && m[0] == 10 {
		return errHBusy
	}
	if len(m) == 0 || m[0] != 3 {
		return fmt.Errorf("unexpected answer %x", m[:min(len(m), 1)])
	}
	// Heads of no leaf: the peer wants nothing and sends nothing.
	if err := ch.WriteFrame([]byte{4, 0, 0, 0}); err != nil {
		return err
	}
	for {
		m, err := ch.ReadFrame()
		if err != nil {
			return err
		}
		if len(m) == 1 && m[0] == 6 {
			break
		}
	}
	rec := len(at.replayed) == 0
	for i := 0; i < len(encs); i += 2000 {
		if err := ch.WriteFrame(hEnvelopesFrame(encs[i:min(i+2000, len(encs))])); err != nil {
			return err
		}
	}
	if err := ch.WriteFrame([]byte{6}); err != nil {
		return err
	}
	hDrain(rc)
	if rec {
		rc.mu.Lock()
		at.mu.Lock()
		at.replayed = bytes.Clone(rc.buf)
		at.mu.Unlock()
		rc.mu.Unlock()
	}
	return nil
}

// seal signs an envelope of dev at pos, sealed to dev itself.
func (at *attacker) seal(dev *crypto.Device, pos crypto.Position, text string) ([]byte, *envelope.Envelope) {
	e, err := dev.Seal(rand.Reader, at.community, pos, replica.FromTime(time.Now()), crypto.Audience{Devices: []crypto.PublicDevice{dev.Public()}}, []byte(text))
	if err != nil {
		panic(fmt.Sprintf("hostile: seal: %v", err)) // our own input: a bug here
	}
	b, err := e.Encode()
	if err != nil {
		panic(fmt.Sprintf("hostile: encode: %v", err))
	}
	return b, e
}

// badSignatures: envelopes of the hostile member whose signature does not
// verify.
func (at *attacker) badSignatures(n int) [][]byte {
	var out [][]byte
	for i := range n {
		_, e := at.seal(at.dev, at.pos0, fmt.Sprintf("forged %d %x", i, hRand(8)))
		e.Header.Signature[i%64] ^= 0x5a
		b, _ := e.Encode()
		out = append(out, b)
	}
	return out
}

// equivocating: two (or more) envelopes at one position of the hostile
// member's own chain.
func (at *attacker) equivocating(n int) [][]byte {
	var out [][]byte
	for i := range max(n, 2) {
		b, _ := at.seal(at.dev, at.pos0, fmt.Sprintf("branch %d %x", i, hRand(8)))
		out = append(out, b)
	}
	return out
}

// revokedAuthor: envelopes the revoked device signs after its revocation.
func (at *attacker) revokedAuthor(n int) [][]byte {
	var out [][]byte
	pos := crypto.Position{Seq: 1}
	if h := at.store.Head(at.dev2.ID()); h.Seq > 0 {
		pos = crypto.Position{Seq: h.Seq + 1, Prev: h.Head}
	}
	for i := range n {
		b, e := at.seal(at.dev2, pos, fmt.Sprintf("after revocation %d", i))
		out = append(out, b)
		pos = pos.Next(e.ID())
	}
	return out
}

// replays: envelopes every honest peer already holds (the genesis, the
// memberships, the honest posts the hostile member has synced).
func (at *attacker) replays(n int) [][]byte {
	var out [][]byte
	at.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
		if b, err := e.Encode(); err == nil {
			out = append(out, b)
		}
		if len(out) >= n {
			return io.EOF
		}
		return nil
	})
	return out
}

// learn runs one honest sync with v, so that the hostile store holds the
// honest posts it replays later.
func (at *attacker) learn(v hVictim) error {
	rc, ch, err := at.open(v, at.dev, at.proof)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = at.store.SyncInitiate(ch, ch.Peer())
	return err
}

// streamMalformed: a frame that authenticates but is no sync message.
func (at *attacker) streamMalformed(v hVictim) error {
	rc, ch, err := at.open(v, at.dev, at.proof)
	if err != nil {
		return err
	}
	defer rc.Close()
	at.count("stream-malformed", 1)
	if err := ch.WriteFrame(append([]byte{0x77}, hRand(300)...)); err != nil {
		return err
	}
	hDrain(rc)
	return nil
}

// streamOversized: a frame header announcing 4 GiB.
func (at *attacker) streamOversized(v hVictim) error {
	rc, _, err := at.open(v, at.dev, at.proof)
	if err != nil {
		return err
	}
	defer rc.Close()
	at.count("stream-oversized", 1)
	if _, err := rc.Conn.Write(append([]byte{0xff, 0xff, 0xff, 0xf0}, hRand(1<<16)...)); err != nil {
		return err
	}
	hDrain(rc)
	return nil
}

// streamReplayed: the frames of an earlier sync session, replayed on a new
// one (ciphertext: they do not authenticate under the new session keys).
func (at *attacker) streamReplayed(v hVictim) error {
	at.mu.Lock()
	rec := at.replayed
	at.mu.Unlock()
	if len(rec) == 0 {
		if err := at.push(v, nil); err != nil && !errors.Is(err, errHBusy) {
			return err
		}
		at.mu.Lock()
		rec = at.replayed
		at.mu.Unlock()
		if len(rec) == 0 {
			return errors.New("no session recorded to replay")
		}
	}
	rc, _, err := at.open(v, at.dev, at.proof)
	if err != nil {
		return err
	}
	defer rc.Close()
	at.count("stream-replayed-frames", 1)
	if _, err := rc.Conn.Write(rec); err != nil {
		return err
	}
	hDrain(rc)
	return nil
}

// pushKind sends envelopes of one kind and counts them.
func (at *attacker) pushKind(kind string, v hVictim, encs [][]byte) error {
	err := at.push(v, encs)
	if err == nil {
		at.count(kind, len(encs))
	}
	return err
}

// handshakeAs opens a stream as dev with proof, and reports the refusal.
func (at *attacker) handshakeAs(kind string, v hVictim, dev *crypto.Device, proof []byte) error {
	rc, ch, err := at.open(v, dev, proof)
	at.count(kind, 1)
	if err == nil {
		ch.WriteFrame(hSummary())
		hDrain(rc)
		rc.Close()
		return fmt.Errorf("%s: the stream was accepted", kind)
	}
	return nil
}

// silent opens n connections from each of the loopback addresses given
// and never speaks: they hold handshake slots until the peer's timeout.
func (at *attacker) silent(v hVictim, ips []string, n int, hold time.Duration) error {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, ip := range ips {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		for range n {
			c, err := d.Dial("tcp", v.sync)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
	}
	at.count("stream-silent", len(conns))
	time.Sleep(hold)
	return nil
}

// syncFlood asks for syncs as fast as it can.
func (at *attacker) syncFlood(v hVictim, n int) error {
	for range n {
		if err := at.push(v, nil); err != nil && !errors.Is(err, errHBusy) {
			return err
		}
		at.count("stream-sync-flood", 1)
	}
	return nil
}

// --- bundles ---

// hImport is what an honest node's `noroshi import` said of a file.
type hImport struct {
	reasons map[string]int // refused_for, duplicates, or the refusal of the whole file
	err     error          // the command failed: the file was refused
}

// hClassifyImport names a whole-file refusal by its message.
func hClassifyImport(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "larger than"):
		return "file-too-large"
	case strings.Contains(s, "truncated"):
		return "file-truncated"
	case strings.Contains(s, "damaged or was altered"):
		return "file-damaged"
	case strings.Contains(s, "not a Noroshi bundle"), strings.Contains(s, "not a whole Noroshi bundle"):
		return "file-not-a-bundle"
	case strings.Contains(s, "another community"):
		return "file-other-community"
	case strings.Contains(s, "sealed to"):
		return "file-not-for-this-device"
	}
	return "file-refused-other"
}

// hImportFile has n import the file at path and says how it answered.
func hImportFile(ctx context.Context, n *node, path string) hImport {
	out, err := n.Run(ctx, "--json", "import", path)
	o := hImport{reasons: map[string]int{}}
	if err != nil {
		o.err = err
		o.reasons[hClassifyImport(err)]++
		return o
	}
	var r struct {
		Duplicates int            `json:"duplicates"`
		RefusedFor map[string]int `json:"refused_for"`
	}
	if json.Unmarshal([]byte(out), &r) != nil {
		o.reasons["unparsed"]++
		return o
	}
	for k, v := range r.RefusedFor {
		o.reasons["refused:"+k] += v
	}
	if r.Duplicates > 0 {
		o.reasons["duplicates"] += r.Duplicates
	}
	return o
}

// writeFile writes a bundle file under the attacker's directory.
func (at *attacker) writeFile(name string, b []byte) (string, error) {
	p := filepath.Join(at.dir, name)
	return p, os.WriteFile(p, b, 0o600)
}

// bundleForged: a valid bundle with one byte changed in its sealed records.
func (at *attacker) bundleForged(i int) []byte {
	b := bytes.Clone(at.bundle)
	k := len(b) - 1 - (i*7919)%(len(b)/4)
	b[k] ^= 0x01
	return b
}

// bundleMalformed: random bytes, a truncated bundle, an age header over
// garbage.
func (at *attacker) bundleMalformed(i int) []byte {
	switch i % 3 {
	case 0:
		return hRand(4096)
	case 1:
		return at.bundle[:len(at.bundle)/2]
	}
	return append([]byte("age-encryption.org/v1\n-> X25519 garbage\n--- aaaa\n"), hRand(2048)...)
}

// bundleEnvelopes: a format 1 bundle (the oldest format still read, not
// signed) sealed to the hVictim's device key, holding forged envelopes: bad
// signatures, equivocation, a revoked author, and replays.
func (at *attacker) bundleEnvelopes(v hVictim) ([]byte, error) {
	var encs [][]byte
	encs = append(encs, at.badSignatures(3)...)
	encs = append(encs, at.equivocating(2)...)
	encs = append(encs, at.revokedAuthor(3)...)
	encs = append(encs, at.replays(5)...)
	m, _ := json.Marshal(map[string]any{"v": 1, "type": "noroshi-air-gap-bundle", "community": at.community, "from": at.dev.ID(), "count": len(encs)})
	var buf bytes.Buffer
	bw, err := replica.NewBundleWriter(&buf, m)
	if err != nil {
		return nil, err
	}
	for _, b := range encs {
		e, err := envelope.Decode(b)
		if err != nil {
			return nil, err
		}
		if err := bw.Add(e); err != nil {
			return nil, err
		}
	}
	if err := bw.Close(); err != nil {
		return nil, err
	}
	return crypto.SealTo(rand.Reader, buf.Bytes(), crypto.Audience{Devices: []crypto.PublicDevice{v.pub}})
}

// bundleOversized writes a sparse file one byte over the largest bundle
// import reads (4 GiB): it takes no disk.
func (at *attacker) bundleOversized() (string, error) {
	p := filepath.Join(at.dir, "oversized.bundle")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return p, f.Truncate(4<<30 + 1)
}

package lan

import (
	"context"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// Service is the DNS-SD service type Noroshi nodes advertise.
const Service = "_noroshi._udp"

// DefaultInterval is the time between two mDNS queries of a node that
// has no peer yet.
const DefaultInterval = 5 * time.Second

const (
	mdnsDomain      = "local."
	mdnsTagLabel    = "noroshi/mdns/v1"
	mdnsVersion     = "1"
	mdnsNonceSize   = 8
	mdnsTagSize     = 8
	mdnsMaxPacket   = 9000 // RFC 6762, section 17
	mdnsMaxRecords  = 64   // records read per packet
	mdnsMaxFields   = 8    // TXT strings per instance
	mdnsMaxEntries  = 64   // instances per packet and per round
	mdnsMaxMessages = 256  // packets read per round
	mdnsMaxAddrs    = 4    // addresses per instance
	mdnsMaxJoins    = 4    // instances joined per round
	mdnsMaxKeys     = 8    // transport keys a tag is checked against
	mdnsMaxBackoff  = 12   // the interval grows to at most this many times the base
	mdnsMaxTable    = 256  // entries kept in the failed and joined tables
	mdnsMaxWait     = time.Second
)

var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// mdnsServiceName is the fully qualified name queried.
var mdnsServiceName = Service + "." + mdnsDomain

// Stats counts what LAN discovery did since the node started.
type Stats struct {
	Rounds     uint64 // query rounds
	Interfaces int    // interfaces advertised on and queried at the last round
	Found      uint64 // answers of this community, one per instance and round (this node's own excluded)
	Foreign    uint64 // answers whose tag matched none of our transport keys, one per instance and round
	Malformed  uint64 // packets or answers dropped as malformed
	Joined     uint64 // successful joins
	Failed     uint64 // failed joins
}

// Config configures a Discoverer. The functions are the gossip node's: the
// Discoverer calls them from its own goroutine, one at a time; Join may
// block (it is a memberlist join), the others must answer at once.
type Config struct {
	Interface string // "" for every suitable interface
	BindIP    net.IP // nil or unspecified: any address
	Port      int    // gossip port advertised
	// Interval is the time between two queries while alone (0:
	// DefaultInterval).
	Interval time.Duration
	Keys     func() [][]byte      // transport keys, primary first
	Known    func(string) bool    // a member's gossip address already
	Join     func([]string) error // join one peer at any of these addresses
	Peers    func() int           // members other than this node
	Logf     func(string, ...any) // nil: no log
	// Now is the wall clock (nil: time.Now); socket read deadlines are
	// taken from it, so a test clock must not run behind the real one.
	Now func() time.Time
}

// CheckInterface refuses an interface name that does not exist ("" is
// every interface, and always accepted).
func CheckInterface(name string) error {
	if name == "" {
		return nil
	}
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("mDNS interface %q: %w", name, err)
	}
	return nil
}

// A Discoverer finds peers of the same community on the local network by
// mDNS. Start starts one; Close stops it.
type Discoverer struct {
	cfg      Config
	wait     time.Duration
	instance string // random label, new at each start
	fqdn     string // <instance>._noroshi._udp.local. (lower case)
	nonce    [mdnsNonceSize]byte
	query    []byte

	// Owned by the loop goroutine.
	servers map[string]*mdnsServer // by interface name
	conn    *net.UDPConn
	pc      *ipv4.PacketConn
	failed  map[string]time.Time // join address -> last failure
	joined  map[string]time.Time // instance -> last join
	notes   map[string]string    // last message per topic, logged once

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	stats Stats
}

type mdnsServer struct {
	index int
	zone  *mdnsZone
	srv   *mdns.Server
}

// mdnsZone serves the current record set; the loop replaces it when the
// interface's addresses or the primary transport key change.
type mdnsZone struct {
	svc atomic.Pointer[mdns.MDNSService]
}

func (z *mdnsZone) Records(q dns.Question) []dns.RR {
	if s := z.svc.Load(); s != nil {
		return s.Records(q)
	}
	return nil
}

var mdnsQuietLog = log.New(io.Discard, "", 0)

// Start advertises this node and starts looking for peers, in a goroutine
// of its own, until Close.
func Start(cfg Config) *Discoverer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BindIP != nil && cfg.BindIP.IsUnspecified() {
		cfg.BindIP = nil
	}
	var label [8]byte
	cryptorand.Read(label[:])
	d := &Discoverer{cfg: cfg, wait: min(cfg.Interval, mdnsMaxWait),
		instance: "noroshi-" + hex.EncodeToString(label[:]),
		servers:  map[string]*mdnsServer{}, failed: map[string]time.Time{}, joined: map[string]time.Time{}, notes: map[string]string{},
		done: make(chan struct{})}
	d.fqdn = strings.ToLower(d.instance + "." + mdnsServiceName)
	cryptorand.Read(d.nonce[:])
	q := new(dns.Msg)
	q.SetQuestion(mdnsServiceName, dns.TypePTR)
	q.Id = 0
	q.RecursionDesired = false
	q.Question[0].Qclass |= 1 << 15 // unicast response preferred (RFC 6762, 5.4)
	d.query, _ = q.Pack()
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.run()
	return d
}

// Stats returns what discovery did so far.
func (d *Discoverer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close stops advertising and querying, and waits for the loop to end.
func (d *Discoverer) Close() {
	d.cancel()
	<-d.done
}

func (d *Discoverer) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

// note logs msg once per change of topic's message.
func (d *Discoverer) note(topic, msg string) {
	if d.notes[topic] == msg {
		return
	}
	d.notes[topic] = msg
	if msg != "" {
		d.cfg.Logf("mDNS: %s", msg)
	}
}

func (d *Discoverer) run() {
	defer close(d.done)
	defer d.shutdown()
	// A random short delay first, so that laptops started together do
	// not all query at once.
	t := time.NewTimer(time.Duration(rand.Int64N(int64(d.cfg.Interval)/4 + 1)))
	defer t.Stop()
	backoff := time.Duration(1)
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		d.round()
		if d.cfg.Peers() > 0 {
			backoff = min(backoff*2, mdnsMaxBackoff)
		} else {
			backoff = 1
		}
		next := d.cfg.Interval * backoff
		next += time.Duration(rand.Int64N(int64(next)*2/5+1)) - next/5
		t.Reset(next)
	}
}

func (d *Discoverer) shutdown() {
	for name, s := range d.servers {
		s.srv.Shutdown()
		delete(d.servers, name)
	}
	d.closeConn()
}

func (d *Discoverer) closeConn() {
	if d.conn != nil {
		d.conn.Close()
		d.conn, d.pc = nil, nil
	}
}

// round advertises on the current interfaces, queries, and joins what it
// found.
func (d *Discoverer) round() {
	ifaces, err := mdnsInterfaces(d.cfg.Interface, d.cfg.BindIP)
	if err != nil {
		d.note("interfaces", err.Error())
	} else if len(ifaces) == 0 {
		what := "no interface up with multicast and an IPv4 address"
		if d.cfg.Interface != "" {
			what = fmt.Sprintf("interface %s is not up with multicast and an IPv4 address", d.cfg.Interface)
		}
		if d.cfg.BindIP != nil {
			what += " bound to " + d.cfg.BindIP.String()
		}
		d.note("interfaces", what+": not advertising")
	} else {
		names := make([]string, len(ifaces))
		for i, f := range ifaces {
			names[i] = f.ifi.Name
		}
		d.note("interfaces", fmt.Sprintf("advertising %s (port %d) on %s", Service, d.cfg.Port, strings.Join(names, ", ")))
	}
	keys := d.cfg.Keys()
	if len(keys) > mdnsMaxKeys {
		keys = keys[:mdnsMaxKeys]
	}
	d.syncServers(ifaces, keys)
	d.count(func(s *Stats) { s.Rounds++; s.Interfaces = len(ifaces) })
	if len(ifaces) == 0 || len(keys) == 0 {
		d.closeConn()
		return
	}
	if err := d.send(ifaces); err != nil {
		d.note("query", err.Error())
		d.closeConn()
		return
	}
	d.note("query", "")
	var nets []*net.IPNet
	for _, f := range ifaces {
		nets = append(nets, f.nets...)
	}
	d.join(d.collect(keys, nets))
}

// mdnsIface is an interface discovery runs on.
type mdnsIface struct {
	ifi  net.Interface
	ips  []net.IP // IPv4 addresses advertised
	nets []*net.IPNet
}

// mdnsInterfaces returns the interfaces to advertise on: the one named, or
// every interface that is up and running, multicast-capable, neither
// loopback nor point-to-point (VPNs), with an IPv4 address (bind, when it
// is set).
func mdnsInterfaces(name string, bind net.IP) ([]mdnsIface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []mdnsIface
	for _, ifi := range all {
		if name != "" && ifi.Name != name {
			continue
		}
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if name == "" && (ifi.Flags&net.FlagRunning == 0 || ifi.Flags&net.FlagPointToPoint != 0) {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		f := mdnsIface{ifi: ifi}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip4 := ipn.IP.To4()
			if ip4 == nil || ip4.IsLoopback() || (bind != nil && !bind.Equal(ip4)) {
				continue
			}
			f.ips = append(f.ips, ip4)
			f.nets = append(f.nets, &net.IPNet{IP: ip4.Mask(ipn.Mask), Mask: ipn.Mask})
		}
		if len(f.ips) > 0 {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b mdnsIface) int { return strings.Compare(a.ifi.Name, b.ifi.Name) })
	return out, nil
}

// mdnsTXT returns the TXT strings advertised with key.
func mdnsTXT(key, nonce []byte) []string {
	return encodeMDNSTXT(nonce, mdnsTag(key, nonce))
}

// encodeMDNSTXT is the TXT record's encoding of a nonce and a tag; the
// inverse of parseMDNSTXT.
func encodeMDNSTXT(nonce, tag []byte) []string {
	return []string{"v=" + mdnsVersion, "n=" + hex.EncodeToString(nonce), "t=" + hex.EncodeToString(tag)}
}

// mdnsTag is the community tag: the first 8 bytes of
// HMAC-SHA256(key, "noroshi/mdns/v1" || nonce).
func mdnsTag(key, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(mdnsTagLabel))
	m.Write(nonce)
	return m.Sum(nil)[:mdnsTagSize]
}

// mdnsMatch tells whether tag was made with one of keys and nonce.
func mdnsMatch(keys [][]byte, nonce, tag []byte) bool {
	for i, k := range keys {
		if i == mdnsMaxKeys {
			break
		}
		if hmac.Equal(mdnsTag(k, nonce), tag) {
			return true
		}
	}
	return false
}

// syncServers runs one responder per interface, with the current
// addresses and tag.
func (d *Discoverer) syncServers(ifaces []mdnsIface, keys [][]byte) {
	want := map[string]bool{}
	for _, f := range ifaces {
		if len(keys) == 0 {
			break
		}
		name := f.ifi.Name
		want[name] = true
		svc, err := mdns.NewMDNSService(d.instance, Service, mdnsDomain, d.instance+"."+mdnsDomain, d.cfg.Port, f.ips, mdnsTXT(keys[0], d.nonce[:]))
		if err != nil {
			d.note("server "+name, err.Error())
			continue
		}
		s := d.servers[name]
		if s != nil && s.index != f.ifi.Index {
			s.srv.Shutdown()
			delete(d.servers, name)
			s = nil
		}
		if s != nil {
			s.zone.svc.Store(svc)
			continue
		}
		z := &mdnsZone{}
		z.svc.Store(svc)
		ifi := f.ifi
		srv, err := mdns.NewServer(&mdns.Config{Zone: z, Iface: &ifi, Logger: mdnsQuietLog})
		if err != nil {
			d.note("server "+name, fmt.Sprintf("cannot answer on %s: %v", name, err))
			continue
		}
		d.note("server "+name, "")
		d.servers[name] = &mdnsServer{index: ifi.Index, zone: z, srv: srv}
	}
	for name, s := range d.servers {
		if !want[name] {
			s.srv.Shutdown()
			delete(d.servers, name)
		}
	}
}

// send multicasts the query on each interface.
func (d *Discoverer) send(ifaces []mdnsIface) error {
	if d.conn == nil {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: d.cfg.BindIP})
		if err != nil {
			return fmt.Errorf("query socket: %w", err)
		}
		pc := ipv4.NewPacketConn(c)
		// Link-local: 224.0.0.251 is never routed, and a TTL of 1 says so
		// again.
		pc.SetMulticastTTL(1)
		pc.SetMulticastLoopback(true)
		d.conn, d.pc = c, pc
	}
	sent := 0
	var errs []error
	for _, f := range ifaces {
		ifi := f.ifi
		if err := d.pc.SetMulticastInterface(&ifi); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifi.Name, err))
			continue
		}
		if _, err := d.pc.WriteTo(d.query, nil, mdnsGroup); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifi.Name, err))
			continue
		}
		sent++
	}
	if sent == 0 {
		return fmt.Errorf("query not sent: %w", errors.Join(errs...))
	}
	return nil
}

// mdnsFound is one instance of this community heard in a round.
type mdnsFound struct {
	instance string
	addrs    []string // host:port to join
}

// collect reads answers until the round's wait is over, and returns the
// instances of this community with the addresses to join them at.
func (d *Discoverer) collect(keys [][]byte, nets []*net.IPNet) []*mdnsFound {
	conn := d.conn // d.conn may be cleared below; the wake-up keeps this one
	conn.SetReadDeadline(d.cfg.Now().Add(d.wait))
	wake := context.AfterFunc(d.ctx, func() { conn.SetReadDeadline(d.cfg.Now()) })
	defer wake()
	found := map[string]*mdnsFound{}
	foreign := map[string]bool{}
	var order []string
	buf := make([]byte, mdnsMaxPacket+1)
	for range mdnsMaxMessages {
		n, src, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				d.note("read", err.Error())
				d.closeConn()
			}
			break
		}
		if n > mdnsMaxPacket {
			d.count(func(s *Stats) { s.Malformed++ })
			continue
		}
		answers, bad := parseMDNSResponse(buf[:n])
		if bad > 0 {
			d.count(func(s *Stats) { s.Malformed += uint64(bad) })
		}
		for _, a := range answers {
			if a.instance == d.fqdn {
				continue
			}
			if !mdnsMatch(keys, a.nonce, a.tag) {
				if !foreign[a.instance] && len(foreign) < mdnsMaxEntries {
					foreign[a.instance] = true
				}
				continue
			}
			f := found[a.instance]
			if f == nil {
				if len(found) >= mdnsMaxEntries {
					continue
				}
				f = &mdnsFound{instance: a.instance}
				found[a.instance] = f
				order = append(order, a.instance)
			}
			for _, addr := range mdnsJoinAddrs(a, src.IP, nets) {
				if len(f.addrs) < mdnsMaxAddrs && !slices.Contains(f.addrs, addr) {
					f.addrs = append(f.addrs, addr)
				}
			}
		}
	}
	d.count(func(s *Stats) { s.Found += uint64(len(found)); s.Foreign += uint64(len(foreign)) })
	out := make([]*mdnsFound, 0, len(order))
	for _, k := range order {
		if f := found[k]; len(f.addrs) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// join joins the instances found that are not members yet, a few per
// round, skipping addresses that failed lately and instances joined lately.
func (d *Discoverer) join(found []*mdnsFound) {
	now := d.cfg.Now()
	retry := d.cfg.Interval * mdnsMaxBackoff
	prune := func(m map[string]time.Time) {
		for k, t := range m {
			if now.Sub(t) > retry {
				delete(m, k)
			}
		}
		if len(m) > mdnsMaxTable {
			clear(m)
		}
	}
	prune(d.failed)
	prune(d.joined)
	joins := 0
	for _, f := range found {
		if joins == mdnsMaxJoins || d.ctx.Err() != nil {
			return
		}
		if _, ok := d.joined[f.instance]; ok {
			continue
		}
		var try []string
		known := false
		for _, a := range f.addrs {
			if d.cfg.Known(a) {
				known = true
				break
			}
			if _, ok := d.failed[a]; !ok {
				try = append(try, a)
			}
		}
		if known || len(try) == 0 {
			continue
		}
		joins++
		if err := d.cfg.Join(try); err != nil {
			for _, a := range try {
				d.failed[a] = now
			}
			d.count(func(s *Stats) { s.Failed++ })
			d.cfg.Logf("mDNS: join %s: %v", strings.Join(try, ", "), err)
			continue
		}
		d.joined[f.instance] = now
		d.count(func(s *Stats) { s.Joined++ })
		d.cfg.Logf("mDNS: joined a peer at %s", strings.Join(try, ", "))
	}
}

// mdnsAnswer is one instance advertised in a response, well formed but not
// yet checked against our keys.
type mdnsAnswer struct {
	instance string   // lower-case FQDN
	port     int      // gossip port
	nonce    []byte   // mdnsNonceSize bytes
	tag      []byte   // mdnsTagSize bytes
	addrs    []net.IP // IPv4 A records of its host, at most mdnsMaxAddrs
}

// parseMDNSResponse returns the Noroshi instances a response advertises,
// and how many it dropped as malformed (a packet that is not a DNS
// response counts as one). It never panics and reads at most
// mdnsMaxRecords records.
func parseMDNSResponse(b []byte) (answers []mdnsAnswer, bad int) {
	if len(b) > mdnsMaxPacket {
		return nil, 1
	}
	var m dns.Msg
	if err := m.Unpack(b); err != nil || !m.Response || m.Opcode != dns.OpcodeQuery || m.Rcode != 0 {
		return nil, 1
	}
	rrs := make([]dns.RR, 0, min(len(m.Answer)+len(m.Extra), mdnsMaxRecords))
	for _, set := range [][]dns.RR{m.Answer, m.Extra} {
		for _, rr := range set {
			if len(rrs) < mdnsMaxRecords && rr != nil {
				rrs = append(rrs, rr)
			}
		}
	}
	service := strings.ToLower(mdnsServiceName)
	var instances []string
	srvs := map[string]*dns.SRV{}
	txts := map[string]*dns.TXT{}
	hosts := map[string][]net.IP{}
	for _, rr := range rrs {
		name := strings.ToLower(rr.Header().Name)
		switch r := rr.(type) {
		case *dns.PTR:
			inst := strings.ToLower(r.Ptr)
			if name == service && strings.HasSuffix(inst, "."+service) && len(instances) < mdnsMaxEntries && !slices.Contains(instances, inst) {
				instances = append(instances, inst)
			}
		case *dns.SRV:
			if srvs[name] == nil {
				srvs[name] = r
			}
		case *dns.TXT:
			if txts[name] == nil {
				txts[name] = r
			}
		case *dns.A:
			if ip := r.A.To4(); ip != nil && len(hosts[name]) < mdnsMaxAddrs && len(hosts) < mdnsMaxRecords {
				hosts[name] = append(hosts[name], ip)
			}
		}
	}
	for _, inst := range instances {
		srv, txt := srvs[inst], txts[inst]
		if srv == nil || txt == nil || srv.Port == 0 {
			bad++
			continue
		}
		nonce, tag, err := parseMDNSTXT(txt.Txt)
		if err != nil {
			bad++
			continue
		}
		answers = append(answers, mdnsAnswer{instance: inst, port: int(srv.Port), nonce: nonce, tag: tag,
			addrs: hosts[strings.ToLower(srv.Target)]})
	}
	return answers, bad
}

// parseMDNSTXT reads the nonce and the tag of a TXT record: "v=1",
// "n=<16 hex digits>", "t=<16 hex digits>", in any order; other keys are
// ignored, a repeated key refused.
func parseMDNSTXT(fields []string) (nonce, tag []byte, err error) {
	if len(fields) > mdnsMaxFields {
		return nil, nil, fmt.Errorf("%d TXT strings, at most %d", len(fields), mdnsMaxFields)
	}
	var v string
	seen := map[string]bool{}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("TXT key %q repeated", k)
		}
		seen[k] = true
		switch k {
		case "v":
			v = val
		case "n":
			if nonce, err = hexN(val, mdnsNonceSize); err != nil {
				return nil, nil, fmt.Errorf("nonce: %w", err)
			}
		case "t":
			if tag, err = hexN(val, mdnsTagSize); err != nil {
				return nil, nil, fmt.Errorf("tag: %w", err)
			}
		}
	}
	switch {
	case v != mdnsVersion:
		return nil, nil, fmt.Errorf("version %q, want %s", v, mdnsVersion)
	case nonce == nil || tag == nil:
		return nil, nil, errors.New("no nonce or no tag")
	}
	return nonce, tag, nil
}

func hexN(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("%d hex digits, want %d", len(s), 2*n)
	}
	return hex.DecodeString(s)
}

// mdnsJoinAddrs returns the gossip addresses to join the instance a at:
// the source of its answer, when a lists it among its addresses (or lists
// none); otherwise its listed addresses that lie on one of nets.
func mdnsJoinAddrs(a mdnsAnswer, src net.IP, nets []*net.IPNet) []string {
	usable := func(ip net.IP) bool {
		ip = ip.To4()
		return ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsMulticast() && !ip.Equal(net.IPv4bcast)
	}
	port := strconv.Itoa(a.port)
	if src4 := src.To4(); src4 != nil && usable(src4) &&
		(len(a.addrs) == 0 || slices.ContainsFunc(a.addrs, src4.Equal)) {
		return []string{net.JoinHostPort(src4.String(), port)}
	}
	var out []string
	for _, ip := range a.addrs {
		if len(out) == mdnsMaxAddrs {
			break
		}
		if usable(ip) && slices.ContainsFunc(nets, func(n *net.IPNet) bool { return n.Contains(ip) }) {
			out = append(out, net.JoinHostPort(ip.String(), port))
		}
	}
	return out
}

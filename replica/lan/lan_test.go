package lan

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// Tests of LAN discovery that need no network: the community tag, the TXT
// record, the parsing of answers and the join policy. The real thing runs
// in network namespaces: discover_linux_test.go.

var (
	testKeyA  = bytes.Repeat([]byte{0xa1}, 32)
	testKeyB  = bytes.Repeat([]byte{0xb2}, 32)
	testNonce = []byte{1, 2, 3, 4, 5, 6, 7, 8}
)

func TestDiscoverTag(t *testing.T) {
	tag := mdnsTag(testKeyA, testNonce)
	if len(tag) != mdnsTagSize {
		t.Fatalf("tag of %d bytes, want %d", len(tag), mdnsTagSize)
	}
	if !bytes.Equal(tag, mdnsTag(testKeyA, testNonce)) {
		t.Error("tag not deterministic")
	}
	if bytes.Equal(tag, mdnsTag(testKeyB, testNonce)) {
		t.Error("same tag for two keys")
	}
	other := bytes.Clone(testNonce)
	other[0] ^= 1
	if bytes.Equal(tag, mdnsTag(testKeyA, other)) {
		t.Error("same tag for two nonces: nodes of one community would be linkable")
	}

	if !mdnsMatch([][]byte{testKeyA}, testNonce, tag) {
		t.Error("tag does not match its own key")
	}
	// A peer that missed a rotation tags with the old key, still held.
	if !mdnsMatch([][]byte{testKeyB, testKeyA}, testNonce, tag) {
		t.Error("tag made with an older key of the keyring does not match")
	}
	if mdnsMatch([][]byte{testKeyB}, testNonce, tag) {
		t.Error("tag matches a foreign key")
	}
	if mdnsMatch(nil, testNonce, tag) {
		t.Error("tag matches with no key")
	}
	if mdnsMatch([][]byte{testKeyA}, testNonce, tag[:4]) {
		t.Error("a truncated tag matches")
	}
	many := make([][]byte, mdnsMaxKeys)
	for i := range many {
		many[i] = testKeyB
	}
	if mdnsMatch(append(many, testKeyA), testNonce, tag) {
		t.Errorf("tag checked against more than %d keys", mdnsMaxKeys)
	}

	txt := mdnsTXT(testKeyA, testNonce)
	want := []string{"v=1", "n=0102030405060708", "t=" + hex.EncodeToString(tag)}
	if !slices.Equal(txt, want) {
		t.Errorf("TXT: got %q, want %q", txt, want)
	}
	for _, f := range txt {
		if len(f) > 40 {
			t.Errorf("TXT string %q longer than expected", f)
		}
	}
}

func TestDiscoverParseTXT(t *testing.T) {
	n, tg := "n=0102030405060708", "t=1112131415161718"
	ok := [][]string{
		{"v=1", n, tg},
		{tg, n, "v=1"},
		{"v=1", n, tg, "x=ignored", "noequals"},
	}
	for _, f := range ok {
		nonce, tag, err := parseMDNSTXT(f)
		if err != nil {
			t.Errorf("%q: %v", f, err)
			continue
		}
		if !bytes.Equal(nonce, testNonce) || hex.EncodeToString(tag) != "1112131415161718" {
			t.Errorf("%q: got nonce %x tag %x", f, nonce, tag)
		}
	}
	bad := [][]string{
		nil,
		{"v=1", n},
		{"v=1", tg},
		{n, tg},
		{"v=2", n, tg},
		{"v=1", "n=01020304050607", tg},
		{"v=1", "n=010203040506070809", tg},
		{"v=1", "n=zz02030405060708", tg},
		{"v=1", n, "t=111213141516171"},
		{"v=1", n, tg, "v=1"},
		{"v=1", n, tg, n},
		{"v=1", n, tg, "a", "b", "c", "d", "e", "f"},
	}
	for _, f := range bad {
		if _, _, err := parseMDNSTXT(f); err == nil {
			t.Errorf("%q: accepted", f)
		}
	}
}

// response builds the answer a hashicorp/mdns responder of ours sends to
// a query for the service.
func response(t *testing.T, instance string, port int, ips []net.IP, txt []string) []byte {
	t.Helper()
	svc, err := mdns.NewMDNSService(instance, Service, mdnsDomain, instance+"."+mdnsDomain, port, ips, txt)
	if err != nil {
		t.Fatal(err)
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Compress: true,
		Answer: svc.Records(dns.Question{Name: mdnsServiceName, Qtype: dns.TypePTR, Qclass: dns.ClassINET})}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherService is an answer about another service type.
func otherService(t *testing.T) []byte {
	t.Helper()
	svc, err := mdns.NewMDNSService("printer", "_ipp._tcp", mdnsDomain, "printer.local.", 631, []net.IP{net.IPv4(10, 99, 0, 9)}, []string{"v=1"})
	if err != nil {
		t.Fatal(err)
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: svc.Records(dns.Question{Name: "_ipp._tcp.local.", Qtype: dns.TypePTR})}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiscoverParseResponse(t *testing.T) {
	ips := []net.IP{net.IPv4(10, 99, 0, 2), net.IPv4(192, 168, 1, 5)}
	txt := mdnsTXT(testKeyA, testNonce)
	b := response(t, "noroshi-0011223344556677", 7946, ips, txt)
	answers, bad := parseMDNSResponse(b)
	if bad != 0 || len(answers) != 1 {
		t.Fatalf("got %d answers, %d bad; want 1, 0", len(answers), bad)
	}
	a := answers[0]
	if a.instance != "noroshi-0011223344556677._noroshi._udp.local." || a.port != 7946 {
		t.Errorf("got instance %q port %d", a.instance, a.port)
	}
	if !bytes.Equal(a.nonce, testNonce) || !mdnsMatch([][]byte{testKeyA}, a.nonce, a.tag) {
		t.Errorf("nonce %x tag %x: no match", a.nonce, a.tag)
	}
	if len(a.addrs) != 2 || !a.addrs[0].Equal(ips[0]) || !a.addrs[1].Equal(ips[1]) {
		t.Errorf("addrs %v, want %v", a.addrs, ips)
	}

	// Names compare without case (DNS), and the instance is lower-cased.
	up := response(t, "Noroshi-AB", 1, ips[:1], txt)
	if answers, bad := parseMDNSResponse(up); bad != 0 || len(answers) != 1 || answers[0].instance != "noroshi-ab._noroshi._udp.local." {
		t.Errorf("mixed case: got %+v, %d bad", answers, bad)
	}

	mutate := func(f func(m *dns.Msg)) []byte {
		var m dns.Msg
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		f(&m)
		out, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	drop := func(typ uint16) []byte {
		return mutate(func(m *dns.Msg) {
			m.Answer = slices.DeleteFunc(m.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == typ })
		})
	}
	cases := []struct {
		name    string
		b       []byte
		answers int
		bad     int
	}{
		{"empty", nil, 0, 1},
		{"garbage", []byte("not a dns message at all"), 0, 1},
		{"truncated", b[:len(b)/2], 0, 1},
		{"oversized", append(bytes.Clone(b), make([]byte, mdnsMaxPacket)...), 0, 1},
		{"a query", mutate(func(m *dns.Msg) { m.Response = false }), 0, 1},
		{"an error", mutate(func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }), 0, 1},
		{"no SRV", drop(dns.TypeSRV), 0, 1},
		{"no TXT", drop(dns.TypeTXT), 0, 1},
		{"no A: joined at the source", drop(dns.TypeA), 1, 0},
		{"no PTR: nothing", drop(dns.TypePTR), 0, 0},
		{"port 0", mutate(func(m *dns.Msg) {
			for _, rr := range m.Answer {
				if s, ok := rr.(*dns.SRV); ok {
					s.Port = 0
				}
			}
		}), 0, 1},
		{"bad TXT", mutate(func(m *dns.Msg) {
			for _, rr := range m.Answer {
				if x, ok := rr.(*dns.TXT); ok {
					x.Txt = []string{"v=1", "n=00"}
				}
			}
		}), 0, 1},
		{"another service", otherService(t), 0, 0},
		{"PTR to another domain", mutate(func(m *dns.Msg) {
			for _, rr := range m.Answer {
				if p, ok := rr.(*dns.PTR); ok {
					p.Ptr = "evil.example."
				}
			}
		}), 0, 0},
	}
	for _, c := range cases {
		answers, bad := parseMDNSResponse(c.b)
		if len(answers) != c.answers || bad != c.bad {
			t.Errorf("%s: got %d answers, %d bad; want %d, %d", c.name, len(answers), bad, c.answers, c.bad)
		}
	}

	// Many instances and addresses in one packet: bounded.
	var m dns.Msg
	m.Response = true
	m.Compress = true
	for i := range 200 {
		inst := fmt.Sprintf("i%d.%s", i, mdnsServiceName)
		host := fmt.Sprintf("h%d.local.", i)
		m.Answer = append(m.Answer,
			&dns.PTR{Hdr: dns.RR_Header{Name: mdnsServiceName, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: inst},
			&dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 1, Target: host},
			&dns.TXT{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120}, Txt: txt})
		for j := range 10 {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: host, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 120}, A: net.IPv4(10, 0, byte(i), byte(j))})
		}
	}
	big, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if len(big) > mdnsMaxPacket {
		if answers, bad := parseMDNSResponse(big); answers != nil || bad != 1 {
			t.Errorf("%d-byte packet: got %d answers, %d bad; want it dropped", len(big), len(answers), bad)
		}
	}
	answers, _ = parseMDNSResponse(mutate(func(mm *dns.Msg) { mm.Answer = append(mm.Answer, m.Answer...) }))
	if len(answers) > mdnsMaxEntries {
		t.Errorf("%d answers from one packet, at most %d", len(answers), mdnsMaxEntries)
	}
	for _, a := range answers {
		if len(a.addrs) > mdnsMaxAddrs {
			t.Errorf("%d addresses for %s, at most %d", len(a.addrs), a.instance, mdnsMaxAddrs)
		}
	}
}

func TestDiscoverJoinAddrs(t *testing.T) {
	_, lan, _ := net.ParseCIDR("10.99.0.0/24")
	nets := []*net.IPNet{lan}
	ip := net.ParseIP
	a := func(addrs ...string) mdnsAnswer {
		out := mdnsAnswer{port: 7946}
		for _, s := range addrs {
			out.addrs = append(out.addrs, ip(s))
		}
		return out
	}
	cases := []struct {
		name string
		a    mdnsAnswer
		src  string
		want []string
	}{
		{"source listed", a("192.168.1.5", "10.99.0.2"), "10.99.0.2", []string{"10.99.0.2:7946"}},
		{"no A record: the source", a(), "10.99.0.2", []string{"10.99.0.2:7946"}},
		{"source not listed: listed on-link", a("10.99.0.7", "172.17.0.1"), "10.99.0.2", []string{"10.99.0.7:7946"}},
		{"source not listed, none on-link", a("172.17.0.1"), "10.99.0.2", nil},
		{"loopback source", a(), "127.0.0.1", nil},
		{"no source", a("10.99.0.3"), "", []string{"10.99.0.3:7946"}},
		{"unusable listed", a("0.0.0.0", "224.0.0.251", "255.255.255.255", "127.0.0.1"), "", nil},
		{"IPv6 source", a(), "fe80::1", nil},
	}
	for _, c := range cases {
		got := mdnsJoinAddrs(c.a, ip(c.src), nets)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	many := a()
	for i := range 20 {
		many.addrs = append(many.addrs, net.IPv4(10, 99, 0, byte(10+i)))
	}
	if got := mdnsJoinAddrs(many, nil, nets); len(got) != mdnsMaxAddrs {
		t.Errorf("got %d addresses, want %d", len(got), mdnsMaxAddrs)
	}
}

// TestDiscoverJoinPolicy checks whom a round joins: not members, not
// addresses that failed lately, not instances joined lately, and a few per
// round only.
func TestDiscoverJoinPolicy(t *testing.T) {
	var joins [][]string
	fail := map[string]bool{"10.0.0.9:1": true}
	known := map[string]bool{"10.0.0.2:1": true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &Discoverer{ctx: ctx, failed: map[string]time.Time{}, joined: map[string]time.Time{},
		cfg: Config{Interval: time.Second, Logf: t.Logf, Now: time.Now,
			Known: func(a string) bool { return known[a] },
			Join: func(addrs []string) error {
				joins = append(joins, addrs)
				for _, a := range addrs {
					if fail[a] {
						return errors.New("refused")
					}
				}
				return nil
			}}}
	found := func(inst string, addrs ...string) *mdnsFound { return &mdnsFound{instance: inst, addrs: addrs} }

	d.join([]*mdnsFound{found("member", "10.0.0.2:1"), found("new", "10.0.0.3:1"), found("bad", "10.0.0.9:1")})
	want := [][]string{{"10.0.0.3:1"}, {"10.0.0.9:1"}}
	if fmt.Sprint(joins) != fmt.Sprint(want) {
		t.Fatalf("first round joined %v, want %v", joins, want)
	}
	if s := d.Stats(); s.Joined != 1 || s.Failed != 1 {
		t.Errorf("stats %+v, want 1 joined, 1 failed", s)
	}

	// Next round: "new" was joined lately, "bad" failed lately.
	joins = nil
	d.join([]*mdnsFound{found("new", "10.0.0.3:1"), found("bad", "10.0.0.9:1"), found("bad2", "10.0.0.9:1", "10.0.0.10:1")})
	if want := [][]string{{"10.0.0.10:1"}}; fmt.Sprint(joins) != fmt.Sprint(want) {
		t.Errorf("second round joined %v, want %v", joins, want)
	}

	// A few per round.
	joins = nil
	var many []*mdnsFound
	for i := range 3 * mdnsMaxJoins {
		many = append(many, found(fmt.Sprint("n", i), fmt.Sprintf("10.0.1.%d:1", i)))
	}
	d.join(many)
	if len(joins) != mdnsMaxJoins {
		t.Errorf("joined %d in a round, at most %d", len(joins), mdnsMaxJoins)
	}

	// Nothing once stopped.
	joins = nil
	cancel()
	d.join(many)
	if len(joins) != 0 {
		t.Errorf("joined %v after Close", joins)
	}
}

// TestDiscoverInterfaces checks that loopback is never chosen and that a
// bind address restricts the choice.
func TestDiscoverInterfaces(t *testing.T) {
	all, err := mdnsInterfaces("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if f.ifi.Flags&net.FlagLoopback != 0 {
			t.Errorf("loopback %s chosen", f.ifi.Name)
		}
		for _, ip := range f.ips {
			if ip.To4() == nil || ip.IsLoopback() {
				t.Errorf("%s: address %v advertised", f.ifi.Name, ip)
			}
		}
	}
	if got, _ := mdnsInterfaces("", net.IPv4(127, 0, 0, 1)); len(got) != 0 {
		t.Errorf("bound to 127.0.0.1: chose %v, want none (mDNS idle)", got)
	}
	if got, _ := mdnsInterfaces("lo", nil); len(got) != 0 {
		t.Errorf("interface lo: chose %v, want none", got)
	}
	if err := CheckInterface("no-such-if0"); err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Errorf("unknown interface: got %v", err)
	}
	if err := CheckInterface(""); err != nil {
		t.Errorf("every interface: got %v", err)
	}
}

func FuzzDiscoverParseResponse(f *testing.F) {
	txt := mdnsTXT(testKeyA, testNonce)
	svc, _ := mdns.NewMDNSService("noroshi-1", Service, mdnsDomain, "noroshi-1.local.", 7946, []net.IP{net.IPv4(10, 0, 0, 1)}, txt)
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Compress: true, Answer: svc.Records(dns.Question{Name: mdnsServiceName, Qtype: dns.TypePTR})}
	b, _ := m.Pack()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		answers, bad := parseMDNSResponse(b)
		if len(answers) > mdnsMaxEntries || bad > mdnsMaxEntries+1 {
			t.Fatalf("%d answers, %d bad", len(answers), bad)
		}
		for _, a := range answers {
			if a.port <= 0 || a.port > 65535 || len(a.nonce) != mdnsNonceSize || len(a.tag) != mdnsTagSize || len(a.addrs) > mdnsMaxAddrs {
				t.Fatalf("bad answer accepted: %+v", a)
			}
			mdnsJoinAddrs(a, net.IPv4(10, 0, 0, 1), nil)
		}
	})
}

// FuzzDiscoverTXT: the TXT parser never panics, and what it accepts
// encodes back to strings it reads as the same nonce and tag.
func FuzzDiscoverTXT(f *testing.F) {
	f.Add("v=1\nn=0102030405060708\nt=1112131415161718")
	f.Add("t=1112131415161718\nx=y\nn=0102030405060708\nv=1")
	f.Add("v=1\nn=01\nt=11")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fields := strings.Split(s, "\n")
		nonce, tag, err := parseMDNSTXT(fields)
		if err != nil {
			return
		}
		if len(nonce) != mdnsNonceSize || len(tag) != mdnsTagSize {
			t.Fatalf("nonce %x, tag %x accepted", nonce, tag)
		}
		n2, t2, err := parseMDNSTXT(encodeMDNSTXT(nonce, tag))
		if err != nil || !bytes.Equal(n2, nonce) || !bytes.Equal(t2, tag) {
			t.Fatalf("round trip: %x %x %v, want %x %x", n2, t2, err, nonce, tag)
		}
	})
}

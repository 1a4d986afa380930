package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

func TestParseAsset(t *testing.T) {
	ok := []struct {
		kind     AssetKind
		in, want string
	}{
		{AssetDomain, "Example.COM", "example.com"},
		{AssetDomain, "example.com.", "example.com"},
		{AssetDomain, "*.example.com", "example.com"},
		{AssetDomain, "venue-north[.]example", "venue-north.example"},
		{AssetDomain, "例え.jp", "xn--r8jz45g.jp"},
		{AssetDomain, "games.co.jp", "games.co.jp"},
		{AssetCIDR, "203.0.113.17", "203.0.113.17/32"},
		{AssetCIDR, "203.0.113.17/24", "203.0.113.0/24"},
		{AssetCIDR, "203.0.113[.]0/24", "203.0.113.0/24"},
		{AssetCIDR, "198.51.0.0/16", "198.51.0.0/16"},
		{AssetCIDR, "2001:DB8::1", "2001:db8::1/128"},
		{AssetCIDR, "2001:db8::/32", "2001:db8::/32"},
		{AssetCIDR, "::ffff:203.0.113.5", "203.0.113.5/32"},
		{AssetURL, "HTTPS://WWW.Example.com:443", "https://www.example.com/"},
		{AssetURL, "hxxps://www.example[.]com/app?x=1#y", "https://www.example.com/app"},
		{AssetURL, "http://203.0.113.9:8080/admin/", "http://203.0.113.9:8080/admin/"},
		{AssetURL, "https://[2001:db8::5]/x", "https://[2001:db8::5]/x"},
	}
	for _, c := range ok {
		got, err := ParseAsset(c.kind, c.in, " note ")
		if err != nil {
			t.Errorf("ParseAsset(%s, %q): %v", c.kind, c.in, err)
			continue
		}
		if got.Value != c.want || got.Kind != c.kind || got.Note != "note" {
			t.Errorf("ParseAsset(%s, %q) = %+v, want value %q", c.kind, c.in, got, c.want)
		}
		// Normal values stay as they are (read-time checks rely on it).
		if again, err := ParseAsset(got.Kind, got.Value, got.Note); err != nil || again != got {
			t.Errorf("ParseAsset(%s, %q) again = %+v, %v", got.Kind, got.Value, again, err)
		}
	}
	bad := []struct {
		kind   AssetKind
		in     string
		reason AssetReason
	}{
		{AssetCIDR, "0.0.0.0/0", AssetTooBroad},
		{AssetCIDR, "::/0", AssetTooBroad},
		{AssetCIDR, "198.50.0.0/15", AssetTooBroad},
		{AssetCIDR, "2001:db8::/31", AssetTooBroad},
		{AssetCIDR, "::ffff:0:0/95", AssetTooBroad},
		{AssetCIDR, "10.1.0.0/16", AssetNotPublic},
		{AssetCIDR, "192.168.1.1", AssetNotPublic},
		{AssetCIDR, "172.20.0.0/16", AssetNotPublic},
		{AssetCIDR, "127.0.0.1", AssetNotPublic},
		{AssetCIDR, "100.64.0.0/16", AssetNotPublic},
		{AssetCIDR, "224.0.0.0/16", AssetNotPublic},
		{AssetCIDR, "0.1.0.0/16", AssetNotPublic},
		{AssetCIDR, "::1", AssetNotPublic},
		{AssetCIDR, "fe80::1", AssetNotPublic},
		{AssetCIDR, "fd00::/48", AssetNotPublic},
		{AssetCIDR, "::/32", AssetNotPublic},
		{AssetCIDR, "fe80::1%eth0", AssetMalformed},
		{AssetCIDR, "example.com", AssetMalformed},
		{AssetCIDR, "203.0.113.0/33", AssetMalformed},
		{AssetDomain, "com", AssetPublicSuffix},
		{AssetDomain, "jp", AssetPublicSuffix},
		{AssetDomain, "co.jp", AssetPublicSuffix},
		{AssetDomain, "*.co.jp", AssetPublicSuffix},
		{AssetDomain, "github.io", AssetPublicSuffix},
		{AssetDomain, "203.0.113.5", AssetMalformed},
		{AssetDomain, "exa mple.com", AssetMalformed},
		{AssetDomain, "", AssetMalformed},
		{AssetDomain, "-bad-.example", AssetMalformed},
		{AssetDomain, strings.Repeat("a.", 130) + "com", AssetMalformed},
		{AssetURL, "ftp://example.com/", AssetMalformed},
		{AssetURL, "https://user:pw@example.com/", AssetMalformed},
		{AssetURL, "example.com/app", AssetMalformed},
		{AssetURL, "https://192.168.0.1/", AssetNotPublic},
		{AssetURL, "https://example.com/" + strings.Repeat("a", MaxAssetValue), AssetTooLong},
		{"host", "example.com", AssetUnknownKind},
	}
	for _, c := range bad {
		_, err := ParseAsset(c.kind, c.in, "")
		var ae *AssetError
		if !errors.As(err, &ae) || ae.Reason != c.reason {
			t.Errorf("ParseAsset(%s, %q) = %v, want reason %s", c.kind, c.in, err, c.reason)
			continue
		}
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseAsset(%s, %q): error %q is not one line wrapping ErrInvalid", c.kind, c.in, err)
		}
	}
	if _, err := ParseAsset(AssetDomain, "example.com", "two\nlines"); err == nil {
		t.Error("a note of two lines was taken")
	}
}

func TestParseAssetList(t *testing.T) {
	es, err := ParseAssetList("# Venue North\ncidr 203.0.113.0/24 ticket gates\n\ndomain Venue-North.example  main site, mail\nip 2001:db8:1::/48\ncidr 203.0.113.0/24 twice\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []AssetEntry{{AssetCIDR, "203.0.113.0/24", "ticket gates"}, {AssetDomain, "venue-north.example", "main site, mail"}, {AssetCIDR, "2001:db8:1::/48", ""}}
	if fmt.Sprint(es) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", es, want)
	}
	_, err = ParseAssetList("cidr 203.0.113.0/24\ndomain co.jp\n")
	var ae *AssetError
	if !errors.As(err, &ae) || ae.Line != 2 || ae.Reason != AssetPublicSuffix || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
	var b strings.Builder
	for i := 0; i <= MaxAssets; i++ {
		fmt.Fprintf(&b, "domain h%d.example.com\n", i)
	}
	if _, err := ParseAssetList(b.String()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d entries: %v", MaxAssets+1, err)
	}
}

// TestAssetMatching checks what falls inside what, on the index alone.
func TestAssetMatching(t *testing.T) {
	a, b := crypto.ID16{1}, crypto.ID16{2}
	ix := newAssetIndex([]orgAssets{
		{a, []AssetEntry{
			{AssetCIDR, "203.0.113.0/24", "gates"},
			{AssetCIDR, "198.51.100.17/32", ""},
			{AssetCIDR, "2001:db8:a::/48", ""},
			{AssetDomain, "example.com", ""},
			{AssetURL, "https://hosting.example.net/venue-a", "our pages at the host"},
			{AssetCIDR, "0.0.0.0/0", "a modified client wrote this"},
			{AssetDomain, "net", "and this"},
		}},
		{b, []AssetEntry{
			{AssetCIDR, "203.0.113.128/25", ""},
			{AssetDomain, "b.example.org", ""},
			{AssetURL, "http://hosting.example.net/venue-b/", ""},
		}},
	})
	cases := []struct {
		kind IndicatorKind
		v    string
		want string // orgs:assets matched, sorted
	}{
		{IndicatorIPv4, "203.0.113.17", "1:203.0.113.0/24"},
		{IndicatorIPv4, "203.0.113.0", "1:203.0.113.0/24"},
		{IndicatorIPv4, "203.0.113.127", "1:203.0.113.0/24"},
		{IndicatorIPv4, "203.0.113.128", "1:203.0.113.0/24 2:203.0.113.128/25"},
		{IndicatorIPv4, "203.0.113.255", "1:203.0.113.0/24 2:203.0.113.128/25"},
		{IndicatorIPv4, "203.0.112.255", ""},
		{IndicatorIPv4, "203.0.114.0", ""},
		{IndicatorIPv4, "198.51.100.17", "1:198.51.100.17/32"},
		{IndicatorIPv4, "198.51.100.18", ""},
		{IndicatorIPv4, "8.8.8.8", ""}, // 0.0.0.0/0 was dropped
		{IndicatorIPv6, "2001:db8:a::1", "1:2001:db8:a::/48"},
		{IndicatorIPv6, "2001:db8:a:ffff:ffff:ffff:ffff:ffff", "1:2001:db8:a::/48"},
		{IndicatorIPv6, "2001:db8:b::1", ""},
		{IndicatorIPv6, "::ffff:203.0.113.9", "1:203.0.113.0/24"},
		{IndicatorDomain, "example.com", "1:example.com"},
		{IndicatorDomain, "www.example.com", "1:example.com"},
		{IndicatorDomain, "a.b.c.example.com", "1:example.com"},
		{IndicatorDomain, "evilexample.com", ""},
		{IndicatorDomain, "example.com.evil.test", ""},
		{IndicatorDomain, "example.co", ""},
		{IndicatorDomain, "b.example.org", "2:b.example.org"},
		{IndicatorDomain, "example.org", ""},
		{IndicatorDomain, "anything.net", ""}, // "net" was dropped
		{IndicatorEmail, "ceo@mail.example.com", "1:example.com"},
		{IndicatorEmail, "ceo@evilexample.com", ""},
		{IndicatorURL, "http://www.example.com/login", "1:example.com"},
		{IndicatorURL, "https://EXAMPLE.com:8443/x", "1:example.com"},
		{IndicatorURL, "http://203.0.113.200/shell.php", "1:203.0.113.0/24 2:203.0.113.128/25"},
		{IndicatorURL, "http://[2001:db8:a::5]/x", "1:2001:db8:a::/48"},
		{IndicatorURL, "https://hosting.example.net/venue-a", "1:https://hosting.example.net/venue-a"},
		{IndicatorURL, "http://hosting.example.net/venue-a/login?x=1", "1:https://hosting.example.net/venue-a"},
		{IndicatorURL, "https://hosting.example.net/venue-abc", ""},
		{IndicatorURL, "https://hosting.example.net/", ""},
		{IndicatorURL, "https://hosting.example.net:8443/venue-a", ""},
		{IndicatorURL, "https://hosting.example.net/venue-b/", "2:http://hosting.example.net/venue-b/"},
		{IndicatorURL, "https://hosting.example.net/venue-b", ""},
		{IndicatorURL, "ftp://files.example.com/x", "1:example.com"},
		{IndicatorSHA256, strings.Repeat("a", 64), ""},
	}
	for _, c := range cases {
		var got []string
		for _, r := range ix.match(Indicator{Kind: c.kind, Value: c.v}) {
			got = append(got, fmt.Sprintf("%d:%s", r.org[0], r.entry.Value))
		}
		sortStrings(got)
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s %s: got %q, want %q", c.kind, c.v, g, c.want)
		}
	}
	// A post: structured indicators and those in its text, each once.
	ms := ix.matchPost(&PostRecord{Indicators: []Indicator{{IndicatorIPv4, "203.0.113.17"}},
		Body: "Scans from 198.51.100[.]17 and 203.0.113.17 against hxxps://www.example[.]com/"})
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s>%s", m.in.Value, m.ref.entry.Value))
	}
	sortStrings(got)
	want := "198.51.100.17>198.51.100.17/32 203.0.113.17>203.0.113.0/24 https://www.example.com/>example.com www.example.com>example.com"
	if strings.Join(got, " ") != want {
		t.Errorf("post matches: got %v, want %s", got, want)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// assetCommunity is the test community with a plain member of Venue North
// and an org admin of Metro Power.
func assetCommunity(t *testing.T) (*community, *App, *App) {
	t.Helper()
	c := newCommunity(t)
	venueMember := c.join(t, "Venue Member", "Venue North", crypto.RoleMember)
	powerAdmin := c.join(t, "Power Admin", "Metro Power", crypto.RoleOrgAdmin)
	c.all = append(c.all, venueMember, powerAdmin)
	c.sync(t)
	return c, venueMember, powerAdmin
}

func orgID(t *testing.T, a *App, name string) crypto.ID16 {
	t.Helper()
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, err := a.view.findOrg(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// writeRawAssets writes a register as a modified client would: no checks.
func writeRawAssets(t *testing.T, a *App, org crypto.ID16, es []AssetEntry) {
	t.Helper()
	a.mu.RLock()
	aud, err := a.orgAudience(org)
	a.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.write(a.sealed(aud, &Record{Assets: &AssetsRecord{Org: org, Entries: es}})); err != nil {
		t.Fatal(err)
	}
}

func concernText(ms []AssetMatch) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.OrgName+":"+m.Indicator.Value+">"+m.Asset.Value)
	}
	sortStrings(s)
	return strings.Join(s, " ")
}

// TestThreatAssetRegisterSealedToOrg: an indicator in Venue North's
// register is flagged on Venue North's devices and the coordinator's, and
// to no one else: Metro Power cannot even open the register (sealed, not
// filtered).
func TestThreatAssetRegisterSealedToOrg(t *testing.T) {
	c, venueMember, _ := assetCommunity(t)
	venue := orgID(t, c.centre, "Venue North")
	reg, err := c.venue.AddAsset("", AssetEntry{Kind: AssetCIDR, Value: "203.0.113.0/24", Note: "ticket gates"})
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Entries) != 1 || reg.OrgName != "Venue North" || !reg.CanEdit {
		t.Fatalf("register: %+v", reg)
	}
	if _, err := c.centre.AddAsset("Metro Power", AssetEntry{Kind: AssetDomain, Value: "metro-power.example"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "Scanning seen",
		Body: "Scans against 203.0.113.17 since 02:10.", Indicators: []string{"198.51.100.99"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)

	want := "Venue North:203.0.113.17>203.0.113.0/24"
	for _, a := range []*App{c.venue, venueMember, c.centre} {
		d, err := a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := concernText(d.Concerns); got != want {
			t.Errorf("%s: concerns %q, want %q", a.dev.Name, got, want)
		}
	}
	for _, a := range []*App{c.power, c.rail} {
		d, err := a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Concerns) != 0 {
			t.Errorf("%s: concerns %v, want none", a.dev.Name, d.Concerns)
		}
		if ms := a.AssetMatches(); len(ms) != 0 {
			t.Errorf("%s: AssetMatches %v, want none", a.dev.Name, ms)
		}
		a.mu.RLock()
		n := len(a.view.assets[venue])
		a.mu.RUnlock()
		if n != 0 {
			t.Errorf("%s opened Venue North's register", a.dev.Name)
		}
		if _, err := a.Assets("Venue North"); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s read Venue North's register: %v", a.dev.Name, err)
		}
	}
	for _, a := range []*App{c.venue, venueMember} {
		ms := a.AssetMatches()
		if len(ms) != 1 || ms[0].Post.ID != p.ID || concernText(ms[0].Matches) != want {
			t.Errorf("%s: AssetMatches %+v", a.dev.Name, ms)
		}
	}
	// The coordinator's own organisation registered nothing.
	if ms := c.centre.AssetMatches(); len(ms) != 0 {
		t.Errorf("centre AssetMatches %+v", ms)
	}
	// The member reads its register but does not edit it.
	r, err := venueMember.Assets("")
	if err != nil || len(r.Entries) != 1 || r.CanEdit {
		t.Errorf("member's view of its register: %+v, %v", r, err)
	}
	all := c.centre.AllAssets()
	if len(all) != 2 || all[0].OrgName != "Metro Power" || all[1].OrgName != "Venue North" {
		t.Errorf("centre's registers: %+v", all)
	}
}

// TestThreatAssetRegisterWrittenByOthersIgnored: a member (not admin) of
// Venue North writing its register, or an admin of Metro Power writing it,
// is refused through the API and ignored when a modified client writes it.
func TestThreatAssetRegisterWrittenByOthersIgnored(t *testing.T) {
	c, venueMember, powerAdmin := assetCommunity(t)
	venue := orgID(t, c.centre, "Venue North")
	if _, err := c.venue.SetAssets("", []AssetEntry{{Kind: AssetDomain, Value: "venue-north.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := venueMember.AddAsset("", AssetEntry{Kind: AssetDomain, Value: "attacker.example"}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("member add: %v", err)
	}
	if _, err := powerAdmin.AddAsset("Venue North", AssetEntry{Kind: AssetDomain, Value: "attacker.example"}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("other org's admin add: %v", err)
	}
	c.clock.Advance(time.Minute)
	writeRawAssets(t, venueMember, venue, []AssetEntry{{Kind: AssetDomain, Value: "member.example"}})
	c.clock.Advance(time.Minute)
	writeRawAssets(t, powerAdmin, venue, []AssetEntry{{Kind: AssetDomain, Value: "power.example"}})
	c.sync(t)
	for _, a := range []*App{c.venue, venueMember, c.centre} {
		r, err := a.Assets("Venue North")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Entries) != 1 || r.Entries[0].Value != "venue-north.example" || r.By != "Venue Lead" {
			t.Errorf("%s: register %+v, want Venue Lead's", a.dev.Name, r)
		}
	}
	// A coordinator may write any organisation's register; latest wins.
	c.clock.Advance(time.Minute)
	if _, err := c.centre.SetAssets("Venue North", []AssetEntry{{Kind: AssetCIDR, Value: "203.0.113.0/24"}}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if r, _ := c.venue.Assets(""); len(r.Entries) != 1 || r.Entries[0].Value != "203.0.113.0/24" {
		t.Errorf("after the coordinator's write: %+v", r)
	}
}

// TestThreatAssetRegisterTooBroadIgnored: 0.0.0.0/0 and "com" are refused
// by the API, and dropped when a modified client wrote them.
func TestThreatAssetRegisterTooBroadIgnored(t *testing.T) {
	c := newCommunity(t)
	venue := orgID(t, c.centre, "Venue North")
	for _, es := range [][]AssetEntry{
		{{Kind: AssetCIDR, Value: "203.0.113.0/24"}, {Kind: AssetCIDR, Value: "0.0.0.0/0"}},
		{{Kind: AssetDomain, Value: "com"}},
	} {
		_, err := c.venue.SetAssets("", es)
		var ae *AssetError
		if !errors.As(err, &ae) {
			t.Fatalf("SetAssets(%v): %v", es, err)
		}
	}
	if r, _ := c.venue.Assets(""); len(r.Entries) != 0 || r.Updated != nil {
		t.Fatalf("a refused register was written: %+v", r)
	}
	writeRawAssets(t, c.venue, venue, []AssetEntry{
		{Kind: AssetCIDR, Value: "0.0.0.0/0"}, {Kind: AssetCIDR, Value: "::/0"}, {Kind: AssetDomain, Value: "com"},
		{Kind: AssetDomain, Value: "Venue-North.example"}, {Kind: "host", Value: "x"},
		{Kind: AssetCIDR, Value: "203.0.113.0/24"},
	})
	p, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "Lots of addresses",
		Indicators: []string{"8.8.8.8", "2001:4860::8888", "evil.com", "198.51.100.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	r, _ := c.venue.Assets("")
	// A value not in normal form is normalised; what breaks the rules is
	// dropped and counted.
	if len(r.Entries) != 2 || r.Entries[0].Value != "venue-north.example" || r.Entries[1].Value != "203.0.113.0/24" || r.Dropped != 4 {
		t.Fatalf("register read: %+v", r)
	}
	for _, a := range []*App{c.venue, c.centre} {
		d, err := a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Concerns) != 0 {
			t.Errorf("%s: concerns %v", a.dev.Name, d.Concerns)
		}
	}
	if n := c.centre.NoticeCandidates(); len(n) != 0 {
		t.Errorf("candidates %v", n)
	}
}

// TestNoticeCandidates: a coordinator is offered a notice per (post,
// organisation); once sent (an observation post About the post), it is
// not offered again, the organisation reads it, and the count is kept.
func TestNoticeCandidates(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.venue.SetAssets("", []AssetEntry{{Kind: AssetCIDR, Value: "203.0.113.0/24", Note: "ticket gates"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.SetAssets("Metro Power", []AssetEntry{{Kind: AssetDomain, Value: "metro-power.example"}}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	p1, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "Phishing kit",
		Indicators: []string{"203.0.113.17", "hxxps://login.metro-power[.]example/owa"}})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPAmber, ToOrgs: []string{"Metro Power"}, Title: "Secret list",
		Indicators: []string{"203.0.113.99"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPRed, ToMembers: []string{"Duty Officer"}, Title: "Red",
		Indicators: []string{"203.0.113.98"}}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if n := c.venue.NoticeCandidates(); len(n) != 0 {
		t.Fatalf("a non-coordinator got candidates: %v", n)
	}
	cands := c.centre.NoticeCandidates()
	var got []string
	for _, n := range cands {
		got = append(got, n.Post.Title+">"+n.OrgName+":"+concernText(n.Matches))
	}
	want := []string{
		"Secret list>Venue North:Venue North:203.0.113.99>203.0.113.0/24",
		"Phishing kit>Metro Power:Metro Power:https://login.metro-power.example/owa>metro-power.example",
		"Phishing kit>Venue North:Venue North:203.0.113.17>203.0.113.0/24",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("candidates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The draft: observation channel, to Venue North, AMBER, About p1.
	if _, err := c.venue.NoticeDraft(p1.ID, "Venue North"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("non-coordinator draft: %v", err)
	}
	if _, err := c.centre.NoticeDraft(p1.ID, "Capital Railways"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("draft for an organisation not concerned: %v", err)
	}
	d, err := c.centre.NoticeDraft(p1.ID, "Venue North")
	if err != nil {
		t.Fatal(err)
	}
	if d.Channel != ChannelObservation || d.Type != TypeObservation || d.Tag != TagCaution || d.TLP != TLPAmber ||
		len(d.ToOrgs) != 1 || d.About != p1.ID {
		t.Fatalf("draft: %+v", d)
	}
	for _, s := range []string{"203.0.113[.]17", "203.0.113.0/24", "ticket gates", "Phishing kit", "登録アドレス", "registered address", p1.ID[:12]} {
		if !strings.Contains(d.Title+d.Body, s) {
			t.Errorf("draft lacks %q:\n%s\n%s", s, d.Title, d.Body)
		}
	}
	if strings.Contains(d.Title+d.Body, "203.0.113.17") {
		t.Errorf("draft names the indicator live:\n%s", d.Body)
	}
	// p2 went to Metro Power only: its title is not told to Venue North.
	d2, err := c.centre.NoticeDraft(p2.ID, "Venue North")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d2.Body, "Secret list") {
		t.Errorf("draft tells Venue North the title of a post it may not read:\n%s", d2.Body)
	}
	// About is only for the observation channel.
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "x", About: p1.ID}); !errors.Is(err, ErrInvalid) {
		t.Errorf("About on a pro post: %v", err)
	}
	n, err := c.centre.Post(d)
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, x := range c.centre.NoticeCandidates() {
		if x.Post.ID == p1.ID && x.OrgName == "Venue North" {
			t.Fatalf("noticed pair still a candidate: %+v", x)
		}
	}
	if got := len(c.centre.NoticeCandidates()); got != 2 {
		t.Errorf("%d candidates left, want 2", got)
	}
	sd, _ := c.centre.Show(p1.ID)
	for _, m := range sd.Concerns {
		if m.OrgName == "Venue North" && (!m.Noticed || m.CanNotice) {
			t.Errorf("concern after the notice: %+v", m)
		}
		if m.OrgName == "Metro Power" && (m.Noticed || !m.CanNotice) {
			t.Errorf("concern not noticed: %+v", m)
		}
	}
	// Venue North reads the notice; Metro Power cannot.
	if _, err := c.power.Show(n.ID); err == nil {
		t.Error("Metro Power read Venue North's notice")
	}
	if _, err := c.venue.MarkRead(n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.venue.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	ns := c.centre.ObservationNotices()
	if len(ns) != 1 || ns[0].ID != n.ID || ns[0].About != p1.ID || ns[0].OrgName != "Venue North" || ns[0].FirstRead == nil {
		t.Fatalf("notices: %+v", ns)
	}
	if vs := c.venue.ObservationNotices(); len(vs) != 1 {
		t.Errorf("Venue North's notices: %+v", vs)
	}
	if ps := c.power.ObservationNotices(); len(ps) != 0 {
		t.Errorf("Metro Power's notices: %+v", ps)
	}
}

// FuzzParseAsset: no panic, and what is accepted is normal (parsing it again
// gives it back) and within the rules.
func FuzzParseAsset(f *testing.F) {
	for _, s := range []string{"203.0.113.0/24", "example.com", "https://www.example.com/app", "0.0.0.0/0", "co.jp", "例え.jp", "::ffff:1.2.3.4/120", "hxxp://x[.]example/", "2001:db8::/32"} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
		f.Add(uint8(2), s)
	}
	f.Fuzz(func(t *testing.T, k uint8, v string) {
		kind := AssetKinds[int(k)%len(AssetKinds)]
		e, err := ParseAsset(kind, v, "")
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		again, err := ParseAsset(e.Kind, e.Value, e.Note)
		if err != nil || again != e {
			t.Fatalf("ParseAsset(%s, %q) = %q, not normal: %q, %v", kind, v, e.Value, again.Value, err)
		}
		if len(e.Value) > MaxAssetValue {
			t.Fatalf("value of %d bytes", len(e.Value))
		}
		ix := newAssetIndex([]orgAssets{{crypto.ID16{1}, []AssetEntry{e}}})
		if ix.size != 1 {
			t.Fatalf("accepted entry %+v not indexed", e)
		}
		for _, in := range []Indicator{{IndicatorIPv4, "8.8.8.8"}, {IndicatorIPv6, "2606:4700::1111"}, {IndicatorDomain, "google.com"}} {
			if len(ix.match(in)) != 0 && !strings.Contains(e.Value, "8.8") && !strings.Contains(e.Value, "google") && !strings.Contains(e.Value, "2606") {
				t.Fatalf("%+v matches %v", e, in)
			}
		}
	})
}

// BenchmarkAssetMatch matches the posts of a Games-sized community (8,000
// posts, three structured indicators and a few in the text each) against
// 330 organisations' registers of ten assets each; it reports the time per
// post.
func BenchmarkAssetMatch(b *testing.B) {
	var regs []orgAssets
	for o := 0; o < 330; o++ {
		org := crypto.ID16{byte(o), byte(o >> 8), 1}
		var es []AssetEntry
		for i := 0; i < 4; i++ {
			es = append(es, AssetEntry{Kind: AssetCIDR, Value: fmt.Sprintf("%d.%d.%d.0/24", 20+o%100, o/100*10+i, i*7)})
		}
		es = append(es, AssetEntry{Kind: AssetCIDR, Value: fmt.Sprintf("2001:db8:%x::/48", o)})
		for i := 0; i < 4; i++ {
			es = append(es, AssetEntry{Kind: AssetDomain, Value: fmt.Sprintf("org%d-%d.example", o, i)})
		}
		es = append(es, AssetEntry{Kind: AssetURL, Value: fmt.Sprintf("https://hosting.example.net/org%d/", o)})
		regs = append(regs, orgAssets{org, es})
	}
	ix := newAssetIndex(regs)
	if ix.size != 3300 {
		b.Fatalf("indexed %d assets", ix.size)
	}
	posts := make([]*PostRecord, 8000)
	for i := range posts {
		posts[i] = &PostRecord{Indicators: []Indicator{
			{IndicatorIPv4, fmt.Sprintf("%d.%d.%d.%d", 20+i%200, i%7, i%30, i%250)},
			{IndicatorDomain, fmt.Sprintf("www.org%d-%d.example", i%400, i%5)},
			{IndicatorURL, fmt.Sprintf("https://hosting.example.net/org%d/login", i%500)},
		}, Body: fmt.Sprintf("Scans from 198.51.100[.]%d against hxxps://portal.org%d-1[.]example/ seen since 02:10. Check your logs.", i%250, i%330)}
	}
	b.ResetTimer()
	hits := 0
	for n := 0; n < b.N; n++ {
		for _, p := range posts {
			hits += len(ix.matchPost(p))
		}
	}
	b.StopTimer()
	perPost := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(posts))
	b.ReportMetric(perPost, "ns/post")
	b.ReportMetric(float64(hits)/float64(b.N), "matches/op")
}

// TestAssetsDemo: the demo's registers, post and notice, as buildDemo adds
// them with demoAssets.
func TestAssetsDemo(t *testing.T) {
	c := newCommunity(t)
	members := map[string]*App{"Venue Lead": c.venue}
	for _, p := range []struct {
		name, org string
		role      crypto.Role
	}{{"Railway IT Lead", "Capital Railways", crypto.RoleOrgAdmin}, {"CSIRT Analyst", "Metro Power", crypto.RoleMember}} {
		members[p.name] = c.join(t, p.name, p.org, p.role)
	}
	for _, o := range []string{"Organising Committee"} {
		if _, err := c.centre.AddOrg(o, KindOrganising, ""); err != nil {
			t.Fatal(err)
		}
	}
	members["Committee Security"] = c.join(t, "Committee Security", "Organising Committee", crypto.RoleOrgAdmin)
	c.all = append(c.all, members["Railway IT Lead"], members["CSIRT Analyst"], members["Committee Security"])
	c.sync(t)
	if err := demoAssets(c.centre, members); err != nil {
		t.Fatal(err)
	}
	if n := c.centre.ObservationNotices(); len(n) != 1 || n[0].OrgName != "Venue North" || n[0].FirstRead == nil {
		t.Fatalf("notices: %+v", n)
	}
	cands := c.centre.NoticeCandidates()
	if len(cands) != 1 || cands[0].OrgName != "Metro Power" {
		t.Fatalf("candidates: %+v", cands)
	}
	if ms := c.venue.AssetMatches(); len(ms) != 1 {
		t.Fatalf("Venue North's matches: %+v", ms)
	}
}

// BenchmarkAssetNoticeCandidates lists a coordinator's notice candidates
// in a home of 10,000 posts (set NOROSHI_BENCH_POSTS for another size; a
// copy of the shared bench home, with Venue North's register added: one
// post in sixteen falls inside it). It reports the first listing (every
// post opened and matched) and the next ones (only the posts that concern
// a register are opened again), per post.
func BenchmarkAssetNoticeCandidates(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("NOROSHI_BENCH_POSTS")); err == nil && v > 0 {
		n = v
	}
	src := benchHome(b, n)
	home := filepath.Join(b.TempDir(), "home")
	if err := os.CopyFS(home, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	a := benchOpen(b, home)
	defer a.Close()
	if _, err := a.SetAssets("Venue North", []AssetEntry{{AssetCIDR, "203.0.113.0/28", "gates"}, {AssetDomain, "venue-north.example", ""}}); err != nil {
		b.Fatal(err)
	}
	posts := 0
	a.read(func(t *vtx) error {
		posts = count(t.b(vbFeed), nil)
		return nil
	})
	start := time.Now()
	cands := len(a.NoticeCandidates())
	first := time.Since(start)
	for b.Loop() {
		cands = len(a.NoticeCandidates())
	}
	b.ReportMetric(float64(first.Microseconds())/float64(posts), "first-µs/post")
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*posts), "µs/post")
	b.ReportMetric(float64(cands), "candidates")
	b.ReportMetric(float64(posts), "posts")
}

// TestThreatNoticeNotSuppressedByMember: an observation post that is not a
// coordinator's (a modified client's) neither shows nor marks a post as
// noticed, so the coordinator is still offered the notice.
func TestThreatNoticeNotSuppressedByMember(t *testing.T) {
	c := newCommunity(t)
	venue := orgID(t, c.centre, "Venue North")
	if _, err := c.venue.SetAssets("", []AssetEntry{{Kind: AssetCIDR, Value: "203.0.113.0/24"}}); err != nil {
		t.Fatal(err)
	}
	p, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "Scan", Indicators: []string{"203.0.113.17"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	var id envelope.Hash
	if err := id.UnmarshalText([]byte(p.ID)); err != nil {
		t.Fatal(err)
	}
	c.venue.mu.RLock()
	aud, err := c.venue.orgAudience(venue)
	c.venue.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	fake := &PostRecord{Type: TypeObservation, Tag: TagCaution, TLP: TLPAmber, Channel: ChannelObservation, Title: "Nothing to see",
		ToOrgs: []crypto.ID16{venue}, About: id}
	if _, err := c.venue.write(c.venue.sealed(aud, &Record{Post: fake})); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if cands := c.centre.NoticeCandidates(); len(cands) != 1 || cands[0].Post.ID != p.ID {
		t.Fatalf("candidates after a member's fake notice: %+v", cands)
	}
	if ns := c.centre.ObservationNotices(); len(ns) != 0 {
		t.Fatalf("a member's observation post counts as a notice: %+v", ns)
	}
}

package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// The asset register: each organisation's public assets (domains, URLs,
// address ranges), one record per organisation, sealed to the organisation
// and the coordinators (orgAudience). The latest by clock wins among the
// records whose author may write it (the organisation's admins and the
// coordinators, judged against the trust state of the whole set when read).
// Entries are checked when written and again when read, so a record a
// modified client wrote cannot register "0.0.0.0/0" or "com" and so concern
// every post.
//
// A post's indicator concerns an organisation when it falls inside one of
// its registered assets:
//
//	domain  the domain and every subdomain, by whole labels ("example.com"
//	        covers "www.example.com", not "evilexample.com"); an e-mail
//	        address by its domain, a URL by its host
//	url     URLs of the same host and port whose path starts with the
//	        registered path at a "/" boundary; http and https alike
//	cidr    addresses inside the range, and URLs whose host is one
//
// Rules (checked by ParseAsset):
//
//   - a domain is not a public suffix ("jp", "co.jp", "github.io": it would
//     cover every site registered under it); it is stored in lower case,
//     an internationalised name in its ASCII (xn--) form;
//   - a range is at most a /16 (IPv4) or a /32 (IPv6, a provider's whole
//     allocation): wider would flag other organisations' addresses; a bare
//     address is a /32 or /128;
//   - a range holds only public unicast addresses: private (10/8,
//     172.16/12, 192.168/16, fc00::/7), shared (100.64/10), loopback,
//     link-local, multicast, "this network" (0/8) and reserved (240/4)
//     ranges are refused: every organisation has them, so they concern
//     nobody in particular. The documentation ranges (192.0.2.0/24,
//     198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are accepted, for
//     exercises and the demo;
//   - at most MaxAssets entries, each value at most MaxAssetValue bytes, a
//     note one line of at most MaxAssetNote bytes.

// Budgets of a register.
const (
	MaxAssets     = 1000
	MaxAssetValue = 2048
	MaxAssetNote  = 200
	// MinPrefixV4 and MinPrefixV6 are the widest ranges a register holds.
	MinPrefixV4 = 16
	MinPrefixV6 = 32
	maxDomain   = 253
)

// AssetsRecord is an organisation's whole register of public assets
// (domains, URLs, address ranges), sealed to the organisation and the
// coordinators; the latest by clock wins. Its organisation's admins and the
// coordinators write it.
type AssetsRecord struct {
	Org     crypto.ID16  `json:"org"`
	Entries []AssetEntry `json:"entries"`
}

// AssetEntry is one registered asset.
type AssetEntry struct {
	Kind  AssetKind `json:"kind"`
	Value string    `json:"value"`
	Note  string    `json:"note,omitempty"`
}

// AssetKind is what an asset entry names.
type AssetKind string

// Asset kinds: a domain (and its subdomains), a URL (its host and path),
// an address range in CIDR notation (an address alone is a /32 or /128).
const (
	AssetDomain AssetKind = "domain"
	AssetURL    AssetKind = "url"
	AssetCIDR   AssetKind = "cidr"
)

// AssetKinds lists the kinds of asset.
var AssetKinds = []AssetKind{AssetDomain, AssetURL, AssetCIDR}

type assetsState struct {
	rec *AssetsRecord
	meta
}

// AssetReason says why an asset entry is refused.
type AssetReason string

// Reasons an asset entry is refused.
const (
	AssetUnknownKind  AssetReason = "unknown-kind"  // not domain, url or cidr
	AssetMalformed    AssetReason = "malformed"     // not a domain, URL or range
	AssetTooBroad     AssetReason = "too-broad"     // a range wider than /16 or /32
	AssetPublicSuffix AssetReason = "public-suffix" // a public suffix ("co.jp")
	AssetNotPublic    AssetReason = "not-public"    // a private, loopback or reserved range
	AssetTooLong      AssetReason = "too-long"      // a value or note over its budget
	AssetTooMany      AssetReason = "too-many"      // more than MaxAssets entries
)

// AssetReasons lists every reason, for front ends to phrase each.
var AssetReasons = []AssetReason{AssetUnknownKind, AssetMalformed, AssetTooBroad, AssetPublicSuffix, AssetNotPublic, AssetTooLong, AssetTooMany}

// AssetError says which asset entry was refused and why. It unwraps to
// ErrInvalid (ErrTooLarge for AssetTooMany). Front ends phrase it from its
// fields; Error is a plain English sentence.
type AssetError struct {
	// Line is the entry's line in a list (1 is the first), 0 otherwise.
	Line   int
	Kind   AssetKind
	Value  string
	Reason AssetReason
	// Detail is a technical cause (a parse error).
	Detail string
}

// Unwrap returns the sentinel.
func (e *AssetError) Unwrap() error {
	if e.Reason == AssetTooMany {
		return ErrTooLarge
	}
	return ErrInvalid
}

// Error phrases the refusal in English, with what to do.
func (e *AssetError) Error() string {
	msg := e.Unwrap().Error() + ": "
	if e.Line > 0 {
		msg += fmt.Sprintf("line %d: ", e.Line)
	}
	return msg + e.Sentence()
}

// Sentence is Error without its sentinel and line.
func (e *AssetError) Sentence() string {
	v := clip(e.Value, 80)
	var s string
	switch e.Reason {
	case AssetUnknownKind:
		s = fmt.Sprintf("unknown asset kind %q: use domain, url or cidr", v)
	case AssetMalformed:
		switch e.Kind {
		case AssetDomain:
			s = fmt.Sprintf("%q is not a domain name: give one such as example.com (an address goes as cidr)", v)
		case AssetURL:
			s = fmt.Sprintf("%q is not an http or https URL with a host: give one such as https://www.example.com/app", v)
		default:
			s = fmt.Sprintf("%q is not an address or range: give one such as 203.0.113.0/24, 203.0.113.17 or 2001:db8::/48", v)
		}
	case AssetTooBroad:
		s = fmt.Sprintf("%s covers too much: register ranges of /%d or narrower (IPv4), /%d or narrower (IPv6)", v, MinPrefixV4, MinPrefixV6)
	case AssetPublicSuffix:
		s = fmt.Sprintf("%s is a public suffix shared by many organisations: register your own domain under it", v)
	case AssetNotPublic:
		s = fmt.Sprintf("%s is a private, loopback, multicast or reserved range that every organisation has: register public addresses only", v)
	case AssetTooLong:
		s = fmt.Sprintf("an asset is at most %d bytes and its note one line of at most %d bytes", MaxAssetValue, MaxAssetNote)
	case AssetTooMany:
		s = fmt.Sprintf("a register holds at most %d entries: register ranges rather than single addresses", MaxAssets)
	default:
		s = fmt.Sprintf("asset %q: %s", v, e.Reason)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// ParseAssetKind reads an asset kind: domain, url or cidr ("ip", "range"
// and "address" are cidr).
func ParseAssetKind(s string) (AssetKind, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "domain", "url", "cidr":
		return AssetKind(k), nil
	case "ip", "range", "address", "addr", "net":
		return AssetCIDR, nil
	}
	return "", &AssetError{Value: s, Reason: AssetUnknownKind}
}

// ParseAsset checks an asset entry and returns it normalised: a domain in
// lower case and ASCII (IDNA), a URL as scheme://host[:port]/path (query and
// fragment dropped, default port dropped), a range masked in CIDR notation
// (an address alone as /32 or /128). Defanged values are accepted. See the
// rules at the top of this file.
func ParseAsset(kind AssetKind, value, note string) (AssetEntry, error) {
	fail := func(r AssetReason, detail string) (AssetEntry, error) {
		return AssetEntry{}, &AssetError{Kind: kind, Value: value, Reason: r, Detail: detail}
	}
	note = strings.TrimSpace(note)
	if len(note) > MaxAssetNote || strings.ContainsAny(note, "\r\n") || !utf8.ValidString(note) {
		return fail(AssetTooLong, "")
	}
	v := strings.TrimSpace(Refang(value))
	if len(v) > MaxAssetValue {
		return fail(AssetTooLong, "")
	}
	if v == "" || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fail(AssetMalformed, "")
	}
	switch kind {
	case AssetDomain:
		d, r := normDomain(v)
		if r != "" {
			return fail(r, "")
		}
		return AssetEntry{Kind: kind, Value: d, Note: note}, nil
	case AssetURL:
		u, r := normURL(v)
		if r != "" {
			return fail(r, "")
		}
		return AssetEntry{Kind: kind, Value: u, Note: note}, nil
	case AssetCIDR:
		p, r := normPrefix(v)
		if r != "" {
			return fail(r, "")
		}
		return AssetEntry{Kind: kind, Value: p.String(), Note: note}, nil
	}
	return AssetEntry{}, &AssetError{Value: string(kind), Reason: AssetUnknownKind}
}

// hostName returns a host name in lower-case ASCII, "" when it is not one.
func hostName(v string) string {
	v = strings.TrimSuffix(strings.ToLower(v), ".")
	if !isASCII(v) {
		a, err := idna.Lookup.ToASCII(v)
		if err != nil {
			return ""
		}
		v = a
	}
	if len(v) > maxDomain || !domainName.MatchString(v) {
		return ""
	}
	return v
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normDomain normalises a registered domain ("*.example.com" is
// example.com, which covers its subdomains anyway).
func normDomain(v string) (string, AssetReason) {
	v = strings.TrimPrefix(v, "*.")
	d := hostName(v)
	if d == "" {
		if l := strings.TrimSuffix(strings.ToLower(v), "."); l != "" && !strings.Contains(l, ".") && hostName(l+".example") != "" {
			return "", AssetPublicSuffix // a top-level domain alone
		}
		return "", AssetMalformed
	}
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		return "", AssetPublicSuffix
	}
	return d, ""
}

// normURL normalises a registered URL.
func normURL(v string) (string, AssetReason) {
	u, ok := parseSiteURL(v)
	if !ok {
		return "", AssetMalformed
	}
	if ip, err := netip.ParseAddr(u.host); err == nil {
		if r := publicAddr(netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())); r != "" {
			return "", r
		}
	}
	return u.scheme + "://" + u.hostport() + u.path, ""
}

// siteURL is a URL as registers compare it.
type siteURL struct {
	scheme, host, port, path string
}

func (u siteURL) hostport() string {
	h := u.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if u.port != "" {
		h += ":" + u.port
	}
	return h
}

// parseSiteURL reads an http or https URL: host in lower-case ASCII (or an
// address), default port dropped, escaped path ("/" when empty); query and
// fragment are dropped. User information is refused.
func parseSiteURL(v string) (siteURL, bool) {
	p, err := url.Parse(v)
	if err != nil || p.User != nil || p.Opaque != "" {
		return siteURL{}, false
	}
	u := siteURL{scheme: strings.ToLower(p.Scheme), port: p.Port(), path: p.EscapedPath()}
	if u.scheme != "http" && u.scheme != "https" {
		return siteURL{}, false
	}
	h := p.Hostname()
	if ip, err := netip.ParseAddr(h); err == nil && ip.Zone() == "" {
		u.host = ip.Unmap().String()
	} else if u.host = hostName(h); u.host == "" {
		return siteURL{}, false
	}
	if (u.scheme == "http" && u.port == "80") || (u.scheme == "https" && u.port == "443") {
		u.port = ""
	}
	if u.path == "" {
		u.path = "/"
	}
	return u, true
}

// notPublic are the ranges every organisation has, or nobody.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// normPrefix normalises a registered range.
func normPrefix(v string) (netip.Prefix, AssetReason) {
	var p netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if p, err = netip.ParsePrefix(v); err != nil {
			return p, AssetMalformed
		}
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return p, AssetMalformed
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return p, AssetTooBroad
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	if !p.IsValid() {
		return p, AssetMalformed
	}
	if (p.Addr().Is4() && p.Bits() < MinPrefixV4) || (p.Addr().Is6() && p.Bits() < MinPrefixV6) {
		return p, AssetTooBroad
	}
	return p, publicAddr(p)
}

// publicAddr refuses a range that overlaps one every organisation has.
func publicAddr(p netip.Prefix) AssetReason {
	for _, q := range notPublic {
		if p.Overlaps(q) {
			return AssetNotPublic
		}
	}
	return ""
}

// ParseAssetList reads a register as a file gives it: one entry a line,
// "kind value note..." (the note is the rest of the line, optional); blank
// lines and lines starting with # are skipped. It checks every entry and
// refuses the whole list at the first bad line (AssetError.Line).
func ParseAssetList(text string) ([]AssetEntry, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: the asset list is not UTF-8 text", ErrInvalid)
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxAssetValue+MaxAssetNote+64)
	var out []AssetEntry
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, &AssetError{Line: n, Value: line, Reason: AssetMalformed, Detail: "want: kind value [note]"}
		}
		kind, err := ParseAssetKind(f[0])
		if err != nil {
			return nil, atLine(err, n)
		}
		note := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(line, f[0])), f[1]))
		e, err := ParseAsset(kind, f[1], note)
		if err != nil {
			return nil, atLine(err, n)
		}
		out = append(out, e)
		if len(out) > MaxAssets {
			return nil, &AssetError{Line: n, Reason: AssetTooMany}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &AssetError{Line: n + 1, Reason: AssetTooLong}
	}
	return dedupeAssets(out), nil
}

// atLine says on which line of a list an entry was refused.
func atLine(err error, n int) error {
	var ae *AssetError
	if errors.As(err, &ae) {
		ae.Line = n
	}
	return err
}

// dedupeAssets keeps the first entry of each kind and value.
func dedupeAssets(es []AssetEntry) []AssetEntry {
	seen := map[[2]string]bool{}
	out := es[:0:0]
	for _, e := range es {
		k := [2]string{string(e.Kind), e.Value}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// cleanAssets checks a register's entries again as they are read: what a
// modified client wrote past the checks is dropped, and counted.
func cleanAssets(es []AssetEntry) (good []AssetEntry, dropped int) {
	for _, e := range es {
		if len(good) >= MaxAssets {
			dropped++
			continue
		}
		n, err := ParseAsset(e.Kind, e.Value, e.Note)
		if err != nil {
			dropped++
			continue
		}
		good = append(good, n)
	}
	before := len(good)
	good = dedupeAssets(good)
	return good, dropped + before - len(good)
}

// assetsOf returns the register of an organisation that counts: the latest
// by clock among those whose author may write it. The caller holds a.mu.
func (s *state) assetsOf(org crypto.ID16) (assetsState, bool) {
	return latest(s.assets[org], func(c assetsState) bool { return s.canAdminOrg(c.author, org) })
}

// AssetRegister is an organisation's register as this device reads it.
type AssetRegister struct {
	Org     string       `json:"org"`
	OrgName string       `json:"org_name"`
	Entries []AssetEntry `json:"entries"`
	// Dropped counts entries of the stored record that break the rules
	// (a modified client wrote them): they are ignored.
	Dropped int `json:"dropped,omitempty"`
	// Updated and By say when and by whom; zero when nothing is registered.
	Updated *time.Time `json:"updated,omitempty"`
	By      string     `json:"updated_by,omitempty"`
	// CanEdit: this device may write the register.
	CanEdit bool `json:"can_edit,omitempty"`
}

// assetScope lists the organisations whose registers this device takes
// into account: a coordinator every organisation's it holds, anyone else
// only its own organisation's (a register sealed to it by mistake concerns
// it not). The caller holds a.mu.
func (a *App) assetScope() []crypto.ID16 {
	v := a.viewer()
	if !v.active || v.m.Role == crypto.RoleRelay {
		return nil
	}
	if !v.coordinator() {
		return []crypto.ID16{v.m.Org}
	}
	out := make([]crypto.ID16, 0, len(a.view.assets))
	for org := range a.view.assets {
		if _, ok := a.view.org(org); ok {
			out = append(out, org)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// register reads one organisation's register. The caller holds a.mu.
func (a *App) register(org crypto.ID16) AssetRegister {
	r := AssetRegister{Org: org.String(), OrgName: a.view.orgName(org), Entries: []AssetEntry{},
		CanEdit: a.viewer().active && a.view.canAdminOrg(a.dev.ID(), org)}
	if c, ok := a.view.assetsOf(org); ok {
		r.Entries, r.Dropped = cleanAssets(c.rec.Entries)
		if r.Entries == nil {
			r.Entries = []AssetEntry{}
		}
		t := wallTime(c.clock)
		r.Updated, r.By = &t, a.view.deviceName(c.author)
	}
	return r
}

// Assets returns an organisation's asset register (org "" is this
// device's own). Its members and the coordinators read it.
func (a *App) Assets(org string) (AssetRegister, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, err := a.assetOrg(org, false)
	if err != nil {
		return AssetRegister{}, err
	}
	return a.register(id), nil
}

// AllAssets lists every register this device reads, by organisation name:
// its own organisation's, and on a coordinator every organisation that
// registered anything.
func (a *App) AllAssets() []AssetRegister {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []AssetRegister{}
	for _, org := range a.assetScope() {
		out = append(out, a.register(org))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgName < out[j].OrgName })
	return out
}

// assetOrg resolves the organisation of a register: "" is this device's
// own. Reading: its members and coordinators; writing: its admins and
// coordinators. The caller holds a.mu.
func (a *App) assetOrg(org string, write bool) (crypto.ID16, error) {
	me, err := a.me()
	if err != nil {
		return crypto.ID16{}, err
	}
	id := me.Org
	if strings.TrimSpace(org) != "" {
		if id, err = a.view.findOrg(org); err != nil {
			return id, err
		}
	}
	switch {
	case write && !a.view.canAdminOrg(a.dev.ID(), id):
		return id, fmt.Errorf("%w: only the organisation's admins and coordinators edit its asset register (your role: %s)", ErrNotAllowed, me.Role)
	case !write && me.Role != crypto.RoleCoordinator && id != me.Org:
		return id, fmt.Errorf("%w: an asset register is sealed to its organisation and the coordinators: you read your own organisation's only", ErrNotAllowed)
	}
	return id, nil
}

// SetAssets replaces an organisation's whole register (org "" is this
// device's own) with entries, all checked first: one bad entry refuses
// all. The organisation's admins and the coordinators may.
func (a *App) SetAssets(org string, entries []AssetEntry) (AssetRegister, error) {
	if len(entries) > MaxAssets {
		return AssetRegister{}, &AssetError{Reason: AssetTooMany}
	}
	clean := make([]AssetEntry, 0, len(entries))
	for i, e := range entries {
		n, err := ParseAsset(e.Kind, e.Value, e.Note)
		if err != nil {
			if len(entries) > 1 {
				err = atLine(err, i+1)
			}
			return AssetRegister{}, err
		}
		clean = append(clean, n)
	}
	return a.writeAssets(org, func([]AssetEntry) ([]AssetEntry, error) { return dedupeAssets(clean), nil })
}

// AddAsset adds one entry to a register (org "" is this device's own), or
// changes the note of an entry already there.
func (a *App) AddAsset(org string, e AssetEntry) (AssetRegister, error) {
	n, err := ParseAsset(e.Kind, e.Value, e.Note)
	if err != nil {
		return AssetRegister{}, err
	}
	return a.writeAssets(org, func(cur []AssetEntry) ([]AssetEntry, error) {
		for i, x := range cur {
			if x.Kind == n.Kind && x.Value == n.Value {
				cur[i].Note = n.Note
				return cur, nil
			}
		}
		if len(cur) >= MaxAssets {
			return nil, &AssetError{Reason: AssetTooMany}
		}
		return append(cur, n), nil
	})
}

// RemoveAsset removes the entries of a value (as registered, or as it
// would be registered under any kind) from a register.
func (a *App) RemoveAsset(org, value string) (AssetRegister, error) {
	want := map[string]bool{strings.TrimSpace(value): true}
	for _, k := range AssetKinds {
		if n, err := ParseAsset(k, value, ""); err == nil {
			want[n.Value] = true
		}
	}
	return a.writeAssets(org, func(cur []AssetEntry) ([]AssetEntry, error) {
		out := cur[:0]
		for _, x := range cur {
			if !want[x.Value] {
				out = append(out, x)
			}
		}
		if len(out) == len(cur) {
			return nil, fmt.Errorf("%w: %q is not in the register: see `noroshi assets list`", ErrNotFound, value)
		}
		return out, nil
	})
}

// writeAssets writes a register made by change from the current one.
func (a *App) writeAssets(org string, change func(cur []AssetEntry) ([]AssetEntry, error)) (AssetRegister, error) {
	a.mu.RLock()
	id, err := a.assetOrg(org, true)
	var cur []AssetEntry
	var aud crypto.Audience
	if err == nil {
		cur = append(cur, a.register(id).Entries...)
		aud, err = a.orgAudience(id)
	}
	a.mu.RUnlock()
	if err != nil {
		return AssetRegister{}, err
	}
	next, err := change(cur)
	if err != nil {
		return AssetRegister{}, err
	}
	if next == nil {
		next = []AssetEntry{}
	}
	if _, err := a.write(a.sealed(aud, &Record{Assets: &AssetsRecord{Org: id, Entries: next}})); err != nil {
		return AssetRegister{}, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.register(id), nil
}

// AssetMatch is one indicator of a post that falls inside an
// organisation's registered asset.
type AssetMatch struct {
	Org       string        `json:"org"`
	OrgName   string        `json:"org_name"`
	Indicator IndicatorView `json:"indicator"`
	Asset     AssetEntry    `json:"asset"`
	// Noticed: an observation notice about this post went to the
	// organisation already. CanNotice: this device (a coordinator) may
	// send one (NoticeDraft).
	Noticed   bool `json:"noticed,omitempty"`
	CanNotice bool `json:"can_notice,omitempty"`

	org crypto.ID16
}

// assetRef is one registered asset in the index.
type assetRef struct {
	org   crypto.ID16
	entry AssetEntry
}

// urlAsset is a registered URL in the index.
type urlAsset struct {
	assetRef
	path string
}

// assetIndex finds the registered assets an indicator falls inside: ranges
// by prefix length (one map lookup per length registered), domains by
// their labels (one lookup per label of the indicator's host), URLs by
// host and port, then path.
type assetIndex struct {
	key      string
	prefixes map[netip.Prefix][]assetRef
	v4, v6   []int // the prefix lengths registered, longest first
	domains  map[string][]assetRef
	urls     map[string][]urlAsset
	size     int

	// hits says, per post already matched against this index, whether it
	// concerns any register here, so that walking every post again opens
	// only those that do; at most maxHits posts are remembered.
	mu   sync.Mutex
	hits map[envelope.Hash]bool
}

// maxHits bounds the posts an asset index remembers (about 60 bytes each).
const maxHits = 200_000

// hit returns what is remembered of a post: whether it concerns a
// register, and whether that is known.
func (ix *assetIndex) hit(id envelope.Hash) (hit, known bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	hit, known = ix.hits[id]
	return hit, known
}

// remember records whether a post concerns a register.
func (ix *assetIndex) remember(id envelope.Hash, hit bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.hits == nil {
		ix.hits = map[envelope.Hash]bool{}
	}
	if len(ix.hits) < maxHits {
		ix.hits[id] = hit
	}
}

// assetCache keeps the index of the registers this device reads until one
// changes.
type assetCache struct {
	mu sync.Mutex
	ix *assetIndex
}

// assetIndex returns the index of the registers in this device's scope.
// The caller holds a.mu.
func (a *App) assetIndex() *assetIndex {
	orgs := a.assetScope()
	type win struct {
		org crypto.ID16
		st  assetsState
	}
	var wins []win
	var key strings.Builder
	for _, org := range orgs {
		if c, ok := a.view.assetsOf(org); ok {
			wins = append(wins, win{org, c})
			key.Write(org[:])
			key.Write(c.id[:])
		}
	}
	a.assetCache.mu.Lock()
	defer a.assetCache.mu.Unlock()
	if ix := a.assetCache.ix; ix != nil && ix.key == key.String() {
		return ix
	}
	regs := make([]orgAssets, len(wins))
	for i, w := range wins {
		regs[i] = orgAssets{org: w.org, entries: w.st.rec.Entries}
	}
	ix := newAssetIndex(regs)
	ix.key = key.String()
	a.assetCache.ix = ix
	return ix
}

// orgAssets is one organisation's register as stored.
type orgAssets struct {
	org     crypto.ID16
	entries []AssetEntry
}

// newAssetIndex indexes registers, checking their entries again
// (cleanAssets): what breaks the rules is left out.
func newAssetIndex(regs []orgAssets) *assetIndex {
	ix := &assetIndex{prefixes: map[netip.Prefix][]assetRef{}, domains: map[string][]assetRef{}, urls: map[string][]urlAsset{}}
	lens := map[int]bool{}
	for _, r := range regs {
		good, _ := cleanAssets(r.entries)
		for _, e := range good {
			ref := assetRef{org: r.org, entry: e}
			switch e.Kind {
			case AssetCIDR:
				p, err := netip.ParsePrefix(e.Value)
				if err != nil {
					continue
				}
				ix.prefixes[p] = append(ix.prefixes[p], ref)
				bits := p.Bits()
				if p.Addr().Is6() {
					bits += 1000
				}
				lens[bits] = true
			case AssetDomain:
				ix.domains[e.Value] = append(ix.domains[e.Value], ref)
			case AssetURL:
				u, ok := parseSiteURL(e.Value)
				if !ok {
					continue
				}
				ix.urls[u.hostport()] = append(ix.urls[u.hostport()], urlAsset{assetRef: ref, path: u.path})
			}
			ix.size++
		}
	}
	for b := range lens {
		if b >= 1000 {
			ix.v6 = append(ix.v6, b-1000)
		} else {
			ix.v4 = append(ix.v4, b)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ix.v4)))
	sort.Sort(sort.Reverse(sort.IntSlice(ix.v6)))
	return ix
}

// postMatch is one indicator of a post inside one registered asset.
type postMatch struct {
	in  IndicatorView
	ref assetRef
}

// matchPost returns the matches of a post's indicators (structured and
// found in its text), each indicator and asset once.
func (ix *assetIndex) matchPost(r *PostRecord) []postMatch {
	if ix.size == 0 {
		return nil
	}
	var out []postMatch
	type key struct {
		org          crypto.ID16
		in, kind, as string
	}
	seen := map[key]bool{}
	for _, in := range PostIndicators(r.Indicators, r.Body) {
		for _, ref := range ix.match(Indicator{Kind: in.Kind, Value: in.Value}) {
			k := key{ref.org, in.Value, string(ref.entry.Kind), ref.entry.Value}
			if !seen[k] {
				seen[k] = true
				out = append(out, postMatch{in, ref})
			}
		}
	}
	return out
}

// match returns the registered assets an indicator falls inside.
func (ix *assetIndex) match(in Indicator) []assetRef {
	if ix.size == 0 {
		return nil
	}
	switch in.Kind {
	case IndicatorIPv4, IndicatorIPv6:
		if ip, err := netip.ParseAddr(in.Value); err == nil {
			return ix.addr(ip)
		}
	case IndicatorDomain:
		return ix.domain(hostName(in.Value))
	case IndicatorEmail:
		if i := strings.LastIndexByte(in.Value, '@'); i >= 0 {
			return ix.domain(hostName(in.Value[i+1:]))
		}
	case IndicatorURL:
		u, ok := parseSiteURL(in.Value)
		if !ok {
			// Another scheme (ftp): its host still counts.
			p, err := url.Parse(in.Value)
			if err != nil {
				return nil
			}
			if ip, err := netip.ParseAddr(p.Hostname()); err == nil {
				return ix.addr(ip)
			}
			return ix.domain(hostName(p.Hostname()))
		}
		var out []assetRef
		if ip, err := netip.ParseAddr(u.host); err == nil {
			out = ix.addr(ip)
		} else {
			out = ix.domain(u.host)
		}
		for _, ua := range ix.urls[u.hostport()] {
			if pathUnder(u.path, ua.path) {
				out = append(out, ua.assetRef)
			}
		}
		return out
	}
	return nil
}

// addr returns the ranges holding an address.
func (ix *assetIndex) addr(ip netip.Addr) []assetRef {
	ip = ip.Unmap().WithZone("")
	lens := ix.v4
	if ip.Is6() {
		lens = ix.v6
	}
	var out []assetRef
	for _, b := range lens {
		p, err := ip.Prefix(b)
		if err == nil {
			out = append(out, ix.prefixes[p]...)
		}
	}
	return out
}

// domain returns the domains that hold a host name: itself and each
// parent, by whole labels.
func (ix *assetIndex) domain(h string) []assetRef {
	var out []assetRef
	for h != "" {
		out = append(out, ix.domains[h]...)
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return out
}

// pathUnder reports whether path p is at or under the registered path r.
func pathUnder(p, r string) bool {
	if !strings.HasPrefix(p, r) {
		return false
	}
	return len(p) == len(r) || strings.HasSuffix(r, "/") || p[len(r)] == '/'
}

// postMatches returns a post's matches, named. The caller holds a.mu.
func (a *App) postMatches(ix *assetIndex, r *PostRecord) []AssetMatch {
	var out []AssetMatch
	for _, m := range ix.matchPost(r) {
		out = append(out, AssetMatch{Org: m.ref.org.String(), OrgName: a.view.orgName(m.ref.org), Indicator: m.in, Asset: m.ref.entry, org: m.ref.org})
	}
	return out
}

// noticeKey names an observation notice: the post it is about and the
// organisation it went to.
type noticeKey struct {
	about envelope.Hash
	org   crypto.ID16
}

// observationNotices walks the observation notices that count (written by
// a coordinator) in feed order, newest first.
func (t *vtx) observationNotices(fn func(v *viewRec) bool) {
	prefix := t.term("channel=" + string(ChannelObservation))
	eachPrefix(t.b(vbIx), prefix, func(k, _ []byte) bool {
		v := t.post(feedID(k[len(prefix):]))
		if v == nil || !t.a.view.visible(v) || v.rec.Post.Channel != ChannelObservation || len(v.rec.Post.ToOrgs) != 1 {
			return true
		}
		return fn(v)
	})
}

// noticed returns the (post, organisation) pairs already noticed.
func (t *vtx) noticed() map[noticeKey]bool {
	out := map[noticeKey]bool{}
	t.observationNotices(func(v *viewRec) bool {
		if p := v.rec.Post; !p.About.IsZero() {
			out[noticeKey{p.About, p.ToOrgs[0]}] = true
		}
		return true
	})
	return out
}

// noticeable reports whether a post may be the subject of an observation
// notice: not a notice itself, not RED (its recipients are named people).
func noticeable(r *PostRecord) bool {
	return r.Channel != ChannelObservation && r.TLP != TLPRed
}

// postConcerns returns what a post's detail says of registered assets: on
// a member's device, its indicators that fall inside its organisation's
// register; on a coordinator's, inside any organisation's, with whether a
// notice was sent. The caller holds a.mu.
func (a *App) postConcerns(t *vtx, p *viewRec) []AssetMatch {
	ms := a.postMatches(a.assetIndex(), p.rec.Post)
	if len(ms) == 0 {
		return nil
	}
	if a.viewer().coordinator() {
		noticed := t.noticed()
		for i := range ms {
			ms[i].Noticed = noticed[noticeKey{p.id, ms[i].org}]
			ms[i].CanNotice = !ms[i].Noticed && noticeable(p.rec.Post)
		}
	}
	return ms
}

// PostConcern is a post whose indicators fall inside registered assets.
type PostConcern struct {
	Post    PostSummary  `json:"post"`
	Matches []AssetMatch `json:"matches"`
}

// eachConcern walks the real posts the feed lists (not exercise traffic,
// not observation notices, not a source's older versions) whose indicators
// fall inside a register of ix, newest first, with their matches. A post
// the index remembers as concerning none is not opened again. It returns
// how many posts it opened.
func (a *App) eachConcern(t *vtx, ix *assetIndex, fn func(v *viewRec, ms []AssetMatch)) int {
	n := 0
	eachPrefix(t.b(vbFeed), nil, func(k, _ []byte) bool {
		id := feedID(k)
		if hit, known := ix.hit(id); known && !hit {
			return true
		}
		v := t.post(id)
		n++
		if v == nil {
			return true
		}
		var ms []AssetMatch
		if v.exercise == "" && t.a.view.visible(v) && v.rec.Post.Channel != ChannelObservation {
			ms = a.postMatches(ix, v.rec.Post)
		}
		ix.remember(id, len(ms) > 0)
		if len(ms) > 0 {
			fn(v, ms)
		}
		return true
	})
	return n
}

// AssetMatches lists, newest first, every post whose indicators fall inside
// this device's organisation's registered assets ("this concerns your
// registered address 203.0.113.17").
func (a *App) AssetMatches() []PostConcern {
	l := a.localState()
	out := []PostConcern{}
	walked := 0
	a.read(func(t *vtx) error {
		v := a.viewer()
		if !v.active {
			return nil
		}
		mine := v.m.Org
		ix := a.assetIndex()
		if ix.size == 0 {
			return nil
		}
		walked = a.eachConcern(t, ix, func(p *viewRec, all []AssetMatch) {
			var ms []AssetMatch
			for _, m := range all {
				if m.org == mine {
					ms = append(ms, m)
				}
			}
			if len(ms) > 0 {
				out = append(out, PostConcern{Post: t.summary(p, l), Matches: ms})
			}
		})
		return nil
	})
	a.walked(walked)
	return out
}

// NoticeCandidate is a post whose indicators fall inside one
// organisation's registered assets, with no observation notice about it
// sent to that organisation yet.
type NoticeCandidate struct {
	Post    PostSummary  `json:"post"`
	Org     string       `json:"org"`
	OrgName string       `json:"org_name"`
	Matches []AssetMatch `json:"matches"`
}

// NoticeCandidates lists, for a coordinator, every (post, organisation)
// where the post's indicators fall inside the organisation's registered
// assets and no observation notice about the post went to it yet; newest
// post first, then by organisation name. Empty for anyone else.
func (a *App) NoticeCandidates() []NoticeCandidate {
	l := a.localState()
	out := []NoticeCandidate{}
	walked := 0
	a.read(func(t *vtx) error {
		if !a.viewer().coordinator() {
			return nil
		}
		ix := a.assetIndex()
		if ix.size == 0 {
			return nil
		}
		noticed := t.noticed()
		walked = a.eachConcern(t, ix, func(p *viewRec, all []AssetMatch) {
			if !noticeable(p.rec.Post) {
				return
			}
			byOrg := map[string][]AssetMatch{}
			var orgs []string
			for _, m := range all {
				if noticed[noticeKey{p.id, m.org}] {
					continue
				}
				m.CanNotice = true
				if byOrg[m.Org] == nil {
					orgs = append(orgs, m.Org)
				}
				byOrg[m.Org] = append(byOrg[m.Org], m)
			}
			if len(orgs) == 0 {
				return
			}
			s := t.summary(p, l)
			sort.Slice(orgs, func(i, j int) bool { return byOrg[orgs[i]][0].OrgName < byOrg[orgs[j]][0].OrgName })
			for _, org := range orgs {
				out = append(out, NoticeCandidate{Post: s, Org: org, OrgName: byOrg[org][0].OrgName, Matches: byOrg[org]})
			}
		})
		return nil
	})
	a.walked(walked)
	return out
}

// NoticeDraft pre-fills the observation notice a coordinator sends an
// organisation about a post whose indicators fall inside its registered
// assets: the observation channel, to that organisation only, type
// observation, tag caution, TLP AMBER (AMBER+STRICT when the post was
// AMBER+STRICT: a notice never lowers the post's marking), a title and
// body in Japanese and English that name the indicators (defanged) and the
// registered assets, and About linking the post. The post's title is named
// only when the organisation may read the post. Post it with App.Post
// (edited or not).
func (a *App) NoticeDraft(post, org string) (PostDraft, error) {
	var d PostDraft
	err := a.read(func(t *vtx) error {
		me, err := a.me()
		if err != nil {
			return err
		}
		if me.Role != crypto.RoleCoordinator {
			return fmt.Errorf("%w: only coordinators send observation notices", ErrNotAllowed)
		}
		p, err := t.findPost(post)
		if err != nil {
			return err
		}
		id, err := a.view.findOrg(org)
		if err != nil {
			return err
		}
		r := p.rec.Post
		if !noticeable(r) {
			return fmt.Errorf("%w: post %s is an observation notice or TLP:RED: no notice is made from it", ErrInvalid, p.id.String()[:12])
		}
		var ms []AssetMatch
		for _, m := range a.postMatches(a.assetIndex(), r) {
			if m.org == id {
				ms = append(ms, m)
			}
		}
		if len(ms) == 0 {
			return fmt.Errorf("%w: no indicator of post %s falls inside the registered assets of %s: see `noroshi assets notices`", ErrNotFound, p.id.String()[:12], a.view.orgName(id))
		}
		tlp := TLPAmber
		if r.TLP == TLPAmberStrict {
			tlp = TLPAmberStrict
		}
		readable := len(r.ToPersons) == 0 && (len(r.ToOrgs) == 0 || containsID(r.ToOrgs, id))
		if m, ok := a.view.trust.Member(p.author); ok && m.Org == id {
			readable = true
		}
		d = noticeText(ms, r.Title, readable, p.id, wallTime(p.clock))
		d.Type, d.Tag, d.TLP, d.Channel = TypeObservation, TagCaution, tlp, ChannelObservation
		d.ToOrgs = []string{id.String()}
		d.About = p.id.String()
		return nil
	})
	return d, err
}

func containsID(ids []crypto.ID16, id crypto.ID16) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// assetWords names a registered asset's kind in Japanese and English.
func assetWords(k AssetKind) (ja, en string) {
	switch k {
	case AssetDomain:
		return "登録ドメイン", "registered domain"
	case AssetURL:
		return "登録URL", "registered URL"
	}
	return "登録アドレス", "registered address"
}

// noticeText writes a notice's title and body, Japanese first.
func noticeText(ms []AssetMatch, title string, readable bool, about envelope.Hash, at time.Time) PostDraft {
	first := ms[0]
	ja, en := assetWords(first.Asset.Kind)
	d := PostDraft{Title: fmt.Sprintf("%s %s に関する観測 / Observation concerning your %s %s", ja, first.Indicator.Defanged, en, first.Indicator.Defanged)}
	if len(ms) > 1 {
		d.Title = fmt.Sprintf("%s %s ほか%d件に関する観測 / Observation concerning your %s %s and %d more", ja, first.Indicator.Defanged, len(ms)-1, en, first.Indicator.Defanged, len(ms)-1)
	}
	if len(d.Title) > MaxTitle {
		d.Title = clip(d.Title, MaxTitle)
	}
	when := at.Format("2006-01-02 15:04 MST")
	short := about.String()[:12]
	var b strings.Builder
	if readable {
		fmt.Fprintf(&b, "コミュニティの投稿「%s」（%s、ID %s）の指標が、貴組織の登録資産に該当します。\n\n", title, when, short)
	} else {
		fmt.Fprintf(&b, "他の組織に共有された投稿（%s、ID %s）の指標が、貴組織の登録資産に該当します。\n\n", when, short)
	}
	for _, m := range ms {
		ja, _ := assetWords(m.Asset.Kind)
		fmt.Fprintf(&b, "- %s（%s %s%s）\n", m.Indicator.Defanged, ja, m.Asset.Value, noteText(m.Asset.Note))
	}
	b.WriteString("\n該当する機器・サービスをご確認のうえ、必要な対応をご検討ください。対応の結果や質問はこの投稿へのコメントでお知らせください。\n\n---\n\n")
	if readable {
		fmt.Fprintf(&b, "Indicators in the community post \"%s\" (%s, ID %s) fall inside your organisation's registered assets.\n\n", title, when, short)
	} else {
		fmt.Fprintf(&b, "Indicators in a post shared with other organisations (%s, ID %s) fall inside your organisation's registered assets.\n\n", when, short)
	}
	for _, m := range ms {
		_, en := assetWords(m.Asset.Kind)
		fmt.Fprintf(&b, "- %s (%s %s%s)\n", m.Indicator.Defanged, en, m.Asset.Value, noteText(m.Asset.Note))
	}
	b.WriteString("\nPlease check the systems and services concerned and decide whether action is needed. Tell us what you found, or ask, in a comment on this post.\n")
	d.Body = b.String()
	return d
}

func noteText(n string) string {
	if n == "" {
		return ""
	}
	return ": " + n
}

// resolveAbout resolves the post an observation notice is about. The caller
// holds a.mu.
func (a *App) resolveAbout(d *PostDraft) (envelope.Hash, error) {
	if strings.TrimSpace(d.About) == "" {
		return envelope.Hash{}, nil
	}
	if d.Channel != ChannelObservation {
		return envelope.Hash{}, fmt.Errorf("%w: only an observation notice names the post it is about: use the observation channel", ErrInvalid)
	}
	p, err := a.findPost(d.About)
	if err != nil {
		return envelope.Hash{}, err
	}
	return p.id, nil
}

// ObservationNotice is an observation notice sent to one organisation.
type ObservationNotice struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Org     string    `json:"org"`
	OrgName string    `json:"org_name"`
	Author  string    `json:"author_name"`
	Time    time.Time `json:"time"`
	// About is the post the notice is about, when it names one.
	About string `json:"about,omitempty"`
	// FirstRead is when a member of the organisation first read it; nil
	// while nobody there has.
	FirstRead *time.Time `json:"first_read,omitempty"`
}

// ObservationNotices lists the observation notices this device reads
// (every one on a coordinator's device, its organisation's elsewhere),
// oldest first, with when the addressed organisation first read each.
// Exercise traffic is not among them.
func (a *App) ObservationNotices() []ObservationNotice {
	out := []ObservationNotice{}
	a.read(func(t *vtx) error {
		s := a.view
		t.observationNotices(func(v *viewRec) bool {
			if v.exercise != "" {
				return true
			}
			r := v.rec.Post
			org := r.ToOrgs[0]
			n := ObservationNotice{ID: v.id.String(), Title: r.Title, Org: org.String(), OrgName: s.orgName(org),
				Author: s.deviceName(v.author), Time: wallTime(v.clock)}
			if !r.About.IsZero() {
				n.About = r.About.String()
			}
			var first uint64
			for person, c := range t.readers(v.id) {
				if s.personOrg(person) == org && (first == 0 || c < first) {
					first = c
				}
			}
			if first != 0 {
				ft := wallTime(first)
				n.FirstRead = &ft
			}
			out = append(out, n)
			return true
		})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// demoAssets adds the asset registers of the demo community, a post whose
// indicators fall inside two of them, and the observation notice the duty
// officer sent one of them about it (read there); the other notice is left
// for the user to send. buildDemo calls it once the members have joined
// and posted (members by name, as demoPeople names them).
func demoAssets(centre *App, members map[string]*App) error {
	all := append([]*App{centre}, mapValues(members)...)
	need := func(name string) (*App, error) {
		if m := members[name]; m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("demo assets: no member %q", name)
	}
	regs := []struct {
		by, org string
		es      []AssetEntry
	}{
		{"Venue Lead", "Venue North", []AssetEntry{
			{AssetCIDR, "203.0.113.0/24", "ticket gates and venue Wi-Fi"},
			{AssetDomain, "venue-north.example", "venue site and mail"},
			{AssetURL, "https://tickets.games.example/venue-north/", "ticketing pages"},
		}},
		{"Railway IT Lead", "Capital Railways", []AssetEntry{
			{AssetCIDR, "192.0.2.0/24", "passenger information"},
			{AssetDomain, "railways.example", ""},
		}},
		{"", "Metro Power", []AssetEntry{
			{AssetCIDR, "2001:db8:4d50::/48", "corporate network"},
			{AssetDomain, "metro-power.example", "corporate site and mail"},
		}},
		{"Committee Security", "Organising Committee", []AssetEntry{
			{AssetDomain, "committee.example", ""},
			{AssetURL, "https://shop.committee.example/", "official online shop"},
		}},
	}
	for _, r := range regs {
		a := centre
		if r.by != "" {
			m, err := need(r.by)
			if err != nil {
				return err
			}
			a = m
		}
		if _, err := a.SetAssets(r.org, r.es); err != nil {
			return fmt.Errorf("demo assets of %s: %w", r.org, err)
		}
	}
	analyst, err := need("CSIRT Analyst")
	if err != nil {
		return err
	}
	p, err := analyst.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPAmber, Channel: ChannelPro,
		Title: "Botnet scanning of Games venues; spoofed HR e-mails to utilities",
		Body: "Our sensors saw a botnet scan ticket gate servers, among them 203.0.113[.]17, for an exposed admin interface since 02:10 JST.\n" +
			"The same operators send e-mails that spoof hr[@]metro-power[.]example with a payroll lure.",
		Indicators: []string{"203.0.113[.]17", "hr[@]metro-power[.]example", "198.51.100[.]77"}})
	if err != nil {
		return fmt.Errorf("demo assets post: %w", err)
	}
	if err := exchange(all); err != nil {
		return err
	}
	d, err := centre.NoticeDraft(p.ID, "Venue North")
	if err != nil {
		return fmt.Errorf("demo notice: %w", err)
	}
	n, err := centre.Post(d)
	if err != nil {
		return fmt.Errorf("demo notice: %w", err)
	}
	if err := exchange(all); err != nil {
		return err
	}
	lead, err := need("Venue Lead")
	if err != nil {
		return err
	}
	if _, err := lead.MarkRead(n.ID); err != nil {
		return err
	}
	if _, err := lead.FlushReads(true); err != nil {
		return err
	}
	return exchange(all)
}

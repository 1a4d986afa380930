package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"noroshi/replica"
)

// The indicator feed: what a firewall, a proxy or a TAXII client on the
// same network polls, read-only, behind a bearer token (feedtoken.go).
// It serves plain-text blocklists, one per indicator kind, and a TAXII 2.1
// API root with one collection (taxii.go). ServeIndicatorFeed serves it
// over HTTPS with a self-signed certificate kept in the home, with limits.
//
// What it serves is a view like every other: the structured indicators of
// the posts this device shows (the version shown of a sourced post; never a
// retracted one), at or under a TLP limit (GREEN by default), never RED,
// never an exercise's, and never an observation notice (it names an
// organisation's own URLs and addresses, not something to block). Indicators found only in a post's text are not
// served: a blocklist blocks, and only what a poster gave as an indicator
// belongs in one. Each value is checked again (ParseIndicator) before it is
// served, so a record written by a hostile client cannot smuggle a second
// line into a blocklist.
//
// The lists are computed when the views have changed since they were last
// computed (the fold's cursors say so), not on every poll, and at most
// MaxFeedValues values are served in all.

// MaxFeedValues bounds the indicator values the feed holds at once.
const MaxFeedValues = 250_000

// FeedOptions configures the indicator feed.
type FeedOptions struct {
	// TLPMax is the most restricted marking served: CLEAR, GREEN (the
	// default), AMBER or AMBER+STRICT. RED is refused.
	TLPMax TLP
	// MaxConns bounds the connections served at once (default 64); more
	// wait in the listen queue.
	MaxConns int
	// MaxConnsPerAddress bounds the connections of one client address
	// (an IPv6 client's /64) served at once (default 8, at most
	// MaxConns): more are closed as they come, so that one client holds
	// no more than its share of MaxConns. A reverse proxy in front of
	// the feed is one client.
	MaxConnsPerAddress int
	// PlainHTTP serves without TLS; allowed on a loopback address only.
	PlainHTTP bool
}

// fill checks the options and fills in the defaults.
func (o *FeedOptions) fill() error {
	if o.TLPMax == "" {
		o.TLPMax = TLPGreen
	}
	if tlpRank(o.TLPMax) < 0 {
		return fmt.Errorf("%w: TLP %q: choose clear, green, amber or amber+strict", ErrInvalid, o.TLPMax)
	}
	if o.TLPMax == TLPRed {
		return fmt.Errorf("%w: TLP:RED is never served to machines: serve AMBER+STRICT at most", ErrNotAllowed)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	if o.MaxConnsPerAddress <= 0 {
		o.MaxConnsPerAddress = 8
	}
	o.MaxConnsPerAddress = min(o.MaxConnsPerAddress, o.MaxConns)
	return nil
}

// tlpRank returns a marking's place from CLEAR (0) to RED (4), -1 for none.
func tlpRank(t TLP) int { return slices.Index(TLPs, t) }

// FeedKinds lists the indicator kinds the feed serves, with the name of
// each one's blocklist.
var FeedKinds = []struct {
	Kind IndicatorKind
	File string
}{
	{IndicatorIPv4, "ipv4.txt"}, {IndicatorIPv6, "ipv6.txt"}, {IndicatorDomain, "domains.txt"},
	{IndicatorURL, "urls.txt"}, {IndicatorEmail, "emails.txt"}, {IndicatorMD5, "md5.txt"},
	{IndicatorSHA1, "sha1.txt"}, {IndicatorSHA256, "sha256.txt"},
}

// ParseIndicatorKind reads an indicator kind as a user types it: its name
// or its blocklist's name ("domain", "domains", "domains.txt").
func ParseIndicatorKind(s string) (IndicatorKind, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	var names []string
	for _, k := range FeedKinds {
		if l == string(k.Kind) || l == k.File || l == strings.TrimSuffix(k.File, ".txt") {
			return k.Kind, nil
		}
		names = append(names, string(k.Kind))
	}
	return "", fmt.Errorf("%w: indicator kind %q: choose one of %s", ErrInvalid, s, strings.Join(names, ", "))
}

// FeedIndicator is one value the feed serves.
type FeedIndicator struct {
	Kind     IndicatorKind `json:"kind"`
	Value    string        `json:"value"`
	Defanged string        `json:"defanged"`
	// Post is the newest post that carries it, TLP that post's marking.
	Post string    `json:"post"`
	TLP  string    `json:"tlp"`
	Time time.Time `json:"time"`
}

// FeedIndicators lists what the feed serves at tlpMax ("" for GREEN): of
// one kind, or of every kind when kind is "", by kind then value.
func (a *App) FeedIndicators(tlpMax TLP, kind IndicatorKind) ([]FeedIndicator, error) {
	o := FeedOptions{TLPMax: tlpMax}
	if err := o.fill(); err != nil {
		return nil, err
	}
	snap := a.feedSnapshot(o.TLPMax, nil)
	if kind != "" {
		return slices.Clone(snap.byKind[kind]), nil
	}
	var out []FeedIndicator
	for _, k := range FeedKinds {
		out = append(out, snap.byKind[k.Kind]...)
	}
	return out, nil
}

// feedCursor is the views' export generation (App.exportGen) when a
// snapshot was read: read receipts do not move it.
type feedCursor struct{ gen uint64 }

// indicatorSnapshot is what the feed serves at one TLP limit, as read at
// one cursor of the views.
type indicatorSnapshot struct {
	cur       feedCursor
	tlpMax    TLP
	byKind    map[IndicatorKind][]FeedIndicator
	total     int
	truncated bool
}

// feedSnapshot reads the served indicators. When prev was read at the
// views' current cursor it is returned as it is, without walking.
func (a *App) feedSnapshot(tlpMax TLP, prev *indicatorSnapshot) *indicatorSnapshot {
	var snap *indicatorSnapshot
	walked := 0
	a.read(func(t *vtx) error {
		cur := feedCursor{a.exportGen}
		if prev != nil && prev.cur == cur && prev.tlpMax == tlpMax {
			snap = prev
			return nil
		}
		snap, walked = t.indicatorSnapshot(tlpMax)
		snap.cur = cur
		return nil
	})
	a.walked(walked)
	return snap
}

// indicatorSnapshot walks the feed (newest first) and gathers the served
// indicators; the caller holds a.mu.
func (t *vtx) indicatorSnapshot(tlpMax TLP) (*indicatorSnapshot, int) {
	snap := &indicatorSnapshot{tlpMax: tlpMax, byKind: map[IndicatorKind][]FeedIndicator{}}
	seen := map[Indicator]bool{}
	limit := tlpRank(tlpMax)
	walked := 0
	c := t.b(vbFeed).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 40 {
			continue
		}
		walked++
		v := t.post(feedID(k))
		// An observation notice names an organisation's own URLs and
		// addresses: never something to block.
		if v == nil || v.exercise != "" || !t.a.view.visible(v) || v.rec.Post.Channel == ChannelObservation {
			continue
		}
		p := v.rec.Post
		if r := tlpRank(p.TLP); r < 0 || r > limit || p.TLP == TLPRed {
			continue
		}
		for _, in := range p.Indicators {
			if seen[in] {
				continue
			}
			if chk, err := ParseIndicator(in.Value); err != nil || chk != in {
				continue // not as ParseIndicator would have written it
			}
			if neverBlock(in) {
				continue
			}
			if snap.total >= MaxFeedValues {
				snap.truncated = true
				break
			}
			seen[in] = true
			snap.total++
			snap.byKind[in.Kind] = append(snap.byKind[in.Kind], FeedIndicator{
				Kind: in.Kind, Value: in.Value, Defanged: in.Defanged(),
				Post: v.id.String(), TLP: p.TLP.Label(), Time: wallTime(v.clock),
			})
		}
	}
	for kind, list := range snap.byKind {
		slices.SortFunc(list, func(x, y FeedIndicator) int { return compareValues(kind, x.Value, y.Value) })
	}
	return snap, walked
}

// neverBlock reports addresses no firewall should be told to block,
// whatever a post (or a partner's bundle) says: this host, nowhere,
// multicast and link-local addresses.
func neverBlock(in Indicator) bool {
	if in.Kind != IndicatorIPv4 && in.Kind != IndicatorIPv6 {
		return false
	}
	ip := net.ParseIP(in.Value)
	return ip == nil || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.Equal(net.IPv4bcast)
}

// compareValues orders values of one kind: addresses by number, the rest
// by their bytes.
func compareValues(kind IndicatorKind, x, y string) int {
	if kind == IndicatorIPv4 || kind == IndicatorIPv6 {
		ax, ex := netip.ParseAddr(x)
		ay, ey := netip.ParseAddr(y)
		if ex == nil && ey == nil {
			return ax.Compare(ay)
		}
	}
	return strings.Compare(x, y)
}

// blocklist is one kind's list as served: its body and validators.
type blocklist struct {
	body      []byte
	etag      string
	modified  time.Time
	sum       [32]byte // of the values alone
	truncated bool
}

// blocklists serves the plain-text lists; it keeps the last snapshot and
// the lists rendered from it, and renders again only when the views moved.
type blocklists struct {
	a      *App
	tlpMax TLP

	mu    sync.Mutex
	snap  *indicatorSnapshot
	lists map[IndicatorKind]*blocklist
}

func newBlocklists(a *App, tlpMax TLP) *blocklists {
	return &blocklists{a: a, tlpMax: tlpMax, lists: map[IndicatorKind]*blocklist{}}
}

// list returns a kind's list as of the views now.
func (b *blocklists) list(kind IndicatorKind) *blocklist {
	b.mu.Lock()
	defer b.mu.Unlock()
	snap := b.a.feedSnapshot(b.tlpMax, b.snap)
	if snap == b.snap {
		if l := b.lists[kind]; l != nil {
			return l
		}
	}
	b.snap = snap
	now := b.a.cfg.Now().UTC().Truncate(time.Second)
	for _, k := range FeedKinds {
		var values bytes.Buffer
		for _, in := range snap.byKind[k.Kind] {
			values.WriteString(in.Value)
			values.WriteByte('\n')
		}
		sum := sha256.Sum256(values.Bytes())
		old := b.lists[k.Kind]
		if old != nil && old.sum == sum && old.truncated == snap.truncated {
			continue // same values: same body, same validators
		}
		// A poller that sends only If-Modified-Since (seconds) must see
		// every change: a list changed twice in a second moves on a second.
		modified := now
		if old != nil && !modified.After(old.modified) {
			modified = old.modified.Add(time.Second)
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "# Noroshi indicator feed: %s, one value per line\n", k.File)
		fmt.Fprintf(&body, "# generated: %s\n", modified.Format(time.RFC3339))
		fmt.Fprintf(&body, "# count: %d\n", len(snap.byKind[k.Kind]))
		fmt.Fprintf(&body, "# tlp-max: %s (posts marked at most this; never TLP:RED, never exercises)\n", b.tlpMax.Label())
		if snap.truncated {
			fmt.Fprintf(&body, "# truncated: the feed serves at most %d values in all\n", MaxFeedValues)
		}
		body.Write(values.Bytes())
		etag := sha256.Sum256(body.Bytes())
		b.lists[k.Kind] = &blocklist{body: body.Bytes(), etag: `"` + hex.EncodeToString(etag[:16]) + `"`, modified: modified, sum: sum, truncated: snap.truncated}
	}
	return b.lists[kind]
}

// serve answers a GET or HEAD of a list, conditional GETs included.
func (b *blocklists) serve(w http.ResponseWriter, r *http.Request, kind IndicatorKind) {
	l := b.list(kind)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("ETag", l.etag)
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", l.modified, bytes.NewReader(l.body))
}

// index lists the blocklists.
func (b *blocklists) index(w http.ResponseWriter) {
	var s strings.Builder
	s.WriteString("# Noroshi indicator feed: blocklists, one value per line\n")
	for _, k := range FeedKinds {
		fmt.Fprintf(&s, "/blocklist/%s\n", k.File)
	}
	s.WriteString("# TAXII 2.1 discovery: /taxii2/\n")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte(s.String()))
}

// feedTokenOK reports whether tok is a feed token this device made and
// did not revoke.
func (a *App) feedTokenOK(tok string) bool {
	_, ok := a.checkFeedToken(tok)
	return ok
}

// bearerToken returns the token a request shows: "Authorization: Bearer
// TOKEN", or the password of HTTP basic authentication (which is what many
// firewalls' external block lists can send).
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return ""
		}
		return pass
	}
	return ""
}

// feedHandler is the feed's HTTP handler: the token check, then the
// blocklists or TAXII.
type feedHandler struct {
	a     *App
	opts  FeedOptions
	lists *blocklists
	taxii *taxiiServer
}

// IndicatorFeed returns the feed's HTTP handler (see ServeIndicatorFeed to
// serve it with TLS and limits). Every request must show a token that
// CreateFeedToken made and that is not revoked.
func (a *App) IndicatorFeed(opts FeedOptions) (http.Handler, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	return &feedHandler{a: a, opts: opts, lists: newBlocklists(a, opts.TLPMax), taxii: newTAXIIServer(a, opts.TLPMax)}, nil
}

func (h *feedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// No panic on outside input; should one happen anyway, the
		// client gets a 500 and the server goes on.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.a.cfg.Logf("indicator feed: %s %q: %v", r.Method, r.URL.Path, v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	path := r.URL.Path
	isTAXII := path == "/taxii2" || strings.HasPrefix(path, "/taxii2/")
	if tok := bearerToken(r); !h.a.feedTokenOK(tok) {
		msg := "a feed token is required: Authorization: Bearer TOKEN (noroshi indicators token create)"
		if tok != "" {
			msg = "this feed token is not valid here (revoked, mistyped, or made on another device): ask for a new one (noroshi indicators token create)"
		}
		// A client without a token keeps no connection (nor its slot)
		// open for a next try.
		w.Header().Set("Connection", "close")
		w.Header().Add("WWW-Authenticate", `Bearer realm="noroshi-feed"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="noroshi-feed"`)
		if isTAXII {
			taxiiError(w, http.StatusUnauthorized, "Authentication required", msg)
			return
		}
		http.Error(w, msg, http.StatusUnauthorized)
		return
	}
	if isTAXII {
		h.taxii.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the indicator feed is read-only", http.StatusMethodNotAllowed)
		return
	}
	switch path {
	case "/", "/blocklist", "/blocklist/":
		h.lists.index(w)
		return
	}
	if file, ok := strings.CutPrefix(path, "/blocklist/"); ok {
		for _, k := range FeedKinds {
			if file == k.File {
				h.lists.serve(w, r, k.Kind)
				return
			}
		}
	}
	http.Error(w, "not found: the blocklists are listed at /blocklist/", http.StatusNotFound)
}

// The feed's certificate: a self-signed ECDSA P-256 certificate made once
// and kept in the store's local values, its private key sealed with age to
// this device itself (so the store holds it only as ciphertext), reused
// across runs so that clients pin it once. When the feed is bound to an
// address the certificate does not name, it is issued again for the same
// key: the certificate's fingerprint changes, its public key pin does not.
//
//	local  "feedtls/key"  age(device recipient, PKCS#8 DER)
//	local  "feedtls/cert" DER
const (
	localFeedKey  = "feedtls/key"
	localFeedCert = "feedtls/cert"
)

// FeedCertificate describes the feed's certificate, as clients pin it.
type FeedCertificate struct {
	// Fingerprint is the SHA-256 of the certificate, as hex pairs joined
	// by colons (as browsers and openssl show it).
	Fingerprint string `json:"fingerprint"`
	// PublicKeyPin is curl's --pinnedpubkey form: "sha256//" and the
	// base64 SHA-256 of the public key; it survives a reissue.
	PublicKeyPin string `json:"public_key_pin"`
	// PEM is the certificate, for a client's trust store (curl --cacert).
	PEM      string    `json:"pem"`
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
}

// feedTLS returns the feed's certificate for a listener's address, making
// or reissuing it when needed.
func (a *App) feedTLS(addr net.Addr) (tls.Certificate, FeedCertificate, error) {
	key, err := a.feedKey()
	if err != nil {
		return tls.Certificate{}, FeedCertificate{}, err
	}
	want := feedCertNames(addr)
	der := a.store.GetLocal(localFeedCert)
	cert, err := x509.ParseCertificate(der)
	reuse := err == nil && cert.PublicKey != nil && key.PublicKey.Equal(cert.PublicKey) &&
		a.cfg.Now().Before(cert.NotAfter.Add(-24*time.Hour)) && coversNames(cert, want)
	if !reuse {
		if err == nil {
			want = mergeNames(want, certNames(cert))
		}
		if der, err = a.issueFeedCert(key, want); err != nil {
			return tls.Certificate{}, FeedCertificate{}, err
		}
		if cert, err = x509.ParseCertificate(der); err != nil {
			return tls.Certificate{}, FeedCertificate{}, fmt.Errorf("feed certificate: %w", err)
		}
	}
	fp := sha256.Sum256(der)
	hexes := make([]string, len(fp))
	for i, b := range fp {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	info := FeedCertificate{
		Fingerprint:  strings.Join(hexes, ":"),
		PublicKeyPin: "sha256//" + base64.StdEncoding.EncodeToString(spki[:]),
		PEM:          string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Names:        certNames(cert),
		NotAfter:     cert.NotAfter,
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, info, nil
}

// IndicatorFeedCertificate returns the feed's certificate as it stands
// (made now, for this machine's loopback addresses, when there is none
// yet), for clients to trust before the feed serves.
func (a *App) IndicatorFeedCertificate() (FeedCertificate, error) {
	_, info, err := a.feedTLS(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	return info, err
}

// feedKey returns the feed's private key, made on first use.
func (a *App) feedKey() (*ecdsa.PrivateKey, error) {
	if sealed := a.store.GetLocal(localFeedKey); sealed != nil {
		r, err := age.Decrypt(bytes.NewReader(sealed), a.dev.Identity())
		if err != nil {
			return nil, fmt.Errorf("open the feed's TLS key: %w", err)
		}
		der, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return nil, fmt.Errorf("open the feed's TLS key: %w", err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("the feed's TLS key: %w", err)
		}
		if ek, ok := k.(*ecdsa.PrivateKey); ok {
			return ek, nil
		}
		return nil, errors.New("the feed's TLS key is not an ECDSA key")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), a.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("make the feed's TLS key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, a.dev.Recipient())
	if err != nil {
		return nil, fmt.Errorf("seal the feed's TLS key: %w", err)
	}
	if _, err := w.Write(der); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	// A new key makes any old certificate useless.
	if err := a.store.PutLocal(replica.LocalOp{Key: localFeedKey, Value: buf.Bytes()}, replica.LocalOp{Key: localFeedCert}); err != nil {
		return nil, fmt.Errorf("store the feed's TLS key: %w", err)
	}
	return k, nil
}

// issueFeedCert makes and stores a self-signed certificate for names.
func (a *App) issueFeedCert(key *ecdsa.PrivateKey, names []string) ([]byte, error) {
	serial := make([]byte, 16)
	if _, err := io.ReadFull(a.cfg.Rand, serial); err != nil {
		return nil, err
	}
	serial[0] &= 0x7f
	now := a.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: "Noroshi indicator feed", Organization: []string{"Noroshi"}},
		NotBefore:    now.AddDate(0, 0, -30), // a client's clock may be behind

		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(a.cfg.Rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the feed's certificate: %w", err)
	}
	if err := a.store.PutLocal(replica.LocalOp{Key: localFeedCert, Value: der}); err != nil {
		return nil, fmt.Errorf("store the feed's certificate: %w", err)
	}
	return der, nil
}

// maxCertNames bounds the names a feed certificate carries.
const maxCertNames = 32

// feedCertNames lists the names a certificate for addr needs: localhost and
// the loopback addresses, and the address itself, or every address of this
// machine when addr is unspecified (0.0.0.0, ::).
func feedCertNames(addr net.Addr) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return names
	}
	if !tcp.IP.IsUnspecified() {
		return mergeNames(names, []string{tcp.IP.String()})
	}
	if host, err := os.Hostname(); err == nil && host != "" && net.ParseIP(host) == nil {
		names = mergeNames(names, []string{strings.ToLower(host)})
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
				names = mergeNames(names, []string{n.IP.String()})
			}
		}
	}
	return names
}

// lanAddress picks, for a feed listening on every address, the one to
// show: the first IPv4 address that is not a loopback (else IPv6), else
// def.
func lanAddress(names []string, def string) string {
	v6 := ""
	for _, n := range names {
		ip := net.ParseIP(n)
		switch {
		case ip == nil || ip.IsLoopback():
		case ip.To4() != nil:
			return n
		case v6 == "":
			v6 = n
		}
	}
	if v6 != "" {
		return v6
	}
	return def
}

// certNames lists the names a certificate carries.
func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// coversNames reports whether a certificate names every one of names.
func coversNames(c *x509.Certificate, names []string) bool {
	have := certNames(c)
	for _, n := range names {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

// mergeNames adds the names of more that a are missing, at most
// maxCertNames in all.
func mergeNames(a, more []string) []string {
	for _, n := range more {
		if len(a) < maxCertNames && !slices.Contains(a, n) {
			a = append(a, n)
		}
	}
	return a
}

// FeedServer is a running indicator feed.
type FeedServer struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	cert *FeedCertificate
	done chan struct{}
	err  error
}

// URL returns the feed's base URL ("https://192.0.2.10:8443").
func (s *FeedServer) URL() string { return s.url }

// Certificate returns the feed's certificate, nil over plain HTTP.
func (s *FeedServer) Certificate() *FeedCertificate { return s.cert }

// Close stops the feed: the listener closes, requests in flight get a few
// seconds to finish.
func (s *FeedServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}

// Done is closed when the feed stopped serving.
func (s *FeedServer) Done() <-chan struct{} { return s.done }

// Err returns why the feed stopped on its own (nil after Close); read it
// once Done is closed.
func (s *FeedServer) Err() error { return s.err }

// StartIndicatorFeed listens on bind (host:port) and serves the feed (see
// StartIndicatorFeedOn).
func (a *App) StartIndicatorFeed(bind string, opts FeedOptions) (*FeedServer, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return nil, fmt.Errorf("%w: bind address %q: give HOST:PORT, such as 127.0.0.1:8443 or 192.0.2.10:8443", ErrInvalid, bind)
	}
	if opts.PlainHTTP {
		// Refuse before listening: a name is checked by what it resolves to.
		if ip := net.ParseIP(host); host == "" || (ip != nil && !ip.IsLoopback()) {
			return nil, plainHTTPRefused(bind)
		}
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("indicator feed: %w: pick a free port, or another address of this machine", err)
	}
	s, err := a.StartIndicatorFeedOn(ln, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

func plainHTTPRefused(addr string) error {
	return fmt.Errorf("%w: plain HTTP only on a loopback address (127.0.0.1, ::1), not %s: serve HTTPS, or bind 127.0.0.1", ErrNotAllowed, addr)
}

// StartIndicatorFeedOn serves the feed on ln until Close: HTTPS with the
// feed's certificate (see FeedCertificate), or with opts.PlainHTTP plain
// HTTP, which only a loopback listener may serve. The server serves
// opts.MaxConns connections at once, at most opts.MaxConnsPerAddress of
// one client; a connection must finish its TLS handshake and start its
// first request within firstByteTimeout of being accepted (so that a
// client that says nothing holds a slot no longer), a request's headers
// are read within 10 seconds, at most 16 KiB of them, and no request body
// is read. A request without a valid token closes its connection.
func (a *App) StartIndicatorFeedOn(ln net.Listener, opts FeedOptions) (*FeedServer, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	if opts.PlainHTTP && (tcp == nil || !tcp.IP.IsLoopback()) {
		return nil, plainHTTPRefused(ln.Addr().String())
	}
	h, err := a.IndicatorFeed(opts)
	if err != nil {
		return nil, err
	}
	s := &FeedServer{done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           http.MaxBytesHandler(h, 64<<10),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(logfWriter(a.cfg.Logf), "indicator feed: ", 0),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st != http.StateActive {
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if lc, ok := c.(*limitConn); ok {
				lc.started()
			}
		},
	}
	ln = &limitListener{Listener: ln, sem: make(chan struct{}, opts.MaxConns), perAddr: opts.MaxConnsPerAddress, held: map[string]int{}}
	host := "127.0.0.1"
	if tcp != nil && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	} else {
		host = lanAddress(feedCertNames(ln.Addr()), host)
	}
	port := "0"
	if tcp != nil {
		port = fmt.Sprint(tcp.Port)
	}
	scheme := "http"
	if !opts.PlainHTTP {
		cert, info, err := a.feedTLS(ln.Addr())
		if err != nil {
			return nil, err
		}
		s.cert = &info
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, s.srv.TLSConfig)
		scheme = "https"
	}
	s.ln = ln
	s.url = scheme + "://" + net.JoinHostPort(host, port)
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			a.cfg.Logf("indicator feed: %v", err)
		}
	}()
	return s, nil
}

// ServeIndicatorFeed serves the feed on ln until ctx is done (see
// StartIndicatorFeedOn); started says where and with which certificate
// once it listens.
func (a *App) ServeIndicatorFeed(ctx context.Context, ln net.Listener, opts FeedOptions, started func(*FeedServer)) error {
	s, err := a.StartIndicatorFeedOn(ln, opts)
	if err != nil {
		return err
	}
	if started != nil {
		started(s)
	}
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	s.Close()
	return s.err
}

// firstByteTimeout is how long an accepted feed connection has to finish
// its TLS handshake and send the first bytes of a request.
const firstByteTimeout = 5 * time.Second

// limitListener serves at most cap(sem) connections at once (Accept waits
// for one to close), and at most perAddr of one client address (Accept
// closes more at once). Every connection it returns must start a request
// within firstByteTimeout.
type limitListener struct {
	net.Listener
	sem     chan struct{}
	perAddr int

	mu   sync.Mutex
	held map[string]int // connections open, by clientKey
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		over := l.held[key] >= l.perAddr
		if !over {
			l.held[key]++
		}
		l.mu.Unlock()
		if over {
			c.Close()
			continue
		}
		lc := &limitConn{Conn: c, firstBy: time.Now().Add(firstByteTimeout), release: func() {
			l.mu.Lock()
			if l.held[key]--; l.held[key] <= 0 {
				delete(l.held, key)
			}
			l.mu.Unlock()
			<-l.sem
		}}
		c.SetReadDeadline(lc.firstBy) // fails only on a closed connection, which serving finds
		return lc, nil
	}
}

// clientKey names a connection's client for the per-address limit: its
// IPv4 address, or its IPv6 address's /64 (one host's share of a LAN).
func clientKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return tcp.IP.Mask(net.CIDRMask(64, 128)).String()
}

// limitConn is a connection of a limitListener. Until its first request
// starts (started), no read deadline it is given goes past firstBy.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
	firstBy time.Time

	mu    sync.Mutex
	begun bool
	want  time.Time // the read deadline last asked for
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// SetReadDeadline sets the read deadline, at most firstBy until the first
// request started.
func (c *limitConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = t
	if !c.begun && (t.IsZero() || t.After(c.firstBy)) {
		t = c.firstBy
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, the read deadline as SetReadDeadline
// does.
func (c *limitConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// started lifts the first-byte deadline: the connection's first request
// has begun, its deadlines are the server's own from now on.
func (c *limitConn) started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.begun {
		c.begun = true
		c.Conn.SetReadDeadline(c.want)
	}
}

// logfWriter turns a Logf into the writer log.Logger wants.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package app

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// feedCommunity is one coordinator's home with posts at every marking:
// what the feed must serve, and what it must never serve.
type feedCommunity struct {
	a       *App
	retract string // the ID of a GREEN post the test retracts
}

// Values the feed serves at GREEN, and values it never serves there.
var (
	feedServed = map[IndicatorKind][]string{
		IndicatorIPv4:   {"192.0.2.1", "198.51.100.23", "203.0.113.9"},
		IndicatorIPv6:   {"2001:db8::1"},
		IndicatorDomain: {"evil.example", "login-games.example"},
		IndicatorURL:    {"http://login-games.example/sso"},
		IndicatorEmail:  {"phish@evil.example"},
		IndicatorMD5:    {"d41d8cd98f00b204e9800998ecf8427e"},
		IndicatorSHA1:   {"3f786850e387550fdab836ed7e6dc881de23001b"},
		IndicatorSHA256: {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	feedRetracted = "203.0.113.55"
	feedAmber     = "203.0.113.66"
	feedRed       = "203.0.113.99"
	feedExercise  = "203.0.113.77"
	feedTextOnly  = "203.0.113.88"
	// An observation notice names the organisation's own address.
	feedObservation = "198.51.100.200"
)

func newFeedCommunity(t *testing.T) *feedCommunity {
	t.Helper()
	// Clients check the certificate against the real time: the home's
	// clock starts at it.
	a := openNew(t, &fakeClock{t: time.Now()}, "Duty Officer")
	if _, err := a.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	post := func(d PostDraft) PostSummary {
		t.Helper()
		d.Type, d.Tag = TypeAlert, TagCaution
		p, err := a.Post(d)
		if err != nil {
			t.Fatalf("post %q: %v", d.Title, err)
		}
		return p
	}
	post(PostDraft{Title: "phishing wave", TLP: TLPGreen, Body: "also seen: " + feedTextOnly,
		Indicators: []string{"hxxp://login-games[.]example/sso", "login-games[.]example", "203.0.113.9", "198.51.100.23",
			"phish[@]evil[.]example", "2001:DB8::1", "D41D8CD98F00B204E9800998ECF8427E"}})
	post(PostDraft{Title: "samples", TLP: TLPClear, Indicators: []string{"203.0.113.9", "192.0.2.1", "evil.example",
		"3f786850e387550fdab836ed7e6dc881de23001b", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}})
	post(PostDraft{Title: "partner only", TLP: TLPAmber, Indicators: []string{feedAmber}})
	me := a.WhoAmI()
	post(PostDraft{Title: "insider", TLP: TLPRed, ToMembers: []string{me.Person}, Indicators: []string{feedRed}})
	post(PostDraft{Title: "exercise inject", TLP: TLPGreen, Exercise: "Joint Exercise 5", Indicators: []string{feedExercise}})
	post(PostDraft{Title: "your portal", TLP: TLPGreen, Channel: ChannelObservation, ToOrgs: []string{"Coordination Centre"},
		Indicators: []string{feedObservation}})
	r := post(PostDraft{Title: "mistaken", TLP: TLPGreen, Indicators: []string{feedRetracted}})
	return &feedCommunity{a: a, retract: r.ID}
}

// feedClient is an HTTPS client that trusts the feed's certificate.
func feedClient(t *testing.T, s *FeedServer) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s.Certificate().PEM)) {
		t.Fatal("the feed's certificate PEM does not parse")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

type feedResp struct {
	status int
	header http.Header
	body   string
}

func feedGet(t *testing.T, c *http.Client, method, url, token string, hdr ...string) feedResp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return feedResp{res.StatusCode, res.Header, string(b)}
}

// values returns a blocklist's lines that are not comments.
func values(body string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func startFeed(t *testing.T, a *App, opts FeedOptions) *FeedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.StartIndicatorFeedOn(ln, opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestIndicatorFeedBlocklists(t *testing.T) {
	fc := newFeedCommunity(t)
	a := fc.a
	token, err := a.CreateFeedToken("venue firewall")
	if err != nil {
		t.Fatal(err)
	}
	s := startFeed(t, a, FeedOptions{})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https on 127.0.0.1", s.URL())
	}
	c := feedClient(t, s)

	// Every kind's list holds exactly what GREEN allows, sorted.
	for _, k := range FeedKinds {
		r := feedGet(t, c, "GET", s.URL()+"/blocklist/"+k.File, token)
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", k.File, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", k.File, ct)
		}
		if r.header.Get("ETag") == "" || r.header.Get("Last-Modified") == "" {
			t.Errorf("%s: no ETag or Last-Modified: %v", k.File, r.header)
		}
		want := strings.Join(feedServed[k.Kind], " ")
		if k.Kind == IndicatorIPv4 {
			want += " " + feedRetracted // until it is retracted, below
		}
		if got := strings.Join(values(r.body), " "); got != want {
			t.Errorf("%s serves\n%s\nwant\n%s", k.File, strings.Join(values(r.body), " "), want)
		}
		for _, h := range []string{"# generated: ", "# count: ", "# tlp-max: TLP:GREEN"} {
			if !strings.Contains(r.body, h) {
				t.Errorf("%s: no %q in the header:\n%s", k.File, h, r.body)
			}
		}
		for _, never := range []string{feedAmber, feedRed, feedExercise, feedTextOnly, feedObservation, "[.]", "hxxp"} {
			if strings.Contains(r.body, never) {
				t.Errorf("%s serves %q:\n%s", k.File, never, r.body)
			}
		}
	}
	ipv4 := feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token)
	if !strings.Contains(ipv4.body, feedRetracted) {
		t.Fatalf("the post to retract is not served yet:\n%s", ipv4.body)
	}

	// Without a token, with a wrong one, with a revoked one: 401.
	for _, tok := range []string{"", "noroshi-feed-wrong", strings.ToUpper(token)} {
		r := feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", tok)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" || strings.Contains(r.body, "203.0.113") {
			t.Errorf("token %q: status %d, WWW-Authenticate %q, body %q", tok, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	// Basic authentication with the token as its password, as firewalls
	// that poll external block lists send it.
	req, _ := http.NewRequest("GET", s.URL()+"/blocklist/ipv4.txt", nil)
	req.SetBasicAuth("firewall", token)
	if res, err := c.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("basic auth: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// A conditional GET of an unchanged list: 304.
	r := feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token, "If-None-Match", ipv4.header.Get("ETag"))
	if r.status != http.StatusNotModified {
		t.Errorf("If-None-Match the current ETag: status %d, want 304", r.status)
	}
	r = feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token, "If-Modified-Since", ipv4.header.Get("Last-Modified"))
	if r.status != http.StatusNotModified {
		t.Errorf("If-Modified-Since the Last-Modified: status %d, want 304", r.status)
	}

	// A retraction is gone at the next poll, and the old ETag no longer
	// matches.
	domains := feedGet(t, c, "GET", s.URL()+"/blocklist/domains.txt", token)
	if _, err := a.Retract(fc.retract, "wrong address"); err != nil {
		t.Fatal(err)
	}
	r = feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token, "If-None-Match", ipv4.header.Get("ETag"))
	if r.status != 200 || strings.Contains(r.body, feedRetracted) {
		t.Errorf("after the retraction: status %d:\n%s", r.status, r.body)
	}
	if got := strings.Join(values(r.body), " "); got != strings.Join(feedServed[IndicatorIPv4], " ") {
		t.Errorf("after the retraction ipv4.txt serves %s", got)
	}
	// A poller that sends only If-Modified-Since sees the change too,
	// however soon it came.
	if r := feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token, "If-Modified-Since", ipv4.header.Get("Last-Modified")); r.status != 200 {
		t.Errorf("If-Modified-Since before the retraction: status %d, want 200", r.status)
	}
	// The other lists did not change: still 304.
	if r := feedGet(t, c, "GET", s.URL()+"/blocklist/domains.txt", token, "If-None-Match", domains.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("an unchanged list after the retraction: status %d, want 304", r.status)
	}

	// Read-only, and nothing else is there.
	if r := feedGet(t, c, "POST", s.URL()+"/blocklist/ipv4.txt", token); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", r.status)
	}
	if r := feedGet(t, c, "GET", s.URL()+"/blocklist/../../store.db", token); r.status != http.StatusNotFound {
		t.Errorf("a path outside the lists: status %d, want 404", r.status)
	}
	if r := feedGet(t, c, "HEAD", s.URL()+"/blocklist/domains.txt", token); r.status != 200 || r.body != "" {
		t.Errorf("HEAD: status %d, body %q", r.status, r.body)
	}

	// A revoked token is refused at once.
	if _, err := a.RevokeFeedToken("venue firewall"); err != nil {
		t.Fatal(err)
	}
	if r := feedGet(t, c, "GET", s.URL()+"/blocklist/ipv4.txt", token); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: status %d, want 401", r.status)
	}
}

// The TLP limit: AMBER appears when asked for, RED never, and RED is
// refused as a limit.
func TestIndicatorFeedTLPLimit(t *testing.T) {
	fc := newFeedCommunity(t)
	got, err := fc.a.FeedIndicators(TLPAmber, IndicatorIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, in := range got {
		vals = append(vals, in.Value)
	}
	if s := strings.Join(vals, " "); !strings.Contains(s, feedAmber) || strings.Contains(s, feedRed) || strings.Contains(s, feedExercise) {
		t.Errorf("at AMBER: %s", s)
	}
	got, _ = fc.a.FeedIndicators(TLPClear, IndicatorIPv4)
	vals = nil
	for _, in := range got {
		vals = append(vals, in.Value)
	}
	if s := strings.Join(vals, " "); s != "192.0.2.1 203.0.113.9" {
		t.Errorf("at CLEAR: %s", s)
	}
	if _, err := fc.a.FeedIndicators(TLPRed, ""); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a RED limit: %v, want ErrNotAllowed", err)
	}
	if _, err := fc.a.IndicatorFeed(FeedOptions{TLPMax: TLPRed}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a RED feed: %v, want ErrNotAllowed", err)
	}
}

func TestFeedTokens(t *testing.T) {
	a := openNew(t, newFakeClock(), "Duty Officer")
	if _, err := a.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	tok1, err := a.CreateFeedToken("proxy")
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := a.CreateFeedToken("")
	if err != nil {
		t.Fatal(err)
	}
	if tok1 == tok2 || !strings.HasPrefix(tok1, feedTokenPrefix) {
		t.Fatalf("tokens %q %q", tok1, tok2)
	}
	if _, err := a.CreateFeedToken("Proxy"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a second token labelled proxy: %v", err)
	}
	if _, err := a.CreateFeedToken("bad\nlabel"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a label with a newline: %v", err)
	}
	list := a.FeedTokens()
	if len(list) != 2 || list[0].Label != "proxy" || !strings.HasPrefix(list[1].Label, "token-") {
		t.Fatalf("tokens: %+v", list)
	}
	// Only hashes at rest: neither token is in the store file.
	raw, err := os.ReadFile(filepath.Join(a.Home(), StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tok1, tok2} {
		if bytes.Contains(raw, []byte(tok)) || bytes.Contains(raw, []byte(strings.TrimPrefix(tok, feedTokenPrefix))) {
			t.Errorf("token %q is in the store file", tok)
		}
		if _, ok := a.checkFeedToken(tok); !ok {
			t.Errorf("token %q is not accepted", tok)
		}
	}
	if _, err := a.RevokeFeedToken(list[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.checkFeedToken(tok2); ok {
		t.Error("a revoked token is accepted")
	}
	if _, err := a.RevokeFeedToken("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke an unknown token: %v", err)
	}
	if got := a.FeedTokens(); len(got) != 1 || got[0].Label != "proxy" {
		t.Errorf("after the revocation: %+v", got)
	}
}

// The certificate is kept in the home and reused; its key is sealed.
func TestIndicatorFeedCertificateReused(t *testing.T) {
	fc := newFeedCommunity(t)
	s1 := startFeed(t, fc.a, FeedOptions{})
	fp, pin := s1.Certificate().Fingerprint, s1.Certificate().PublicKeyPin
	s1.Close()
	s2 := startFeed(t, fc.a, FeedOptions{})
	if s2.Certificate().Fingerprint != fp || s2.Certificate().PublicKeyPin != pin {
		t.Errorf("a second run's certificate differs: %s %s, was %s %s", s2.Certificate().Fingerprint, s2.Certificate().PublicKeyPin, fp, pin)
	}
	if len(fp) != 32*3-1 || !strings.HasPrefix(pin, "sha256//") {
		t.Errorf("fingerprint %q, pin %q", fp, pin)
	}
	key := fc.a.store.GetLocal(localFeedKey)
	if !bytes.HasPrefix(key, []byte("age-encryption.org/v1")) {
		t.Errorf("the feed's TLS key is not sealed with age: %.40q", key)
	}
}

// Plain HTTP is served on loopback only.
func TestIndicatorFeedPlainHTTPLoopbackOnly(t *testing.T) {
	fc := newFeedCommunity(t)
	for _, bind := range []string{"0.0.0.0:0", ":0", "192.0.2.10:8443", "[::]:0"} {
		if s, err := fc.a.StartIndicatorFeed(bind, FeedOptions{PlainHTTP: true}); !errors.Is(err, ErrNotAllowed) {
			if s != nil {
				s.Close()
			}
			t.Errorf("plain HTTP on %s: %v, want ErrNotAllowed", bind, err)
		}
	}
	s, err := fc.a.StartIndicatorFeed("127.0.0.1:0", FeedOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.Certificate() != nil {
		t.Fatalf("URL %q", s.URL())
	}
	token, _ := fc.a.CreateFeedToken("")
	r := feedGet(t, http.DefaultClient, "GET", s.URL()+"/blocklist/domains.txt", token)
	if r.status != 200 || !strings.Contains(r.body, "evil.example") {
		t.Errorf("plain HTTP on loopback: %d %s", r.status, r.body)
	}
}

// curl, as a firewall's script would poll: with the pinned certificate
// and the token it gets the list; without the token, 401.
func TestIndicatorFeedCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: apt-get install curl")
	}
	fc := newFeedCommunity(t)
	token, _ := fc.a.CreateFeedToken("curl")
	s := startFeed(t, fc.a, FeedOptions{})
	ca := filepath.Join(t.TempDir(), "feed.pem")
	if err := os.WriteFile(ca, []byte(s.Certificate().PEM), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		i := bytes.LastIndexByte(out, '\n')
		return strings.TrimSpace(string(out[i+1:])), string(out[:i+1])
	}
	code, body := run("--cacert", ca, "-H", "Authorization: Bearer "+token, s.URL()+"/blocklist/ipv4.txt")
	if code != "200" || !strings.Contains(body, "203.0.113.9\n") {
		t.Errorf("curl with token: %s\n%s", code, body)
	}
	code, _ = run("--cacert", ca, "--pinnedpubkey", s.Certificate().PublicKeyPin, "-u", "fw:"+token, s.URL()+"/blocklist/urls.txt")
	if code != "200" {
		t.Errorf("curl with basic auth and the pinned key: %s", code)
	}
	code, body = run("--cacert", ca, s.URL()+"/blocklist/ipv4.txt")
	if code != "401" || strings.Contains(body, "203.0.113") {
		t.Errorf("curl without token: %s\n%s", code, body)
	}
	code, body = run("--cacert", ca, "-H", "Authorization: Bearer "+token, "-H", "Accept: "+TAXIIMediaType, s.URL()+"/taxii2/")
	if code != "200" || !strings.Contains(body, `"api_roots"`) {
		t.Errorf("curl TAXII discovery: %s\n%s", code, body)
	}
}

// taxiiGet fetches a TAXII resource and decodes its JSON.
func taxiiGet(t *testing.T, c *http.Client, url, token string, into any) feedResp {
	t.Helper()
	r := feedGet(t, c, "GET", url, token, "Accept", TAXIIMediaType)
	if r.status == 200 && into != nil {
		if err := json.Unmarshal([]byte(r.body), into); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, r.body)
		}
	}
	return r
}

type taxiiEnvelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

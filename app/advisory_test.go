package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// rateReset is the X-RateLimit-Reset the fake API answers a rate limit with.
const fakeRateReset = 1796641200 // 2026-12-07 11:00:00 UTC

// fakeGitHub serves recorded pages of GitHub's global advisory API
// (testdata/advisories) from a loopback httptest server. The first path
// element picks a scenario, so that one server serves every test:
//
//	/paged/advisories      page1.json, then (after=CURSOR1) page2.json
//	/revised/advisories    revised.json: a later revision of Log4Shell
//	/malformed/advisories  page1.json, then a page cut in the middle
//	/loop/advisories       page1.json whose next cursor never changes
//	/ratelimit/advisories  403, X-RateLimit-Remaining: 0 and a reset time
//	/toomany/advisories    429 with Retry-After: 120
//	/lastcall/advisories   page1.json, saying no request is left for an hour
//	/empty/advisories      []
//	/redirect/advisories   302 to /empty/advisories on localhost
type fakeGitHub struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

const fakeCursor = "Y3Vyc29yOnYyOpK0MjAyNC0wNy0zMFQxOTo1MToyMFrOAAPVsQ=="

func newFakeGitHub(t testing.TB) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{}
	page := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "advisories", name))
		if err != nil {
			t.Error(err)
		}
		return b
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		f.mu.Unlock()
		scenario, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if rest != "advisories" || r.Method != http.MethodGet {
			http.Error(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`, http.StatusNotFound)
			return
		}
		after := r.URL.Query().Get("after")
		next := func() {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/%s/advisories?per_page=%s&after=%s>; rel="next"`,
				r.Host, scenario, r.URL.Query().Get("per_page"), strings.ReplaceAll(fakeCursor, "=", "%3D")))
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "57")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(fakeRateReset))
		var body []byte
		switch {
		case scenario == "paged" && after == "":
			next()
			body = page("page1.json")
		case scenario == "paged" && after == fakeCursor:
			body = page("page2.json")
		case scenario == "revised":
			body = page("revised.json")
		case scenario == "malformed" && after == "":
			next()
			body = page("page1.json")
		case scenario == "malformed":
			body = page("malformed.json")
		case scenario == "lastcall" && after == "":
			// The last request this hour: go-github asks no more until the
			// reset (it checks against the real clock).
			next()
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
			body = page("page1.json")
		case scenario == "loop":
			next()
			body = page("page1.json")
		case scenario == "ratelimit":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusForbidden)
			body = page("ratelimit.json")
		case scenario == "toomany":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			body = page("ratelimit.json")
		case scenario == "redirect":
			http.Redirect(w, r, "http://"+strings.Replace(r.Host, "127.0.0.1", "localhost", 1)+"/empty/advisories", http.StatusFound)
			return
		case scenario == "empty":
			body = []byte("[]\n")
		default:
			w.WriteHeader(http.StatusNotFound)
			body = []byte(`{"message":"Not Found"}`)
		}
		w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns the requests served so far.
func (f *fakeGitHub) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// opts returns import options for a scenario of the fake API.
func (f *fakeGitHub) opts(scenario string) AdvisoryOptions {
	return AdvisoryOptions{HTTPClient: f.Client(), APIURL: f.URL + "/" + scenario + "/"}
}

// advisoryCommunity is a test community whose clock reads late 2026, after
// the recorded advisories were written.
func advisoryCommunity(t *testing.T) *community {
	c := newCommunity(t)
	c.clock.Advance(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC).Sub(c.clock.Now()))
	return c
}

func mustImport(t *testing.T, a *App, o AdvisoryOptions) AdvisoryResult {
	t.Helper()
	res, err := a.ImportAdvisories(context.Background(), o)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func actions(res AdvisoryResult) map[string]string {
	m := map[string]string{}
	for _, it := range res.Items {
		m[it.GHSA] = it.Action
		if it.Reason != "" {
			m[it.GHSA] += ": " + it.Reason
		}
	}
	return m
}

const log4shell = "GHSA-jfh8-c2jp-5v3q"

// TestAdvisoryImport reads two recorded pages (following the Link cursor),
// posts four vulnerability posts with their structured fields, and skips
// all four when run again.
func TestAdvisoryImport(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	res := mustImport(t, c.centre, gh.opts("paged"))
	if res.Added != 4 || res.Updated != 0 || res.Skipped != 0 || res.Pages != 2 || res.Read != 4 || res.LimitReached {
		t.Fatalf("first import: %+v, want 4 added over 2 pages", res)
	}
	reqs := gh.requests()
	if len(reqs) != 2 || reqs[0].URL.Query().Get("after") != "" || reqs[1].URL.Query().Get("after") != fakeCursor {
		t.Fatalf("requests %v, want the first page then after=%s", reqs, fakeCursor)
	}
	if got := reqs[0].Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization %q sent without a token", got)
	}
	feed := c.centre.Feed(FeedFilter{Type: TypeVulnerability})
	if len(feed) != 4 {
		t.Fatalf("feed lists %d vulnerability posts, want 4", len(feed))
	}
	tags := map[string]Tag{}
	for _, p := range feed {
		tags[strings.Fields(p.Title)[0]] = p.Tag
		if p.TLP != TLPClear.Label() && p.TLP != string(TLPClear) {
			t.Errorf("%s: TLP %s, want CLEAR", p.Title, p.TLP)
		}
	}
	want := map[string]Tag{log4shell: TagImportant, "GHSA-2m8v-4xqw-9q7c": TagCaution, "GHSA-5fg8-2547-mr8q:": TagInfo, "GHSA-r9cr-hv2x-3h5w": TagInfo}
	for id, tag := range want {
		if tags[id] != tag {
			t.Errorf("%s: tag %q, want %q (tags %v)", id, tags[id], tag, tags)
		}
	}
	var l4s string
	for _, it := range res.Items {
		if it.GHSA == log4shell {
			l4s = it.Post
		}
	}
	d, err := c.centre.Show(l4s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "GHSA-jfh8-c2jp-5v3q (CVE-2021-44228): Remote code injection in Log4j" || !strings.Contains(d.Body, "JNDI") {
		t.Errorf("title %q, body %q", d.Title, d.Body)
	}
	if d.Source == nil || d.Source.ID != "ghsa:"+log4shell || d.Source.URL != "https://github.com/advisories/"+log4shell ||
		!d.Source.Modified.Equal(time.Date(2024, 2, 16, 21, 43, 51, 0, time.UTC)) {
		t.Errorf("source %+v", d.Source)
	}
	f := d.Advisory
	if f == nil {
		t.Fatal("no advisory fields in the post's detail")
	}
	if f.GHSA != log4shell || !slices.Equal(f.CVEs, []string{"CVE-2021-44228"}) || f.Severity != "critical" || f.CVSSScore != 10 ||
		f.CVSSVector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" || !slices.Equal(f.CWEs, []string{"CWE-20", "CWE-502", "CWE-917"}) ||
		len(f.References) != 3 || !f.Published.Equal(time.Date(2021, 12, 10, 0, 40, 56, 0, time.UTC)) {
		t.Errorf("advisory fields %+v", f)
	}
	wantPkgs := []AdvisoryPackage{
		{Ecosystem: "maven", Name: "org.apache.logging.log4j:log4j-core", Vulnerable: ">= 2.13.0, < 2.15.0", Patched: "2.15.0"},
		{Ecosystem: "maven", Name: "org.apache.logging.log4j:log4j-core", Vulnerable: ">= 2.0-beta9, < 2.3.1", Patched: "2.3.1"},
	}
	if !slices.Equal(f.Packages, wantPkgs) {
		t.Errorf("packages %+v, want %+v", f.Packages, wantPkgs)
	}
	// The advisory with no CVE, a javascript: reference and no CVSS.
	for _, it := range res.Items {
		if it.GHSA != "GHSA-5fg8-2547-mr8q" {
			continue
		}
		d, err := c.centre.Show(it.Post)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Advisory.CVEs) != 0 || !slices.Equal(d.Advisory.References, []string{"https://github.com/example-org/ticketing-tools/pull/412"}) {
			t.Errorf("fields %+v: want no CVE and the javascript: reference dropped", d.Advisory)
		}
	}

	before := len(envelopes(t, c.centre))
	again := mustImport(t, c.centre, gh.opts("paged"))
	if again.Added != 0 || again.Updated != 0 || again.Skipped != 4 {
		t.Fatalf("second import: %+v, want 4 skipped", again)
	}
	for id, a := range actions(again) {
		if a != "skipped: already held (same revision)" {
			t.Errorf("%s: %s", id, a)
		}
	}
	if n := len(envelopes(t, c.centre)); n != before {
		t.Errorf("second import wrote %d envelopes", n-before)
	}

	// A dry run of a later revision says what it would do and writes nothing.
	o := gh.opts("revised")
	o.DryRun = true
	dry := mustImport(t, c.centre, o)
	if dry.Updated != 1 || dry.Skipped != 1 || !dry.DryRun || actions(dry)[log4shell] != AdvisoryUpdated {
		t.Fatalf("dry run: %+v", dry)
	}
	if n := len(envelopes(t, c.centre)); n != before {
		t.Errorf("dry run wrote %d envelopes", n-before)
	}
}

// TestAdvisoryFilters: severities, ecosystem, since and CVEs go to the API
// as its query parameters, and hold when a server ignores them.
func TestAdvisoryFilters(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	o := gh.opts("paged")
	o.Severities = []string{"critical,HIGH"}
	o.TLP = TLPGreen
	res := mustImport(t, c.centre, o)
	if res.Added != 2 || res.Skipped != 2 {
		t.Fatalf("severity critical,high: %+v", res)
	}
	if got := actions(res)["GHSA-5fg8-2547-mr8q"]; got != "skipped: severity medium not asked for" {
		t.Errorf("medium advisory: %s", got)
	}
	for _, p := range c.centre.Feed(FeedFilter{Type: TypeVulnerability}) {
		if p.TLP != TLPGreen.Label() && p.TLP != string(TLPGreen) {
			t.Errorf("%s: TLP %s, want GREEN", p.Title, p.TLP)
		}
	}

	o = gh.opts("paged")
	o.Severities = []string{"low"}
	o.Ecosystem = "Go"
	o.Since = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	o.DryRun = true
	res = mustImport(t, c.centre, o)
	if res.Added != 1 || actions(res)["GHSA-r9cr-hv2x-3h5w"] != AdvisoryAdded {
		t.Fatalf("low, go, since June 2024: %+v", actions(res))
	}
	q := gh.requests()[len(gh.requests())-2].URL.Query()
	if q.Get("severity") != "low" || q.Get("ecosystem") != "go" || q.Get("modified") != ">=2024-06-01T00:00:00Z" || q.Get("per_page") != "100" {
		t.Errorf("query %v", q)
	}

	o = gh.opts("revised")
	o.CVEs = []string{"cve-2021-44228", "CVE-2024-41992"}
	o.TLP = TLPGreen // as imported above: a version at another TLP is another post
	o.DryRun = true
	n := len(gh.requests())
	res = mustImport(t, c.centre, o)
	reqs := gh.requests()[n:]
	if len(reqs) != 2 || reqs[0].URL.Query().Get("cve_id") != "CVE-2021-44228" || reqs[1].URL.Query().Get("cve_id") != "CVE-2024-41992" {
		t.Fatalf("CVE queries %v", reqs)
	}
	// Each listing keeps only its CVE's advisory (this server ignores
	// cve_id): Log4Shell's revision is an update, the other is held already.
	if res.Updated != 1 || res.Skipped != 3 {
		t.Errorf("CVE import: %+v", actions(res))
	}

	for _, bad := range []AdvisoryOptions{
		{APIURL: "ftp://example.com/"},
		{APIURL: "http://ghe.example.com/api/v3/", Token: "ghp_secret"},
		{Severities: []string{"severe"}},
		{CVEs: []string{"CVE-21-1"}},
		{Ecosystem: "npm; rm -rf"},
		{TLP: TLPRed},
	} {
		if _, err := c.centre.ImportAdvisories(context.Background(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: error %v, want ErrInvalid", bad, err)
		}
	}
}

// TestAdvisoryToken: the token goes in the Authorization header.
func TestAdvisoryToken(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	o := gh.opts("empty")
	o.Token = "ghp_test"
	res := mustImport(t, c.centre, o)
	if res.Read != 0 || res.Pages != 1 {
		t.Fatalf("empty listing: %+v", res)
	}
	if got := gh.requests()[0].Header.Get("Authorization"); got != "Bearer ghp_test" {
		t.Errorf("Authorization %q", got)
	}
	// The token is not carried to another host by a redirect.
	o = gh.opts("redirect")
	o.Token = "ghp_test"
	n := len(gh.requests())
	if _, err := c.centre.ImportAdvisories(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not followed with a token") {
		t.Errorf("redirect to another host: %v", err)
	}
	if reqs := gh.requests(); len(reqs) != n+1 {
		t.Errorf("%d requests after the redirect, want none", len(reqs)-n-1)
	}
	// Without a token, it is followed.
	o.Token = ""
	if _, err := c.centre.ImportAdvisories(context.Background(), o); err != nil {
		t.Errorf("redirect without a token: %v", err)
	}
}

// TestAdvisoryLimit: the import stops at its budget and says so; a page
// asks for no more than is left of it.
func TestAdvisoryLimit(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	o := gh.opts("paged")
	o.Limit = 3
	res := mustImport(t, c.centre, o)
	if !res.LimitReached || res.Read != 3 || res.Added != 3 {
		t.Fatalf("limit 3: %+v", res)
	}
	reqs := gh.requests()
	if len(reqs) != 2 || reqs[1].URL.Query().Get("per_page") != "1" {
		t.Errorf("requests %v, want the second asking for 1", reqs)
	}
	// A server whose next page never moves on is left.
	_, err := c.centre.ImportAdvisories(context.Background(), gh.opts("loop"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "same next page") {
		t.Errorf("looping cursor: %v", err)
	}
}

// TestAdvisoryRateLimit: a rate-limited answer (403 with no requests left,
// or 429 with Retry-After) says when to try again and changes nothing.
func TestAdvisoryRateLimit(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	before := len(envelopes(t, c.centre))
	_, err := c.centre.ImportAdvisories(context.Background(), gh.opts("ratelimit"))
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("error %v, want a RateLimitError", err)
	}
	if !rl.Reset.Equal(time.Unix(fakeRateReset, 0)) || rl.Kept != 0 || rl.Token {
		t.Errorf("rate limit %+v", rl)
	}
	for _, s := range []string{"try again after 2026-12-07 11:00:00 UTC", "nothing changed", "token raises the limit"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	now := c.clock.Now()
	_, err = c.centre.ImportAdvisories(context.Background(), gh.opts("toomany"))
	if !errors.As(err, &rl) {
		t.Fatalf("429: error %v, want a RateLimitError", err)
	}
	if d := rl.Reset.Sub(now); d < 119*time.Second || d > 121*time.Second {
		t.Errorf("429 with Retry-After 120: reset %v after now", d)
	}
	if n := len(envelopes(t, c.centre)); n != before {
		t.Errorf("a rate-limited import wrote %d envelopes", n-before)
	}
	// The first page says it was the last request: the second is not
	// sent, and the first page's advisories are kept.
	n := len(gh.requests())
	res, err := c.centre.ImportAdvisories(context.Background(), gh.opts("lastcall"))
	if !errors.As(err, &rl) || rl.Kept != 2 || res.Added != 2 || rl.Reset.IsZero() {
		t.Fatalf("last call: %+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "the 2 advisories imported before it are kept") {
		t.Errorf("error %q", err)
	}
	if got := len(gh.requests()) - n; got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

// TestAdvisoryMalformedPage: a page that is not JSON stops the import with
// a clear error; the page before it stays imported.
func TestAdvisoryMalformedPage(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	res, err := c.centre.ImportAdvisories(context.Background(), gh.opts("malformed"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "the 2 advisories imported before it are kept") {
		t.Fatalf("error %v", err)
	}
	if res.Added != 2 {
		t.Errorf("result %+v, want the first page's 2 added", res)
	}
	if n := len(c.centre.Feed(FeedFilter{Type: TypeVulnerability})); n != 2 {
		t.Errorf("feed lists %d posts, want the first page's 2", n)
	}
}

// TestAdvisoryOffline: with nothing listening (a closed loopback port) the
// import says it is offline and changes nothing.
func TestAdvisoryOffline(t *testing.T) {
	c := advisoryCommunity(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	before := len(envelopes(t, c.centre))
	_, err = c.centre.ImportAdvisories(context.Background(), AdvisoryOptions{HTTPClient: &http.Client{}, APIURL: "http://" + addr + "/"})
	var off *OfflineError
	if !errors.Is(err, ErrOffline) || !errors.As(err, &off) || off.Host != addr || off.Kept != 0 {
		t.Fatalf("error %v, want offline from %s", err, addr)
	}
	if !strings.HasPrefix(err.Error(), "offline: no connection to "+addr+"; nothing changed") {
		t.Errorf("error %q", err)
	}
	if n := len(envelopes(t, c.centre)); n != before {
		t.Errorf("an offline import wrote %d envelopes", n-before)
	}
	// A cancelled import stops without touching the network.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.centre.ImportAdvisories(ctx, newFakeGitHub(t).opts("paged")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestAdvisoryConvergence: two homes import the same advisories while cut
// off from each other; after they sync, each advisory is one post, the
// same on both. A later revision imported on one of them replaces it on
// both, and the other then skips it as held.
func TestAdvisoryConvergence(t *testing.T) {
	c := advisoryCommunity(t)
	gh := newFakeGitHub(t)
	for _, a := range []*App{c.centre, c.venue} {
		if res := mustImport(t, a, gh.opts("paged")); res.Added != 4 {
			t.Fatalf("%s: %+v", a.WhoAmI().Name, res)
		}
	}
	c.sync(t)
	shown := func(a *App) map[string]string {
		m := map[string]string{}
		for _, p := range a.Feed(FeedFilter{Type: TypeVulnerability}) {
			id := strings.TrimSuffix(strings.Fields(p.Title)[0], ":")
			if _, dup := m[id]; dup {
				t.Errorf("%s lists %s twice", a.WhoAmI().Name, id)
			}
			m[id] = p.ID
		}
		return m
	}
	first := shown(c.centre)
	if len(first) != 4 {
		t.Fatalf("centre lists %v, want 4 advisories", first)
	}
	for _, a := range c.all {
		if got := shown(a); !mapsEqual(got, first) {
			t.Fatalf("%s shows %v, centre %v", a.WhoAmI().Name, got, first)
		}
	}
	d, err := c.power.Show(first[log4shell])
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Versions) != 2 {
		t.Errorf("Log4Shell has %d versions, want both imports", len(d.Versions))
	}

	// The venue imports a revision; the centre, not yet synced, still
	// shows the old one; after sync both show the revision.
	res := mustImport(t, c.venue, gh.opts("revised"))
	if actions(res)[log4shell] != AdvisoryUpdated || res.Skipped != 1 {
		t.Fatalf("revision: %v", actions(res))
	}
	c.sync(t)
	for _, a := range c.all {
		got := shown(a)
		if len(got) != 4 {
			t.Fatalf("%s lists %v after the revision", a.WhoAmI().Name, got)
		}
		d, err := a.Show(got[log4shell])
		if err != nil {
			t.Fatal(err)
		}
		if d.Advisory == nil || d.Advisory.Packages[0].Patched != "2.17.1" || !strings.Contains(d.Body, "2.17.1") {
			t.Errorf("%s shows %+v, want the revision", a.WhoAmI().Name, d.Advisory)
		}
		if got[log4shell] != res.Items[0].Post && res.Items[0].GHSA == log4shell {
			t.Errorf("%s shows %s, the venue posted %s", a.WhoAmI().Name, got[log4shell], res.Items[0].Post)
		}
	}
	again := mustImport(t, c.centre, gh.opts("revised"))
	if again.Added+again.Updated != 0 {
		t.Errorf("centre after sync: %v, want everything held", actions(again))
	}
	// An older listing does not bring the old revision back.
	older := mustImport(t, c.power, gh.opts("paged"))
	if older.Added+older.Updated != 0 || !strings.HasPrefix(actions(older)[log4shell], "skipped: already held (newer revision") {
		t.Errorf("older listing: %v", actions(older))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAdvisoryFieldsBounds: what an advisory gives is cleaned and bounded,
// and a post of it passes the post's own checks.
func TestAdvisoryFieldsBounds(t *testing.T) {
	long := strings.Repeat("é", 2000)
	g := &github.GlobalSecurityAdvisory{SecurityAdvisory: github.SecurityAdvisory{
		GHSAID: github.String(log4shell), Summary: github.String("line one\nline\x00two " + long),
		Description: github.String("body\r\nwith \x1b[31mcolour"), Severity: github.String("Moderate"),
		UpdatedAt: &github.Timestamp{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		CVSS:      &github.AdvisoryCVSS{Score: ptr(42.0)},
	}}
	for range 300 {
		g.Vulnerabilities = append(g.Vulnerabilities, &github.GlobalSecurityVulnerability{Package: &github.VulnerabilityPackage{Name: github.String(long)}})
		g.References = append(g.References, "https://example.com/"+fmt.Sprint(len(g.References)))
	}
	f, err := advisoryFields(g)
	if err != nil {
		t.Fatal(err)
	}
	if f.Severity != "medium" || f.CVSSScore != 0 || len(f.Packages) != maxAdvisoryPackages || len(f.References) != maxAdvisoryRefs {
		t.Errorf("fields: severity %q, score %v, %d packages, %d references", f.Severity, f.CVSSScore, len(f.Packages), len(f.References))
	}
	d := draftOfAdvisory(g, f, AdvisoryOptions{TLP: TLPClear, Channel: ChannelPro})
	if err := checkDraft(&d, MaxAttachmentSize); err != nil {
		t.Fatalf("draft refused: %v", err)
	}
	if d.Body != "body\nwith [31mcolour" {
		t.Errorf("body %q", d.Body)
	}
	for _, bad := range []string{"", "GHSA-xxxx", "GHSA-aaaa-bbbb-cccc"} {
		g.GHSAID = github.String(bad)
		if _, err := advisoryFields(g); err == nil {
			t.Errorf("GHSA ID %q accepted", bad)
		}
	}
}

// FuzzAdvisoryPage: any page the API may send decodes as go-github decodes
// it, and every advisory taken from it makes a post that passes the post's
// own checks, without panicking.
func FuzzAdvisoryPage(f *testing.F) {
	for _, name := range []string{"page1.json", "page2.json", "revised.json", "malformed.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "advisories", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"ghsa_id":"GHSA-jfh8-c2jp-5v3q","published_at":0,"cvss":{"score":-1},"references":["http://\u0000"]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var advs []*github.GlobalSecurityAdvisory
		if json.Unmarshal(b, &advs) != nil {
			return
		}
		for _, g := range advs {
			if g == nil {
				continue
			}
			fields, err := advisoryFields(g)
			if err != nil {
				continue
			}
			d := draftOfAdvisory(g, fields, AdvisoryOptions{TLP: TLPClear, Channel: ChannelPro})
			if err := checkDraft(&d, MaxAttachmentSize); err != nil {
				t.Fatalf("draft of %q refused: %v", fields.GHSA, err)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestAdvisoryClockBehind: on a device whose clock is behind the
// advisories' own times, the views date each version no later than its
// clock; the import still sees that it holds the same revision.
func TestAdvisoryClockBehind(t *testing.T) {
	c := newCommunity(t) // July 2021, before the recorded advisories
	gh := newFakeGitHub(t)
	if res := mustImport(t, c.centre, gh.opts("paged")); res.Added != 4 {
		t.Fatalf("first import: %v", actions(res))
	}
	if res := mustImport(t, c.centre, gh.opts("paged")); res.Skipped != 4 {
		t.Fatalf("second import: %v, want all held", actions(res))
	}
	if res := mustImport(t, c.centre, gh.opts("revised")); res.Updated != 1 {
		t.Fatalf("revision: %v", actions(res))
	}
	if res := mustImport(t, c.centre, gh.opts("revised")); res.Skipped != 2 {
		t.Fatalf("revision again: %v, want all held", actions(res))
	}
}

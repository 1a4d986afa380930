package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"

	"noroshi/crypto"
)

// GitHub security advisories as vulnerability posts (DESIGN.md section 6).
//
// ImportAdvisories reads the global advisory database through go-github's
// SecurityAdvisories.ListGlobalSecurityAdvisories, page by page (the
// endpoint pages by cursor: the Link header's "after", which go-github
// hands back as Response.After), and posts each advisory as a
// vulnerability post whose Source is "ghsa:<GHSA ID>", so that one
// advisory is one post across the community, whoever imported it (see
// sources.go), and a later revision of it replaces it.
//
// Budgets: at most Limit advisories are read per import (DefaultAdvisoryLimit
// unless the options say otherwise), a page body is at most maxAdvisoryPage
// bytes, and every field kept from an advisory is bounded (checkAdvisory).
// Each page is posted before the next is asked for: an error on a later
// page (a malformed page, the connection lost, a rate limit) leaves what
// was posted before it, and an import run again skips what it already
// holds.

// DefaultAdvisoryAPI is the GitHub REST API.
const DefaultAdvisoryAPI = "https://api.github.com/"

// DefaultAdvisoryLimit is how many advisories one import reads at most,
// unless its options say otherwise.
const DefaultAdvisoryLimit = 1000

// Bounds on an import and on what a post keeps of one advisory.
const (
	maxAdvisoryPage     = 16 << 20 // bytes of one page of the API's answer
	maxAdvisoryPerPage  = 100      // the API's own maximum
	maxAdvisoryCVEQuery = 50       // CVE IDs asked for in one import
	maxAdvisoryPackages = 100
	maxAdvisoryRefs     = 50
	maxAdvisoryIDs      = 20 // CVE IDs, CWE IDs
	maxAdvisoryField    = 1024
)

// AdvisoryFields are the structured fields of a post made from a GitHub
// security advisory.
type AdvisoryFields struct {
	// GHSA is the advisory's GitHub ID (GHSA-xxxx-xxxx-xxxx).
	GHSA string   `json:"ghsa"`
	CVEs []string `json:"cves,omitempty"`
	// Severity is GitHub's: critical, high, medium, low or unknown.
	Severity   string            `json:"severity,omitempty"`
	CVSSScore  float64           `json:"cvss_score,omitempty"`
	CVSSVector string            `json:"cvss_vector,omitempty"`
	CWEs       []string          `json:"cwes,omitempty"`
	Packages   []AdvisoryPackage `json:"packages,omitempty"`
	References []string          `json:"references,omitempty"`
	// URL is the advisory's page on GitHub.
	URL       string    `json:"url,omitempty"`
	Published time.Time `json:"published,omitzero"`
	Updated   time.Time `json:"updated,omitzero"`
	// Withdrawn is set when GitHub withdrew the advisory.
	Withdrawn time.Time `json:"withdrawn,omitzero"`
}

// AdvisoryPackage is one package an advisory affects.
type AdvisoryPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	// Vulnerable is the affected version range, as GitHub writes it
	// (">= 2.0.0, < 2.15.0").
	Vulnerable string `json:"vulnerable,omitempty"`
	// Patched is the first patched version, empty when there is none.
	Patched string `json:"patched,omitempty"`
}

// AdvisoryOptions says where to read advisories, which, and how.
type AdvisoryOptions struct {
	// HTTPClient makes the requests (timeouts, proxy); nil uses a client
	// with a one-minute timeout.
	HTTPClient *http.Client
	// APIURL is the REST API's base: DefaultAdvisoryAPI when empty; for
	// GitHub Enterprise Server, https://HOST/api/v3/.
	APIURL string
	// Token is a GitHub token, optional: it raises the rate limit. It is
	// sent only over HTTPS (or to a loopback address).
	Token string
	// Ecosystem keeps advisories of one ecosystem (npm, pip, maven, go,
	// rubygems, nuget, composer, rust, erlang, actions, pub, swift, other).
	Ecosystem string
	// Severities keeps advisories of these severities (critical, high,
	// medium, low, unknown); none keeps all.
	Severities []string
	// Since keeps advisories published or updated at or after it.
	Since time.Time
	// CVEs asks for the advisories of these CVE IDs only.
	CVEs []string
	// DryRun reads and decides, but posts nothing.
	DryRun bool
	// TLP marks the posts: CLEAR (the advisories are public) when empty.
	TLP TLP
	// Channel is where the posts appear: pro when empty.
	Channel Channel
	// Limit is how many advisories to read at most: DefaultAdvisoryLimit
	// when 0. PerPage is the page size asked for (at most 100, the
	// default).
	Limit   int
	PerPage int
}

// What an import did with one advisory.
const (
	AdvisoryAdded   = "added"
	AdvisoryUpdated = "updated"
	AdvisorySkipped = "skipped"
)

// AdvisoryResult is what an import did.
type AdvisoryResult struct {
	// Host is the API's host name.
	Host   string `json:"host"`
	DryRun bool   `json:"dry_run"`
	// Read counts the advisories received, Pages the pages.
	Read    int `json:"read"`
	Pages   int `json:"pages"`
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	// LimitReached says that the import stopped at Limit advisories with
	// more left to read: narrow it (since, ecosystem, severity) or raise
	// the limit.
	LimitReached bool `json:"limit_reached"`
	Limit        int  `json:"limit"`
	// Items lists every advisory read, in the order read.
	Items []AdvisoryItem `json:"items"`
}

// AdvisoryItem is what an import did with one advisory.
type AdvisoryItem struct {
	GHSA     string    `json:"ghsa"`
	Title    string    `json:"title"`
	Severity string    `json:"severity,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
	// Action is AdvisoryAdded, AdvisoryUpdated or AdvisorySkipped
	// (with a dry run: what the import would do).
	Action string `json:"action"`
	// Reason says why it was skipped.
	Reason string `json:"reason,omitempty"`
	// Post is the post that shows the advisory, when there is one.
	Post string `json:"post,omitempty"`
}

// OfflineError says that the advisory API could not be reached at all (no
// route, no name resolution, connection refused). It unwraps to ErrOffline
// and to the network's own error.
type OfflineError struct {
	Host string
	// Kept counts the advisories posted before the connection failed.
	Kept int
	Err  error
}

func (e *OfflineError) Error() string {
	if e.Kept == 0 {
		return fmt.Sprintf("offline: no connection to %s; nothing changed (%v)", e.Host, e.Err)
	}
	return fmt.Sprintf("offline: connection to %s lost after %d advisories were imported (they are kept; run again for the rest) (%v)", e.Host, e.Kept, e.Err)
}

// Unwrap returns ErrOffline and the network's error.
func (e *OfflineError) Unwrap() []error { return []error{ErrOffline, e.Err} }

// RateLimitError says that the advisory API refused for now, and until
// when. It unwraps to ErrRateLimited.
type RateLimitError struct {
	Host string
	// Reset is when to try again; zero when the API did not say.
	Reset time.Time
	// Kept counts the advisories posted before the limit was met.
	Kept int
	// Token says whether a token was sent (a token raises the limit).
	Token bool
}

func (e *RateLimitError) Error() string {
	s := fmt.Sprintf("%s refuses more requests for now (rate limit)", e.Host)
	if e.Reset.IsZero() {
		s += ": try again in a few minutes"
	} else {
		s += ": try again after " + e.Reset.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if e.Kept == 0 {
		s += "; nothing changed"
	} else {
		s += fmt.Sprintf("; the %d advisories imported before it are kept", e.Kept)
	}
	if !e.Token {
		s += "; a GitHub token raises the limit"
	}
	return s
}

// Unwrap returns ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

var (
	ghsaPattern = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	cvePattern  = regexp.MustCompile(`^CVE-\d{4}-\d{4,9}$`)
	ecoPattern  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
)

// advisorySeverities are GitHub's severities; "moderate" (GitHub's web
// pages) reads as medium.
var advisorySeverities = []string{"critical", "high", "medium", "low", "unknown"}

// ImportAdvisories reads GitHub security advisories and posts each one this
// device does not hold in its latest revision as a vulnerability post. It
// returns what it did with each advisory; on an error it returns what it
// did before it too (each page is posted before the next is read).
func (a *App) ImportAdvisories(ctx context.Context, o AdvisoryOptions) (AdvisoryResult, error) {
	base, err := o.normalise()
	res := AdvisoryResult{DryRun: o.DryRun, Limit: o.Limit, Items: []AdvisoryItem{}}
	if err != nil {
		return res, err
	}
	res.Host = base.Host
	if !o.DryRun {
		a.mu.RLock()
		me, err := a.me()
		a.mu.RUnlock()
		if err != nil {
			return res, err
		}
		if me.Role == crypto.RoleRelay {
			return res, fmt.Errorf("%w: a relay device cannot post: import advisories on a member's device", ErrNotAllowed)
		}
	}
	imp := &advisoryImport{a: a, o: o, res: &res, seen: map[string]time.Time{}, client: newAdvisoryClient(o, base)}
	queries := []string{""}
	if len(o.CVEs) > 0 {
		queries = o.CVEs
	}
	for _, cve := range queries {
		if err := imp.list(ctx, cve); err != nil {
			return res, err
		}
		if res.LimitReached {
			break
		}
	}
	return res, nil
}

// normalise checks and fills in the options and returns the API's base URL.
func (o *AdvisoryOptions) normalise() (*url.URL, error) {
	if o.APIURL == "" {
		o.APIURL = DefaultAdvisoryAPI
	}
	base, err := url.Parse(strings.TrimSpace(o.APIURL))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.User != nil {
		return nil, fmt.Errorf("%w: API URL %q: want https://HOST/ (GitHub Enterprise Server: https://HOST/api/v3/)", ErrInvalid, o.APIURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawQuery, base.Fragment = "", ""
	if o.Token != "" && base.Scheme != "https" && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("%w: a GitHub token is sent only over https, and %s is http: use https, or import without a token", ErrInvalid, base.Host)
	}
	if o.Limit <= 0 {
		o.Limit = DefaultAdvisoryLimit
	}
	if o.PerPage <= 0 || o.PerPage > maxAdvisoryPerPage {
		o.PerPage = maxAdvisoryPerPage
	}
	if o.TLP == "" {
		o.TLP = TLPClear
	}
	if o.Channel == "" {
		o.Channel = ChannelPro
	}
	if o.TLP == TLPRed {
		return nil, fmt.Errorf("%w: advisories are public; TLP:RED posts go to named people only, which an import does not name", ErrInvalid)
	}
	if o.Channel == ChannelObservation {
		return nil, fmt.Errorf("%w: advisories go to the pro or general channel, not to an organisation's observation channel", ErrInvalid)
	}
	o.Ecosystem = strings.ToLower(strings.TrimSpace(o.Ecosystem))
	if o.Ecosystem != "" && !ecoPattern.MatchString(o.Ecosystem) {
		return nil, fmt.Errorf("%w: ecosystem %q: want a name such as npm, pip, maven, go, rubygems, nuget, composer, rust", ErrInvalid, o.Ecosystem)
	}
	var sev []string
	for _, s := range o.Severities {
		for _, one := range strings.Split(s, ",") {
			one = strings.ToLower(strings.TrimSpace(one))
			if one == "moderate" {
				one = "medium"
			}
			if one == "" {
				continue
			}
			if !slices.Contains(advisorySeverities, one) {
				return nil, fmt.Errorf("%w: severity %q: use %s", ErrInvalid, one, strings.Join(advisorySeverities, ", "))
			}
			if !slices.Contains(sev, one) {
				sev = append(sev, one)
			}
		}
	}
	o.Severities = sev
	var cves []string
	for _, c := range o.CVEs {
		for _, one := range strings.Split(c, ",") {
			one = strings.ToUpper(strings.TrimSpace(one))
			if one == "" {
				continue
			}
			if !cvePattern.MatchString(one) {
				return nil, fmt.Errorf("%w: CVE ID %q: want CVE-YYYY-NNNN", ErrInvalid, one)
			}
			if !slices.Contains(cves, one) {
				cves = append(cves, one)
			}
		}
	}
	if len(cves) > maxAdvisoryCVEQuery {
		return nil, fmt.Errorf("%w: %d CVE IDs, at most %d in one import", ErrTooLarge, len(cves), maxAdvisoryCVEQuery)
	}
	o.CVEs = cves
	return base, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newAdvisoryClient returns a go-github client for the API at base, whose
// answers are bounded to maxAdvisoryPage bytes each.
func newAdvisoryClient(o AdvisoryOptions, base *url.URL) *github.Client {
	hc := &http.Client{Timeout: time.Minute}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		hc = &c
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc.Transport = limitTransport{rt: rt, max: maxAdvisoryPage}
	if o.Token != "" {
		// go-github sets the token on every request, redirected ones too:
		// follow no redirect to another host.
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || req.URL.Host != base.Host || req.URL.Scheme != base.Scheme {
				return fmt.Errorf("redirected to %s: not followed with a token", req.URL.Host)
			}
			return nil
		}
	}
	c := github.NewClient(hc)
	if o.Token != "" {
		c = c.WithAuthToken(o.Token)
	}
	c.BaseURL = base
	c.UserAgent = "noroshi"
	return c
}

// limitTransport bounds every answer's body.
type limitTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max + 1, max: t.max}
	return resp, nil
}

// errPageTooLarge is what reading past a page's budget returns.
type errPageTooLarge struct{ max int64 }

func (e errPageTooLarge) Error() string { return fmt.Sprintf("larger than %d MiB", e.max>>20) }

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errPageTooLarge{b.max}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// advisoryImport is one import under way.
type advisoryImport struct {
	a      *App
	o      AdvisoryOptions
	res    *AdvisoryResult
	client *github.Client
	// seen is the newest revision of each advisory read so far.
	seen map[string]time.Time
}

// kept counts the advisories posted so far.
func (imp *advisoryImport) kept() int {
	if imp.o.DryRun {
		return 0
	}
	return imp.res.Added + imp.res.Updated
}

// list reads every page of one listing (all advisories, or one CVE's) and
// posts each page as it comes.
func (imp *advisoryImport) list(ctx context.Context, cve string) error {
	lo := &github.ListGlobalSecurityAdvisoriesOptions{}
	if cve != "" {
		lo.CVEID = github.String(cve)
	}
	if imp.o.Ecosystem != "" {
		lo.Ecosystem = github.String(imp.o.Ecosystem)
	}
	if len(imp.o.Severities) == 1 {
		lo.Severity = github.String(imp.o.Severities[0])
	}
	if !imp.o.Since.IsZero() {
		lo.Modified = github.String(">=" + imp.o.Since.UTC().Format(time.RFC3339))
	}
	cursors := map[string]bool{}
	for {
		left := imp.o.Limit - imp.res.Read
		if left <= 0 {
			imp.res.LimitReached = true
			return nil
		}
		lo.PerPage = min(imp.o.PerPage, left)
		advs, resp, err := imp.client.SecurityAdvisories.ListGlobalSecurityAdvisories(ctx, lo)
		if err != nil {
			return imp.failed(ctx, resp, err)
		}
		imp.res.Pages++
		if len(advs) > left {
			advs = advs[:left]
			imp.res.LimitReached = true
		}
		if err := imp.page(advs, cve); err != nil {
			return err
		}
		next := resp.After
		switch {
		case next == "" || len(advs) == 0:
			return nil
		case cursors[next]:
			return fmt.Errorf("%w: %s gave the same next page twice (cursor %q): the listing stops here; %s", ErrInvalid, imp.res.Host, clip(next, 64), keptPhrase(imp.kept()))
		case imp.res.Read >= imp.o.Limit:
			imp.res.LimitReached = true
			return nil
		}
		cursors[next] = true
		lo.After = next
	}
}

// keptPhrase says what an import that failed part way leaves.
func keptPhrase(n int) string {
	switch n {
	case 0:
		return "nothing changed"
	case 1:
		return "the 1 advisory imported before it is kept"
	}
	return fmt.Sprintf("the %d advisories imported before it are kept", n)
}

// failed turns a failed request into an error that says what to do.
func (imp *advisoryImport) failed(ctx context.Context, resp *github.Response, err error) error {
	host := imp.res.Host
	var (
		rl    *github.RateLimitError
		abuse *github.AbuseRateLimitError
		er    *github.ErrorResponse
		big   errPageTooLarge
	)
	now := imp.a.cfg.Now()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("advisory import from %s stopped (%w); %s", host, ctx.Err(), keptPhrase(imp.kept()))
	case errors.As(err, &rl):
		// go-github answers without asking when an earlier answer said no
		// request was left: its Rate says until when.
		reset := rateReset(rl.Response, now)
		if reset.IsZero() && !rl.Rate.Reset.IsZero() && !rl.Rate.Reset.After(now.Add(MaxRateLimitWait)) {
			reset = rl.Rate.Reset.UTC()
		}
		return &RateLimitError{Host: host, Reset: reset, Kept: imp.kept(), Token: imp.o.Token != ""}
	case errors.As(err, &abuse):
		return &RateLimitError{Host: host, Reset: rateReset(abuse.Response, now), Kept: imp.kept(), Token: imp.o.Token != ""}
	case errors.As(err, &er) && er.Response != nil && isRateLimit(er.Response):
		return &RateLimitError{Host: host, Reset: rateReset(er.Response, now), Kept: imp.kept(), Token: imp.o.Token != ""}
	case isOffline(err):
		return &OfflineError{Host: host, Kept: imp.kept(), Err: err}
	case errors.As(err, &big):
		return fmt.Errorf("%w: page %d from %s is %s; %s", ErrTooLarge, imp.res.Pages+1, host, big, keptPhrase(imp.kept()))
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %s refused the GitHub token (401 %s): check the token, or import without one", ErrNotAllowed, host, clip(er.Message, 200))
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s has no advisory database at %sadvisories (404): check the API URL (GitHub Enterprise Server: https://HOST/api/v3/)", ErrNotFound, host, imp.client.BaseURL)
	case errors.As(err, &er) && er.Response != nil:
		return fmt.Errorf("advisories from %s: %s answered %d %s; %s", host, host, er.Response.StatusCode, clip(er.Message, 200), keptPhrase(imp.kept()))
	case resp != nil && resp.StatusCode/100 == 2:
		return fmt.Errorf("%w: page %d from %s is not a list of advisories (%s); %s", ErrInvalid, imp.res.Pages+1, host, clip(err.Error(), 200), keptPhrase(imp.kept()))
	}
	return fmt.Errorf("advisories from %s: %w; %s", host, err, keptPhrase(imp.kept()))
}

// isRateLimit reports whether an error answer is a rate limit that go-github
// does not type (a 429, or a 403 that only says when to retry).
func isRateLimit(r *http.Response) bool {
	switch r.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return r.Header.Get("X-RateLimit-Remaining") == "0" || r.Header.Get("Retry-After") != ""
	}
	return false
}

// MaxRateLimitWait bounds how far ahead a rate limit's reset is believed:
// GitHub's limits reset within the hour, and a server that says "in a
// year" (or in 30,000 years, past what a time.Duration holds) is not
// believed; RateLimitError.Reset is zero then.
const MaxRateLimitWait = 24 * time.Hour

// rateReset reads when a rate-limited client may try again: Retry-After
// (seconds from now), else X-RateLimit-Reset (Unix seconds); zero when
// neither says, or says more than MaxRateLimitWait ahead.
func rateReset(r *http.Response, now time.Time) time.Time {
	if r == nil {
		return time.Time{}
	}
	if s, err := strconv.ParseInt(r.Header.Get("Retry-After"), 10, 64); err == nil && s >= 0 && s <= int64(MaxRateLimitWait/time.Second) {
		return now.Add(time.Duration(s) * time.Second).Truncate(time.Second)
	}
	if s, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 && s <= now.Add(MaxRateLimitWait).Unix() {
		return time.Unix(s, 0).UTC()
	}
	return time.Time{}
}

// isOffline reports whether err says that the host could not be reached at
// all: name resolution, or the connection (or the proxy's) not made.
func isOffline(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// page decides what to do with each advisory of a page and posts the page.
func (imp *advisoryImport) page(advs []*github.GlobalSecurityAdvisory, cve string) error {
	var drafts []PostDraft
	var at []int // the item of each draft
	for _, g := range advs {
		imp.res.Read++
		if g == nil {
			imp.skip(AdvisoryItem{}, "empty entry in the listing")
			continue
		}
		f, err := advisoryFields(g)
		item := AdvisoryItem{GHSA: clip(oneLineText(g.GetGHSAID()), 64), Title: clip(oneLineText(g.GetSummary()), MaxTitle), Severity: f.Severity, Updated: f.Updated}
		if err != nil {
			imp.skip(item, err.Error())
			continue
		}
		if reason := imp.filtered(f, cve); reason != "" {
			imp.skip(item, reason)
			continue
		}
		if prev, ok := imp.seen[f.GHSA]; ok && !prev.Before(f.Updated) {
			imp.skip(item, "listed twice")
			continue
		}
		imp.seen[f.GHSA] = f.Updated
		d := draftOfAdvisory(g, f, imp.o)
		item.Title = d.Title
		h, held := imp.a.SourceHeld(d.Source.ID, d.TLP)
		item.Post = h.Post
		switch {
		case held && h.Modified.Equal(f.Updated):
			imp.skip(item, "already held (same revision)")
			continue
		case held && !h.Wants(f.Updated):
			imp.skip(item, "already held (newer revision "+h.Modified.UTC().Format(time.RFC3339)+")")
			continue
		case held:
			item.Action = AdvisoryUpdated
		default:
			item.Action = AdvisoryAdded
		}
		imp.res.Items = append(imp.res.Items, item)
		drafts = append(drafts, d)
		at = append(at, len(imp.res.Items)-1)
	}
	if imp.o.DryRun {
		for _, i := range at {
			imp.count(imp.res.Items[i].Action)
		}
		return nil
	}
	return imp.post(drafts, at)
}

// post stores a page's drafts. A draft the app refuses is skipped with the
// reason; any other failure stops the import.
func (imp *advisoryImport) post(drafts []PostDraft, at []int) error {
	for len(drafts) > 0 {
		n, err := imp.a.PostBatch(drafts)
		for i := range n {
			it := &imp.res.Items[at[i]]
			imp.count(it.Action)
			if h, ok := imp.a.SourceHeld(drafts[i].Source.ID, drafts[i].TLP); ok {
				it.Post = h.Post
			}
		}
		if err == nil {
			return nil
		}
		if n >= len(drafts) || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge)) {
			return fmt.Errorf("post advisories: %w; %s", err, keptPhrase(imp.kept()))
		}
		it := &imp.res.Items[at[n]]
		it.Action, it.Reason = AdvisorySkipped, "refused: "+clip(err.Error(), 300)
		imp.res.Skipped++
		drafts, at = drafts[n+1:], at[n+1:]
	}
	return nil
}

func (imp *advisoryImport) count(action string) {
	switch action {
	case AdvisoryAdded:
		imp.res.Added++
	case AdvisoryUpdated:
		imp.res.Updated++
	}
}

func (imp *advisoryImport) skip(it AdvisoryItem, reason string) {
	it.Action, it.Reason = AdvisorySkipped, reason
	imp.res.Items = append(imp.res.Items, it)
	imp.res.Skipped++
}

// filtered says why an advisory is not wanted, or "" when it is. The API
// filters too; this holds when a server ignores a filter, and for several
// severities, which the API takes one at a time.
func (imp *advisoryImport) filtered(f *AdvisoryFields, cve string) string {
	o := imp.o
	if len(o.Severities) > 0 && !slices.Contains(o.Severities, f.Severity) {
		return "severity " + orUnknown(f.Severity) + " not asked for"
	}
	if o.Ecosystem != "" && !slices.ContainsFunc(f.Packages, func(p AdvisoryPackage) bool { return strings.EqualFold(p.Ecosystem, o.Ecosystem) }) {
		return "no package in ecosystem " + o.Ecosystem
	}
	if !o.Since.IsZero() && f.Updated.Before(o.Since) {
		return "not updated since " + o.Since.UTC().Format(time.RFC3339)
	}
	if cve != "" && !slices.Contains(f.CVEs, cve) {
		return "not about " + cve
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// advisoryTime reads one of an advisory's times: zero when absent or
// before 1970. The revision time decides which version of the advisory's
// post every device shows; the server's date in 1600 would otherwise pin
// a version against every later real revision.
func advisoryTime(t *github.Timestamp) time.Time {
	if t == nil || t.Before(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t.UTC()
}

// advisoryFields keeps what a post carries of an advisory, each field
// cleaned and bounded. An advisory without a valid GHSA ID or a revision
// time is refused.
func advisoryFields(g *github.GlobalSecurityAdvisory) (*AdvisoryFields, error) {
	f := &AdvisoryFields{
		GHSA:     strings.TrimSpace(g.GetGHSAID()),
		Severity: strings.ToLower(clip(oneLineText(g.GetSeverity()), 16)),
		URL:      webURL(g.GetHTMLURL()),
	}
	if f.Severity == "moderate" {
		f.Severity = "medium"
	}
	if !slices.Contains(advisorySeverities, f.Severity) {
		f.Severity = "unknown"
	}
	f.Published, f.Updated, f.Withdrawn = advisoryTime(g.PublishedAt), advisoryTime(g.UpdatedAt), advisoryTime(g.WithdrawnAt)
	if f.Updated.IsZero() {
		f.Updated = f.Published
	}
	switch {
	case !ghsaPattern.MatchString(f.GHSA):
		return f, fmt.Errorf("malformed: no valid GHSA ID (%q)", clip(f.GHSA, 64))
	case f.Updated.IsZero():
		return f, errors.New("malformed: no updated_at or published_at (or one before 1970)")
	}
	addCVE := func(s string) {
		s = strings.ToUpper(strings.TrimSpace(s))
		if cvePattern.MatchString(s) && !slices.Contains(f.CVEs, s) && len(f.CVEs) < maxAdvisoryIDs {
			f.CVEs = append(f.CVEs, s)
		}
	}
	addCVE(g.GetCVEID())
	for _, id := range g.Identifiers {
		if id != nil && strings.EqualFold(id.GetType(), "CVE") {
			addCVE(id.GetValue())
		}
	}
	if c := g.GetCVSS(); c != nil {
		if s := c.GetScore(); s != nil && *s >= 0 && *s <= 10 {
			f.CVSSScore = *s
		}
		f.CVSSVector = clip(oneLineText(c.GetVectorString()), 256)
	}
	for _, w := range g.CWEs {
		if id := clip(oneLineText(w.GetCWEID()), 32); id != "" && len(f.CWEs) < maxAdvisoryIDs && !slices.Contains(f.CWEs, id) {
			f.CWEs = append(f.CWEs, id)
		}
	}
	for _, v := range g.Vulnerabilities {
		if v == nil || len(f.Packages) >= maxAdvisoryPackages {
			continue
		}
		p := AdvisoryPackage{
			Ecosystem:  clip(oneLineText(v.GetPackage().GetEcosystem()), 32),
			Name:       clip(oneLineText(v.GetPackage().GetName()), 256),
			Vulnerable: clip(oneLineText(v.GetVulnerableVersionRange()), 256),
			Patched:    clip(oneLineText(v.GetFirstPatchedVersion()), 128),
		}
		if p.Name != "" || p.Vulnerable != "" {
			f.Packages = append(f.Packages, p)
		}
	}
	for _, r := range g.References {
		if u := webURL(r); u != "" && len(f.References) < maxAdvisoryRefs && !slices.Contains(f.References, u) {
			f.References = append(f.References, u)
		}
	}
	return f, nil
}

// webURL returns s when it is an http(s) URL of printable text of at most
// maxAdvisoryField bytes, else "".
func webURL(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxAdvisoryField || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return s
}

// draftOfAdvisory is the post of an advisory.
func draftOfAdvisory(g *github.GlobalSecurityAdvisory, f *AdvisoryFields, o AdvisoryOptions) PostDraft {
	id := f.GHSA
	if len(f.CVEs) > 0 {
		id += " (" + f.CVEs[0] + ")"
	}
	summary := oneLineText(g.GetSummary())
	if summary == "" {
		summary = "security advisory"
	}
	title := id + ": " + summary
	tag := TagInfo
	switch f.Severity {
	case "critical":
		tag = TagImportant
	case "high":
		tag = TagCaution
	}
	if !f.Withdrawn.IsZero() {
		title, tag = "[withdrawn] "+title, TagInfo
	}
	body := cleanText(g.GetDescription())
	if strings.TrimSpace(body) == "" {
		body = summary
	}
	if len(body) > MaxBody {
		body = clip(body, MaxBody-2*maxAdvisoryField) + "\n\n[description cut at " + strconv.Itoa(MaxBody>>10) + " KiB: the whole text is at " + f.URL + "]"
	}
	src := &PostSource{ID: "ghsa:" + f.GHSA, Modified: f.Updated, URL: f.URL}
	return PostDraft{
		Type: TypeVulnerability, Tag: tag, TLP: o.TLP, Channel: o.Channel,
		Title: clip(title, MaxTitle), Body: body,
		Advisory: f, Source: src,
	}
}

// checkAdvisory bounds a post's advisory fields (the importer keeps within
// them; a draft from elsewhere is refused beyond them).
func checkAdvisory(f *AdvisoryFields) error {
	if f == nil {
		return nil
	}
	strs := []string{f.GHSA, f.Severity, f.CVSSVector, f.URL}
	strs = append(strs, f.CVEs...)
	strs = append(strs, f.CWEs...)
	strs = append(strs, f.References...)
	for _, p := range f.Packages {
		strs = append(strs, p.Ecosystem, p.Name, p.Vulnerable, p.Patched)
	}
	switch {
	case !ghsaPattern.MatchString(f.GHSA):
		return fmt.Errorf("%w: advisory ID %q: want GHSA-xxxx-xxxx-xxxx", ErrInvalid, clip(f.GHSA, 64))
	case len(f.CVEs) > maxAdvisoryIDs || len(f.CWEs) > maxAdvisoryIDs || len(f.Packages) > maxAdvisoryPackages || len(f.References) > maxAdvisoryRefs:
		return fmt.Errorf("%w: advisory %s: at most %d CVE and CWE IDs, %d packages and %d references", ErrTooLarge, f.GHSA, maxAdvisoryIDs, maxAdvisoryPackages, maxAdvisoryRefs)
	case f.CVSSScore < 0 || f.CVSSScore > 10:
		return fmt.Errorf("%w: advisory %s: CVSS score %v, want 0 to 10", ErrInvalid, f.GHSA, f.CVSSScore)
	}
	for _, s := range strs {
		if len(s) > maxAdvisoryField || !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r") {
			return fmt.Errorf("%w: advisory %s: each field is one line of UTF-8 text of at most %d bytes", ErrInvalid, f.GHSA, maxAdvisoryField)
		}
	}
	return nil
}

// oneLineText is s as one line of printable text.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))), " ")
}

// cleanText is s as valid UTF-8 without control characters other than new
// lines and tabs.
func cleanText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// clip cuts s to at most max bytes, at a rune boundary, marking the cut.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:runeCut(s, max-len("…"))] + "…"
}

// runeCut returns the largest cut of s at most n (< len(s)) that falls on
// a rune boundary.
func runeCut(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

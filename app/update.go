package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// CheckUpdate asks a GitHub releases API (through go-github, as the
// advisory import does) for the latest release of a repository and says
// whether it is newer than this build. It only reads: it never downloads
// nor installs anything.

// Bounds on an update check.
const (
	maxReleaseAnswer  = 1 << 20 // bytes of the API's answer
	maxReleaseNotes   = 5       // lines of the release notes kept
	maxReleaseLine    = 200     // bytes of one kept line
	updateTimeout     = 30 * time.Second
	maxReleaseTagSize = 128
)

// UpdateOptions says where to look for a newer release.
type UpdateOptions struct {
	// HTTPClient makes the request (timeouts, proxy); nil uses a client
	// with a 30-second timeout.
	HTTPClient *http.Client
	// APIURL is the REST API's base: DefaultAdvisoryAPI when empty.
	APIURL string
	// Repo is the repository, OWNER/NAME.
	Repo string
	// Current is this build's version (v1.2.3, a pseudo-version
	// v0.0.0-DATE-COMMIT, or "(devel)").
	Current string
	// Now is the clock (when a rate limit ends); time.Now when nil.
	Now func() time.Time
}

// UpdateResult is what an update check found.
type UpdateResult struct {
	Repo    string `json:"repo"`
	Host    string `json:"host"`
	Current string `json:"current"`
	// Latest is the latest release's tag.
	Latest    string    `json:"latest"`
	Name      string    `json:"name,omitempty"`
	URL       string    `json:"url,omitempty"`
	Published time.Time `json:"published,omitzero"`
	// Newer says that Latest is a later version than Current. Comparable
	// is false when one of them is not a semantic version (a development
	// build): Newer is then false and says nothing.
	Newer      bool `json:"newer"`
	Comparable bool `json:"comparable"`
	// Notes are the first lines of the release notes, as plain one-line
	// text each.
	Notes []string `json:"notes"`
}

var repoPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// CheckUpdate reads the latest release of o.Repo. With no connection to the
// API it returns an *OfflineError; when the API refuses for now, a
// *RateLimitError.
func CheckUpdate(ctx context.Context, o UpdateOptions) (UpdateResult, error) {
	res := UpdateResult{Repo: strings.TrimSpace(o.Repo), Current: o.Current, Notes: []string{}}
	if res.Repo == "" {
		return res, fmt.Errorf("%w: no release repository is set in this build: name one as OWNER/NAME", ErrInvalid)
	}
	if !repoPattern.MatchString(res.Repo) || strings.Contains(res.Repo, "..") {
		return res, fmt.Errorf("%w: repository %q: want OWNER/NAME, as in github.com/OWNER/NAME", ErrInvalid, clip(res.Repo, 120))
	}
	ao := AdvisoryOptions{HTTPClient: o.HTTPClient, APIURL: o.APIURL}
	if ao.HTTPClient == nil {
		ao.HTTPClient = &http.Client{Timeout: updateTimeout}
	}
	base, err := ao.normalise()
	if err != nil {
		return res, err
	}
	res.Host = base.Host
	client := newReleaseClient(ao.HTTPClient, base)
	owner, name, _ := strings.Cut(res.Repo, "/")
	rel, resp, err := client.Repositories.GetLatestRelease(ctx, owner, name)
	if err != nil {
		return res, updateFailed(ctx, res, base, resp, err, o.Now)
	}
	tag := oneLineText(rel.GetTagName())
	if tag == "" || len(tag) > maxReleaseTagSize {
		return res, fmt.Errorf("%w: the latest release of %s on %s has no usable tag", ErrInvalid, res.Repo, res.Host)
	}
	res.Latest = tag
	res.Name = clip(oneLineText(rel.GetName()), maxReleaseLine)
	if u := rel.GetHTMLURL(); webURL(u) != "" {
		res.URL = clip(oneLineText(u), 512)
	}
	if t := rel.GetPublishedAt(); !t.IsZero() {
		res.Published = t.UTC()
	}
	res.Notes = releaseNotes(rel.GetBody())
	if c, ok := compareVersions(tag, o.Current); ok {
		res.Comparable = true
		res.Newer = c > 0
	}
	return res, nil
}

// newReleaseClient returns a go-github client for the API at base, with no
// token, whose answers are bounded to maxReleaseAnswer bytes.
func newReleaseClient(hc *http.Client, base *url.URL) *github.Client {
	c := *hc
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = limitTransport{rt: rt, max: maxReleaseAnswer}
	gc := github.NewClient(&c)
	gc.BaseURL = base
	gc.UserAgent = "noroshi"
	return gc
}

// updateFailed turns a failed request into an error that says what to do.
func updateFailed(ctx context.Context, res UpdateResult, base *url.URL, resp *github.Response, err error, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	var (
		rl    *github.RateLimitError
		abuse *github.AbuseRateLimitError
		er    *github.ErrorResponse
		big   errPageTooLarge
	)
	host := res.Host
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("update check at %s stopped: %w", host, ctx.Err())
	case errors.As(err, &rl):
		reset := rateReset(rl.Response, now())
		if reset.IsZero() && !rl.Rate.Reset.IsZero() && !rl.Rate.Reset.After(now().Add(MaxRateLimitWait)) {
			reset = rl.Rate.Reset.UTC()
		}
		return updateRateLimited(host, reset)
	case errors.As(err, &abuse):
		return updateRateLimited(host, rateReset(abuse.Response, now()))
	case errors.As(err, &er) && er.Response != nil && isRateLimit(er.Response):
		return updateRateLimited(host, rateReset(er.Response, now()))
	case isOffline(err):
		return &OfflineError{Host: host, Err: err}
	case errors.As(err, &big):
		return fmt.Errorf("%w: the answer from %s is %s", ErrTooLarge, host, big)
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s has no published release of %s (404): check the repository's name (OWNER/NAME) and the API URL (GitHub Enterprise Server: https://HOST/api/v3/)", ErrNotFound, host, res.Repo)
	case errors.As(err, &er) && er.Response != nil:
		return fmt.Errorf("update check: %s answered %d %s", host, er.Response.StatusCode, clip(oneLineText(er.Message), 200))
	case resp != nil && resp.StatusCode/100 == 2:
		return fmt.Errorf("%w: the answer from %s%s is not a release (%s)", ErrInvalid, host, base.Path, clip(oneLineText(err.Error()), 200))
	}
	return fmt.Errorf("update check at %s: %w", host, err)
}

// updateRateLimited says that host refuses for now, and until when.
func updateRateLimited(host string, reset time.Time) error {
	when := "in a few minutes"
	if !reset.IsZero() {
		when = "after " + reset.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return fmt.Errorf("%w: %s refuses more requests for now: check again %s", ErrRateLimited, host, when)
}

// releaseNotes returns the first non-empty lines of a release's notes, as
// one-line printable text each (no escape sequences reach a terminal).
func releaseNotes(body string) []string {
	notes := []string{}
	for _, line := range strings.Split(cleanText(body), "\n") {
		if len(notes) == maxReleaseNotes {
			break
		}
		if l := oneLineText(line); l != "" {
			notes = append(notes, clip(l, maxReleaseLine))
		}
	}
	return notes
}

// semver is a parsed semantic version (vMAJOR.MINOR.PATCH[-PRE][+BUILD]).
type semver struct {
	core [3]uint64
	pre  []string
}

func parseSemver(v string) (semver, bool) {
	var s semver
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "v")
	if !ok {
		return s, false
	}
	v, _, _ = strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return s, false
		}
		s.core[i] = n
	}
	if hasPre {
		if pre == "" {
			return s, false
		}
		s.pre = strings.Split(pre, ".")
		for _, id := range s.pre {
			if id == "" {
				return s, false
			}
		}
	}
	return s, true
}

// compareVersions compares two semantic versions by semver's precedence:
// -1 when a is older than b, 0 when equal, +1 when newer; ok is false
// when either is not a semantic version.
func compareVersions(a, b string) (int, bool) {
	x, ok1 := parseSemver(a)
	y, ok2 := parseSemver(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	for i := range x.core {
		if x.core[i] != y.core[i] {
			if x.core[i] < y.core[i] {
				return -1, true
			}
			return 1, true
		}
	}
	switch {
	case len(x.pre) == 0 && len(y.pre) == 0:
		return 0, true
	case len(x.pre) == 0:
		return 1, true // a release follows its pre-releases
	case len(y.pre) == 0:
		return -1, true
	}
	for i := 0; i < len(x.pre) && i < len(y.pre); i++ {
		if c := comparePre(x.pre[i], y.pre[i]); c != 0 {
			return c, true
		}
	}
	switch {
	case len(x.pre) < len(y.pre):
		return -1, true
	case len(x.pre) > len(y.pre):
		return 1, true
	}
	return 0, true
}

func comparePre(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	case errA == nil:
		return -1 // numeric identifiers come first
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

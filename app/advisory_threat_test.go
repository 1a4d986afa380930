package app

// Threats to the advisory importer (security review of issue #9).

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// Attack: the API server (or whoever answers in its place) gives an
// advisory an updated_at in 1600. Were that the revision time, a later
// real revision would look older (the versions of a sourced post are
// ordered by it) and be skipped. Held: a time before 1970 is refused; the
// advisory without another revision time is skipped as malformed.
func TestThreatAdvisoryAncientUpdatedAtPins(t *testing.T) {
	c := newCommunity(t)
	updated := "1600-01-01T00:00:00Z"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"ghsa_id":"GHSA-2222-3333-4444","summary":"fake","severity":"low","updated_at":%q}]`, updated)
	}))
	defer srv.Close()
	res, err := c.rail.ImportAdvisories(context.Background(), AdvisoryOptions{APIURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added+res.Updated != 0 || res.Skipped != 1 {
		t.Errorf("an advisory revised in 1600 was taken: %+v", res.Items)
	}
	c.sync(t)
	updated = "2026-01-01T00:00:00Z" // the real revision, from the real server
	res, err = c.centre.ImportAdvisories(context.Background(), AdvisoryOptions{APIURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added+res.Updated == 0 {
		t.Errorf("the real revision is skipped: %+v", res.Items)
	}
}

// Attack: a rate limit whose reset is absurdly far ahead (past what a
// time.Duration holds) makes a scheduled import's wait overflow. Held: a
// reset more than MaxRateLimitWait ahead is not believed.
func TestThreatAdvisoryRateResetBounded(t *testing.T) {
	now := time.Date(2026, 7, 24, 9, 0, 0, 0, time.UTC)
	resp := func(retryAfter, reset string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if reset != "" {
			h.Set("X-RateLimit-Reset", reset)
		}
		return &http.Response{Header: h}
	}
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	for _, tc := range []struct {
		name              string
		retryAfter, reset string
		want              time.Time
	}{
		{"retry after a minute", "60", "", now.Add(time.Minute)},
		{"retry after a day", "86400", "", now.Add(24 * time.Hour)},
		{"retry after a year", "31536000", "", time.Time{}},
		{"retry after 2^31 s", "2147483648", "", time.Time{}},
		{"reset in an hour", "", unix(now.Add(time.Hour)), now.Add(time.Hour)},
		{"reset past", "", unix(now.Add(-time.Hour)), now.Add(-time.Hour)},
		{"reset in two days", "", unix(now.Add(48 * time.Hour)), time.Time{}},
		{"reset near 2^40", "", "1099511627775", time.Time{}},
		{"reset huge", "", "9223372036854775807", time.Time{}},
		{"reset negative", "", "-5", time.Time{}},
	} {
		if got := rateReset(resp(tc.retryAfter, tc.reset), now); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

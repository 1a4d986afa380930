package main

// Threats to serve --advisories-every (security review of issue #9).

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"noroshi/app"
)

// Attack: a hostile (or broken) API server answers every request with a
// rate limit whose X-RateLimit-Reset is absurdly far ahead: the wait until
// it overflowed to a negative delay and the scheduled import asked again at
// once, in a tight loop. Held: such a reset is not believed, and the wait
// after a rate limit is at least the interval (here a quarter of an hour,
// the wait when the reset is unknown).
func TestThreatScheduledAdvisoriesRateLimitOverflow(t *testing.T) {
	home := feedHome(t)
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = app.TestWorkFactor
	a, err := app.Open(cfg, scriptPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var hits atomic.Int64
	first := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			defer close(first)
		}
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "1099511627775")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"message":"API rate limit exceeded"}`))
	}))
	defer srv.Close()
	var stderr bytes.Buffer
	c := &cli{env: feedEnv(home, &bytes.Buffer{}, &stderr), o: &opts{}}
	ctx, cancel := context.WithCancel(context.Background())
	wait := c.scheduleAdvisories(ctx, a, advisoryFlags{every: 200 * time.Millisecond, apiURL: srv.URL + "/"})
	<-first
	time.Sleep(2 * time.Second)
	cancel()
	wait()
	if n := hits.Load(); n > 1 {
		t.Errorf("the scheduled import asked a rate-limited server %d times in 2 s (it should wait for the reset or at least the interval)", n)
	}
}

// The wait after a rate limit: a minute past the reset, between the
// interval and a day, whatever the reset.
func TestRateLimitDelay(t *testing.T) {
	now := time.Date(2026, 7, 24, 9, 0, 0, 0, time.UTC)
	far := time.Unix(1<<40, 0)
	for _, tc := range []struct {
		name  string
		reset time.Time
		every time.Duration
		want  time.Duration
	}{
		{"unknown", time.Time{}, time.Minute, advisoryUnknownReset},
		{"unknown, long interval", time.Time{}, 6 * time.Hour, 6 * time.Hour},
		{"in ten minutes", now.Add(10 * time.Minute), time.Minute, 11 * time.Minute},
		{"before the interval", now.Add(10 * time.Minute), 6 * time.Hour, 6 * time.Hour},
		{"past", now.Add(-time.Hour), time.Minute, time.Minute},
		{"long past", time.Unix(1, 0), time.Minute, time.Minute},
		{"in a year", now.Add(365 * 24 * time.Hour), time.Minute, app.MaxRateLimitWait},
		{"in 30,000 years", far, time.Minute, app.MaxRateLimitWait},
		{"in 30,000 years, longer interval", far, 48 * time.Hour, 48 * time.Hour},
	} {
		if got := rateLimitDelay(tc.reset, tc.every, now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

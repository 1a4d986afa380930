package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// NOROSHI_CLOCK_SKEW moves the clock of the app a command opens (a testing
// aid for noroshi-proof chaos); a value that is not a duration is said and
// ignored.
func TestClockSkew(t *testing.T) {
	for _, tc := range []struct {
		value      string
		min, max   time.Duration
		complained bool
	}{
		{"", -time.Hour, time.Hour, false},
		{"24h", 23 * time.Hour, 25 * time.Hour, false},
		{"-24h", -25 * time.Hour, -23 * time.Hour, false},
		{"a day", -time.Hour, time.Hour, true},
	} {
		var stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string {
			if k == "NOROSHI_CLOCK_SKEW" {
				return tc.value
			}
			return ""
		}, cwd: t.TempDir(), workFactor: 10}
		c := &cli{env: e, o: &opts{}}
		cfg := c.config(t.TempDir())
		got := cfg.Now().Sub(time.Now())
		if got < tc.min || got > tc.max {
			t.Errorf("NOROSHI_CLOCK_SKEW=%q: the clock is off by %s", tc.value, got)
		}
		if said := strings.Contains(stderr.String(), "NOROSHI_CLOCK_SKEW"); said != tc.complained {
			t.Errorf("NOROSHI_CLOCK_SKEW=%q: stderr %q", tc.value, stderr.String())
		}
	}
}

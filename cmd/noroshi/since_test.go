package main

import (
	"testing"
	"time"
)

// TestParseSince: --since takes a time, a Go duration, or days and weeks
// as the README and the help write them (7d, 2w), and nothing else.
func TestParseSince(t *testing.T) {
	now := time.Date(2026, 7, 24, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.AddDate(0, 0, -7),
		"2w":                   now.AddDate(0, 0, -14),
		"2026-07-01T09:00:00Z": time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "7dw", "-7d", "+7d", "0d", "7y", "99999d", "yesterday"} {
		if got, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) = %v, want an error", in, got)
		}
	}
}

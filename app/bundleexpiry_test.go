package app

import (
	"testing"
	"time"
)

// TestParseBundleExpiry: days, weeks and whole hours; "1m" (a month or a
// minute?) and fractions are refused rather than guessed.
func TestParseBundleExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, " 28D ": 28 * 24 * time.Hour} {
		if got, err := ParseBundleExpiry(in); err != nil || got != want {
			t.Errorf("ParseBundleExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1m", "30m", "1.5h", "0h", "0d", "+7d", "-1d", "1y", "", "d", "9999d"} {
		if got, err := ParseBundleExpiry(in); err == nil {
			t.Errorf("ParseBundleExpiry(%q) = %v, want an error", in, got)
		}
	}
}

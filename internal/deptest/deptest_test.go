package deptest

import (
	"slices"
	"testing"
)

func TestViolations(t *testing.T) {
	// app imports replica and crypto: banning them must be noticed.
	bad, err := Violations("noroshi/app", "noroshi/replica", "noroshi/crypto")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"noroshi/replica", "noroshi/crypto", "noroshi/crypto/envelope"} {
		if !slices.Contains(bad, want) {
			t.Errorf("Violations = %v, missing %s", bad, want)
		}
	}
	// The package itself is never its own violation.
	if bad, _ := Violations("noroshi/crypto/envelope", "noroshi/crypto"); len(bad) != 0 {
		t.Errorf("envelope: violations %v, want none", bad)
	}
}

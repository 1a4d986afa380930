package stix

import (
	"testing"

	"noroshi/internal/deptest"
)

// TestDeps keeps the package a leaf: it imports no noroshi package.
func TestDeps(t *testing.T) {
	deptest.Check(t, "noroshi/app/stix", "noroshi")
}

package main

import (
	"path/filepath"
	"testing"
)

// TestAssetsCLI runs the asset register's scripts (testdata/assets/*.txt):
// registering, refusals, who may edit and read, the concern in a post,
// and a coordinator's observation notice, across four homes.
func TestAssetsCLI(t *testing.T) {
	t.Parallel()
	runScripts(t, filepath.Join("testdata", "assets"))
}

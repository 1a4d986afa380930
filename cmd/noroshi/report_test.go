package main

import (
	"path/filepath"
	"testing"
)

// TestReportCLI runs the report scripts (testdata/report/*.txt): the
// situation report, the bulletin and the digest from the command line, in
// a directory of their own so that `go test -run Report` finds them.
func TestReportCLI(t *testing.T) {
	t.Parallel()
	runScripts(t, filepath.Join("testdata", "report"))
}

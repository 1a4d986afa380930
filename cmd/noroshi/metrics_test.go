package main

import (
	"path/filepath"
	"testing"
)

// TestMetricsCLI runs the metrics' scripts (testdata/metrics/*.txt): topic
// views recorded by `show` and batched across processes, organisation
// settings and who may change them, and `noroshi metrics` as a table,
// JSON, CSV and charts.
func TestMetricsCLI(t *testing.T) {
	t.Parallel()
	runScripts(t, filepath.Join("testdata", "metrics"))
}

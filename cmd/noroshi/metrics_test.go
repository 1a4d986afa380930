package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMetricsCLI runs the metrics' scripts (testdata/metrics/*.txt): topic
// views recorded by `show` and batched across processes, organisation
// settings and who may change them, and `noroshi metrics` as a table,
// JSON, CSV and charts.
func TestMetricsCLI(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "metrics"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			home := filepath.Join(e.WorkDir, "user")
			e.Setenv("HOME", home)
			e.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			e.Setenv("NOROSHI_HOME", "")
			e.Setenv("NOROSHI_PASSPHRASE", scriptPassphrase)
			e.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capture": cmdCapture,
			"jsonget": cmdJSONGet,
			"jsoneq":  cmdJSONEq,
			"lines":   cmdLines,
		},
	})
}

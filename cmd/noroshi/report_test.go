package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestReportCLI runs the report scripts (testdata/report/*.txt): the
// situation report, the bulletin and the digest from the command line, in
// a directory of their own so that `go test -run Report` finds them.
func TestReportCLI(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "report"),
		RequireExplicitExec: true,
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
			"jsoneq": cmdJSONEq,
			"lines":  cmdLines,
		},
	})
}

// Package deptest checks a package's dependencies against the layering rules
// of DESIGN.md section 2, as tailscale's tstest/deptest does: each package's
// deps_test.go lists what it must never import, and the check runs `go list
// -deps` so that indirect imports count too.
package deptest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Check fails t if pkg imports, directly or not, a banned package: one equal
// to an entry of banned or below it.
func Check(t *testing.T, pkg string, banned ...string) {
	t.Helper()
	bad, err := Violations(pkg, banned...)
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range bad {
		t.Errorf("%s depends on %s, which it must never import", pkg, dep)
	}
}

// Violations returns pkg's dependencies (pkg itself excluded) that are
// banned.
func Violations(pkg string, banned ...string) ([]string, error) {
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	var bad []string
	for _, dep := range strings.Fields(string(out)) {
		if dep == pkg {
			continue
		}
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				bad = append(bad, dep)
				break
			}
		}
	}
	return bad, nil
}

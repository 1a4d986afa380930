package main

import (
	"os/exec"
	"strings"
	"testing"
)

// cmd is wiring only: it reaches the layers below through app (and gui),
// never crypto or replica itself, nor do its tests.
func TestDeps(t *testing.T) {
	for _, list := range []string{"Imports", "TestImports", "XTestImports"} {
		out, err := exec.Command("go", "list", "-f", `{{join .`+list+` "\n"}}`, "noroshi/cmd/noroshi").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			for _, banned := range []string{"noroshi/crypto", "noroshi/replica"} {
				if imp == banned || strings.HasPrefix(imp, banned+"/") {
					t.Errorf("noroshi/cmd/noroshi (%s) imports %s: reach it through noroshi/app", list, imp)
				}
			}
		}
	}
}

package gui

import (
	"os/exec"
	"strings"
	"testing"

	"noroshi/internal/deptest"
)

// gui talks to app only: it never imports replica or crypto itself (app
// does, below it), and never the Fyne driver or cmd, so its tests need no
// display. Its tests too import app only among noroshi's packages (and
// the dependency checker).
func TestDeps(t *testing.T) {
	deptest.Check(t, "noroshi/gui", "fyne.io/fyne/v2/app", "fyne.io/fyne/v2/internal/driver/glfw", "github.com/go-gl", "noroshi/cmd")
	for _, list := range []string{"Imports", "TestImports", "XTestImports"} {
		out, err := exec.Command("go", "list", "-f", `{{join .`+list+` "\n"}}`, "noroshi/gui").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if strings.HasPrefix(imp, "noroshi/") && imp != "noroshi/app" && !(list != "Imports" && imp == "noroshi/internal/deptest") {
				t.Errorf("noroshi/gui (%s) imports %s: it may import noroshi/app only", list, imp)
			}
		}
	}
}

package lan

import (
	"testing"

	"noroshi/internal/deptest"
)

// TestDeps: LAN discovery knows nothing of Noroshi but a list of keys.
func TestDeps(t *testing.T) {
	deptest.Check(t, "noroshi/replica/lan", "noroshi/replica", "noroshi/crypto", "noroshi/app", "noroshi/gui", "noroshi/cmd", "fyne.io", "github.com/hashicorp/memberlist")
}

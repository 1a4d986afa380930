package envelope

import (
	"testing"

	"noroshi/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.Check(t, "noroshi/crypto/envelope", "noroshi/crypto", "noroshi/replica", "noroshi/app", "noroshi/gui", "noroshi/cmd", "fyne.io")
}

package app

import (
	"testing"

	"noroshi/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.Check(t, "noroshi/app", "noroshi/gui", "noroshi/cmd", "fyne.io")
}

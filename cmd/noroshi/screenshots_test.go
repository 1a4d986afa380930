//go:build !nogui

package main

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScreenshots opens the demo community in a real window (Fyne on
// GLFW, under Xvfb in CI: scripts/test.sh runs it with xvfb-run) and takes
// the README's pictures: the feed, a post, the incident board, the sync
// screen and the others, in Japanese and in English. It fails on a window
// that does not open or draws nothing, and on a Fyne error about the locale
// (the window runs under LANG=C.UTF-8, Debian containers' default) or a
// missing translation. Without a display it is skipped.
//
// The pictures go into a temporary directory, so a test run leaves the
// work tree clean; NOROSHI_UPDATE_SCREENSHOTS=1 saves them into
// docs/screenshots instead (NOROSHI_SCREENSHOT_DIR=DIR: into DIR):
//
//	NOROSHI_UPDATE_SCREENSHOTS=1 xvfb-run -a -s "-screen 0 1600x1000x24" go test -run TestScreenshots ./cmd/noroshi/
func TestScreenshots(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no display: run under xvfb-run (scripts/test.sh does)")
	}
	dir := os.Getenv("NOROSHI_SCREENSHOT_DIR")
	switch {
	case dir != "":
	case os.Getenv("NOROSHI_UPDATE_SCREENSHOTS") != "":
		dir = filepath.Join("..", "..", "docs", "screenshots")
	default:
		dir = t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	// The test binary is the noroshi command too (TestMain); run it as a
	// process of its own so the window owns the main thread.
	cmd := exec.Command("noroshi", "--demo", "--home", filepath.Join(t.TempDir(), "demo"))
	cmd.Env = append(os.Environ(), "NOROSHI_SCREENSHOTS="+dir, "NOROSHI_PASSPHRASE=", "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(),
		"LANG=C.UTF-8", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the desktop app failed: %v\n%s", err, out)
	}
	for _, lang := range []string{"ja", "en"} {
		for _, s := range shots {
			path := filepath.Join(dir, s.name+"-"+lang+".png")
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%s: %v\n%s", path, err, out)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
				t.Errorf("%s is %dx%d, want the 1366x768 window", path, b.Dx(), b.Dy())
			}
			colours := map[uint32]bool{}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y += 3 {
				for x := b.Min.X; x < b.Max.X; x += 3 {
					r, g, bl, _ := img.At(x, y).RGBA()
					colours[r>>8<<16|g>>8<<8|bl>>8] = true
				}
			}
			if len(colours) < 50 {
				t.Errorf("%s looks blank or like an error window: %d colours", path, len(colours))
			}
		}
	}
	if strings.Contains(string(out), "panic") {
		t.Errorf("the app panicked:\n%s", out)
	}
	// (Fyne may also log a preferences file read while it was being
	// written: its own race, not ours.)
	for _, bad := range []string{"Error parsing user locale", "Translation failure"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("the app logged %q:\n%s", bad, out)
		}
	}
}

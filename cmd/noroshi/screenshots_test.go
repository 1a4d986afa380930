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
// GLFW, under Xvfb in CI: scripts/test.sh runs it with xvfb-run) and saves
// the README's pictures into docs/screenshots: the feed, a post, the
// incident board and the sync screen, in Japanese and in English. It fails
// on a window that does not open or draws nothing. Without a display it is
// skipped.
//
//	xvfb-run -a -s "-screen 0 1600x1000x24" go test -run TestScreenshots ./cmd/noroshi/
func TestScreenshots(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no display: run under xvfb-run (scripts/test.sh does)")
	}
	dir := os.Getenv("NOROSHI_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "docs", "screenshots")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is the noroshi command too (TestMain); run it as a
	// process of its own so the window owns the main thread.
	cmd := exec.Command("noroshi", "--demo", "--home", filepath.Join(t.TempDir(), "demo"))
	cmd.Env = append(os.Environ(), "NOROSHI_SCREENSHOTS="+dir, "NOROSHI_PASSPHRASE=", "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
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
}

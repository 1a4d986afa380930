//go:build !nogui

package main

import (
	"bytes"
	"image/png"
	"os"
	"strings"
	"testing"
)

// FyneApp.toml (read by the fyne packaging tool) and the running app name
// the same app, with an icon that decodes.
func TestFyneAppMetadata(t *testing.T) {
	b, err := os.ReadFile("FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `ID = "`+appID+`"`) {
		t.Errorf("FyneApp.toml does not give the ID %q", appID)
	}
	if _, err := png.Decode(bytes.NewReader(icon)); err != nil {
		t.Errorf("Icon.png: %v", err)
	}
}

// With no display, `noroshi` says so instead of failing inside the toolkit.
func TestDesktopNeedsDisplay(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string {
		if k == "HOME" {
			return t.TempDir()
		}
		return ""
	}, cwd: t.TempDir(), workFactor: 10}
	if code := run([]string{"--home", t.TempDir()}, e); code == 0 || !strings.Contains(stderr.String(), "no display") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

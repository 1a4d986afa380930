//go:build nogui

package main

import "errors"

// hasGUI reports that this build carries no desktop app.
const hasGUI = false

// runGUI refuses: this build (the pure-Go relay binary, -tags nogui) has no
// desktop app.
func runGUI(e *env, home, demoHome string, demo bool) error {
	return errors.New("this build of noroshi has no desktop app (built with -tags nogui): use the command line, see noroshi help")
}

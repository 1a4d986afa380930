//go:build nogui

package main

import "errors"

// runGUI refuses: this build (the pure-Go relay binary, -tags nogui) has no
// desktop app.
func runGUI(e *env, home, demoHome string, demo bool, passphrase string) error {
	return errors.New("this build of noroshi has no desktop app (built with -tags nogui): use the command line, see noroshi help")
}

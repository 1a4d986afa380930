// Command noroshi is the Noroshi desktop app, command line and relay.
//
// With no arguments it opens the desktop app (a build without it, -tags
// nogui, prints help); `noroshi help` lists the commands. This package is wiring
// only: flags, process lifetime, the local control socket. Every rule lives
// in package app.
package main

import (
	"os"

	"noroshi/app"
)

func main() {
	os.Exit(run(os.Args[1:], newProcessEnv(app.DefaultWorkFactor)))
}

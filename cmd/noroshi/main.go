// Command noroshi is the Noroshi desktop app, command line and relay.
//
// With no arguments it opens the desktop app (once the GUI lands: for now it
// prints help); `noroshi help` lists the commands. This package is wiring
// only: flags, process lifetime, the local control socket. Every rule lives
// in package app.
package main

import (
	"os"

	"noroshi/crypto"
)

func main() {
	os.Exit(run(os.Args[1:], newProcessEnv(crypto.DefaultWorkFactor)))
}

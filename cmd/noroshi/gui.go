//go:build !nogui

package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"noroshi/app"
	"noroshi/gui"
)

// appID identifies the desktop app to Fyne (preferences, notifications);
// FyneApp.toml beside this file says the same.
const appID = "jp.noroshi.desktop"

// icon is the window's and the notifications' icon (FyneApp.toml's too).
//
//go:embed Icon.png
var icon []byte

// guiPort is where the desktop app listens for peers on the LAN, as
// `noroshi serve` does by default.
const guiPort = 7946

// runGUI opens the desktop app on home, or on the demo community (created
// if absent) in demoHome; a passphrase given (--passphrase-file,
// NOROSHI_PASSPHRASE) unlocks without asking. It returns when the window
// closes.
func runGUI(e *env, home, demoHome string, demo bool, passphrase string) error {
	if runtime.GOOS == "linux" && e.getenv("DISPLAY") == "" && e.getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("no display to open the desktop app on: run a command instead (noroshi help), or set DISPLAY")
	}
	shotDir := e.getenv("NOROSHI_SCREENSHOTS")
	if shotDir != "" && e.getenv("GALLIUM_DRIVER") == "" {
		// Mesa's llvmpipe reads back a blank front buffer under Xvfb;
		// softpipe draws the same picture and reads it back.
		os.Setenv("GALLIUM_DRIVER", "softpipe")
	}
	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("Icon.png", icon))
	if err := gui.SetLanguage(gui.LanguagePreference(fa)); err != nil {
		fmt.Fprintf(e.stderr, "noroshi: translations: %v\n", err)
	}
	w := fa.NewWindow("Noroshi")
	w.Resize(fyne.NewSize(1366, 768))
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = e.workFactor
	var ls *localServer
	var shotNet atomic.Pointer[app.Network] // the window's network in a screenshot run
	// The home the window holds, said in its holder file (holder.go) from
	// unlock to close, so that commands wait for the control socket and
	// other processes can say who holds the home.
	var holdMu sync.Mutex
	var hold *homeHold
	gcfg := gui.Config{
		App: cfg, DemoHome: demoHome, Demo: demo, Passphrase: passphrase, Live: true,
		StartNetwork: func(a *app.App) (gui.Network, error) {
			n, err := startGUINetwork(a)
			if err != nil {
				return nil, err
			}
			return n, nil
		},
		OnOpen: func(a *app.App, n gui.Network) {
			nw, _ := n.(*app.Network)
			var err error
			if ls, err = listenLocal(a, e.workFactor, nw); err != nil {
				fmt.Fprintf(e.stderr, "noroshi: the CLI cannot reach this window: %v\n", err)
				return
			}
			holdMu.Lock()
			hold.serving()
			holdMu.Unlock()
		},
		Holding: func(home string, held bool) {
			holdMu.Lock()
			defer holdMu.Unlock()
			hold.release()
			hold = nil
			if held {
				hold = holdHome(home, "the Noroshi desktop app")
			}
		},
		HeldBy: func(home string) (gui.Holder, bool) {
			h, ok := readHolder(home)
			return gui.Holder{PID: h.PID, Command: h.Command}, ok
		},
		OnClose: func(*app.App) {
			if ls != nil {
				ls.Close()
				ls = nil
			}
		},
	}
	if shotDir != "" {
		// Deterministic pictures: views load synchronously, and the network
		// stays on loopback.
		gcfg.Live = false
		gcfg.StartNetwork = func(a *app.App) (gui.Network, error) {
			n, err := screenshotNetwork(a)
			if err != nil {
				return nil, err
			}
			shotNet.Store(n)
			return n, nil
		}
	}
	s := gui.Start(fa, w, gcfg)
	shotDone := make(chan error, 1)
	if shotDir != "" {
		go func() { shotDone <- takeScreenshots(fa, w, s, shotDir, e, shotNet.Load) }()
	} else {
		shotDone <- nil
	}
	w.ShowAndRun()
	s.Close()
	return <-shotDone
}

// startGUINetwork replicates on the LAN like `noroshi serve`: gossip on
// guiPort, or on any free port when another process holds it.
func startGUINetwork(a *app.App) (*app.Network, error) {
	nc := app.NetworkConfig{BindAddr: "0.0.0.0", BindPort: guiPort, Profile: app.ProfileLAN, AntiEntropy: 5 * time.Second}
	n, err := a.StartNetwork(nc)
	if err != nil && !errors.Is(err, app.ErrNoCommunity) && !errors.Is(err, app.ErrNotAllowed) {
		nc.BindPort = 0
		n, err = a.StartNetwork(nc)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

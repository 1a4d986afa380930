//go:build !nogui

package main

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"noroshi/app"
	"noroshi/gui"
)

// The README's pictures are taken by the desktop app itself in a real
// window: NOROSHI_SCREENSHOTS=DIR noroshi --demo --home TMP opens the demo
// community, walks through the feed, a post, the incident board and the
// sync screen in Japanese and in English, saves a PNG of each into DIR and
// quits; it fails on a blank window. The sync screen shows a second device
// of the community, on loopback only, as its peer.

// shot is one picture: what to show, and its file name.
type shot struct {
	name string
	show func(u *gui.UI) error
}

var shots = []shot{
	{"feed", func(u *gui.UI) error {
		u.ShowScreen("feed")
		if !u.SelectPost("Suspected insider access") {
			return errors.New("no TLP:RED post in the demo feed")
		}
		return nil
	}},
	{"post", func(u *gui.UI) error {
		u.ShowScreen("feed")
		if !u.SelectPost("Malware disguised") {
			return errors.New("no malware post in the demo feed")
		}
		return nil
	}},
	{"incidents", func(u *gui.UI) error {
		u.ShowScreen("incidents")
		if !u.SelectIncident("UDP flood") {
			return errors.New("no UDP flood incident in the demo")
		}
		return nil
	}},
	{"sync", func(u *gui.UI) error {
		u.ShowScreen("sync")
		return nil
	}},
	{"contacts", func(u *gui.UI) error {
		u.ShowScreen("contacts")
		return nil
	}},
	{"directory", func(u *gui.UI) error {
		u.ShowScreen("directory")
		return nil
	}},
	{"settings", func(u *gui.UI) error {
		u.ShowScreen("settings")
		return nil
	}},
	{"compose", func(u *gui.UI) error {
		u.ShowScreen("feed")
		u.OpenCompose()
		return nil
	}},
}

// screenshotNetwork replicates on loopback only, with test timers.
func screenshotNetwork(a *app.App) (*app.Network, error) {
	return a.StartNetwork(app.NetworkConfig{BindAddr: "127.0.0.1", BindPort: 0, Profile: app.ProfileLAN, AntiEntropy: time.Second, Test: true})
}

// takeScreenshots runs the walk-through from a goroutine while the window
// runs; it quits the app when done.
func takeScreenshots(fa fyne.App, w fyne.Window, s *gui.Session, dir string, e *env, network func() *app.Network) error {
	defer fyne.Do(fa.Quit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var u *gui.UI
	fyne.DoAndWait(func() { u = s.UI() })
	if u == nil {
		return errors.New("the demo community did not open")
	}
	peer, err := startPeer(u.App(), network(), e)
	if err != nil {
		return fmt.Errorf("loopback peer: %w", err)
	}
	defer peer()
	for _, lang := range []string{"ja", "en"} {
		var err error
		fyne.DoAndWait(func() { err = s.SwitchLanguage(lang) })
		if err != nil {
			return err
		}
		for _, sh := range shots {
			fyne.DoAndWait(func() {
				u = s.UI()
				u.Refresh()
				err = sh.show(u)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			// Let the window draw the new state.
			time.Sleep(700 * time.Millisecond)
			var img image.Image
			fyne.DoAndWait(func() {
				img = w.Canvas().Capture()
				for o := w.Canvas().Overlays().Top(); o != nil; o = w.Canvas().Overlays().Top() {
					w.Canvas().Overlays().Remove(o) // a dialog the shot opened
				}
			})
			path := filepath.Join(dir, sh.name+"-"+lang+".png")
			if err := savePNG(path, img); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "noroshi: screenshot %s\n", path)
		}
	}
	return nil
}

// savePNG writes an opaque copy of img, refusing a blank one.
func savePNG(path string, img image.Image) error {
	if img == nil {
		return errors.New("no image captured")
	}
	b := img.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, img, b.Min, draw.Src)
	colours := map[[3]uint8]bool{}
	for i := 0; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i+3] = 0xFF
		if len(colours) < 64 {
			colours[[3]uint8{rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2]}] = true
		}
	}
	if len(colours) < 16 {
		return fmt.Errorf("%s: the window is blank (%d colours)", filepath.Base(path), len(colours))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, rgba); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startPeer makes a second device of the community in a temp home (a
// venue laptop), joins it on loopback to the window's network, and waits
// until the window sees it; it returns the function that stops it.
func startPeer(centre *app.App, cn *app.Network, e *env) (func(), error) {
	home, err := os.MkdirTemp("", "noroshi-shot-peer-")
	if err != nil {
		return nil, err
	}
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = e.workFactor
	if _, err := app.Init(cfg, "Venue North laptop", app.DemoPassphrase); err != nil {
		return nil, err
	}
	p, err := app.Open(cfg, app.DemoPassphrase)
	if err != nil {
		return nil, err
	}
	stop := func() {
		p.Close()
		os.RemoveAll(home)
	}
	req, err := p.JoinRequest()
	if err == nil {
		var inv []byte
		inv, _, err = centre.Invite(req, app.InviteOptions{Org: "Venue North", SamePersonAs: "Venue Lead"})
		if err == nil {
			_, err = p.Join(inv)
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	if cn == nil {
		stop()
		return nil, errors.New("the window runs no network")
	}
	pn, err := screenshotNetwork(p)
	if err != nil {
		stop()
		return nil, err
	}
	if err := pn.Join(cn.GossipAddr()); err != nil {
		pn.Close()
		stop()
		return nil, err
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ps, _ := cn.Peers(); len(ps) > 0 && ps[0].State == "alive" && !ps[0].LastSync.IsZero() {
			break
		}
	}
	return func() {
		pn.Close()
		stop()
	}, nil
}

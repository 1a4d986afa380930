package gui

import (
	"strings"
	"testing"
	"time"

	"noroshi/app"
)

// With Live set, the window follows App.Changed from a goroutine: a post
// written to the app (as replication or the CLI would) reaches the feed
// with no action in the window.
func TestLiveUpdates(t *testing.T) {
	fa, w := newWindow(t)
	cfg := testConfig(t)
	cfg.Demo, cfg.Live = true, true
	applied := make(chan event, 64)
	cfg.applied = func(ev event) {
		select {
		case applied <- ev:
		default: // the test has what it needs
		}
	}
	// One goroutine is the UI thread, as the main thread is for the driver.
	ui := make(chan func(), 16)
	stop := make(chan struct{})
	threadDone := make(chan struct{})
	cfg.uiThread = func(f func()) {
		select {
		case ui <- f:
		case <-stop:
		}
	}
	var s *Session
	go func() {
		defer close(threadDone)
		for {
			select {
			case f := <-ui:
				f()
			case <-stop:
				return
			}
		}
	}()
	done := make(chan struct{})
	ui <- func() { s = Start(fa, w, cfg); close(done) }
	<-done
	t.Cleanup(func() {
		closed := make(chan struct{})
		// Closing stops the loader, which may be waiting to hand the UI
		// thread a snapshot: keep the thread running meanwhile.
		go func() { s.Close(); close(closed) }()
		for {
			select {
			case f := <-ui:
				_ = f // the window is closing: nothing more is shown
			case <-closed:
				close(stop)
				<-threadDone
				return
			}
		}
	})
	wait := func(what string, ok func(event) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case ev := <-applied:
				if ok(ev) {
					return
				}
			case <-timeout:
				t.Fatalf("the window never showed %s", what)
			}
		}
	}
	wait("the demo feed", func(ev event) bool { return ev.full && len(ev.feed) >= 9 })
	var a *app.App
	got := make(chan struct{})
	ui <- func() { a = s.UI().App(); close(got) }
	<-got
	if _, err := a.Post(app.PostDraft{Type: app.TypeAlert, Tag: app.TagImportant, TLP: app.TLPGreen, Title: "Arrived while the window was open"}); err != nil {
		t.Fatal(err)
	}
	wait("the new post", func(ev event) bool {
		for _, p := range ev.feed {
			if strings.Contains(p.Title, "Arrived while") {
				return true
			}
		}
		return false
	})
}

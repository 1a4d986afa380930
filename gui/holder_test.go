package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"noroshi/app"
)

// A home that another process holds (noroshi serve) is said plainly on the
// unlock screen, with which process and how to stop it; once it is free,
// the window tells the process that it holds the home from unlock to lock.
func TestUnlockSaysWhoHoldsTheHome(t *testing.T) {
	cfg := testConfig(t)
	if _, err := app.Init(cfg.App, "Bob", "a long passphrase"); err != nil {
		t.Fatal(err)
	}
	held := true
	cfg.HeldBy = func(string) (Holder, bool) { return Holder{PID: 4242, Command: "noroshi serve"}, held }
	var said []string
	cfg.Holding = func(home string, h bool) {
		if home != cfg.App.Home {
			t.Errorf("holding %s, want %s", home, cfg.App.Home)
		}
		said = append(said, map[bool]string{true: "held", false: "released"}[h])
	}
	fa, w := newWindow(t)
	s := Start(fa, w, cfg)
	t.Cleanup(s.Close)
	want := Tf("unlock.held", "noroshi serve", 4242, cfg.App.Home, 4242)
	if s.unlock == nil || s.unlock.message.Text != want {
		t.Fatalf("unlock screen says %q, want %q", s.unlock.message.Text, want)
	}
	if !strings.Contains(want, "kill 4242") {
		t.Errorf("the message does not say how to stop the holder: %q", want)
	}
	s.unlock.pass.SetText("a long passphrase")
	test.Tap(s.unlock.unlock)
	if s.unlock == nil || s.unlock.message.Text != want || len(said) != 0 {
		t.Fatalf("unlocking a held home: message %q, holding %v", s.unlock.message.Text, said)
	}

	// Free: the window unlocks it, and says it holds it until it locks.
	held = false
	s.unlock.pass.SetText("a long passphrase")
	test.Tap(s.unlock.unlock)
	if s.wizard == nil || s.wizard.a == nil {
		t.Fatal("the free home did not unlock")
	}
	if strings.Join(said, ",") != "held" {
		t.Errorf("holding %v, want held", said)
	}
	s.Close()
	if strings.Join(said, ",") != "held,released" {
		t.Errorf("holding %v, want held, released", said)
	}
}

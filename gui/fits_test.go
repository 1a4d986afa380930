package gui

import "testing"

// Every screen of the demo, in both languages, fits a 1600-pixel-wide
// screen: a line that does not wrap makes the window wider than the
// display, and under X a capture of it then fails (the README's pictures
// are taken in a 1600x1000 Xvfb screen).
func TestScreensFitTheDisplay(t *testing.T) {
	const maxWidth = 1600
	s, u := startDemo(t)
	for _, lang := range []string{"ja", "en"} {
		if err := s.SwitchLanguage(lang); err != nil {
			t.Fatal(err)
		}
		u = s.UI()
		for _, name := range screens {
			u.show(name)
			switch name {
			case screenFeed:
				u.SelectPost("Malware disguised")
			case screenIncidents:
				u.SelectIncident("UDP flood")
			}
			if w := u.win.Content().MinSize().Width; w > maxWidth {
				t.Errorf("%s, %s: the window is at least %.0f pixels wide, want at most %d", lang, name, w, maxWidth)
			}
		}
	}
}

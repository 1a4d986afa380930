package gui

import (
	"strings"

	"noroshi/app"
)

// What a program (the screenshot run of cmd/noroshi, a kiosk script) may
// do to the window, as a user would.

// Screens lists the screen names of the navigation.
func Screens() []string { return append([]string{}, screens...) }

// ShowScreen switches the main area to a screen: "feed", "incidents",
// "contacts", "directory", "sync" or "settings".
func (u *UI) ShowScreen(name string) { u.show(name) }

// SelectPost selects the first post of the feed whose title contains part,
// and shows it; false when there is none.
func (u *UI) SelectPost(part string) bool {
	for _, p := range u.feed.posts {
		if strings.Contains(p.Title, part) {
			u.setQuery(func(q *query) { q.post = p.ID })
			return true
		}
	}
	return false
}

// SelectIncident selects the first incident whose title contains part.
func (u *UI) SelectIncident(part string) bool {
	for _, i := range u.incs.items {
		if strings.Contains(i.Title, part) {
			u.incs.selectIncident(i.ID)
			return true
		}
	}
	return false
}

// OpenCompose shows the new post dialog.
func (u *UI) OpenCompose() { u.openCompose() }

// Refresh reloads every view from app.
func (u *UI) Refresh() { u.refresh() }

// App returns the opened app.
func (u *UI) App() *app.App { return u.a }

// SwitchLanguage changes the UI language ("ja", "en", "" for the system's)
// and rebuilds the window, as Settings does, without storing the choice.
func (s *Session) SwitchLanguage(code string) error {
	if err := SetLanguage(code); err != nil {
		return err
	}
	s.reload()
	return nil
}

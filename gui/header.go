package gui

import (
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// header is the strip across the top: community, search, connectivity, lock.
type header struct {
	u         *UI
	obj       fyne.CanvasObject
	community *widget.Label
	search    *widget.Entry
	dot       *canvas.Circle
	conn      *widget.Label
	lock      *widget.Button
}

var (
	connectedColour = color.NRGBA{R: 0x2E, G: 0xC4, B: 0x4F, A: 0xFF}
	meshColour      = color.NRGBA{R: 0xFF, G: 0xB0, B: 0x20, A: 0xFF}
	aloneColour     = color.NRGBA{R: 0x9E, G: 0x9E, B: 0x9E, A: 0xFF}
)

func newHeader(u *UI) *header {
	h := &header{u: u, community: boldLabel(""), search: widget.NewEntry(), conn: widget.NewLabel("")}
	h.community.Truncation = fyne.TextTruncateEllipsis
	h.search.SetPlaceHolder(T("header.search"))
	h.search.OnChanged = func(s string) {
		u.setQuery(func(q *query) { q.filter.Search = s })
		if u.current != screenFeed {
			u.show(screenFeed)
		}
	}
	h.dot = canvas.NewCircle(aloneColour)
	dot := container.NewGridWrap(fyne.NewSize(12, 12), h.dot)
	h.lock = widget.NewButtonWithIcon(T("header.lock"), theme.LogoutIcon(), func() { u.lockNow() })
	right := container.NewHBox(container.NewCenter(dot), h.conn, h.lock)
	search := container.NewGridWrap(fyne.NewSize(360, h.search.MinSize().Height), h.search)
	h.obj = container.NewPadded(container.NewBorder(nil, nil, nil, container.NewHBox(search, right), h.community))
	return h
}

func (h *header) apply(ev event) {
	name := ev.who.CommunityName
	if ev.who.OrgName != "" {
		name += " · " + ev.who.OrgName
	}
	h.community.SetText(name)
	text, c := connectivityText(ev.conn)
	h.conn.SetText(text)
	h.dot.FillColor = c
	h.dot.Refresh()
}

// connectivityText is the badge's text and colour.
func connectivityText(c app.Connectivity) (string, color.Color) {
	switch c.State {
	case "connected":
		return fmt.Sprintf(T("conn.connected"), c.Peers), connectedColour
	case "mesh":
		return fmt.Sprintf(T("conn.mesh"), c.Peers), meshColour
	}
	return T("conn.alone"), aloneColour
}

// lockNow closes the home and asks for the passphrase again.
func (u *UI) lockNow() {
	if u.settings.session != nil {
		u.settings.session.lock()
	}
}

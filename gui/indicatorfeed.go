package gui

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// feedSwitch is the sync screen's switch for the indicator feed that
// firewalls, proxies and TAXII clients poll (app.StartIndicatorFeed):
// where it listens (this computer only, or the local network), up to which
// TLP, and once on, its address, its certificate's fingerprint and how to
// make a token. The feed stops with the switch, and when the window locks
// or closes.
type feedSwitch struct {
	u        *UI
	obj      fyne.CanvasObject
	on       *widget.Check
	where    *widget.Select
	port     *widget.Entry
	tlp      *widget.Select
	info     *widget.Label
	token    *widget.Entry
	tokNote  *widget.Label
	copyTok  *widget.Button
	newToken *widget.Button
	srv      *app.FeedServer
	// setting is set while the code, not the user, moves the switch.
	setting bool
}

// feedTLPs are the limits offered; RED is never served.
var feedTLPs = []app.TLP{app.TLPClear, app.TLPGreen, app.TLPAmber, app.TLPAmberStrict}

// feedDefaultPort is the port offered first.
const feedDefaultPort = "8443"

func newFeedSwitch(u *UI) *feedSwitch {
	v := &feedSwitch{u: u, info: wrapLabel(T("sync.feed.off")), token: widget.NewEntry()}
	v.on = widget.NewCheck(T("sync.feed.switch"), func(on bool) {
		if !v.setting {
			v.toggle(on)
		}
	})
	v.where = newSelect([]string{T("sync.feed.loopback"), T("sync.feed.lan")}, nil)
	v.where.SetSelectedIndex(0)
	v.port = widget.NewEntry()
	v.port.SetText(feedDefaultPort)
	var labels []string
	for _, t := range feedTLPs {
		labels = append(labels, t.Label())
	}
	v.tlp = newSelect(labels, nil)
	v.tlp.SetSelectedIndex(1) // GREEN
	v.token.Hide()
	v.tokNote = wrapLabel(T("sync.feed.token_once"))
	v.tokNote.Hide()
	v.copyTok = widget.NewButtonWithIcon(T("sync.feed.copy_token"), theme.ContentCopyIcon(), func() {
		v.u.fa.Clipboard().SetContent(v.token.Text)
	})
	v.copyTok.Hide()
	v.newToken = widget.NewButtonWithIcon(T("sync.feed.new_token"), theme.ContentAddIcon(), func() { v.createToken() })
	form := widget.NewForm(widget.NewFormItem(T("sync.feed.where"), v.where), widget.NewFormItem(T("sync.feed.port"), v.port),
		widget.NewFormItem(T("sync.feed.tlp_max"), v.tlp))
	v.obj = container.NewVBox(section(T("sync.feed")), wrapLabel(T("sync.feed.note")), form, v.on, v.info,
		container.NewHBox(v.newToken, v.copyTok), v.tokNote, v.token)
	return v
}

// bind returns the address the feed is to listen on.
func (v *feedSwitch) bind() string {
	host := "127.0.0.1"
	if v.where.SelectedIndex() == 1 {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strings.TrimSpace(v.port.Text))
}

// toggle starts or stops the feed.
func (v *feedSwitch) toggle(on bool) {
	if !on {
		v.stop()
		return
	}
	if v.srv != nil {
		return
	}
	if _, err := strconv.ParseUint(strings.TrimSpace(v.port.Text), 10, 16); err != nil {
		v.setOn(false)
		v.u.showErr(fmt.Errorf("%w: port %q: give a number from 1 to 65535", app.ErrInvalid, v.port.Text))
		return
	}
	tlp := app.TLPGreen
	if i := v.tlp.SelectedIndex(); i >= 0 && i < len(feedTLPs) {
		tlp = feedTLPs[i]
	}
	srv, err := v.u.a.StartIndicatorFeed(v.bind(), app.FeedOptions{TLPMax: tlp})
	if err != nil {
		v.setOn(false)
		v.u.showErr(err)
		return
	}
	v.srv = srv
	v.where.Disable()
	v.port.Disable()
	v.tlp.Disable()
	text := Tf("sync.feed.serving", srv.URL(), tlp.Label())
	if c := srv.Certificate(); c != nil {
		text += "\n" + Tf("sync.feed.fingerprint", c.Fingerprint) + "\n" + Tf("sync.feed.pin", c.PublicKeyPin)
	}
	if len(v.u.a.FeedTokens()) == 0 {
		text += "\n" + T("sync.feed.no_token")
	}
	text += "\n" + T("sync.feed.how_token")
	v.info.SetText(text)
}

// stop stops the feed, if it runs.
func (v *feedSwitch) stop() {
	if v.srv == nil {
		return
	}
	v.srv.Close()
	v.srv = nil
	v.where.Enable()
	v.port.Enable()
	v.tlp.Enable()
	v.info.SetText(T("sync.feed.off"))
	v.setOn(false)
}

func (v *feedSwitch) setOn(on bool) {
	v.setting = true
	v.on.SetChecked(on)
	v.setting = false
}

// createToken makes a token and shows it, once, to copy.
func (v *feedSwitch) createToken() {
	tok, err := v.u.a.CreateFeedToken("")
	if err != nil {
		v.u.showErr(err)
		return
	}
	v.token.SetText(tok)
	v.token.Show()
	v.tokNote.Show()
	v.copyTok.Show()
}

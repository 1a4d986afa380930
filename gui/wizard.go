package gui

import (
	"errors"
	"io"
	"strings"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// wizard is the first run: create the device identity, then create a
// community, write a join request and open an invite, or open the demo.
type wizard struct {
	s *Session

	name, pass, again *widget.Entry
	strength          *widget.Label
	create            *widget.Button
	demo              *widget.Button
	message           *widget.Label

	// community step
	a               *app.App
	commName        *widget.Entry
	orgName         *widget.Entry
	orgKind         *widget.Select
	orgSector       *widget.Select
	kindOf          func(string) app.OrgKind
	sectorOf        func(string) string
	createCommunity *widget.Button
	writeRequest    *widget.Button
	openInvite      *widget.Button
	pickSave        func(name string, done func(fyne.URIWriteCloser))
	pickOpen        func(done func(fyne.URIReadCloser))
}

func (s *Session) showWizard() {
	w := &wizard{s: s, name: widget.NewEntry(), pass: widget.NewPasswordEntry(), again: widget.NewPasswordEntry(),
		strength: wrapLabel(""), message: wrapLabel("")}
	s.wizard = w
	w.initPickers()
	w.name.SetPlaceHolder(T("wizard.name_placeholder"))
	w.pass.OnChanged = func(p string) { w.strength.SetText(strengthHint(p)) }
	w.create = widget.NewButtonWithIcon(T("wizard.create_identity"), theme.ConfirmIcon(), func() { w.createIdentity() })
	w.create.Importance = widget.HighImportance
	w.demo = widget.NewButtonWithIcon(T("wizard.open_demo"), theme.MediaPlayIcon(), func() { s.openDemo() })
	form := widget.NewForm(
		widget.NewFormItem(T("wizard.name"), w.name),
		widget.NewFormItem(T("wizard.passphrase"), w.pass),
		widget.NewFormItem(T("wizard.again"), w.again),
		widget.NewFormItem("", w.strength),
	)
	w.message.Importance = widget.DangerImportance
	page := container.NewVBox(
		pageTitle(T("wizard.welcome")),
		wrapLabel(T("wizard.intro")),
		widget.NewSeparator(),
		section(T("wizard.identity_heading")),
		wrapLabel(T("wizard.identity_note")),
		form, w.message, container.NewHBox(w.create),
		widget.NewSeparator(),
		wrapLabel(T("wizard.demo_note")), container.NewHBox(w.demo),
	)
	s.win.SetContent(pageFrame(page))
}

// pageFrame centres a page of at most 720 px in the window.
func pageFrame(page fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.NewCenter(container.New(&minWidth{w: 720}, container.NewPadded(page))))
}

func (w *wizard) initPickers() {
	w.pickSave = func(name string, done func(fyne.URIWriteCloser)) {
		d := dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
			if err == nil && wc != nil {
				done(wc)
			}
		}, w.s.win)
		d.SetFileName(name)
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	}
	w.pickOpen = func(done func(fyne.URIReadCloser)) {
		d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
			if err == nil && rc != nil {
				done(rc)
			}
		}, w.s.win)
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	}
}

// strengthHint says how strong a passphrase looks: a hint, not a rule
// (app.CheckPassphrase is the rule).
func strengthHint(p string) string {
	n := len([]rune(p))
	classes := 0
	for _, f := range []func(rune) bool{unicode.IsLower, unicode.IsUpper, unicode.IsDigit, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }} {
		if strings.IndexFunc(p, f) >= 0 {
			classes++
		}
	}
	words := len(strings.Fields(p))
	switch {
	case n == 0:
		return ""
	case n < app.MinPassphrase:
		return T("strength.too_short")
	case n >= 20 || (words >= 4 && n >= 16) || (n >= 14 && classes >= 3):
		return T("strength.strong")
	case n >= 12 && classes >= 2:
		return T("strength.fair")
	}
	return T("strength.weak")
}

func (w *wizard) createIdentity() {
	if w.pass.Text != w.again.Text {
		w.message.SetText(T("wizard.passphrases_differ"))
		return
	}
	name, pass := strings.TrimSpace(w.name.Text), w.pass.Text
	w.pass.SetText("")
	w.again.SetText("")
	w.s.background(T("wizard.creating"), func() (*app.App, error) {
		if _, err := app.Init(w.s.cfg.App, name, pass); err != nil {
			return nil, err
		}
		return app.Open(w.s.cfg.App, pass)
	}, func(a *app.App, err error) {
		if err != nil {
			w.s.showWizard()
			w.s.wizard.name.SetText(name)
			w.s.wizard.message.SetText(phrase(err))
			return
		}
		w.s.showJoinStepWith(w, a)
	})
}

// showJoinStep shows the community step for an identity that has not
// joined a community yet.
func (s *Session) showJoinStep(a *app.App) {
	w := &wizard{s: s, message: wrapLabel("")}
	w.initPickers()
	s.showJoinStepWith(w, a)
}

func (s *Session) showJoinStepWith(w *wizard, a *app.App) {
	s.wizard = w
	w.a = a
	w.commName, w.orgName = widget.NewEntry(), widget.NewEntry()
	var kinds, sectors []string
	kinds, w.kindOf = enumOptions("kind", app.OrgKinds)
	sectors, w.sectorOf = enumOptions("sector", app.Sectors)
	w.orgSector = newSelect(sectors, nil)
	w.orgSector.Disable()
	w.orgKind = newSelect(kinds, func(k string) {
		if w.kindOf(k) == app.KindCriticalService {
			w.orgSector.Enable()
		} else {
			w.orgSector.ClearSelected()
			w.orgSector.Disable()
		}
	})
	w.orgKind.SetSelected(enum("kind", app.KindCoordination))
	w.createCommunity = widget.NewButtonWithIcon(T("wizard.create_community"), theme.ContentAddIcon(), func() { w.doCreateCommunity() })
	w.writeRequest = widget.NewButtonWithIcon(T("wizard.write_request"), theme.DocumentSaveIcon(), func() { w.doWriteRequest() })
	w.openInvite = widget.NewButtonWithIcon(T("wizard.open_invite"), theme.FolderOpenIcon(), func() { w.doOpenInvite() })
	w.demo = widget.NewButtonWithIcon(T("wizard.open_demo"), theme.MediaPlayIcon(), func() {
		a.Close()
		w.a = nil
		s.openDemo()
	})
	w.message.Importance = widget.DangerImportance
	create := widget.NewForm(
		widget.NewFormItem(T("wizard.community_name"), w.commName),
		widget.NewFormItem(T("wizard.org_name"), w.orgName),
		widget.NewFormItem(T("wizard.org_kind"), w.orgKind),
		widget.NewFormItem(T("wizard.org_sector"), w.orgSector),
	)
	page := container.NewVBox(
		pageTitle(Tf("wizard.hello", a.WhoAmI().Name)),
		wrapLabel(T("wizard.community_intro")),
		w.message,
		widget.NewSeparator(),
		section(T("wizard.join_heading")), wrapLabel(T("wizard.join_note")),
		container.NewHBox(w.writeRequest, w.openInvite),
		widget.NewSeparator(),
		section(T("wizard.create_heading")), wrapLabel(T("wizard.create_note")), create, container.NewHBox(w.createCommunity),
		widget.NewSeparator(),
		wrapLabel(T("wizard.demo_note")), container.NewHBox(w.demo),
	)
	s.win.SetContent(pageFrame(page))
}

func (w *wizard) doCreateCommunity() {
	_, err := w.a.CreateCommunity(app.CommunityOptions{Name: w.commName.Text, OrgName: w.orgName.Text,
		OrgKind: w.kindOf(w.orgKind.Selected), OrgSector: w.sectorOf(w.orgSector.Selected)})
	if err != nil {
		w.message.SetText(phrase(err))
		return
	}
	w.s.opened(w.a)
}

func (w *wizard) doWriteRequest() {
	req, err := w.a.JoinRequest()
	if err != nil {
		w.message.SetText(phrase(err))
		return
	}
	w.pickSave(w.a.WhoAmI().Name+".request", func(wc fyne.URIWriteCloser) {
		defer wc.Close()
		if _, err := wc.Write(req); err != nil {
			w.message.SetText(err.Error())
			return
		}
		w.message.Importance = widget.SuccessImportance
		w.message.SetText(Tf("wizard.request_written", wc.URI().Path()))
	})
}

func (w *wizard) doOpenInvite() {
	w.pickOpen(func(rc fyne.URIReadCloser) {
		data, err := io.ReadAll(io.LimitReader(rc, 1<<30))
		rc.Close()
		if err == nil {
			_, err = w.a.Join(data)
		}
		if err != nil {
			w.message.Importance = widget.DangerImportance
			w.message.SetText(phrase(err))
			return
		}
		w.s.opened(w.a)
	})
}

// unlockView asks for the passphrase of an existing home.
type unlockView struct {
	pass    *widget.Entry
	unlock  *widget.Button
	message *widget.Label
}

func (s *Session) showUnlock(err error) {
	v := &unlockView{pass: widget.NewPasswordEntry(), message: wrapLabel("")}
	s.unlock = v
	v.message.Importance = widget.DangerImportance
	if err != nil {
		v.message.SetText(unlockError(err))
	}
	try := func() {
		pass := v.pass.Text
		v.pass.SetText("")
		s.openHome(pass)
	}
	v.pass.OnSubmitted = func(string) { try() }
	v.unlock = widget.NewButtonWithIcon(T("unlock.button"), theme.LoginIcon(), try)
	v.unlock.Importance = widget.HighImportance
	demo := widget.NewButtonWithIcon(T("wizard.open_demo"), theme.MediaPlayIcon(), func() { s.openDemo() })
	page := container.NewVBox(
		pageTitle(T("unlock.heading")),
		wrapLabel(Tf("unlock.note", s.cfg.App.Home)),
		widget.NewForm(widget.NewFormItem(T("wizard.passphrase"), v.pass)),
		v.message,
		container.NewHBox(v.unlock),
		widget.NewSeparator(),
		container.NewHBox(demo),
	)
	s.win.SetContent(pageFrame(page))
	s.win.Canvas().Focus(v.pass)
}

func unlockError(err error) string {
	var held *heldError
	if errors.As(err, &held) {
		return err.Error()
	}
	if errors.Is(err, app.ErrNoIdentity) {
		return phrase(err)
	}
	if strings.Contains(strings.ToLower(err.Error()), "passphrase") {
		return T("unlock.wrong")
	}
	return phrase(err)
}

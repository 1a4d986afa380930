package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Preference keys.
const (
	prefLanguage      = "language"
	prefNotifications = "notifications"
)

// notificationsOn reports whether desktop notifications are wanted.
func notificationsOn(fa fyne.App) bool {
	return fa.Preferences().BoolWithFallback(prefNotifications, true)
}

// LanguagePreference returns the language chosen in Settings, "" for the
// system's.
func LanguagePreference(fa fyne.App) string {
	return fa.Preferences().String(prefLanguage)
}

// settingsView holds the language, notifications, identity (device and
// keys, key file backup) and lock.
type settingsView struct {
	u       *UI
	session *Session
	obj     fyne.CanvasObject

	language *widget.RadioGroup
	notify   *widget.Check
	identity *widget.Label
	device   *widget.Label
	backup   *widget.Button
	lock     *widget.Button
	codes    map[string]string
	org      *orgSettingsBox // metrics.go
}

func newSettingsView(u *UI, s *Session) *settingsView {
	v := &settingsView{u: u, session: s, identity: wrapLabel(""), device: wrapLabel(""), codes: map[string]string{}}
	options := []string{T("settings.language_system")}
	v.codes[options[0]] = ""
	for _, l := range Languages {
		options = append(options, l.Name)
		v.codes[l.Name] = l.Code
	}
	v.language = widget.NewRadioGroup(options, nil)
	cur := LanguagePreference(u.fa)
	for name, code := range v.codes {
		if code == cur {
			v.language.SetSelected(name)
		}
	}
	v.language.OnChanged = func(name string) {
		if name == "" {
			return
		}
		v.setLanguage(v.codes[name])
	}
	v.notify = widget.NewCheck(T("settings.notifications_on"), func(b bool) {
		u.fa.Preferences().SetBool(prefNotifications, b)
	})
	v.notify.SetChecked(notificationsOn(u.fa))
	v.backup = widget.NewButtonWithIcon(T("settings.backup"), theme.DocumentSaveIcon(), func() { v.saveBackup() })
	v.lock = widget.NewButtonWithIcon(T("settings.lock"), theme.LogoutIcon(), func() { u.lockNow() })
	copyID := widget.NewButtonWithIcon(T("settings.copy_device"), theme.ContentCopyIcon(), func() {
		u.fa.Clipboard().SetContent(u.ev.who.Device)
	})
	// Two columns, so that everything, the lock button included, shows
	// without scrolling on a 1366x768 screen in either language.
	left := container.NewVBox(
		section(T("settings.language")), v.language, wrapLabel(T("settings.language_note")),
		widget.NewSeparator(),
		section(T("settings.notifications")), v.notify,
		widget.NewSeparator(),
		section(T("settings.lock_heading")), wrapLabel(T("settings.lock_note")), container.NewHBox(v.lock),
	)
	right := container.NewVBox(
		section(T("settings.identity")), v.identity, v.device, container.NewHBox(copyID),
		wrapLabel(T("settings.backup_warning")), container.NewHBox(v.backup),
		widget.NewSeparator(),
		section(T("settings.limits")), wrapLabel(T("settings.limits_text")),
	)
	v.org = newOrgSettingsBox(u)
	right.Add(v.org.obj)
	v.obj = container.NewVScroll(container.NewPadded(container.NewGridWithColumns(2, left, right)))
	return v
}

func (v *settingsView) apply(ev event) {
	w := ev.who
	v.identity.SetText(Tf("settings.whoami", w.Name, w.OrgName, enum("role", w.Role), w.CommunityName))
	pub := v.u.a.Device()
	v.device.SetText(Tf("settings.device", w.Device) + "\n" + Tf("settings.recipient", short(pub.Recipient)+"…"))
	v.org.apply()
}

// setLanguage stores the choice and rebuilds the window in that language.
func (v *settingsView) setLanguage(code string) {
	v.u.fa.Preferences().SetString(prefLanguage, code)
	if err := SetLanguage(code); err != nil {
		v.u.showErr(err)
		return
	}
	if v.session != nil {
		v.session.reload()
	}
}

func (v *settingsView) saveBackup() {
	data, err := v.u.a.KeyFile()
	if err != nil {
		v.u.showErr(err)
		return
	}
	v.u.pickSave("noroshi-key-backup.age", func(w fyne.URIWriteCloser) {
		defer w.Close()
		if _, err := w.Write(data); err != nil {
			v.u.showErr(err)
			return
		}
		v.u.showInfo(T("settings.backup"), Tf("settings.backup_done", w.URI().Path()))
	})
}

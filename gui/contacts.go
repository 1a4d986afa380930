package gui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// contactsView lists the 24-hour contact points by organisation, searchable,
// with copy-to-clipboard, and the form to set one.
type contactsView struct {
	u      *UI
	obj    fyne.CanvasObject
	search *widget.Entry
	box    *fyne.Container

	org                             *widget.Select
	role, name, phone, email, hours *widget.Entry
	save                            *widget.Button
	lastCopied                      string
	shown                           string // what the list was built from
}

func newContactsView(u *UI) *contactsView {
	v := &contactsView{u: u, search: widget.NewEntry(), box: container.NewVBox(), org: newSelect(nil, nil),
		role: widget.NewEntry(), name: widget.NewEntry(), phone: widget.NewEntry(), email: widget.NewEntry(), hours: widget.NewEntry()}
	v.search.SetPlaceHolder(T("contacts.search"))
	v.search.OnChanged = func(s string) { u.setQuery(func(q *query) { q.contacts = s }) }
	v.org.PlaceHolder = T("contacts.org_mine")
	v.role.SetPlaceHolder(T("contacts.role_placeholder"))
	v.hours.SetText("24/7")
	v.save = widget.NewButtonWithIcon(T("contacts.save"), theme.DocumentSaveIcon(), func() { v.submit() })
	v.save.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem(T("contacts.org"), v.org),
		widget.NewFormItem(T("contacts.role"), v.role),
		widget.NewFormItem(T("contacts.name"), v.name),
		widget.NewFormItem(T("contacts.phone"), v.phone),
		widget.NewFormItem(T("contacts.email"), v.email),
		widget.NewFormItem(T("contacts.hours"), v.hours),
	)
	right := container.NewVScroll(container.NewPadded(container.NewVBox(section(T("contacts.set_heading")), wrapLabel(T("contacts.set_note")), form, container.NewHBox(v.save))))
	left := container.NewBorder(container.NewPadded(v.search), nil, nil, nil, container.NewVScroll(container.NewPadded(v.box)))
	split := container.NewHSplit(left, right)
	split.Offset = 0.62
	v.obj = split
	return v
}

func (v *contactsView) apply(ev event) {
	var orgs []string
	for _, o := range ev.orgs {
		orgs = append(orgs, o.Name)
	}
	v.org.SetOptions(orgs)
	key := fmt.Sprint(ev.contacts)
	if key == v.shown {
		return
	}
	v.shown = key
	v.box.Objects = nil
	if len(ev.contacts) == 0 {
		v.box.Add(widget.NewLabel(T("contacts.none")))
	}
	for _, l := range ev.contacts {
		kind := enum("kind", l.Kind)
		if l.Sector != "" {
			kind += " / " + enum("sector", l.Sector)
		}
		v.box.Add(heading(l.OrgName + "  (" + kind + ")"))
		for _, e := range l.Entries {
			v.box.Add(v.entryRow(e))
		}
		v.box.Add(widget.NewSeparator())
	}
	v.box.Refresh()
}

func (v *contactsView) entryRow(e app.ContactEntry) fyne.CanvasObject {
	who := wrapLabel(e.Role + " — " + e.Name + " (" + e.Hours + ")")
	row := container.NewVBox(who)
	for _, val := range []string{e.Phone, e.Email} {
		if val == "" {
			continue
		}
		val := val
		cp := widget.NewButtonWithIcon(T("contacts.copy"), theme.ContentCopyIcon(), func() {
			v.u.fa.Clipboard().SetContent(val)
			v.lastCopied = val
		})
		cp.Importance = widget.LowImportance
		row.Add(container.NewBorder(nil, nil, nil, cp, widget.NewLabel(val)))
	}
	return container.NewPadded(row)
}

func (v *contactsView) submit() {
	e := app.ContactEntry{Role: v.role.Text, Name: v.name.Text, Phone: v.phone.Text, Email: v.email.Text, Hours: v.hours.Text}
	if _, err := v.u.a.SetContact(v.org.Selected, e, false); err != nil {
		v.u.showErr(err)
		return
	}
	v.role.SetText("")
	v.name.SetText("")
	v.phone.SetText("")
	v.email.SetText("")
	v.u.refresh()
}

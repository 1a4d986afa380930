package gui

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// directoryView lists organisations by kind and sector, their members,
// devices and roles; coordinators add organisations, invite devices and
// revoke them.
type directoryView struct {
	u   *UI
	obj fyne.CanvasObject
	box *fyne.Container

	// add organisation (coordinators)
	addName   *widget.Entry
	addKind   *widget.Select
	addSector *widget.Select
	addOrg    *widget.Button
	kindOf    func(string) app.OrgKind
	sectorOf  func(string) string
	adminBox  *fyne.Container

	// invite
	invOrg  *widget.Select
	invRole *widget.Select
	invite  *widget.Button

	revokeButtons map[string]*widget.Button
	shown         string // what the list was built from; rebuilt only on change, so open sections stay open
}

func newDirectoryView(u *UI) *directoryView {
	v := &directoryView{u: u, box: container.NewVBox(), addName: widget.NewEntry(), adminBox: container.NewVBox(), revokeButtons: map[string]*widget.Button{}}
	var kinds, sectors []string
	kinds, v.kindOf = enumOptions("kind", app.OrgKinds)
	sectors, v.sectorOf = enumOptions("sector", app.Sectors)
	v.addKind = newSelect(kinds, func(string) {
		if v.kindOf(v.addKind.Selected) == app.KindCriticalService {
			v.addSector.Enable()
		} else {
			v.addSector.ClearSelected()
			v.addSector.Disable()
		}
	})
	v.addSector = newSelect(sectors, nil)
	v.addSector.Disable()
	v.addOrg = widget.NewButtonWithIcon(T("directory.add_org"), theme.ContentAddIcon(), func() { v.submitOrg() })
	v.invOrg = newSelect(nil, nil)
	roleNames, _ := enumOptions("role", app.Roles)
	v.invRole = newSelect(roleNames, nil)
	v.invRole.SetSelectedIndex(0)
	v.invite = widget.NewButtonWithIcon(T("directory.invite_button"), theme.MailForwardIcon(), func() { v.startInvite() })

	v.adminBox.Add(section(T("directory.add_org_heading")))
	v.adminBox.Add(widget.NewForm(
		widget.NewFormItem(T("directory.org_name"), v.addName),
		widget.NewFormItem(T("directory.kind"), v.addKind),
		widget.NewFormItem(T("directory.sector"), v.addSector),
	))
	v.adminBox.Add(container.NewHBox(v.addOrg))
	v.adminBox.Add(widget.NewSeparator())
	v.adminBox.Add(section(T("directory.invite_heading")))
	v.adminBox.Add(wrapLabel(T("directory.invite_note")))
	v.adminBox.Add(widget.NewForm(
		widget.NewFormItem(T("directory.org"), v.invOrg),
		widget.NewFormItem(T("directory.role"), v.invRole),
	))
	v.adminBox.Add(container.NewHBox(v.invite))

	right := container.NewVScroll(container.NewPadded(v.adminBox))
	split := container.NewHSplit(container.NewVScroll(container.NewPadded(v.box)), right)
	split.Offset = 0.62
	v.obj = container.NewBorder(container.NewPadded(container.NewHBox(u.assetsButton())), nil, nil, nil, split) // assets.go
	return v
}

func (v *directoryView) apply(ev event) {
	var orgNames []string
	for _, o := range ev.orgs {
		orgNames = append(orgNames, o.Name)
	}
	v.invOrg.SetOptions(orgNames)
	if ev.who.CanInvite {
		v.adminBox.Show()
	} else {
		v.adminBox.Hide()
	}
	if ev.who.CanAddOrg {
		v.addOrg.Enable()
	} else {
		v.addOrg.Disable()
	}

	key := fmt.Sprint(ev.orgs, ev.members, ev.who.Abilities, ev.who.Org, CurrentLanguage())
	if key == v.shown {
		return
	}
	v.shown = key
	byOrg := map[string][]app.Member{}
	for _, m := range ev.members {
		byOrg[m.Org] = append(byOrg[m.Org], m)
	}
	orgs := append([]app.Org{}, ev.orgs...)
	kindIndex := map[app.OrgKind]int{}
	for i, k := range app.OrgKinds {
		kindIndex[k] = i
	}
	sort.SliceStable(orgs, func(i, j int) bool {
		if orgs[i].Kind != orgs[j].Kind {
			return kindIndex[orgs[i].Kind] < kindIndex[orgs[j].Kind]
		}
		return orgs[i].Sector < orgs[j].Sector
	})
	v.box.Objects = nil
	v.revokeButtons = map[string]*widget.Button{}
	var lastKind app.OrgKind = "-"
	for _, o := range orgs {
		if o.Kind != lastKind {
			lastKind = o.Kind
			h := boldLabel(enum("kind", o.Kind))
			h.SizeName = theme.SizeNameSubHeadingText
			v.box.Add(h)
		}
		title := o.Name
		if o.Sector != "" {
			title += "  (" + enum("sector", o.Sector) + ")"
		}
		members := container.NewVBox()
		for _, m := range byOrg[o.ID] {
			members.Add(v.memberRow(ev, m))
		}
		if len(byOrg[o.ID]) == 0 {
			members.Add(widget.NewLabel(T("directory.no_members")))
		}
		item := widget.NewAccordionItem(title+"  · "+Tf("directory.members", o.Members), members)
		acc := widget.NewAccordion(item)
		if o.ID == ev.who.Org {
			acc.Open(0)
		}
		v.box.Add(acc)
	}
	v.box.Refresh()
}

func (v *directoryView) memberRow(ev event, m app.Member) fyne.CanvasObject {
	row := container.NewVBox(boldLabel(m.Label() + " · " + enum("role", m.Role) + " · " + short(m.Person)))
	for _, d := range m.Devices {
		d := d
		line := Tf("directory.device", short(d.ID), enum("role", d.Role))
		switch {
		case d.Founder:
			line += " · " + T("directory.founder")
		case d.AdmittedBy != "":
			line += " · " + Tf("directory.admitted_by", d.AdmittedBy)
		}
		if d.Revoked {
			line += " · " + Tf("directory.revoked", d.RevokeReason)
		}
		if d.AwaitingQuorum {
			line += " · " + T("directory.revoke_waiting")
		}
		l := widget.NewLabel(textLine(line))
		l.Truncation = fyne.TextTruncateEllipsis
		var right fyne.CanvasObject
		if d.CanRevoke {
			b := widget.NewButtonWithIcon(T("directory.revoke"), theme.CancelIcon(), func() { v.askRevoke(m.Label(), d.ID) })
			b.Importance = widget.DangerImportance
			v.revokeButtons[d.ID] = b
			right = b
		}
		row.Add(container.NewBorder(nil, nil, nil, right, l))
	}
	return container.NewPadded(row)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (v *directoryView) askRevoke(name, device string) {
	reason := widget.NewEntry()
	reason.SetPlaceHolder(T("directory.revoke_reason"))
	content := container.NewVBox(wrapLabelSized(Tf("directory.revoke_warning", name, short(device)), 480), reason)
	newConfirmDialog(v.u, T("directory.revoke_title"), content, func() {
		d, err := v.u.a.Revoke(device, reason.Text)
		if err != nil {
			v.u.showErr(err)
			return
		}
		v.u.refresh()
		if d.AwaitingQuorum {
			// A coordinator's device: this revocation is a vote until a
			// second coordinator agrees.
			v.u.showInfo(T("directory.revoke_waiting_title"), Tf("directory.revoke_awaiting", name, short(device)))
		}
	}).Show()
}

func (v *directoryView) submitOrg() {
	if _, err := v.u.a.AddOrg(v.addName.Text, v.kindOf(v.addKind.Selected), v.sectorOf(v.addSector.Selected)); err != nil {
		v.u.showErr(err)
		return
	}
	v.addName.SetText("")
	v.u.refresh()
}

// startInvite reads a join request file and writes the invite made for it.
func (v *directoryView) startInvite() {
	role := app.Roles[max(v.invRole.SelectedIndex(), 0)]
	org := v.invOrg.Selected
	v.u.pickOpen(func(r fyne.URIReadCloser) {
		req, err := io.ReadAll(io.LimitReader(r, 64<<10))
		r.Close()
		if err != nil {
			v.u.showErr(err)
			return
		}
		inv, m, err := v.u.a.Invite(req, app.InviteOptions{Org: org, Role: role})
		if errors.Is(err, app.ErrAwaitingQuorum) {
			v.u.showInfo(T("directory.revoke_waiting_title"), T("directory.invite_awaiting"))
			v.u.refresh()
			return
		}
		if err != nil {
			v.u.showErr(err)
			return
		}
		v.u.pickSave(m.Name+".invite", func(w fyne.URIWriteCloser) {
			defer w.Close()
			if _, err := w.Write(inv); err != nil {
				v.u.showErr(err)
				return
			}
			v.u.showInfo(T("directory.invite_heading"), Tf("directory.invite_written", m.Name, w.URI().Path()))
			v.u.refresh()
		})
	})
}

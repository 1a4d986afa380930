package gui

import (
	"errors"
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// screenAssets is the asset register's screen, reached from the Directory
// (not in the navigation).
const screenAssets = "assets"

// concernColour marks what concerns an organisation's registered assets.
var concernColour = color.NRGBA{R: 0x00, G: 0x69, B: 0x5C, A: 0xFF}

// assetsView shows an organisation's asset register and lets its admins
// (and the coordinators, for the organisation they choose) edit it; below,
// the posts that concern it and, for coordinators, the observation notices
// to send.
type assetsView struct {
	u   *UI
	obj fyne.CanvasObject

	org     *widget.Select // coordinators choose; others see their own
	orgIDs  map[string]string
	status  *widget.Label
	list    *fyne.Container
	form    *fyne.Container
	kind    *widget.Select
	kindOf  func(string) app.AssetKind
	value   *widget.Entry
	note    *widget.Entry
	add     *widget.Button
	matches *fyne.Container
	notices *fyne.Container

	reg   app.AssetRegister
	shown string
}

// assetsButton opens the asset register's screen.
func (u *UI) assetsButton() *widget.Button {
	return widget.NewButtonWithIcon(T("assets.open"), theme.StorageIcon(), func() { u.openAssets() })
}

// openAssets shows the asset register's screen, read afresh.
func (u *UI) openAssets() {
	u.show(screenAssets)
	u.assets.shown = ""
	u.assets.apply(u.ev)
	u.assets.reloadLists()
}

func newAssetsView(u *UI) *assetsView {
	v := &assetsView{u: u, orgIDs: map[string]string{}, status: wrapLabel(""), list: container.NewVBox(),
		value: widget.NewEntry(), note: widget.NewEntry(), matches: container.NewVBox(), notices: container.NewVBox()}
	v.org = newSelect(nil, func(string) {
		v.shown = ""
		v.apply(v.u.ev)
		v.reloadLists()
	})
	var kinds []string
	kinds, v.kindOf = enumOptions("assets.kind", app.AssetKinds)
	v.kind = newSelect(kinds, nil)
	v.kind.SetSelectedIndex(2) // cidr: the most registered
	v.value.SetPlaceHolder(T("assets.value_placeholder"))
	v.note.SetPlaceHolder(T("assets.note_placeholder"))
	v.add = widget.NewButtonWithIcon(T("assets.add"), theme.ContentAddIcon(), func() { v.submit() })
	v.add.Importance = widget.HighImportance
	back := widget.NewButtonWithIcon(T("action.back"), theme.NavigateBackIcon(), func() { u.show(screenDirectory) })
	refresh := widget.NewButtonWithIcon(T("assets.refresh"), theme.ViewRefreshIcon(), func() { v.reloadLists() })
	v.form = container.NewVBox(
		widget.NewForm(
			widget.NewFormItem(T("assets.kind"), v.kind),
			widget.NewFormItem(T("assets.value"), v.value),
			widget.NewFormItem(T("assets.note"), v.note),
		),
		container.NewHBox(v.add),
	)
	left := container.NewVBox(
		container.NewHBox(back, refresh),
		pageTitle(T("assets.heading")),
		wrapLabel(T("assets.explain")),
		widget.NewForm(widget.NewFormItem(T("assets.org"), v.org)),
		v.status,
		v.list,
		widget.NewSeparator(),
		v.form,
	)
	right := container.NewVBox(v.notices, v.matches)
	split := container.NewHSplit(container.NewVScroll(container.NewPadded(left)), container.NewVScroll(container.NewPadded(right)))
	split.Offset = 0.5
	v.obj = split
	return v
}

// orgID returns the ID of the organisation shown: the one chosen, or this
// device's own.
func (v *assetsView) orgID() string {
	if id, ok := v.orgIDs[v.org.Selected]; ok {
		return id
	}
	return v.u.ev.who.Org
}

func (v *assetsView) apply(ev event) {
	if v.u.current != screenAssets {
		return
	}
	// Coordinators choose among every organisation; anyone else sees
	// their own organisation's register only.
	var names []string
	v.orgIDs = map[string]string{}
	for _, o := range ev.orgs {
		if ev.who.CanPostObservation || o.ID == ev.who.Org {
			names = append(names, o.Name)
			v.orgIDs[o.Name] = o.ID
		}
	}
	v.org.SetOptions(names)
	if v.org.Selected == "" {
		v.org.Selected = ev.who.OrgName
		v.org.Refresh()
	}
	if ev.who.CanPostObservation {
		v.org.Enable()
	} else {
		v.org.Disable()
	}
	reg, err := v.u.a.Assets(v.orgID())
	if err != nil {
		v.status.SetText(phrase(err))
		v.list.Objects = nil
		v.list.Refresh()
		v.form.Hide()
		return
	}
	key := fmt.Sprint(reg, CurrentLanguage())
	if key == v.shown {
		return
	}
	v.shown = key
	v.reg = reg
	switch {
	case reg.Updated != nil:
		v.status.SetText(Tf("assets.updated", when(*reg.Updated), reg.By))
	default:
		v.status.SetText(T("assets.none"))
	}
	v.list.Objects = nil
	if reg.Dropped > 0 {
		v.list.Add(wrapLabel(Tf("assets.dropped", reg.Dropped)))
	}
	for _, e := range reg.Entries {
		e := e
		line := enum("assets.kind", e.Kind) + "  " + e.Value
		if e.Note != "" {
			line += "  · " + e.Note
		}
		l := widget.NewLabel(textLine(line))
		l.Truncation = fyne.TextTruncateEllipsis
		var right fyne.CanvasObject
		if reg.CanEdit {
			rm := widget.NewButtonWithIcon(T("assets.remove"), theme.DeleteIcon(), func() { v.remove(e.Value) })
			rm.Importance = widget.LowImportance
			right = rm
		}
		v.list.Add(container.NewBorder(nil, nil, nil, right, l))
	}
	if !reg.CanEdit {
		v.list.Add(wrapLabel(T("assets.read_only")))
		v.form.Hide()
	} else {
		v.form.Show()
	}
	v.list.Refresh()
}

// reloadLists reads the posts that concern the organisation shown and, for
// coordinators, the notices to send. They walk every post, so they are read
// when the screen opens, after a change made here, or on Refresh, not on
// every change of the views.
func (v *assetsView) reloadLists() {
	org := v.orgID()
	v.matches.Objects = []fyne.CanvasObject{section(Tf("assets.matches", v.reg.OrgName))}
	n := 0
	if org == v.u.ev.who.Org {
		for _, p := range v.u.a.AssetMatches() {
			v.matches.Add(v.postRow(p.Post, p.Matches, ""))
			n++
		}
	}
	var cands []app.NoticeCandidate
	if v.u.ev.who.CanPostObservation {
		cands = v.u.a.NoticeCandidates()
	}
	v.notices.Objects = nil
	if v.u.ev.who.CanPostObservation {
		v.notices.Add(section(T("assets.notices")))
		shownNotices := 0
		for _, c := range cands {
			// With the coordinator's own organisation chosen (as the
			// screen opens), every organisation's are listed.
			if c.Org == org || org == v.u.ev.who.Org {
				v.notices.Add(v.postRow(c.Post, c.Matches, c.Org))
				shownNotices++
			}
		}
		if shownNotices == 0 {
			v.notices.Add(widget.NewLabel(T("assets.notices_none")))
		}
		v.notices.Add(widget.NewSeparator())
	}
	if n == 0 {
		if org == v.u.ev.who.Org {
			v.matches.Add(widget.NewLabel(T("assets.matches_none")))
		} else {
			v.matches.Hide()
		}
	}
	if org == v.u.ev.who.Org {
		v.matches.Show()
	}
	v.matches.Refresh()
	v.notices.Refresh()
}

// postRow is one post that concerns an organisation: its title (tap to
// open), the indicators and assets, and for a notice candidate the button
// that opens the notice.
func (v *assetsView) postRow(p app.PostSummary, ms []app.AssetMatch, noticeOrg string) fyne.CanvasObject {
	id := p.ID
	open := widget.NewButton(textLine(p.TagMark+p.Title), func() {
		v.u.show(screenFeed)
		v.u.setQuery(func(q *query) { q.post = id })
	})
	open.Alignment = widget.ButtonAlignLeading
	open.Importance = widget.LowImportance
	row := container.NewVBox(open)
	for _, m := range ms {
		row.Add(widget.NewLabel(textLine(Tf("assets.match_line", m.Indicator.Defanged, assetText(m.Asset)))))
	}
	if noticeOrg != "" {
		name := ms[0].OrgName
		b := widget.NewButtonWithIcon(Tf("assets.notice_button", name), theme.MailSendIcon(), func() { v.u.openNotice(id, noticeOrg) })
		row.Add(container.NewHBox(b))
	}
	return container.NewPadded(row)
}

func assetText(e app.AssetEntry) string {
	if e.Note != "" {
		return e.Value + ", " + e.Note
	}
	return e.Value
}

func (v *assetsView) submit() {
	e := app.AssetEntry{Kind: v.kindOf(v.kind.Selected), Value: v.value.Text, Note: v.note.Text}
	if _, err := v.u.a.AddAsset(v.orgID(), e); err != nil {
		v.u.showErr(assetErr(err))
		return
	}
	v.value.SetText("")
	v.note.SetText("")
	v.shown = ""
	v.u.refresh()
	v.apply(v.u.ev)
	v.reloadLists()
}

func (v *assetsView) remove(value string) {
	if _, err := v.u.a.RemoveAsset(v.orgID(), value); err != nil {
		v.u.showErr(assetErr(err))
		return
	}
	v.shown = ""
	v.u.refresh()
	v.apply(v.u.ev)
	v.reloadLists()
}

// assetErr phrases app's refusal of an asset in the UI's language.
func assetErr(err error) error {
	var ae *app.AssetError
	if !errors.As(err, &ae) {
		return err
	}
	s := Tf("assets.error."+string(ae.Reason), ae.Value, app.MinPrefixV4, app.MinPrefixV6, app.MaxAssets, app.MaxAssetNote)
	if ae.Line > 0 {
		s = Tf("assets.error_line", ae.Line, s)
	}
	return errors.New(s)
}

// openNotice opens the compose dialog with the observation notice about a
// post, pre-filled for the organisation (app.NoticeDraft), to edit and send.
func (u *UI) openNotice(post, org string) *composeView {
	d, err := u.a.NoticeDraft(post, org)
	if err != nil {
		u.showErr(err)
		return nil
	}
	c := newComposeView(u)
	c.typ.SetSelected(enum("type", d.Type))
	c.tag.SetSelected(enum("tag", d.Tag))
	c.channel.SetSelected(enum("channel", d.Channel))
	c.tlp.SetSelected(d.TLP.Label())
	c.scope.SetSelected(T("scope." + scopeOrgs))
	var names []string
	for _, o := range u.ev.orgs {
		for _, id := range d.ToOrgs {
			if o.ID == id {
				names = append(names, o.Name)
			}
		}
	}
	c.orgs.SetSelected(names)
	c.title.SetText(d.Title)
	c.body.SetText(d.Body)
	c.about = d.About
	c.update()
	c.dialog.Show()
	u.lastCompose = c
	return c
}

// concernObjects says, in a post's detail, which registered assets its
// indicators fall inside: "This concerns your registered address
// 203.0.113[.]17"; on a coordinator's device other organisations' too,
// with the button that opens the observation notice.
func (v *postView) concernObjects(d *app.PostDetail) []fyne.CanvasObject {
	var objs []fyne.CanvasObject
	mine := v.u.ev.who.Org
	offered := map[string]bool{}
	for _, m := range d.Concerns {
		word := T("assets.word." + string(m.Asset.Kind))
		var line string
		if m.Org == mine {
			line = Tf("assets.concerns_yours", word, m.Indicator.Defanged, assetText(m.Asset))
		} else {
			line = Tf("assets.concerns_org", m.OrgName, word, m.Indicator.Defanged, assetText(m.Asset))
		}
		if m.Noticed {
			line += " · " + Tf("assets.noticed", m.OrgName)
		}
		objs = append(objs, banner(textLine(line), concernColour))
		if m.CanNotice && !offered[m.Org] {
			offered[m.Org] = true
			post, org, name := d.ID, m.Org, m.OrgName
			objs = append(objs, container.NewHBox(widget.NewButtonWithIcon(Tf("assets.notice_button", name), theme.MailSendIcon(), func() {
				v.u.openNotice(post, org)
			})))
		}
	}
	return objs
}

package gui

import (
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// Scope choices in the compose dialog.
const (
	scopeCommunity = "community"
	scopeOrgs      = "orgs"
	scopePeople    = "people"
)

// composeView is the new post dialog: type, tag, TLP with its rule, scope
// (community, organisations, people from the directory), channel, title,
// body, indicators and attachments.
type composeView struct {
	u      *UI
	dialog *dialog.CustomDialog

	typ, tag, tlp, channel *widget.Select
	scope                  *widget.RadioGroup
	orgs, people           *checkGrid
	rule                   *widget.Label
	title                  *widget.Entry
	body                   *widget.Entry
	indicators             *widget.Entry
	files                  []app.File
	fileList               *fyne.Container
	attach, post, cancel   *widget.Button

	typeOf    func(string) app.PostType
	tagOf     func(string) app.Tag
	chOf      func(string) app.Channel
	scopeKeys map[string]string
	// personIDs maps the people picker's labels to person IDs: a post is
	// addressed to people by ID, never by name.
	personIDs map[string]string
	// incident is the incident a re-publication comes from (incidents.go).
	incident string
	// about is the post an observation notice is about (assets.go).
	about string
}

// openCompose shows the new post dialog.
func (u *UI) openCompose() *composeView {
	c := newComposeView(u)
	c.dialog.Show()
	u.lastCompose = c
	return c
}

func newComposeView(u *UI) *composeView {
	c := &composeView{u: u, rule: wrapLabel(""), title: widget.NewEntry(), body: widget.NewMultiLineEntry(),
		indicators: widget.NewMultiLineEntry(), fileList: container.NewVBox(), scopeKeys: map[string]string{}}
	var typeNames, tagNames, chNames []string
	typeNames, c.typeOf = enumOptions("type", app.PostTypes)
	tagNames, c.tagOf = enumOptions("tag", app.Tags)
	chNames, c.chOf = enumOptions("channel", []app.Channel{app.ChannelPro, app.ChannelGeneral})
	if u.ev.who.CanPostObservation {
		chNames, c.chOf = enumOptions("channel", app.Channels)
	}
	c.typ = newSelect(typeNames, nil)
	c.tag = newSelect(tagNames, nil)
	c.channel = newSelect(chNames, func(string) { c.update() })
	tlps := make([]string, len(app.TLPs))
	for i, t := range app.TLPs {
		tlps[i] = t.Label()
	}
	c.tlp = newSelect(tlps, func(string) { c.update() })
	var scopeNames []string
	for _, k := range []string{scopeCommunity, scopeOrgs, scopePeople} {
		n := T("scope." + k)
		c.scopeKeys[n] = k
		scopeNames = append(scopeNames, n)
	}
	c.scope = widget.NewRadioGroup(scopeNames, func(string) { c.update() })
	c.scope.Horizontal = true
	var orgNames []string
	for _, o := range u.ev.orgs {
		orgNames = append(orgNames, o.Name)
	}
	var others []app.Member
	for _, m := range u.ev.members {
		if m.Person != u.ev.who.Person && m.Addressable {
			others = append(others, m)
		}
	}
	peopleNames, ids := peopleOptions(others)
	c.personIDs = ids
	c.orgs = newCheckGrid(orgNames, 3)
	c.people = newCheckGrid(peopleNames, 3)
	c.title.SetPlaceHolder(T("compose.title_placeholder"))
	c.body.SetPlaceHolder(T("compose.body_placeholder"))
	c.body.SetMinRowsVisible(6)
	c.body.Wrapping = fyne.TextWrapWord
	c.indicators.SetPlaceHolder(T("compose.indicators_placeholder"))
	c.indicators.SetMinRowsVisible(2)
	c.attach = widget.NewButtonWithIcon(T("compose.attach"), theme.FileIcon(), func() { c.pickFile() })
	c.post = widget.NewButtonWithIcon(T("compose.post"), theme.MailSendIcon(), func() { c.submit() })
	c.post.Importance = widget.HighImportance
	c.cancel = widget.NewButton(T("action.cancel"), func() { c.dialog.Hide() })

	c.typ.SetSelected(enum("type", app.TypeAlert))
	c.tag.SetSelected(enum("tag", app.TagInfo))
	c.channel.SetSelected(enum("channel", app.ChannelPro))
	c.tlp.SetSelected(app.TLPGreen.Label())
	c.scope.SetSelected(T("scope." + scopeCommunity))

	form := widget.NewForm(
		widget.NewFormItem(T("compose.type"), container.NewGridWithColumns(3, c.typ, c.tag, c.channel)),
		widget.NewFormItem("TLP", c.tlp),
		widget.NewFormItem("", c.rule),
		widget.NewFormItem(T("compose.scope"), c.scope),
		widget.NewFormItem(T("compose.orgs"), c.orgs.obj),
		widget.NewFormItem(T("compose.people"), c.people.obj),
		widget.NewFormItem(T("compose.title"), c.title),
		widget.NewFormItem(T("compose.body"), c.body),
		widget.NewFormItem(T("compose.indicators"), c.indicators),
		widget.NewFormItem(T("compose.attachments"), container.NewVBox(c.fileList, container.NewHBox(c.attach))),
	)
	buttons := container.NewHBox(c.cancel, c.post)
	content := container.NewBorder(nil, container.NewCenter(buttons), nil, nil, container.NewVScroll(form))
	c.dialog = dialog.NewCustomWithoutButtons(T("compose.heading"), content, u.win)
	c.dialog.Resize(fyne.NewSize(860, 680))
	c.update()
	return c
}

// update shows the rule of the chosen TLP and enables the scope choices it
// allows. The rules themselves are app's: this only explains them.
func (c *composeView) update() {
	if c.rule == nil || c.scope == nil || c.orgs == nil || c.people == nil {
		return
	}
	if t, err := app.ParseTLP(c.tlp.Selected); err == nil && t != "" {
		c.rule.SetText(T("tlp_rule." + strings.ToLower(strings.ReplaceAll(string(t), "+", "_"))))
	} else {
		c.rule.SetText("") // no TLP chosen yet
	}
	switch c.scopeKeys[c.scope.Selected] {
	case scopeOrgs:
		c.orgs.Enable()
		c.people.Disable()
	case scopePeople:
		c.orgs.Disable()
		c.people.Enable()
	default:
		c.orgs.Disable()
		c.people.Disable()
	}
}

// draft gathers the form into a post draft.
func (c *composeView) draft() app.PostDraft {
	t, _ := app.ParseTLP(c.tlp.Selected)
	d := app.PostDraft{Type: c.typeOf(c.typ.Selected), Tag: c.tagOf(c.tag.Selected), TLP: t, Channel: c.chOf(c.channel.Selected),
		Title: c.title.Text, Body: c.body.Text, Files: c.files, Incident: c.incident, About: c.about}
	switch c.scopeKeys[c.scope.Selected] {
	case scopeOrgs:
		d.ToOrgs = append(d.ToOrgs, c.orgs.Selected()...)
	case scopePeople:
		for _, l := range c.people.Selected() {
			d.ToMembers = append(d.ToMembers, c.personIDs[l])
		}
	}
	// Indicators travel as structured fields; app parses and checks them.
	d.Indicators = strings.Split(c.indicators.Text, "\n")
	return d
}

func (c *composeView) submit() {
	p, err := c.u.a.Post(c.draft())
	if err != nil {
		c.u.showErr(err)
		return
	}
	c.dialog.Hide()
	c.u.setQuery(func(q *query) { q.post = p.ID })
}

func (c *composeView) pickFile() {
	c.u.pickOpen(func(r fyne.URIReadCloser) {
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, c.u.a.MaxAttachment()+1))
		if err != nil {
			c.u.showErr(err)
			return
		}
		c.addFile(r.URI().Name(), data)
	})
}

// addFile attaches a file to the draft.
func (c *composeView) addFile(name string, data []byte) {
	c.files = append(c.files, app.File{Name: name, Data: data})
	c.showFiles()
}

func (c *composeView) showFiles() {
	c.fileList.Objects = nil
	for i, f := range c.files {
		i := i
		rm := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
			c.files = append(c.files[:i:i], c.files[i+1:]...)
			c.showFiles()
		})
		c.fileList.Add(container.NewBorder(nil, nil, nil, rm, widget.NewLabel(f.Name+" ("+sizeText(int64(len(f.Data)))+")")))
	}
	c.fileList.Refresh()
}

// peopleOptions labels people for a picker, "Name (Organisation)", with
// the start of the person ID where two labels would be the same, and
// returns the person ID behind each label.
func peopleOptions(ms []app.Member) ([]string, map[string]string) {
	count := map[string]int{}
	for _, m := range ms {
		count[m.Label()]++
	}
	labels := make([]string, 0, len(ms))
	ids := make(map[string]string, len(ms))
	for _, m := range ms {
		l := m.Label()
		if count[l] > 1 {
			l += " · " + m.Person[:min(8, len(m.Person))]
		}
		labels = append(labels, l)
		ids[l] = m.Person
	}
	return labels, ids
}

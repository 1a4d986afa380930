package gui

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// incidentView is the consultation window: the board of every incident by
// status (coordinators), the list of the incidents this device can read,
// the report form, and the selected incident's timeline and update form.
type incidentView struct {
	u    *UI
	obj  fyne.CanvasObject
	tabs *container.AppTabs

	boardTab *container.TabItem
	board    *fyne.Container
	list     *widget.List
	items    []app.Incident

	// report form
	category  *widget.Select
	title     *widget.Entry
	affects   *widget.RadioGroup
	support   *widget.Check
	kinds     *checkGrid // kinds of help wanted
	desc      *widget.Entry
	files     []app.File
	fileList  *fyne.Container
	report    *widget.Button
	catOf     func(string) app.Category
	affectsOf func(string) app.Affects

	// detail and update form
	detail    *fyne.Container
	scroll    *container.Scroll
	status    *widget.Select
	statusOf  func(string) app.Status
	assign    *widget.Select
	assignIDs map[string]string // the assign picker's labels to person IDs
	note      *widget.Entry
	update    *widget.Button
	// escalation flags and support (support.go)
	setAffects *widget.Select
	public     *widget.Check
	passedOn   *widget.Check
	route      *widget.Button
	republish  *widget.Button
	answers    map[string][3]*widget.Button // by request ID: accept, decline, report
	answerNote *widget.Entry                // the open answer dialog's note, for tests
	routeForm  *routeForm                   // the open routing dialog, for tests
	refusal    string                       // the last refusal shown, for tests
	orgs       []app.Org
	shown      *app.Incident
	selecting  bool
	boardKey   string
	detailKey  string
}

func newIncidentView(u *UI) *incidentView {
	v := &incidentView{u: u, board: container.NewGridWithColumns(len(app.Statuses)), detail: container.NewVBox(), title: widget.NewEntry(), desc: widget.NewMultiLineEntry(), note: widget.NewMultiLineEntry()}
	v.list = widget.NewList(func() int { return len(v.items) }, func() fyne.CanvasObject {
		t := widget.NewLabel("")
		t.Truncation = fyne.TextTruncateEllipsis
		m := widget.NewLabel("")
		m.Truncation = fyne.TextTruncateEllipsis
		m.SizeName = theme.SizeNameCaptionText
		return container.NewVBox(t, m)
	}, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id >= len(v.items) {
			return
		}
		i := v.items[id]
		box := o.(*fyne.Container)
		state := enum("status", i.Status)
		if i.SupportOnly {
			state = T("incident.support_only")
		}
		box.Objects[0].(*widget.Label).SetText("[" + state + "] " + i.Title)
		box.Objects[1].(*widget.Label).SetText(enum("category", i.Category) + " · " + i.OrgName + " · " + Tf("incident.updated", when(i.Updated)))
	})
	v.list.OnSelected = func(id widget.ListItemID) {
		if v.selecting || id >= len(v.items) {
			return
		}
		v.selectIncident(v.items[id].ID)
	}

	var catNames, affNames []string
	catNames, v.catOf = enumOptions("category", app.Categories)
	affNames, v.affectsOf = enumOptions("affects", []app.Affects{app.AffectsYes, app.AffectsNo, app.AffectsUnknown})
	v.category = newSelect(catNames, nil)
	v.affects = widget.NewRadioGroup(affNames, nil)
	v.affects.Horizontal = true
	v.affects.SetSelected(enum("affects", app.AffectsUnknown))
	v.support = widget.NewCheck(T("incident.support_requested"), nil)
	kindNames, _ := enumOptions("support", app.SupportKinds)
	v.kinds = newCheckGrid(kindNames, 2)
	v.desc.SetMinRowsVisible(6)
	v.desc.Wrapping = fyne.TextWrapWord
	v.report = widget.NewButtonWithIcon(T("incident.report_button"), theme.MailSendIcon(), func() { v.submitReport() })
	v.report.Importance = widget.HighImportance
	v.fileList = container.NewVBox()
	attach := widget.NewButtonWithIcon(T("compose.attach"), theme.FileIcon(), func() { v.pickFile() })
	reportForm := widget.NewForm(
		widget.NewFormItem(T("incident.category"), v.category),
		widget.NewFormItem(T("incident.title"), v.title),
		widget.NewFormItem(T("incident.affects"), v.affects),
		widget.NewFormItem("", v.support),
		widget.NewFormItem(T("incident.kinds"), v.kinds.obj),
		widget.NewFormItem(T("incident.description"), v.desc),
		widget.NewFormItem(T("compose.attachments"), container.NewVBox(v.fileList, container.NewHBox(attach))),
	)
	reportTab := container.NewVScroll(container.NewPadded(container.NewVBox(wrapLabel(T("incident.report_intro")), reportForm, container.NewHBox(v.report))))

	var statusNames []string
	statusNames, v.statusOf = enumOptions("status", app.Statuses)
	v.status = newSelect(statusNames, nil)
	v.status.PlaceHolder = T("incident.status_unchanged")
	v.assign = newSelect(nil, nil)
	v.assign.PlaceHolder = T("incident.assign_nobody")
	v.note.SetPlaceHolder(T("incident.note_placeholder"))
	v.note.SetMinRowsVisible(2)
	v.note.Wrapping = fyne.TextWrapWord
	v.update = widget.NewButtonWithIcon(T("incident.update_button"), theme.ConfirmIcon(), func() { v.submitUpdate() })
	v.update.Importance = widget.HighImportance
	affNames2, _ := enumOptions("affects", []app.Affects{app.AffectsYes, app.AffectsNo, app.AffectsUnknown})
	v.setAffects = newSelect(affNames2, nil)
	v.setAffects.PlaceHolder = T("incident.status_unchanged")
	v.public = widget.NewCheck(T("incident.flag_public"), nil)
	v.passedOn = widget.NewCheck(T("incident.flag_passed_on"), nil)
	v.route = widget.NewButtonWithIcon(T("incident.route_button"), theme.MailForwardIcon(), func() { v.openRoute() })
	v.republish = widget.NewButtonWithIcon(T("incident.republish_button"), theme.DocumentCreateIcon(), func() { v.openRepublish() })

	v.boardTab = container.NewTabItem(T("incident.board"), container.NewVScroll(v.board))
	v.tabs = container.NewAppTabs(
		v.boardTab,
		container.NewTabItem(T("incident.list"), v.list),
		container.NewTabItem(T("incident.report"), reportTab),
	)
	v.scroll = container.NewVScroll(container.NewPadded(v.detail))
	split := container.NewHSplit(v.tabs, v.scroll)
	split.Offset = 0.64
	v.obj = split
	return v
}

func (v *incidentView) selectIncident(id string) {
	v.u.setQuery(func(q *query) { q.incident = id })
}

func (v *incidentView) apply(ev event) {
	v.items = ev.incidents
	v.list.Refresh()
	sel := v.u.query().incident
	v.selecting = true
	v.list.UnselectAll()
	for i, it := range v.items {
		if it.ID == sel {
			v.list.Select(i)
		}
	}
	v.selecting = false
	v.applyBoard(ev)
	var people []app.Member
	for _, m := range ev.members {
		if m.Addressable {
			people = append(people, m)
		}
	}
	names, ids := peopleOptions(people)
	v.assignIDs = ids
	v.assign.SetOptions(names)
	v.orgs = ev.orgs
	v.applyDetail(ev)
}

// applyBoard lays out one column per status, each incident a card with its
// organisation and age. Coordinators see every incident; others see their
// organisation's.
func (v *incidentView) applyBoard(ev event) {
	now := v.u.now()
	key := fmt.Sprint(ev.incidents, ev.who.SeesAllIncidents, now.Truncate(time.Minute))
	if key == v.boardKey {
		return
	}
	v.boardKey = key
	v.boardTab.Text = T("incident.board")
	if !ev.who.SeesAllIncidents {
		v.boardTab.Text = T("incident.board_org")
	}
	v.board.Objects = nil
	for _, s := range app.Statuses {
		col := container.NewVBox()
		n := 0
		for _, i := range ev.incidents {
			if i.Status != s {
				continue
			}
			n++
			i := i
			tap := widget.NewButton("", func() { v.selectIncident(i.ID) })
			tap.Importance = widget.LowImportance
			label := wrapLabel(textLine(i.Title))
			label.TextStyle.Bold = i.Affects == app.AffectsYes
			meta := wrapLabel(i.OrgName + "\n" + Tf("incident.age", age(now.Sub(i.Opened))))
			meta.SizeName = theme.SizeNameCaptionText
			info := container.NewVBox(label, meta)
			if i.SupportRequested {
				sup := wrapLabel(T("incident.support_yes"))
				sup.SizeName = theme.SizeNameCaptionText
				sup.Importance = widget.WarningImportance
				info.Add(sup)
			}
			col.Add(container.NewStack(tap, info))
			col.Add(widget.NewSeparator())
		}
		head := boldLabel(enum("status", s) + " (" + strconv.Itoa(n) + ")")
		v.board.Add(container.NewBorder(head, nil, nil, nil, col))
	}
	v.board.Refresh()
}

func (v *incidentView) applyDetail(ev event) {
	i := ev.incident
	v.shown = i
	key := fmt.Sprint(i)
	if key == v.detailKey {
		return
	}
	v.detailKey = key
	if i == nil {
		v.detail.Objects = []fyne.CanvasObject{container.NewCenter(widget.NewLabel(T("incident.none_selected")))}
		v.detail.Refresh()
		return
	}
	support := T("incident.support_no")
	if i.SupportRequested {
		support = T("incident.support_yes")
	}
	if len(i.Support) > 0 {
		support = Tf("incident.support_kinds", kindsText(i.Support))
	}
	state := enum("status", i.Status)
	reported := Tf("incident.reported_by", i.ReporterName, i.OrgName, when(i.Opened))
	if i.SupportOnly {
		state = T("incident.support_only")
		reported = Tf("incident.reported_by_org", i.OrgName, when(i.Opened))
	}
	objs := []fyne.CanvasObject{
		heading(textLine(i.Title)),
		boldLabel(state + " · " + enum("category", i.Category)),
		wrapLabel(reported),
		wrapLabel(Tf("incident.affects_line", enum("affects", i.Affects), support)),
		wrapLabel(Tf("incident.flags_line", yesNo(i.Public), yesNo(i.PassedOn))),
	}
	if i.AssigneeName != "" {
		objs = append(objs, wrapLabel(Tf("incident.assigned_to", i.AssigneeName+" ("+i.AssigneeOrg+")")))
	}
	if i.Exercise != "" {
		objs = append([]fyne.CanvasObject{banner(Tf("exercise.banner", i.Exercise), exerciseColour)}, objs...)
	}
	if i.Body != "" {
		objs = append(objs, widget.NewSeparator(), safeMarkdown(i.Body, v.u.post.confirmLink))
	}
	if len(i.Files) > 0 {
		objs = append(objs, widget.NewSeparator(), section(T("post.attachments")))
		for _, f := range i.Files {
			id, name := i.ID, f.Name
			l := widget.NewLabel(f.Name + " (" + sizeText(f.Size) + ")")
			l.Truncation = fyne.TextTruncateEllipsis
			save := widget.NewButtonWithIcon(T("post.save"), theme.DocumentSaveIcon(), func() { v.saveAttachment(id, name) })
			objs = append(objs, container.NewBorder(nil, nil, nil, save, l))
		}
	}
	objs = append(objs, v.requestObjects(i)...)
	objs = append(objs, widget.NewSeparator(), section(T("incident.timeline")))
	if !i.SupportOnly {
		objs = append(objs, wrapLabel(when(i.Opened)+"  "+enum("status", app.StatusReported)+" · "+i.ReporterName+" ("+i.OrgName+")"))
	}
	for _, e := range i.Timeline {
		line := when(e.Time) + "  "
		if e.Status != "" {
			line += enum("status", e.Status) + " · "
		}
		switch {
		case e.Answer != "":
			line += Tf("incident.answer_line", enum("answer", e.Answer), e.RequestOrg) + " · "
		case e.Request != "":
			line += Tf("incident.request_line", e.RequestOrg) + " · "
		}
		line += e.AuthorName + " (" + e.AuthorOrg + ")"
		if e.Assign != "" {
			line += " · " + Tf("incident.assigned_to", e.Assign+" ("+e.AssignOrg+")")
		}
		if e.SupportSet && e.Request == "" {
			line += " · " + Tf("incident.support_kinds", kindsText(e.Support))
		}
		if e.Affects != "" {
			line += " · " + T("incident.affects") + " " + enum("affects", e.Affects)
		}
		if e.Public != nil {
			line += " · " + T("incident.flag_public") + ": " + yesNo(*e.Public)
		}
		if e.PassedOn != nil {
			line += " · " + T("incident.flag_passed_on") + ": " + yesNo(*e.PassedOn)
		}
		l := wrapLabel(line)
		if e.Refused != "" {
			l = wrapLabel(line + " · " + Tf("incident.refused", T("refusal."+string(e.Refused))))
			l.Importance = widget.DangerImportance
		}
		objs = append(objs, l)
		if e.Note != "" {
			n := wrapLabel(e.Note)
			n.Importance = widget.MediumImportance
			objs = append(objs, container.NewPadded(n))
		}
	}
	if i.CanUpdate {
		// Only the moves this device may make are offered (app's rules).
		moves := make([]string, len(i.Moves))
		for k, m := range i.Moves {
			moves[k] = enum("status", m)
		}
		v.status.SetOptions(moves)
		v.status.ClearSelected()
		items := []*widget.FormItem{}
		if len(i.Moves) > 0 {
			items = append(items, widget.NewFormItem(T("incident.status"), v.status))
		}
		items = append(items, widget.NewFormItem(T("incident.assign"), v.assign))
		v.setAffects.ClearSelected()
		items = append(items, widget.NewFormItem(T("incident.affects"), v.setAffects))
		if i.CanFlag {
			v.public.SetChecked(i.Public)
			v.passedOn.SetChecked(i.PassedOn)
			items = append(items, widget.NewFormItem("", container.NewHBox(v.public, v.passedOn)))
		}
		items = append(items, widget.NewFormItem(T("incident.note"), v.note))
		buttons := container.NewHBox(v.update)
		if i.CanRoute {
			buttons.Add(v.route)
		}
		if i.CanRepublish {
			buttons.Add(v.republish)
		}
		objs = append(objs, widget.NewSeparator(), section(T("incident.update")), widget.NewForm(items...), buttons)
	}
	v.detail.Objects = objs
	v.detail.Refresh()
}

// requestObjects shows the support requests this device may see, their
// answers, and the answer buttons where this device may answer.
func (v *incidentView) requestObjects(i *app.Incident) []fyne.CanvasObject {
	v.answers = map[string][3]*widget.Button{}
	if len(i.Requests) == 0 {
		return nil
	}
	now := v.u.now()
	objs := []fyne.CanvasObject{widget.NewSeparator(), section(T("incident.requests"))}
	for _, r := range i.Requests {
		line := Tf("incident.request_state", r.OrgName, enum("support_state", r.State), age(now.Sub(r.Opened)))
		if len(r.Kinds) > 0 {
			line += " · " + kindsText(r.Kinds)
		}
		l := boldLabel(line)
		l.Wrapping = fyne.TextWrapWord
		objs = append(objs, l)
		for _, a := range r.Answers {
			l := when(a.Time) + "  " + enum("answer", a.Answer) + " · " + a.AuthorName + " (" + a.AuthorOrg + ")"
			if a.Note != "" {
				l += ": " + a.Note
			}
			objs = append(objs, container.NewPadded(wrapLabel(l)))
		}
		if r.CanAnswer {
			id, inc := r.ID, i.ID
			acc := widget.NewButton(T("incident.answer_accept"), func() { v.answer(inc, id, app.AnswerAccept) })
			dec := widget.NewButton(T("incident.answer_decline"), func() { v.answer(inc, id, app.AnswerDecline) })
			rep := widget.NewButton(T("incident.answer_report"), func() { v.answer(inc, id, app.AnswerReport) })
			v.answers[r.ID] = [3]*widget.Button{acc, dec, rep}
			objs = append(objs, container.NewHBox(acc, dec, rep))
		}
	}
	return objs
}

// answer asks for the note (the reason of a decline, the report) and
// answers a support request.
func (v *incidentView) answer(inc, req string, a app.SupportAnswer) {
	note := widget.NewMultiLineEntry()
	note.SetMinRowsVisible(3)
	note.SetPlaceHolder(T("incident.answer_note." + string(a)))
	v.answerNote = note
	d := newConfirmDialog(v.u, enum("answer", a), container.NewPadded(note), func() { v.sendAnswer(inc, req, a, note.Text) })
	d.Resize(fyne.NewSize(520, 240))
	d.Show()
}

func (v *incidentView) sendAnswer(inc, req string, a app.SupportAnswer, note string) {
	if _, err := v.u.a.AnswerSupport(inc, app.SupportReplyDraft{Request: req, Answer: a, Note: note}); err != nil {
		v.u.showErr(ruleErr(err))
		return
	}
	v.u.refresh()
}

// openRoute shows the routing dialog: the support organisations, the kinds
// of help asked, a note.
func (v *incidentView) openRoute() {
	if v.shown == nil {
		return
	}
	var names []string
	for _, o := range v.orgs {
		if slices.Contains(app.SupportOrgKinds, o.Kind) {
			names = append(names, o.Name)
		}
	}
	orgs := newCheckGrid(names, 2)
	kindNames, kindOf := enumOptions("support", app.SupportKinds)
	kinds := newCheckGrid(kindNames, 2)
	var sel []string
	for _, k := range v.shown.Support {
		sel = append(sel, enum("support", k))
	}
	kinds.SetSelected(sel)
	note := widget.NewMultiLineEntry()
	note.SetMinRowsVisible(3)
	v.routeForm = &routeForm{orgs: orgs, kinds: kinds, note: note}
	id := v.shown.ID
	form := widget.NewForm(widget.NewFormItem(T("incident.route_orgs"), orgs.obj), widget.NewFormItem(T("incident.kinds"), kinds.obj),
		widget.NewFormItem(T("incident.note"), note))
	v.routeForm.send = func() {
		r := app.SupportRouting{To: orgs.Selected(), Note: note.Text}
		for _, k := range kinds.Selected() {
			r.Kinds = append(r.Kinds, kindOf(k))
		}
		if _, err := v.u.a.RouteIncident(id, r); err != nil {
			v.u.showErr(ruleErr(err))
			return
		}
		v.u.refresh()
	}
	d := newConfirmDialog(v.u, T("incident.route_button"), container.NewPadded(form), v.routeForm.send)
	d.Resize(fyne.NewSize(620, 420))
	d.Show()
}

// routeForm is the routing dialog's state, for tests.
type routeForm struct {
	orgs, kinds *checkGrid
	note        *widget.Entry
	send        func()
}

// openRepublish opens the compose dialog filled with the incident, its
// names removed (app.RepublishDraft).
func (v *incidentView) openRepublish() {
	if v.shown == nil {
		return
	}
	d, err := v.u.a.RepublishDraft(v.shown.ID)
	if err != nil {
		v.u.showErr(err)
		return
	}
	c := v.u.openCompose()
	c.typ.SetSelected(enum("type", d.Type))
	c.tag.SetSelected(enum("tag", d.Tag))
	c.channel.SetSelected(enum("channel", d.Channel))
	c.tlp.SetSelected(d.TLP.Label())
	c.title.SetText(d.Title)
	c.body.SetText(d.Body)
	c.incident = d.Incident
}

// kindsText lists kinds of help in the UI's language.
func kindsText(ks []app.SupportKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = enum("support", k)
	}
	return strings.Join(s, T("fielderror.list_sep"))
}

func yesNo(b bool) string {
	if b {
		return T("affects.yes")
	}
	return T("affects.no")
}

// ruleErr phrases app's refusal of an incident step in the UI's language:
// the move, the reason and the moves allowed instead.
func ruleErr(err error) error {
	var re *app.RuleError
	if !errors.As(err, &re) {
		return err
	}
	msg := T("refusal." + string(re.Why))
	if re.Value != "" {
		msg = re.Value + ": " + msg
	}
	if re.From != "" || re.To != "" {
		allowed := T("incident.moves_none")
		if len(re.Allowed) > 0 {
			names := make([]string, len(re.Allowed))
			for i, s := range re.Allowed {
				names[i] = enum("status", s)
			}
			allowed = strings.Join(names, T("fielderror.list_sep"))
		}
		msg = Tf("incident.move_refused", enum("status", re.From), enum("status", re.To), msg, allowed)
	}
	return errors.New(msg)
}

func (v *incidentView) submitReport() {
	_, kindOf := enumOptions("support", app.SupportKinds)
	var kinds []app.SupportKind
	for _, k := range v.kinds.Selected() {
		kinds = append(kinds, kindOf(k))
	}
	inc, err := v.u.a.ReportIncident(app.IncidentDraft{Category: v.catOf(v.category.Selected), Title: v.title.Text, Body: v.desc.Text,
		Affects: v.affectsOf(v.affects.Selected), Support: kinds, SupportRequested: v.support.Checked, Files: v.files})
	if err != nil {
		v.u.showErr(err)
		return
	}
	v.title.SetText("")
	v.desc.SetText("")
	v.support.SetChecked(false)
	v.kinds.SetSelected(nil)
	v.files = nil
	v.showFiles()
	v.tabs.SelectIndex(1)
	v.selectIncident(inc.ID)
}

func (v *incidentView) submitUpdate() {
	if v.shown == nil {
		return
	}
	ch := app.IncidentChange{Note: v.note.Text, Assign: v.assignIDs[v.assign.Selected]}
	if v.status.Selected != "" {
		ch.Status = v.statusOf(v.status.Selected)
	}
	if v.setAffects.Selected != "" {
		ch.Affects = v.affectsOf(v.setAffects.Selected)
	}
	if v.shown.CanFlag && v.public.Checked != v.shown.Public {
		p := v.public.Checked
		ch.Public = &p
	}
	if v.shown.CanFlag && v.passedOn.Checked != v.shown.PassedOn {
		p := v.passedOn.Checked
		ch.PassedOn = &p
	}
	v.move(ch)
}

// move sends an update; a refusal is shown with its reason and the moves
// allowed instead.
func (v *incidentView) move(ch app.IncidentChange) {
	if v.shown == nil {
		return
	}
	if _, err := v.u.a.UpdateIncident(v.shown.ID, ch); err != nil {
		err = ruleErr(err)
		v.refusal = err.Error()
		v.u.showErr(err)
		return
	}
	v.note.SetText("")
	v.status.ClearSelected()
	v.assign.ClearSelected()
	v.setAffects.ClearSelected()
	v.u.refresh()
}

// pickFile attaches a file (a log, a screenshot) to the report.
func (v *incidentView) pickFile() {
	v.u.pickOpen(func(r fyne.URIReadCloser) {
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, v.u.a.MaxAttachment()+1))
		if err != nil {
			v.u.showErr(err)
			return
		}
		v.addFile(r.URI().Name(), data)
	})
}

// addFile attaches a file to the report being written.
func (v *incidentView) addFile(name string, data []byte) {
	v.files = append(v.files, app.File{Name: name, Data: data})
	v.showFiles()
}

func (v *incidentView) showFiles() {
	v.fileList.Objects = nil
	for i, f := range v.files {
		rm := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
			v.files = append(v.files[:i:i], v.files[i+1:]...)
			v.showFiles()
		})
		v.fileList.Add(container.NewBorder(nil, nil, nil, rm, widget.NewLabel(f.Name+" ("+sizeText(int64(len(f.Data)))+")")))
	}
	v.fileList.Refresh()
}

// saveAttachment saves a file of an incident report; it is never opened.
func (v *incidentView) saveAttachment(id, name string) {
	v.u.saveFile(name, func() ([]byte, error) { return v.u.a.IncidentAttachment(id, name) })
}

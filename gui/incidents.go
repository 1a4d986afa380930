package gui

import (
	"fmt"
	"io"
	"strconv"
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
	shown     *app.Incident
	selecting bool
	boardKey  string
	detailKey string
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
		box.Objects[0].(*widget.Label).SetText("[" + enum("status", i.Status) + "] " + i.Title)
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
	objs := []fyne.CanvasObject{
		heading(textLine(i.Title)),
		boldLabel(enum("status", i.Status) + " · " + enum("category", i.Category)),
		wrapLabel(Tf("incident.reported_by", i.ReporterName, i.OrgName, when(i.Opened))),
		wrapLabel(Tf("incident.affects_line", enum("affects", i.Affects), support)),
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
	objs = append(objs, widget.NewSeparator(), section(T("incident.timeline")))
	objs = append(objs, wrapLabel(when(i.Opened)+"  "+enum("status", app.StatusReported)+" · "+i.ReporterName+" ("+i.OrgName+")"))
	for _, e := range i.Timeline {
		line := when(e.Time) + "  "
		if e.Status != "" {
			line += enum("status", e.Status) + " · "
		}
		line += e.AuthorName + " (" + e.AuthorOrg + ")"
		if e.Assign != "" {
			line += " · " + Tf("incident.assigned_to", e.Assign+" ("+e.AssignOrg+")")
		}
		objs = append(objs, wrapLabel(line))
		if e.Note != "" {
			n := wrapLabel(e.Note)
			n.Importance = widget.MediumImportance
			objs = append(objs, container.NewPadded(n))
		}
	}
	objs = append(objs, widget.NewSeparator(), section(T("incident.update")),
		widget.NewForm(
			widget.NewFormItem(T("incident.status"), v.status),
			widget.NewFormItem(T("incident.assign"), v.assign),
			widget.NewFormItem(T("incident.note"), v.note),
		), container.NewHBox(v.update))
	v.detail.Objects = objs
	v.detail.Refresh()
}

func (v *incidentView) submitReport() {
	inc, err := v.u.a.ReportIncident(app.IncidentDraft{Category: v.catOf(v.category.Selected), Title: v.title.Text, Body: v.desc.Text,
		Affects: v.affectsOf(v.affects.Selected), SupportRequested: v.support.Checked, Files: v.files})
	if err != nil {
		v.u.showErr(err)
		return
	}
	v.title.SetText("")
	v.desc.SetText("")
	v.support.SetChecked(false)
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
	if _, err := v.u.a.UpdateIncident(v.shown.ID, ch); err != nil {
		v.u.showErr(err)
		return
	}
	v.note.SetText("")
	v.status.ClearSelected()
	v.assign.ClearSelected()
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

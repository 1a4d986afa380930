package gui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// exercisesView is the Exercises screen: the exercises coordinators
// started, and for the one chosen, with an EXERCISE banner across the
// screen, its own feed and incidents (never in the real Feed and
// Incidents screens) and its report. Each new exercise post by someone
// else raises a notification marked EXERCISE.
type exercisesView struct {
	u      *UI
	obj    fyne.CanvasObject
	pick   *widget.Select
	banner *fyne.Container
	info   *widget.Label
	feed   *fyne.Container
	incs   *fyne.Container
	report *fyne.Container
	tabs   *container.AppTabs

	current string
	key     string          // what is shown, to rebuild only on change
	seen    map[string]bool // exercise posts already seen (notifications)
	loaded  bool
}

func newExercisesView(u *UI) *exercisesView {
	v := &exercisesView{u: u, banner: container.NewVBox(), info: widget.NewLabel(""), feed: container.NewVBox(),
		incs: container.NewVBox(), report: container.NewVBox(), seen: map[string]bool{}}
	v.info.Wrapping = fyne.TextWrapWord
	v.pick = newSelect(nil, func(s string) {
		name, _, _ := strings.Cut(s, " ")
		if name != v.current {
			v.current = name
			v.key = ""
			v.refresh()
		}
	})
	v.pick.PlaceHolder = T("exercises.choose")
	v.tabs = container.NewAppTabs(
		container.NewTabItem(T("exercises.feed"), container.NewVScroll(v.feed)),
		container.NewTabItem(T("exercises.incidents"), container.NewVScroll(v.incs)),
		container.NewTabItem(T("exercises.report"), container.NewVScroll(v.report)),
	)
	top := container.NewVBox(v.banner, container.NewBorder(nil, nil, widget.NewLabel(T("nav.exercises")), nil, v.pick), v.info)
	v.obj = container.NewBorder(top, nil, nil, nil, v.tabs)
	return v
}

// apply follows a new snapshot of the views: notifications always; the
// list and the chosen exercise when the screen is shown.
func (v *exercisesView) apply(event) { v.refresh() }

// shown builds the screen as it is now (UI.show calls it).
func (v *exercisesView) shown() {
	v.key = ""
	v.refresh()
}

func (v *exercisesView) refresh() {
	a := v.u.a
	list := a.Exercises()
	var opts []string
	for _, e := range list {
		opts = append(opts, e.Name+" · "+e.Title.For(CurrentLanguage()))
	}
	v.pick.Options = opts
	if v.current == "" && len(list) > 0 {
		v.current = list[0].Name
	}
	v.notify(list)
	if v.u.current != screenExercises {
		v.key = "" // built when shown
		return
	}
	var info *app.ExerciseInfo
	for i := range list {
		if list[i].Name == v.current {
			info = &list[i]
			v.pick.Selected = opts[i]
		}
	}
	v.pick.Refresh()
	if info == nil {
		v.banner.Objects = nil
		v.banner.Refresh()
		v.info.SetText(T("exercises.none"))
		return
	}
	feed, _ := a.ExerciseFeed(info.Name)
	incs, _ := a.ExerciseIncidents(info.Name)
	rep, err := a.ExerciseReport(info.Name)
	key := fmt.Sprintf("%s|%v|%d|%d|%d|%d|%d", info.Name, info.Running, info.Played, len(feed), len(incs), info.Participants, len(rep.Missed))
	for _, p := range feed {
		key += fmt.Sprintf("|%d%d%v", p.Reads, p.Comments, p.Unread)
	}
	for _, i := range incs {
		key += "|" + string(i.Status)
	}
	if key == v.key {
		return
	}
	v.key = key
	v.banner.Objects = []fyne.CanvasObject{banner(Tf("exercise.banner", info.Name), exerciseColour)}
	v.banner.Refresh()
	state := T("exercises.running")
	if !info.Running {
		state = Tf("exercises.stopped", when(info.Stopped))
	}
	v.info.SetText(Tf("exercises.info", info.Title.For(CurrentLanguage()), when(info.Started), info.Played, info.Scheduled, state, info.Participants))

	v.feed.Objects = nil
	if len(feed) == 0 {
		v.feed.Add(widget.NewLabel(T("exercises.no_posts")))
	}
	for _, p := range feed {
		id := p.ID
		b := widget.NewButton(textLine(T("exercise.mark")+" "+p.TagMark+p.Title+" · "+p.OrgName+" · "+when(p.Time)), func() {
			v.u.show(screenFeed)
			v.u.setQuery(func(q *query) { q.post = id })
		})
		b.Alignment = widget.ButtonAlignLeading
		b.Importance = widget.LowImportance
		v.feed.Add(b)
	}
	v.feed.Refresh()

	v.incs.Objects = nil
	if len(incs) == 0 {
		v.incs.Add(widget.NewLabel(T("exercises.no_incidents")))
	}
	for _, i := range incs {
		id := i.ID
		b := widget.NewButton(textLine(T("exercise.mark")+" "+enum("category", i.Category)+" · "+i.Title+" · "+i.OrgName+" · "+enum("status", i.Status)), func() {
			v.u.show(screenIncidents)
			v.u.setQuery(func(q *query) { q.incident = id })
		})
		b.Alignment = widget.ButtonAlignLeading
		b.Importance = widget.LowImportance
		v.incs.Add(b)
	}
	v.incs.Refresh()

	v.report.Objects = nil
	if err != nil {
		// Only coordinators see an exercise's report (app.ExerciseReport).
		v.report.Add(widget.NewLabel(T("exercises.report_coordinators")))
	} else {
		v.report.Add(reportTable(rep))
		v.report.Add(section(T("exercises.expected")))
		for _, x := range rep.Expected {
			got := T("exercises.unreported")
			switch {
			case x.NotPlayed:
				got = T("exercises.not_played")
			case x.Late:
				got = Tf("exercises.reported_late", minutes(x.Seconds))
			case x.Reported:
				got = Tf("exercises.reported_after", minutes(x.Seconds))
			}
			v.report.Add(widget.NewLabel(textLine(fmt.Sprintf("%s · %s · %s · %s", x.OrgName, enum("category", x.Category), x.After, got))))
		}
		v.report.Add(section(Tf("exercises.took_part", info.Participants, len(rep.People))))
		for _, p := range rep.People {
			v.report.Add(widget.NewLabel(textLine(p.Name + " (" + p.OrgName + ")")))
		}
		v.report.Add(section(Tf("exercises.missed", len(rep.Missed))))
		for _, m := range rep.Missed {
			v.report.Add(widget.NewLabel(textLine(Tf("exercises.miss_"+m.Kind, m.OrgName, m.Inject, enum("category", m.Category)))))
		}
	}
	v.report.Refresh()
}

// reportTable is the time each organisation took to read each inject.
func reportTable(rep app.ExerciseReport) fyne.CanvasObject {
	rows := len(rep.Orgs) + 1
	cols := len(rep.Injects) + 1
	cell := func(r, c int) string {
		switch {
		case r == 0 && c == 0:
			return T("exercises.org")
		case r == 0:
			return rep.Injects[c-1].ID
		case c == 0:
			return rep.Orgs[r-1].Name
		}
		rd := rep.Orgs[r-1].Reads[c-1]
		switch {
		case rd.Read:
			return minutes(rd.Seconds)
		case rd.Addressed:
			return T("exercises.unread")
		}
		return "-"
	}
	t := widget.NewTable(func() (int, int) { return rows, cols },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.TableCellID, o fyne.CanvasObject) { o.(*widget.Label).SetText(cell(id.Row, id.Col)) })
	t.SetColumnWidth(0, 220)
	for c := 1; c < cols; c++ {
		t.SetColumnWidth(c, 80)
	}
	h := float32(rows)*40 + 10
	box := container.NewGridWrap(fyne.NewSize(float32(220+cols*80), h), t)
	return container.NewVBox(section(T("exercises.time_to_read")), box)
}

// minutes says seconds as minutes ("4m", "1h05m").
func minutes(s float64) string {
	m := int(s/60 + 0.5)
	if m < 60 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}

// notify raises a notification, marked EXERCISE, for each new post of a
// running exercise written by someone else; what is there at start-up is
// not new.
func (v *exercisesView) notify(list []app.ExerciseInfo) {
	me := v.u.a.WhoAmI().Device
	for _, e := range list {
		if !e.Running {
			continue
		}
		feed, _ := v.u.a.ExerciseFeed(e.Name)
		for _, p := range feed {
			if v.seen[p.ID] {
				continue
			}
			v.seen[p.ID] = true
			if v.loaded && p.Author != me && notificationsOn(v.u.fa) {
				v.u.fa.SendNotification(exerciseNotification(p))
			}
		}
	}
	v.loaded = true
}

// exerciseNotification is the notification of an exercise post: its
// title and text both say EXERCISE.
func exerciseNotification(p app.PostSummary) *fyne.Notification {
	return fyne.NewNotification(Tf("notify.exercise", p.Exercise), T("exercise.mark")+" "+p.TagMark+p.Title+" · "+p.OrgName)
}

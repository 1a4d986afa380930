package gui

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// metricsView is the Metrics screen: a period and a baseline period, the
// figures (app.Metrics) and the charts that app draws with gonum/plot
// (app.ChartRenderer), shown as images. Charts carry Japanese labels when
// the Japanese font is installed; otherwise English labels, and the
// Japanese titles are shown above each chart (chartCaption).
type metricsView struct {
	u   *UI
	obj fyne.CanvasObject

	since, until, bsince, buntil *widget.DateEntry
	compute                      *widget.Button
	status                       *widget.Label
	summary, firstRead, rates    *widget.Label
	baseline                     *widget.Label
	body                         *fyne.Container
	viewed                       *widget.Label
	notices                      *widget.Label
	charts                       *fyne.Container

	renderer    *app.ChartRenderer
	rendererFor string
	// last holds the figures shown, images the charts drawn (tests read them).
	last   *app.Metrics
	images []*canvas.Image
}

func newMetricsView(u *UI) *metricsView {
	v := &metricsView{u: u, status: wrapLabel(T("metrics.hint")), summary: wrapLabel(""), firstRead: wrapLabel(""), rates: wrapLabel(""), baseline: wrapLabel(""),
		viewed: wrapLabel(""), notices: wrapLabel(""), charts: container.NewGridWrap(fyne.NewSize(560, 330))}
	v.since, v.until, v.bsince, v.buntil = widget.NewDateEntry(), widget.NewDateEntry(), widget.NewDateEntry(), widget.NewDateEntry()
	v.compute = widget.NewButtonWithIcon(T("metrics.compute"), theme.ViewRefreshIcon(), func() { v.run() })
	v.compute.Importance = widget.HighImportance
	form := container.NewGridWithColumns(4,
		widget.NewLabel(T("metrics.since")), v.since, widget.NewLabel(T("metrics.until")), v.until,
		widget.NewLabel(T("metrics.baseline_since")), v.bsince, widget.NewLabel(T("metrics.baseline_until")), v.buntil,
	)
	top := container.NewVBox(section(T("nav.metrics")), wrapLabel(T("metrics.intro")), form,
		container.NewHBox(v.compute), v.status)
	body := container.NewVBox(v.summary, v.firstRead, v.rates, v.baseline,
		section(T("metrics.most_viewed")), v.viewed,
		section(T("metrics.notices")), v.notices,
		section(T("metrics.charts")), v.charts)
	v.body = body
	v.obj = container.NewBorder(container.NewPadded(top), nil, nil, nil, container.NewVScroll(container.NewPadded(body)))
	return v
}

// day returns the midnight of a picked date in the local zone; end moves
// it to the next day (the day counts whole).
func day(d *time.Time, end bool) time.Time {
	if d == nil {
		return time.Time{}
	}
	t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.Local)
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// run works the figures out and draws the charts (a second at most at the
// Games' scale: on the UI thread, with the button disabled meanwhile).
func (v *metricsView) run() {
	q := app.MetricsQuery{Since: day(v.since.Date, false), Until: day(v.until.Date, true),
		BaselineSince: day(v.bsince.Date, false), BaselineUntil: day(v.buntil.Date, true)}
	v.compute.Disable()
	defer v.compute.Enable()
	m, err := v.u.a.Metrics(q)
	if err != nil {
		v.status.SetText(phrase(err))
		return
	}
	if lang := CurrentLanguage(); v.renderer == nil || v.rendererFor != lang {
		v.renderer, v.rendererFor = app.NewChartRenderer(lang), lang
	}
	charts, err := v.renderer.Charts(m, "png")
	if err != nil {
		v.status.SetText(phrase(err))
		return
	}
	v.show(m, charts)
}

// show puts the figures and charts on the screen.
func (v *metricsView) show(m app.Metrics, charts []app.Chart) {
	v.last = &m
	t := m.Totals
	scope := T("metrics.coverage_readable")
	if m.Coverage == "all" {
		scope = T("metrics.coverage_all")
	}
	v.status.SetText(Tf("metrics.period", m.Since.Format("2006-01-02"), m.Until.Add(-time.Second).Format("2006-01-02"), scope))
	fr := m.FirstRead
	v.summary.SetText(Tf("metrics.totals", t.Posts, t.Comments, t.Incidents, t.Reads, t.Views, t.ActiveDevices, t.Notices))
	v.firstRead.SetText(Tf("metrics.first_read", fr.Count, fr.Unread, secondsText(fr.MedianS), secondsText(fr.P90S)))
	v.rates.SetText(rateLine(m.ReadRateByKind))
	if b := m.Baseline; b != nil {
		v.baseline.SetText(Tf("metrics.baseline", ratioText(b.ActivePerDay), ratioText(b.ViewsPerDay), ratioText(b.PostsPerDay)))
	} else {
		v.baseline.SetText(T("metrics.no_baseline"))
	}
	var lines []string
	for _, p := range m.MostViewed {
		lines = append(lines, fmt.Sprintf("%6d  %s", p.Views, p.Title))
	}
	v.viewed.SetText(orNone(lines))
	lines = nil
	for _, n := range m.Notices {
		read := T("metrics.unread")
		if n.FirstReadS != nil {
			read = secondsText(float64(*n.FirstReadS))
		}
		lines = append(lines, fmt.Sprintf("%s  %s  %s  %s", n.Time.Format("01-02 15:04"), n.OrgName, read, n.Title))
	}
	v.notices.SetText(orNone(lines))
	v.images = nil
	var objs []fyne.CanvasObject
	for _, c := range charts {
		img, err := png.Decode(bytes.NewReader(c.Data))
		if err != nil {
			continue
		}
		ci := canvas.NewImageFromImage(img)
		ci.FillMode = canvas.ImageFillContain
		ci.SetMinSize(fyne.NewSize(540, 300))
		v.images = append(v.images, ci)
		objs = append(objs, container.NewBorder(widget.NewLabel(chartCaption(c, v.renderer)), nil, nil, nil, ci))
	}
	v.charts.Objects = objs
	v.body.Refresh()
}

// chartCaption is the chart's title in the UI's language (the chart's own
// labels stay English where no Japanese font is installed).
func chartCaption(c app.Chart, r *app.ChartRenderer) string {
	t := T("metrics.chart." + c.Name)
	if r != nil && r.Lang() != CurrentLanguage() {
		return t + " (" + c.Title + ")"
	}
	return t
}

func orNone(lines []string) string {
	if len(lines) == 0 {
		return T("metrics.none")
	}
	return strings.Join(lines, "\n")
}

func rateLine(rs []app.ReadRate) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", enum("kind", r.Kind), 100*r.Rate))
	}
	sort.Strings(parts)
	return T("metrics.read_rate") + " " + strings.Join(parts, ", ")
}

func ratioText(r app.Ratio) string {
	if r.Ratio == nil {
		return fmt.Sprintf("%.1f / %.1f", r.Event, r.Baseline)
	}
	return fmt.Sprintf("%.2f× (%.1f / %.1f)", *r.Ratio, r.Event, r.Baseline)
}

func secondsText(s float64) string {
	return (time.Duration(s) * time.Second).Round(time.Second).String()
}

// Images returns the charts the Metrics screen shows (for a program
// driving the window, as a user would look at them).
func (v *metricsView) Images() []image.Image {
	var out []image.Image
	for _, ci := range v.images {
		out = append(out, ci.Image)
	}
	return out
}

// recordView counts a post the user opened as a topic view (app batches
// them; a failure is logged, never shown: the post opens all the same).
func (u *UI) recordView(id string) {
	if err := u.a.RecordView(id); err != nil && u.cfg.App.Logf != nil {
		u.cfg.App.Logf("topic view: %v", err)
	}
}

// orgSettingsBox is the Settings section where an organisation's admins
// (and coordinators, for their own organisation) say whether its members'
// views are counted and whether it may be named in the bulletin.
type orgSettingsBox struct {
	u          *UI
	obj        *fyne.Container
	countViews *widget.Check
	named      *widget.Check
	note       *widget.Label
	setting    bool // the checks are set from app, not by the user
}

func newOrgSettingsBox(u *UI) *orgSettingsBox {
	b := &orgSettingsBox{u: u, note: wrapLabel("")}
	b.countViews = widget.NewCheck(T("settings.org_count_views"), func(on bool) { b.set(app.OrgSettingsChange{CountViews: &on}) })
	b.named = widget.NewCheck(T("settings.org_named"), func(on bool) { b.set(app.OrgSettingsChange{Named: &on}) })
	b.obj = container.NewVBox(widget.NewSeparator(), section(T("settings.org_heading")), b.note, b.countViews, b.named)
	b.obj.Hide()
	return b
}

func (b *orgSettingsBox) set(c app.OrgSettingsChange) {
	if b.setting {
		return
	}
	if _, err := b.u.a.SetOrgSettings("", c); err != nil {
		b.u.showErr(err)
	}
	b.apply()
}

// apply shows the settings of this device's organisation, to those who
// may change them only.
func (b *orgSettingsBox) apply() {
	s, err := b.u.a.OrgSettingsOf("")
	if err != nil || !s.MayChange {
		b.obj.Hide()
		return
	}
	b.setting = true
	b.countViews.SetChecked(s.CountViews)
	b.named.SetChecked(s.Named)
	b.setting = false
	b.note.SetText(Tf("settings.org_note", s.OrgName))
	b.obj.Show()
}

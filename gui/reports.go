package gui

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// reportsView is the Reports screen: choose a report (the AM or PM
// situation report, the daily bulletin, the digest), its day and language,
// preview it, and save it as Markdown, HTML or PDF.
type reportsView struct {
	u   *UI
	obj fyne.CanvasObject

	kind     *widget.Select
	date     *widget.Entry
	lang     *widget.Select
	tlpMax   *widget.Select
	weeks    *widget.Select
	audience *widget.Select
	extra    *fyne.Container // the bulletin's and digest's options
	status   *widget.Label
	preview  *widget.RichText
	saveMD   *widget.Button
	saveHTML *widget.Button
	savePDF  *widget.Button
	post     *widget.Button // the bulletin only

	kinds     map[string]reportChoice
	langs     map[string]string
	audiences func(string) app.OrgKind
	// report is the report previewed last; nil before the first preview.
	report *app.Report
}

// reportChoice is one entry of the report menu.
type reportChoice struct {
	kind   app.ReportKind
	window app.ReportWindow
}

// reportKindKeys lists the report menu, in order.
var reportKindKeys = []struct {
	key    string
	choice reportChoice
}{
	{"reports.kind_sitrep_am", reportChoice{app.ReportSitrep, app.WindowAM}},
	{"reports.kind_sitrep_pm", reportChoice{app.ReportSitrep, app.WindowPM}},
	{"reports.kind_bulletin", reportChoice{kind: app.ReportBulletin}},
	{"reports.kind_digest", reportChoice{kind: app.ReportDigest}},
}

func newReportsView(u *UI) *reportsView {
	v := &reportsView{u: u, kinds: map[string]reportChoice{}, langs: map[string]string{}, status: wrapLabel(T("reports.hint"))}
	var kindNames []string
	for _, k := range reportKindKeys {
		kindNames = append(kindNames, T(k.key))
		v.kinds[T(k.key)] = k.choice
	}
	v.kind = newSelect(kindNames, func(string) { v.showOptions() })
	v.kind.SetSelectedIndex(0)
	v.date = widget.NewEntry()
	v.date.SetText(u.now().Format("2006-01-02"))
	v.date.SetPlaceHolder("2021-07-24")
	var langNames []string
	current := ""
	for _, l := range Languages {
		langNames = append(langNames, l.Name)
		v.langs[l.Name] = l.Code
		if l.Code == CurrentLanguage() {
			current = l.Name
		}
	}
	v.lang = newSelect(langNames, nil)
	v.lang.SetSelected(current)
	v.tlpMax = newSelect([]string{app.TLPClear.Label(), app.TLPGreen.Label(), app.TLPAmber.Label()}, nil)
	v.tlpMax.SetSelected(app.TLPGreen.Label())
	var weeks []string
	for i := 1; i <= app.MaxDigestWeeks; i++ {
		weeks = append(weeks, strconv.Itoa(i))
	}
	v.weeks = newSelect(weeks, nil)
	v.weeks.SetSelected("2")
	var kinds []string
	kinds, v.audiences = enumOptions("kind", app.OrgKinds)
	v.audience = newSelect(kinds, nil)
	v.audience.SetSelected(enum("kind", app.KindSportsBody))
	v.preview = widget.NewRichText()
	v.preview.Wrapping = fyne.TextWrapWord
	show := widget.NewButtonWithIcon(T("reports.preview"), theme.VisibilityIcon(), func() { v.makePreview() })
	show.Importance = widget.HighImportance
	v.saveMD = widget.NewButtonWithIcon(T("reports.save_md"), theme.DocumentSaveIcon(), func() { v.save(app.FormatMarkdown) })
	v.saveHTML = widget.NewButtonWithIcon(T("reports.save_html"), theme.DocumentSaveIcon(), func() { v.save(app.FormatHTML) })
	v.savePDF = widget.NewButtonWithIcon(T("reports.save_pdf"), theme.DocumentPrintIcon(), func() { v.save(app.FormatPDF) })
	v.post = widget.NewButtonWithIcon(T("reports.post"), theme.MailSendIcon(), func() { v.confirmPost() })
	v.setSaving(false)
	v.extra = container.NewHBox(
		widget.NewLabel(T("reports.tlp_max")), v.tlpMax,
		widget.NewLabel(T("reports.weeks")), v.weeks,
		widget.NewLabel(T("reports.audience")), v.audience)
	form := container.NewVBox(
		section(T("nav.reports")),
		wrapLabel(T("reports.note")),
		container.NewHBox(widget.NewLabel(T("reports.kind")), reportSized(v.kind, 280), widget.NewLabel(T("reports.date")), reportSized(v.date, 130),
			widget.NewLabel(T("reports.language")), reportSized(v.lang, 130)),
		v.extra,
		container.NewHBox(show, layout.NewSpacer(), v.post, v.saveMD, v.saveHTML, v.savePDF),
		v.status,
		widget.NewSeparator(),
	)
	v.obj = container.NewBorder(container.NewPadded(form), nil, nil, nil, container.NewVScroll(container.NewPadded(v.preview)))
	v.showOptions()
	return v
}

// reportSized gives a control a width of its own in a row.
func reportSized(o fyne.CanvasObject, width float32) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(width, o.MinSize().Height), o)
}

// showOptions shows the options of the chosen report only.
func (v *reportsView) showOptions() {
	if v.extra == nil {
		return
	}
	c := v.kinds[v.kind.Selected]
	if c.kind == app.ReportSitrep {
		v.extra.Hide()
	} else {
		v.extra.Show()
	}
	digest := c.kind == app.ReportDigest
	for _, o := range v.extra.Objects[2:] {
		if digest {
			o.Show()
		} else {
			o.Hide()
		}
	}
}

func (v *reportsView) setSaving(on bool) {
	if on && v.report != nil && v.report.Kind == app.ReportBulletin {
		v.post.Show()
	} else {
		v.post.Hide()
	}
	for _, b := range []*widget.Button{v.saveMD, v.saveHTML, v.savePDF} {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

// options reads the form.
func (v *reportsView) options() (app.ReportOptions, error) {
	c := v.kinds[v.kind.Selected]
	o := app.ReportOptions{Kind: c.kind, Window: c.window}
	if s := strings.TrimSpace(v.date.Text); s != "" {
		d, err := app.ParseReportDate(s, nil)
		if err != nil {
			return o, errors.New(T("reports.bad_date"))
		}
		o.Date = d
	}
	if c.kind != app.ReportSitrep {
		t, err := app.ParseTLP(v.tlpMax.Selected)
		if err == nil {
			o.TLPMax = t
		}
	}
	if c.kind == app.ReportDigest {
		o.Weeks, _ = strconv.Atoi(v.weeks.Selected)
		o.Audience = v.audiences(v.audience.Selected)
	}
	return o, nil
}

func (v *reportsView) language() string {
	if l := v.langs[v.lang.Selected]; l != "" {
		return l
	}
	return CurrentLanguage()
}

// makePreview makes the report and shows it.
func (v *reportsView) makePreview() {
	o, err := v.options()
	if err == nil {
		var r app.Report
		r, err = v.u.a.MakeReport(o)
		if err == nil {
			v.report = &r
		}
	}
	if err != nil {
		v.report = nil
		v.setSaving(false)
		v.status.SetText(phrase(err))
		return
	}
	md := v.report.Preview(v.language())
	// Defanged addresses are escaped in the Markdown; the preview shows
	// them as the post view does.
	md = strings.NewReplacer(`\[.\]`, "[.]", `\[:\]`, "[:]").Replace(md)
	rt := safeMarkdown(md, func(*url.URL) {})
	v.preview.Segments = rt.Segments
	v.preview.Refresh()
	v.status.SetText(Tf("reports.made", v.report.TLP.Label(), when(v.report.Made)))
	v.setSaving(true)
}

// confirmPost asks, then posts the previewed bulletin to the community.
func (v *reportsView) confirmPost() {
	if v.report == nil || v.report.Kind != app.ReportBulletin {
		return
	}
	r, lang := *v.report, v.language()
	v.u.confirm(T("reports.post"), Tf("reports.post_confirm", r.TLP.Label()), func() {
		p, err := v.u.a.PostBulletin(r, lang)
		if err != nil {
			v.status.SetText(phrase(err))
			v.u.showErr(err)
			return
		}
		v.post.Hide() // once
		v.status.SetText(Tf("reports.posted", p.TagMark+p.Title, p.TLP))
		v.u.refresh()
	})
}

// fileName is the name the save dialog offers.
func (v *reportsView) fileName(f app.ReportFormat) string {
	r := v.report
	name := string(r.Kind)
	if r.Window != "" {
		name += "-" + string(r.Window)
	}
	return fmt.Sprintf("%s-%s.%s", name, r.Date, f)
}

// save writes the previewed report to a file the user picks.
func (v *reportsView) save(f app.ReportFormat) {
	if v.report == nil {
		return
	}
	r, lang := *v.report, v.language()
	v.u.pickSave(v.fileName(f), func(w fyne.URIWriteCloser) {
		v.status.SetText(T("reports.saving"))
		work := func() (int, error) {
			defer w.Close()
			b, err := r.Render(app.ReportRender{Format: f, Lang: lang})
			if err != nil {
				return 0, err
			}
			_, err = w.Write(b)
			return len(b), err
		}
		done := func(n int, err error) {
			switch {
			case errors.Is(err, app.ErrNoReportFont):
				v.status.SetText(T("reports.no_font"))
				v.u.showErr(errors.New(T("reports.no_font")))
			case err != nil:
				v.status.SetText(phrase(err))
				v.u.showErr(err)
			default:
				v.status.SetText(Tf("reports.saved", w.URI().Path(), sizeText(int64(n))))
			}
		}
		if v.u.cfg.Live {
			go func() { n, err := work(); v.u.do(func() { done(n, err) }) }()
			return
		}
		n, err := work()
		done(n, err)
	})
}

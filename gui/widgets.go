package gui

import (
	"fmt"
	"image/color"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// FIRST TLP 2.0 colours: the label is coloured text on black.
var tlpColours = map[string]color.NRGBA{
	app.TLPRed.Label():         {R: 0xFF, G: 0x2B, B: 0x2B, A: 0xFF},
	app.TLPAmber.Label():       {R: 0xFF, G: 0xC0, B: 0x00, A: 0xFF},
	app.TLPAmberStrict.Label(): {R: 0xFF, G: 0xC0, B: 0x00, A: 0xFF},
	app.TLPGreen.Label():       {R: 0x33, G: 0xFF, B: 0x00, A: 0xFF},
	app.TLPClear.Label():       {R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF},
}

// TLPColour returns the FIRST colour of a TLP label ("TLP:RED").
func TLPColour(label string) color.NRGBA {
	if c, ok := tlpColours[label]; ok {
		return c
	}
	return color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF}
}

// tlpBadge shows a TLP label as FIRST draws it: coloured, bold, on black.
type tlpBadge struct {
	widget.BaseWidget
	text *canvas.Text
	bg   *canvas.Rectangle
}

func newTLPBadge(label string) *tlpBadge {
	b := &tlpBadge{text: canvas.NewText(label, TLPColour(label)), bg: canvas.NewRectangle(color.Black)}
	b.text.TextStyle = fyne.TextStyle{Bold: true}
	b.text.TextSize = theme.CaptionTextSize() + 1
	b.bg.CornerRadius = 3
	b.ExtendBaseWidget(b)
	return b
}

// SetLabel changes the label and its colour.
func (b *tlpBadge) SetLabel(label string) {
	b.text.Text = label
	b.text.Color = TLPColour(label)
	b.Refresh()
}

func (b *tlpBadge) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(b.bg, container.New(layout.NewCustomPaddedLayout(1, 1, 5, 5), b.text)))
}

// banner is a full-width coloured strip with one line of text.
func banner(text string, bg color.Color) fyne.CanvasObject {
	t := canvas.NewText(text, color.White)
	t.TextStyle = fyne.TextStyle{Bold: true}
	t.Alignment = fyne.TextAlignCenter
	return container.NewStack(canvas.NewRectangle(bg), container.NewPadded(t))
}

// bannerLines is a banner of several centred lines.
func bannerLines(lines []string, bg color.Color) fyne.CanvasObject {
	box := container.NewVBox()
	for _, l := range lines {
		t := canvas.NewText(l, color.White)
		t.TextStyle = fyne.TextStyle{Bold: true}
		t.Alignment = fyne.TextAlignCenter
		box.Add(t)
	}
	return container.NewStack(canvas.NewRectangle(bg), container.NewPadded(box))
}

var (
	revokedColour  = color.NRGBA{R: 0xC6, G: 0x28, B: 0x28, A: 0xFF}
	demoColour     = color.NRGBA{R: 0xB0, G: 0x3A, B: 0x00, A: 0xFF}
	exerciseColour = color.NRGBA{R: 0x6A, G: 0x1B, B: 0x9A, A: 0xFF}
	unreadColour   = color.NRGBA{R: 0x1E, G: 0x88, B: 0xE5, A: 0xFF}
	starColour     = color.NRGBA{R: 0xFF, G: 0xB3, B: 0x00, A: 0xFF}
)

// when formats a time for people: local date and time with its zone.
func when(t time.Time) string {
	if t.IsZero() {
		return T("time.never")
	}
	return t.Format("2006-01-02 15:04 MST")
}

// age formats how long ago something happened, coarsely.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return T("age.now")
	case d < time.Hour:
		return Tf("age.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return Tf("age.hours", int(d.Hours()), int(d.Minutes())%60)
	}
	return Tn("age.days", int(d.Hours()/24))
}

// sizeText formats a byte count.
func sizeText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// enum returns the translation of an enumerated value: "type.malware" etc.
func enum[E ~string](prefix string, v E) string {
	if v == "" {
		return ""
	}
	return T(prefix + "." + string(v))
}

// enumOptions returns the translated names of values, and a function that
// maps a name back to its value.
func enumOptions[E ~string](prefix string, values []E) ([]string, func(string) E) {
	names := make([]string, len(values))
	back := map[string]E{}
	for i, v := range values {
		names[i] = enum(prefix, v)
		back[names[i]] = v
	}
	return names, func(s string) E { return back[s] }
}

// Defang makes the URLs and addresses of a text safe to show (app.DefangText).
func Defang(s string) string { return app.DefangText(s) }

// safeMarkdown renders a post body: Markdown, with every link opened only
// after a confirmation that shows its full address, images never fetched
// (their address is shown as text instead), and bare URLs and addresses in
// the text defanged.
func safeMarkdown(body string, confirm func(u *url.URL)) *widget.RichText {
	// Fyne's Markdown reader splits text at brackets and puts spaces
	// between the pieces: "evil[.]example" would read "evil[ . ]example".
	// Defanged dots and colons travel through it as private-use runes.
	rt := widget.NewRichTextFromMarkdown(hideDefang.Replace(body))
	rt.Wrapping = fyne.TextWrapWord
	rt.Segments = safeSegments(rt.Segments, confirm)
	rt.Refresh()
	return rt
}

var (
	hideDefang = strings.NewReplacer("[.]", "\uE000", "[:]", "\uE001")
	showDefang = strings.NewReplacer("\uE000", "[.]", "\uE001", "[:]")
)

func safeSegments(segs []widget.RichTextSegment, confirm func(u *url.URL)) []widget.RichTextSegment {
	out := make([]widget.RichTextSegment, 0, len(segs))
	for _, s := range mergeText(segs) {
		switch v := s.(type) {
		case *widget.HyperlinkSegment:
			v.Text = showDefang.Replace(v.Text)
			u := v.URL
			v.OnTapped = func() { confirm(u) }
			if u != nil && v.Text == u.String() {
				v.Text = Defang(v.Text)
			}
		case *widget.ImageSegment:
			addr := ""
			if v.Source != nil {
				addr = v.Source.String()
			}
			out = append(out, &widget.TextSegment{Style: widget.RichTextStyleInline, Text: Tf("post.image_not_loaded", Defang(addr))})
			continue
		case *widget.TextSegment:
			v.Text = Defang(showDefang.Replace(v.Text))
		case *widget.ListSegment:
			v.Items = safeSegments(v.Items, confirm)
		case *widget.ParagraphSegment:
			v.Texts = safeSegments(v.Texts, confirm)
		}
		out = append(out, s)
	}
	return out
}

// mergeText joins neighbouring inline text segments of the same style: the
// Markdown parser splits "evil[.]example" at the brackets, and the pieces
// would be drawn apart and defanged separately.
func mergeText(segs []widget.RichTextSegment) []widget.RichTextSegment {
	var out []widget.RichTextSegment
	for _, s := range segs {
		t, ok := s.(*widget.TextSegment)
		if ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(*widget.TextSegment); ok && prev.Style == t.Style && t.Style.Inline {
				prev.Text += t.Text
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// textLine makes text start in the UI font. Fyne draws a line of text into
// an image as tall as the UI font's line, with the baseline placed by the
// font of the line's first character: a title that starts in the CJK
// fallback font (【重要】, or Japanese) sinks by the difference and loses
// the bottom of its Latin descenders (g, y, p). A word joiner (U+2060, in
// the UI font, invisible and zero-width) in front keeps the baseline where
// the UI font puts it. Only the first line is helped: a wrapped line that
// starts in Japanese still sinks.
func textLine(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if s == "" || r < 0x2000 {
		return s // Latin, Greek, Cyrillic: the UI font
	}
	return "\u2060" + s
}

// wrapLabel is a label that wraps words.
func wrapLabel(text string) *widget.Label {
	l := widget.NewLabel(textLine(text))
	l.Wrapping = fyne.TextWrapWord
	return l
}

// boldLabel is a bold label.
func boldLabel(text string) *widget.Label {
	l := widget.NewLabel(textLine(text))
	l.TextStyle = fyne.TextStyle{Bold: true}
	return l
}

// heading is a bold label that wraps.
func heading(text string) *widget.Label {
	l := boldLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// newSelect is a drop-down whose placeholder is translated (Fyne's own
// "(Select one)" is not).
func newSelect(options []string, changed func(string)) *widget.Select {
	s := widget.NewSelect(options, changed)
	s.PlaceHolder = T("select.placeholder")
	return s
}

// pageTitle is the title of a whole page (wizard, unlock).
func pageTitle(text string) *widget.Label {
	l := heading(text)
	l.SizeName = theme.SizeNameHeadingText
	return l
}

// section is the heading of a part of a screen.
func section(text string) *widget.Label {
	l := boldLabel(text)
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// checkGrid is a set of check boxes laid out in columns, for choosing
// organisations or people.
type checkGrid struct {
	checks []*widget.Check
	obj    *fyne.Container
}

func newCheckGrid(options []string, columns int) *checkGrid {
	g := &checkGrid{obj: container.NewGridWithColumns(columns)}
	for _, o := range options {
		c := widget.NewCheck(o, nil)
		g.checks = append(g.checks, c)
		g.obj.Add(c)
	}
	return g
}

// Selected returns the checked options, in order.
func (g *checkGrid) Selected() []string {
	var out []string
	for _, c := range g.checks {
		if c.Checked {
			out = append(out, c.Text)
		}
	}
	return out
}

// SetSelected checks exactly the given options.
func (g *checkGrid) SetSelected(sel []string) {
	on := map[string]bool{}
	for _, s := range sel {
		on[s] = true
	}
	for _, c := range g.checks {
		c.SetChecked(on[c.Text])
	}
}

// Enable and Disable switch every check box.
func (g *checkGrid) Enable() {
	for _, c := range g.checks {
		c.Enable()
	}
}

func (g *checkGrid) Disable() {
	for _, c := range g.checks {
		c.Disable()
	}
}

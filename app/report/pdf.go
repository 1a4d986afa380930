package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
)

// ErrNoFont says that no Japanese TrueType font was found for a PDF.
var ErrNoFont = errors.New("no Japanese TrueType font for the PDF: install fonts-ipaexfont-gothic (Debian, Ubuntu) or give a .ttf file")

// MaxFont bounds a font file read for a PDF.
const MaxFont = 64 << 20

// FontPaths are where a Japanese TrueType (.ttf, not .ttc or OpenType CFF)
// font is looked for, in order: IPAex Gothic and IPA Gothic as Debian,
// Fedora, Homebrew and a manual install on macOS or Windows put them.
var FontPaths = []string{
	"/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/ipa-ex-gothic/ipaexg.ttf",
	"/usr/share/fonts/ipaex-gothic/ipaexg.ttf",
	"/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
	"/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
	"/usr/share/fonts/ipa-gothic/ipag.ttf",
	"/usr/local/share/fonts/ipaexg.ttf",
	"/opt/homebrew/share/fonts/ipaexg.ttf",
	"/Library/Fonts/ipaexg.ttf",
	`C:\Windows\Fonts\ipaexg.ttf`,
}

// FindFont returns the font file to use: file when given (it must exist),
// else the first of FontPaths that exists, else ErrNoFont.
func FindFont(file string) (string, error) {
	if file != "" {
		if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("font file %s not found: give a TrueType .ttf font file", file)
		}
		return file, nil
	}
	for _, p := range FontPaths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", ErrNoFont
}

// LoadFont reads a TrueType font of at most MaxFont bytes.
func LoadFont(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("font: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFont+1))
	if err != nil {
		return nil, fmt.Errorf("font %s: %w", path, err)
	}
	if len(b) > MaxFont {
		return nil, fmt.Errorf("font %s is larger than %d MiB: give a TrueType .ttf font", filepath.Base(path), MaxFont>>20)
	}
	// TrueType outlines (0x00010000) or "true"; OpenType CFF ("OTTO") and
	// collections ("ttcf") are not read by the PDF writer.
	if len(b) < 12 || !(bytes.HasPrefix(b, []byte{0, 1, 0, 0}) || bytes.HasPrefix(b, []byte("true"))) {
		return nil, fmt.Errorf("font %s is not a TrueType .ttf font (a .ttc collection or an OpenType CFF font will not do): try IPAex Gothic, package fonts-ipaexfont-gothic", filepath.Base(path))
	}
	return b, nil
}

// Page layout, in millimetres: A4 portrait.
const (
	marginX      = 18.0
	marginTop    = 22.0
	marginBottom = 18.0
	bodySize     = 10.0
	lineHeight   = 5.2
)

// PDF writes the document as an A4 PDF with font, a Japanese TrueType font
// (LoadFont): the TLP label in its colour at the top of every page, page
// numbers at the bottom.
func PDF(w io.Writer, d Document, font []byte) (err error) {
	defer func() {
		// The font parser may fail on a damaged file by panicking.
		if r := recover(); r != nil {
			err = fmt.Errorf("writing the PDF: the font could not be used (%v): try IPAex Gothic, package fonts-ipaexfont-gothic", r)
		}
	}()
	p := &pdfWriter{f: fpdf.New("P", "mm", "A4", ""), d: d}
	f := p.f
	f.SetCatalogSort(true)
	if !d.Created.IsZero() {
		f.SetCreationDate(d.Created)
		f.SetModificationDate(d.Created)
	}
	f.SetTitle(d.Title, true)
	f.SetCreator("Noroshi", true)
	f.SetProducer("Noroshi", true)
	if d.Lang != "" {
		f.SetLang(d.Lang)
	}
	f.AddUTF8FontFromBytes("jp", "", font)
	if err := f.Error(); err != nil {
		return fmt.Errorf("writing the PDF: font: %w", err)
	}
	f.SetMargins(marginX, marginTop, marginX)
	f.SetAutoPageBreak(false, marginBottom)
	f.AliasNbPages("{nb}")
	f.SetHeaderFuncMode(p.header, false)
	f.SetFooterFunc(p.footer)
	f.AddPage()
	p.document()
	if err := f.Error(); err != nil {
		return fmt.Errorf("writing the PDF: %w", err)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("writing the PDF: %w", err)
	}
	return nil
}

type pdfWriter struct {
	f *fpdf.Fpdf
	d Document
	// inTable holds the header of the table being printed, repeated on a
	// new page.
	inTable *tableLayout
}

func (p *pdfWriter) pageWidth() float64 {
	w, _ := p.f.GetPageSize()
	return w - 2*marginX
}

// header prints the TLP label at the top right of every page, in its
// colour on black, and the title at the top left.
func (p *pdfWriter) header() {
	f := p.f
	pw, _ := f.GetPageSize()
	label := p.d.label()
	f.SetFont("jp", "", 10)
	lw := f.GetStringWidth(label) + 6
	f.SetFillColor(0, 0, 0)
	c := tlpRGB(p.d.TLP)
	f.SetTextColor(c[0], c[1], c[2])
	f.SetXY(pw-marginX-lw, 8)
	f.CellFormat(lw, 7, label, "", 0, "C", true, 0, "")
	f.SetTextColor(90, 90, 90)
	f.SetFont("jp", "", 8)
	f.SetXY(marginX, 9)
	f.CellFormat(pw-2*marginX-lw-4, 5, fit(f, p.d.Title, pw-2*marginX-lw-4), "", 0, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.SetDrawColor(0, 0, 0)
	f.SetXY(marginX, marginTop)
}

// footer prints "page / pages" at the bottom of every page.
func (p *pdfWriter) footer() {
	f := p.f
	format := p.d.PageLabel
	if strings.Count(format, "%d") != 2 {
		format = "%d / %d"
	}
	i := strings.LastIndex(format, "%d")
	label := fmt.Sprintf(format[:i], f.PageNo()) + "{nb}" + format[i+2:]
	_, ph := f.GetPageSize()
	f.SetFont("jp", "", 8)
	f.SetTextColor(60, 60, 60)
	f.SetXY(marginX, ph-12)
	f.CellFormat(p.pageWidth(), 5, label, "", 0, "C", false, 0, "")
	f.SetTextColor(0, 0, 0)
}

// room makes sure h millimetres fit on the page, starting a new page when
// not (and repeating a table's header row there).
func (p *pdfWriter) room(h float64) {
	_, ph := p.f.GetPageSize()
	if p.f.GetY()+h <= ph-marginBottom {
		return
	}
	p.f.AddPage()
	if t := p.inTable; t != nil {
		p.row(t, t.header, true)
	}
}

// text prints wrapped text of a size with an indent, the first line
// optionally prefixed (a bullet).
func (p *pdfWriter) text(s string, size, indent float64, prefix string) {
	f := p.f
	f.SetFont("jp", "", size)
	lh := lineHeight * size / bodySize
	width := p.pageWidth() - indent
	pw := 0.0
	if prefix != "" {
		pw = f.GetStringWidth(prefix) + 1.5
	}
	first := true
	for _, para := range strings.Split(strings.TrimSpace(s), "\n") {
		for _, line := range wrap(f, para, width-pw) {
			p.room(lh)
			f.SetX(marginX + indent)
			if prefix != "" {
				if first {
					f.CellFormat(pw, lh, prefix, "", 0, "L", false, 0, "")
				} else {
					f.SetX(marginX + indent + pw)
				}
			}
			f.CellFormat(width-pw, lh, line, "", 1, "L", false, 0, "")
			first = false
		}
	}
}

func (p *pdfWriter) document() {
	f := p.f
	d := p.d
	p.text(d.Title, 17, 0, "")
	f.Ln(1)
	if d.Subtitle != "" {
		p.text(d.Subtitle, 11, 0, "")
	}
	f.Ln(1)
	p.fields(d.Meta)
	for _, s := range d.Sections {
		f.Ln(3)
		p.room(18) // a heading never sits alone at the foot of a page
		p.text(s.Heading, 13, 0, "")
		y := f.GetY()
		f.SetLineWidth(0.4)
		f.Line(marginX, y, marginX+p.pageWidth(), y)
		f.Ln(2)
		for _, b := range s.Blocks {
			if b.Heading != "" {
				f.Ln(1)
				p.room(14)
				p.text(b.Heading, 11, 0, "")
			}
			if b.Text != "" {
				p.text(b.Text, bodySize, 0, "")
				f.Ln(1)
			}
			p.fields(b.Fields)
			for _, l := range b.List {
				p.text(l, bodySize, 2, "•")
			}
			if len(b.List) > 0 {
				f.Ln(1.5)
			}
			if b.Table != nil {
				p.table(b.Table)
			}
		}
	}
	if d.Footer != "" {
		f.Ln(4)
		p.room(10)
		y := f.GetY()
		f.SetLineWidth(0.3)
		f.Line(marginX, y, marginX+p.pageWidth(), y)
		f.Ln(1.5)
		p.text(d.Footer, 9, 0, "")
	}
}

// fields prints label: value lines, the values aligned.
func (p *pdfWriter) fields(fs []Field) {
	if len(fs) == 0 {
		return
	}
	f := p.f
	f.SetFont("jp", "", 9.5)
	lw := 0.0
	for _, fl := range fs {
		lw = max(lw, f.GetStringWidth(fl.Label))
	}
	lw = min(lw+4, p.pageWidth()*0.4)
	lh := lineHeight * 9.5 / bodySize
	for _, fl := range fs {
		f.SetFont("jp", "", 9.5)
		lines := wrap(f, fl.Value, p.pageWidth()-lw)
		if len(lines) == 0 {
			lines = []string{""}
		}
		labels := wrap(f, fl.Label, lw-2)
		for i := 0; i < max(len(lines), len(labels)); i++ {
			p.room(lh)
			f.SetX(marginX)
			l, v := "", ""
			if i < len(labels) {
				l = labels[i]
			}
			if i < len(lines) {
				v = lines[i]
			}
			f.SetTextColor(70, 70, 70)
			f.CellFormat(lw, lh, l, "", 0, "L", false, 0, "")
			f.SetTextColor(0, 0, 0)
			f.CellFormat(p.pageWidth()-lw, lh, v, "", 1, "L", false, 0, "")
		}
	}
	f.Ln(1.5)
}

type tableLayout struct {
	widths []float64
	header []string
}

const (
	tableSize = 9.0
	cellPad   = 1.2
)

// table prints a table with borders, its columns as wide as their text
// asks within the page, rows wrapped and never split across pages.
func (p *pdfWriter) table(t *Table) {
	f := p.f
	f.SetFont("jp", "", tableSize)
	n := len(t.Header)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	if n == 0 {
		return
	}
	want := make([]float64, n)
	measure := func(cells []string) {
		for i, c := range cells {
			want[i] = max(want[i], f.GetStringWidth(c)+2*cellPad+0.5)
		}
	}
	measure(t.Header)
	for _, r := range t.Rows {
		measure(r)
	}
	widths := columnWidths(want, p.pageWidth())
	lay := &tableLayout{widths: widths, header: t.Header}
	f.SetLineWidth(0.2)
	p.room(lineHeight * 2)
	p.row(lay, t.Header, true)
	p.inTable = lay
	for _, r := range t.Rows {
		p.row(lay, r, false)
	}
	p.inTable = nil
	f.Ln(3)
}

// columnWidths shares the page width among columns: each gets what it
// wants when all fit; else, narrowest first, a column that wants no more
// than an even share of what is left keeps its width, and the wider ones
// share the rest in proportion to what they want.
func columnWidths(want []float64, total float64) []float64 {
	sum := 0.0
	for _, w := range want {
		sum += w
	}
	out := make([]float64, len(want))
	if sum <= total {
		for i, w := range want {
			out[i] = w * total / sum
		}
		return out
	}
	order := make([]int, len(want))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(want[a], want[b]) })
	rest := total
	for k, i := range order {
		left := order[k:]
		if want[i] <= rest/float64(len(left)) {
			out[i] = want[i]
			rest -= want[i]
			continue
		}
		wide := 0.0
		for _, j := range left {
			wide += want[j]
		}
		for _, j := range left {
			out[j] = want[j] * rest / wide
		}
		break
	}
	return out
}

// row prints one table row; the header on grey.
func (p *pdfWriter) row(t *tableLayout, cells []string, header bool) {
	f := p.f
	f.SetFont("jp", "", tableSize)
	lh := lineHeight * tableSize / bodySize
	wrapped := make([][]string, len(t.widths))
	lines := 1
	for i := range t.widths {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		wrapped[i] = wrap(f, c, t.widths[i]-2*cellPad)
		lines = max(lines, len(wrapped[i]))
	}
	h := float64(lines)*lh + 1
	if !header {
		p.room(h)
	}
	y := f.GetY()
	x := marginX
	if header {
		f.SetFillColor(232, 232, 232)
	}
	for i, w := range t.widths {
		style := "D"
		if header {
			style = "FD"
		}
		f.Rect(x, y, w, h, style)
		for j, l := range wrapped[i] {
			f.SetXY(x+cellPad, y+0.5+float64(j)*lh)
			f.CellFormat(w-2*cellPad, lh, l, "", 0, "L", false, 0, "")
		}
		x += w
	}
	f.SetXY(marginX, y+h)
}

// wrap breaks s into lines no wider than width: at a space when it can,
// before a CJK character, else anywhere (a long URL, a hash).
func wrap(f *fpdf.Fpdf, s string, width float64) []string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return nil
	}
	var lines []string
	runes := []rune(s)
	start := 0
	brk := -1 // where the current line may end: runes[start:brk]
	w := 0.0
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		if i > start && (unicode.IsSpace(r) || wide(r) || wide(runes[i-1])) {
			brk = i
		}
		w += f.GetStringWidth(string(r))
		if w <= width || i == start {
			continue
		}
		end := brk
		if end <= start {
			end = i
		}
		lines = append(lines, strings.TrimRight(string(runes[start:end]), " "))
		start = end
		for start < len(runes) && runes[start] == ' ' {
			start++
		}
		// Measure the rest again from its start: what is left of the line
		// may already be wider than a line (a long word cut at a break).
		brk = -1
		w = 0
		i = start - 1
	}
	if start < len(runes) {
		lines = append(lines, string(runes[start:]))
	}
	return lines
}

// wide reports whether a line may break beside r: Japanese and Chinese
// characters, full-width forms.
func wide(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}

// fit cuts s to one line of width, with an ellipsis when cut.
func fit(f *fpdf.Fpdf, s string, width float64) string {
	if f.GetStringWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && f.GetStringWidth(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

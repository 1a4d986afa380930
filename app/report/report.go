// Package report lays out a finished report (a situation report, the daily
// bulletin, a digest) as Markdown, as one self-contained HTML file for A4
// paper, or as an A4 PDF with a Japanese TrueType font. It knows nothing of
// Noroshi: the app computes a report's content and hands it over as a
// Document of plain text (every renderer escapes what it prints).
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Document is a report ready to print. Every string is plain text.
type Document struct {
	// Lang is the language of the labels: "ja" or "en".
	Lang     string
	Title    string
	Subtitle string
	// TLP is the document's marking without "TLP:" (CLEAR, GREEN, AMBER,
	// AMBER+STRICT, RED): printed at the top of every page in its FIRST
	// colour on black, never translated.
	TLP string
	// Meta lists the report's facts under its title (window, made by).
	Meta     []Field
	Sections []Section
	// Footer is printed after the last section.
	Footer string
	// Created is when the report was made (the PDF's creation date).
	Created time.Time
	// PageLabel formats the page number and the page count: "%d / %d".
	PageLabel string
}

// Field is a label and its value.
type Field struct{ Label, Value string }

// Section is a heading and its blocks.
type Section struct {
	Heading string
	Blocks  []Block
}

// Block is one part of a section, printed in this order: a sub-heading, a
// paragraph, fields, a bulleted list, a table. Any of them may be empty.
type Block struct {
	Heading string
	Text    string
	Fields  []Field
	List    []string
	Table   *Table
}

// Table is a table with a header row.
type Table struct {
	Header []string
	Rows   [][]string
}

// TLP colours of FIRST's TLP 2.0 definition, as RGB: the label's text on a
// black background.
var tlpColours = map[string][3]int{
	"RED":          {0xFF, 0x2B, 0x2B},
	"AMBER":        {0xFF, 0xC0, 0x00},
	"AMBER+STRICT": {0xFF, 0xC0, 0x00},
	"GREEN":        {0x33, 0xFF, 0x00},
	"CLEAR":        {0xFF, 0xFF, 0xFF},
}

// TLPColour returns the FIRST colour of a TLP marking (without "TLP:") as
// "#rrggbb"; an unknown marking is printed in white.
func TLPColour(tlp string) string {
	c := tlpRGB(tlp)
	return fmt.Sprintf("#%02X%02X%02X", c[0], c[1], c[2])
}

func tlpRGB(tlp string) [3]int {
	if c, ok := tlpColours[tlp]; ok {
		return c
	}
	return tlpColours["CLEAR"]
}

// label returns "TLP:AMBER".
func (d Document) label() string { return "TLP:" + d.TLP }

// mdEscaper escapes the characters that mean something anywhere in a
// Markdown line.
var mdEscaper = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_[]<>|~&" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(pairs...)
}()

// md escapes plain text for Markdown, on one line: every special character,
// and what would start a heading, a list or a quote at a line's start.
func md(s string) string {
	s = mdEscaper.Replace(strings.Join(strings.Fields(s), " "))
	if s != "" && strings.ContainsRune("#+-=", rune(s[0])) {
		return "\\" + s
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') {
		return s[:i] + "\\" + s[i:]
	}
	return s
}

// mdPara escapes a paragraph, keeping its line breaks as hard breaks.
func mdPara(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = md(l)
	}
	return strings.Join(lines, "  \n")
}

// Markdown writes the document as Markdown (GitHub tables).
func Markdown(d Document) []byte { return markdown(d, false) }

// PreviewMarkdown writes the document as Markdown without tables (each row
// a bulleted line), for viewers that show CommonMark only.
func PreviewMarkdown(d Document) []byte { return markdown(d, true) }

func markdown(d Document, noTables bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "**%s**\n\n# %s\n\n", md(d.label()), md(d.Title))
	if d.Subtitle != "" {
		fmt.Fprintf(&b, "%s\n\n", mdPara(d.Subtitle))
	}
	writeFields(&b, d.Meta)
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "## %s\n\n", md(s.Heading))
		for _, bl := range s.Blocks {
			if bl.Heading != "" {
				fmt.Fprintf(&b, "### %s\n\n", md(bl.Heading))
			}
			if bl.Text != "" {
				fmt.Fprintf(&b, "%s\n\n", mdPara(bl.Text))
			}
			writeFields(&b, bl.Fields)
			if len(bl.List) > 0 {
				for _, l := range bl.List {
					fmt.Fprintf(&b, "- %s\n", md(l))
				}
				b.WriteString("\n")
			}
			if t := bl.Table; t != nil {
				writeTable(&b, t, noTables)
			}
		}
	}
	if d.Footer != "" {
		fmt.Fprintf(&b, "---\n\n%s\n\n", mdPara(d.Footer))
	}
	fmt.Fprintf(&b, "**%s**\n", md(d.label()))
	return b.Bytes()
}

func writeFields(b *bytes.Buffer, fs []Field) {
	if len(fs) == 0 {
		return
	}
	for _, f := range fs {
		fmt.Fprintf(b, "- **%s**: %s\n", md(f.Label), md(f.Value))
	}
	b.WriteString("\n")
}

func writeTable(b *bytes.Buffer, t *Table, noTables bool) {
	if noTables {
		if len(t.Header) > 0 {
			fmt.Fprintf(b, "*%s*\n\n", md(strings.Join(t.Header, " · ")))
		}
		for _, r := range t.Rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = md(c)
			}
			fmt.Fprintf(b, "- %s\n", strings.Join(cells, " · "))
		}
		b.WriteString("\n")
		return
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			fmt.Fprintf(b, " %s |", md(c))
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

// htmlPage is the HTML layout: one file, its style inline, for A4 paper.
// The TLP label sits in the header row of a table that holds the whole
// page: browsers repeat a table's header at the top of every printed page.
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
}).Parse(`<!DOCTYPE html>
<html lang="{{.D.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.D.Title}}</title>
<style>
@page { size: A4; margin: 20mm 16mm 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "IPAexGothic", "IPAGothic", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo", sans-serif;
  font-size: 10.5pt; line-height: 1.5; color: #000; background: #fff; max-width: 178mm; margin: 0 auto; padding: 6mm 0; }
table.page { width: 100%; border-collapse: collapse; }
table.page > thead > tr > td, table.page > tbody > tr > td { border: none; padding: 0; }
table.page > thead > tr > td { text-align: right; padding-bottom: 3mm; }
.tlp { display: inline-block; background: #000; color: {{.Colour}}; font-family: monospace, sans-serif;
  font-weight: bold; font-size: 10pt; padding: 1mm 3mm; letter-spacing: 0.05em;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 17pt; margin: 0 0 2mm 0; }
h2 { font-size: 13pt; border-bottom: 0.4mm solid #000; margin: 7mm 0 2mm 0; page-break-after: avoid; break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1mm 0; page-break-after: avoid; break-after: avoid; }
p { margin: 1mm 0 2mm 0; }
.subtitle { font-size: 11pt; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.5mm 4mm; margin: 1mm 0 3mm 0; }
dt { font-weight: bold; }
dd { margin: 0; overflow-wrap: anywhere; }
ul { margin: 1mm 0 3mm 0; padding-left: 6mm; }
li { overflow-wrap: anywhere; }
table.data { border-collapse: collapse; width: 100%; margin: 1mm 0 4mm 0; font-size: 9.5pt; }
table.data th, table.data td { border: 0.25mm solid #444; padding: 1mm 1.5mm; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
table.data th { background: #e8e8e8; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
table.data tr { page-break-inside: avoid; break-inside: avoid; }
thead { display: table-header-group; }
footer { border-top: 0.3mm solid #000; margin-top: 8mm; padding-top: 2mm; font-size: 9pt; }
@media print { body { padding: 0; max-width: none; } }
</style>
</head>
<body>
<table class="page">
<thead><tr><td><span class="tlp">{{.Label}}</span></td></tr></thead>
<tbody><tr><td>
<header>
<h1>{{.D.Title}}</h1>
{{if .D.Subtitle}}<p class="subtitle">{{range $i, $l := lines .D.Subtitle}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>{{end}}
{{if .D.Meta}}<dl>{{range .D.Meta}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{end}}
</header>
{{range .D.Sections}}<section>
<h2>{{.Heading}}</h2>
{{range .Blocks}}{{if .Heading}}<h3>{{.Heading}}</h3>
{{end}}{{if .Text}}<p>{{range $i, $l := lines .Text}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>
{{end}}{{if .Fields}}<dl>{{range .Fields}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{end}}{{if .List}}<ul>{{range .List}}<li>{{.}}</li>{{end}}</ul>
{{end}}{{with .Table}}<table class="data">
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{end}}</section>
{{end}}{{if .D.Footer}}<footer>{{range $i, $l := lines .D.Footer}}{{if $i}}<br>{{end}}{{$l}}{{end}}</footer>
{{end}}</td></tr></tbody>
</table>
</body>
</html>
`))

// HTML writes the document as one self-contained HTML file laid out for A4.
func HTML(d Document) ([]byte, error) {
	var b bytes.Buffer
	err := htmlPage.Execute(&b, struct {
		D      Document
		Label  string
		Colour template.CSS
	}{d, d.label(), template.CSS(TLPColour(d.TLP))})
	if err != nil {
		return nil, fmt.Errorf("laying out the report as HTML: %w", err)
	}
	return b.Bytes(), nil
}

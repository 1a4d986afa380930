package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"pgregory.net/rapid"
)

func sampleDoc(rows int) Document {
	var table [][]string
	for i := range rows {
		table = append(table, []string{fmt.Sprintf("障害 %d", i), "対応中", "Metro Power", "https://very-long.example/" + strings.Repeat("path/", 20)})
	}
	return Document{
		Lang: "ja", Title: "状況報告（午前）2021-07-24", Subtitle: "Situation report (AM)", TLP: "AMBER",
		Meta:    []Field{{"対象期間", "2021-07-23 17:00 – 2021-07-24 09:00 JST"}, {"作成", "Duty Officer (Coordination Centre)"}},
		Created: time.Date(2021, 7, 24, 9, 5, 0, 0, time.UTC), PageLabel: "%d / %d ページ",
		Sections: []Section{
			{Heading: "大会に影響するインシデント", Blocks: []Block{{
				Text:  "大会運営に影響する、または対外発表が必要なインシデントはありません。\nNo incident affects the event.",
				List:  []string{"【重要】Malware disguised as a damage report <script>", "観測通知 2 件（2 組織）"},
				Table: &Table{Header: []string{"分類", "状態", "組織", "URL"}, Rows: table},
			}}},
		},
		Footer: "Noroshi 2021-07-24 09:05",
	}
}

func TestReportMarkdownEscapes(t *testing.T) {
	d := sampleDoc(1)
	d.Sections[0].Blocks[0].List = []string{"[click](http://evil.example) *bold* | pipe", "- not a list", "1. not a number"}
	out := string(Markdown(d))
	for _, want := range []string{"**TLP:AMBER**", `\[click\](http://evil.example) \*bold\* \| pipe`, `- \- not a list`, `- 1\. not a number`, "| 分類 | 状態 | 組織 | URL |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if p := string(PreviewMarkdown(d)); strings.Contains(p, "|---") || !strings.Contains(p, "- 障害 0 · 対応中 · Metro Power") {
		t.Errorf("preview markdown has a table or lacks the row:\n%s", p)
	}
}

func TestReportHTMLEscapesAndPrintsA4(t *testing.T) {
	out, err := HTML(sampleDoc(2))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"@page { size: A4;", `<thead><tr><td><span class="tlp">TLP:AMBER</span></td></tr></thead>`, "color: #FFC000", "&lt;script&gt;", `<html lang="ja">`} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>") || strings.Contains(s, "http://") && strings.Contains(s, "<link") {
		t.Error("HTML holds markup from the text or an outside resource")
	}
}

// pdfText extracts a PDF's text with pdftotext (poppler-utils).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed (package poppler-utils)")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func testFont(t *testing.T) []byte {
	t.Helper()
	path, err := FindFont("")
	if err != nil {
		t.Skip(err)
	}
	b, err := LoadFont(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportPDFText(t *testing.T) {
	font := testFont(t)
	var buf bytes.Buffer
	if err := PDF(&buf, sampleDoc(60), font); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) || !bytes.Contains(buf.Bytes(), []byte("%%EOF")) {
		t.Fatal("not a PDF")
	}
	text := pdfText(t, buf.Bytes())
	pages := strings.Count(text, "\f")
	if pages < 2 {
		t.Fatalf("60 rows on %d page(s)", pages)
	}
	for _, want := range []string{"状況報告（午前）2021-07-24", "大会に影響するインシデント", "No incident affects the event.", "Metro Power", "障害 59",
		fmt.Sprintf("1 / %d ページ", pages), fmt.Sprintf("%d / %d ページ", pages, pages)} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "TLP:AMBER"); n < pages {
		t.Errorf("TLP label on %d of %d pages", n, pages)
	}
}

func TestReportFontErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "x.ttc")
	os.WriteFile(bad, []byte("ttcf0000000000000000"), 0o600)
	if _, err := LoadFont(bad); err == nil || !strings.Contains(err.Error(), "fonts-ipaexfont-gothic") {
		t.Errorf("a collection: %v", err)
	}
	if _, err := FindFont(filepath.Join(dir, "none.ttf")); err == nil {
		t.Error("a missing --font file was taken")
	}
	junk := append([]byte{0, 1, 0, 0}, bytes.Repeat([]byte{0xff}, 200)...)
	if err := PDF(&bytes.Buffer{}, sampleDoc(1), junk); err == nil {
		t.Error("a damaged font made a PDF")
	}
}

func TestReportColumnWidths(t *testing.T) {
	w := columnWidths([]float64{10, 200, 20}, 170)
	sum := w[0] + w[1] + w[2]
	if sum < 169.9 || sum > 170.1 || w[0] != 10 || w[2] != 20 {
		t.Errorf("widths %v", w)
	}
}

func TestReportWriteSample(t *testing.T) {
	if os.Getenv("REPORT_SAMPLE") == "" {
		t.Skip()
	}
	var buf bytes.Buffer
	if err := PDF(&buf, sampleDoc(40), testFont(t)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/sample.pdf", buf.Bytes(), 0o600)
}

// FuzzReportFont: a damaged font file (--font) makes an error, never a
// panic or a hang.
func FuzzReportFont(f *testing.F) {
	f.Add(append([]byte{0, 1, 0, 0}, make([]byte, 60)...))
	f.Add([]byte("true\x00\x0b\x00\x80\x00\x03\x000OS/2"))
	d := Document{Lang: "en", Title: "t", TLP: "GREEN", Sections: []Section{{Heading: "h", Blocks: []Block{{Text: "x"}}}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		PDF(io.Discard, d, b)
	})
}

// TestReportWrapKeepsEveryCharacter: wrapping loses no character (the
// PDF writer's own splitter drops the Japanese character it breaks at),
// and every line fits unless it is one character.
func TestReportWrapKeepsEveryCharacter(t *testing.T) {
	font := testFont(t)
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes("jp", "", font)
	f.SetFont("jp", "", 10)
	rapid.Check(t, func(t *rapid.T) {
		words := rapid.SliceOfN(rapid.SampledFrom([]string{"Metro", "Power", "障害", "が発生しました。", "https://example.com/a/very/long/path", "TLP:AMBER", "【重要】", "x"}), 0, 30).Draw(t, "words")
		sep := rapid.SampledFrom([]string{" ", ""}).Draw(t, "sep")
		width := rapid.Float64Range(5, 170).Draw(t, "width")
		s := strings.Join(words, sep)
		lines := wrap(f, s, width)
		squash := func(x string) string { return strings.Join(strings.Fields(x), "") }
		if got := squash(strings.Join(lines, "")); got != squash(s) {
			t.Fatalf("wrap(%q, %.1f) = %q: characters lost", s, width, lines)
		}
		for _, l := range lines {
			if f.GetStringWidth(l) > width+0.01 && len([]rune(l)) > 1 {
				t.Fatalf("line %q is %.1f wide, more than %.1f", l, f.GetStringWidth(l), width)
			}
		}
	})
}

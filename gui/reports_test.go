package gui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/dialog"

	"noroshi/app"
)

// The Reports screen: choose a report, preview it in English and
// Japanese, save it as Markdown and PDF through the file picker.
func TestReportsScreen(t *testing.T) {
	_, u := startDemo(t)
	u.ShowScreen(screenReports)
	v := u.reports
	if !v.saveMD.Disabled() {
		t.Fatal("saving is offered before a preview")
	}
	assertShows(t, v.obj, "Choose a report and its day")

	// The bulletin, in English: its options show, the digest's do not.
	v.kind.SetSelected(T("reports.kind_bulletin"))
	if !v.extra.Visible() || v.weeks.Visible() {
		t.Fatal("the bulletin's options are not the ones shown")
	}
	v.lang.SetSelected("English")
	tapButton(t, v.obj, T("reports.preview"))
	assertShows(t, v.preview, "Daily bulletin "+v.date.Text)
	assertShows(t, v.preview, "TLP:GREEN")
	assertShows(t, v.obj, "marked TLP:GREEN")

	dir := t.TempDir()
	md := filepath.Join(dir, "bulletin.md")
	saveTo(u, md)
	tapButton(t, v.obj, T("reports.save_md"))
	b, err := os.ReadFile(md)
	if err != nil || !bytes.HasPrefix(b, []byte("**TLP:GREEN**\n\n# Daily bulletin ")) {
		t.Fatalf("saved Markdown: %v %.80q", err, b)
	}
	assertShows(t, v.status, "Saved "+md)

	// Posted after a confirmation: the community reads it in the feed.
	tapButton(t, v.obj, T("reports.post"))
	d, ok := u.lastDialog.(*dialog.ConfirmDialog)
	if !ok {
		t.Fatal("no confirmation before posting the bulletin")
	}
	d.Confirm()
	assertShows(t, v.status, "Posted 【情報】Daily bulletin")
	found := false
	for _, p := range u.a.Feed(app.FeedFilter{Channel: app.ChannelGeneral}) {
		found = found || strings.HasPrefix(p.Title, "Daily bulletin ")
	}
	if !found {
		t.Error("the posted bulletin is not in the general channel")
	}

	// The AM situation report, in Japanese, as a PDF.
	v.kind.SetSelected(T("reports.kind_sitrep_am"))
	if v.extra.Visible() {
		t.Fatal("the sitrep shows the bulletin's options")
	}
	v.lang.SetSelected("日本語")
	tapButton(t, v.obj, T("reports.preview"))
	assertShows(t, v.preview, "状況報告（午前）")
	if v.post.Visible() {
		t.Error("a situation report can be posted")
	}
	assertShows(t, v.preview, "TLP:AMBER")
	pdf := filepath.Join(dir, "sitrep.pdf")
	saveTo(u, pdf)
	tapButton(t, v.obj, T("reports.save_pdf"))
	b, err = os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		if strings.Contains(v.status.Text, "fonts-ipaexfont-gothic") {
			t.Skip("no Japanese font here")
		}
		t.Fatalf("saved PDF: %.40q; status %q", b, v.status.Text)
	}

	// The digest's options; a day that is no day is refused in words.
	v.kind.SetSelected(T("reports.kind_digest"))
	if !v.weeks.Visible() || !v.audience.Visible() {
		t.Fatal("the digest's options are hidden")
	}
	v.date.SetText("24/07/2021")
	tapButton(t, v.obj, T("reports.preview"))
	if v.status.Text != T("reports.bad_date") || !v.saveMD.Disabled() {
		t.Fatalf("a bad day: status %q", v.status.Text)
	}
}

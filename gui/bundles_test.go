package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestSyncBundleOptions: the sync screen seals a bundle to one member's
// device, writes only what a mark lacks, and after an import shows the
// table and the mark for the next export.
func TestSyncBundleOptions(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenSync])
	v := u.sync
	if len(v.forSel.Options) < 2 || v.forSel.SelectedIndex() != 0 {
		t.Fatalf("seal-to options %q, selected %d", v.forSel.Options, v.forSel.SelectedIndex())
	}
	assertShows(t, v.obj, T("sync.bundles_note"))

	// Everything, for every member; imported back: the table and the mark.
	dir := t.TempDir()
	all := filepath.Join(dir, "all.bundle")
	saveTo(u, all)
	test.Tap(v.export)
	if !strings.Contains(v.status.Text, all) {
		t.Fatalf("status after export: %q", v.status.Text)
	}
	test.Tap(v.imp)
	if !v.mark.Visible() || !strings.HasPrefix(v.mark.Text, "nm1.") || len(v.table.Objects) == 0 {
		t.Fatalf("after import: mark %q (shown %v), table %d rows", v.mark.Text, v.mark.Visible(), len(v.table.Objects))
	}
	assertShows(t, v.table, T("sync.table.already"))
	test.Tap(v.copyMark)
	if got := u.fa.Clipboard().Content(); got != v.mark.Text {
		t.Errorf("clipboard %q, mark %q", got, v.mark.Text)
	}

	// Since this device's own mark: nothing to carry.
	test.Type(v.since, v.mark.Text)
	delta := filepath.Join(dir, "delta.bundle")
	saveTo(u, delta)
	test.Tap(v.export)
	a, _ := os.Stat(all)
	d, _ := os.Stat(delta)
	if d == nil || a == nil || d.Size()*4 > a.Size() {
		t.Errorf("bundle since the mark: %v bytes, everything: %v", d, a)
	}
	if !strings.HasPrefix(v.status.Text, Tn("count.envelopes", 0)) {
		t.Errorf("status after the export since the mark: %q", v.status.Text)
	}

	// For one device: the status says whose it is; this device cannot
	// open it.
	v.since.SetText("")
	v.forSel.SetSelectedIndex(len(v.forSel.Options) - 1)
	one := filepath.Join(dir, "one.bundle")
	saveTo(u, one)
	test.Tap(v.export)
	if !strings.Contains(v.status.Text, one) || strings.Contains(v.status.Text, T("sync.for_everyone")) {
		t.Errorf("status after the export for one device: %q", v.status.Text)
	}
	if v.forIDs[v.forSel.Selected] == u.ev.who.Device {
		t.Skip("the last member is this device")
	}
	test.Tap(v.imp)
	if u.lastDialog == nil {
		t.Error("importing another device's bundle shows no error")
	}
}

package gui

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// syncView shows replication: the connectivity, each peer's state and
// what each side lacked at the last sync, and bundle export and import for
// an air gap, with a progress bar.
type syncView struct {
	u        *UI
	obj      fyne.CanvasObject
	dot      *canvas.Circle
	conn     *widget.Label
	netNote  *widget.Label
	peers    *fyne.Container
	progress *widget.ProgressBar
	status   *widget.Label
	export   *widget.Button
	imp      *widget.Button
	busy     bool
	feed     *feedSwitch // the indicator feed's switch (indicatorfeed.go)
	// Bundle options, the last import's table and this device's mark.
	forSel   *widget.Select
	forIDs   map[string]string // forSel option -> device ID
	since    *widget.Entry
	expires  *widget.Select
	table    *fyne.Container
	mark     *widget.Entry
	markBtn  *widget.Button
	copyMark *widget.Button
	markNote *widget.Label
}

func newSyncView(u *UI) *syncView {
	v := &syncView{u: u, dot: canvas.NewCircle(aloneColour), conn: boldLabel(""), netNote: wrapLabel(""), peers: container.NewVBox(),
		progress: widget.NewProgressBar(), status: wrapLabel("")}
	v.conn.SizeName = theme.SizeNameSubHeadingText
	v.progress.Hide()
	v.export = widget.NewButtonWithIcon(T("sync.export"), theme.DownloadIcon(), func() { v.startExport() })
	v.imp = widget.NewButtonWithIcon(T("sync.import"), theme.UploadIcon(), func() { v.startImport() })
	badge := container.NewHBox(container.NewCenter(container.NewGridWrap(fyne.NewSize(16, 16), v.dot)), v.conn)
	bundles := v.newBundles()
	v.feed = newFeedSwitch(u)
	v.obj = container.NewVScroll(container.NewPadded(container.NewVBox(
		badge, v.netNote, widget.NewSeparator(), section(T("sync.peers")), v.peers, widget.NewSeparator(), bundles, widget.NewSeparator(), v.feed.obj)))
	return v
}

func (v *syncView) apply(ev event) {
	v.setMembers(ev.members)
	text, c := connectivityText(ev.conn)
	v.conn.SetText(text)
	v.dot.FillColor = c
	v.dot.Refresh()
	switch {
	case ev.netErr != nil:
		v.netNote.SetText(Tf("sync.net_error", ev.netErr.Error()))
	case v.u.net == nil:
		v.netNote.SetText(T("sync.no_network"))
	default:
		v.netNote.SetText(T("sync.network_on"))
	}
	v.peers.Objects = nil
	if len(ev.peers) == 0 {
		v.peers.Add(wrapLabel(T("sync.no_peers")))
	}
	for _, p := range ev.peers {
		v.peers.Add(peerRow(p))
	}
	v.peers.Refresh()
}

func peerRow(p app.Peer) fyne.CanvasObject {
	state := enum("peer_state", p.State)
	if p.InSync {
		state += " · " + T("sync.in_sync")
	}
	line1 := boldLabel(p.Name + " · " + p.OrgName + " · " + enum("role", p.Role))
	line2 := wrapLabel(state + " · " + p.SyncAddr + " · " + Tf("sync.last_sync", when(p.LastSync)) + " · " + Tf("sync.lacked", p.PeerLacked, p.WeLacked))
	row := container.NewVBox(line1, line2)
	if p.Error != "" {
		e := wrapLabel(Tf("sync.peer_error", p.Error))
		e.Importance = widget.DangerImportance
		row.Add(e)
	}
	if r := p.Refused; r != nil {
		key := "sync.refused_by_us"
		if r.ByPeer {
			key = "sync.refused_by_peer"
		}
		e := wrapLabel(Tf(key, enum("sync.refusal", r.Reason)))
		e.Importance = widget.WarningImportance
		row.Add(e)
	}
	return container.NewPadded(row)
}

func (v *syncView) setBusy(b bool) {
	v.busy = b
	if b {
		v.export.Disable()
		v.imp.Disable()
		v.markBtn.Disable()
		v.progress.SetValue(0)
		v.progress.Show()
	} else {
		v.export.Enable()
		v.imp.Enable()
		v.markBtn.Enable()
	}
}

// startExport writes a bundle to a file the user picks.
func (v *syncView) startExport() {
	v.u.pickSave("noroshi.bundle", func(w fyne.URIWriteCloser) {
		v.setBusy(true)
		v.status.SetText(T("sync.exporting"))
		opts := v.exportOptions()
		work := func() (app.ExportResult, error) {
			defer w.Close()
			var buf bytes.Buffer
			r, err := v.u.a.Export(&buf, opts)
			if err == nil {
				_, err = w.Write(buf.Bytes())
			}
			return r, err
		}
		done := func(r app.ExportResult, err error) {
			v.setBusy(false)
			v.progress.SetValue(1)
			if err != nil {
				v.status.SetText("")
				v.u.showErr(err)
				return
			}
			text := Tf("sync.exported", Tn("count.envelopes", r.Envelopes), w.URI().Path())
			if r.For != "" {
				text = Tf("sync.exported_for", Tn("count.envelopes", r.Envelopes), w.URI().Path(), r.ForName)
			}
			v.status.SetText(text + "\n" + Tf("sync.expires_on", when(r.Expires)))
		}
		v.run(func() { r, err := work(); v.u.do(func() { done(r, err) }) })
	})
}

// startImport reads a bundle the user picks, showing progress.
func (v *syncView) startImport() {
	v.u.pickOpen(func(r fyne.URIReadCloser) {
		v.setBusy(true)
		v.status.SetText(T("sync.importing"))
		v.run(func() {
			data, err := io.ReadAll(io.LimitReader(r, 4<<30))
			r.Close()
			if err != nil {
				v.u.do(func() { v.imported(nil, app.ImportResult{}, err) })
				return
			}
			v.importData(data, false)
		})
	})
}

// run does long work off the UI thread when live, at once in tests.
func (v *syncView) run(f func()) {
	if v.u.cfg.Live {
		go f()
		return
	}
	f()
}

// do runs f on the UI thread: through fyne.Do when live, at once in tests.
func (u *UI) do(f func()) {
	if u.cfg.Live {
		u.cfg.onUI(f)
		return
	}
	f()
}

// newBundles builds the bundle part of the screen: what a bundle carries,
// whom it is sealed to, since which mark, its expiry; export and import;
// the last import's table and this device's mark.
func (v *syncView) newBundles() fyne.CanvasObject {
	v.forIDs = map[string]string{}
	v.forSel = newSelect([]string{T("sync.for_everyone")}, nil)
	v.forSel.SetSelectedIndex(0)
	v.since = widget.NewEntry()
	v.since.SetPlaceHolder(T("sync.since_placeholder"))
	var days []string
	for _, d := range bundleDays {
		days = append(days, Tn("age.days", d))
	}
	v.expires = newSelect(days, nil)
	v.expires.SetSelectedIndex(len(days) - 1)
	v.table = container.NewVBox()
	v.mark = widget.NewEntry()
	v.mark.Hide()
	v.markBtn = widget.NewButtonWithIcon(T("sync.show_mark"), theme.InfoIcon(), func() { v.showMark() })
	v.copyMark = widget.NewButtonWithIcon(T("sync.copy_mark"), theme.ContentCopyIcon(), func() {
		v.u.fa.Clipboard().SetContent(v.mark.Text)
	})
	v.copyMark.Hide()
	v.markNote = wrapLabel(T("sync.mark_note"))
	v.markNote.Hide()
	form := widget.NewForm(widget.NewFormItem(T("sync.for"), v.forSel), widget.NewFormItem(T("sync.since"), v.since),
		widget.NewFormItem(T("sync.expires"), v.expires))
	return container.NewVBox(section(T("sync.bundles")), wrapLabel(T("sync.bundles_note")), form,
		container.NewHBox(v.export, v.imp), v.progress, v.status, v.table,
		container.NewHBox(v.markBtn, v.copyMark), v.mark, v.markNote)
}

// bundleDays are the expiries offered, in days; the last is the default.
var bundleDays = []int{1, 7, 14, 28}

// setMembers offers every active member device as a bundle's only
// recipient.
func (v *syncView) setMembers(ms []app.Member) {
	sel := v.forSel.Selected
	opts := []string{T("sync.for_everyone")}
	ids := map[string]string{}
	for _, m := range ms {
		for _, d := range m.Devices {
			if d.Revoked || !m.Addressable {
				continue
			}
			label := m.Label() + " · " + d.ID[:min(len(d.ID), 12)]
			opts = append(opts, label)
			ids[label] = d.ID
		}
	}
	v.forSel.Options, v.forIDs = opts, ids
	if _, ok := ids[sel]; ok {
		v.forSel.SetSelected(sel)
	} else {
		v.forSel.SetSelectedIndex(0)
	}
	v.forSel.Refresh()
}

// exportOptions reads the bundle options.
func (v *syncView) exportOptions() app.ExportOptions {
	o := app.ExportOptions{For: v.forIDs[v.forSel.Selected], Since: v.since.Text}
	if i := v.expires.SelectedIndex(); i >= 0 && i < len(bundleDays) {
		o.Expires = time.Duration(bundleDays[i]) * 24 * time.Hour
	}
	return o
}

// importData imports a bundle's bytes (off the UI thread when live); an
// expired bundle asks first, then imports with force.
func (v *syncView) importData(data []byte, force bool) {
	res, err := v.u.a.Import(data, app.ImportOptions{Force: force, Progress: func(done, total int) {
		if total > 0 {
			v.u.do(func() { v.progress.SetValue(float64(done) / float64(total)) })
		}
	}})
	v.u.do(func() { v.imported(data, res, err) })
}

// imported shows what an import brought: the summary, the table, the mark.
func (v *syncView) imported(data []byte, res app.ImportResult, err error) {
	v.setBusy(false)
	if errors.Is(err, app.ErrBundleExpired) && data != nil {
		v.status.SetText("")
		v.u.confirm(T("sync.bundle_expired_title"), Tf("sync.bundle_expired", when(res.Expires), when(res.Created)), func() {
			v.setBusy(true)
			v.status.SetText(T("sync.importing"))
			v.run(func() { v.importData(data, true) })
		})
		return
	}
	if err != nil {
		v.status.SetText("")
		v.u.showErr(err)
		// A bundle made for a mark that claimed more than this device
		// holds was still imported as far as it goes: show what it brought.
		if !errors.Is(err, app.ErrMarkAhead) {
			return
		}
	}
	v.progress.SetValue(1)
	v.status.SetText(Tf("sync.imported", Tn("count.envelopes", res.Envelopes), res.Admitted, res.Duplicates, res.Waiting, res.Refused))
	v.table.Objects = nil
	if res.From != "" {
		v.table.Add(wrapLabel(Tf("sync.from", res.FromName, when(res.Created), when(res.Expires))))
	}
	if res.ForThisDevice {
		v.table.Add(wrapLabel(T("sync.holds_for_me")))
	}
	if res.SinceMark {
		v.table.Add(wrapLabel(T("sync.holds_lacked")))
	}
	rows := []fyne.CanvasObject{
		widget.NewLabel(T("sync.table.added")), widget.NewLabel(strconv.Itoa(res.Admitted)),
		widget.NewLabel(T("sync.table.already")), widget.NewLabel(strconv.Itoa(res.Duplicates)),
		widget.NewLabel(T("sync.table.waiting")), widget.NewLabel(strconv.Itoa(res.Waiting)),
		widget.NewLabel(T("sync.table.refused")), widget.NewLabel(strconv.Itoa(res.Refused)),
	}
	for _, r := range app.RefusalReasons {
		if n := res.RefusedFor[r]; n > 0 {
			rows = append(rows, widget.NewLabel("  "+enum("sync.refused_reason", r)), widget.NewLabel(strconv.Itoa(n)))
		}
	}
	v.table.Add(container.New(layout.NewFormLayout(), rows...))
	v.table.Refresh()
	v.setMark(res.Mark)
	v.u.refresh()
}

// showMark shows this device's mark.
func (v *syncView) showMark() {
	m, err := v.u.a.Mark()
	if err != nil {
		v.u.showErr(err)
		return
	}
	v.setMark(m)
}

// setMark shows a mark to copy, with what to do with it.
func (v *syncView) setMark(m string) {
	if m == "" {
		return
	}
	v.mark.SetText(m)
	v.mark.Show()
	v.copyMark.Show()
	v.markNote.Show()
}

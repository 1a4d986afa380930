package gui

import (
	"bytes"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
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
}

func newSyncView(u *UI) *syncView {
	v := &syncView{u: u, dot: canvas.NewCircle(aloneColour), conn: boldLabel(""), netNote: wrapLabel(""), peers: container.NewVBox(),
		progress: widget.NewProgressBar(), status: wrapLabel("")}
	v.conn.SizeName = theme.SizeNameSubHeadingText
	v.progress.Hide()
	v.export = widget.NewButtonWithIcon(T("sync.export"), theme.DownloadIcon(), func() { v.startExport() })
	v.imp = widget.NewButtonWithIcon(T("sync.import"), theme.UploadIcon(), func() { v.startImport() })
	badge := container.NewHBox(container.NewCenter(container.NewGridWrap(fyne.NewSize(16, 16), v.dot)), v.conn)
	bundles := container.NewVBox(section(T("sync.bundles")), wrapLabel(T("sync.bundles_note")),
		container.NewHBox(v.export, v.imp), v.progress, v.status)
	v.obj = container.NewVScroll(container.NewPadded(container.NewVBox(
		badge, v.netNote, widget.NewSeparator(), section(T("sync.peers")), v.peers, widget.NewSeparator(), bundles)))
	return v
}

func (v *syncView) apply(ev event) {
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
		v.progress.SetValue(0)
		v.progress.Show()
	} else {
		v.export.Enable()
		v.imp.Enable()
	}
}

// startExport writes a bundle to a file the user picks.
func (v *syncView) startExport() {
	v.u.pickSave("noroshi.bundle", func(w fyne.URIWriteCloser) {
		v.setBusy(true)
		v.status.SetText(T("sync.exporting"))
		work := func() (int, error) {
			defer w.Close()
			var buf bytes.Buffer
			n, err := v.u.a.ExportBundle(&buf)
			if err == nil {
				_, err = w.Write(buf.Bytes())
			}
			return n, err
		}
		done := func(n int, err error) {
			v.setBusy(false)
			v.progress.SetValue(1)
			if err != nil {
				v.status.SetText("")
				v.u.showErr(err)
				return
			}
			v.status.SetText(Tf("sync.exported", Tn("count.envelopes", n), w.URI().Path()))
		}
		v.run(func() { n, err := work(); v.u.do(func() { done(n, err) }) })
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
			var res app.ImportResult
			if err == nil {
				res, err = v.u.a.ImportBundle(data, func(done, total int) {
					if total > 0 {
						v.u.do(func() { v.progress.SetValue(float64(done) / float64(total)) })
					}
				})
			}
			v.u.do(func() {
				v.setBusy(false)
				if err != nil {
					v.status.SetText("")
					v.u.showErr(err)
					return
				}
				v.progress.SetValue(1)
				v.status.SetText(Tf("sync.imported", Tn("count.envelopes", res.Envelopes), res.Admitted, res.Duplicates, res.Waiting, res.Refused))
				v.u.refresh()
			})
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

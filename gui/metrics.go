package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// metricsView is the Metrics screen.
type metricsView struct {
	u   *UI
	obj fyne.CanvasObject
}

func newMetricsView(u *UI) *metricsView {
	return &metricsView{u: u, obj: widget.NewLabel(T("nav.metrics"))}
}

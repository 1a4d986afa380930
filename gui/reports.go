package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// reportsView is the Reports screen.
type reportsView struct {
	u   *UI
	obj fyne.CanvasObject
}

func newReportsView(u *UI) *reportsView {
	return &reportsView{u: u, obj: widget.NewLabel(T("nav.reports"))}
}

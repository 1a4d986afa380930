package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// exercisesView is the Exercises screen.
type exercisesView struct {
	u   *UI
	obj fyne.CanvasObject
}

func newExercisesView(u *UI) *exercisesView {
	return &exercisesView{u: u, obj: widget.NewLabel(T("nav.exercises"))}
}

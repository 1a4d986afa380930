package app

// Changed returns a channel that is closed the next time the views change
// (an envelope folded in, a rebuild). Frontends and tests take the channel,
// read the views, then wait on it: nothing is missed between the two.
func (a *App) Changed() <-chan struct{} {
	a.chmu.Lock()
	defer a.chmu.Unlock()
	if a.changed == nil {
		a.changed = make(chan struct{})
	}
	return a.changed
}

// notify wakes everyone waiting on Changed.
func (a *App) notify() {
	a.chmu.Lock()
	defer a.chmu.Unlock()
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
}

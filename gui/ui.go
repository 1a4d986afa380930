package gui

import (
	"errors"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// Network is the replication the sync screen and the header badge show.
// *app.Network implements it.
type Network interface {
	Peers() ([]app.Peer, app.Connectivity)
	Close() error
}

// Config is what the GUI needs from the process that starts it.
type Config struct {
	// App configures the home the app opens (and creates on first run).
	App app.Config
	// DemoHome is where the demo community lives (created if absent when
	// the user opens it).
	DemoHome string
	// Demo opens DemoHome straight away, with the demo passphrase.
	Demo bool
	// Passphrase, when set (NOROSHI_PASSPHRASE), unlocks without a prompt.
	Passphrase string
	// StartNetwork starts replication for an opened app; nil runs with no
	// network (tests). Its error is shown on the sync screen, not fatal.
	StartNetwork func(*app.App) (Network, error)
	// OnOpen and OnClose let the process serve the opened app to the CLI
	// (the control socket) while the window holds it.
	OnOpen  func(*app.App, Network)
	OnClose func(*app.App)
	// Holding, when set, hears that the window starts unlocking home
	// (true) or lets it go (false: the unlock failed, or the window locked
	// or closed), so the process can tell other processes who holds it.
	// HeldBy says which other process holds a home, if one does; the
	// window says so instead of failing on the store's lock.
	Holding func(home string, held bool)
	HeldBy  func(home string) (Holder, bool)
	// Live starts the goroutine that follows App.Changed. Tests leave it off
	// and views are loaded synchronously after each action.
	Live bool
	// Now is the clock for ages; nil is time.Now.
	Now func() time.Time

	// feedPageSize, in tests, replaces the size of a page of the feed.
	feedPageSize int
	// applied, in tests, hears of every snapshot applied.
	applied func(event)
	// uiThread, in tests, replaces fyne.Do: Fyne's test driver runs
	// fyne.Do on the calling goroutine, so a live test brings its own
	// single UI goroutine.
	uiThread func(func())
}

// Holder is another process that holds a home: `noroshi serve`, or the
// desktop app in another window.
type Holder struct {
	PID     int
	Command string // how people know it: "noroshi serve"
}

// heldError says which process holds a home and how to stop it.
type heldError struct {
	h    Holder
	home string
}

func (e *heldError) Error() string { return Tf("unlock.held", e.h.Command, e.h.PID, e.home, e.h.PID) }

// heldBy returns the error that says which other process holds home, or nil.
func (c *Config) heldBy(home string) error {
	if c.HeldBy == nil {
		return nil
	}
	if h, ok := c.HeldBy(home); ok {
		return &heldError{h, home}
	}
	return nil
}

// holding tells the process that the window holds home, or lets it go.
func (c *Config) holding(home string, held bool) {
	if c.Holding != nil {
		c.Holding(home, held)
	}
}

// openApp unlocks cfg.Home for the window with open, saying first (and
// after a failure) which other process holds it, if one does.
func (c *Config) openApp(cfg app.Config, open func(app.Config) (*app.App, error)) (*app.App, error) {
	if err := c.heldBy(cfg.Home); err != nil {
		return nil, err
	}
	c.holding(cfg.Home, true)
	a, err := open(cfg)
	if err != nil {
		c.holding(cfg.Home, false)
		if herr := c.heldBy(cfg.Home); herr != nil {
			return nil, herr
		}
		return nil, err
	}
	return a, nil
}

// onUI runs f on the UI thread.
func (c *Config) onUI(f func()) {
	if c.uiThread != nil {
		c.uiThread(f)
		return
	}
	fyne.Do(f)
}

// screen names, in the order of the navigation.
const (
	screenFeed      = "feed"
	screenIncidents = "incidents"
	screenContacts  = "contacts"
	screenDirectory = "directory"
	screenSync      = "sync"
	screenExercises = "exercises"
	screenReports   = "reports"
	screenMetrics   = "metrics"
	screenSettings  = "settings"
)

var screens = []string{screenFeed, screenIncidents, screenContacts, screenDirectory, screenSync, screenExercises, screenReports, screenMetrics, screenSettings}

// query is what the views are loaded for: the user's filter and selections.
// The loader goroutine reads it; the UI thread writes it.
type query struct {
	filter app.FeedFilter
	// feedPages is how many pages of the feed are shown: the newest
	// feedPageSize posts, and a page more each time the user asks for
	// more. A change of filter goes back to one page.
	feedPages int
	post      string
	incident  string
	contacts  string
}

// feedPageSize is how many posts a page of the feed holds: the window
// never loads the whole feed of a large community.
const feedPageSize = 200

// feedFilter is the filter the feed is read with: the user's, bounded to
// the pages shown (of size posts each), and one post more, which says
// whether more follow.
func (q query) feedFilter(size int) app.FeedFilter {
	f := q.filter
	f.Limit = max(q.feedPages, 1)*size + 1
	return f
}

// feedPage is the size of a page of the feed (tests make it small).
func (c *Config) feedPage() int {
	if c.feedPageSize > 0 {
		return c.feedPageSize
	}
	return feedPageSize
}

// event is a snapshot of every view, loaded off the UI thread and applied
// on it by (*UI).apply.
type event struct {
	who       app.WhoAmI
	feed      []app.PostSummary
	feedMore  bool // more posts follow the pages shown
	post      *app.PostDetail
	postErr   error
	incidents []app.Incident
	incident  *app.Incident
	contacts  []app.ContactList
	orgs      []app.Org
	members   []app.Member
	peers     []app.Peer
	conn      app.Connectivity
	netErr    error
	loadTime  time.Duration
	// full is set when the views were read from app (not the placeholder
	// a live window starts with).
	full bool
}

// UI is the main window's state: the opened app and every screen.
type UI struct {
	fa  fyne.App
	win fyne.Window
	cfg Config

	a      *app.App
	net    Network
	netErr error

	mu sync.Mutex // guards q
	q  query

	ev     event // the last applied snapshot; UI thread only
	seen   map[string]bool
	loaded bool

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	// stopReads ends sending read receipts as they fall due, and sends
	// the rest (app.HoldReadReceipts).
	stopReads func() error

	// building is set while the screens are made: their widgets' callbacks
	// only record the query then.
	building bool

	current string
	nav     map[string]*widget.Button
	body    *fyne.Container

	header *header
	// revoked holds the red banner shown across the window once this
	// device's revocation is known; empty otherwise.
	revoked    *fyne.Container
	revokedKey string
	feed       *feedView
	post       *postView
	incs       *incidentView
	contacts   *contactsView
	dir        *directoryView
	sync       *syncView
	exercises  *exercisesView // exercises.go
	reports    *reportsView   // reports.go
	metrics    *metricsView   // metrics.go
	settings   *settingsView
	assets     *assetsView // assets.go (from the Directory)

	// pickSave and pickOpen choose files; tests replace them.
	pickSave func(name string, done func(fyne.URIWriteCloser))
	pickOpen func(done func(fyne.URIReadCloser))
	// lastCompose is the compose dialog shown last, for tests.
	lastCompose *composeView
	// lastDialog is the dialog shown last, for tests.
	lastDialog dialog.Dialog
}

func (u *UI) now() time.Time {
	if u.cfg.Now != nil {
		return u.cfg.Now()
	}
	return time.Now()
}

// Session is the window's life: the wizard or the unlock screen, then the
// main UI, back to the unlock screen on lock.
type Session struct {
	fa  fyne.App
	win fyne.Window
	cfg Config

	ui     *UI
	wizard *wizard
	unlock *unlockView
}

// Start shows Noroshi in win: the first-run wizard, the unlock screen, or
// (with a passphrase or the demo) the main window.
func Start(fa fyne.App, win fyne.Window, cfg Config) *Session {
	s := &Session{fa: fa, win: win, cfg: cfg}
	win.SetTitle(T("app.title"))
	s.begin()
	win.SetCloseIntercept(func() {
		s.Close()
		win.Close()
	})
	return s
}

// begin decides what the window shows first.
func (s *Session) begin() {
	switch {
	case s.cfg.Demo:
		s.openDemo()
	case !app.HasIdentity(s.cfg.App.Home):
		s.showWizard()
	case s.cfg.Passphrase != "":
		s.openHome(s.cfg.Passphrase)
	default:
		// Another process holding the home is said before the passphrase
		// is asked for.
		s.showUnlock(s.cfg.heldBy(s.cfg.App.Home))
	}
}

// openHome unlocks the home: off the UI thread when live (a large store
// takes seconds to fold), with a progress bar; back to the unlock screen
// with the error if it fails.
func (s *Session) openHome(pass string) {
	s.background(Tf("unlock.opening", s.cfg.App.Home), func() (*app.App, error) {
		return s.cfg.openApp(s.cfg.App, func(cfg app.Config) (*app.App, error) { return app.Open(cfg, pass) })
	}, func(a *app.App, err error) {
		if err != nil {
			s.showUnlock(err)
			return
		}
		s.opened(a)
	})
}

// background does slow work (scrypt, folding a store, building the demo)
// off the UI thread when live, showing what it does with a progress bar,
// and hands the result to done on the UI thread. In tests it runs at once.
func (s *Session) background(what string, work func() (*app.App, error), done func(*app.App, error)) {
	if !s.cfg.Live {
		done(work())
		return
	}
	bar := widget.NewProgressBarInfinite()
	s.win.SetContent(container.NewCenter(container.NewVBox(wrapLabel(what), bar)))
	go func() {
		a, err := work()
		s.cfg.onUI(func() {
			bar.Stop()
			done(a, err)
		})
	}()
}

// UI returns the main UI once a home is open, else nil.
func (s *Session) UI() *UI { return s.ui }

// Close stops the network and closes the app (also one the wizard opened
// for its community step).
func (s *Session) Close() {
	if s.ui != nil {
		s.ui.close()
		s.ui = nil
	}
	if s.wizard != nil && s.wizard.a != nil {
		s.wizard.a.Close()
		s.cfg.holding(s.wizard.a.Home(), false)
		s.wizard.a = nil
	}
}

// opened shows an unlocked app: the main window when it has joined a
// community, else the wizard's community step.
func (s *Session) opened(a *app.App) {
	if !a.WhoAmI().Joined {
		s.showJoinStep(a)
		return
	}
	s.wizard, s.unlock = nil, nil // the wizard's app, if any, is a: the UI owns it now
	s.ui = newUI(s, a)
}

// lock closes the app and asks for the passphrase again.
func (s *Session) lock() {
	s.Close()
	s.showUnlock(nil)
}

// reload rebuilds the main window (after a language change).
func (s *Session) reload() {
	if s.ui == nil {
		return
	}
	cur := s.ui.current
	a, n, nerr := s.ui.a, s.ui.net, s.ui.netErr
	s.ui.stopLive()
	s.win.SetTitle(T("app.title"))
	s.ui = buildUI(s, a, n, nerr)
	s.ui.show(cur)
}

// openDemo opens the demo community, creating it first if absent.
func (s *Session) openDemo() {
	cfg := s.cfg.App
	cfg.Home = s.cfg.DemoHome
	msg := Tf("demo.creating", cfg.Home)
	if app.HasIdentity(cfg.Home) {
		msg = Tf("unlock.opening", cfg.Home)
	}
	s.background(msg, func() (*app.App, error) { return s.cfg.openApp(cfg, app.OpenDemo) }, func(a *app.App, err error) {
		if err != nil {
			s.showError(err)
			return
		}
		s.opened(a)
	})
}

// showError shows an error that leaves nothing to do but start again.
func (s *Session) showError(err error) {
	msg := wrapLabel(phrase(err))
	back := widget.NewButton(T("action.back"), func() { s.begin() })
	s.win.SetContent(container.NewCenter(container.NewVBox(boldLabel(T("error.title")), msg, back)))
}

func newUI(s *Session, a *app.App) *UI {
	var n Network
	var nerr error
	if s.cfg.StartNetwork != nil {
		n, nerr = s.cfg.StartNetwork(a)
	}
	if s.cfg.OnOpen != nil {
		s.cfg.OnOpen(a, n)
	}
	u := buildUI(s, a, n, nerr)
	u.show(screenFeed)
	return u
}

// buildUI makes every screen for an opened app and starts following it.
func buildUI(s *Session, a *app.App, n Network, nerr error) *UI {
	u := &UI{fa: s.fa, win: s.win, cfg: s.cfg, a: a, net: n, netErr: nerr, seen: map[string]bool{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), nav: map[string]*widget.Button{}, building: true,
		stopReads: a.HoldReadReceipts()}
	// Opening the app is a login in the metrics (one activity record per
	// device per few minutes at most). Not being able to record it changes
	// nothing the user can act on, so it is only logged.
	if err := a.NoteActivity(); err != nil {
		fyne.LogError("record activity", err)
	}
	u.pickSave = func(name string, done func(fyne.URIWriteCloser)) {
		d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil {
				u.showErr(err)
				return
			}
			if w != nil {
				done(w)
			}
		}, u.win)
		d.SetFileName(name)
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	}
	u.pickOpen = func(done func(fyne.URIReadCloser)) {
		d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil {
				u.showErr(err)
				return
			}
			if r != nil {
				done(r)
			}
		}, u.win)
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	}
	u.header = newHeader(u)
	u.revoked = container.NewVBox()
	u.post = newPostView(u)
	u.feed = newFeedView(u)
	u.incs = newIncidentView(u)
	u.contacts = newContactsView(u)
	u.dir = newDirectoryView(u)
	u.sync = newSyncView(u)
	u.exercises = newExercisesView(u)
	u.reports = newReportsView(u)
	u.metrics = newMetricsView(u)
	u.settings = newSettingsView(u, s)
	u.assets = newAssetsView(u)

	navBox := container.NewVBox()
	for _, name := range screens {
		name := name
		b := widget.NewButtonWithIcon(T("nav."+name), navIcon(name), func() { u.show(name) })
		b.Alignment = widget.ButtonAlignLeading
		u.nav[name] = b
		navBox.Add(b)
	}
	u.body = container.NewStack()
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(), container.NewPadded(navBox))
	main := container.NewBorder(nil, nil, left, nil, u.body)
	top := container.NewVBox()
	u.building = false
	if s.cfg.Live {
		// The first frame comes at once; the views follow from the loader
		// goroutine (a feed of 100,000 posts takes app about a second).
		u.apply(event{who: a.WhoAmI(), conn: app.Connectivity{State: "alone"}, netErr: nerr})
		u.refresh()
	} else {
		u.apply(u.load())
	}
	top.Add(u.revoked)
	if u.ev.who.Demo {
		top.Add(banner(T("demo.banner"), demoColour))
	}
	top.Add(u.header.obj)
	top.Add(widget.NewSeparator())
	u.win.SetContent(container.NewBorder(top, nil, nil, nil, main))
	if s.cfg.Live {
		u.startLive()
	}
	return u
}

func navIcon(name string) fyne.Resource {
	switch name {
	case screenFeed:
		return theme.HomeIcon()
	case screenIncidents:
		return theme.WarningIcon()
	case screenContacts:
		return theme.AccountIcon()
	case screenDirectory:
		return theme.ListIcon()
	case screenSync:
		return theme.ViewRefreshIcon()
	case screenExercises:
		return theme.MediaPlayIcon()
	case screenReports:
		return theme.DocumentPrintIcon()
	case screenMetrics:
		return theme.GridIcon()
	}
	return theme.SettingsIcon()
}

// show switches the main area to a screen.
func (u *UI) show(name string) {
	u.current = name
	for n, b := range u.nav {
		if n == name {
			b.Importance = widget.HighImportance
		} else {
			b.Importance = widget.LowImportance
		}
		b.Refresh()
	}
	var obj fyne.CanvasObject
	switch name {
	case screenFeed:
		obj = u.feed.obj
	case screenIncidents:
		obj = u.incs.obj
	case screenContacts:
		obj = u.contacts.obj
	case screenDirectory:
		obj = u.dir.obj
	case screenSync:
		obj = u.sync.obj
	case screenExercises:
		u.exercises.shown()
		obj = u.exercises.obj
	case screenReports:
		obj = u.reports.obj
	case screenMetrics:
		obj = u.metrics.obj
	case screenAssets:
		obj = u.assets.obj
	default:
		obj = u.settings.obj
	}
	u.body.Objects = []fyne.CanvasObject{obj}
	u.body.Refresh()
}

// setQuery changes what the views are loaded for and reloads them.
func (u *UI) setQuery(f func(q *query)) {
	u.mu.Lock()
	before := u.q.filter
	f(&u.q)
	if u.q.filter != before {
		u.q.feedPages = 1
	}
	u.mu.Unlock()
	if !u.building {
		u.refresh()
	}
}

func (u *UI) query() query {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.q
}

// load reads every view from the app. It may run on any goroutine.
func (u *UI) load() event {
	start := time.Now()
	q := u.query()
	ff := q.feedFilter(u.cfg.feedPage())
	ev := event{who: u.a.WhoAmI(), feed: u.a.Feed(ff), incidents: u.a.Incidents(), contacts: u.a.Contacts(q.contacts),
		orgs: u.a.Orgs(), members: u.a.Members(), netErr: u.netErr, conn: app.Connectivity{State: "alone"}}
	if len(ev.feed) >= ff.Limit {
		ev.feed, ev.feedMore = ev.feed[:ff.Limit-1], true
	}
	if q.post != "" {
		d, err := u.a.Show(q.post)
		if err == nil {
			ev.post = &d
		} else {
			ev.postErr = err
		}
	}
	if q.incident != "" {
		if i, err := u.a.Incident(q.incident); err == nil {
			ev.incident = &i
		}
	}
	if u.net != nil {
		ev.peers, ev.conn = u.net.Peers()
	}
	ev.loadTime = time.Since(start)
	ev.full = true
	return ev
}

// refresh reloads the views: through the loader goroutine when live, at
// once otherwise.
func (u *UI) refresh() {
	if !u.cfg.Live {
		u.apply(u.load())
		return
	}
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// apply shows a snapshot: the one place where views change. UI thread only.
func (u *UI) apply(ev event) {
	u.notifyNew(ev)
	u.ev = ev
	if u.header != nil {
		u.header.apply(ev)
	}
	u.applyRevoked(ev.who)
	u.feed.apply(ev)
	u.post.apply(ev)
	u.incs.apply(ev)
	u.contacts.apply(ev)
	u.dir.apply(ev)
	u.sync.apply(ev)
	u.settings.apply(ev)
	if u.exercises != nil {
		u.exercises.apply(ev)
	}
	if u.assets != nil {
		u.assets.apply(ev)
	}
	if u.cfg.applied != nil {
		u.cfg.applied(ev)
	}
}

// applyRevoked shows, across the window, that this device was revoked:
// by whom, when, and that every peer refuses what it writes.
func (u *UI) applyRevoked(w app.WhoAmI) {
	if u.revoked == nil {
		return
	}
	var lines []string
	if w.Revoked {
		by := w.RevokedBy
		if by == "" {
			by = T("revoked.a_coordinator")
		}
		if w.RevokedAt != nil {
			lines = append(lines, Tf("revoked.banner_at", by, when(*w.RevokedAt)))
		} else {
			lines = append(lines, Tf("revoked.banner", by))
		}
		if w.RevokeReason != "" {
			lines = append(lines, Tf("revoked.reason", w.RevokeReason))
		}
		lines = append(lines, T("revoked.what_now"))
	}
	key := strings.Join(lines, "\n")
	if key == u.revokedKey {
		return
	}
	u.revokedKey = key
	u.revoked.Objects = nil
	if len(lines) > 0 {
		u.revoked.Add(bannerLines(lines, revokedColour))
	}
	u.revoked.Refresh()
}

// notifyNew raises a desktop notification for each new important post
// written by someone else; the posts present at start-up are not new.
func (u *UI) notifyNew(ev event) {
	feed := ev.feed
	if !ev.full || u.query().filter != (app.FeedFilter{}) {
		return // a filtered feed says nothing about what is new
	}
	me := u.a.WhoAmI().Device
	for _, p := range feed {
		if u.seen[p.ID] {
			continue
		}
		u.seen[p.ID] = true
		if u.loaded && p.Tag == app.TagImportant && p.Author != me && notificationsOn(u.fa) {
			u.fa.SendNotification(fyne.NewNotification(T("notify.important"), p.TagMark+p.Title+" · "+p.OrgName))
		}
	}
	u.loaded = true
}

// startLive follows App.Changed: a goroutine waits for a change (or a
// kick), loads the views off the UI thread, and hands the snapshot to the
// UI thread. Bursts are coalesced: one load per 150 ms at most.
func (u *UI) startLive() {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		// Peers change without envelopes: their state is read again every
		// few seconds, without reloading the views (a large feed costs app
		// a second).
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		var last event
		for {
			ch := u.a.Changed()
			peersOnly := false
			select {
			case <-ch:
			case <-u.kick:
			case <-tick.C:
				peersOnly = last.full
			case <-u.stop:
				return
			}
			var ev event
			if peersOnly {
				if u.net == nil {
					continue
				}
				ev = last
				ev.peers, ev.conn = u.net.Peers()
			} else {
				select {
				case <-time.After(150 * time.Millisecond):
				case <-u.stop:
					return
				}
				ev = u.load()
			}
			last = ev
			u.cfg.onUI(func() {
				select {
				case <-u.stop:
				default:
					u.apply(ev)
				}
			})
		}
	}()
}

func (u *UI) stopLive() {
	select {
	case <-u.stop:
	default:
		close(u.stop)
	}
	u.wg.Wait()
}

func (u *UI) close() {
	u.stopLive()
	if u.cfg.OnClose != nil {
		u.cfg.OnClose(u.a)
	}
	if u.net != nil {
		u.net.Close()
	}
	u.stopReads()
	if u.sync != nil {
		u.sync.feed.stop()
	}
	u.a.Close()
	u.cfg.holding(u.a.Home(), false)
}

// showErr shows an error from app: its message says what went wrong and
// what to do, in English; the title is translated.
func (u *UI) showErr(err error) {
	d := dialog.NewError(errors.New(phrase(err)), u.win)
	u.lastDialog = d
	d.Show()
}

// showInfo shows a message.
func (u *UI) showInfo(title, msg string) {
	d := dialog.NewCustom(title, T("action.ok"), container.NewPadded(wrapLabelSized(msg, 420)), u.win)
	u.lastDialog = d
	d.Show()
}

// confirm asks before doing something.
func (u *UI) confirm(title, msg string, yes func()) {
	newConfirmDialog(u, title, container.NewPadded(wrapLabelSized(msg, 460)), yes).Show()
}

// newConfirmDialog makes a dialog with confirm and cancel buttons.
func newConfirmDialog(u *UI, title string, content fyne.CanvasObject, yes func()) *dialog.ConfirmDialog {
	d := dialog.NewCustomConfirm(title, T("action.confirm"), T("action.cancel"), content, func(ok bool) {
		if ok {
			yes()
		}
	}, u.win)
	u.lastDialog = d
	return d
}

// wrapLabelSized is a wrapping label that asks for a given width, so a
// dialog is wide enough for it.
func wrapLabelSized(text string, width float32) fyne.CanvasObject {
	l := wrapLabel(text)
	return container.New(&minWidth{w: width}, l)
}

// minWidth lays out one object at least w wide.
type minWidth struct{ w float32 }

func (m *minWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

func (m *minWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		o.Resize(fyne.NewSize(m.w, o.MinSize().Height))
		s = s.Max(o.MinSize())
	}
	s.Width = fyne.Max(s.Width, m.w)
	return s
}

var _ fyne.Layout = (*minWidth)(nil)

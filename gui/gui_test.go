package gui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

func TestWizardCreatesIdentityAndCommunity(t *testing.T) {
	fa, w := newWindow(t)
	cfg := testConfig(t)
	s := Start(fa, w, cfg)
	t.Cleanup(s.Close)
	wz := s.wizard
	if wz == nil {
		t.Fatal("a home with no identity does not open the wizard")
	}
	test.Type(wz.name, "Alice Analyst")
	test.Type(wz.pass, "correct horse battery")
	if wz.strength.Text == "" {
		t.Error("no strength hint while typing the passphrase")
	}
	test.Type(wz.again, "correct horse battery!")
	test.Tap(wz.create)
	if got := wz.message.Text; got != T("wizard.passphrases_differ") {
		t.Fatalf("differing passphrases: message %q", got)
	}
	if app.HasIdentity(cfg.App.Home) {
		t.Fatal("identity created although the passphrases differ")
	}
	wz.again.SetText("correct horse battery")
	test.Tap(wz.create)
	if !app.HasIdentity(cfg.App.Home) {
		t.Fatalf("no identity created: %q", wz.message.Text)
	}
	wz = s.wizard
	assertShows(t, w.Content(), "Alice Analyst")

	// A join request written to a file.
	req := filepath.Join(t.TempDir(), "alice.request")
	wz.pickSave = func(name string, done func(fyne.URIWriteCloser)) { saveToURI(t, req, done) }
	test.Tap(wz.writeRequest)
	if b, err := os.ReadFile(req); err != nil || !bytes.Contains(b, []byte("noroshi-join-request")) {
		t.Fatalf("join request not written: %v %q", err, b)
	}

	test.Type(wz.commName, "Games 2026")
	test.Type(wz.orgName, "Coordination Centre")
	test.Tap(wz.createCommunity)
	u := s.UI()
	if u == nil {
		t.Fatalf("community not created: %q", wz.message.Text)
	}
	if !u.ev.who.Joined || u.ev.who.CommunityName != "Games 2026" {
		t.Fatalf("whoami after the wizard: %+v", u.ev.who)
	}
	assertShows(t, u.header.obj, "Games 2026 · Coordination Centre")
}

func saveToURI(t testing.TB, path string, done func(fyne.URIWriteCloser)) {
	u := &UI{}
	saveTo(u, path)
	u.pickSave("", done)
}

func TestUnlock(t *testing.T) {
	cfg := testConfig(t)
	if _, err := app.Init(cfg.App, "Bob", "a long passphrase"); err != nil {
		t.Fatal(err)
	}
	fa, w := newWindow(t)
	s := Start(fa, w, cfg)
	t.Cleanup(s.Close)
	if s.unlock == nil {
		t.Fatal("an existing home does not ask for the passphrase")
	}
	test.Type(s.unlock.pass, "wrong passphrase")
	test.Tap(s.unlock.unlock)
	if s.unlock.message.Text != T("unlock.wrong") {
		t.Fatalf("wrong passphrase: message %q", s.unlock.message.Text)
	}
	s.unlock.pass.SetText("a long passphrase")
	test.Tap(s.unlock.unlock)
	if s.wizard == nil || s.wizard.a == nil {
		t.Fatal("unlocked home without a community does not show the community step")
	}
	s.Close()

	// NOROSHI_PASSPHRASE unlocks without the prompt.
	cfg.Passphrase = "a long passphrase"
	fa2, w2 := newWindow(t)
	s2 := Start(fa2, w2, cfg)
	t.Cleanup(s2.Close)
	if s2.unlock != nil || s2.wizard == nil {
		t.Fatal("the passphrase from the environment did not unlock")
	}
}

func TestDemoMainWindow(t *testing.T) {
	_, u := startDemo(t)
	content := u.win.Content()
	assertShows(t, content, T("demo.banner"))
	assertShows(t, content, "Games 2026 (demo)")
	assertShows(t, content, T("conn.alone"))
	if len(u.feed.posts) < 9 {
		t.Fatalf("feed has %d posts, want the demo's 9", len(u.feed.posts))
	}
	// Every screen shows.
	for _, name := range screens {
		test.Tap(u.nav[name])
		if u.current != name {
			t.Fatalf("tapping %s shows %s", name, u.current)
		}
		w := u.win
		if img := w.Canvas().Capture(); img == nil {
			t.Fatalf("screen %s does not render", name)
		}
	}
}

func TestPostWithEveryTLP(t *testing.T) {
	_, u := startDemo(t)
	for _, tlp := range app.TLPs {
		c := u.openCompose()
		c.tlp.SetSelected(tlp.Label())
		if !strings.Contains(c.rule.Text, tlp.Label()) {
			t.Errorf("%s: the rule shown is %q", tlp, c.rule.Text)
		}
		c.tag.SetSelected(enum("tag", app.TagImportant))
		c.typ.SetSelected(enum("type", app.TypeMalware))
		switch tlp {
		case app.TLPRed:
			c.scope.SetSelected(T("scope.people"))
			c.people.SetSelected([]string{"Venue Lead (Venue North)"})
		case app.TLPAmberStrict:
			c.scope.SetSelected(T("scope.orgs"))
			c.orgs.SetSelected([]string{"Venue North"})
		}
		title := "Test post " + string(tlp)
		test.Type(c.title, title)
		test.Type(c.body, "See **this**.")
		test.Type(c.indicators, "198.51.100.99\nhttp://bad.example/x")
		c.addFile("iocs.txt", []byte("198.51.100.99\n"))
		test.Tap(c.post)
		if u.post.detail == nil || u.post.detail.Title != title {
			t.Fatalf("%s: the new post is not shown (dialog: %v)", tlp, u.lastDialog)
		}
		d := u.post.detail
		if d.TLP != tlp.Label() || len(d.Files) != 1 || d.Delivery == nil {
			t.Fatalf("%s: detail %+v", tlp, d)
		}
		body := u.post.obj
		assertShows(t, body, "198.51.100[.]99")
		assertShows(t, body, "hxxp://bad[.]example/x")
		assertShows(t, body, T("delivery.only_here"))
	}
	found := map[string]bool{}
	for _, p := range u.feed.posts {
		if strings.HasPrefix(p.Title, "Test post ") {
			found[p.TLP] = true
		}
	}
	if len(found) != len(app.TLPs) {
		t.Fatalf("feed holds the test posts of %v, want every TLP", found)
	}

	// A rule broken is app's error, shown, and nothing posted.
	c := u.openCompose()
	c.tlp.SetSelected(app.TLPRed.Label())
	test.Type(c.title, "RED to the whole community")
	n := len(u.feed.posts)
	test.Tap(c.post)
	if len(u.feed.posts) != n {
		t.Fatal("a RED post to the whole community was accepted")
	}
	if _, ok := u.lastDialog.(dialog.Dialog); !ok {
		t.Fatal("no error shown")
	}
}

func TestReadCommentBookmarkRetract(t *testing.T) {
	_, u := startDemo(t)
	p := selectPost(t, u, "DDoS campaign")
	if !p.Unread {
		t.Fatal("demo post should start unread")
	}
	reads := u.post.detail.Reads
	test.Tap(u.post.read)
	if u.post.detail.Unread || u.post.detail.Reads != reads+1 || !u.post.read.Disabled() {
		t.Fatalf("after read: unread %v, reads %d (was %d)", u.post.detail.Unread, u.post.detail.Reads, reads)
	}
	// Who read it: the duty officer is a coordinator.
	assertShows(t, u.post.obj, "Who read it")

	bookmarked := u.post.detail.Bookmarked
	test.Tap(u.post.bookmark)
	if u.post.detail.Bookmarked == bookmarked {
		t.Fatal("bookmark did not toggle")
	}
	test.Type(u.post.comment, "Confirmed at Venue North.")
	test.Tap(u.post.send)
	assertShows(t, u.post.obj, "Confirmed at Venue North.")
	if u.post.comment.Text != "" {
		t.Fatal("comment entry not cleared")
	}

	// Filters: bookmarked, then unread.
	test.Tap(u.feed.bookmarked)
	for _, q := range u.feed.posts {
		if !q.Bookmarked {
			t.Fatalf("bookmarked filter shows %q", q.Title)
		}
	}
	test.Tap(u.feed.bookmarked)
	test.Tap(u.feed.unread)
	for _, q := range u.feed.posts {
		if q.ID == p.ID {
			t.Fatal("unread filter shows a read post")
		}
	}
	test.Tap(u.feed.unread)

	// Search as you type.
	test.Type(u.header.search, "earthquake")
	if len(u.feed.posts) != 1 || !strings.Contains(u.feed.posts[0].Title, "Earthquake") {
		t.Fatalf("search: %d posts", len(u.feed.posts))
	}
	u.header.search.SetText("")

	// The author retracts their own post.
	selectPost(t, u, "Fake live-streaming")
	test.Tap(u.post.retract)
	d, ok := u.lastDialog.(*dialog.ConfirmDialog)
	if !ok {
		t.Fatal("no confirmation before retracting")
	}
	d.Confirm()
	for _, q := range u.feed.posts {
		if strings.Contains(q.Title, "Fake live-streaming") {
			t.Fatal("retracted post still in the feed")
		}
	}
}

func TestLinksNeedConfirmation(t *testing.T) {
	_, u := startDemo(t)
	if _, err := u.a.Post(app.PostDraft{Type: app.TypeAlert, Tag: app.TagCaution, TLP: app.TLPClear, Title: "Link test",
		Body: "See [the advisory](https://evil.example/path?q=1) and ![pixel](https://tracker.example/p.png)"}); err != nil {
		t.Fatal(err)
	}
	u.refresh()
	selectPost(t, u, "Link test")
	var link *widget.HyperlinkSegment
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *widget.RichText:
			for _, s := range v.Segments {
				if p, ok := s.(*widget.ParagraphSegment); ok {
					for _, x := range p.Texts {
						if h, ok := x.(*widget.HyperlinkSegment); ok {
							link = h
						}
					}
				}
				if h, ok := s.(*widget.HyperlinkSegment); ok {
					link = h
				}
			}
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
		}
	}
	walk(u.post.box)
	if link == nil || link.OnTapped == nil {
		t.Fatal("the body's link is not intercepted")
	}
	link.OnTapped()
	d, ok := u.lastDialog.(*dialog.ConfirmDialog)
	if !ok {
		t.Fatal("tapping a link does not ask first")
	}
	if u.post.lastLink.String() != "https://evil.example/path?q=1" {
		t.Fatalf("confirmation for %v", u.post.lastLink)
	}
	_ = d
	if shows(u.post.obj, "tracker.example/p.png") {
		t.Fatal("image address shown un-defanged")
	}
	assertShows(t, u.post.obj, "tracker[.]example")
}

func TestIncidentFlow(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenIncidents])
	v := u.incs
	v.category.SetSelected(enum("category", app.CatRansomware))
	test.Type(v.title, "Files encrypted on the ticketing back office")
	v.affects.SetSelected(enum("affects", app.AffectsYes))
	test.Tap(v.support)
	test.Type(v.desc, "Ransom note found at 13:30.")
	v.addFile("ransom-note.txt", []byte("YOUR FILES ARE ENCRYPTED"))
	assertShows(t, v.fileList, "ransom-note.txt")
	test.Tap(v.report)
	if v.shown == nil || v.shown.Title != "Files encrypted on the ticketing back office" || !v.shown.SupportRequested {
		t.Fatalf("reported incident not shown: %+v", v.shown)
	}
	if len(v.shown.Files) != 1 || v.shown.Files[0].Name != "ransom-note.txt" || len(v.files) != 0 {
		t.Fatalf("incident files = %+v, form files left %d; want the note attached and the form cleared", v.shown.Files, len(v.files))
	}
	assertShows(t, v.scroll, "ransom-note.txt")
	for i, s := range app.Statuses[1:] {
		v.status.SetSelected(enum("status", s))
		if i == 0 {
			v.assign.SetSelected("Duty Officer (Coordination Centre)")
		}
		test.Type(v.note, "step "+string(s))
		test.Tap(v.update)
		if v.shown.Status != s {
			t.Fatalf("status %s: shown %s", s, v.shown.Status)
		}
	}
	if len(v.shown.Timeline) != len(app.Statuses)-1 || v.shown.AssigneeName != "Duty Officer" {
		t.Fatalf("timeline %+v, assignee %q", v.shown.Timeline, v.shown.AssigneeName)
	}
	assertShows(t, v.scroll, "step closed")
	// The board shows every status column and the incident under closed.
	assertShows(t, v.board, enum("status", app.StatusClosed))
	assertShows(t, v.board, "Files encrypted on the ticketing back office")
	assertShows(t, v.board, "UDP flood against venue Wi-Fi controller")
}

func TestContacts(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenContacts])
	v := u.contacts
	assertShows(t, v.box, "Railway CSIRT")
	test.Type(v.role, "Night duty")
	test.Type(v.name, "Centre night desk")
	test.Type(v.phone, "+81-3-0000-0009")
	test.Tap(v.save)
	assertShows(t, v.box, "Centre night desk")
	test.Type(v.search, "night desk")
	if shows(v.box, "Railway CSIRT") || !shows(v.box, "Centre night desk") {
		t.Fatalf("search: %q", texts(v.box))
	}
	tapButton(t, v.box, T("contacts.copy"))
	if got := u.fa.Clipboard().Content(); got != "+81-3-0000-0009" {
		t.Fatalf("clipboard holds %q", got)
	}
}

func TestDirectoryRevoke(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenDirectory])
	assertShows(t, u.dir.box, "Metro Power")
	test.Type(u.dir.addName, "Water Works")
	u.dir.addKind.SetSelected(enum("kind", app.KindCriticalService))
	u.dir.addSector.SetSelected(enum("sector", "water"))
	test.Tap(u.dir.addOrg)
	assertShows(t, u.dir.box, "Water Works")

	var dev string
	for _, m := range u.ev.members {
		if m.Name == "Federation IT" {
			dev = m.Devices[0].ID
		}
	}
	b := u.dir.revokeButtons[dev]
	if b == nil {
		t.Fatal("no revoke button for a member's device")
	}
	test.Tap(b)
	d, ok := u.lastDialog.(*dialog.ConfirmDialog)
	if !ok {
		t.Fatal("no confirmation before revoking")
	}
	d.Confirm() // no reason: app refuses
	for _, m := range u.ev.members {
		if m.Name == "Federation IT" && m.Devices[0].Revoked {
			t.Fatal("revoked without a reason")
		}
	}
	test.Tap(u.dir.revokeButtons[dev])
	d = u.lastDialog.(*dialog.ConfirmDialog)
	// The reason entry is in the dialog's content.
	var reason *widget.Entry
	for _, o := range test.LaidOutObjects(u.win.Canvas().Overlays().Top()) {
		if e, ok := o.(*widget.Entry); ok {
			reason = e
		}
	}
	if reason == nil {
		t.Fatal("no reason entry")
	}
	test.Type(reason, "Laptop lost at the venue")
	d.Confirm()
	revoked := false
	for _, m := range u.ev.members {
		for _, x := range m.Devices {
			if x.ID == dev && x.Revoked && x.RevokeReason == "Laptop lost at the venue" {
				revoked = true
			}
		}
	}
	if !revoked || u.dir.revokeButtons[dev] != nil {
		t.Fatal("device not shown revoked")
	}
}

func TestSyncBundleRoundTrip(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenSync])
	assertShows(t, u.sync.obj, T("sync.no_network"))
	path := filepath.Join(t.TempDir(), "x.bundle")
	saveTo(u, path)
	test.Tap(u.sync.export)
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("bundle not written: %v", err)
	}
	test.Tap(u.sync.imp)
	if u.sync.progress.Value != 1 || !strings.Contains(u.sync.status.Text, "already here") {
		t.Fatalf("import: progress %v, status %q", u.sync.progress.Value, u.sync.status.Text)
	}
}

func TestSettings(t *testing.T) {
	s, u := startDemo(t)
	test.Tap(u.nav[screenSettings])
	assertShows(t, u.settings.obj, u.ev.who.Device)

	// Key file backup.
	path := filepath.Join(t.TempDir(), "key-backup.age")
	saveTo(u, path)
	test.Tap(u.settings.backup)
	want, _ := u.a.KeyFile()
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("backup: %v", err)
	}
	assertShows(t, u.settings.obj, "new device")

	// Switch to Japanese: the window is rebuilt in Japanese.
	t.Cleanup(func() { SetLanguage("en") })
	u.settings.language.SetSelected("日本語")
	u = s.UI()
	if got := u.nav[screenFeed].Text; got != "フィード" {
		t.Fatalf("after switching to Japanese the feed is %q", got)
	}
	if LanguagePreference(u.fa) != "ja" || CurrentLanguage() != "ja" {
		t.Fatal("language choice not kept")
	}
	if u.current != screenSettings {
		t.Fatalf("after the switch the window shows %s", u.current)
	}
	u.settings.language.SetSelected("English")
	u = s.UI()
	if got := u.nav[screenFeed].Text; got != "Feed" {
		t.Fatalf("back in English the feed is %q", got)
	}

	// Lock: back to the passphrase.
	test.Tap(u.settings.lock)
	if s.UI() != nil || s.unlock == nil {
		t.Fatal("lock did not close the home")
	}
}

func TestImportantPostNotifies(t *testing.T) {
	_, u := startDemo(t)
	p := app.PostSummary{ID: "feedfacefeedface", Tag: app.TagImportant, TagMark: app.TagImportant.Mark(), Title: "Ransomware at a venue contractor", OrgName: "National CSIRT", Author: "someone-else"}
	test.AssertNotificationSent(t, fyne.NewNotification(T("notify.important"), p.TagMark+p.Title+" · "+p.OrgName), func() {
		u.notifyNew(event{full: true, feed: append([]app.PostSummary{p}, u.ev.feed...)})
	})
	// Posts already seen do not notify again.
	test.AssertNotificationSent(t, nil, func() { u.notifyNew(event{full: true, feed: []app.PostSummary{p}}) })
}

// A new member's wizard writes a join request; a coordinator's directory
// turns it into an invite; the wizard opens the invite and joins.
func TestJoinByInvite(t *testing.T) {
	_, centre := startDemo(t)

	fa, w := newWindow(t)
	s := Start(fa, w, testConfig(t))
	t.Cleanup(s.Close)
	wz := s.wizard
	test.Type(wz.name, "New Venue Staff")
	test.Type(wz.pass, "four words of passphrase")
	test.Type(wz.again, "four words of passphrase")
	test.Tap(wz.create)
	wz = s.wizard
	dir := t.TempDir()
	req, inv := filepath.Join(dir, "staff.request"), filepath.Join(dir, "staff.invite")
	wz.pickSave = func(name string, done func(fyne.URIWriteCloser)) { saveToURI(t, req, done) }
	test.Tap(wz.writeRequest)
	assertShows(t, w.Content(), req)

	test.Tap(centre.nav[screenDirectory])
	centre.dir.invOrg.SetSelected("Venue North")
	centre.pickOpen = func(done func(fyne.URIReadCloser)) { openURI(t, req, done) }
	centre.pickSave = func(name string, done func(fyne.URIWriteCloser)) { saveToURI(t, inv, done) }
	test.Tap(centre.dir.invite)
	if _, err := os.Stat(inv); err != nil {
		t.Fatalf("no invite written: %v (%v)", err, centre.lastDialog)
	}

	wz.pickOpen = func(done func(fyne.URIReadCloser)) { openURI(t, inv, done) }
	test.Tap(wz.openInvite)
	u := s.UI()
	if u == nil {
		t.Fatalf("not joined: %q", wz.message.Text)
	}
	if who := u.ev.who; !who.Joined || who.OrgName != "Venue North" || who.CommunityName != "Games 2026 (demo)" {
		t.Fatalf("joined as %+v", who)
	}
}

// The wizard's demo button opens the demo community.
func TestWizardOpensDemo(t *testing.T) {
	fa, w := newWindow(t)
	s := Start(fa, w, testConfig(t))
	t.Cleanup(s.Close)
	test.Tap(s.wizard.demo)
	if s.UI() == nil || !s.UI().ev.who.Demo {
		t.Fatal("the demo did not open")
	}
}

func openURI(t testing.TB, path string, done func(fyne.URIReadCloser)) {
	u := &UI{}
	saveTo(u, path)
	u.pickOpen(done)
}

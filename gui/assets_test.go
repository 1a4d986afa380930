package gui

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"noroshi/app"
)

// TestAssetsRegisterEdit: a coordinator opens the register from the
// Directory, chooses an organisation, registers a range (a refused one
// changes nothing), sees the concern in a post's detail, and sends the
// pre-filled observation notice from it.
func TestAssetsRegisterEdit(t *testing.T) {
	_, u := startDemo(t)
	u.show(screenDirectory)
	tapButton(t, u.dir.obj, T("assets.open"))
	if u.current != screenAssets {
		t.Fatalf("screen %q, want the register", u.current)
	}
	v := u.assets
	v.org.SetSelected("Venue North")
	before, err := u.a.Assets("Venue North")
	if err != nil {
		t.Fatal(err)
	}
	v.kind.SetSelected(T("assets.kind.cidr"))
	v.value.SetText("198.51.100.0/24")
	v.note.SetText("ticket gates")
	tapButton(t, v.obj, T("assets.add"))
	assertShows(t, v.obj, "198.51.100.0/24  · ticket gates")
	reg, _ := u.a.Assets("Venue North")
	if len(reg.Entries) != len(before.Entries)+1 {
		t.Fatalf("register: %+v", reg)
	}
	// Too broad: refused with the reason, nothing written.
	v.value.SetText("0.0.0.0/0")
	u.lastDialog = nil
	tapButton(t, v.obj, T("assets.add"))
	if u.lastDialog == nil {
		t.Fatal("no error shown for 0.0.0.0/0")
	}
	if r, _ := u.a.Assets("Venue North"); len(r.Entries) != len(reg.Entries) {
		t.Fatalf("a refused entry was written: %+v", r)
	}
	if got := assetErr(&app.AssetError{Value: "0.0.0.0/0", Reason: app.AssetTooBroad}).Error(); !strings.Contains(got, "/16") || !strings.Contains(got, "0.0.0.0/0") {
		t.Errorf("phrased refusal: %q", got)
	}
	// The demo's malware post names 198.51.100.23: a notice is offered.
	v.reloadLists()
	assertShows(t, v.obj, Tf("assets.notice_button", "Venue North"))

	u.show(screenFeed)
	p := selectPost(t, u, "Malware disguised")
	banner := Tf("assets.concerns_org", "Venue North", T("assets.word.cidr"), "198.51.100[.]23", "198.51.100.0/24, ticket gates")
	assertShows(t, u.post.obj, banner)
	tapButton(t, u.post.obj, Tf("assets.notice_button", "Venue North"))
	c := u.lastCompose
	if c == nil {
		t.Fatal("no compose dialog")
	}
	if c.about != p.ID || c.channel.Selected != enum("channel", app.ChannelObservation) || c.tlp.Selected != app.TLPAmber.Label() ||
		strings.Join(c.orgs.Selected(), ",") != "Venue North" || !strings.Contains(c.title.Text, "198.51.100[.]23") {
		t.Fatalf("notice draft: about %q channel %q tlp %q orgs %v title %q", c.about, c.channel.Selected, c.tlp.Selected, c.orgs.Selected(), c.title.Text)
	}
	test.Tap(c.post)
	for _, n := range u.a.NoticeCandidates() {
		if n.Post.ID == p.ID && n.OrgName == "Venue North" {
			t.Fatalf("still a candidate after the notice: %+v", n)
		}
	}
	u.setQuery(func(q *query) { q.post = p.ID })
	assertShows(t, u.post.obj, Tf("assets.noticed", "Venue North"))
	if findButton(u.post.obj, Tf("assets.notice_button", "Venue North")) != nil {
		t.Error("the notice is still offered")
	}

	// Remove the entry again.
	u.openAssets()
	v.org.SetSelected("Venue North")
	removed := false
	for _, row := range v.list.Objects {
		if shows(row, "198.51.100.0/24") {
			tapButton(t, row, T("assets.remove"))
			removed = true
			break
		}
	}
	if r, _ := u.a.Assets("Venue North"); !removed || fmt.Sprint(r.Entries) != fmt.Sprint(before.Entries) {
		t.Fatalf("after remove: %+v", r)
	}
}

// assetMemberHome makes a community whose Venue North admin is the device
// of cfg's home, and returns the coordinator's app (its own home).
func assetMemberHome(t *testing.T, cfg Config) *app.App {
	t.Helper()
	const pass = "correct horse battery staple"
	ccfg := cfg.App
	ccfg.Home = filepath.Join(t.TempDir(), "centre")
	if _, err := app.Init(ccfg, "Duty Officer", pass); err != nil {
		t.Fatal(err)
	}
	centre, err := app.Open(ccfg, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { centre.Close() })
	if _, err := centre.CreateCommunity(app.CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: app.KindCoordination}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"Venue North", "Venue South"} {
		if _, err := centre.AddOrg(o, app.KindVenue, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Init(cfg.App, "Venue Lead", pass); err != nil {
		t.Fatal(err)
	}
	lead, err := app.Open(cfg.App, pass)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	req, err := lead.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := centre.Invite(req, app.InviteOptions{Org: "Venue North", Role: app.RoleOrgAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lead.Join(inv); err != nil {
		t.Fatal(err)
	}
	return centre
}

// TestAssetsConcernBanner: an organisation's admin registers its range in
// the app; a post naming an address inside it says so in its detail, in
// both languages, with no notice button (coordinators send notices).
func TestAssetsConcernBanner(t *testing.T) {
	for _, lang := range []string{"en", "ja"} {
		t.Run(lang, func(t *testing.T) {
			if err := SetLanguage(lang); err != nil {
				t.Fatal(err)
			}
			defer SetLanguage("en")
			fa, w := newWindow(t)
			cfg := testConfig(t)
			centre := assetMemberHome(t, cfg)
			cfg.Passphrase = "correct horse battery staple"
			s := Start(fa, w, cfg)
			t.Cleanup(s.Close)
			u := s.UI()
			if u == nil {
				t.Fatalf("the home did not open: %s", strings.Join(texts(w.Content()), " | "))
			}
			u.openAssets()
			v := u.assets
			if v.org.Selected != "Venue North" || !v.org.Disabled() {
				t.Fatalf("org select: %q (disabled %v), options %v", v.org.Selected, v.org.Disabled(), v.org.Options)
			}
			v.kind.SetSelected(T("assets.kind.cidr"))
			v.value.SetText("203.0.113.0/24")
			v.note.SetText("ticket gates")
			tapButton(t, v.obj, T("assets.add"))
			assertShows(t, v.obj, "203.0.113.0/24")

			p, err := centre.Post(app.PostDraft{Type: app.TypeAlert, Tag: app.TagCaution, TLP: app.TLPGreen, Title: "Scanning of ticket gates",
				Body: "Scans against 203.0.113.17 since 02:10."})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if _, err := centre.ExportBundle(&b); err != nil {
				t.Fatal(err)
			}
			if _, err := u.a.ImportBundle(b.Bytes(), nil); err != nil {
				t.Fatal(err)
			}
			u.refresh()
			u.show(screenFeed)
			selectPost(t, u, "Scanning of ticket gates")
			want := Tf("assets.concerns_yours", T("assets.word.cidr"), "203.0.113[.]17", "203.0.113.0/24, ticket gates")
			assertShows(t, u.post.obj, want)
			if findButton(u.post.obj, Tf("assets.notice_button", "Venue North")) != nil {
				t.Error("a member is offered to send a notice")
			}
			u.openAssets()
			assertShows(t, v.obj, "Scanning of ticket gates")
			assertShows(t, v.obj, Tf("assets.match_line", "203.0.113[.]17", "203.0.113.0/24, ticket gates"))
			if p.ID == "" {
				t.Fatal("no post")
			}
		})
	}
}

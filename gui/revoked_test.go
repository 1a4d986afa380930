package gui

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"noroshi/app"
)

// revokedHome makes a community in which the device of cfg's home is
// revoked, and carries the revocation to that home by a bundle.
func revokedHome(t *testing.T, cfg Config) {
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
	defer centre.Close()
	if _, err := centre.CreateCommunity(app.CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: app.KindCoordination}); err != nil {
		t.Fatal(err)
	}
	if _, err := centre.AddOrg("Venue North", app.KindVenue, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Init(cfg.App, "Venue Lead", pass); err != nil {
		t.Fatal(err)
	}
	member, err := app.Open(cfg.App, pass)
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	req, err := member.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := centre.Invite(req, app.InviteOptions{Org: "Venue North", Role: app.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.Join(inv); err != nil {
		t.Fatal(err)
	}
	if _, err := centre.Revoke(member.WhoAmI().Device, "laptop lost"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := centre.ExportBundle(&b); err != nil {
		t.Fatal(err)
	}
	// The records are sealed to the new community key: the import brings
	// the certificates only, and says so.
	member.ImportBundle(b.Bytes(), nil)
	if !member.WhoAmI().Revoked {
		t.Fatal("the revocation did not reach the member's store")
	}
}

// TestRevokedBanner: once a device's revocation is known, a red banner
// across the window says who revoked it and what to do, in both languages.
func TestRevokedBanner(t *testing.T) {
	for _, lang := range []string{"en", "ja"} {
		t.Run(lang, func(t *testing.T) {
			if err := SetLanguage(lang); err != nil {
				t.Fatal(err)
			}
			defer SetLanguage("en")
			fa, w := newWindow(t)
			cfg := testConfig(t)
			revokedHome(t, cfg)
			cfg.Passphrase = "correct horse battery staple"
			s := Start(fa, w, cfg)
			t.Cleanup(s.Close)
			u := s.UI()
			if u == nil {
				t.Fatalf("the home did not open: %s", strings.Join(texts(w.Content()), " | "))
			}
			who := u.ev.who
			want := Tf("revoked.banner_at", "Duty Officer (Coordination Centre)", when(*who.RevokedAt))
			assertShows(t, u.revoked, want)
			assertShows(t, u.revoked, T("revoked.what_now"))
			assertShows(t, w.Content(), want)
		})
	}
}

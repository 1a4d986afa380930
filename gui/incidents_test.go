package gui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"noroshi/app"
)

// TestIncidentStatusRulesGUI: the status picker offers exactly the moves
// app allows this device; a forbidden move tried through the view is
// refused with its reason (translated) and the moves allowed instead; the
// coordinator routes an incident to support organisations and opens a
// re-publication without names.
func TestIncidentStatusRulesGUI(t *testing.T) {
	for _, lang := range []string{"en", "ja"} {
		t.Run(lang, func(t *testing.T) {
			if err := SetLanguage(lang); err != nil {
				t.Fatal(err)
			}
			defer SetLanguage("en")
			_, u := startDemo(t)
			test.Tap(u.nav[screenIncidents])
			v := u.incs
			v.category.SetSelected(enum("category", app.CatRansomware))
			test.Type(v.title, "Ransom note at Venue North")
			v.kinds.SetSelected([]string{enum("support", app.SupportMalwareAnalysis)})
			test.Type(v.desc, "Found by Venue Lead at 13:30.")
			test.Tap(v.report)
			if v.shown == nil || !slices.Equal(v.shown.Support, []app.SupportKind{app.SupportMalwareAnalysis}) {
				t.Fatalf("reported: %+v", v.shown)
			}
			assertShows(t, v.scroll, enum("support", app.SupportMalwareAnalysis))
			for _, s := range app.Statuses[1:] {
				// The picker offers the allowed moves, nothing else.
				var want []string
				for _, m := range v.shown.Moves {
					want = append(want, enum("status", m))
				}
				if !slices.Equal(v.status.Options, want) {
					t.Fatalf("at %s: picker %q, moves %q", v.shown.Status, v.status.Options, want)
				}
				v.status.SetSelected(enum("status", s))
				test.Type(v.note, "to "+string(s))
				test.Tap(v.update)
				if v.shown.Status != s {
					t.Fatalf("status %s: shown %s (%s)", s, v.shown.Status, v.refusal)
				}
			}
			// Closed: a reopening without a reason, a move the rules lack,
			// back to reported: each refused with its reason.
			for _, c := range []struct {
				to     app.Status
				reason app.Refusal
			}{{app.StatusTriaged, app.RefuseReopenReason}, {app.StatusResolved, app.RefuseNoSuchMove}, {app.StatusReported, app.RefuseNoSuchMove}} {
				v.refusal = ""
				v.move(app.IncidentChange{Status: c.to})
				if !strings.Contains(v.refusal, T("refusal."+string(c.reason))) || !strings.Contains(v.refusal, enum("status", app.StatusCoordinating)) {
					t.Fatalf("closed -> %s: %q", c.to, v.refusal)
				}
				if v.shown.Status != app.StatusClosed {
					t.Fatalf("a refused move changed the status to %s", v.shown.Status)
				}
			}
			// A closed incident is reopened (with its reason) before it
			// is passed on.
			if v.shown.CanRoute {
				t.Fatal("a closed incident offers routing")
			}
			v.move(app.IncidentChange{Status: app.StatusCoordinating, Note: "reopened: the flood is back"})
			if v.shown.Status != app.StatusCoordinating || !v.shown.CanRoute {
				t.Fatalf("reopened to %s (can route: %v): %q", v.shown.Status, v.shown.CanRoute, v.refusal)
			}
			// Flags, then routing to two support organisations.
			v.public.SetChecked(true)
			test.Tap(v.update)
			if !v.shown.Public {
				t.Fatal("public flag not set")
			}
			test.Tap(v.route)
			v.routeForm.orgs.SetSelected([]string{"National CSIRT", "Metropolitan Police Cyber Unit"})
			v.routeForm.send()
			if len(v.shown.Requests) != 2 {
				t.Fatalf("requests %+v", v.shown.Requests)
			}
			assertShows(t, v.scroll, "National CSIRT")
			// A coordinator may answer on an organisation's behalf: decline
			// without a reason is refused.
			b := v.answers[v.shown.Requests[0].ID]
			if b[1] == nil {
				t.Fatal("no answer buttons")
			}
			v.sendAnswer(v.shown.ID, v.shown.Requests[0].ID, app.AnswerAccept, "")
			if v.shown.Requests[0].State != app.SupportAccepted && v.shown.Requests[1].State != app.SupportAccepted {
				t.Fatalf("not accepted: %+v", v.shown.Requests)
			}
			// Re-publish: the compose dialog, filled without names.
			test.Tap(v.republish)
			c := u.lastCompose
			if c == nil || c.incident != v.shown.ID || strings.Contains(c.body.Text, "Venue Lead") || strings.Contains(c.title.Text, "Venue North") {
				t.Fatalf("compose: %+v", c)
			}
			if c.tlp.Selected != app.TLPAmber.Label() {
				t.Fatalf("TLP %s", c.tlp.Selected)
			}
		})
	}
}

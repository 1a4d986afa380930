package gui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestMetricsScreen: opening a post from the feed is a topic view; the
// Metrics screen computes the figures and draws the five charts as images.
func TestMetricsScreen(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenMetrics])
	if u.current != screenMetrics {
		t.Fatalf("showing %s", u.current)
	}
	v := u.metrics
	test.Tap(v.compute)
	if v.last == nil {
		t.Fatalf("no figures: %s", v.status.Text)
	}
	before := v.last.Totals.Views
	test.Tap(u.nav[screenFeed])
	u.feed.list.Select(0)
	// Views travel batched: send the pending one now rather than in five
	// minutes (opening the app sent the first batch, its login).
	if _, err := u.a.FlushActivity(true); err != nil {
		t.Fatal(err)
	}
	test.Tap(u.nav[screenMetrics])
	test.Tap(v.compute)
	if v.last.Totals.Views != before+1 || v.last.Totals.Posts < 9 {
		t.Errorf("totals %+v, %d views before: want the demo's posts and one more view", v.last.Totals, before)
	}
	imgs := v.Images()
	if len(imgs) != 5 {
		t.Fatalf("%d charts shown, want 5", len(imgs))
	}
	for i, img := range imgs {
		if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 150 {
			t.Errorf("chart %d is %v", i, b)
		}
	}
	content := u.win.Content()
	assertShows(t, content, T("metrics.chart.views-per-day"))
	assertShows(t, content, T("metrics.most_viewed"))
	if img := u.win.Canvas().Capture(); img == nil {
		t.Fatal("the Metrics screen does not render")
	}
}

// TestOrgSettingsInSettings: the demo's coordinator changes its
// organisation's settings from the Settings screen.
func TestOrgSettingsInSettings(t *testing.T) {
	_, u := startDemo(t)
	test.Tap(u.nav[screenSettings])
	b := u.settings.org
	if !b.obj.Visible() {
		t.Fatal("the organisation's settings are hidden from its coordinator")
	}
	if b.named.Checked || !b.countViews.Checked {
		t.Fatalf("defaults: named %v, views counted %v", b.named.Checked, b.countViews.Checked)
	}
	test.Tap(b.named)
	test.Tap(b.countViews)
	s, err := u.a.OrgSettingsOf("")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Named || s.CountViews {
		t.Errorf("settings after the taps: %+v", s)
	}
	assertShows(t, u.win.Content(), T("settings.org_heading"))
}

package gui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// The feed is read a page at a time: the newest page, then a page more
// each time the user asks; a new filter starts again at one page.
func TestFeedPages(t *testing.T) {
	fa, w := newWindow(t)
	cfg := testConfig(t)
	cfg.Demo = true
	cfg.Now = time.Now
	cfg.feedPageSize = 4
	s := Start(fa, w, cfg)
	t.Cleanup(s.Close)
	u := s.UI()
	if u == nil {
		t.Fatalf("the demo did not open: %s", strings.Join(texts(w.Content()), " | "))
	}
	all := len(u.a.Feed(u.query().filter))
	if all <= 8 {
		t.Fatalf("the demo has %d posts, want more than two pages of 4", all)
	}
	if got := len(u.feed.posts); got != 4 || !u.feed.more.Visible() {
		t.Fatalf("first page: %d posts, more shown %v; want 4 and a more button", got, u.feed.more.Visible())
	}
	assertShows(t, u.win.Content(), Tf("feed.count_more", 4))
	test.Tap(u.feed.more)
	if got := len(u.feed.posts); got != 8 || !u.feed.more.Visible() {
		t.Fatalf("two pages: %d posts, more shown %v; want 8 and a more button", got, u.feed.more.Visible())
	}
	for u.feed.more.Visible() {
		test.Tap(u.feed.more)
	}
	if got := len(u.feed.posts); got != all {
		t.Fatalf("every page: %d posts, want %d", got, all)
	}
	assertShows(t, u.win.Content(), Tn("feed.count", all))
	// A filter starts again at one page.
	u.feed.unread.SetChecked(true)
	if q := u.query(); q.feedPages != 1 {
		t.Errorf("after a new filter, %d pages asked for, want 1", q.feedPages)
	}
	if got := len(u.feed.posts); got > 4 {
		t.Errorf("after a new filter, %d posts shown, want a page of 4 at most", got)
	}
}

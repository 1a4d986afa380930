package app

import (
	"errors"
	"testing"
	"time"
)

func advisoryDraft(title, id string, modified time.Time) PostDraft {
	return PostDraft{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Title: title,
		Source: &PostSource{ID: id, Modified: modified, URL: "https://github.com/advisories/" + id}}
}

// feedTitles returns the titles a's feed lists for a search.
func feedTitles(a *App, search string) []string {
	var out []string
	for _, p := range a.Feed(FeedFilter{Search: search}) {
		out = append(out, p.Title)
	}
	return out
}

// TestSourceOnePostAcrossDevices: two members import the same advisory
// while cut off from each other; once they sync, every device shows one
// post, the same one, with both versions in its history; a later revision
// by a third member replaces it everywhere.
func TestSourceOnePostAcrossDevices(t *testing.T) {
	c := newCommunity(t)
	rev1 := time.Date(2021, 7, 20, 9, 0, 0, 0, time.UTC)
	for _, a := range []*App{c.venue, c.power} {
		if _, err := a.Post(advisoryDraft("GHSA-jfh8-c2jp-5v3q log4j RCE", "ghsa:GHSA-jfh8-c2jp-5v3q", rev1)); err != nil {
			t.Fatal(err)
		}
	}
	c.sync(t)
	var shown string
	for _, a := range c.all {
		feed := a.Feed(FeedFilter{Type: TypeVulnerability})
		if len(feed) != 1 {
			t.Fatalf("%s lists %d posts for one advisory, want 1", a.WhoAmI().Name, len(feed))
		}
		if shown == "" {
			shown = feed[0].ID
		} else if feed[0].ID != shown {
			t.Fatalf("devices show different versions: %s and %s", shown, feed[0].ID)
		}
		d, err := a.Show(shown)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Versions) != 2 || !d.Versions[0].Shown || d.Versions[0].Post != shown {
			t.Fatalf("versions %+v, want 2 with the shown one first", d.Versions)
		}
	}
	if h, ok := c.rail.SourceHeld("ghsa:GHSA-jfh8-c2jp-5v3q", TLPClear); !ok || h.Post != shown || !h.Modified.Equal(rev1) || !h.Shown.Equal(rev1) ||
		h.Wants(rev1) || h.Wants(rev1.Add(-time.Hour)) || !h.Wants(rev1.Add(time.Hour)) {
		t.Fatalf("SourceHeld = %+v %v, want %s at %v, wanting only newer revisions", h, ok, shown, rev1)
	}
	if _, ok := c.rail.SourceHeld("ghsa:GHSA-none", TLPClear); ok {
		t.Fatal("SourceHeld says a source nobody imported is held")
	}

	// A comment on the first version stays with the post.
	if _, err := c.power.Comment(shown, "patched here"); err != nil {
		t.Fatal(err)
	}
	rev2 := rev1.Add(48 * time.Hour)
	c.clock.Advance(72 * time.Hour)
	newer, err := c.rail.Post(advisoryDraft("GHSA-jfh8-c2jp-5v3q log4j RCE (revised)", "ghsa:GHSA-jfh8-c2jp-5v3q", rev2))
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		feed := a.Feed(FeedFilter{Type: TypeVulnerability})
		if len(feed) != 1 || feed[0].ID != newer.ID {
			t.Fatalf("after the revision %s lists %v, want only %s", a.WhoAmI().Name, feed, newer.ID)
		}
		d, err := a.Show(newer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Versions) != 3 || len(d.CommentList) != 1 {
			t.Fatalf("revised post: %d versions, %d comments; want 3 and the comment on the first", len(d.Versions), len(d.CommentList))
		}
	}
	// The old versions are not found by search, the shown one is.
	if got := feedTitles(c.centre, "revised"); len(got) != 1 {
		t.Fatalf("search for the revision: %v", got)
	}
	if got := feedTitles(c.centre, "log4j"); len(got) != 1 {
		t.Fatalf("search lists %v, want only the shown version", got)
	}
}

// TestThreatSourceOverwriteIsSeenAndUndone: a coordinator retracts a
// member's overwrite of an advisory; the version before it shows again.
func TestThreatSourceOverwriteIsSeenAndUndone(t *testing.T) {
	c := newCommunity(t)
	good, err := c.centre.Post(advisoryDraft("GHSA-aaaa real advisory", "ghsa:GHSA-aaaa", time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	c.clock.Advance(time.Hour)
	bad, err := c.rail.Post(advisoryDraft("GHSA-aaaa nothing to see, ignore", "ghsa:GHSA-aaaa", time.Date(2021, 7, 2, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if feed := c.power.Feed(FeedFilter{}); len(feed) != 1 || feed[0].ID != bad.ID {
		t.Fatalf("feed %v, want the overwrite", feed)
	}
	d, err := c.power.Show(bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Versions[0].AuthorName != "Rail Member" || d.Versions[1].AuthorName != "Duty Officer" {
		t.Fatalf("history does not say who wrote each version: %+v", d.Versions)
	}
	if _, err := c.centre.Retract(bad.ID, "overwrote an advisory"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		if feed := a.Feed(FeedFilter{}); len(feed) != 1 || feed[0].ID != good.ID {
			t.Fatalf("%s: after the retraction feed %v, want the real advisory back", a.WhoAmI().Name, feed)
		}
	}
}

// TestThreatFutureDatedSourceDoesNotStayOnTop: a version dated years ahead counts
// as dated at its own clock, so the real revision that follows replaces it.
func TestThreatFutureDatedSourceDoesNotStayOnTop(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.rail.Post(advisoryDraft("pinned forever?", "stix:report--1", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(2 * time.Hour)
	real, err := c.centre.Post(advisoryDraft("real revision", "stix:report--1", c.clock.Now().Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if feed := c.venue.Feed(FeedFilter{}); len(feed) != 1 || feed[0].ID != real.ID {
		t.Fatalf("feed %v, want the real revision", feed)
	}
	// Nor does it stop an importer from posting a real revision: the
	// future-dated version is shown at its clock.
	c.centre.Retract(real.ID, "")
	h, _ := c.centre.SourceHeld("stix:report--1", TLPClear)
	if h.Modified.Year() != 2099 || h.Shown.Year() == 2099 || !h.Wants(c.clock.Now().Add(-time.Hour)) {
		t.Fatalf("held %+v: an importer would not post the real revision", h)
	}
}

// TestThreatSourceKeptApart: an exercise's import is not a version of the real
// one, and a post to an observation channel is never a version.
func TestThreatSourceKeptApart(t *testing.T) {
	c := newCommunity(t)
	mod := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := c.centre.Post(advisoryDraft("real", "ghsa:GHSA-cccc", mod)); err != nil {
		t.Fatal(err)
	}
	ex := advisoryDraft("exercise", "ghsa:GHSA-cccc", mod.Add(time.Minute))
	ex.Exercise = "Drill 3"
	if _, err := c.centre.Post(ex); err != nil {
		t.Fatal(err)
	}
	obs := advisoryDraft("observation", "ghsa:GHSA-cccc", mod.Add(2*time.Minute))
	obs.Channel, obs.ToOrgs = ChannelObservation, []string{"Venue North"}
	if _, err := c.centre.Post(obs); err != nil {
		t.Fatal(err)
	}
	if got := feedTitles(c.centre, ""); len(got) != 2 {
		t.Fatalf("feed %v, want the real post and the observation (the exercise's post is in its own feed)", got)
	}
	if got, _ := c.centre.ExerciseFeed("Drill 3"); len(got) != 1 || got[0].Title != "exercise" {
		t.Fatalf("the exercise's feed %v, want its import", got)
	}
	if h, _ := c.centre.SourceHeld("ghsa:GHSA-cccc", TLPClear); !h.Modified.Equal(mod) {
		t.Fatalf("SourceHeld %v, want the real import's %v", h.Modified, mod)
	}
}

func TestSourceChecked(t *testing.T) {
	c := newCommunity(t)
	for _, src := range []PostSource{
		{ID: "", Modified: time.Now()},
		{ID: "GHSA-no-scheme", Modified: time.Now()},
		{ID: "ghsa:", Modified: time.Now()},
		{ID: "ghsa:GHSA 1", Modified: time.Now()},
		{ID: "ghsa:GHSA-\n1", Modified: time.Now()},
		{ID: "ghsa:GHSA-1"},
	} {
		d := advisoryDraft("bad source", "", time.Time{})
		d.Source = &src
		if _, err := c.centre.Post(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("source %+v: err %v, want ErrInvalid", src, err)
		}
	}
	if len(c.centre.Feed(FeedFilter{})) != 0 {
		t.Fatal("a refused draft was stored")
	}
}

package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"noroshi/replica"
)

// freshFold returns the views of a's device folded from scratch over a
// copy of a's store: the reference that incremental folds must equal.
func freshFold(t testing.TB, a *App) []byte {
	t.Helper()
	src := filepath.Join(a.cfg.Home, StoreFileName)
	cfg := a.cfg
	cfg.Home = t.TempDir()
	dst := filepath.Join(cfg.Home, StoreFileName)
	// A copy through a read transaction: consistent while a is open.
	if err := a.store.CopyTo(dst); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	st, err := replica.Open(replica.DefaultConfig(dst, a.dev.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ViewUpdate(func(tx *replica.ViewTx) error { return tx.Reset() }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	b, err := OpenDevice(cfg, a.dev)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return views(t, b)
}

// TestViewsReopenEqualFreshFold interleaves writes, bundle imports by
// another process (another App on the same home while this one is
// closed), closes and reopens at random: the persisted, incrementally
// folded views must always equal a fresh fold of the same store, byte for
// byte.
func TestViewsReopenEqualFreshFold(t *testing.T) {
	c := newCommunity(t)
	rapid.Check(t, func(rt *rapid.T) {
		a := c.power
		steps := rapid.IntRange(1, 8).Draw(rt, "steps")
		for i := range steps {
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0:
				if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: fmt.Sprintf("phishing wave %d", i), Body: "block 203.0.113.7"}); err != nil {
					rt.Fatal(err)
				}
			case 1:
				if _, err := c.venue.ReportIncident(IncidentDraft{Category: CatOutage, Title: fmt.Sprintf("outage %d", i)}); err != nil {
					rt.Fatal(err)
				}
			case 2:
				if feed := a.Feed(FeedFilter{Limit: 1}); len(feed) > 0 {
					if _, err := a.MarkRead(feed[0].ID); err != nil {
						rt.Fatal(err)
					}
					if _, err := a.FlushReads(true); err != nil {
						rt.Fatal(err)
					}
				}
			case 3:
				if feed := c.rail.Feed(FeedFilter{Limit: 1}); len(feed) > 0 {
					if _, err := c.rail.Comment(feed[0].ID, "seen here too"); err != nil {
						rt.Fatal(err)
					}
				}
			case 4:
				// Another process imports a bundle while this one is closed.
				var buf bytes.Buffer
				if _, err := c.centre.ExportBundle(&buf); err != nil {
					rt.Fatal(err)
				}
				if err := a.Close(); err != nil {
					rt.Fatal(err)
				}
				other, err := OpenDevice(a.cfg, a.dev)
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := other.ImportBundle(buf.Bytes(), nil); err != nil {
					rt.Fatal(err)
				}
				other.Close()
				a = reopen(rt, c, a)
			case 5:
				c.sync(t)
				a = reopen(rt, c, a)
			case 6:
				// A version of one of a few advisories, by anyone, of any age.
				by := rapid.SampledFrom(c.all).Draw(rt, "by")
				src := &PostSource{ID: fmt.Sprintf("ghsa:GHSA-%d", rapid.IntRange(0, 2).Draw(rt, "source")),
					Modified: time.Date(2021, 7, rapid.IntRange(1, 20).Draw(rt, "day"), 0, 0, 0, 0, time.UTC)}
				if _, err := by.Post(PostDraft{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Title: "advisory " + src.ID, Source: src}); err != nil {
					rt.Fatal(err)
				}
			}
		}
		c.sync(t)
		if got, want := views(t, a), freshFold(t, a); !bytes.Equal(got, want) {
			rt.Fatalf("incremental views differ from a fresh fold:\n got  %s\n want %s", got, want)
		}
	})
}

// reopen closes a and opens its home again, in place of it in c.
func reopen(t interface{ Fatal(...any) }, c *community, a *App) *App {
	a.Close()
	b, err := OpenDevice(a.cfg, a.dev)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range c.all {
		if x == a {
			c.all[i] = b
		}
	}
	if c.power == a {
		c.power = b
	}
	return b
}

// TestViewFormatChangeRebuilds: views of another format are dropped and
// folded again from the envelopes, with the same result.
func TestViewFormatChangeRebuilds(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "before the upgrade"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	a := c.power
	want := views(t, a)
	if err := a.store.ViewUpdate(func(tx *replica.ViewTx) error {
		return tx.Bucket(vbMeta).Put(metaFormat, binary.BigEndian.AppendUint32(nil, viewFormat+1))
	}); err != nil {
		t.Fatal(err)
	}
	b := reopen(t, c, a)
	if got := views(t, b); !bytes.Equal(got, want) {
		t.Errorf("views after a rebuild differ:\n got  %s\n want %s", got, want)
	}
	b.store.ViewRead(func(tx *replica.ViewTx) error {
		if f := tx.Bucket(vbMeta).Get(metaFormat); binary.BigEndian.Uint32(f) != viewFormat {
			t.Errorf("views format %d after the rebuild, want %d", binary.BigEndian.Uint32(f), viewFormat)
		}
		return nil
	})
}

// TestViewsOfAnotherDeviceRefolded: a home copied under another device
// (views sealed to a key it cannot open) folds its views again.
func TestViewsOpenOnlyWithTheirDevice(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "sealed views"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	a := c.power
	a.Close()
	cfg := a.cfg
	cfg.Home = t.TempDir()
	raw, err := os.ReadFile(filepath.Join(a.cfg.Home, StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Home, StoreFileName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// Another device opening the copied store cannot open its views.
	b, err := OpenDevice(cfg, c.rail.dev)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if feed := b.Feed(FeedFilter{}); len(feed) == 0 || feed[0].Title != "sealed views" {
		t.Errorf("feed after refolding under another device = %+v", feed)
	}
}

// TestFeedPages: pages follow one another without gap or repeat, and a
// filter walks its index.
func TestFeedPages(t *testing.T) {
	c := newCommunity(t)
	for i := range 7 {
		tlp := TLPGreen
		if i%2 == 0 {
			tlp = TLPClear
		}
		if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: tlp, Title: fmt.Sprintf("post %d", i)}); err != nil {
			t.Fatal(err)
		}
		c.clock.Advance(1)
	}
	all := c.centre.Feed(FeedFilter{})
	var paged []PostSummary
	f := FeedFilter{Limit: 3}
	for {
		page := c.centre.Feed(f)
		paged = append(paged, page...)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	if len(paged) != len(all) {
		t.Fatalf("pages hold %d posts, the feed %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].ID != all[i].ID {
			t.Errorf("page item %d = %s, want %s", i, paged[i].Title, all[i].Title)
		}
	}
	if all[0].Title != "post 6" {
		t.Errorf("newest first: got %q first", all[0].Title)
	}
	clear := c.centre.Feed(FeedFilter{TLP: TLPClear})
	if len(clear) != 4 {
		t.Errorf("TLP:CLEAR filter: %d posts, want 4", len(clear))
	}
	for _, p := range clear {
		if p.TLP != TLPClear.Label() {
			t.Errorf("TLP:CLEAR filter returned %s", p.TLP)
		}
	}
}

// TestSearchAsYouType: every prefix of a word finds its post, Japanese text
// is found by any part of it, and defanged indicators by their plain form.
func TestSearchAsYouType(t *testing.T) {
	c := newCommunity(t)
	for _, d := range []PostDraft{
		{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "Phishing against ticketing", Body: "block hxxp://tickets-olympic[.]example",
			Indicators: []string{"hxxp://evil-login[.]example/ticket"}},
		{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "大会チケットの偽サイト", Body: "フィッシングに注意"},
		{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "DDoS on the venue portal"},
	} {
		if _, err := c.centre.Post(d); err != nil {
			t.Fatal(err)
		}
	}
	c.sync(t)
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"p", ""}, {"ph", "Phishing against ticketing"}, {"phish", "Phishing against ticketing"}, {"PHISHING AGAINST", "Phishing against ticketing"},
		{"tickets-olympic[.]ex", "Phishing against ticketing"}, {"evil-login.example/tick", "Phishing against ticketing"}, {"evil-login[.]example", "Phishing against ticketing"}, {"チケット", "大会チケットの偽サイト"}, {"偽", "大会チケットの偽サイト"},
		{"フィッシング", "大会チケットの偽サイト"}, {"ddos ven", "DDoS on the venue portal"}, {"duty off", ""},
	} {
		got := c.power.Feed(FeedFilter{Search: tc.q})
		if tc.want == "" {
			if len(got) == 0 {
				t.Errorf("search %q found nothing", tc.q)
			}
			continue
		}
		if len(got) != 1 || got[0].Title != tc.want {
			var titles []string
			for _, p := range got {
				titles = append(titles, p.Title)
			}
			t.Errorf("search %q = %q, want %q", tc.q, titles, tc.want)
		}
	}
	if got := c.power.Feed(FeedFilter{Search: "zzqx"}); len(got) != 0 {
		t.Errorf("search for an absent word found %d posts", len(got))
	}
}

// TestViewsSurviveKillDuringFold kills a process in the middle of folding
// a home's views (SIGKILL, at a different moment each round), then opens
// the home again: the views must equal a fresh fold. Each view batch
// commits with the cursor it reached, so a kill loses at most the batch in
// flight, which the next open folds again.
func TestViewsSurviveKillDuringFold(t *testing.T) {
	if home := os.Getenv("NOROSHI_FOLD_CHILD"); home != "" {
		a := benchOpen(t, home) // folds; the parent kills it somewhere in there
		a.Close()
		return
	}
	if testing.Short() {
		t.Skip("builds a home of 800 posts")
	}
	cfg := testConfig(t, newFakeClock())
	cfg.Now = time.Now
	a, err := Demo(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var drafts []PostDraft
	for i := range 800 {
		drafts = append(drafts, benchDraft(i))
	}
	if _, err := a.PostBatch(drafts); err != nil {
		t.Fatal(err)
	}
	want := views(t, a)
	a.Close()
	for round, delay := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond, 600 * time.Millisecond, 1500 * time.Millisecond} {
		st, err := replica.Open(replica.DefaultConfig(filepath.Join(cfg.Home, StoreFileName), a.dev.ID()))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ViewUpdate(func(tx *replica.ViewTx) error { return tx.Reset() }); err != nil {
			t.Fatal(err)
		}
		st.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestViewsSurviveKillDuringFold$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NOROSHI_FOLD_CHILD="+cfg.Home)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		b := benchOpen(t, cfg.Home)
		folded := b.folded
		got := views(t, b)
		b.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d (kill after %v, %d folded before): views after the restart differ from before", round, delay, folded)
		}
	}
}

// TestOldHomeOpens opens a home written at store format 2 by an earlier
// release (app/testdata/home-format2, see its README.txt): the store
// migrates, the views are folded, and a second open finds them as left.
func TestOldHomeOpens(t *testing.T) {
	home := t.TempDir()
	for _, f := range []string{"key.age", StoreFileName} {
		b, err := os.ReadFile(filepath.Join("testdata", "home-format2", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig(home)
	cfg.Logf = t.Logf
	a, err := Open(cfg, "format two fixture")
	if err != nil {
		t.Fatalf("open the format-2 home: %v", err)
	}
	var titles []string
	for _, p := range a.Feed(FeedFilter{}) {
		titles = append(titles, p.Title)
	}
	want := []string{"Patch the ticketing gateway", "Malware disguised as a damage report", "DDoS announced against the power grid",
		"Staff rota for the night shift", "Insider access at a contractor", "Scanning from 203.0.113.17"}
	for _, w := range want {
		if !slices.Contains(titles, w) {
			t.Errorf("feed of the migrated home lacks %q (has %q)", w, titles)
		}
	}
	if slices.Contains(titles, "Mistaken post") {
		t.Errorf("the retracted post is in the feed")
	}
	if got := a.Feed(FeedFilter{Bookmarked: true}); len(got) != 1 || got[0].Title != "Patch the ticketing gateway" {
		t.Errorf("bookmarks after the migration = %+v", got)
	}
	incs := a.Incidents()
	if len(incs) != 1 || incs[0].Title != "UDP flood on venue Wi-Fi" || incs[0].Status != StatusTriaged {
		t.Errorf("incidents after the migration = %+v", incs)
	}
	if w := a.WhoAmI(); w.Name != "Duty Officer" || w.CommunityName != "Games 2026" {
		t.Errorf("whoami after the migration = %+v", w)
	}
	first := views(t, a)
	a.Close()
	b, err := Open(cfg, "format two fixture")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := views(t, b); !bytes.Equal(got, first) {
		t.Errorf("second open differs from the first:\n got  %s\n want %s", got, first)
	}
	if got := freshFold(t, b); !bytes.Equal(got, first) {
		t.Errorf("views differ from a fresh fold:\n got  %s\n want %s", first, got)
	}
}

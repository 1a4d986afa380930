package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"noroshi/replica"
)

// busyCommunity gives a community some of everything the views keep:
// posts, comments, reads, incidents and their updates, a retraction,
// versions of an outside source, a bundle imported while closed.
func busyCommunity(t *testing.T) *community {
	t.Helper()
	c := newCommunity(t)
	var ids []string
	for i := range 6 {
		p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: fmt.Sprintf("phishing wave %d", i), Body: "block 203.0.113.7"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	c.sync(t)
	if _, err := c.venue.Comment(ids[0], "seen here too"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.MarkRead(ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatOutage, Title: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Status: StatusTriaged}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Retract(ids[2], "wrong"); err != nil {
		t.Fatal(err)
	}
	for i, by := range []*App{c.venue, c.rail, c.power} {
		src := &PostSource{ID: "ghsa:GHSA-aaaa", Modified: time.Date(2021, 7, 1+i, 0, 0, 0, 0, time.UTC)}
		if _, err := by.Post(PostDraft{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Title: "advisory", Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	c.sync(t)
	var buf bytes.Buffer
	if _, err := c.centre.ExportBundle(&buf); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCheck(t *testing.T, a *App) CheckReport {
	t.Helper()
	r, err := a.Check()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A home whose views were folded incrementally, across closes and syncs,
// passes its check; the check changes nothing (a second gives the same
// digests) and reports what the store holds.
func TestCheckCleanHome(t *testing.T) {
	c := busyCommunity(t)
	a := reopen(t, c, c.power)
	r := mustCheck(t, a)
	if err := r.Err(); err != nil {
		t.Fatalf("check of a clean home: %v (%+v)", err, r)
	}
	if !r.BoltOK || len(r.BoltErrors) != 0 || !r.ViewsMatchFold || r.Envelopes == 0 || len(r.SetDigest) != 64 || len(r.ViewsDigest) != 64 {
		t.Errorf("report = %+v", r)
	}
	if d := a.store.Digest(); r.SetDigest != fmt.Sprintf("%x", d[:]) {
		t.Errorf("set digest %s, store's %x", r.SetDigest, d)
	}
	if again := mustCheck(t, a); again.ViewsDigest != r.ViewsDigest || again.SetDigest != r.SetDigest {
		t.Errorf("a second check differs: %+v then %+v", r, again)
	}
	for _, b := range c.all {
		if r := mustCheck(t, b); r.Err() != nil {
			t.Errorf("%s: %v", b.WhoAmI().Name, r.Err())
		}
	}
}

// corruptViews changes a's views through bbolt while a is closed, and
// returns the home opened again.
func corruptViews(t *testing.T, c *community, a *App, fn func(tx *replica.ViewTx) error) *App {
	t.Helper()
	a.Close()
	st, err := replica.Open(replica.DefaultConfig(filepath.Join(a.cfg.Home, StoreFileName), a.dev.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ViewUpdate(fn); err != nil {
		t.Fatal(err)
	}
	st.Close()
	return reopen(t, c, a)
}

// Views changed behind the fold's back (a wrong value, a lost entry, an
// extra one) fail the check with a one-line error saying so.
func TestCheckFindsWrongViews(t *testing.T) {
	c := busyCommunity(t)
	cases := []struct {
		name string
		fn   func(tx *replica.ViewTx) error
	}{
		{"a wrong record", func(tx *replica.ViewTx) error {
			b := tx.Bucket(vbRec)
			k, v := b.Cursor().First()
			k, v = bytes.Clone(k), bytes.Clone(v)
			v[len(v)-1] ^= 1
			return b.Put(k, v)
		}},
		{"a lost feed entry", func(tx *replica.ViewTx) error {
			k, _ := tx.Bucket(vbFeed).Cursor().Last()
			return tx.Bucket(vbFeed).Delete(bytes.Clone(k))
		}},
		{"an extra unread entry", func(tx *replica.ViewTx) error {
			return tx.Bucket(vbUnread).Put(bytes.Repeat([]byte{7}, 40), nil)
		}},
	}
	a := c.rail
	for _, tc := range cases {
		a = corruptViews(t, c, a, tc.fn)
		r := mustCheck(t, a)
		err := r.Err()
		if r.ViewsMatchFold || err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "views differ from a fresh fold") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: match %v, err %v", tc.name, r.ViewsMatchFold, err)
		}
		if len(r.ViewDifferences) == 0 {
			t.Errorf("%s: no difference listed", tc.name)
		}
		// Refolding the views (as a new view format does) repairs them.
		a = corruptViews(t, c, a, func(tx *replica.ViewTx) error { return tx.Reset() })
		if r := mustCheck(t, a); r.Err() != nil {
			t.Fatalf("%s: after a refold: %v", tc.name, r.Err())
		}
	}
}

// A damaged store file (cut short, or a page overwritten) fails the check
// of a home nobody holds with a finding, never a panic; a sound one gives
// no report.
func TestCheckStoreFileDamaged(t *testing.T) {
	c := busyCommunity(t)
	a := c.venue
	a.Close()
	home := a.cfg.Home
	if r, err := CheckStoreFile(home); err != nil || r != nil {
		t.Fatalf("sound file: %+v, %v", r, err)
	}
	orig, err := os.ReadFile(filepath.Join(home, StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Clone(orig)
	for i := 6 * 4096; i < 9*4096 && i < len(garbage); i++ {
		garbage[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", orig[:len(orig)/2]},
		{"empty", "", nil},
		{"a page overwritten", "", garbage},
		{"both meta pages overwritten", "meta pages", append(make([]byte, 8192), orig[8192:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := t.TempDir()
			if err := os.WriteFile(filepath.Join(h, StoreFileName), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := CheckStoreFile(h)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil {
				t.Fatalf("no finding")
			}
			e := r.Err()
			if r.BoltOK || e == nil || !strings.Contains(e.Error(), "fails bbolt's check") || !strings.Contains(e.Error(), tc.want) || strings.Contains(e.Error(), "\n") {
				t.Errorf("report %+v, err %v", r, e)
			}
		})
	}
}

// Regression (found by the check): a fold that took a key grant and the
// posts after it in one batch indexed those posts before it opened what
// was locked under the key, the authors' profiles among them, so a search
// by the author's name found them after an incremental fold but not after
// a fresh one (a new view format, a first open). A batch now ends at the
// envelope that brings a key.
func TestFreshFoldFindsPostsByAuthorName(t *testing.T) {
	c := busyCommunity(t)
	a := reopen(t, c, c.power)
	if got := len(a.Feed(FeedFilter{Search: "Duty Officer"})); got != 5 {
		t.Fatalf("incremental fold: %d posts found by the author's name, want 5", got)
	}
	a = corruptViews(t, c, a, func(tx *replica.ViewTx) error { return tx.Reset() })
	if got := len(a.Feed(FeedFilter{Search: "Duty Officer"})); got != 5 {
		t.Errorf("fresh fold: %d posts found by the author's name, want 5", got)
	}
}

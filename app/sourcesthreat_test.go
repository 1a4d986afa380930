package app

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/replica"
)

// postRecord writes a post record as a hostile client would, past the
// checks of Post: only what admission and the views do stands.
func postRecord(t *testing.T, a *App, rec *PostRecord) string {
	t.Helper()
	a.mu.RLock()
	me, err := a.me()
	var aud crypto.Audience
	if err == nil {
		aud, err = a.audience(rec, me.Person)
	}
	a.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := a.write(a.sealed(aud, &Record{Post: rec}))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0].String()
}

// TestThreatAncientSourceDateDoesNotStayOnTop: a version dated in 1600
// (which as nanoseconds would wrap to the 22nd century) is refused when
// posted, and, written by a hostile client past that check, counts as
// dated 1970: the real revision replaces it and importers still post it.
func TestThreatAncientSourceDateDoesNotStayOnTop(t *testing.T) {
	c := newCommunity(t)
	real1 := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := c.centre.Post(advisoryDraft("GHSA-aaaa real advisory", "ghsa:GHSA-aaaa", real1)); err != nil {
		t.Fatal(err)
	}
	ancient := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := c.rail.Post(advisoryDraft("GHSA-aaaa nothing to see", "ghsa:GHSA-aaaa", ancient)); err == nil || !strings.Contains(err.Error(), "not a real date") {
		t.Fatalf("a source dated 1600 was posted: %v", err)
	}
	c.sync(t)
	c.clock.Advance(time.Hour)
	bad := postRecord(t, c.rail, &PostRecord{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Channel: ChannelPro,
		Title: "GHSA-aaaa nothing to see", Source: &PostSource{ID: "ghsa:GHSA-aaaa", Modified: ancient}})
	c.sync(t)
	c.clock.Advance(48 * time.Hour)
	real2 := c.clock.Now().Add(-time.Hour)
	h, _ := c.centre.SourceHeld("ghsa:GHSA-aaaa", TLPClear)
	if h.Post == bad || !h.Wants(real2) {
		t.Fatalf("SourceHeld %+v: the 1600-dated version is held as the newest", h)
	}
	if _, err := c.centre.Post(advisoryDraft("GHSA-aaaa real revision", "ghsa:GHSA-aaaa", real2)); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		if feed := a.Feed(FeedFilter{}); len(feed) != 1 || feed[0].ID == bad {
			t.Errorf("%s shows %v: the version dated 1600 stays on top of the real revision", a.WhoAmI().Name, feedTitles(a, ""))
		}
	}
}

// TestThreatNarrowVersionDoesNotHideSource: a member writes a newer
// version of a community-wide advisory at TLP:RED, addressed only to the
// person who runs a venue's indicator feed. It does not replace the
// version the community reads: the venue's blocklist keeps the indicator,
// and the coordinator (who cannot read the RED version) sees the same.
func TestThreatNarrowVersionDoesNotHideSource(t *testing.T) {
	c := newCommunity(t)
	mod := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
	d := advisoryDraft("GHSA-cccc C2 servers", "ghsa:GHSA-cccc", mod)
	d.Indicators = []string{"203.0.113.66"}
	if _, err := c.centre.Post(d); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	c.clock.Advance(time.Hour)
	hide := advisoryDraft("GHSA-cccc C2 servers", "ghsa:GHSA-cccc", mod.Add(time.Minute))
	hide.TLP, hide.ToMembers = TLPRed, []string{c.venue.WhoAmI().Person}
	if _, err := c.rail.Post(hide); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if inds, _ := c.venue.FeedIndicators(TLPGreen, IndicatorIPv4); len(inds) != 1 {
		t.Fatalf("a RED version addressed to the feed's operator took the source's indicator out of its blocklist: %v", inds)
	}
	if h, ok := c.venue.SourceHeld("ghsa:GHSA-cccc", TLPClear); !ok || !h.Modified.Equal(mod) {
		t.Fatalf("the community's version is no longer what importers compare with: %+v %v", h, ok)
	}
}

// TestSourceOrderIndependent: a late device that learns the versions of a
// source (of several markings, one retracted, one it cannot read) in any
// order shows the same posts. (From the security review of issue #9.)
func TestSourceOrderIndependent(t *testing.T) {
	c := newCommunity(t)
	mod := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
	v1 := advisoryDraft("v1 green", "ghsa:GHSA-dddd", mod)
	v1.TLP = TLPGreen
	if _, err := c.centre.Post(v1); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	v2, err := c.rail.Post(advisoryDraft("v2 clear", "ghsa:GHSA-dddd", mod.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	v3 := advisoryDraft("v3 venue only", "ghsa:GHSA-dddd", mod.Add(2*time.Hour))
	v3.TLP, v3.ToOrgs = TLPAmberStrict, []string{"Venue North"}
	if _, err := c.venue.Post(v3); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	if _, err := c.power.Post(advisoryDraft("v4 same revision as v1", "ghsa:GHSA-dddd", mod)); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	if _, err := c.venue.Post(advisoryDraft("v5 clear, older than v2", "ghsa:GHSA-dddd", mod.Add(30*time.Minute))); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.centre.Retract(v2.ID, "wrong"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	var want []string
	for seed := range 12 {
		late := c.join(t, fmt.Sprint("Late ", seed), "Metro Power", crypto.RoleMember)
		envs := envelopes(t, c.centre)
		rnd := rand.New(rand.NewPCG(uint64(seed), 1))
		rnd.Shuffle(len(envs), func(i, j int) { envs[i], envs[j] = envs[j], envs[i] })
		for _, e := range envs {
			cp := *e
			if !replica.MayHoldPayload(e.Header, late.store.Community(), late.dev.ID()) {
				cp.Payload = nil
			}
			if _, err := late.store.Add(&cp); err != nil {
				t.Fatal(err)
			}
			if seed%2 == 0 {
				late.refresh()
			}
		}
		late.refresh()
		var got []string
		for _, p := range late.Feed(FeedFilter{Type: TypeVulnerability}) {
			got = append(got, p.Title)
		}
		slices.Sort(got)
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Errorf("seed %d shows %q, another order %q", seed, got, want)
		}
	}
	// One post for the community (v5: v2 is retracted, v1 and v4 are
	// older; the TLP does not split it); v3 is sealed to Venue North.
	if !slices.Equal(want, []string{"v5 clear, older than v2"}) {
		t.Errorf("shown %q", want)
	}
}

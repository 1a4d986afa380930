package app

import "testing"

// TestReadReceiptsDoNotRebuildTheFeed: the indicator feed's snapshot is
// read again when a post arrives, not when a read receipt does (they
// arrive every minute from every reading member).
func TestReadReceiptsDoNotRebuildTheFeed(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "scanner", Indicators: []string{"203.0.113.5"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	a := c.venue
	first := a.feedSnapshot(TLPGreen, nil)
	if first.total != 1 {
		t.Fatalf("snapshot holds %d indicators, want 1", first.total)
	}
	if _, err := c.power.MarkRead(p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if again := a.feedSnapshot(TLPGreen, first); again != first {
		t.Fatal("a read receipt made the feed read every post again")
	}
	if _, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "another", Indicators: []string{"203.0.113.6"}}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if next := a.feedSnapshot(TLPGreen, first); next == first || next.total != 2 {
		t.Fatalf("after a new post the snapshot holds %d indicators, want 2 in a new snapshot", next.total)
	}
}

// TestFeedNeverBlocksThisHost: a post (or a partner's bundle) naming
// loopback, unspecified, multicast or link-local addresses does not put
// them on a firewall's blocklist.
func TestFeedNeverBlocksThisHost(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "odd addresses",
		Indicators: []string{"127.0.0.1", "0.0.0.0", "::1", "224.0.0.1", "169.254.1.1", "fe80::1", "255.255.255.255", "203.0.113.7"}}); err != nil {
		t.Fatal(err)
	}
	inds, err := c.centre.FeedIndicators(TLPGreen, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(inds) != 1 || inds[0].Value != "203.0.113.7" {
		t.Fatalf("feed serves %v, want only 203.0.113.7", inds)
	}
}

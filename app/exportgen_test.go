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

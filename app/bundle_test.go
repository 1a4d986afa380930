package app

import (
	"bytes"
	"errors"
	"testing"
)

func TestBundleAcrossAirGap(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.venue.Post(PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Title: "generator power"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.venue.ExportBundle(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("generator power")) {
		t.Fatal("bundle holds plaintext")
	}
	var progressed int
	r, err := c.centre.ImportBundle(buf.Bytes(), func(done, total int) { progressed = done })
	if err != nil {
		t.Fatal(err)
	}
	if r.Envelopes != n || r.Admitted == 0 || r.Refused != 0 || progressed != n {
		t.Errorf("import = %+v (progress %d), want %d envelopes, some new, none refused", r, progressed, n)
	}
	if got := c.centre.Feed(FeedFilter{Search: "generator"}); len(got) != 1 {
		t.Errorf("coordinator feed after import: %d posts, want 1", len(got))
	}
	before := c.centre.store.Digest()
	r2, err := c.centre.ImportBundle(buf.Bytes(), nil)
	if err != nil || r2.Admitted != 0 || r2.Duplicates != n {
		t.Errorf("second import = %+v, %v; want all duplicates", r2, err)
	}
	if c.centre.store.Digest() != before {
		t.Error("importing twice changed the store")
	}

	// Damaged and foreign bundles are refused and change nothing.
	other := openNew(t, c.clock, "Other Coordinator")
	if _, err := other.CreateCommunity(CommunityOptions{Name: "Other", OrgName: "Other Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	var foreign bytes.Buffer
	if _, err := other.ExportBundle(&foreign); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"foreign":   foreign.Bytes(),
		"truncated": buf.Bytes()[:buf.Len()/2],
		"garbage":   []byte("not a bundle"),
	} {
		if _, err := c.centre.ImportBundle(b, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s bundle: %v, want ErrInvalid", name, err)
		}
		if c.centre.store.Digest() != before {
			t.Errorf("%s bundle changed the store", name)
		}
	}
}

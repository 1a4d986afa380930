package app

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// lockedIDs returns what a holds of the envelopes it cannot open: their IDs
// (the type holds no payload; the heap measurement below checks that
// nothing else pins them).
func lockedIDs(a *App) []envelope.Hash {
	var out []envelope.Hash
	a.read(func(t *vtx) error {
		eachPrefix(t.b(vbLocked), nil, func(k, _ []byte) bool {
			out = append(out, envelope.Hash(k[len(k)-32:]))
			return true
		})
		return nil
	})
	return slices.Compact(out)
}

// TestThreatRelayPinsNoPayloads: a relay folds every sealed envelope and can
// open none; it keeps neither their payloads nor a list of them, so a flood
// of large posts grows its store, not its heap.
func TestThreatRelayPinsNoPayloads(t *testing.T) {
	const posts, size = 16, 512 << 10
	c := newCommunity(t)
	relay := c.join(t, "Venue Relay", "Venue North", crypto.RoleRelay)
	c.all = append(c.all, relay)
	c.sync(t)
	for i := range posts {
		data := bytes.Repeat([]byte{byte(i)}, size)
		if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: fmt.Sprintf("large %d", i),
			Files: []File{{Name: "dump.bin", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	before := lockedIDs(relay)
	heap0 := heapInUse()
	if err := exchange([]*App{c.centre, relay}); err != nil {
		t.Fatal(err)
	}
	heap1 := heapInUse()
	// A relay holds no group key and never will: it lists nothing to
	// open later, and still carries every payload.
	if after := lockedIDs(relay); len(after) != len(before) || len(after) != 0 {
		t.Errorf("relay lists %d envelopes to open later, want none", len(after))
	}
	for _, p := range c.centre.Feed(FeedFilter{Search: "large"}) {
		var h envelope.Hash
		if err := h.UnmarshalText([]byte(p.ID)); err != nil {
			t.Fatal(err)
		}
		if e, err := relay.store.Get(h); err != nil || e.Payload == nil {
			t.Fatalf("relay's store lacks the payload of %s (%v): it must carry it", p.ID[:12], err)
		}
	}
	growth := int64(heap1) - int64(heap0)
	t.Logf("relay folded %d posts of %d KiB: heap grew by %d KiB", posts, size>>10, growth>>10)
	if limit := int64(posts*size) / 4; growth > limit {
		t.Errorf("heap grew by %d bytes after folding %d payloads of %d bytes, want under %d: payloads are pinned", growth, posts, size, limit)
	}
	runtime.KeepAlive(relay)
}

// A device that folds records before the key that opens them (a rotated
// community key reaches it after a post sealed with it) keeps their IDs
// only, and opens them from the store when the key arrives.
func TestLockedRecordsOpenWhenKeyArrives(t *testing.T) {
	c := newCommunity(t)
	venue := c.venue.Device().ID
	if _, err := c.centre.Revoke(venue.String(), "lost laptop"); err != nil {
		t.Fatal(err)
	}
	// Rail learns the new community key; power does not yet.
	if err := exchange([]*App{c.centre, c.rail}); err != nil {
		t.Fatal(err)
	}
	railID := c.rail.dev.ID()
	from := c.rail.store.Head(railID).Seq
	var titles []string
	for i := range 3 {
		title := fmt.Sprintf("after the rotation %d", i)
		if _, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: title}); err != nil {
			t.Fatal(err)
		}
		titles = append(titles, title)
	}
	// Power gets rail's new posts only.
	var mine []*envelope.Envelope
	for _, e := range envelopes(t, c.rail) {
		if crypto.DeviceID(e.Header.Author) == railID && e.Header.Seq > from {
			mine = append(mine, e)
		}
	}
	res, err := c.power.store.Add(mine...)
	if err != nil || len(res.Admitted) != len(mine) {
		t.Fatalf("power admitted %d of rail's %d posts (err %v, refused %v)", len(res.Admitted), len(mine), err, res.Refused)
	}
	if err := c.power.refresh(); err != nil {
		t.Fatal(err)
	}
	shown := func() int {
		n := 0
		for _, p := range c.power.Feed(FeedFilter{}) {
			for _, title := range titles {
				if p.Title == title {
					n++
				}
			}
		}
		return n
	}
	ids := lockedIDs(c.power)
	if n := shown(); n != 0 || len(ids) < len(titles) {
		t.Fatalf("before the key: %d posts shown, %d IDs locked; want 0, at least %d", n, len(ids), len(titles))
	}
	// The centre's rotation arrives.
	if err := exchange([]*App{c.centre, c.power}); err != nil {
		t.Fatal(err)
	}
	if n := shown(); n != len(titles) {
		t.Errorf("after the key: %d of %d posts shown", n, len(titles))
	}
	for _, id := range mine {
		if containsHash(lockedIDs(c.power), id.ID()) {
			t.Errorf("post %s still locked after its key arrived", id.ID().String()[:12])
		}
	}
}

func containsHash(hs []envelope.Hash, id envelope.Hash) bool {
	for _, h := range hs {
		if h == id {
			return true
		}
	}
	return false
}

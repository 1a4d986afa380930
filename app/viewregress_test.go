package app

// Regression tests from the attacker-minded review of the persisted views:
// each failed on the first version of view.go.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// TestThreatStolenDiskDoesNotTellWhoReadWhat: a thief holding only the
// store file tries to link read receipts in the views to devices (through
// the receipt's envelope ID and its header): nothing says which device
// read which post.
func TestThreatStolenDiskDoesNotTellWhoReadWhat(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "who reads this"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.power.MarkRead(p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	dst := filepath.Join(t.TempDir(), "stolen.db")
	if err := c.centre.store.CopyTo(dst); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dst, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := map[string]string{}
	db.View(func(tx *bolt.Tx) error {
		views := tx.Bucket([]byte("views"))
		devOf := map[string]crypto.DeviceID{} // term(device) -> device, from readsby + headers
		views.Bucket([]byte("readsby")).ForEach(func(k, _ []byte) error {
			term, rid := k[:8], k[8:]
			seq := tx.Bucket([]byte("seq-by-id")).Get(rid)
			h, err := envelope.DecodeHeader(tx.Bucket([]byte("header-by-seq")).Get(seq))
			if err == nil {
				devOf[string(term)] = crypto.DeviceID(h.Author)
			}
			return nil
		})
		views.Bucket([]byte("reads")).ForEach(func(k, _ []byte) error {
			post := envelope.Hash(k[:32])
			d := devOf[string(k[40:48])]
			found[post.String()] = d.String()
			return nil
		})
		return nil
	})
	if found[p.ID] == c.power.dev.ID().String() {
		t.Errorf("from the disk alone: post %s was read by device %s (power)", p.ID[:12], found[p.ID][:12])
	}
}

// foldNoReopen is foldLocked up to the commit of its batch, i.e. the state a
// crash (SIGKILL) leaves between the batch transaction and reopenLocked.
func foldNoReopen(t *testing.T, a *App) {
	trust, upto := a.store.TrustAt()
	var batch []*envelope.Envelope
	var seqs []uint64
	a.store.Since(a.folded, func(seq uint64, e *envelope.Envelope) error {
		if seq > upto {
			return errBatch
		}
		batch = append(batch, e)
		seqs = append(seqs, seq)
		return nil
	})
	if len(batch) == 0 {
		t.Fatal("nothing to fold")
	}
	if err := a.store.ViewUpdate(func(tx *replica.ViewTx) error {
		vt := a.vtx(tx)
		for _, e := range batch {
			if _, err := vt.fold(e, trust); err != nil {
				return err
			}
		}
		if err := vt.flushSlices(); err != nil {
			return err
		}
		return tx.Bucket(vbMeta).Put(metaFolded, binary.BigEndian.AppendUint64(nil, seqs[len(seqs)-1]))
	}); err != nil {
		t.Fatal(err)
	}
	a.folded = seqs[len(seqs)-1]
}

// A crash after the batch that brought a key, before reopenLocked: the
// records locked under that key stay locked for ever.
func TestViewsCrashBeforeReopenLocked(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Revoke(c.venue.Device().ID.String(), "lost laptop"); err != nil {
		t.Fatal(err)
	}
	if err := exchange([]*App{c.centre, c.rail}); err != nil {
		t.Fatal(err)
	}
	railID := c.rail.dev.ID()
	from := c.rail.store.Head(railID).Seq
	if _, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "after the rotation"}); err != nil {
		t.Fatal(err)
	}
	var mine []*envelope.Envelope
	for _, e := range envelopes(t, c.rail) {
		if crypto.DeviceID(e.Header.Author) == railID && e.Header.Seq > from {
			mine = append(mine, e)
		}
	}
	if _, err := c.power.store.Add(mine...); err != nil {
		t.Fatal(err)
	}
	if err := c.power.refresh(); err != nil {
		t.Fatal(err)
	}
	if len(lockedIDs(c.power)) == 0 {
		t.Fatal("nothing locked")
	}
	// The rotation arrives; the fold commits its batch and "crashes".
	a := c.power
	a.mu.Lock()
	var envs []*envelope.Envelope
	for _, e := range envelopes(t, c.centre) {
		if !replica.MayHoldPayload(e.Header, a.store.Community(), a.dev.ID()) {
			e.Payload = nil
		}
		envs = append(envs, e)
	}
	if _, err := a.store.Add(envs...); err != nil {
		a.mu.Unlock()
		t.Fatal(err)
	}
	foldNoReopen(t, a)
	a.mu.Unlock()
	b := reopen(t, c, a)
	if err := b.refresh(); err != nil {
		t.Fatal(err)
	}
	if got, want := views(t, b), freshFold(t, b); !bytes.Equal(got, want) {
		t.Errorf("after a crash before reopenLocked, views differ from a fresh fold (locked: %d)\n got  %s\n want %s", len(lockedIDs(b)), got, want)
	}
}

// The fold loop takes the store's change channel after folding: a commit
// that lands while it folds is not seen until some later commit.
func TestFoldLoopWakesForEveryCommit(t *testing.T) {
	c := newCommunity(t)
	centreID := c.centre.dev.ID()
	from := c.centre.store.Head(centreID).Seq
	const n = 40
	for i := range n {
		if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: fmt.Sprintf("p%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var posts []*envelope.Envelope
	for _, e := range envelopes(t, c.centre) {
		if crypto.DeviceID(e.Header.Author) == centreID && e.Header.Seq > from {
			if !replica.MayHoldPayload(e.Header, c.power.store.Community(), c.power.dev.ID()) {
				e.Payload = nil
			}
			posts = append(posts, e)
		}
	}
	a := c.power
	before := len(a.Feed(FeedFilter{}))
	for i, e := range posts {
		if _, err := a.store.Add(e); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if len(a.Feed(FeedFilter{})) == before+n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("20 s after the last commit the feed shows %d of %d new posts (the last commit's wake-up was lost)", len(a.Feed(FeedFilter{}))-before, n)
}

// A key grant that is inert when it is folded (one of its recipients'
// memberships has not arrived yet) is ignored for ever, although the trust
// state accepts it once the membership arrives: the device never holds the
// rotated key, a fresh fold does.
func TestViewsGrantJudgedBeforeItCountsIsTakenLater(t *testing.T) {
	c := newCommunity(t)
	staff := openNew(t, c.clock, "Venue Staff")
	req, err := staff.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := c.venue.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staff.Join(inv); err != nil {
		t.Fatal(err)
	}
	if err := exchange([]*App{c.centre, c.venue, staff}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Revoke(c.rail.Device().ID.String(), "lost laptop"); err != nil {
		t.Fatal(err)
	}
	// Power hears the centre's chain (with the rotation) before the venue's.
	centreID := c.centre.dev.ID()
	var first []*envelope.Envelope
	for _, e := range envelopes(t, c.centre) {
		if crypto.DeviceID(e.Header.Author) == centreID {
			if !replica.MayHoldPayload(e.Header, c.power.store.Community(), c.power.dev.ID()) {
				e.Payload = nil
			}
			first = append(first, e)
		}
	}
	if _, err := c.power.store.Add(first...); err != nil {
		t.Fatal(err)
	}
	if err := c.power.refresh(); err != nil {
		t.Fatal(err)
	}
	c.all = append(c.all, staff)
	c.sync(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after the rotation"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	got, want := views(t, c.power), freshFold(t, c.power)
	if !bytes.Equal(got, want) {
		t.Errorf("power's views differ from a fresh fold (locked %d)", len(lockedIDs(c.power)))
	}
	if n := len(c.power.Feed(FeedFilter{Search: "rotation"})); n != 1 {
		t.Errorf("power shows %d posts written after the rotation, want 1", n)
	}
}

// A comment retracted by its author: the store drops its payload, the
// views keep (and show) the comment; a fresh fold does not.
func TestViewsRetractedCommentLeaves(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "post"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	cm, err := c.power.Comment(p.ID, "oops, wrong internal address 10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	var id envelope.Hash
	id.UnmarshalText([]byte(cm.ID))
	payload, _ := (&crypto.Retraction{Target: id}).Encode()
	if _, err := c.power.write(func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		return c.power.dev.NewClear(envelope.ClassRetraction, pos, clock, payload)
	}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if got, want := views(t, c.centre), freshFold(t, c.centre); !bytes.Equal(got, want) {
		t.Errorf("centre's views keep the retracted comment; a fresh fold does not")
	}
}

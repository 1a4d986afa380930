package app

// Threats to the air-gap bundles' marks (security review of issue #9).

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// forgeMark writes a decoded (and altered) mark back as bundlemark.go
// writes one.
func forgeMark(m *bundleMark) string {
	b := append([]byte{}, m.community[:]...)
	var ids [][markIDLen]byte
	for id := range m.heads {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y [markIDLen]byte) int { return bytes.Compare(x[:], y[:]) })
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
		b = binary.AppendUvarint(b, m.heads[id].seq)
		h := m.heads[id].head
		b = append(b, h[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.wanted)))
	for id := range m.wanted {
		b = append(b, id[:]...)
	}
	return markPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// raiseMark returns mark with author's sequence raised far beyond any
// chain.
func raiseMark(t *testing.T, a *App, mark string, author [32]byte) string {
	t.Helper()
	m, err := decodeMark(mark, a.store.Community())
	if err != nil {
		t.Fatal(err)
	}
	p := [markIDLen]byte(author[:markIDLen])
	h := m.heads[p]
	h.seq = 1 << 40
	m.heads[p] = h
	return forgeMark(m)
}

// Attack: whoever carries the stick raises the coordinator's sequence in
// the receiver's (unsigned) mark, so that the exporter takes the receiver
// to hold more of the coordinator's chain than it does and leaves it out,
// the revocation of a stolen laptop included. Held: the exporter puts in a
// chain of which the mark claims more than it holds, and the receiver,
// which finds the mark in the bundle's signed meta, is told the mark
// claims more than it holds (ErrMarkAhead, ImportResult.MarkAhead).
func TestThreatForgedMarkHidesRevocation(t *testing.T) {
	c := newCommunity(t)
	genuine, err := c.rail.Mark()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Revoke(c.power.Device().ID.String(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "Power Analyst's laptop was stolen"}); err != nil {
		t.Fatal(err)
	}
	forged := raiseMark(t, c.centre, genuine, c.centre.Device().ID)
	var file bytes.Buffer
	res, err := c.centre.Export(&file, ExportOptions{Since: forged})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export with the forged mark: %d envelopes, %d skipped", res.Envelopes, res.Skipped)
	ir, err := c.rail.Import(file.Bytes(), ImportOptions{})
	if !errors.Is(err, ErrMarkAhead) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "full export") {
		t.Errorf("import of a bundle made for a forged mark: %v, want ErrMarkAhead asking for a full export", err)
	}
	if len(ir.MarkAhead) != 1 || !strings.Contains(ir.MarkAhead[0], c.centre.Device().ID.Short()) || ir.Mark == "" {
		t.Errorf("the result names %q as the authors the mark claims more of, want the coordinator's device alone; mark %q", ir.MarkAhead, ir.Mark)
	}
	c.rail.mu.RLock()
	_, revoked := c.rail.view.trust.Revoked(c.power.Device().ID)
	c.rail.mu.RUnlock()
	if !revoked {
		t.Errorf("the receiver imported the bundle (%+v) and does not know the stolen device is revoked: a forged mark left the revocation out", ir)
	}
}

// Attack: the same forgery for an ordinary author, to leave that author's
// alert out without a word. Held: the alert goes in, and the receiver is
// told.
func TestThreatForgedMarkSilentlyDropsAuthor(t *testing.T) {
	c := newCommunity(t)
	genuine, err := c.rail.Mark()
	if err != nil {
		t.Fatal(err)
	}
	alert, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "venue ticketing site defaced"})
	if err != nil {
		t.Fatal(err)
	}
	// rail is air-gapped: only the others sync.
	if err := exchange([]*App{c.centre, c.venue, c.power}); err != nil {
		t.Fatal(err)
	}
	forged := raiseMark(t, c.centre, genuine, c.venue.Device().ID)
	var file bytes.Buffer
	if _, err := c.centre.Export(&file, ExportOptions{Since: forged}); err != nil {
		t.Fatal(err)
	}
	ir, err := c.rail.Import(file.Bytes(), ImportOptions{})
	if !errors.Is(err, ErrMarkAhead) || len(ir.MarkAhead) != 1 || !ir.SinceMark {
		t.Errorf("import of a bundle made for a forged mark: %+v, %v; want ErrMarkAhead naming the venue's device", ir, err)
	}
	if _, err := c.rail.Show(alert.ID); err != nil {
		t.Errorf("the bundle imported (%d envelopes, since-mark %v) yet the receiver lacks the venue's alert: %v", ir.Envelopes, ir.SinceMark, err)
	}

	// The genuine mark, and the mark the import printed, raise nothing.
	for _, m := range []string{genuine, ir.Mark} {
		var again bytes.Buffer
		if _, err := c.centre.Export(&again, ExportOptions{Since: m}); err != nil {
			t.Fatal(err)
		}
		if r, err := c.rail.Import(again.Bytes(), ImportOptions{}); err != nil || len(r.MarkAhead) != 0 {
			t.Errorf("import of a bundle made for a genuine mark: %+v, %v", r, err)
		}
	}
}

// Attack: a mark that names an author nobody holds (its prefix made up)
// leaves nothing out at the exporter, but the receiver still learns that
// the mark the bundle was made for is not its own.
func TestThreatForgedMarkUnknownAuthor(t *testing.T) {
	c := newCommunity(t)
	genuine, err := c.rail.Mark()
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMark(genuine, c.rail.store.Community())
	if err != nil {
		t.Fatal(err)
	}
	m.heads[[markIDLen]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}] = markHead{seq: 3}
	var file bytes.Buffer
	if _, err := c.centre.Export(&file, ExportOptions{Since: forgeMark(m)}); err != nil {
		t.Fatal(err)
	}
	ir, err := c.rail.Import(file.Bytes(), ImportOptions{})
	if !errors.Is(err, ErrMarkAhead) || len(ir.MarkAhead) != 1 || !strings.Contains(ir.MarkAhead[0], "ffffffffffff") {
		t.Errorf("import: %+v, %v; want ErrMarkAhead naming the unknown author", ir.MarkAhead, err)
	}
}

package app

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// A mark says what a device holds, so that the device that writes its next
// bundle leaves out what it has: `noroshi import` prints one, `noroshi
// export --since MARK` reads it. It is the version vector of the store
// (replica.Heads: each author's highest contiguous sequence number and the
// ID of the header there) cut short, and a few envelopes held without the
// payload this device may hold:
//
//	"nm1." base64url(no padding) of:
//	community   the first 8 bytes of the community ID
//	count       uvarint (at most maxMarkAuthors)
//	repeated:   author ID prefix [8], seq uvarint (>= 1), head ID prefix [4]
//	            (authors in ascending order, no two the same)
//	wanted      uvarint (at most maxMarkWanted)
//	repeated:   envelope ID prefix [8]
//
// The head prefix makes a forked chain never look covered: where the
// exporter's header at that sequence is another one, the author's whole
// chain goes in; so does a chain of which the mark claims more than the
// exporter holds (a claim it cannot check, and a mark is not signed: the
// exporter signs the mark it was given into the bundle, and the receiver
// says where that mark claims more than it holds). An author missing from the mark (a mark keeps the
// maxMarkAuthors longest chains) goes in whole too. Prefixes keep a mark
// short; an exporter that holds two authors with the same prefix treats
// neither as covered. A mark is no secret from the community, but it tells
// how much each device wrote: it travels with the bundles, on the same
// stick.
const (
	markPrefix     = "nm1."
	markVersion    = 1
	maxMarkAuthors = 4096
	maxMarkWanted  = 256
	markIDLen      = 8
	markHeadLen    = 4
	// maxMarkText bounds a mark's text.
	maxMarkText = 4 + (8+10+2+(markIDLen+10+markHeadLen)*maxMarkAuthors+maxMarkWanted*markIDLen)*4/3 + 8
)

// bundleMark is a decoded mark.
type bundleMark struct {
	community [markIDLen]byte
	heads     map[[markIDLen]byte]markHead
	wanted    map[[markIDLen]byte]bool
}

type markHead struct {
	seq  uint64
	head [markHeadLen]byte
}

// Mark returns this device's mark: give it to `noroshi export --since` on
// the device that writes the next bundle for this one, which then writes
// only what this device lacks.
func (a *App) Mark() (string, error) {
	a.mu.RLock()
	_, err := a.me()
	a.mu.RUnlock()
	if err != nil {
		return "", err
	}
	return a.mark(), nil
}

func (a *App) mark() string {
	heads := a.store.Heads()
	if len(heads) > maxMarkAuthors {
		// The longest chains save the most.
		slices.SortStableFunc(heads, func(x, y replica.AuthorHead) int {
			switch {
			case x.Seq > y.Seq:
				return -1
			case x.Seq < y.Seq:
				return 1
			}
			return 0
		})
		heads = heads[:maxMarkAuthors]
	}
	slices.SortFunc(heads, func(x, y replica.AuthorHead) int { return bytes.Compare(x.Author[:], y.Author[:]) })
	// Two authors sharing a prefix: neither is listed.
	dup := map[[markIDLen]byte]int{}
	for _, h := range heads {
		dup[[markIDLen]byte(h.Author[:markIDLen])]++
	}
	c := a.store.Community()
	b := append([]byte{}, c[:markIDLen]...)
	var listed []replica.AuthorHead
	for _, h := range heads {
		if h.Seq > 0 && dup[[markIDLen]byte(h.Author[:markIDLen])] == 1 {
			listed = append(listed, h)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(listed)))
	for _, h := range listed {
		b = append(b, h.Author[:markIDLen]...)
		b = binary.AppendUvarint(b, h.Seq)
		b = append(b, h.Head[:markHeadLen]...)
	}
	wanted := a.store.Wanted(maxMarkWanted)
	b = binary.AppendUvarint(b, uint64(len(wanted)))
	for _, id := range wanted {
		b = append(b, id[:markIDLen]...)
	}
	return markPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// errMark says what is wrong with a mark given to export.
func errMark(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// decodeMark parses a mark, checking that it is of community c.
func decodeMark(s string, c envelope.Hash) (*bundleMark, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxMarkText {
		return nil, errMark("a mark of %d characters is too long: give the mark `noroshi import` or `noroshi mark` printed", len(s))
	}
	rest, ok := strings.CutPrefix(s, markPrefix)
	if !ok {
		if v, _, found := strings.Cut(s, "."); found && strings.HasPrefix(v, "nm") && len(v) <= 6 {
			return nil, errMark("a mark of version %q, this program reads %q: upgrade Noroshi", strings.TrimPrefix(v, "nm"), "1")
		}
		return nil, errMark("not a mark (a mark starts with %q): give the mark `noroshi import` or `noroshi mark` printed on the receiving device", markPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, errMark("the mark is damaged (cut short or mistyped): copy it again")
	}
	m := &bundleMark{heads: map[[markIDLen]byte]markHead{}, wanted: map[[markIDLen]byte]bool{}}
	bad := errMark("the mark is damaged (cut short or mistyped): copy it again")
	take := func(n int) ([]byte, bool) {
		if len(b) < n {
			return nil, false
		}
		out := b[:n]
		b = b[n:]
		return out, true
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	comm, ok := take(markIDLen)
	if !ok {
		return nil, bad
	}
	copy(m.community[:], comm)
	if !bytes.Equal(comm, c[:markIDLen]) {
		return nil, errMark("this mark is of another community's device")
	}
	n, ok := uvarint()
	if !ok || n > maxMarkAuthors {
		return nil, bad
	}
	var last []byte
	for range n {
		id, ok1 := take(markIDLen)
		if !ok1 {
			return nil, bad
		}
		seq, ok2 := uvarint()
		head, ok3 := take(markHeadLen)
		if !ok2 || !ok3 || seq == 0 || (last != nil && bytes.Compare(id, last) <= 0) {
			return nil, bad
		}
		last = id
		m.heads[[markIDLen]byte(id)] = markHead{seq: seq, head: [markHeadLen]byte(head)}
	}
	w, ok := uvarint()
	if !ok || w > maxMarkWanted {
		return nil, bad
	}
	for range w {
		id, ok := take(markIDLen)
		if !ok {
			return nil, bad
		}
		m.wanted[[markIDLen]byte(id)] = true
	}
	if len(b) != 0 {
		return nil, bad
	}
	return m, nil
}

// sinceMark returns the envelopes of envs (in store order) that the device
// of mark m lacks: each author's envelopes after the sequence the mark
// covers, every envelope of an author the mark does not cover (or covers
// with another head, a fork, or beyond what envs hold), and the envelopes
// it holds without their payload. It returns how many were left out.
func sinceMark(envs []*envelope.Envelope, m *bundleMark) ([]*envelope.Envelope, int) {
	// Which authors does the mark cover, and is the header at its
	// sequence the one this device holds there?
	authors := map[[markIDLen]byte]crypto.DeviceID{}
	ambiguous := map[[markIDLen]byte]bool{}
	headOK := map[crypto.DeviceID]bool{}
	for _, e := range envs {
		a := crypto.DeviceID(e.Header.Author)
		p := [markIDLen]byte(a[:markIDLen])
		if prev, ok := authors[p]; ok && prev != a {
			ambiguous[p] = true
		}
		authors[p] = a
		if mh, ok := m.heads[p]; ok && e.Header.Seq == mh.seq {
			id := e.ID()
			if bytes.Equal(id[:markHeadLen], mh.head[:]) {
				headOK[a] = true
			}
		}
	}
	var out []*envelope.Envelope
	for _, e := range envs {
		a := crypto.DeviceID(e.Header.Author)
		p := [markIDLen]byte(a[:markIDLen])
		mh, listed := m.heads[p]
		id := e.ID()
		switch {
		case m.wanted[[markIDLen]byte(id[:markIDLen])] && e.Payload != nil:
			out = append(out, e)
		case !listed || ambiguous[p]:
			out = append(out, e)
		case e.Header.Seq > mh.seq:
			out = append(out, e)
		case !headOK[a]:
			// Either the mark's device holds a fork of this chain (the
			// chain goes in whole, as evidence), or the mark claims more
			// of it than this device holds. The mark travels unsigned: a
			// claim this device cannot check may be forged to leave the
			// chain out (a coordinator's revocation with it), so the
			// chain goes in whole too; the receiver counts what it held
			// already as duplicates.
			out = append(out, e)
		}
	}
	return out, len(envs) - len(out)
}

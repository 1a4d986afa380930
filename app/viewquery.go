package app

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// The read side of the persisted views: every query opens one read
// transaction and reads what it returns, a page at a time. Callers gather
// what they need from the store's local values (bookmarks, reads not sent
// yet) before, never inside, the transaction.

// read runs fn over the views with a.mu held for reading.
func (a *App) read(fn func(t *vtx) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.inView(fn)
}

// inView runs fn over the views; the caller holds a.mu.
func (a *App) inView(fn func(t *vtx) error) error {
	return a.store.ViewRead(func(tx *replica.ViewTx) error { return fn(a.vtx(tx)) })
}

// post returns a readable post's view record, nil when none.
func (t *vtx) post(id envelope.Hash) *viewRec {
	v := t.get(id)
	if v == nil || v.rec == nil || v.rec.Post == nil {
		return nil
	}
	return v
}

// visible reports whether a folded post is shown: an observation notice
// only when a coordinator wrote it. (A retracted post is gone from the
// views.)
func (s *state) visible(v *viewRec) bool {
	return v.rec.Post.Channel != ChannelObservation || s.isCoordinator(v.author)
}

// readers returns, per person, when they first read post id.
func (t *vtx) readers(id envelope.Hash) map[crypto.ID16]uint64 {
	out := map[crypto.ID16]uint64{}
	eachPrefix(t.b(vbReads), id[:], func(k, v []byte) bool {
		d, c, ok := t.openRead(k, v)
		if !ok {
			return true
		}
		p := t.a.view.person(d)
		if old, ok := out[p]; !ok || c < old {
			out[p] = c
		}
		return true
	})
	return out
}

// readerDevices returns the devices that sent a read receipt for post id.
func (t *vtx) readerDevices(id envelope.Hash) []crypto.DeviceID {
	var out []crypto.DeviceID
	eachPrefix(t.b(vbReads), id[:], func(k, v []byte) bool {
		if d, _, ok := t.openRead(k, v); ok {
			out = append(out, d)
		}
		return true
	})
	return out
}

// readerCount counts the people who read post id, without opening a
// receipt: keys group them by person.
func (t *vtx) readerCount(id envelope.Hash) int {
	n := 0
	var last []byte
	eachPrefix(t.b(vbReads), id[:], func(k, _ []byte) bool {
		person := k[len(id) : len(id)+8]
		if !bytes.Equal(person, last) {
			n++
			last = bytes.Clone(person)
		}
		return true
	})
	return n
}

// readBy reports whether person read post id.
func (t *vtx) readBy(id envelope.Hash, person crypto.ID16) bool {
	return !person.IsZero() && hasPrefix(t.b(vbReads), cat(id[:], t.term("person="+string(person[:]))))
}

// count counts the keys of a bucket with a prefix.
func count(b *replica.ViewBucket, prefix []byte) int {
	n := 0
	eachPrefix(b, prefix, func(_, _ []byte) bool { n++; return true })
	return n
}

func (t *vtx) summary(v *viewRec, l localState) PostSummary {
	a := t.a
	s := a.view
	p := v.rec.Post
	m, _ := s.trust.Member(v.author)
	// An exercise post's reads and comments are in the exercise buckets.
	readers, read, comments := t.postCounts(v, s.person(a.dev.ID()))
	if !read && l.reads[v.id] {
		// Read here, receipt not sent yet (batched): count it now.
		readers++
		read = true
	}
	read = read || v.author == a.dev.ID()
	return PostSummary{
		ID: v.id.String(), Title: p.Title, Type: p.Type, Tag: p.Tag, TagMark: p.Tag.Mark(),
		TLP: p.TLP.Label(), Channel: p.Channel, Org: m.Org.String(), OrgName: s.orgName(m.Org),
		Author: v.author.String(), AuthorName: s.deviceName(v.author), Time: wallTime(v.clock),
		Unread: !read, Bookmarked: l.bookmarks[v.id], Reads: readers, Comments: comments,
		Attachments: len(p.Attachments), Exercise: v.exercise,
	}
}

// Feed lists the posts this device can read, newest first, a page at a
// time (see FeedFilter.Before and Limit). Filters on type, tag, TLP and
// channel walk their index; unread walks the unread list; a search walks
// the search signatures (search.go) and opens only the posts that may
// match.
func (a *App) Feed(f FeedFilter) []PostSummary {
	l := a.localState()
	var out []PostSummary
	walked := 0
	a.read(func(t *vtx) error {
		out, walked = t.feed(f, l)
		return nil
	})
	a.walked(walked)
	return out
}

// Memory follows what is asked for, not what was once read: queries read
// the views through the store's memory map, and the pages they touch stay
// resident (and count in the process's RSS) until released (see
// replica.Store.ReleaseMemory). They are released after releaseBusy
// records were opened, so that a query over the whole feed never holds
// more than a slice of it, and once the process has been idle for
// releaseIdle, so that it rests small. Walking search signatures does not
// count: they are a tenth of a post's size and every search walks them
// again.
const (
	releaseBusy = 500
	releaseIdle = time.Second
)

// walked counts view records a query opened, and releases the store's
// pages when enough were, or after releaseIdle without another query.
func (a *App) walked(n int) {
	if n == 0 {
		return
	}
	if a.walkedSince.Add(int64(n)) >= releaseBusy {
		a.walkedSince.Store(0)
		a.store.ReleaseMemory()
	}
	a.chmu.Lock()
	defer a.chmu.Unlock()
	if a.release == nil {
		a.release = time.AfterFunc(releaseIdle, func() {
			a.walkedSince.Store(0)
			a.store.ReleaseMemory()
		})
		return
	}
	a.release.Reset(releaseIdle)
}

func (t *vtx) feed(f FeedFilter, l localState) (out []PostSummary, walked int) {
	a := t.a
	q := strings.TrimSpace(f.Search)
	lq := strings.ToLower(q)
	var sets [][]termHash // a post may match any one set: the query as typed, or refanged
	for _, qs := range slices.Compact([]string{q, Refang(q)}) {
		var hs []termHash
		for _, term := range queryTerms(qs) {
			hs = append(hs, splitTerm(a.vkey.Term(term)))
		}
		sets = append(sets, hs)
	}
	var start []byte
	if f.Before != "" {
		var id envelope.Hash
		if id.UnmarshalText([]byte(strings.ToLower(f.Before))) != nil {
			return nil, 0
		}
		v := t.get(id)
		if v == nil {
			return nil, 0
		}
		start = feedKey(v.clock, v.id)
	}
	feed := t.b(vbFeed)
	// take considers one post; sig is its signature when the caller walks
	// the feed itself (nil: looked up).
	take := func(fk, sig []byte) bool {
		id := feedID(fk)
		if f.Unread && l.reads[id] {
			return true
		}
		if sig == nil {
			// A search candidate or a bookmark: only what the feed lists
			// (not a retracted post, not a source's older version).
			if sig = feed.Get(fk); sig == nil {
				return true
			}
		}
		if q != "" {
			maybe := false
			for _, hs := range sets {
				maybe = maybe || sigHas(sig, hs)
			}
			if !maybe {
				return true
			}
		}
		walked++ // records opened: signatures are small and stay mapped
		v := t.post(id)
		if v == nil {
			return true
		}
		r := v.rec.Post
		if (f.Type != "" && r.Type != f.Type) || (f.Tag != "" && r.Tag != f.Tag) || (f.TLP != "" && r.TLP != f.TLP) ||
			(f.Channel != "" && r.Channel != f.Channel) || (f.Bookmarked && !l.bookmarks[id]) || !a.view.visible(v) {
			return true
		}
		if q != "" && !matches(r, lq, a.view.deviceName(v.author)) {
			return true
		}
		s := t.summary(v, l)
		if f.Unread && !s.Unread {
			return true
		}
		out = append(out, s)
		return f.Limit <= 0 || len(out) < f.Limit
	}
	if f.Bookmarked {
		// Bookmarks are few and on this device: sort them.
		var keys [][]byte
		for id := range l.bookmarks {
			if v := t.post(id); v != nil {
				keys = append(keys, feedKey(v.clock, v.id))
			}
		}
		slices.SortFunc(keys, bytes.Compare)
		for _, fk := range keys {
			if start != nil && bytes.Compare(fk, start) <= 0 {
				continue
			}
			if !take(fk, nil) {
				break
			}
		}
		return out, walked
	}
	if q != "" {
		// A rare term: the sliced index names the few candidates.
		if cands, ok := t.sliceCandidates(sets); ok {
			for _, fk := range cands {
				if start != nil && bytes.Compare(fk, start) <= 0 {
					continue
				}
				if !take(fk, nil) {
					break
				}
			}
			return out, walked
		}
	}
	b, prefix := feed, []byte(nil)
	switch {
	case f.Type != "":
		b, prefix = t.b(vbIx), t.term("type="+string(f.Type))
	case f.Tag != "":
		b, prefix = t.b(vbIx), t.term("tag="+string(f.Tag))
	case f.TLP != "":
		b, prefix = t.b(vbIx), t.term("tlp="+string(f.TLP))
	case f.Channel != "":
		b, prefix = t.b(vbIx), t.term("channel="+string(f.Channel))
	case f.Unread:
		b = t.b(vbUnread)
	}
	walkingFeed := b == feed
	c := b.Cursor()
	k, v := c.Seek(cat(prefix, start))
	if start != nil && k != nil && bytes.Equal(k, cat(prefix, start)) {
		k, v = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var sig []byte
		if walkingFeed {
			sig = v
		}
		if !take(k[len(prefix):], sig) {
			break
		}
	}
	return out, walked
}

// matches reports whether every word of the lower-case query q is in the
// post's title, body or author's name, or in one of its indicators (the
// word refanged).
func matches(r *PostRecord, q, author string) bool {
	title, body, author := strings.ToLower(r.Title), strings.ToLower(r.Body), strings.ToLower(author)
	for _, w := range strings.Fields(q) {
		if strings.Contains(title, w) || strings.Contains(body, w) || strings.Contains(author, w) {
			continue
		}
		plain := strings.ToLower(Refang(w))
		found := false
		for _, in := range r.Indicators {
			if strings.Contains(strings.ToLower(in.Value), plain) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// findIDs returns the IDs in a bucket keyed by ID (or starting with one)
// that start with the hex prefix lq and pass ok.
func findIDs(b *replica.ViewBucket, lq string, ok func(envelope.Hash) bool) []envelope.Hash {
	raw, err := hex.DecodeString(lq[:len(lq)&^1])
	if err != nil {
		return nil
	}
	var hits []envelope.Hash
	seen := map[envelope.Hash]bool{}
	eachPrefix(b, raw, func(k, _ []byte) bool {
		if len(k) < len(envelope.Hash{}) {
			return true
		}
		id := envelope.Hash(k[:len(envelope.Hash{})])
		if !seen[id] && strings.HasPrefix(id.String(), lq) && ok(id) {
			hits = append(hits, id)
		}
		seen[id] = true
		return true
	})
	return hits
}

// findOne resolves a hex ID prefix of a post or incident.
func findOne(q, what, hint string, find func(lq string) []envelope.Hash) (envelope.Hash, error) {
	lq := strings.ToLower(strings.TrimSpace(q))
	if len(lq) < 6 {
		return envelope.Hash{}, fmt.Errorf("%w: %s ID %q too short: give at least 6 hex digits (%s)", ErrInvalid, what, q, hint)
	}
	hits := find(lq)
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return envelope.Hash{}, fmt.Errorf("%w: no %s %q (%s)", ErrNotFound, what, q, hint)
	}
	return envelope.Hash{}, fmt.Errorf("%w: %s ID %q matches %d: give more digits", ErrAmbiguous, what, q, len(hits))
}

// findPost resolves a post ID prefix among the posts this device can read.
func (t *vtx) findPost(q string) (*viewRec, error) {
	id, err := findOne(q, "post", "see `noroshi feed`", func(lq string) []envelope.Hash {
		return findIDs(t.rec, lq, func(id envelope.Hash) bool { return t.post(id) != nil })
	})
	if err != nil {
		// A retracted post is no longer readable: say so rather than "not found".
		if rid, rerr := findOne(q, "post", "", func(lq string) []envelope.Hash {
			return findIDs(t.b(vbRetracted), lq, func(envelope.Hash) bool { return true })
		}); rerr == nil {
			return nil, t.retractedErr(rid)
		}
		return nil, err
	}
	v := t.post(id)
	if !t.a.view.visible(v) {
		return nil, t.retractedErr(id)
	}
	return v, nil
}

// retractedErr says who retracted post id, when and why.
func (t *vtx) retractedErr(id envelope.Hash) error {
	var first *viewRec
	eachPrefix(t.b(vbRetracted), id[:], func(k, _ []byte) bool {
		if r := t.get(envelope.Hash(k[len(id):])); r != nil && (first == nil || first.newer(r.meta)) {
			first = r
		}
		return true
	})
	if first == nil {
		return fmt.Errorf("%w: post %s is not shown (an observation notice not written by a coordinator)", ErrNotFound, id.String()[:12])
	}
	msg := fmt.Sprintf(": post %s was retracted by %s at %s", id.String()[:12], t.a.view.deviceName(first.author), wallTime(first.clock).Format("2006-01-02 15:04 MST"))
	if first.reason != "" {
		msg += ": " + first.reason
	}
	return fmt.Errorf("%w%s", ErrRetracted, msg)
}

// comments returns the comments of post id, oldest first.
func (t *vtx) comments(ids ...envelope.Hash) []Comment {
	var cs []*viewRec
	for _, id := range ids {
		eachPrefix(t.b(vbKids), id[:], func(k, _ []byte) bool {
			if c := t.get(envelope.Hash(k[len(id):])); c != nil && c.rec != nil && c.rec.Comment != nil {
				cs = append(cs, c)
			}
			return true
		})
	}
	return t.commentList(cs)
}

// commentList orders comments oldest first and shows them.
func (t *vtx) commentList(cs []*viewRec) []Comment {
	sort.Slice(cs, func(i, j int) bool { return cs[j].newer(cs[i].meta) })
	s := t.a.view
	out := []Comment{}
	for _, c := range cs {
		m, _ := s.trust.Member(c.author)
		out = append(out, Comment{ID: c.id.String(), Author: c.author.String(), AuthorName: s.deviceName(c.author),
			OrgName: s.orgName(m.Org), Time: wallTime(c.clock), Body: c.rec.Comment.Body})
	}
	return out
}

// reported returns the incidents that count: reported by a member for its
// own organisation (or by a coordinator for any), judged against the trust
// state of the whole set.
func (t *vtx) reported() []*viewRec {
	s := t.a.view
	var out []*viewRec
	eachPrefix(t.b(vbIncidents), nil, func(k, _ []byte) bool {
		v := t.get(envelope.Hash(k))
		if v == nil || v.rec == nil || v.rec.Incident == nil {
			return true
		}
		if m, ok := s.trust.Member(v.author); ok && (m.Org == v.rec.Incident.Org || m.Role == crypto.RoleCoordinator) {
			out = append(out, v)
		}
		return true
	})
	return out
}

// findIncident resolves an incident ID prefix among those that count.
func (t *vtx) findIncident(q string) (*viewRec, error) {
	s := t.a.view
	id, err := findOne(q, "incident", "see `noroshi incident list`", func(lq string) []envelope.Hash {
		ok := func(id envelope.Hash) bool {
			v := t.get(id)
			if v == nil || v.rec == nil || v.rec.Incident == nil {
				return false
			}
			m, ok := s.trust.Member(v.author)
			return ok && (m.Org == v.rec.Incident.Org || m.Role == crypto.RoleCoordinator)
		}
		// An exercise's incidents are shown by ID too (exercise.go).
		return append(findIDs(t.b(vbIncidents), lq, ok), findIDs(t.b(vbXIncidents), lq, ok)...)
	})
	if err != nil {
		return nil, err
	}
	return t.get(id), nil
}

// findAnyIncident resolves an incident ID prefix among those this device
// can open (v set) and those its organisation was asked to support (v nil).
func (t *vtx) findAnyIncident(q string) (envelope.Hash, *viewRec, error) {
	if v, err := t.findIncident(q); err == nil || !errors.Is(err, ErrNotFound) {
		if err != nil {
			return envelope.Hash{}, nil, err
		}
		return v.id, v, nil
	}
	id, err := findOne(q, "incident", "see `noroshi incident list`", func(lq string) []envelope.Hash {
		return findIDs(t.b(vbAsked), lq, func(id envelope.Hash) bool { return len(t.askedRequests(id)) > 0 })
	})
	return id, nil, err
}

// incident builds the view of one incident this device can open: the
// rules of support.go applied to its updates in (clock, ID) order; every
// update by the reporting organisation or a coordinator stays in the
// timeline, those the rules refuse marked so.
func (t *vtx) incident(v *viewRec) Incident {
	return t.buildIncident(v.id, v)
}

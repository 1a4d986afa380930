package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Posts that stand for an outside object (a STIX object, a GitHub security
// advisory) carry its ID (PostSource). Every post of one source is a
// version of one post, whoever wrote it and on whichever device: two
// members who import the same advisory while cut off from each other end
// with one post once they sync, and a later revision replaces it in the
// feed. The versions stay in the views as the post's history (Show lists
// them, with who wrote each), so a member who overwrites a source with
// something else is seen doing it, and a coordinator's retraction of that
// version brings the one before it back.
//
// The version shown is the one with the newest Modified, ties broken by
// the smaller envelope ID, so that every device that holds the same
// versions shows the same one, whatever order they arrived in. A Modified
// later than the version's own clock (plus sourceSkew) counts as that
// clock: a version dated in the future does not stay on top over the
// real revisions that follow it (nor before 1970). Sources are kept apart
// by exercise (an exercise's import is not a version of the real one) and
// by audience (the community, or the organisations and people a version
// is sealed to: a version few can read never hides the one the community
// reads, and the comments of a group's versions, shown together, are all
// for the same readers), and a post to an
// organisation's observation channel is never a version of anything (a
// member who may not post there cannot hide a source behind a post only
// coordinators may write).
//
// The views keep, per source:
//
//	sources  term(source=exercise NUL audience NUL id) || feedKey -> sealed(u64 effective Modified, unix ns)
//
// and only the version shown is in the feed, its filters and the unread
// list; every version is in the search slices (search.go skips posts that
// are not in the feed).

// vbSources is the view bucket of source versions.
const vbSources = "sources"

// sourceSkew is how far a version's Modified may be ahead of its own clock.
const sourceSkew = 10 * time.Minute

// MaxSourceID bounds a source ID.
const MaxSourceID = 200

// checkSource checks the source of a draft: an ID of printable text with a
// scheme ("ghsa:", "stix:"), and a revision time.
func checkSource(s *PostSource) error {
	if s == nil {
		return nil
	}
	scheme, rest, ok := strings.Cut(s.ID, ":")
	switch {
	case !ok || scheme == "" || rest == "" || len(s.ID) > MaxSourceID:
		return fmt.Errorf("%w: source ID %q: want scheme:id (ghsa:GHSA-…, stix:type--uuid), at most %d bytes", ErrInvalid, s.ID, MaxSourceID)
	case strings.IndexFunc(s.ID, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0:
		return fmt.Errorf("%w: source ID %q: no spaces or control characters", ErrInvalid, s.ID)
	case s.Modified.IsZero():
		return fmt.Errorf("%w: source %s has no revision time", ErrInvalid, s.ID)
	case s.Modified.Before(sourceEpoch) || s.Modified.Year() > 9999:
		return fmt.Errorf("%w: source %s: revision time %s is not a real date (1970 to 9999)", ErrInvalid, s.ID, s.Modified.UTC().Format(time.RFC3339))
	case len(s.URL) > 2048:
		return fmt.Errorf("%w: source %s: a URL of %d bytes, at most 2048", ErrInvalid, s.ID, len(s.URL))
	}
	return nil
}

// sourceOf returns the source group a folded post belongs to, or "" when it
// stands for no source.
func sourceOf(v *viewRec) string {
	if v.rec == nil || v.rec.Post == nil {
		return ""
	}
	p := v.rec.Post
	if p.Source == nil || p.Source.ID == "" || p.Channel == ChannelObservation {
		return ""
	}
	return sourceGroup(v.rec.Exercise, audienceKey(p.TLP, p.ToOrgs, p.ToPersons), p.Source.ID)
}

// sourceGroup names a source group: versions of one source, in one
// exercise (or none), for one audience.
func sourceGroup(exercise, audience, id string) string {
	return exercise + "\x00" + audience + "\x00" + id
}

// audienceKey names who a version is sealed to: the community, or the
// organisations and people it names (a RED version names people, an
// AMBER+STRICT one organisations). Only versions for the same readers
// replace each other: a version sealed to a few never hides the one the
// community reads, where nobody else could see or retract it. Versions
// the whole community reads replace each other whatever their TLP, so
// that a partner's revision that relaxes or tightens its marking updates
// the post (every member sees that version, and a coordinator can
// retract it).
func audienceKey(tlp TLP, orgs, persons []crypto.ID16) string {
	if len(orgs) == 0 && len(persons) == 0 {
		return "community"
	}
	var b strings.Builder
	for _, ids := range [][]crypto.ID16{orgs, persons} {
		hexes := make([]string, 0, len(ids))
		for _, id := range ids {
			hexes = append(hexes, fmt.Sprintf("%x", id[:]))
		}
		slices.Sort(hexes)
		b.WriteString("|" + strings.Join(slices.Compact(hexes), ","))
	}
	return b.String()
}

// sourceEpoch is the earliest revision time a source may name: before it,
// a time in nanoseconds does not fit (and no outside source is that old).
var sourceEpoch = time.Unix(0, 0)

// effectiveModified is a version's Modified, no later than its own clock
// plus sourceSkew and no earlier than 1970.
func effectiveModified(v *viewRec) int64 {
	m := v.rec.Post.Source.Modified
	if limit := wallTime(v.clock).Add(sourceSkew); m.After(limit) {
		m = limit
	}
	if m.Before(sourceEpoch) {
		m = sourceEpoch
	}
	return m.UnixNano()
}

// sourcePrefix is the key prefix of a source group's versions.
func (t *vtx) sourcePrefix(group string) []byte { return t.term("source=" + group) }

// addVersion files a folded post as a version of its source and lists the
// version to show.
func (t *vtx) addVersion(v *viewRec, group string) error {
	k := cat(t.sourcePrefix(group), feedKey(v.clock, v.id))
	sealed, err := t.seal(cat([]byte(vbSources), k), binary.BigEndian.AppendUint64(nil, uint64(effectiveModified(v))))
	if err != nil {
		return err
	}
	if err := t.b(vbSources).Put(k, sealed); err != nil {
		return err
	}
	return t.settleSource(group)
}

// dropVersion takes a removed version out of its source and lists the
// version to show instead, if any is left.
func (t *vtx) dropVersion(v *viewRec, group string) error {
	if err := t.b(vbSources).Delete(cat(t.sourcePrefix(group), feedKey(v.clock, v.id))); err != nil {
		return err
	}
	return t.settleSource(group)
}

// sourceVersion is one version of a source as the sources bucket lists it.
type sourceVersion struct {
	id       envelope.Hash
	fk       []byte
	modified int64
}

// versions lists a source group's versions, the one to show first, then
// newest to oldest.
func (t *vtx) versions(group string) []sourceVersion {
	prefix := t.sourcePrefix(group)
	var out []sourceVersion
	eachPrefix(t.b(vbSources), prefix, func(k, val []byte) bool {
		plain, err := t.open(cat([]byte(vbSources), k), val)
		if err != nil || len(plain) != 8 || len(k) != len(prefix)+40 {
			return true
		}
		fk := bytes.Clone(k[len(prefix):])
		out = append(out, sourceVersion{id: feedID(fk), fk: fk, modified: int64(binary.BigEndian.Uint64(plain))})
		return true
	})
	slices.SortFunc(out, func(a, b sourceVersion) int {
		if a.modified != b.modified {
			if a.modified > b.modified {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return out
}

// settleSource lists a source's version to show in the feed and takes the
// others out of it.
func (t *vtx) settleSource(group string) error {
	for i, sv := range t.versions(group) {
		listed := t.b(vbFeed).Get(sv.fk) != nil
		if (i == 0) == listed {
			continue
		}
		v := t.get(sv.id)
		if v == nil || v.rec == nil || v.rec.Post == nil {
			continue
		}
		var err error
		if i == 0 {
			err = t.listPost(v, nil)
		} else {
			err = t.unindexPost(v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// versionIDs returns the IDs of the versions of p's source, the one shown
// first; just p's own when it stands for no source.
func (t *vtx) versionIDs(p *viewRec) []envelope.Hash {
	group := sourceOf(p)
	if group == "" {
		return []envelope.Hash{p.id}
	}
	var ids []envelope.Hash
	for _, sv := range t.versions(group) {
		ids = append(ids, sv.id)
	}
	return ids
}

// SourceVersion is one version of a post that stands for an outside
// object, as a post's detail lists them.
type SourceVersion struct {
	Post       string    `json:"post"`
	Modified   time.Time `json:"modified"`
	Author     string    `json:"author"`
	AuthorName string    `json:"author_name"`
	OrgName    string    `json:"org_name"`
	Time       time.Time `json:"time"`
	Shown      bool      `json:"shown"`
}

// sourceHistory lists the versions of a post's source, the one shown
// first. The caller holds a.mu.
func (t *vtx) sourceHistory(p *viewRec) []SourceVersion {
	group := sourceOf(p)
	if group == "" {
		return nil
	}
	s := t.a.view
	var out []SourceVersion
	for i, sv := range t.versions(group) {
		v := t.get(sv.id)
		if v == nil || v.rec == nil || v.rec.Post == nil || v.rec.Post.Source == nil {
			continue
		}
		person := s.person(v.author)
		out = append(out, SourceVersion{
			Post: v.id.String(), Modified: v.rec.Post.Source.Modified,
			Author: v.author.String(), AuthorName: s.deviceName(v.author), OrgName: s.orgName(s.personOrg(person)),
			Time: wallTime(v.clock), Shown: i == 0,
		})
	}
	return out
}

// HeldSource is the version this device shows of an outside source.
type HeldSource struct {
	// Post is the shown version's post ID.
	Post string
	// Modified is the revision the version names; Shown is the revision
	// the views order it by: the same, unless the version was dated after
	// its own clock (a future date, or a writer whose clock was behind).
	Modified, Shown time.Time
}

// Wants reports whether an importer holding revision m of the source
// should post it as a new version: not when it is the revision shown, nor
// when it is older than the shown one. A version dated in the future does
// not block the real revisions after it (they are newer than its Shown).
func (h HeldSource) Wants(m time.Time) bool { return !m.Equal(h.Modified) && m.After(h.Shown) }

// SourceHeld returns the version this device shows of an outside source (a
// PostSource ID), among the versions marked tlp with no named recipients
// (the community; at AMBER+STRICT this device's organisation) and outside
// any exercise, as importers write them; ok is false when it holds
// none. Importers decide with HeldSource.Wants.
func (a *App) SourceHeld(id string, tlp TLP) (h HeldSource, ok bool) {
	a.read(func(t *vtx) error {
		// As checkScope scopes a draft with no recipients.
		var orgs []crypto.ID16
		if me, err := a.me(); err == nil && tlp == TLPAmberStrict {
			orgs = []crypto.ID16{me.Org}
		}
		vs := t.versions(sourceGroup("", audienceKey(tlp, orgs, nil), id))
		if len(vs) == 0 {
			return nil
		}
		v := t.get(vs[0].id)
		if v == nil || v.rec == nil || v.rec.Post == nil || v.rec.Post.Source == nil {
			return nil
		}
		h = HeldSource{Post: vs[0].id.String(), Modified: v.rec.Post.Source.Modified.UTC(), Shown: time.Unix(0, vs[0].modified).UTC()}
		ok = true
		return nil
	})
	return h, ok
}

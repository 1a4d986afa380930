package app

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Re-publishing an incident without names: a coordinator turns an incident
// into a community post under the centre's name, as the centre did for
// the community, with what identifies the reporter replaced by neutral
// placeholders.
//
// What is removed: every organisation's name in the directory (the
// reporting organisation's first), every person's name in the directory
// and in the organisations' 24-hour contacts, e-mail addresses, phone
// numbers, and the reporting organisation's registered domains and URL
// hosts (its asset register, when this device holds it). What stays:
// indicators of the attacker (addresses, hashes) and the facts.
//
// The draft is TLP:AMBER by default; a re-published post may be marked
// CLEAR, GREEN, AMBER or AMBER+STRICT, never RED (a RED post goes to named
// people, not to the community), and never goes to an observation channel.

// Placeholders put where identifying details were.
const (
	PlaceholderOrg    = "[組織/organisation]"
	PlaceholderPerson = "[氏名/name]"
	PlaceholderEmail  = "[メール/e-mail]"
	PlaceholderPhone  = "[電話/phone]"
	PlaceholderDomain = "[ドメイン/domain]"
)

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// Phone numbers: an international +CC number, or a Japanese-style
	// number starting with 0, digits in groups separated by spaces,
	// hyphens, dots or brackets; 9 to 15 digits in all.
	phoneRe = regexp.MustCompile(`(?:\+\d{1,3}[\s\-.]?|\b0)(?:\(?\d{1,4}\)?[\s\-.]?){2,5}\d{2,4}\b`)
)

// RepublishDraft returns a draft community post made from an incident
// with identifying details removed (coordinators only): type incident,
// channel pro, TLP:AMBER, linked to the incident (PostDraft.Incident). Edit
// it, then post it with App.Post.
func (a *App) RepublishDraft(q string) (PostDraft, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, err := a.me(); err != nil {
		return PostDraft{}, err
	}
	if !a.viewer().canRepublish() {
		return PostDraft{}, fmt.Errorf("%w: only coordinators re-publish an incident", ErrNotAllowed)
	}
	var inc Incident
	var org crypto.ID16
	err := a.inView(func(t *vtx) error {
		v, err := t.findIncident(q)
		if err == nil {
			inc, org = t.buildIncident(v.id, v), v.rec.Incident.Org
		}
		return err
	})
	if err != nil {
		return PostDraft{}, err
	}
	sc := a.scrubber(org)
	tag := TagInfo
	if inc.Affects == AffectsYes {
		tag = TagCaution
	}
	title := sc.scrub(inc.Title)
	if len(title) > MaxTitle {
		title = clipText(title, MaxTitle)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "カテゴリ / Category: %s\n", inc.Category)
	fmt.Fprintf(&b, "大会運営への影響 / Affects the event: %s\n", inc.Affects)
	fmt.Fprintf(&b, "報告 / Reported: %s\n", inc.Opened.Format("2006-01-02 15:04 MST"))
	if body := strings.TrimSpace(sc.scrub(inc.Body)); body != "" {
		b.WriteString("\n" + body + "\n")
	}
	return PostDraft{Type: TypeIncident, Tag: tag, TLP: TLPAmber, Channel: ChannelPro, Title: title,
		Body: clipText(b.String(), MaxBody), Incident: inc.ID}, nil
}

// scrubber replaces identifying details with placeholders.
type scrubber struct {
	names []replacement // longest first
}

type replacement struct {
	name, with string
}

// scrubber gathers what identifies people and organisations in this
// device's directory; org is the reporting organisation. The caller holds
// a.mu.
func (a *App) scrubber(org crypto.ID16) scrubber {
	s := a.view
	var sc scrubber
	add := func(name, with string) {
		name = strings.TrimSpace(name)
		if utf8.RuneCountInString(name) < 2 || strings.HasPrefix(name, "(") {
			return
		}
		sc.names = append(sc.names, replacement{name, with})
	}
	for id := range s.orgs {
		if o, ok := s.org(id); ok {
			add(o.Name, PlaceholderOrg)
		}
	}
	for p := range s.profiles {
		for _, pr := range s.profiles[p] {
			add(pr.rec.Name, PlaceholderPerson)
		}
	}
	for _, cands := range s.contacts {
		for _, c := range cands {
			for _, e := range c.rec.Entries {
				add(e.Name, PlaceholderPerson)
			}
		}
	}
	for _, c := range s.assets[org] {
		if c.rec == nil {
			continue
		}
		for _, e := range c.rec.Entries {
			switch e.Kind {
			case AssetDomain:
				add(strings.TrimPrefix(strings.TrimSpace(e.Value), "*."), PlaceholderDomain)
			case AssetURL:
				if u, err := url.Parse(strings.TrimSpace(e.Value)); err == nil && u.Hostname() != "" {
					add(u.Hostname(), PlaceholderDomain)
				}
			}
		}
	}
	// Longest first, so that "Metro Power Grid" goes before "Metro Power".
	sort.SliceStable(sc.names, func(i, j int) bool { return len(sc.names[i].name) > len(sc.names[j].name) })
	return sc
}

// scrub returns text with identifying details replaced.
func (sc scrubber) scrub(text string) string {
	text = emailRe.ReplaceAllString(text, PlaceholderEmail)
	for _, r := range sc.names {
		text = replaceFold(text, r.name, r.with)
	}
	return phoneRe.ReplaceAllString(text, PlaceholderPhone)
}

// replaceFold replaces every case-insensitive occurrence of name in text
// that is not inside a longer word of letters or digits.
func replaceFold(text, name, with string) string {
	ln := strings.ToLower(name)
	lt := strings.ToLower(text)
	if len(lt) != len(text) {
		// A case mapping changed byte lengths: match case-sensitively.
		lt, ln = text, name
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lt[i:], ln)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(ln)
		if wordEdge(text, start, true) && wordEdge(text, end, false) {
			b.WriteString(text[i:start])
			b.WriteString(with)
		} else {
			b.WriteString(text[i:end])
		}
		i = end
	}
	b.WriteString(text[i:])
	return b.String()
}

// wordEdge reports whether position i of s is not inside an ASCII word:
// the rune before (before) or at i is not an ASCII letter or digit.
// Japanese text has no spaces between words, so only ASCII words count.
func wordEdge(s string, i int, before bool) bool {
	var r rune
	if before {
		if i == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRuneInString(s[:i])
	} else {
		if i >= len(s) {
			return true
		}
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
}

// linkIncident links a post to the incident it re-publishes: only a
// coordinator's post, of an incident this device can open, never TLP:RED
// nor to an observation channel. The caller holds a.mu.
func (a *App) linkIncident(rec *PostRecord, q string) error {
	if !a.viewer().canRepublish() {
		return fmt.Errorf("%w: only coordinators re-publish an incident", ErrNotAllowed)
	}
	if rec.TLP == TLPRed {
		return &FieldError{Err: ErrNotAllowed, Of: OfPost, Field: FieldTLP, Reason: ReasonNotAllowed, Value: string(TLPRed), With: FieldType, WithValue: string(TypeIncident)}
	}
	if rec.Channel == ChannelObservation {
		return &FieldError{Err: ErrNotAllowed, Of: OfPost, Field: FieldChannel, Reason: ReasonNotAllowed, Value: string(ChannelObservation), With: FieldType, WithValue: string(TypeIncident)}
	}
	v, err := a.findIncident(q)
	if err != nil {
		return err
	}
	rec.Incident = v.id
	return nil
}

// republishedFrom returns the ID of the incident a post re-publishes,
// when a coordinator wrote it and this device can open that incident; ""
// otherwise.
func (t *vtx) republishedFrom(p *viewRec) string {
	id := p.rec.Post.Incident
	if id == (envelope.Hash{}) || !t.a.view.isCoordinator(p.author) {
		return ""
	}
	v := t.get(id)
	if v == nil || v.rec == nil || v.rec.Incident == nil || !t.counts(v) {
		return ""
	}
	return id.String()
}

package app

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

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
	names []replacement // folded (foldText), longest first
}

type replacement struct {
	name, with string
}

// scrubber gathers what identifies people and organisations in this
// device's directory; org is the reporting organisation. Only records that
// count are read (the authority rule), so that a forged record cannot make
// the scrubber remove facts from the post: organisation names written by a
// coordinator, person names from profiles that count (mayWriteProfile),
// contacts written by the organisation's admins or a coordinator, and the
// reporting organisation's asset register that counts (assetsOf), its
// entries checked again (cleanAssets). Earlier names from records that
// count are scrubbed too: they still identify. The caller holds a.mu.
func (a *App) scrubber(org crypto.ID16) scrubber {
	s := a.view
	var sc scrubber
	seen := map[string]bool{}
	add := func(name, with string) {
		name = strings.TrimSpace(name)
		if utf8.RuneCountInString(name) < 2 || strings.HasPrefix(name, "(") {
			return
		}
		f := strings.TrimSpace(string(foldText(name).s))
		if utf8.RuneCountInString(f) < 2 || seen[f] {
			return
		}
		seen[f] = true
		sc.names = append(sc.names, replacement{f, with})
	}
	// Organisations first: a name that is also a person's stays an
	// organisation.
	for _, cands := range s.orgs {
		for _, o := range cands {
			if s.isCoordinator(o.author) {
				add(o.rec.Name, PlaceholderOrg)
			}
		}
	}
	for _, cands := range s.profiles {
		for _, pr := range cands {
			if validName(pr.rec.Name) && s.mayWriteProfile(pr) {
				add(pr.rec.Name, PlaceholderPerson)
			}
		}
	}
	for o, cands := range s.contacts {
		for _, c := range cands {
			if c.rec == nil || !s.canAdminOrg(c.author, o) {
				continue
			}
			for _, e := range c.rec.Entries {
				add(e.Name, PlaceholderPerson)
			}
		}
	}
	if reg, ok := s.assetsOf(org); ok && reg.rec != nil {
		entries, _ := cleanAssets(reg.rec.Entries)
		for _, e := range entries {
			var host string
			switch e.Kind {
			case AssetDomain:
				host = e.Value
			case AssetURL:
				if u, err := url.Parse(e.Value); err == nil {
					host = u.Hostname()
				}
			}
			if host == "" {
				continue
			}
			add(host, PlaceholderDomain)
			if u, err := idna.ToUnicode(host); err == nil && u != host {
				add(u, PlaceholderDomain) // as a text would write an IDN
			}
		}
	}
	// Longest first, so that "Metro Power Grid" goes before "Metro Power";
	// then by name, so that the draft does not depend on map order.
	sort.SliceStable(sc.names, func(i, j int) bool {
		if len(sc.names[i].name) != len(sc.names[j].name) {
			return len(sc.names[i].name) > len(sc.names[j].name)
		}
		return sc.names[i].name < sc.names[j].name
	})
	return sc
}

// scrub returns text with identifying details replaced. Details are found
// in a view of the text folded as foldText does (width, case, spaces) and
// refanged ("[.]", "(dot)", "[@]", "hxxps://"), and the spans of the
// original text they come from are replaced: e-mail addresses first, then
// names (longest first), then phone numbers.
func (sc scrubber) scrub(text string) string {
	v := refangFolded(foldText(text))
	claim := newClaims(v)
	for _, m := range emailRe.FindAllIndex(v.s, -1) {
		claim.take(m[0], m[1], PlaceholderEmail)
	}
	for _, r := range sc.names {
		for _, m := range findWord(v.s, []byte(r.name)) {
			claim.take(m[0], m[1], r.with)
		}
	}
	for _, m := range phoneRe.FindAllIndex(v.s, -1) {
		claim.take(m[0], m[1], PlaceholderPhone)
	}
	return claim.apply(text)
}

// mappedText is a text changed for comparison, with the span of the
// original text each of its bytes comes from (from[i] to to[i]).
type mappedText struct {
	s        []byte
	from, to []int32
}

func (m *mappedText) add(b []byte, from, to int) {
	for _, c := range b {
		m.s = append(m.s, c)
		m.from = append(m.from, int32(from))
		m.to = append(m.to, int32(to))
	}
}

// foldText folds a text for comparison: compatibility normalisation
// (NFKC: full-width Latin letters and digits, the ideographic space,
// ligatures), each rune case-folded on its own (so that a rune whose case
// mapping changes its length, such as the Kelvin sign or a dotted capital
// I, folds like its letter), any run of Unicode spaces (and zero-width
// spaces) as one space, and other format characters (joiners, soft
// hyphens) left out.
func foldText(text string) mappedText {
	m := mappedText{s: make([]byte, 0, len(text)), from: make([]int32, 0, len(text)), to: make([]int32, 0, len(text))}
	var it norm.Iter
	it.InitString(norm.NFKC, text)
	space := false
	var buf [utf8.UTFMax]byte
	for !it.Done() {
		from := it.Pos()
		seg := it.Next()
		to := it.Pos()
		for _, r := range string(seg) {
			switch {
			case unicode.IsSpace(r) || r == '\u200b':
				if space {
					m.to[len(m.to)-1] = int32(to)
					continue
				}
				space = true
				m.add([]byte{' '}, from, to)
			case unicode.Is(unicode.Cf, r):
			default:
				space = false
				r = unicode.ToLower(unicode.ToUpper(r))
				m.add(buf[:utf8.EncodeRune(buf[:], r)], from, to)
			}
		}
	}
	return m
}

// defangRe finds the usual defangings in a folded text: a defanged scheme,
// a dot or at sign in brackets (with the spaces around it), "[:]".
var defangRe = regexp.MustCompile(`\b(?:hxxps?|fxp)(?:\[:\]//|:\[//\]|\[://\]|://)|\[:\]| ?[\[({] ?(?:\.|dot|@|at) ?[\])}] ?`)

// refangFolded undoes defanging in a folded text, keeping the map to the
// original text: a refanged part maps to the whole defanged span.
func refangFolded(f mappedText) mappedText {
	ms := defangRe.FindAllIndex(f.s, -1)
	if len(ms) == 0 {
		return f
	}
	out := mappedText{s: make([]byte, 0, len(f.s)), from: make([]int32, 0, len(f.s)), to: make([]int32, 0, len(f.s))}
	i := 0
	for _, m := range ms {
		out.s = append(out.s, f.s[i:m[0]]...)
		out.from = append(out.from, f.from[i:m[0]]...)
		out.to = append(out.to, f.to[i:m[0]]...)
		tok := string(f.s[m[0]:m[1]])
		var with string
		switch {
		case strings.HasPrefix(tok, "hxxps"):
			with = "https://"
		case strings.HasPrefix(tok, "hxxp"):
			with = "http://"
		case strings.HasPrefix(tok, "fxp"):
			with = "ftp://"
		case tok == "[:]":
			with = ":"
		case strings.Contains(tok, ".") || strings.Contains(tok, "dot"):
			with = "."
		default:
			with = "@"
		}
		out.add([]byte(with), int(f.from[m[0]]), int(f.to[m[1]-1]))
		i = m[1]
	}
	out.s = append(out.s, f.s[i:]...)
	out.from = append(out.from, f.from[i:]...)
	out.to = append(out.to, f.to[i:]...)
	return out
}

// findWord returns the spans of s where name occurs, not inside a longer
// word of letters or digits.
func findWord(s, name []byte) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		j := bytes.Index(s[i:], name)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(name)
		if wordEdge(s, start, true) && wordEdge(s, end, false) {
			out = append(out, [2]int{start, end})
			i = end
			continue
		}
		_, n := utf8.DecodeRune(s[start:])
		i = start + n
	}
	return out
}

// wordEdge reports whether position i of s is not inside an ASCII word:
// the rune before (before) or at i is not an ASCII letter or digit.
// Japanese text has no spaces between words, so only ASCII words count
// (full-width letters are ASCII once folded).
func wordEdge(s []byte, i int, before bool) bool {
	var r rune
	if before {
		if i == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRune(s[:i])
	} else {
		if i >= len(s) {
			return true
		}
		r, _ = utf8.DecodeRune(s[i:])
	}
	return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
}

// claims collects the parts of a mapped text to replace; a part already
// taken stays with what took it first.
type claims struct {
	m     mappedText
	taken []bool
	spans []claimSpan // in the original text
}

type claimSpan struct {
	from, to int
	with     string
}

func newClaims(m mappedText) *claims {
	return &claims{m: m, taken: make([]bool, len(m.s))}
}

// take claims bytes a to b of the mapped text (those not taken yet).
func (c *claims) take(a, b int, with string) {
	for i := a; i < b; {
		if c.taken[i] {
			i++
			continue
		}
		j := i
		for j < b && !c.taken[j] {
			c.taken[j] = true
			j++
		}
		c.spans = append(c.spans, claimSpan{int(c.m.from[i]), int(c.m.to[j-1]), with})
		i = j
	}
}

// apply returns text with the claimed spans replaced (overlapping spans
// are joined, under the placeholder of the one that starts first).
func (c *claims) apply(text string) string {
	if len(c.spans) == 0 {
		return text
	}
	sort.SliceStable(c.spans, func(i, j int) bool { return c.spans[i].from < c.spans[j].from })
	var b strings.Builder
	at := 0
	for k := 0; k < len(c.spans); {
		sp := c.spans[k]
		end := sp.to
		k++
		for k < len(c.spans) && c.spans[k].from < end {
			end = max(end, c.spans[k].to)
			k++
		}
		b.WriteString(text[at:sp.from])
		b.WriteString(sp.with)
		at = end
	}
	b.WriteString(text[at:])
	return b.String()
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

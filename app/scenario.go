package app

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // a scenario names its zone (Asia/Tokyo) on any device, offline
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"
)

// An exercise scenario is a YAML file (examples/exercises/README.md
// documents it, examples/exercises/scenario.schema.json is its JSON
// schema): the exercise's name and title, its start on the Games calendar,
// the injects to play (each at an offset from the start or at a time of
// the Games calendar, to an audience, as a post in Japanese and English),
// and the incidents it expects each organisation, or each organisation of
// a kind, to report after an inject, within a time.
//
// Budgets, checked before anything else is read: the file at most
// MaxScenarioSize bytes, at most MaxInjects injects and MaxExpectations
// expectations, names and IDs at most 64 bytes, a title (both languages,
// as the post shows them) at most MaxTitle bytes, a body at most
// maxInjectBody bytes in each language. Anchors, aliases, merge keys and
// tags are refused (an alias can make a small file decode to a large
// value), and so are lists and mappings nested more than maxScenarioDepth
// levels deep (the parser's time grows with the square of the nesting).
// Every error is one line naming the inject (or expectation) and
// the field.
const (
	MaxScenarioSize = 1 << 20
	MaxInjects      = 200
	MaxExpectations = 500
	maxInjectBody   = 32 << 10
	maxScenarioName = 64
	maxAudienceOrgs = 100
	// maxExerciseSpan bounds how far from the start an inject may be.
	maxExerciseSpan = 31 * 24 * time.Hour
)

// Text is a text in Japanese and English.
type Text struct {
	JA string `json:"ja"`
	EN string `json:"en"`
}

// For returns the text in a language ("ja" or "en"), the other when it is
// empty.
func (t Text) For(lang string) string {
	if lang == "ja" && t.JA != "" || t.EN == "" {
		return t.JA
	}
	return t.EN
}

// Scenario is a decoded and checked exercise scenario.
type Scenario struct {
	Name    string        `json:"name"`
	Title   Text          `json:"title"`
	Start   time.Time     `json:"start"`
	Injects []Inject      `json:"injects"`
	Expect  []Expectation `json:"expect,omitempty"`
}

// Inject is one planned event of an exercise, played as a post. At is its
// time on the scenario's calendar (Start plus Offset).
type Inject struct {
	ID       string           `json:"id"`
	Part     int              `json:"part,omitempty"`
	Offset   time.Duration    `json:"offset"`
	At       time.Time        `json:"at"`
	Audience ExerciseAudience `json:"audience"`
	Type     PostType         `json:"type"`
	Tag      Tag              `json:"tag"`
	TLP      TLP              `json:"tlp"`
	Channel  Channel          `json:"channel"`
	// Title and Body are left out of the schedule an exercise's start
	// record carries (participants do not see what comes before it
	// comes).
	Title Text `json:"title,omitzero"`
	Body  Text `json:"body,omitzero"`
}

// ExerciseAudience is who an inject goes to: the whole community, or the
// organisations of some kinds and some organisations named by name or ID.
type ExerciseAudience struct {
	Community bool      `json:"community,omitempty"`
	Kinds     []OrgKind `json:"kinds,omitempty"`
	Orgs      []string  `json:"orgs,omitempty"`
}

// Expectation is an incident the scenario expects an organisation (Org, a
// name or ID) or each organisation of a kind to report: of Category, after
// the inject After, within Within of it (scenario time: a run at speed N
// expects it N times sooner).
type Expectation struct {
	Org      string        `json:"org,omitempty"`
	Kind     OrgKind       `json:"kind,omitempty"`
	Category Category      `json:"category"`
	After    string        `json:"after"`
	Within   time.Duration `json:"within,omitempty"`
}

// The file's own shape. Times and durations are strings, checked here.
type scenarioFile struct {
	Format  int               `yaml:"format"`
	Name    string            `yaml:"name"`
	Title   textFile          `yaml:"title"`
	Start   calendarTime      `yaml:"start"`
	Injects []injectFile      `yaml:"injects"`
	Expect  []expectationFile `yaml:"expect"`
}

type textFile struct {
	JA string `yaml:"ja"`
	EN string `yaml:"en"`
}

// calendarTime is an absolute time (RFC 3339) or a day and time of the
// Games calendar in a zone.
type calendarTime struct {
	set  bool
	abs  string
	Date string `yaml:"date"`
	Time string `yaml:"time"`
	Zone string `yaml:"zone"`
}

// UnmarshalYAML takes a string (RFC 3339) or a {date, time, zone} mapping.
func (c *calendarTime) UnmarshalYAML(b []byte) error {
	c.set = true
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil {
		c.abs = s
		return nil
	}
	type plain calendarTime
	var p plain
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.DisallowUnknownField()); err != nil {
		return errors.New("give an RFC 3339 time or {date, time, zone}")
	}
	c.Date, c.Time, c.Zone = p.Date, p.Time, p.Zone
	return nil
}

type injectFile struct {
	ID       string       `yaml:"id"`
	Part     int          `yaml:"part"`
	Offset   string       `yaml:"offset"`
	At       calendarTime `yaml:"at"`
	Audience audienceFile `yaml:"audience"`
	Type     string       `yaml:"type"`
	Tag      string       `yaml:"tag"`
	TLP      string       `yaml:"tlp"`
	Channel  string       `yaml:"channel"`
	Title    textFile     `yaml:"title"`
	Body     textFile     `yaml:"body"`
}

// audienceFile is "community" or {kinds: [...], orgs: [...]}.
type audienceFile struct {
	set       bool
	community bool
	Kinds     []string `yaml:"kinds"`
	Orgs      []string `yaml:"orgs"`
}

// UnmarshalYAML takes "community" or a {kinds, orgs} mapping.
func (a *audienceFile) UnmarshalYAML(b []byte) error {
	a.set = true
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil {
		if s != "community" {
			return fmt.Errorf("%q: give community or {kinds, orgs}", s)
		}
		a.community = true
		return nil
	}
	type plain audienceFile
	var p plain
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.DisallowUnknownField()); err != nil {
		return errors.New("give community or {kinds, orgs}")
	}
	a.Kinds, a.Orgs = p.Kinds, p.Orgs
	return nil
}

type expectationFile struct {
	Org      string `yaml:"org"`
	Kind     string `yaml:"kind"`
	Category string `yaml:"category"`
	After    string `yaml:"after"`
	Within   string `yaml:"within"`
}

var scenarioNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// scenarioErr is a scenario's error: one line, naming where.
func scenarioErr(where, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	if where != "" {
		msg = where + ": " + msg
	}
	return fmt.Errorf("%w: scenario: %s", ErrInvalid, strings.Join(strings.Fields(msg), " "))
}

// DecodeScenario reads and checks a scenario file.
func DecodeScenario(b []byte) (sc *Scenario, err error) {
	if len(b) > MaxScenarioSize {
		return nil, fmt.Errorf("%w: scenario: %d bytes, at most %d", ErrTooLarge, len(b), MaxScenarioSize)
	}
	if !utf8.Valid(b) {
		return nil, scenarioErr("", "", "the file is not UTF-8 text")
	}
	var nest yamlNesting
	for _, tk := range lexer.Tokenize(string(b)) {
		switch tk.Type {
		case token.AnchorType, token.AliasType, token.MergeKeyType, token.TagType:
			return nil, scenarioErr(fmt.Sprintf("line %d", tk.Position.Line), "", "anchors, aliases, merge keys and tags are not allowed: write each value out")
		}
		if nest.add(tk) > maxScenarioDepth {
			return nil, scenarioErr(fmt.Sprintf("line %d", tk.Position.Line), "", "lists and mappings nested more than %d levels deep: a scenario needs a few", maxScenarioDepth)
		}
	}
	defer func() {
		// The YAML library is outside code: a panic on odd input is an
		// error here, never a crash.
		if r := recover(); r != nil {
			sc, err = nil, scenarioErr("", "", "unreadable YAML")
		}
	}()
	var f scenarioFile
	if err := yaml.UnmarshalWithOptions(b, &f, yaml.DisallowUnknownField()); err != nil {
		msg := err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				msg = fmt.Sprintf("line %d: %s", tk.Position.Line, msg)
			}
		}
		return nil, scenarioErr("", "", "%s", firstLine(msg))
	}
	return f.check()
}

// maxScenarioDepth bounds how deep lists and mappings nest in a scenario
// file (flow and block together; a scenario needs about 6). The YAML
// parser takes time quadratic in the nesting before it refuses a deep
// file, so the token pre-scan refuses it first.
const maxScenarioDepth = 32

// yamlNesting follows how deep the collections of a token stream nest:
// flow collections by their brackets, block collections by the columns
// of their entries ("- ") and keys ("? ", or the token before ": "), a
// column deeper than the innermost open one opening a level (and a
// sequence entry at the column of a key, as in "key:\n- item", too).
type yamlNesting struct {
	flow  int
	block []blockLevel // open block collections, innermost last
	prev  *token.Token
}

type blockLevel struct {
	col int
	seq bool
}

// add takes the next token and returns the depth after it.
func (n *yamlNesting) add(tk *token.Token) int {
	if tk == nil || tk.Position == nil {
		return n.flow + len(n.block)
	}
	switch tk.Type {
	case token.SequenceStartType, token.MappingStartType:
		n.flow++
	case token.SequenceEndType, token.MappingEndType:
		if n.flow > 0 {
			n.flow--
		}
	case token.SequenceEntryType:
		if n.flow == 0 {
			n.enter(tk.Position.Column, true)
		}
	case token.MappingKeyType:
		if n.flow == 0 {
			n.enter(tk.Position.Column, false)
		}
	case token.MappingValueType:
		if n.flow == 0 && n.prev != nil && n.prev.Position != nil {
			n.enter(n.prev.Position.Column, false)
		}
	case token.DocumentHeaderType, token.DocumentEndType:
		n.flow, n.block = 0, n.block[:0]
	}
	if tk.Type != token.CommentType {
		n.prev = tk
	}
	return n.flow + len(n.block)
}

// enter notes a block entry (seq) or key at a column: the levels it closes
// are dropped, and it opens one when it is deeper than the innermost.
func (n *yamlNesting) enter(col int, seq bool) {
	for len(n.block) > 0 {
		top := n.block[len(n.block)-1]
		if top.col < col || top.col == col && (top.seq == seq || !top.seq) {
			break
		}
		n.block = n.block[:len(n.block)-1]
	}
	if len(n.block) > 0 {
		top := n.block[len(n.block)-1]
		if top.col > col || top.col == col && (top.seq == seq || top.seq) {
			return
		}
	}
	n.block = append(n.block, blockLevel{col, seq})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (f *scenarioFile) check() (*Scenario, error) {
	if f.Format != 1 {
		return nil, scenarioErr("", "format", "%d: this program reads format 1 (write format: 1)", f.Format)
	}
	sc := &Scenario{Name: f.Name}
	switch {
	case f.Name == "":
		return nil, scenarioErr("", "name", "required")
	case len(f.Name) > maxScenarioName || !scenarioNameRE.MatchString(f.Name):
		return nil, scenarioErr("", "name", "%q: lower-case letters, digits, '.', '_' and '-', at most %d", clip(f.Name, 80), maxScenarioName)
	}
	title, err := checkText("", "title", f.Title, MaxTitle)
	if err != nil {
		return nil, err
	}
	sc.Title = title
	if !f.Start.set {
		return nil, scenarioErr("", "start", "required")
	}
	start, err := f.Start.resolve(nil)
	if err != nil {
		return nil, scenarioErr("", "start", "%v", err)
	}
	sc.Start = start
	switch {
	case len(f.Injects) == 0:
		return nil, scenarioErr("", "injects", "at least one inject is required")
	case len(f.Injects) > MaxInjects:
		return nil, scenarioErr("", "injects", "%d injects, at most %d", len(f.Injects), MaxInjects)
	case len(f.Expect) > MaxExpectations:
		return nil, scenarioErr("", "expect", "%d expectations, at most %d", len(f.Expect), MaxExpectations)
	}
	ids := map[string]bool{}
	for i, in := range f.Injects {
		where := fmt.Sprintf("inject %d", i+1)
		if in.ID != "" {
			where += fmt.Sprintf(" (%s)", clip(in.ID, 40))
		}
		inj, err := in.check(where, start)
		if err != nil {
			return nil, err
		}
		if ids[inj.ID] {
			return nil, scenarioErr(where, "id", "%q is used twice", inj.ID)
		}
		ids[inj.ID] = true
		sc.Injects = append(sc.Injects, inj)
	}
	// Played in time order; the file's order breaks ties.
	slices.SortStableFunc(sc.Injects, func(a, b Inject) int { return int(min(max(a.Offset-b.Offset, -1), 1)) })
	for i, e := range f.Expect {
		where := fmt.Sprintf("expectation %d", i+1)
		x := Expectation{Org: strings.TrimSpace(e.Org)}
		switch {
		case e.Org != "" && e.Kind != "":
			return nil, scenarioErr(where, "org", "give org or kind, not both")
		case e.Org == "" && e.Kind == "":
			return nil, scenarioErr(where, "kind", "give org (a name or ID) or kind")
		case len(x.Org) > 200:
			return nil, scenarioErr(where, "org", "at most 200 bytes")
		}
		if e.Kind != "" {
			if x.Kind, err = ParseOrgKind(e.Kind); err != nil {
				return nil, scenarioErr(where, "kind", "%q: one of %s", clip(e.Kind, 40), strings.Join(enumNames(OrgKinds), ", "))
			}
		}
		if x.Category, err = ParseCategory(e.Category); err != nil {
			return nil, scenarioErr(where, "category", "%q: one of %s", clip(e.Category, 40), strings.Join(enumNames(Categories), ", "))
		}
		if !ids[e.After] {
			return nil, scenarioErr(where, "after", "%q names no inject", clip(e.After, 40))
		}
		x.After = e.After
		if e.Within != "" {
			d, err := time.ParseDuration(e.Within)
			if err != nil || d <= 0 || d > maxExerciseSpan {
				return nil, scenarioErr(where, "within", "%q: a positive duration such as 30m or 2h", clip(e.Within, 40))
			}
			x.Within = d
		}
		sc.Expect = append(sc.Expect, x)
	}
	return sc, nil
}

func (in injectFile) check(where string, start time.Time) (Inject, error) {
	out := Inject{ID: in.ID, Part: in.Part}
	var err error
	switch {
	case in.ID == "":
		return out, scenarioErr(where, "id", "required")
	case len(in.ID) > maxScenarioName || !scenarioNameRE.MatchString(in.ID):
		return out, scenarioErr(where, "id", "lower-case letters, digits, '.', '_' and '-', at most %d", maxScenarioName)
	case in.Part < 0 || in.Part > 99:
		return out, scenarioErr(where, "part", "%d: 0 to 99", in.Part)
	case in.Offset != "" && in.At.set:
		return out, scenarioErr(where, "offset", "give offset or at, not both")
	case in.Offset == "" && !in.At.set:
		return out, scenarioErr(where, "offset", "give offset (from the start, such as 1h30m) or at (a time of the Games calendar)")
	}
	if in.Offset != "" {
		if out.Offset, err = time.ParseDuration(in.Offset); err != nil {
			return out, scenarioErr(where, "offset", "%q: a duration such as 0m, 45m or 25h10m", clip(in.Offset, 40))
		}
		out.At = start.Add(out.Offset)
	} else {
		if out.At, err = in.At.resolve(start.Location()); err != nil {
			return out, scenarioErr(where, "at", "%v", err)
		}
		out.Offset = out.At.Sub(start)
	}
	if out.Offset < 0 || out.Offset > maxExerciseSpan {
		return out, scenarioErr(where, "offset", "%s from the start: an inject comes at or after the start, within %d days", out.Offset, int(maxExerciseSpan/(24*time.Hour)))
	}
	if !in.Audience.set {
		return out, scenarioErr(where, "audience", "required: community, or {kinds: [...], orgs: [...]}")
	}
	out.Audience.Community = in.Audience.community
	if !out.Audience.Community {
		if len(in.Audience.Kinds)+len(in.Audience.Orgs) == 0 {
			return out, scenarioErr(where, "audience", "name at least one kind or organisation")
		}
		if len(in.Audience.Kinds)+len(in.Audience.Orgs) > maxAudienceOrgs {
			return out, scenarioErr(where, "audience", "at most %d kinds and organisations", maxAudienceOrgs)
		}
		for _, k := range in.Audience.Kinds {
			kind, err := ParseOrgKind(k)
			if err != nil {
				return out, scenarioErr(where, "audience.kinds", "%q: one of %s", clip(k, 40), strings.Join(enumNames(OrgKinds), ", "))
			}
			out.Audience.Kinds = append(out.Audience.Kinds, kind)
		}
		for _, o := range in.Audience.Orgs {
			if o = strings.TrimSpace(o); o == "" || len(o) > 200 || !utf8.ValidString(o) {
				return out, scenarioErr(where, "audience.orgs", "an organisation's name or ID, at most 200 bytes")
			}
			out.Audience.Orgs = append(out.Audience.Orgs, o)
		}
	}
	if out.Type, err = ParsePostType(in.Type); err != nil {
		return out, scenarioErr(where, "type", "%q: one of %s", clip(in.Type, 40), strings.Join(enumNames(PostTypes), ", "))
	}
	if out.Tag, err = ParseTag(in.Tag); err != nil {
		return out, scenarioErr(where, "tag", "%q: one of %s", clip(in.Tag, 40), strings.Join(enumNames(Tags), ", "))
	}
	if out.TLP, err = ParseTLP(in.TLP); err != nil || out.TLP == TLPRed {
		return out, scenarioErr(where, "tlp", "%q: one of clear, green, amber, amber+strict (an inject is never TLP:RED)", clip(in.TLP, 40))
	}
	if out.TLP == TLPAmberStrict && out.Audience.Community {
		return out, scenarioErr(where, "tlp", "AMBER+STRICT stays inside an organisation: give the audience as kinds or organisations, or another marking")
	}
	out.Channel = ChannelPro
	if in.Channel != "" {
		if out.Channel, err = ParseChannel(in.Channel); err != nil || out.Channel == ChannelObservation {
			return out, scenarioErr(where, "channel", "%q: pro or general", clip(in.Channel, 40))
		}
	}
	if out.Title, err = checkText(where, "title", in.Title, MaxTitle); err != nil {
		return out, err
	}
	if out.Body, err = checkText(where, "body", in.Body, maxInjectBody); err != nil {
		return out, err
	}
	return out, nil
}

// checkText checks a text in both languages: both given, UTF-8, a title on
// one line and, as the post shows both, at most max bytes together.
func checkText(where, field string, t textFile, max int) (Text, error) {
	out := Text{JA: strings.TrimSpace(t.JA), EN: strings.TrimSpace(t.EN)}
	for _, l := range []struct{ lang, s string }{{"ja", out.JA}, {"en", out.EN}} {
		switch {
		case l.s == "":
			return out, scenarioErr(where, field+"."+l.lang, "required (a scenario is written in Japanese and English)")
		case !utf8.ValidString(l.s):
			return out, scenarioErr(where, field+"."+l.lang, "not UTF-8 text")
		case field == "title" && strings.ContainsAny(l.s, "\r\n"):
			return out, scenarioErr(where, field+"."+l.lang, "a title is one line")
		}
	}
	if field == "title" {
		if n := len(bilingual(out, " / ")); n > max {
			return out, scenarioErr(where, field, "%d bytes in both languages, at most %d", n, max)
		}
	} else {
		for _, l := range []struct{ lang, s string }{{"ja", out.JA}, {"en", out.EN}} {
			if len(l.s) > max {
				return out, scenarioErr(where, field+"."+l.lang, "%d bytes, at most %d", len(l.s), max)
			}
		}
	}
	return out, nil
}

// bilingual joins a text's two languages, Japanese first.
func bilingual(t Text, sep string) string { return t.JA + sep + t.EN }

// resolve returns the time; a Games-calendar time without a zone takes
// def's (the start's), and the start's own must name one.
func (c calendarTime) resolve(def *time.Location) (time.Time, error) {
	if c.abs != "" {
		t, err := time.Parse(time.RFC3339, c.abs)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: an RFC 3339 time such as 2021-07-27T13:30:00+09:00", clip(c.abs, 40))
		}
		return t, nil
	}
	loc := def
	if c.Zone != "" || def == nil {
		if c.Zone == "" {
			return time.Time{}, errors.New("zone: required (such as Asia/Tokyo)")
		}
		l, err := time.LoadLocation(c.Zone)
		if err != nil || len(c.Zone) > 64 {
			return time.Time{}, fmt.Errorf("zone: %q is not a time zone (such as Asia/Tokyo)", clip(c.Zone, 40))
		}
		loc = l
	}
	d, err := time.ParseInLocation("2006-01-02", c.Date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("date: %q: a day such as 2021-07-27", clip(c.Date, 40))
	}
	hm, err := time.Parse("15:04", c.Time)
	if err != nil {
		return time.Time{}, fmt.Errorf("time: %q: a time of day such as 13:30", clip(c.Time, 40))
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hm.Hour(), hm.Minute(), 0, 0, loc), nil
}

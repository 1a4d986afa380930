package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"noroshi/app/report"
	"noroshi/crypto"
	"noroshi/replica"
)

// Reports: the situation report to the security coordination centre (AM
// and PM), the daily bulletin to all members and the digest for
// non-specialists, computed as data from what this device can read over a
// fixed window, then laid out by the pure package app/report as Markdown,
// HTML or PDF, in Japanese or English. Exercise traffic never counts.
//
// Windows, in the report's time zone (ReportOptions.Zone, the machine's
// local zone by default):
//
//	sitrep AM of day D   D-1 17:00 to D 09:00
//	sitrep PM of day D   D 09:00 to D 17:00
//	bulletin of day D    D 00:00 to D+1 00:00
//	digest of N weeks    the N*7 days that end with day D (D+1 00:00)
//
// A window is [from, until): what happened at 09:00:00 exactly is in the
// PM report. What the device learns later about a window (a late sync)
// shows when the report is made again.

// ReportKind is what a report is.
type ReportKind string

// Report kinds.
const (
	ReportSitrep   ReportKind = "sitrep"
	ReportBulletin ReportKind = "bulletin"
	ReportDigest   ReportKind = "digest"
)

// ReportKinds lists the report kinds.
var ReportKinds = []ReportKind{ReportSitrep, ReportBulletin, ReportDigest}

// ReportWindow is a situation report's half day.
type ReportWindow string

// Situation report windows.
const (
	WindowAM ReportWindow = "am"
	WindowPM ReportWindow = "pm"
)

// ReportFormat is how a report is written out.
type ReportFormat string

// Report formats.
const (
	FormatMarkdown ReportFormat = "md"
	FormatHTML     ReportFormat = "html"
	FormatPDF      ReportFormat = "pdf"
)

// ReportFormats lists the report formats.
var ReportFormats = []ReportFormat{FormatMarkdown, FormatHTML, FormatPDF}

// Report languages: every label in one language; what members wrote stays
// as written, and TLP labels are never translated.
const (
	ReportJapanese = "ja"
	ReportEnglish  = "en"
)

// Report cut-off hours and bounds.
const (
	// SitrepAMHour ends the AM window and starts the PM one; SitrepPMHour
	// ends the PM window and starts the next day's AM one.
	SitrepAMHour = 9
	SitrepPMHour = 17
	// MaxDigestWeeks bounds a digest's window.
	MaxDigestWeeks = 8
	// maxReportPosts bounds the posts one report lists (the rest counted).
	maxReportPosts = 500
	// summaryRunes bounds a post's summary in a digest.
	summaryRunes = 400
)

// ErrNoReportFont says that no Japanese TrueType font was found for a PDF:
// install fonts-ipaexfont-gothic, or give a font file.
var ErrNoReportFont = report.ErrNoFont

// ReportOptions choose a report and its window.
type ReportOptions struct {
	Kind ReportKind
	// Window is the sitrep's half day.
	Window ReportWindow
	// Date is the report's day: its year, month and day as they are in
	// its own location (ParseReportDate); zero: today in Zone (Config.Now).
	Date time.Time
	// Zone is the report's time zone; nil: the machine's local zone (in
	// the demo community, Asia/Tokyo).
	Zone *time.Location
	// TLPMax is the most restricted marking a bulletin or digest includes:
	// GREEN when empty, AMBER at most.
	TLPMax TLP
	// Weeks is a digest's length: 2 when 0, at most MaxDigestWeeks.
	Weeks int
	// Audience is the kind of organisation a digest is written for:
	// sports bodies when empty.
	Audience OrgKind
}

// Report is a report's content as data.
type Report struct {
	Kind   ReportKind   `json:"kind"`
	Window ReportWindow `json:"window,omitempty"`
	// Date is the report's day, YYYY-MM-DD in its zone.
	Date  string    `json:"date"`
	Zone  string    `json:"zone"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Made is when it was made; MadeBy "Name (Organisation)".
	Made      time.Time `json:"made"`
	MadeBy    string    `json:"made_by"`
	Community string    `json:"community"`
	// TLP marks the whole report: a sitrep AMBER (it names organisations
	// to the coordination centre); a bulletin or digest the most
	// restricted marking of what it includes, GREEN at least.
	TLP      TLP       `json:"tlp"`
	Sitrep   *Sitrep   `json:"sitrep,omitempty"`
	Bulletin *Bulletin `json:"bulletin,omitempty"`
	Digest   *Digest   `json:"digest,omitempty"`
	loc      *time.Location
}

// ReportFlag is an incident's escalation flag as a report shows it.
type ReportFlag string

// Escalation flags.
const (
	FlagAffectsEvent   ReportFlag = "affects-event"
	FlagPublicResponse ReportFlag = "public-response"
	FlagPassedOn       ReportFlag = "passed-on"
)

// ReportIncident is an incident as a situation report lists it.
type ReportIncident struct {
	ID       string       `json:"id"`
	Title    string       `json:"title"`
	Category Category     `json:"category"`
	Status   Status       `json:"status"`
	OrgName  string       `json:"org_name"`
	Opened   time.Time    `json:"opened"`
	Flags    []ReportFlag `json:"flags,omitempty"`
}

// ReportCount is a count of incidents of a category (and status).
type ReportCount struct {
	Category Category `json:"category"`
	Status   Status   `json:"status,omitempty"`
	Count    int      `json:"count"`
	// Named lists the organisations that consented to being named (the
	// bulletin); Unnamed counts the others.
	Named   []string `json:"named,omitempty"`
	Unnamed int      `json:"unnamed,omitempty"`
}

// StatusMove is an incident's change of status within a window.
type StatusMove struct {
	Incident string    `json:"incident"`
	Title    string    `json:"title"`
	OrgName  string    `json:"org_name"`
	From     Status    `json:"from"`
	To       Status    `json:"to"`
	Time     time.Time `json:"time"`
	By       string    `json:"by"`
}

// FlagChange is an escalation flag set or cleared within a window.
type FlagChange struct {
	Incident string     `json:"incident"`
	Title    string     `json:"title"`
	OrgName  string     `json:"org_name"`
	Flag     ReportFlag `json:"flag"`
	On       bool       `json:"on"`
	Time     time.Time  `json:"time"`
	By       string     `json:"by"`
}

// ReportSupport is an open support request and its age at the window's
// end (or when the report was made, if earlier). To and State are empty
// when support was asked for and no organisation was asked yet.
type ReportSupport struct {
	Incident  string        `json:"incident"`
	Title     string        `json:"title"`
	Category  Category      `json:"category"`
	OrgName   string        `json:"org_name"`
	Status    Status        `json:"status"`
	To        string        `json:"to,omitempty"`
	Kinds     []SupportKind `json:"kinds,omitempty"`
	State     SupportState  `json:"state,omitempty"`
	Requested time.Time     `json:"requested"`
	Age       time.Duration `json:"age"`
}

// ReportNotices counts observation notices and the organisations they went to.
type ReportNotices struct {
	Notices int `json:"notices"`
	Orgs    int `json:"orgs"`
}

// ReportPost is a post as a report lists it. OrgName is empty when the
// author's organisation did not consent to being named (bulletin, digest).
type ReportPost struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Tag     Tag       `json:"tag"`
	Type    PostType  `json:"type"`
	TLP     TLP       `json:"tlp"`
	Channel Channel   `json:"channel"`
	Scoped  bool      `json:"scoped,omitempty"`
	OrgName string    `json:"org_name,omitempty"`
	Time    time.Time `json:"time"`
	// Summary and WhatToDo are the plain-language fields of a digest;
	// Indicators its technical details, defanged.
	Summary    string   `json:"summary,omitempty"`
	WhatToDo   string   `json:"what_to_do,omitempty"`
	Indicators []string `json:"indicators,omitempty"`
	SourceURL  string   `json:"source_url,omitempty"`
}

// ReportShared is the threat information shared in a window.
type ReportShared struct {
	Total  int              `json:"total"`
	ByTag  map[Tag]int      `json:"by_tag"`
	ByType map[PostType]int `json:"by_type"`
	// Posts lists those of TLP:AMBER at most; Unlisted counts the others.
	Posts    []ReportPost `json:"posts"`
	Unlisted int          `json:"unlisted,omitempty"`
}

// Sitrep is a situation report to the security coordination centre.
type Sitrep struct {
	// Escalated are the incidents that affect the event, need a public
	// response or were passed on, open at the window's end or changed in it.
	Escalated []ReportIncident `json:"escalated"`
	// ByCategory counts them by category and status.
	ByCategory []ReportCount    `json:"by_category"`
	New        []ReportIncident `json:"new"`
	Moves      []StatusMove     `json:"moves"`
	Flags      []FlagChange     `json:"flags"`
	Support    []ReportSupport  `json:"support"`
	Notices    ReportNotices    `json:"notices"`
	Shared     ReportShared     `json:"shared"`
}

// Bulletin is the daily bulletin to all members.
type Bulletin struct {
	TLPMax TLP `json:"tlp_max"`
	// Incidents counts the day's new incidents by category, naming only
	// organisations that consented.
	Incidents []ReportCount `json:"incidents"`
	New       int           `json:"new"`
	Open      int           `json:"open"`
	Notices   ReportNotices `json:"notices"`
	// Posts are the day's community-wide posts within TLPMax.
	Posts []ReportPost `json:"posts"`
}

// Digest is the digest for non-specialists: 【重要】 and 【注意】
// community-wide posts within TLPMax, important first.
type Digest struct {
	Audience OrgKind      `json:"audience"`
	Weeks    int          `json:"weeks"`
	TLPMax   TLP          `json:"tlp_max"`
	Items    []ReportPost `json:"items"`
}

// ParseReportKind parses sitrep, bulletin or digest.
func ParseReportKind(s string) (ReportKind, error) {
	return parseReportEnum(s, "report", ReportKinds)
}

// ParseReportWindow parses am or pm.
func ParseReportWindow(s string) (ReportWindow, error) {
	return parseReportEnum(s, "window", []ReportWindow{WindowAM, WindowPM})
}

// ParseReportFormat parses md, html or pdf (markdown too).
func ParseReportFormat(s string) (ReportFormat, error) {
	if strings.EqualFold(strings.TrimSpace(s), "markdown") {
		return FormatMarkdown, nil
	}
	return parseReportEnum(s, "format", ReportFormats)
}

// ParseReportLang parses ja or en (japanese, english too).
func ParseReportLang(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ja", "japanese", "日本語":
		return ReportJapanese, nil
	case "en", "english":
		return ReportEnglish, nil
	}
	return "", fmt.Errorf("%w: report language %q: give ja or en", ErrInvalid, s)
}

func parseReportEnum[T ~string](s, what string, allowed []T) (T, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if string(a) == l {
			return a, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%w: %s %q: give %s", ErrInvalid, what, s, strings.Join(enumNames(allowed), ", "))
}

// ParseReportAudience parses an organisation kind a digest is written
// for, singular or plural: sports-body or sports-bodies, venue or venues.
func ParseReportAudience(s string) (OrgKind, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, k := range OrgKinds {
		ks := string(k)
		if l == ks || l == ks+"s" || (strings.HasSuffix(ks, "y") && l == strings.TrimSuffix(ks, "y")+"ies") {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: audience %q: give one of %s", ErrInvalid, s, strings.Join(enumNames(OrgKinds), ", "))
}

// ParseReportDate reads a report's day, YYYY-MM-DD, in zone (nil: local).
func ParseReportDate(s string, zone *time.Location) (time.Time, error) {
	if zone == nil {
		zone = time.Local
	}
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q: give a day such as 2021-07-24", ErrInvalid, s)
	}
	return t, nil
}

// reportWindow works out a report's window and its day.
func (o *ReportOptions) window(now time.Time) (day, from, until time.Time, err error) {
	if o.Zone == nil {
		o.Zone = time.Local
	}
	d := o.Date
	if d.IsZero() {
		d = now.In(o.Zone)
	}
	day = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, o.Zone)
	at := func(days, hour int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day()+days, hour, 0, 0, 0, o.Zone)
	}
	switch o.Kind {
	case ReportSitrep:
		switch o.Window {
		case WindowAM:
			return day, at(-1, SitrepPMHour), at(0, SitrepAMHour), nil
		case WindowPM:
			return day, at(0, SitrepAMHour), at(0, SitrepPMHour), nil
		}
		return day, from, until, fmt.Errorf("%w: a situation report needs its window: am or pm", ErrInvalid)
	case ReportBulletin:
		return day, at(0, 0), at(1, 0), nil
	case ReportDigest:
		if o.Weeks == 0 {
			o.Weeks = 2
		}
		if o.Weeks < 1 || o.Weeks > MaxDigestWeeks {
			return day, from, until, fmt.Errorf("%w: a digest covers 1 to %d weeks, not %d", ErrInvalid, MaxDigestWeeks, o.Weeks)
		}
		return day, at(1-7*o.Weeks, 0), at(1, 0), nil
	}
	return day, from, until, fmt.Errorf("%w: report kind %q: give sitrep, bulletin or digest", ErrInvalid, o.Kind)
}

// tlpMax checks a bulletin's or digest's most restricted marking.
func (o *ReportOptions) tlpMax() error {
	if o.TLPMax == "" {
		o.TLPMax = TLPGreen
	}
	if tlpRank(o.TLPMax) < 0 || tlpRank(o.TLPMax) > tlpRank(TLPAmber) {
		return fmt.Errorf("%w: a report to all members includes TLP:CLEAR, TLP:GREEN or TLP:AMBER at most, not %s", ErrNotAllowed, o.TLPMax.Label())
	}
	return nil
}

// MakeReport computes a report from what this device can read: a
// coordinator sees every incident and notice, a member its own
// organisation's and what was shared with it.
func (a *App) MakeReport(o ReportOptions) (Report, error) {
	now := a.cfg.Now()
	if o.Zone == nil && a.WhoAmI().Demo {
		o.Zone = demoZone()
	}
	day, from, until, err := o.window(now)
	if err != nil {
		return Report{}, err
	}
	r := Report{Kind: o.Kind, Date: day.Format("2006-01-02"), Zone: o.Zone.String(), From: from, Until: until, Made: now.In(o.Zone), loc: o.Zone}
	if o.Kind == ReportSitrep {
		r.Window = o.Window
	} else if err := o.tlpMax(); err != nil {
		return Report{}, err
	}
	if o.Kind == ReportDigest {
		if o.Audience == "" {
			o.Audience = KindSportsBody
		}
		if !slices.Contains(OrgKinds, o.Audience) {
			return Report{}, fmt.Errorf("%w: audience %q: give one of %s", ErrInvalid, o.Audience, strings.Join(enumNames(OrgKinds), ", "))
		}
	}
	var in reportInput
	walked := 0
	err = a.read(func(t *vtx) error {
		if _, err := a.me(); err != nil {
			return err
		}
		s := a.view
		m, _ := s.trust.Member(a.dev.ID())
		r.MadeBy = s.deviceName(a.dev.ID()) + " (" + s.orgName(m.Org) + ")"
		if c, ok := s.communityProfile(); ok {
			r.Community = c.Name
		}
		in, walked = t.reportInput(from, until)
		return nil
	})
	a.walked(walked)
	if err != nil {
		return Report{}, err
	}
	asOf := until
	if r.Made.Before(asOf) {
		asOf = r.Made
	}
	switch o.Kind {
	case ReportSitrep:
		r.TLP = TLPAmber
		r.Sitrep = in.sitrep(from, until, asOf)
	case ReportBulletin:
		r.Bulletin = in.bulletin(from, until, o.TLPMax)
		r.TLP = maxTLP(TLPGreen, r.Bulletin.Posts)
	case ReportDigest:
		r.Digest = in.digest(o.Audience, o.Weeks, o.TLPMax)
		r.TLP = maxTLP(TLPGreen, r.Digest.Items)
	}
	return r, nil
}

// demoZone is the demo community's zone: Tokyo, as the Games were.
func demoZone() *time.Location {
	if l, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return l
	}
	return time.FixedZone("JST", 9*3600)
}

func maxTLP(floor TLP, posts []ReportPost) TLP {
	out := floor
	for _, p := range posts {
		if tlpRank(p.TLP) > tlpRank(out) {
			out = p.TLP
		}
	}
	return out
}

// reportInput is what a report reads from the views, exercise traffic left
// out, each post with its organisation's consent to being named.
type reportInput struct {
	incidents []Incident
	affects   map[string]Affects // incident ID -> "affects the event" as reported
	posts     []reportPost
	named     map[string]bool // organisation ID -> consents to being named
}

type reportPost struct {
	ReportPost
	rec     *PostRecord
	orgName string // always set; ReportPost.OrgName only with consent
}

// reportInput reads every real incident opened before until and every
// post of the window. The caller holds a.mu.
func (t *vtx) reportInput(from, until time.Time) (reportInput, int) {
	s := t.a.view
	in := reportInput{affects: map[string]Affects{}, named: map[string]bool{}}
	for _, v := range t.reported() {
		if v.exercise != "" || !wallTime(v.clock).Before(until) {
			continue
		}
		inc := t.incident(v)
		if inc.Exercise != "" || inc.SupportOnly {
			continue
		}
		in.incidents = append(in.incidents, inc)
		in.affects[inc.ID] = v.rec.Incident.Affects
		in.named[inc.Org] = s.orgNamed(v.rec.Incident.Org)
	}
	slices.SortFunc(in.incidents, func(x, y Incident) int {
		if c := x.Opened.Compare(y.Opened); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	walked := 0
	c := t.b(vbFeed).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 8 {
			continue
		}
		at := replica.Physical(^binary.BigEndian.Uint64(k[:8]))
		if at.Before(from) {
			break // the feed is newest first
		}
		walked++
		v := t.post(feedID(k))
		if v == nil || v.exercise != "" || !s.visible(v) {
			continue
		}
		when := wallTime(v.clock)
		if when.Before(from) || !when.Before(until) {
			continue
		}
		p := v.rec.Post
		m, _ := s.trust.Member(v.author)
		rp := reportPost{rec: p, orgName: s.orgName(m.Org), ReportPost: ReportPost{
			ID: v.id.String(), Title: p.Title, Tag: p.Tag, Type: p.Type, TLP: p.TLP, Channel: p.Channel,
			Scoped: len(p.ToOrgs) > 0 || len(p.ToPersons) > 0, Time: when,
		}}
		if s.orgNamed(m.Org) {
			rp.OrgName = rp.orgName
		}
		in.posts = append(in.posts, rp)
	}
	slices.SortFunc(in.posts, func(x, y reportPost) int {
		if c := x.Time.Compare(y.Time); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return in, walked
}

// flagsAt returns an incident's escalation flags just before t: as
// reported, then as its timeline set and cleared them.
func (in reportInput) flagsAt(inc Incident, t time.Time) []ReportFlag {
	on := map[ReportFlag]bool{FlagAffectsEvent: in.affects[inc.ID] == AffectsYes}
	for _, e := range inc.Timeline {
		if e.Refused != "" || !e.Time.Before(t) {
			continue
		}
		for _, f := range flagChanges(e) {
			on[f.Flag] = f.On
		}
	}
	var out []ReportFlag
	for _, f := range []ReportFlag{FlagAffectsEvent, FlagPublicResponse, FlagPassedOn} {
		if on[f] {
			out = append(out, f)
		}
	}
	return out
}

// flagChanges returns the escalation flags a timeline step sets or clears.
func flagChanges(e TimelineEntry) []FlagChange {
	var out []FlagChange
	if e.Affects != "" {
		out = append(out, FlagChange{Flag: FlagAffectsEvent, On: e.Affects == AffectsYes})
	}
	if e.Public != nil {
		out = append(out, FlagChange{Flag: FlagPublicResponse, On: *e.Public})
	}
	if e.PassedOn != nil {
		out = append(out, FlagChange{Flag: FlagPassedOn, On: *e.PassedOn})
	}
	return out
}

// supportRows returns an incident's support requests still open at asOf
// (not yet answered, or accepted and not yet reported back), and its call
// for support when no organisation was asked yet.
func supportRows(inc Incident, status Status, asOf time.Time) []ReportSupport {
	if status == StatusResolved || status == StatusClosed {
		return nil
	}
	row := ReportSupport{Incident: inc.ID, Title: inc.Title, Category: inc.Category, OrgName: inc.OrgName, Status: status}
	var out []ReportSupport
	for _, q := range inc.Requests {
		if q.Opened.After(asOf) || (q.State != SupportOpen && q.State != SupportAccepted) {
			continue
		}
		r := row
		r.To, r.Kinds, r.State, r.Requested = q.OrgName, q.Kinds, q.State, q.Opened
		r.Age = asOf.Sub(q.Opened).Round(time.Minute)
		out = append(out, r)
	}
	if len(inc.Requests) == 0 && (inc.SupportRequested || len(inc.Support) > 0) {
		r := row
		r.Kinds, r.Requested, r.Age = inc.Support, inc.Opened, asOf.Sub(inc.Opened).Round(time.Minute)
		out = append(out, r)
	}
	return out
}

// statusAt returns an incident's status just before t.
func statusAt(inc Incident, t time.Time) Status {
	st := StatusReported
	for _, e := range inc.Timeline {
		if e.Status != "" && e.Refused == "" && e.Time.Before(t) {
			st = e.Status
		}
	}
	return st
}

func inWindow(t, from, until time.Time) bool { return !t.Before(from) && t.Before(until) }

func (in reportInput) reportIncident(inc Incident, until time.Time) ReportIncident {
	return ReportIncident{ID: inc.ID, Title: inc.Title, Category: inc.Category, Status: statusAt(inc, until), OrgName: inc.OrgName, Opened: inc.Opened,
		Flags: in.flagsAt(inc, until)}
}

func (in reportInput) sitrep(from, until, asOf time.Time) *Sitrep {
	out := &Sitrep{Escalated: []ReportIncident{}, ByCategory: []ReportCount{}, New: []ReportIncident{}, Moves: []StatusMove{}, Flags: []FlagChange{}, Support: []ReportSupport{},
		Shared: ReportShared{ByTag: map[Tag]int{}, ByType: map[PostType]int{}, Posts: []ReportPost{}}}
	counts := map[[2]string]int{}
	for _, inc := range in.incidents {
		status := statusAt(inc, until)
		changed := inWindow(inc.Opened, from, until)
		prev := statusAt(inc, inc.Opened.Add(time.Nanosecond))
		for _, e := range inc.Timeline {
			if e.Refused != "" || !e.Time.Before(until) {
				continue
			}
			if inWindow(e.Time, from, until) {
				for _, f := range flagChanges(e) {
					f.Incident, f.Title, f.OrgName, f.Time, f.By = inc.ID, inc.Title, inc.OrgName, e.Time, e.AuthorName+" ("+e.AuthorOrg+")"
					out.Flags = append(out.Flags, f)
					changed = true
				}
			}
			if e.Status == "" {
				continue
			}
			if inWindow(e.Time, from, until) {
				changed = true
				if e.Status != prev {
					out.Moves = append(out.Moves, StatusMove{Incident: inc.ID, Title: inc.Title, OrgName: inc.OrgName, From: prev, To: e.Status, Time: e.Time,
						By: e.AuthorName + " (" + e.AuthorOrg + ")"})
				}
			}
			prev = e.Status
		}
		if inWindow(inc.Opened, from, until) {
			out.New = append(out.New, in.reportIncident(inc, until))
		}
		open := status != StatusResolved && status != StatusClosed
		if len(in.flagsAt(inc, until)) > 0 && (open || changed) {
			out.Escalated = append(out.Escalated, in.reportIncident(inc, until))
			counts[[2]string{string(inc.Category), string(status)}]++
		}
		out.Support = append(out.Support, supportRows(inc, status, asOf)...)
	}
	for _, c := range Categories {
		for _, st := range Statuses {
			if n := counts[[2]string{string(c), string(st)}]; n > 0 {
				out.ByCategory = append(out.ByCategory, ReportCount{Category: c, Status: st, Count: n})
			}
		}
	}
	slices.SortStableFunc(out.Moves, func(x, y StatusMove) int { return x.Time.Compare(y.Time) })
	slices.SortStableFunc(out.Flags, func(x, y FlagChange) int { return x.Time.Compare(y.Time) })
	slices.SortStableFunc(out.Support, func(x, y ReportSupport) int { return x.Requested.Compare(y.Requested) })
	out.Notices = in.notices()
	for _, p := range in.posts {
		if p.Channel == ChannelObservation {
			continue
		}
		out.Shared.Total++
		out.Shared.ByTag[p.Tag]++
		out.Shared.ByType[p.Type]++
		if tlpRank(p.TLP) <= tlpRank(TLPAmber) && len(out.Shared.Posts) < maxReportPosts {
			rp := p.ReportPost
			rp.OrgName = p.orgName // the sitrep goes to the coordination centre
			out.Shared.Posts = append(out.Shared.Posts, rp)
		} else {
			out.Shared.Unlisted++
		}
	}
	return out
}

// notices counts the window's observation notices and the organisations
// they went to.
func (in reportInput) notices() ReportNotices {
	var n ReportNotices
	orgs := map[crypto.ID16]bool{}
	for _, p := range in.posts {
		if p.Channel != ChannelObservation {
			continue
		}
		n.Notices++
		for _, o := range p.rec.ToOrgs {
			orgs[o] = true
		}
	}
	n.Orgs = len(orgs)
	return n
}

// communityWide reports whether a post may go into a report to all
// members: shared with the whole community, not an observation notice,
// within tlpMax, and not a bulletin itself.
func communityWide(p reportPost, tlpMax TLP) bool {
	return !p.Scoped && p.Channel != ChannelObservation && tlpRank(p.TLP) >= 0 && tlpRank(p.TLP) <= tlpRank(tlpMax) &&
		tlpRank(p.TLP) <= tlpRank(TLPAmber) && !isBulletin(p.rec)
}

func (in reportInput) bulletin(from, until time.Time, tlpMax TLP) *Bulletin {
	out := &Bulletin{TLPMax: tlpMax, Incidents: []ReportCount{}, Posts: []ReportPost{}}
	byCat := map[Category]*ReportCount{}
	for _, inc := range in.incidents {
		status := statusAt(inc, until)
		if status != StatusResolved && status != StatusClosed {
			out.Open++
		}
		if !inWindow(inc.Opened, from, until) {
			continue
		}
		out.New++
		c := byCat[inc.Category]
		if c == nil {
			c = &ReportCount{Category: inc.Category}
			byCat[inc.Category] = c
		}
		c.Count++
		switch {
		case !in.named[inc.Org]:
			c.Unnamed++
		case !slices.Contains(c.Named, inc.OrgName):
			c.Named = append(c.Named, inc.OrgName)
		}
	}
	for _, cat := range Categories {
		if c := byCat[cat]; c != nil {
			slices.Sort(c.Named)
			out.Incidents = append(out.Incidents, *c)
		}
	}
	out.Notices = in.notices()
	for _, p := range in.posts {
		if communityWide(p, tlpMax) && len(out.Posts) < maxReportPosts {
			out.Posts = append(out.Posts, p.ReportPost)
		}
	}
	return out
}

func (in reportInput) digest(audience OrgKind, weeks int, tlpMax TLP) *Digest {
	out := &Digest{Audience: audience, Weeks: weeks, TLPMax: tlpMax, Items: []ReportPost{}}
	for _, tag := range []Tag{TagImportant, TagCaution} {
		for _, p := range in.posts {
			if p.Tag != tag || !communityWide(p, tlpMax) || len(out.Items) >= maxReportPosts {
				continue
			}
			rp := p.ReportPost
			rp.Summary, rp.WhatToDo = plainFields(p.rec.Body)
			for _, i := range p.rec.Indicators {
				rp.Indicators = append(rp.Indicators, i.Defanged())
			}
			if p.rec.Source != nil {
				rp.SourceURL = Indicator{Kind: IndicatorURL, Value: p.rec.Source.URL}.Defanged()
			}
			out.Items = append(out.Items, rp)
		}
	}
	return out
}

// whatToDoMarks start a paragraph that says what to do.
var whatToDoMarks = []string{"what to do", "action", "recommended action", "対策", "対応", "推奨", "お願い"}

// plainFields takes a post's body apart for non-specialists: its first
// paragraph as a summary, and the paragraph that starts with a "what to
// do" mark (after the mark), URLs and addresses defanged.
func plainFields(body string) (summary, whatToDo string) {
	paras := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n")
	for _, p := range paras {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if rest, ok := cutMark(p); ok && whatToDo == "" {
			whatToDo = clipRunes(DefangText(rest), summaryRunes)
			continue
		}
		if summary == "" {
			summary = clipRunes(DefangText(p), summaryRunes)
		}
	}
	return summary, whatToDo
}

// cutMark returns a paragraph after its "what to do" mark and colon.
func cutMark(p string) (string, bool) {
	l := strings.ToLower(p)
	for _, m := range whatToDoMarks {
		if !strings.HasPrefix(l, m) {
			continue
		}
		rest := strings.TrimLeft(p[len(m):], " 　")
		for _, colon := range []string{":", "：", "\n"} {
			if strings.HasPrefix(rest, colon) {
				return strings.TrimSpace(rest[len(colon):]), true
			}
		}
	}
	return "", false
}

// clipRunes cuts s to n characters with an ellipsis.
func clipRunes(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// bulletinTitles start the title of a posted bulletin, in both languages.
var bulletinTitles = []string{"Daily bulletin ", "日報 "}

// isBulletin reports whether a post is a bulletin posted by PostBulletin:
// a later bulletin does not list it.
func isBulletin(p *PostRecord) bool {
	if p.Type != TypeAlert || p.Tag != TagInfo || p.Channel != ChannelGeneral {
		return false
	}
	for _, t := range bulletinTitles {
		if strings.HasPrefix(p.Title, t) {
			return true
		}
	}
	return false
}

// ReportRender says how to write a report out.
type ReportRender struct {
	Format ReportFormat
	// Lang is ja or en; empty: English.
	Lang string
	// Font is a TrueType font file for a PDF; empty: the first known
	// Japanese font found (IPAex Gothic).
	Font string
}

// Render writes a report as Markdown, HTML or PDF.
func (r Report) Render(o ReportRender) ([]byte, error) {
	d := r.Document(o.Lang)
	switch o.Format {
	case FormatMarkdown, "":
		return report.Markdown(d), nil
	case FormatHTML:
		return report.HTML(d)
	case FormatPDF:
		path, err := report.FindFont(o.Font)
		if err != nil {
			if errors.Is(err, report.ErrNoFont) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		font, err := report.LoadFont(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		var b bytes.Buffer
		if err := report.PDF(&b, d, font); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("%w: report format %q: give md, html or pdf", ErrInvalid, o.Format)
}

// Preview writes a report as Markdown without tables, for a viewer that
// shows CommonMark only (the app's Reports screen).
func (r Report) Preview(lang string) string {
	return string(report.PreviewMarkdown(r.Document(lang)))
}

// PostBulletin posts a bulletin to the whole community, in the general
// channel as an alert tagged 【情報】, marked with the bulletin's TLP; its
// body is the bulletin in Markdown without tables (Report.Preview).
func (a *App) PostBulletin(r Report, lang string) (PostSummary, error) {
	if r.Kind != ReportBulletin || r.Bulletin == nil {
		return PostSummary{}, fmt.Errorf("%w: only the daily bulletin is posted", ErrInvalid)
	}
	d := r.Document(lang)
	// Lists rather than tables: the app shows CommonMark, and `noroshi
	// show` the text as it is.
	body := report.PreviewMarkdown(d)
	if len(body) > MaxBody {
		return PostSummary{}, fmt.Errorf("%w: the bulletin is %d bytes, a post at most %d: save it as a file and attach it", ErrTooLarge, len(body), MaxBody)
	}
	return a.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: r.TLP, Channel: ChannelGeneral, Title: d.Title, Body: string(body)})
}

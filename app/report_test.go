package app

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"noroshi/crypto"
)

// -update rewrites the golden files of the report tests
// (testdata/report/*): go test ./app/ -run Report -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// reportZone is the demo's zone, fixed so that the golden files do not depend on
// the machine's.
var reportZone = time.FixedZone("JST", 9*3600)

// reportCommunity is a small community with a fixed day of traffic,
// 23 July 20:00 to 24 July 17:00 JST 2021, seen by the coordinator:
//
//	Metro Power      incident (outage, affects the event, support asked and
//	                 routed to National CSIRT, which accepts), consents to
//	                 nothing
//	Capital Railways incident (traffic surge), not named
//	Venue North      incident (outage, passed on), consents to being named
//	the centre       posts GREEN 【重要】, AMBER 【注意】, RED to a person,
//	                 AMBER+STRICT to one organisation, a GREEN post to one
//	                 organisation, three observation notices to two
//	                 organisations, and an exercise inject; an exercise
//	                 incident too
type reportCommunity struct {
	*community
	csirt *App
}

func at(day, hour, minute int) time.Time {
	return time.Date(2021, 7, day, hour, minute, 0, 0, reportZone)
}

// moveTo advances the community's clock to t.
func (c *reportCommunity) moveTo(t *testing.T, when time.Time) {
	t.Helper()
	now := c.clock.Now()
	if when.Before(now) {
		t.Fatalf("the clock is at %s, past %s", now, when)
	}
	c.clock.Advance(when.Sub(now))
}

func newReportCommunity(t *testing.T) *reportCommunity {
	t.Helper()
	c := &reportCommunity{community: newCommunity(t)}
	if _, err := c.centre.AddOrg("National CSIRT", KindSecurityAgency, ""); err != nil {
		t.Fatal(err)
	}
	c.csirt = c.join(t, "CSIRT Analyst", "National CSIRT", crypto.RoleMember)
	c.all = append(c.all, c.csirt)
	c.sync(t)
	yes := true
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.venue.SetOrgSettings("", OrgSettingsChange{Named: &yes}))

	c.moveTo(t, at(23, 21, 0))
	power, err := c.power.ReportIncident(IncidentDraft{Category: CatOutage, Title: "Billing portal down", Affects: AffectsYes, Support: []SupportKind{SupportOutageCause}})
	must(power, err)
	c.sync(t)
	c.moveTo(t, at(23, 22, 0))
	must(c.centre.UpdateIncident(power.ID, IncidentChange{Status: StatusTriaged}))
	c.moveTo(t, at(23, 22, 30))
	must(c.centre.RouteIncident(power.ID, SupportRouting{To: []string{"National CSIRT"}}))
	c.sync(t)
	c.moveTo(t, at(23, 23, 0))
	must(c.csirt.AnswerSupport(power.ID, SupportReplyDraft{Answer: AnswerAccept}))

	c.moveTo(t, at(24, 1, 0))
	rail, err := c.rail.ReportIncident(IncidentDraft{Category: CatTrafficSurge, Title: "Ticket site slow", Affects: AffectsNo})
	must(rail, err)
	c.moveTo(t, at(24, 2, 0))
	venue, err := c.venue.ReportIncident(IncidentDraft{Category: CatOutage, Title: "Wi-Fi outage at gate 3", Affects: AffectsUnknown})
	must(venue, err)
	c.moveTo(t, at(24, 3, 0))
	must(c.venue.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "EXERCISE files encrypted", Affects: AffectsYes, Exercise: "fifth"}))
	c.sync(t)

	post := func(a *App, d PostDraft) {
		t.Helper()
		if _, err := a.Post(d); err != nil {
			t.Fatalf("post %q: %v", d.Title, err)
		}
	}
	c.moveTo(t, at(24, 4, 0))
	post(c.centre, PostDraft{Type: TypeVulnerability, Tag: TagImportant, TLP: TLPGreen, Title: "iOS and iPadOS zero-day exploited",
		Body:       "Apple fixed a WebKit flaw that is exploited in the wild.\n\nWhat to do: update iPhones and iPads to the latest version today.",
		Indicators: []string{"https://support.example.com/HT212623"}})
	c.moveTo(t, at(24, 5, 0))
	post(c.centre, PostDraft{Type: TypeMalware, Tag: TagCaution, TLP: TLPAmber, Title: "Malware disguised as a damage report",
		Body: "Mails with a Word file claiming to report damage to the Games.", Indicators: []string{"198.51.100.23"}})
	c.moveTo(t, at(24, 5, 30))
	post(c.centre, PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "RED secret for one analyst", ToMembers: []string{"Power Analyst"}})
	c.moveTo(t, at(24, 6, 0))
	post(c.centre, PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPAmberStrict, Title: "STRICT note to Metro Power", ToOrgs: []string{"Metro Power"}})
	c.moveTo(t, at(24, 6, 30))
	post(c.centre, PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "Scoped note to Capital Railways", ToOrgs: []string{"Capital Railways"}})
	c.moveTo(t, at(24, 7, 0))
	post(c.centre, PostDraft{Type: TypeObservation, Tag: TagCaution, TLP: TLPAmber, Channel: ChannelObservation, Title: "Scan of 203.0.113.17 seen", ToOrgs: []string{"Metro Power"}})
	post(c.centre, PostDraft{Type: TypeObservation, Tag: TagCaution, TLP: TLPAmber, Channel: ChannelObservation, Title: "Your site is unreachable", ToOrgs: []string{"Venue North"}})
	post(c.centre, PostDraft{Type: TypeObservation, Tag: TagInfo, TLP: TLPGreen, Channel: ChannelObservation, Title: "DDoS traffic towards you", ToOrgs: []string{"Metro Power"}})
	c.moveTo(t, at(24, 7, 30))
	post(c.centre, PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "EXERCISE inject 1: malware found", Exercise: "fifth"})
	c.moveTo(t, at(24, 8, 0))
	post(c.rail, PostDraft{Type: TypeSchedule, Tag: TagInfo, TLP: TLPClear, Channel: ChannelGeneral, Title: "Extra trains after the ceremony"})
	c.sync(t)

	c.moveTo(t, at(24, 10, 0))
	must(c.centre.UpdateIncident(power.ID, IncidentChange{Status: StatusResponding}))
	c.moveTo(t, at(24, 11, 0))
	must(c.centre.UpdateIncident(rail.ID, IncidentChange{Status: StatusTriaged}))
	c.moveTo(t, at(24, 11, 30))
	must(c.centre.UpdateIncident(venue.ID, IncidentChange{PassedOn: &yes}))
	c.moveTo(t, at(24, 12, 0))
	post(c.venue, PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Channel: ChannelGeneral, Title: "Phishing mails to volunteers",
		Body: "Volunteers got mails asking them to log in at a fake staff portal (http://staff-portal.example.net/login).\n\n対策：リンクを開かず、調整センターに転送してください。"})
	c.moveTo(t, at(24, 15, 0))
	must(c.centre.UpdateIncident(rail.ID, IncidentChange{Status: StatusResolved}))
	c.moveTo(t, at(24, 16, 0))
	post(c.centre, PostDraft{Type: TypeObservation, Tag: TagCaution, TLP: TLPAmber, Channel: ChannelObservation, Title: "Phishing site imitating you", ToOrgs: []string{"Capital Railways"}})
	c.sync(t)
	c.moveTo(t, at(24, 17, 30))
	return c
}

// golden compares got with testdata/report/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to rewrite it, then read the diff):\n%s", name, got)
	}
}

func makeReport(t *testing.T, a *App, o ReportOptions) Report {
	t.Helper()
	if o.Zone == nil {
		o.Zone = reportZone
	}
	r, err := a.MakeReport(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r Report, f ReportFormat, lang string) []byte {
	t.Helper()
	b, err := r.Render(ReportRender{Format: f, Lang: lang})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportGolden makes the sitreps, the bulletin and the digest of the
// fixed day and compares them with the golden files.
func TestReportGolden(t *testing.T) {
	c := newReportCommunity(t)
	day := at(24, 0, 0)
	reports := map[string]ReportOptions{
		"sitrep-am": {Kind: ReportSitrep, Window: WindowAM, Date: day},
		"sitrep-pm": {Kind: ReportSitrep, Window: WindowPM, Date: day},
		"bulletin":  {Kind: ReportBulletin, Date: day},
		"digest":    {Kind: ReportDigest, Date: day, Weeks: 2},
	}
	for name, o := range reports {
		r := makeReport(t, c.centre, o)
		for _, lang := range []string{ReportEnglish, ReportJapanese} {
			golden(t, name+"."+lang+".md", render(t, r, FormatMarkdown, lang))
		}
	}
	b := makeReport(t, c.centre, reports["bulletin"])
	golden(t, "bulletin.en.html", render(t, b, FormatHTML, ReportEnglish))
}

// TestSitrepFigures checks the AM and PM sitreps' data against the day.
func TestSitrepFigures(t *testing.T) {
	c := newReportCommunity(t)
	am := makeReport(t, c.centre, ReportOptions{Kind: ReportSitrep, Window: WindowAM, Date: at(24, 0, 0)})
	if !am.From.Equal(at(23, 17, 0)) || !am.Until.Equal(at(24, 9, 0)) || am.TLP != TLPAmber {
		t.Fatalf("AM window %s to %s, %s", am.From, am.Until, am.TLP)
	}
	s := am.Sitrep
	if len(s.New) != 3 {
		t.Errorf("AM: %d new incidents, want 3 (the exercise left out): %+v", len(s.New), s.New)
	}
	if len(s.Escalated) != 1 || s.Escalated[0].Title != "Billing portal down" || s.Escalated[0].Status != StatusTriaged {
		t.Errorf("AM escalated: %+v", s.Escalated)
	}
	if len(s.Moves) != 1 || s.Moves[0].From != StatusReported || s.Moves[0].To != StatusTriaged {
		t.Errorf("AM moves: %+v", s.Moves)
	}
	if len(s.Support) != 1 || s.Support[0].To != "National CSIRT" || s.Support[0].State != SupportAccepted || s.Support[0].Age != 10*time.Hour+30*time.Minute {
		t.Errorf("AM support: %+v", s.Support)
	}
	if s.Notices != (ReportNotices{Notices: 3, Orgs: 2}) {
		t.Errorf("AM notices: %+v", s.Notices)
	}
	// Five posts besides the notices (the exercise inject left out); the
	// RED and AMBER+STRICT ones counted, not listed.
	if s.Shared.Total != 6 || len(s.Shared.Posts) != 4 || s.Shared.Unlisted != 2 || s.Shared.ByTag[TagImportant] != 3 {
		t.Errorf("AM shared: total %d, listed %d, unlisted %d, by tag %v", s.Shared.Total, len(s.Shared.Posts), s.Shared.Unlisted, s.Shared.ByTag)
	}
	pm := makeReport(t, c.centre, ReportOptions{Kind: ReportSitrep, Window: WindowPM, Date: at(24, 0, 0)}).Sitrep
	if len(pm.New) != 0 || len(pm.Moves) != 3 || len(pm.Flags) != 1 || pm.Flags[0].Flag != FlagPassedOn || pm.Notices.Notices != 1 {
		t.Errorf("PM: new %d, moves %+v, flags %+v, notices %+v", len(pm.New), pm.Moves, pm.Flags, pm.Notices)
	}
	if len(pm.Escalated) != 2 {
		t.Errorf("PM escalated: %+v", pm.Escalated)
	}
	// A member sees only its own organisation's incidents.
	mine := makeReport(t, c.rail, ReportOptions{Kind: ReportSitrep, Window: WindowAM, Date: at(24, 0, 0)}).Sitrep
	if len(mine.New) != 1 || mine.New[0].OrgName != "Capital Railways" || mine.Notices.Notices != 0 {
		t.Errorf("a member's sitrep: %+v", mine)
	}
}

// TestThreatBulletinWithholds: the bulletin names no organisation without
// its consent, and never includes a scoped, observation, RED, AMBER+STRICT
// or exercise post, whatever --tlp-max says; the digest neither.
func TestThreatBulletinWithholds(t *testing.T) {
	c := newReportCommunity(t)
	never := []string{"RED secret", "STRICT note", "Scoped note", "Scan of 203.0.113.17", "Your site is unreachable", "DDoS traffic towards you",
		"Phishing site imitating", "EXERCISE", "Metro Power", "Capital Railways", "Billing portal", "Ticket site", "Wi-Fi outage"}
	for _, tlpMax := range []TLP{TLPClear, TLPGreen, TLPAmber} {
		for _, kind := range []ReportKind{ReportBulletin, ReportDigest} {
			r := makeReport(t, c.centre, ReportOptions{Kind: kind, Date: at(24, 0, 0), TLPMax: tlpMax})
			limit := TLPGreen // the floor: the community's own figures
			if tlpRank(tlpMax) > tlpRank(limit) {
				limit = tlpMax
			}
			if tlpRank(r.TLP) > tlpRank(limit) {
				t.Errorf("%s within %s marked %s", kind, tlpMax, r.TLP)
			}
			for _, lang := range []string{ReportEnglish, ReportJapanese} {
				for _, f := range []ReportFormat{FormatMarkdown, FormatHTML} {
					out := string(render(t, r, f, lang))
					for _, s := range never {
						if strings.Contains(out, s) {
							t.Errorf("%s (%s, %s, within %s) holds %q", kind, lang, f, tlpMax, s)
						}
					}
				}
			}
		}
	}
	green := makeReport(t, c.centre, ReportOptions{Kind: ReportBulletin, Date: at(24, 0, 0)})
	out := string(render(t, green, FormatMarkdown, ReportEnglish))
	for _, want := range []string{"Venue North", "Phishing mails to volunteers", "Extra trains after the ceremony", "a member organisation", "TLP:GREEN"} {
		if !strings.Contains(out, want) {
			t.Errorf("the GREEN bulletin lacks %q", want)
		}
	}
	if strings.Contains(out, "Malware disguised") {
		t.Error("the GREEN bulletin holds an AMBER post")
	}
	amber := makeReport(t, c.centre, ReportOptions{Kind: ReportBulletin, Date: at(24, 0, 0), TLPMax: TLPAmber})
	if amber.TLP != TLPAmber || !strings.Contains(string(render(t, amber, FormatMarkdown, ReportEnglish)), "Malware disguised") {
		t.Errorf("the AMBER bulletin is %s, or lacks the AMBER post", amber.TLP)
	}
	for _, bad := range []TLP{TLPAmberStrict, TLPRed} {
		if _, err := c.centre.MakeReport(ReportOptions{Kind: ReportBulletin, TLPMax: bad}); err == nil {
			t.Errorf("a bulletin within %s was made", bad)
		}
	}
	// Posted, it goes to the community in the general channel, marked as
	// it is, and the next bulletin does not list it.
	p, err := c.centre.PostBulletin(green, ReportJapanese)
	if err != nil {
		t.Fatal(err)
	}
	if p.TLP != "TLP:GREEN" || p.Channel != ChannelGeneral || p.Tag != TagInfo || p.Title != "日報 2021-07-24" {
		t.Errorf("posted bulletin: %+v", p)
	}
	c.sync(t)
	d, err := c.rail.Show(p.ID)
	if err != nil || !d.Scope.Community || !strings.Contains(d.Body, "Phishing mails to volunteers") {
		t.Errorf("a member reads the bulletin: %v %+v", err, d.Scope)
	}
	again := makeReport(t, c.centre, ReportOptions{Kind: ReportBulletin, Date: at(24, 0, 0)})
	for _, bp := range again.Bulletin.Posts {
		if bp.ID == p.ID {
			t.Error("a bulletin lists the bulletin posted before it")
		}
	}
}

// TestDigestPlainFirst: only 【重要】 and 【注意】, important first, what to
// do before the technical details.
func TestDigestPlainFirst(t *testing.T) {
	c := newReportCommunity(t)
	r := makeReport(t, c.centre, ReportOptions{Kind: ReportDigest, Date: at(24, 0, 0), Weeks: 2})
	if !r.From.Equal(at(11, 0, 0)) || !r.Until.Equal(at(25, 0, 0)) || r.Digest.Audience != KindSportsBody {
		t.Fatalf("digest window %s to %s for %s", r.From, r.Until, r.Digest.Audience)
	}
	items := r.Digest.Items
	if len(items) != 2 || items[0].Tag != TagImportant || items[1].Tag != TagCaution {
		t.Fatalf("items %+v", items)
	}
	if items[0].WhatToDo != "update iPhones and iPads to the latest version today." || items[1].WhatToDo != "リンクを開かず、調整センターに転送してください。" {
		t.Errorf("what to do: %q, %q", items[0].WhatToDo, items[1].WhatToDo)
	}
	if !strings.Contains(items[1].Summary, "hxxp://staff-portal[.]example[.]net/login") {
		t.Errorf("summary not defanged: %q", items[1].Summary)
	}
	if len(items[0].Indicators) != 1 || items[0].Indicators[0] != "hxxps://support[.]example[.]com/HT212623" {
		t.Errorf("indicators: %q", items[0].Indicators)
	}
	out := string(render(t, r, FormatMarkdown, ReportEnglish))
	what, tech := strings.Index(out, "What to do"), strings.Index(out, "HT212623")
	if what < 0 || tech < 0 || what > tech {
		t.Errorf("what to do at %d, indicators at %d:\n%s", what, tech, out)
	}
	if _, err := c.centre.MakeReport(ReportOptions{Kind: ReportDigest, Weeks: 9}); err == nil {
		t.Error("a digest of 9 weeks")
	}
}

// TestReportPDF renders the sitrep as a PDF and reads its text back with
// pdftotext: Japanese and English lines, the TLP label on every page.
func TestReportPDF(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	c := newReportCommunity(t)
	r := makeReport(t, c.centre, ReportOptions{Kind: ReportSitrep, Window: WindowAM, Date: at(24, 0, 0)})
	for lang, want := range map[string][]string{
		ReportJapanese: {"状況報告（午前）2021-07-24", "サイバーセキュリティ対処調整センター宛", "大会影響・対外対応・調整センター連絡のインシデント", "観測通知 3 件を 2 組織に送付しました。", "Billing portal down", "National CSIRT", "1 / %d ページ"},
		ReportEnglish:  {"Situation report (AM) 2021-07-24", "To the security coordination centre", "Observation notices sent: 3, to 2 organisation(s).", "Billing portal down", "Page 1 of %d"},
	} {
		b, err := r.Render(ReportRender{Format: FormatPDF, Lang: lang})
		if err != nil {
			if strings.Contains(err.Error(), "fonts-ipaexfont-gothic") {
				t.Skip(err)
			}
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("%PDF-1.")) {
			t.Fatalf("%s: not a PDF", lang)
		}
		path := filepath.Join(t.TempDir(), "sitrep.pdf")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v: %s", err, out)
		}
		text := strings.Join(strings.Fields(string(out)), " ")
		pages := strings.Count(string(out), "\f")
		for _, w := range want {
			if strings.Contains(w, "%d") {
				w = fmt.Sprintf(w, pages)
			}
			if !strings.Contains(text, strings.Join(strings.Fields(w), " ")) {
				t.Errorf("%s PDF lacks %q:\n%s", lang, w, out)
			}
		}
		if n, pages := strings.Count(string(out), "TLP:AMBER"), strings.Count(string(out), "\f"); n < pages {
			t.Errorf("%s PDF: TLP label on %d of %d pages", lang, n, pages)
		}
	}
	if _, err := r.Render(ReportRender{Format: FormatPDF, Font: filepath.Join(t.TempDir(), "none.ttf")}); err == nil {
		t.Error("a PDF with a missing font file")
	}
}

// TestReportArrivalOrder: the reports of a device do not depend on the
// order in which it received the envelopes (a few random orders, in
// batches, as syncs bring them).
func TestReportArrivalOrder(t *testing.T) {
	c := newReportCommunity(t)
	opts := []ReportOptions{
		{Kind: ReportSitrep, Window: WindowAM, Date: at(24, 0, 0), Zone: reportZone},
		{Kind: ReportSitrep, Window: WindowPM, Date: at(24, 0, 0), Zone: reportZone},
		{Kind: ReportBulletin, Date: at(24, 0, 0), Zone: reportZone},
		{Kind: ReportDigest, Date: at(24, 0, 0), Zone: reportZone},
	}
	texts := func(a *App) string {
		var b strings.Builder
		for _, o := range opts {
			r, err := a.MakeReport(o)
			if err != nil {
				t.Fatal(err)
			}
			r.Made = time.Time{} // the clock moves on
			b.Write(render(t, r, FormatMarkdown, ReportEnglish))
		}
		return b.String()
	}
	want := texts(c.centre)
	all := envelopes(t, c.centre)
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		perm := rapid.Permutation(all).Draw(rt, "order")
		cuts := rapid.IntRange(1, 5).Draw(rt, "batches")
		if runs++; runs > 6 {
			return // each run folds a whole community: a few orders do
		}
		a, err := OpenDevice(testConfig(t, c.clock), c.centre.dev)
		if err != nil {
			rt.Fatal(err)
		}
		defer a.Close()
		for i := 0; i < cuts; i++ {
			lo, hi := i*len(perm)/cuts, (i+1)*len(perm)/cuts
			if _, err := a.store.Add(perm[lo:hi]...); err != nil {
				rt.Fatal(err)
			}
			if err := a.refresh(); err != nil {
				rt.Fatal(err)
			}
		}
		// What arrived before its author's membership comes again.
		if _, err := a.store.Add(all...); err != nil {
			rt.Fatal(err)
		}
		if err := a.refresh(); err != nil {
			rt.Fatal(err)
		}
		if got := texts(a); got != want {
			rt.Fatalf("reports differ after a random order:\ngot  %s\nwant %s", got, want)
		}
	})
}

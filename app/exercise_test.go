package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"noroshi/crypto"
)

// exerciseScenario is a small scenario: three injects (one to the
// critical-service operators only), two expected incidents.
const exerciseScenario = `format: 1
name: drill-1
title: {ja: 訓練1, en: Drill 1}
start: {date: 2021-07-27, time: "13:30", zone: Asia/Tokyo}
injects:
  - {id: a, part: 1, offset: 0m, audience: community, type: alert, tag: caution, tlp: green,
     title: {ja: ランサムウェア注意喚起, en: Ransomware alert}, body: {ja: 監視を強化, en: "Strengthen monitoring; see 198.51.100.201"}}
  - {id: b, part: 1, offset: 30m, audience: {kinds: [critical-service]}, type: incident, tag: important, tlp: amber,
     title: {ja: ファイル暗号化, en: Files encrypted}, body: {ja: 報告してください, en: Report it}}
  - {id: c, part: 2, at: {date: 2021-07-28, time: "14:40"}, audience: community, type: malware, tag: important, tlp: clear,
     title: {ja: 情報窃取機能, en: It also steals data}, body: {ja: 確認, en: Check}}
expect:
  - {kind: critical-service, category: ransomware, after: b, within: 1h}
  - {org: Venue North, category: dos, after: a}
`

func decodeTestScenario(t testing.TB, s string) *Scenario {
	t.Helper()
	sc, err := DecodeScenario([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// clockSleeper is a sleeper that moves the test's clock instead of
// waiting: a scenario of a day plays at once.
func clockSleeper(c *fakeClock) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.Advance(d)
		return nil
	}
}

// runTestExercise plays sc from the centre at speed, the clock moved by the
// sleeper, and syncs.
func runTestExercise(t *testing.T, c *community, sc *Scenario, speed float64) (ExerciseInfo, []InjectPlay) {
	t.Helper()
	var plays []InjectPlay
	info, err := c.centre.RunExercise(context.Background(), sc, ExerciseRunOptions{Speed: speed, Sleep: clockSleeper(c.clock),
		Played: func(p InjectPlay) error { plays = append(plays, p); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	return info, plays
}

// readAll marks every post of an exercise's feed read on a and sends the
// receipts.
func readExercise(t *testing.T, a *App, name string, only ...string) {
	t.Helper()
	feed, err := a.ExerciseFeed(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range feed {
		if len(only) > 0 && !strings.Contains(strings.Join(only, "|"), p.Title) {
			continue
		}
		if _, err := a.MarkRead(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.FlushReads(true); err != nil {
		t.Fatal(err)
	}
}

// realSnapshot is everything real that an exercise must leave as it was,
// as bytes: every page of the feed, the unread feed, searches for words of
// the exercise's posts, the incident board, the STIX export, the indicator
// feed and the sitrep and bulletin.
func realSnapshot(t *testing.T, a *App) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	js := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	var pages []PostSummary
	before := ""
	for range 100 {
		page := a.Feed(FeedFilter{Limit: 2, Before: before})
		if len(page) == 0 {
			break
		}
		pages = append(pages, page...)
		before = page[len(page)-1].ID
	}
	js("feed pages", pages)
	js("feed", a.Feed(FeedFilter{}))
	js("unread", a.Feed(FeedFilter{Unread: true}))
	for _, q := range []string{"ransomware", "Ransomware alert", "暗号化", "198.51.100.201", "drill", "encrypted"} {
		js("search "+q, a.Feed(FeedFilter{Search: q}))
	}
	for _, ty := range PostTypes {
		js("type "+string(ty), a.Feed(FeedFilter{Type: ty}))
	}
	js("incidents", a.Incidents())
	var stix bytes.Buffer
	if _, err := a.ExportSTIX(&stix, STIXExportOptions{TLPMax: TLPAmberStrict}); err != nil {
		t.Fatal(err)
	}
	out["stix"] = stix.Bytes()
	objs, err := a.STIXObjects(STIXExportOptions{TLPMax: TLPAmberStrict})
	if err != nil {
		t.Fatal(err)
	}
	js("taxii objects", objs)
	for _, tlp := range []TLP{TLPGreen, TLPAmberStrict} {
		inds, err := a.FeedIndicators(tlp, "")
		if err != nil {
			t.Fatal(err)
		}
		js("indicators "+string(tlp), inds)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	day := time.Date(2021, 7, 27, 0, 0, 0, 0, tokyo)
	for _, o := range []ReportOptions{{Kind: ReportSitrep, Window: WindowAM, Date: day, Zone: tokyo}, {Kind: ReportSitrep, Window: WindowPM, Date: day, Zone: tokyo},
		{Kind: ReportBulletin, Date: day, Zone: tokyo}, {Kind: ReportBulletin, Date: day.AddDate(0, 0, 1), Zone: tokyo},
		{Kind: ReportDigest, Date: day.AddDate(0, 0, 1), Zone: tokyo, Audience: KindCriticalService}} {
		r, err := a.MakeReport(o)
		if err != nil {
			t.Fatalf("%s: %v", o.Kind, err)
		}
		r.Made = time.Time{} // when it was made: the only thing that may differ
		js(fmt.Sprintf("report %s %s %s", o.Kind, o.Window, o.Date.Format("01-02")), r)
	}
	m, err := a.Metrics(MetricsQuery{Since: day.AddDate(0, 0, -1), Until: day.AddDate(0, 0, 2), Zone: tokyo})
	if err != nil {
		t.Fatal(err)
	}
	js("metrics", m)
	return out
}

// Exercise isolation: after a scenario runs (injects, reads, comments, an
// exercise incident and its update), every real view is byte-identical to
// what it was before, on every device: the feed (all pages), unread,
// search, the incident board, the STIX export, the indicator feed, the
// reports. The exercise's own views hold its traffic.
func TestExerciseIsolation(t *testing.T) {
	c := newCommunity(t)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	c.clock.Advance(time.Date(2021, 7, 27, 12, 0, 0, 0, tokyo).Sub(c.clock.Now()))
	// Real traffic: posts (one the operators read), a comment, an incident.
	real1, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "Real ransomware warning",
		Body: "real: block 203.0.113.40", Indicators: []string{"203.0.113.40"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.Post(PostDraft{Type: TypeObservation, Tag: TagInfo, TLP: TLPClear, Title: "Scans seen", Indicators: []string{"192.0.2.44"}}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.rail.MarkRead(real1.ID); err != nil {
		t.Fatal(err)
	}
	c.rail.FlushReads(true)
	if _, err := c.power.Comment(real1.ID, "patched"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.ReportIncident(IncidentDraft{Category: CatOutage, Title: "Real outage", Affects: AffectsNo}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	before := map[*App]map[string][]byte{}
	for _, a := range c.all {
		before[a] = realSnapshot(t, a)
	}

	sc := decodeTestScenario(t, exerciseScenario)
	info, plays := runTestExercise(t, c, sc, 60)
	if len(plays) != 3 || info.Played != 3 || !info.Running {
		t.Fatalf("played %d (%+v)", len(plays), info)
	}
	readExercise(t, c.power, sc.Name)
	readExercise(t, c.rail, sc.Name)
	feed, _ := c.power.ExerciseFeed(sc.Name)
	// Opening an exercise post (a topic view, metrics.go) counts nowhere real.
	if _, err := c.power.OpenPost(feed[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.FlushActivity(true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.Comment(feed[0].ID, "exercise comment: we isolate the host"); err != nil {
		t.Fatal(err)
	}
	inc, err := c.power.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "Exercise: files encrypted", Affects: AffectsNo, Exercise: sc.Name})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Exercise != sc.Name {
		t.Fatalf("the exercise incident reads as %q", inc.Exercise)
	}
	if _, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Note: "exercise: seen"}); err != nil {
		// The centre may not hold it yet: sync first.
		c.sync(t)
		if _, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Note: "exercise: seen"}); err != nil {
			t.Fatal(err)
		}
	}
	c.sync(t)
	if _, err := c.centre.StopExercise("", "done"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)

	for i, a := range c.all {
		after := realSnapshot(t, a)
		for k, b := range before[a] {
			if !bytes.Equal(b, after[k]) {
				t.Errorf("device %d: %s changed after the exercise:\nbefore %s\nafter  %s", i, k, clipBytes(b), clipBytes(after[k]))
			}
		}
	}
	// The exercise's own views hold its traffic, each item marked.
	xfeed, _ := c.rail.ExerciseFeed(sc.Name)
	if len(xfeed) != 3 {
		t.Fatalf("rail's exercise feed: %d posts, want 3", len(xfeed))
	}
	xfeedVenue, _ := c.venue.ExerciseFeed(sc.Name)
	if len(xfeedVenue) != 2 {
		t.Errorf("the venue sees %d exercise posts, want 2 (one went to critical-service operators only)", len(xfeedVenue))
	}
	for _, p := range xfeed {
		if p.Exercise != sc.Name {
			t.Errorf("exercise post %q not marked", p.Title)
		}
	}
	d, err := c.centre.Show(feed[0].ID)
	if err != nil || d.Exercise != sc.Name || len(d.CommentList) != 1 || d.ReadOrgs != 2 {
		t.Errorf("the post detail of an exercise post: %v, exercise %q, %d comments, read by %d organisations", err, d.Exercise, len(d.CommentList), d.ReadOrgs)
	}
	xincs, _ := c.centre.ExerciseIncidents(sc.Name)
	if len(xincs) != 1 || xincs[0].Exercise != sc.Name {
		t.Fatalf("exercise incidents: %+v", xincs)
	}
	if got, err := c.centre.Incident(inc.ID); err != nil || got.Exercise != sc.Name || len(got.Timeline) != 1 || got.Timeline[0].Note != "exercise: seen" {
		t.Errorf("incident detail of the exercise incident: %v %q, timeline %+v", err, got.Exercise, got.Timeline)
	}
	for _, i := range c.centre.Incidents() {
		if i.ID == inc.ID {
			t.Error("the exercise incident is on the real board")
		}
	}
}

func clipBytes(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// Reads of an exercise post go in a receipt marked for the exercise; a
// real post's read in an unmarked one: the marking is inside the sealed
// record.
func TestExerciseReadReceiptsMarked(t *testing.T) {
	c := newCommunity(t)
	real1, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "real"})
	if err != nil {
		t.Fatal(err)
	}
	sc := decodeTestScenario(t, exerciseScenario)
	runTestExercise(t, c, sc, 3600)
	feed, _ := c.power.ExerciseFeed(sc.Name)
	n := len(envelopes(t, c.power))
	c.power.MarkRead(real1.ID)
	c.power.MarkRead(feed[0].ID)
	if _, err := c.power.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, c.power)[n:]
	marks := map[string][]int{}
	for _, e := range envs {
		plain, err := crypto.Open(e, c.power.dev.Identity(), c.power.keys)
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeRecord(plain)
		if err != nil || r.Reads == nil {
			t.Fatalf("%v %+v", err, r)
		}
		marks[r.Exercise] = append(marks[r.Exercise], len(r.Reads.Posts))
		if h, _ := json.Marshal(e.Header); bytes.Contains(h, []byte(sc.Name)) || bytes.Contains(h, []byte("exercise")) {
			t.Error("the envelope's header says something of the exercise")
		}
	}
	if len(marks) != 2 || len(marks[""]) != 1 || len(marks[sc.Name]) != 1 {
		t.Fatalf("receipts by marking: %v", marks)
	}
	if d, _ := c.power.Show(feed[0].ID); d.Reads != 1 || d.Unread {
		t.Errorf("the exercise post reads as %d readers, unread %v", d.Reads, d.Unread)
	}
}

// Run and stop with an injected clock at speed: injects play at the start
// plus their offset divided by the speed; a stop from another device ends
// the run between injects, and a stopped exercise plays nothing more.
func TestExerciseRunStopAtSpeed(t *testing.T) {
	c := newCommunity(t)
	sc := decodeTestScenario(t, exerciseScenario)
	begins := c.clock.Now()
	var dues []time.Duration
	stopAfter := 2
	info, err := c.centre.RunExercise(context.Background(), sc, ExerciseRunOptions{Speed: 60, Begins: begins, Sleep: clockSleeper(c.clock),
		Played: func(p InjectPlay) error {
			dues = append(dues, p.Due.Sub(begins))
			if now := c.clock.Now(); now.Before(p.Due) {
				t.Errorf("inject %s played at %v, before its time %v", p.Inject.ID, now, p.Due)
			}
			if len(dues) == stopAfter {
				// Another terminal stops it (the stop record written
				// directly).
				if _, err := c.centre.StopExercise(sc.Name, "enough"); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 30 * time.Second}
	if len(dues) != 2 || dues[0] != want[0] || dues[1] != want[1] {
		t.Fatalf("injects due at %v, want %v and no third (stopped)", dues, want)
	}
	if info.Running || info.Played != 2 || info.StopReason != "enough" {
		t.Fatalf("after the stop: %+v", info)
	}
	if _, err := c.centre.PlayInject(sc.Name, sc.Injects[2]); !errors.Is(err, ErrExerciseStopped) {
		t.Errorf("an inject of a stopped exercise: %v", err)
	}
	if _, err := c.centre.StopExercise("", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("stopping when none runs: %v", err)
	}
	// The same name does not run twice.
	if _, err := c.centre.RunExercise(context.Background(), sc, ExerciseRunOptions{Sleep: clockSleeper(c.clock)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a second run of the same name: %v", err)
	}
	// Ctrl-C: the context ends; the runner writes the stop record.
	sc2 := decodeTestScenario(t, strings.Replace(exerciseScenario, "name: drill-1", "name: drill-2", 1))
	ctx, cancel := context.WithCancel(context.Background())
	info, err = c.centre.RunExercise(ctx, sc2, ExerciseRunOptions{Speed: 60, Sleep: clockSleeper(c.clock),
		Played: func(p InjectPlay) error { cancel(); return nil }})
	if err != nil || info.Running || info.Played != 1 || info.StopReason != "interrupted" {
		t.Fatalf("interrupted: %v %+v", err, info)
	}
	// A dry run writes nothing.
	n := len(envelopes(t, c.centre))
	sc3 := decodeTestScenario(t, strings.Replace(exerciseScenario, "name: drill-1", "name: drill-3", 1))
	var dry int
	if _, err := c.centre.RunExercise(context.Background(), sc3, ExerciseRunOptions{DryRun: true, Speed: 2,
		Played: func(p InjectPlay) error { dry++; return nil }}); err != nil || dry != 3 {
		t.Fatalf("dry run: %v, %d injects", err, dry)
	}
	if len(envelopes(t, c.centre)) != n {
		t.Error("a dry run wrote envelopes")
	}
	list := c.centre.Exercises()
	if len(list) != 2 || list[0].Name != "drill-2" {
		t.Errorf("exercises: %+v", list)
	}
}

// Report figures on a fixed run: two critical-service operators; Metro
// Power reads inject a after 5 minutes and b after 40 minutes and reports
// the ransomware incident 20 minutes after b; Capital Railways reads a an
// hour late, never reads b and never reports. The venue is expected to
// report a DoS and does not.
func TestExerciseReportFigures(t *testing.T) {
	c := newCommunity(t)
	sc := decodeTestScenario(t, exerciseScenario)
	// Speed 1: play a and b now, by hand, with the clock where we want it.
	if _, err := c.centre.StartExercise(sc, c.clock.Now(), 1); err != nil {
		t.Fatal(err)
	}
	play := func(i int) PostSummary {
		p, err := c.centre.PlayInject(sc.Name, sc.Injects[i])
		if err != nil {
			t.Fatal(err)
		}
		c.sync(t)
		return p
	}
	read := func(a *App, id string) {
		if _, err := a.MarkRead(id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.FlushReads(true); err != nil {
			t.Fatal(err)
		}
		c.sync(t)
	}
	pa := play(0)
	c.clock.Advance(5 * time.Minute)
	read(c.power, pa.ID)
	c.clock.Advance(25 * time.Minute)
	pb := play(1)
	c.clock.Advance(20 * time.Minute)
	if _, err := c.power.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "encrypted", Affects: AffectsNo, Exercise: sc.Name}); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(20 * time.Minute)
	read(c.power, pb.ID)
	// A real ransomware incident by the railways does not count.
	if _, err := c.rail.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "real one", Affects: AffectsNo}); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(20 * time.Minute)
	read(c.rail, pa.ID)
	c.sync(t)

	rep, err := c.centre.ExerciseReport(sc.Name)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]ReportOrg{}
	for _, o := range rep.Orgs {
		rows[o.Name] = o
	}
	readSecs := func(org, inject string) (bool, float64) {
		for _, r := range rows[org].Reads {
			if r.Inject == inject {
				return r.Read, r.Seconds
			}
		}
		t.Fatalf("no %s row for %s", inject, org)
		return false, 0
	}
	near := func(got, want float64) bool { return got >= want && got < want+5 } // the fake clock ticks a millisecond a reading
	if ok, s := readSecs("Metro Power", "a"); !ok || !near(s, 300) {
		t.Errorf("Metro Power read a: %v after %vs, want 300s", ok, s)
	}
	if ok, s := readSecs("Metro Power", "b"); !ok || !near(s, 2400) {
		t.Errorf("Metro Power read b: %v after %vs, want 2400s", ok, s)
	}
	if ok, s := readSecs("Capital Railways", "a"); !ok || !near(s, 5400) {
		t.Errorf("Capital Railways read a: %v after %vs, want 5400s", ok, s)
	}
	if ok, _ := readSecs("Capital Railways", "b"); ok {
		t.Error("Capital Railways read b")
	}
	if ok, _ := readSecs("Venue North", "b"); ok {
		t.Error("b reads as read by the venue, which it never went to")
	}
	var power, rail *ReportExpects
	for i, e := range rep.Expected {
		switch {
		case e.OrgName == "Metro Power" && e.Category == CatRansomware:
			power = &rep.Expected[i]
		case e.OrgName == "Capital Railways" && e.Category == CatRansomware:
			rail = &rep.Expected[i]
		}
	}
	if power == nil || !power.Reported || !near(power.Seconds, 1200) || power.Late || power.Within != 3600 {
		t.Errorf("Metro Power's ransomware incident: %+v", power)
	}
	if rail == nil || rail.Reported {
		t.Errorf("Capital Railways' ransomware incident: %+v", rail)
	}
	type miss struct{ kind, org, inject string }
	got := map[miss]bool{}
	for _, m := range rep.Missed {
		got[miss{m.Kind, m.OrgName, m.Inject}] = true
	}
	for _, m := range []miss{{MissUnread, "Capital Railways", "b"}, {MissUnreported, "Capital Railways", "b"}, {MissUnreported, "Venue North", "a"}, {MissUnread, "Venue North", "a"}} {
		if !got[m] {
			t.Errorf("missed items lack %+v: %+v", m, rep.Missed)
		}
	}
	if got[miss{MissUnread, "Metro Power", "a"}] || got[miss{MissUnread, "Venue North", "b"}] {
		t.Errorf("missed items hold too much: %+v", rep.Missed)
	}
	people := map[string]bool{}
	for _, p := range rep.People {
		people[p.Name] = true
	}
	if !people["Power Analyst"] || !people["Rail Member"] || !people["Duty Officer"] || people["Venue Lead"] {
		t.Errorf("who took part: %+v", rep.People)
	}
	if rows["Venue North"].TookPart || !rows["Capital Railways"].TookPart {
		t.Errorf("took part: venue %v, railways %v", rows["Venue North"].TookPart, rows["Capital Railways"].TookPart)
	}
	if rep.Injects[2].Post != "" || rep.Injects[0].ReadOrgs != 2 || rep.Injects[0].Orgs != 3 {
		t.Errorf("injects: %+v", rep.Injects)
	}
}

// Threat: a member's forged ExerciseRun (start, inject, stop) is kept and
// ignored: only a coordinator's counts. A member may not run or stop one.
func TestExerciseForgedRunIgnored(t *testing.T) {
	c := newCommunity(t)
	sc := decodeTestScenario(t, exerciseScenario)
	if _, err := c.venue.StartExercise(sc, c.clock.Now(), 1); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a member starts an exercise: %v", err)
	}
	// Forged by hand, past the app's check.
	forge := func(a *App, r *ExerciseRun) {
		t.Helper()
		aud, err := a.memberAudience()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.write(a.sealed(aud, &Record{Exercise: r.Name, ExerciseRun: r})); err != nil {
			t.Fatal(err)
		}
	}
	forge(c.venue, &ExerciseRun{Name: "fake-drill", Phase: ExerciseStart, Title: Text{JA: "偽", EN: "fake"}, Speed: 1})
	runTestExercise(t, c, sc, 3600)
	forge(c.venue, &ExerciseRun{Name: sc.Name, Phase: ExerciseStop, Reason: "forged"})
	c.sync(t)
	for _, a := range c.all {
		list := a.Exercises()
		if len(list) != 1 || list[0].Name != sc.Name || !list[0].Running {
			t.Errorf("a member's forged start or stop counts: %+v", list)
		}
	}
	if _, err := c.venue.StopExercise(sc.Name, ""); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "only coordinators") {
		t.Errorf("a member stops an exercise: %v", err)
	}
	if _, err := c.venue.PlayInject(sc.Name, sc.Injects[0]); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a member plays an inject: %v", err)
	}
	// The report names every organisation's reading and reporting times:
	// coordinators only.
	if _, err := c.power.ExerciseReport(sc.Name); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a member reads the exercise's report: %v", err)
	}
}

// Threat: an exercise incident never reaches the real board, on the
// reporter's device or the coordinator's; a record without the marking is
// real. The marking is inside the sealed record (the envelope's header
// carries nothing of it), so a relay, which opens nothing, can neither
// strip it nor add it: an unmarked record is real traffic, as its author
// sealed it.
func TestExerciseIncidentNeverOnRealBoard(t *testing.T) {
	c := newCommunity(t)
	sc := decodeTestScenario(t, exerciseScenario)
	runTestExercise(t, c, sc, 3600)
	n := len(envelopes(t, c.power))
	x, err := c.power.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "drill incident", Affects: AffectsNo, Exercise: sc.Name})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.power.ReportIncident(IncidentDraft{Category: CatRansomware, Title: "real incident", Affects: AffectsNo})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range []*App{c.power, c.centre} {
		board := a.Incidents()
		if len(board) != 1 || board[0].ID != r.ID || board[0].Exercise != "" {
			t.Errorf("the real board: %+v", board)
		}
		xs, _ := a.ExerciseIncidents(sc.Name)
		if len(xs) != 1 || xs[0].ID != x.ID {
			t.Errorf("the exercise's incidents: %+v", xs)
		}
	}
	for _, e := range envelopes(t, c.power)[n:] {
		h, _ := json.Marshal(e.Header)
		if bytes.Contains(h, []byte(sc.Name)) || bytes.Contains(bytes.ToLower(h), []byte("exercise")) {
			t.Errorf("an envelope's header says something of the exercise: %s", h)
		}
		if bytes.Contains(e.Payload, []byte(sc.Name)) {
			t.Error("the marking is readable outside the sealed payload")
		}
	}
	// An unmarked post is real, whatever its title says.
	p, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "[EXERCISE] drill-1 looks like a drill"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if got := c.centre.Feed(FeedFilter{}); len(got) != 1 || got[0].ID != p.ID || got[0].Exercise != "" {
		t.Errorf("an unmarked post is not in the real feed: %+v", got)
	}
	if xf, _ := c.centre.ExerciseFeed(sc.Name); len(xf) != 3 {
		t.Errorf("the exercise's feed: %d posts", len(xf))
	}
}

var _ = os.ReadFile

// The demo's exercise (demoExercise, for buildDemo) plays, is reported,
// and leaves the real feed and board as they were.
func TestExerciseDemo(t *testing.T) {
	c := newCommunity(t)
	feed, board := len(c.centre.Feed(FeedFilter{})), len(c.centre.Incidents())
	if err := demoExercise(c.centre, c.power, c.rail); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if len(c.centre.Feed(FeedFilter{})) != feed || len(c.centre.Incidents()) != board {
		t.Error("the demo exercise reached the real feed or board")
	}
	rep, err := c.centre.ExerciseReport("demo-je5-part1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exercise.Running || rep.Exercise.Played != 2 || len(rep.Expected) != 2 || len(rep.Missed) == 0 {
		t.Errorf("demo report: %+v", rep)
	}
}

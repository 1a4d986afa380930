package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// referenceMetrics works the figures out from the generated records alone
// (not from the views), by the definitions in metricsfigures.go.
func referenceMetrics(g *genData, since, until, bsince, buntil time.Time, zone *time.Location, top int) Metrics {
	from, to := replica.FromTime(since), replica.FromTime(until)
	name := map[crypto.ID16]string{g.centreOrg: "Coordination Centre"}
	kind := map[crypto.ID16]OrgKind{g.centreOrg: KindCoordination}
	counts := map[crypto.ID16]bool{g.centreOrg: true}
	for _, o := range g.orgs {
		name[o.id], kind[o.id], counts[o.id] = o.name, o.kind, !o.noViewCounts
	}
	devOrg := func(d int) crypto.ID16 {
		if d < 0 {
			return g.centreOrg
		}
		return g.orgs[g.devs[d].org].id
	}
	devID := func(d int) crypto.DeviceID {
		if d < 0 {
			return g.centre.dev.ID()
		}
		return g.devs[d].dev.ID()
	}
	orgOfDev := map[crypto.DeviceID]crypto.ID16{}
	for i := range g.devs {
		orgOfDev[devID(i)] = devOrg(i)
	}
	real := map[envelope.Hash]*genPost{}
	for i := range g.posts {
		if !g.posts[i].exercise {
			real[g.posts[i].id] = &g.posts[i]
		}
	}
	dayOf := func(c uint64) string { return replica.Physical(c).In(zone).Format(time.DateOnly) }
	// mayOpen: the device could open the post (the generator has no
	// person-scoped posts, and only members read and view).
	mayOpen := func(p *genPost, dev int) bool {
		if len(p.toOrgs) == 0 || devOrg(dev) == devOrg(p.author) {
			return true
		}
		for _, o := range p.toOrgs {
			if g.orgs[o].id == devOrg(dev) {
				return true
			}
		}
		return false
	}
	// Activity windows: ActivityBatch long, aligned on the Unix epoch.
	window := func(c uint64) int64 {
		return replica.Physical(c).UnixMilli() / int64(ActivityBatch/time.Millisecond)
	}
	type devWindow struct {
		dev int
		win int64
	}
	type devWindowPost struct {
		devWindow
		post envelope.Hash
	}
	m := Metrics{Since: since, Until: until, Zone: zone.String(), Coverage: "all"}
	dayIx := map[string]int{}
	sz := since.In(zone)
	for d := time.Date(sz.Year(), sz.Month(), sz.Day(), 0, 0, 0, 0, zone); d.Before(until); d = d.AddDate(0, 0, 1) {
		dayIx[d.Format(time.DateOnly)] = len(m.Days)
		m.Days = append(m.Days, DayMetrics{Day: d.Format(time.DateOnly), ActiveByKind: map[OrgKind]int{}})
	}
	// Readers: the first read of each device, from read receipts.
	readers := map[envelope.Hash]map[crypto.DeviceID]uint64{}
	for _, r := range g.reads {
		if r.exercise || r.clock >= to {
			continue
		}
		for _, p := range r.posts {
			if gp := real[p]; gp != nil && !mayOpen(gp, r.dev) {
				continue // forged: the device could not open it
			}
			if readers[p] == nil {
				readers[p] = map[crypto.DeviceID]uint64{}
			}
			d := devID(r.dev)
			if old, ok := readers[p][d]; !ok || r.clock < old {
				readers[p][d] = r.clock
			}
		}
	}
	// Views and activity.
	views := map[envelope.Hash]int{}
	active := map[crypto.DeviceID]bool{}
	dayActive := map[string]map[crypto.DeviceID]bool{}
	windows := map[devWindow]bool{}
	windowViews := map[devWindowPost]bool{}
	for _, a := range g.acts {
		org := devOrg(a.dev)
		if a.exercise || !counts[org] || a.clock < from || a.clock >= to {
			continue
		}
		day := &m.Days[dayIx[dayOf(a.clock)]]
		dw := devWindow{a.dev, window(a.clock)}
		if !windows[dw] {
			windows[dw] = true
			day.ActivityRecords++
			m.Totals.ActivityRecords++
		}
		d := devID(a.dev)
		if dayActive[day.Day] == nil {
			dayActive[day.Day] = map[crypto.DeviceID]bool{}
		}
		if !dayActive[day.Day][d] {
			dayActive[day.Day][d] = true
			day.ActiveDevices++
			day.ActiveByKind[kind[org]]++
		}
		active[d] = true
		for _, v := range a.posts {
			k := devWindowPost{dw, v}
			if real[v] != nil && !windowViews[k] && mayOpen(real[v], a.dev) {
				windowViews[k] = true
				views[v]++
				day.Views++
				m.Totals.Views++
			}
		}
	}
	m.Totals.ActiveDevices = len(active)
	// Posts.
	var inPeriod []*genPost
	for _, p := range real {
		if p.clock >= from && p.clock < to {
			inPeriod = append(inPeriod, p)
		}
	}
	sort.Slice(inPeriod, func(i, j int) bool {
		if inPeriod[i].clock != inPeriod[j].clock {
			return inPeriod[i].clock < inPeriod[j].clock
		}
		return bytes.Compare(inPeriod[i].id[:], inPeriod[j].id[:]) < 0
	})
	allOrgs := []crypto.ID16{g.centreOrg}
	for _, o := range g.orgs {
		allOrgs = append(allOrgs, o.id)
	}
	addressed, read := map[crypto.ID16]int{}, map[crypto.ID16]int{}
	var firsts []int64
	secs := func(a, b uint64) int64 {
		return max(0, int64(replica.Physical(b).Sub(replica.Physical(a))/time.Second))
	}
	m.Posts = []PostMetrics{}
	m.Notices = []NoticeMetrics{}
	for _, p := range inPeriod {
		org := devOrg(p.author)
		pm := PostMetrics{ID: p.id.String(), Title: p.title, Type: p.typ, Channel: p.channel, Org: org.String(), OrgName: name[org],
			Time: replica.Physical(p.clock).In(zone), Readers: len(readers[p.id]), Views: views[p.id], OrgFirstReads: []OrgFirstRead{}}
		m.Days[dayIx[dayOf(p.clock)]].Posts++
		m.Totals.Reads += len(readers[p.id])
		first := uint64(math.MaxUint64)
		orgFirst := map[crypto.ID16]uint64{}
		for d, c := range readers[p.id] {
			if d == devID(p.author) {
				continue
			}
			first = min(first, c)
			if o := orgOfDev[d]; o != org {
				if old, ok := orgFirst[o]; !ok || c < old {
					orgFirst[o] = c
				}
			}
		}
		if first != math.MaxUint64 {
			s := secs(p.clock, first)
			pm.FirstReadS = &s
			firsts = append(firsts, s)
		} else {
			m.FirstRead.Unread++
		}
		for o, c := range orgFirst {
			pm.OrgFirstReads = append(pm.OrgFirstReads, OrgFirstRead{Org: o.String(), OrgName: name[o], Kind: kind[o], AfterS: secs(p.clock, c)})
		}
		sort.Slice(pm.OrgFirstReads, func(i, j int) bool {
			a, b := pm.OrgFirstReads[i], pm.OrgFirstReads[j]
			return a.AfterS < b.AfterS || a.AfterS == b.AfterS && a.Org < b.Org
		})
		aud := map[crypto.ID16]bool{}
		if len(p.toOrgs) == 0 {
			for _, o := range allOrgs {
				aud[o] = true
			}
		}
		for _, o := range p.toOrgs {
			aud[g.orgs[o].id] = true
		}
		delete(aud, org)
		pm.AudienceOrgs = len(aud)
		for o := range aud {
			addressed[o]++
			if _, ok := orgFirst[o]; ok {
				read[o]++
				pm.ReadOrgs++
			}
		}
		if p.channel == ChannelObservation {
			for _, oi := range p.toOrgs {
				o := g.orgs[oi].id
				n := NoticeMetrics{ID: pm.ID, Title: p.title, Org: o.String(), OrgName: name[o], Time: pm.Time}
				if c, ok := orgFirst[o]; ok {
					s := secs(p.clock, c)
					n.FirstReadS = &s
				}
				m.Notices = append(m.Notices, n)
			}
		}
		m.Posts = append(m.Posts, pm)
	}
	m.Totals.Posts, m.Totals.Notices = len(m.Posts), len(m.Notices)
	// First read distribution.
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	m.FirstRead.Count = len(firsts)
	m.FirstRead.Buckets = make([]int, 9)
	bounds := []int64{5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600}
	var sum float64
	for _, s := range firsts {
		sum += float64(s)
		b := len(bounds)
		for i, x := range bounds {
			if s <= x {
				b = i
				break
			}
		}
		m.FirstRead.Buckets[b]++
	}
	q := func(f float64) float64 {
		if len(firsts) == 1 {
			return float64(firsts[0])
		}
		pos := f * float64(len(firsts)-1)
		lo := int(pos)
		hi := min(lo+1, len(firsts)-1)
		return float64(firsts[lo]) + (pos-float64(lo))*float64(firsts[hi]-firsts[lo])
	}
	if len(firsts) > 0 {
		m.FirstRead.MeanS, m.FirstRead.MedianS, m.FirstRead.P90S = sum/float64(len(firsts)), q(0.5), q(0.9)
	}
	// Read rates.
	m.ReadRateByOrg = []ReadRate{}
	kAddr, kRead := map[OrgKind]int{}, map[OrgKind]int{}
	for o, n := range addressed {
		rate := float64(read[o]) / float64(n)
		m.ReadRateByOrg = append(m.ReadRateByOrg, ReadRate{Org: o.String(), Name: name[o], Kind: kind[o], Addressed: n, Read: read[o], Rate: rate})
		kAddr[kind[o]] += n
		kRead[kind[o]] += read[o]
	}
	sort.Slice(m.ReadRateByOrg, func(i, j int) bool { return m.ReadRateByOrg[i].Name < m.ReadRateByOrg[j].Name })
	m.ReadRateByKind = []ReadRate{}
	for _, k := range OrgKinds {
		if n := kAddr[k]; n > 0 {
			m.ReadRateByKind = append(m.ReadRateByKind, ReadRate{Kind: k, Addressed: n, Read: kRead[k], Rate: float64(kRead[k]) / float64(n)})
		}
	}
	// Most viewed, of any date.
	m.MostViewed = []PostViews{}
	for id, n := range views {
		m.MostViewed = append(m.MostViewed, PostViews{ID: id.String(), Title: real[id].title, Views: n})
	}
	sort.Slice(m.MostViewed, func(i, j int) bool {
		a, b := m.MostViewed[i], m.MostViewed[j]
		return a.Views > b.Views || a.Views == b.Views && a.ID < b.ID
	})
	m.MostViewed = m.MostViewed[:min(top, len(m.MostViewed))]
	// Comments, incidents, weeks.
	for _, c := range g.comments {
		if c.exercise || c.clock < from || c.clock >= to {
			continue
		}
		m.Days[dayIx[dayOf(c.clock)]].Comments++
		m.Totals.Comments++
	}
	weeks := map[string]*WeekMetrics{}
	week := func(c uint64) *WeekMetrics {
		y, w := replica.Physical(c).In(zone).ISOWeek()
		k := fmt.Sprintf("%d-W%02d", y, w)
		if weeks[k] == nil {
			weeks[k] = &WeekMetrics{Week: k, Incidents: map[Category]int{}, Posts: map[PostType]int{}}
		}
		return weeks[k]
	}
	for _, in := range g.incidents {
		if in.exercise || in.clock < from || in.clock >= to {
			continue
		}
		m.Days[dayIx[dayOf(in.clock)]].Incidents++
		m.Totals.Incidents++
		w := week(in.clock)
		w.Incidents[in.category]++
		w.Total++
	}
	for _, p := range inPeriod {
		if p.typ == TypeMalware || p.typ == TypeAlert || p.typ == TypeForeshadowing {
			w := week(p.clock)
			w.Posts[p.typ]++
			w.Total++
		}
	}
	m.Weeks = []WeekMetrics{}
	for _, w := range weeks {
		m.Weeks = append(m.Weeks, *w)
	}
	sort.Slice(m.Weeks, func(i, j int) bool { return m.Weeks[i].Week < m.Weeks[j].Week })
	// Against the baseline.
	perDay := func(s, u time.Time) (act, vw, posts int) {
		f, t := replica.FromTime(s), replica.FromTime(u)
		seen := map[string]bool{}
		once := map[devWindowPost]bool{}
		for _, a := range g.acts {
			if a.exercise || !counts[devOrg(a.dev)] || a.clock < f || a.clock >= t {
				continue
			}
			k := dayOf(a.clock) + devID(a.dev).String()
			if !seen[k] {
				seen[k] = true
				act++
			}
			for _, v := range a.posts {
				k := devWindowPost{devWindow{a.dev, window(a.clock)}, v}
				if real[v] != nil && !once[k] && mayOpen(real[v], a.dev) {
					once[k] = true
					vw++
				}
			}
		}
		for _, p := range real {
			if p.clock >= f && p.clock < t {
				posts++
			}
		}
		return
	}
	ea, ev, ep := perDay(since, until)
	ba, bv, bp := perDay(bsince, buntil)
	ed, bd := until.Sub(since).Hours()/24, buntil.Sub(bsince).Hours()/24
	ratio := func(e, b int) Ratio {
		r := Ratio{Event: float64(e) / ed, Baseline: float64(b) / bd}
		if r.Baseline > 0 {
			x := r.Event / r.Baseline
			r.Ratio = &x
		}
		return r
	}
	m.Baseline = &Comparison{BaselineSince: bsince, BaselineUntil: buntil, EventDays: ed, BaselineDays: bd,
		ActivePerDay: ratio(ea, ba), ViewsPerDay: ratio(ev, bv), PostsPerDay: ratio(ep, bp)}
	return m
}

// compareMetrics fails t for each section where got differs from want.
func compareMetrics(t testing.TB, got, want Metrics) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		gj, _ := json.Marshal(gv.Field(i).Interface())
		wj, _ := json.Marshal(wv.Field(i).Interface())
		if !bytes.Equal(gj, wj) {
			n := min(len(gj), len(wj))
			at := n
			for k := 0; k < n; k++ {
				if gj[k] != wj[k] {
					at = k
					break
				}
			}
			lo := max(0, at-200)
			t.Errorf("%s differs at byte %d:\n got  %s\n want %s", gv.Type().Field(i).Name, at, gj[lo:min(len(gj), at+200)], wj[lo:min(len(wj), at+200)])
		}
	}
}

// TestMetricsReference checks every figure on a small generated community
// against the reference worked out from the generated records.
func TestMetricsReference(t *testing.T) {
	spec := smallSpec()
	g := generate(t, spec)
	for _, zone := range []*time.Location{genZone, time.UTC} {
		got, err := g.centre.Metrics(MetricsQuery{Since: spec.event, Until: spec.end, BaselineSince: spec.start, BaselineUntil: spec.event, Zone: zone, Top: 7})
		if err != nil {
			t.Fatal(err)
		}
		want := referenceMetrics(g, spec.event, spec.end, spec.start, spec.event, zone, 7)
		compareMetrics(t, got, want)
		if got.Totals.Views == 0 || got.Totals.Reads == 0 || got.Totals.Notices == 0 || got.Totals.Incidents == 0 || got.Totals.Comments == 0 {
			t.Errorf("the generated community is too thin to test: %+v", got.Totals)
		}
	}
	// The baseline alone, as a period of its own.
	got, err := g.centre.Metrics(MetricsQuery{Since: spec.start, Until: spec.event, BaselineSince: spec.event, BaselineUntil: spec.end, Zone: genZone})
	if err != nil {
		t.Fatal(err)
	}
	compareMetrics(t, got, referenceMetrics(g, spec.start, spec.event, spec.event, spec.end, genZone, 10))
}

// BenchmarkMetricsGames computes the figures on a generated community of
// the Games' size (330 organisations of the digest's kinds, 1,800
// members, 8,000 posts, their comments, incidents, read receipts and
// activity records over the Games and a baseline before them), against the
// target of 1 s a computation.
func BenchmarkMetricsGames(b *testing.B) {
	start := time.Now()
	mb := NewMetricsBench(b, false)
	g, spec := mb.g, mb.g.spec
	b.Logf("generated %d organisations, %d members, %d posts, %d comments, %d incidents, %d read receipts, %d activity records in %v",
		mb.Orgs, mb.Members, mb.Posts, mb.Comments, mb.Incidents, mb.Reads, mb.Activity, time.Since(start).Round(time.Second))
	var m Metrics
	var wall, cpu time.Duration
	for b.Loop() {
		got, w, c, err := mb.Run()
		if err != nil {
			b.Fatal(err)
		}
		m, wall, cpu = got, wall+w, cpu+c
	}
	per := wall.Seconds() / float64(b.N)
	cpuPer := cpu.Seconds() / float64(b.N)
	b.ReportMetric(per*1000, "ms/metrics")
	b.ReportMetric(cpuPer*1000, "cpu-ms/metrics")
	b.ReportMetric(per/1, "metrics/target")
	b.Logf("metrics: %.0f ms a computation (%.0f ms of CPU; target 1 s); %d posts, %d reads, %d views, %d activity records; active devices %.1f/day against %.1f (%.2fx), views %.1f/day against %.1f (%.2fx)",
		per*1000, cpuPer*1000, m.Totals.Posts, m.Totals.Reads, m.Totals.Views, m.Totals.ActivityRecords,
		m.Baseline.ActivePerDay.Event, m.Baseline.ActivePerDay.Baseline, *m.Baseline.ActivePerDay.Ratio,
		m.Baseline.ViewsPerDay.Event, m.Baseline.ViewsPerDay.Baseline, *m.Baseline.ViewsPerDay.Ratio)
	b.StopTimer()
	start = time.Now()
	compareMetrics(b, m, referenceMetrics(g, spec.event, spec.end, spec.start, spec.event, genZone, 10))
	b.Logf("checked against the reference in %v", time.Since(start).Round(time.Millisecond))
	r := NewChartRenderer("ja")
	start = time.Now()
	if _, err := r.Charts(m, "png"); err != nil {
		b.Fatal(err)
	}
	b.Logf("charts (PNG, %s labels) drawn in %v", r.Lang(), time.Since(start).Round(time.Millisecond))
}

// activityRecords returns the activity records a's views hold (its own,
// its organisation's, or all for a coordinator).
func activityRecords(t testing.TB, a *App) []activityEntry {
	t.Helper()
	var out []activityEntry
	a.read(func(tx *vtx) error {
		tx.eachActivity(0, math.MaxUint64, func(e activityEntry) bool {
			out = append(out, e)
			return true
		})
		return nil
	})
	return out
}

func ownActivity(t testing.TB, a *App) []activityEntry {
	var out []activityEntry
	for _, e := range activityRecords(t, a) {
		if e.author == a.dev.ID() {
			out = append(out, e)
		}
	}
	return out
}

// TestActivityViewsBatched: many opens make one envelope per window; the
// pending views are kept on the device until due.
func TestActivityViewsBatched(t *testing.T) {
	c := newCommunity(t)
	var ids []string
	for i := 0; i < 5; i++ {
		p, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Channel: ChannelGeneral, Title: fmt.Sprintf("alert %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	c.sync(t)
	// The first view goes at once (nothing was sent before).
	if _, err := c.rail.OpenPost(ids[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(ownActivity(t, c.rail)); n != 1 {
		t.Fatalf("%d activity records after the first view, want 1", n)
	}
	// Many opens within the window: kept, not sent.
	for k := 0; k < 20; k++ {
		for _, id := range ids {
			if _, err := c.rail.OpenPost(id); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.rail.NoteActivity(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ownActivity(t, c.rail)); n != 1 {
		t.Fatalf("%d activity records within the window, want 1", n)
	}
	if n := len(c.rail.store.LocalWithPrefix(localPendingView)); n != 5 {
		t.Fatalf("%d views pending, want 5 (each post once per window)", n)
	}
	// Show (a lookup) records nothing.
	if _, err := c.rail.Show(ids[1]); err != nil {
		t.Fatal(err)
	}
	// Due: the next flush sends them all as one record.
	c.clock.Advance(ActivityBatch)
	if err := c.rail.FlushDueReads(); err != nil { // what a CLI process does at open
		t.Fatal(err)
	}
	recs := ownActivity(t, c.rail)
	if len(recs) != 2 || len(recs[1].views) != 5 {
		t.Fatalf("after the window: %d records (last with %d views), want 2 (5 views)", len(recs), len(recs[len(recs)-1].views))
	}
	if n := len(c.rail.store.LocalWithPrefix(localPendingView)); n != 0 {
		t.Fatalf("%d views still pending", n)
	}
	// Sealed to the organisation and the coordinators: the centre reads
	// them, another organisation does not.
	c.sync(t)
	if n := len(activityRecords(t, c.centre)); n != 2 {
		t.Errorf("the coordinator reads %d activity records, want 2", n)
	}
	if n := len(activityRecords(t, c.power)); n != 0 {
		t.Errorf("another organisation's member reads %d activity records, want 0", n)
	}
	m, err := c.centre.Metrics(MetricsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Views != 6 || m.Totals.ActivityRecords != 2 || m.Totals.ActiveDevices != 1 {
		t.Errorf("totals %+v, want 6 views, 2 activity records, 1 active device", m.Totals)
	}
	// Stop of a held home sends what is pending at once.
	if _, err := c.rail.OpenPost(ids[2]); err != nil {
		t.Fatal(err)
	}
	stop := c.rail.HoldReadReceipts()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(ownActivity(t, c.rail)); n != 3 {
		t.Errorf("%d activity records after stop, want 3", n)
	}
}

// TestActivityOrgSettingsNoViewCounts: an organisation that does not count
// views records none, and a record from it is not counted anyway.
func TestActivityOrgSettingsNoViewCounts(t *testing.T) {
	c := newCommunity(t)
	p, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Channel: ChannelGeneral, Title: "alert"})
	if err != nil {
		t.Fatal(err)
	}
	f := false
	// The coordinator says Metro Power's views are not counted.
	s, err := c.centre.SetOrgSettings("Metro Power", OrgSettingsChange{CountViews: &f})
	if err != nil {
		t.Fatal(err)
	}
	if s.CountViews || !s.Set {
		t.Fatalf("settings %+v", s)
	}
	c.sync(t)
	if _, err := c.power.OpenPost(p.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.power.NoteActivity(); err != nil {
		t.Fatal(err)
	}
	if n := len(ownActivity(t, c.power)); n != 0 {
		t.Fatalf("%d activity records written by a device whose organisation does not count views", n)
	}
	if n := len(c.power.store.LocalWithPrefix(localPendingView)); n != 0 {
		t.Fatalf("%d views kept", n)
	}
	// A forged one (an older device, or a modified one) is not counted.
	c.power.mu.RLock()
	me, _ := c.power.me()
	aud, err := c.power.orgAudience(me.Org)
	c.power.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	var h envelope.Hash
	if err := h.UnmarshalText([]byte(p.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.write(c.power.sealed(aud, &Record{Activity: &ActivityRecord{Views: []envelope.Hash{h, h}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.rail.OpenPost(p.ID); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if n := len(activityRecords(t, c.centre)); n != 2 {
		t.Fatalf("the centre holds %d activity records, want 2", n)
	}
	m, err := c.centre.Metrics(MetricsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Views != 1 || m.Totals.ActiveDevices != 1 {
		t.Errorf("totals %+v: want only Capital Railways' view", m.Totals)
	}
	// Counted again once the organisation says so.
	tr := true
	if _, err := c.centre.SetOrgSettings("Metro Power", OrgSettingsChange{CountViews: &tr}); err != nil {
		t.Fatal(err)
	}
	if m, err = c.centre.Metrics(MetricsQuery{}); err != nil {
		t.Fatal(err)
	}
	if m.Totals.Views != 2 {
		t.Errorf("views %d once counted again, want 2 (the forged record lists the post twice: once)", m.Totals.Views)
	}
}

// TestOrgSettingsAuthority: a member of an organisation may not write its
// settings; a record it writes anyway is ignored. Its admin may, and so
// may a coordinator; the latest that counts wins.
func TestOrgSettingsAuthority(t *testing.T) {
	c := newCommunity(t)
	tr, f := true, false
	if _, err := c.power.SetOrgSettings("", OrgSettingsChange{Named: &tr}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a member set its organisation's settings: %v", err)
	}
	if _, err := c.venue.SetOrgSettings("Metro Power", OrgSettingsChange{Named: &tr}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("another organisation's admin set them: %v", err)
	}
	if _, err := c.venue.SetOrgSettings("", OrgSettingsChange{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty change: %v", err)
	}
	// Forged: written by the member straight into its chain.
	power := c.orgID(t, "Metro Power")
	c.power.mu.RLock()
	aud, _ := c.power.communityAudience()
	c.power.mu.RUnlock()
	c.clock.Advance(time.Hour) // newer than anything else
	if _, err := c.power.write(c.power.sealed(aud, &Record{OrgSettings: &OrgSettings{Org: power, NoViewCounts: true, Named: true}})); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		s, err := a.OrgSettingsOf("Metro Power")
		if err != nil {
			t.Fatal(err)
		}
		if !s.CountViews || s.Named || s.Set {
			t.Errorf("%s: a member's own settings counted: %+v", a.dev.Name, s)
		}
		if a.OrgNamed("Metro Power") {
			t.Errorf("%s: named by a member's consent", a.dev.Name)
		}
	}
	// The venue's admin sets its own; a coordinator then changes one field.
	if _, err := c.venue.SetOrgSettings("", OrgSettingsChange{Named: &tr, CountViews: &f}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	c.clock.Advance(time.Minute)
	if _, err := c.centre.SetOrgSettings("Venue North", OrgSettingsChange{CountViews: &tr}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		s, _ := a.OrgSettingsOf("Venue North")
		if !s.Named || !s.CountViews || !a.OrgNamed("Venue North") {
			t.Errorf("%s: Venue North settings %+v, want named and counting views", a.dev.Name, s)
		}
	}
	if s, _ := c.venue.OrgSettingsOf(""); !s.MayChange {
		t.Error("the admin may not change its own settings")
	}
	if s, _ := c.power.OrgSettingsOf(""); s.MayChange {
		t.Error("a member may change its organisation's settings")
	}
}

func (c *community) orgID(t testing.TB, name string) crypto.ID16 {
	t.Helper()
	c.centre.mu.RLock()
	defer c.centre.mu.RUnlock()
	id, err := c.centre.view.findOrg(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMetricsExerciseNotCounted: exercise posts, comments, incidents,
// views and activity leave the figures as they were.
func TestMetricsExerciseNotCounted(t *testing.T) {
	c := newCommunity(t)
	p, err := c.venue.Post(PostDraft{Type: TypeMalware, Tag: TagImportant, TLP: TLPGreen, Channel: ChannelPro, Title: "real"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.rail.OpenPost(p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.MarkRead(p.ID); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	q := MetricsQuery{Until: c.clock.Now().Add(24 * time.Hour)}
	before, err := c.centre.Metrics(q)
	if err != nil {
		t.Fatal(err)
	}
	// Exercise traffic, as an exercise writes it: marked records.
	c.venue.mu.RLock()
	aud, _ := c.venue.communityAudience()
	me, _ := c.venue.me()
	oaud, _ := c.venue.orgAudience(me.Org)
	c.venue.mu.RUnlock()
	ids, err := c.venue.write(c.venue.sealed(aud, &Record{Exercise: "ex5", Post: &PostRecord{Type: TypeMalware, Tag: TagImportant, TLP: TLPGreen, Channel: ChannelPro, Title: "inject 1"}}))
	if err != nil {
		t.Fatal(err)
	}
	var real envelope.Hash
	real.UnmarshalText([]byte(p.ID))
	if _, err := c.venue.write(
		c.venue.sealed(aud, &Record{Exercise: "ex5", Comment: &CommentRecord{Post: ids[0], Body: "exercise"}}),
		c.venue.sealed(oaud, &Record{Exercise: "ex5", Incident: &IncidentRecord{Category: CatRansomware, Title: "files encrypted", Affects: AffectsYes, Org: me.Org}}),
		c.venue.sealed(oaud, &Record{Exercise: "ex5", Activity: &ActivityRecord{Views: []envelope.Hash{real, ids[0]}}}),
	); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	// Opening the exercise post is not recorded.
	c.clock.Advance(ActivityBatch)
	if _, err := c.rail.OpenPost(ids[0].String()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.rail.store.LocalWithPrefix(localPendingView)); n != 0 {
		t.Errorf("%d views of an exercise post kept", n)
	}
	c.sync(t)
	after, err := c.centre.Metrics(q)
	if err != nil {
		t.Fatal(err)
	}
	// The activity (in use) of rail's second open counts; nothing else moves.
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	if !bytes.Equal(bj, aj) {
		compareMetrics(t, after, before)
	}
}

// TestMetricsQueryRefused: periods that make no sense are refused.
func TestMetricsQueryRefused(t *testing.T) {
	c := newCommunity(t)
	now := c.clock.Now()
	for _, q := range []MetricsQuery{
		{Since: now, Until: now.Add(-time.Hour)},
		{Since: now.Add(-time.Hour), BaselineSince: now.Add(-48 * time.Hour)},
		{Since: now.Add(-time.Hour), BaselineSince: now, BaselineUntil: now.Add(-time.Hour)},
		{Since: now.AddDate(-20, 0, 0)},
	} {
		if _, err := c.centre.Metrics(q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

// TestMetricsCharts draws the five charts of a small community in both
// languages, as PNG and SVG.
func TestMetricsCharts(t *testing.T) {
	spec := smallSpec()
	g := generate(t, spec)
	m, err := g.centre.Metrics(MetricsQuery{Since: spec.event, Until: spec.end, BaselineSince: spec.start, BaselineUntil: spec.event, Zone: genZone})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "ja"} {
		r := NewChartRenderer(lang)
		if lang == "ja" && r.Lang() != "ja" {
			t.Logf("no Japanese font here: %s", r.FontNote)
		}
		for _, format := range []string{"png", "svg"} {
			cs, err := r.Charts(m, format)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != len(ChartNames) {
				t.Fatalf("%d charts", len(cs))
			}
			for _, ch := range cs {
				if format == "png" {
					if _, err := png.Decode(bytes.NewReader(ch.Data)); err != nil {
						t.Errorf("%s: %v", ch.Name, err)
					}
				} else if !bytes.Contains(ch.Data, []byte("<svg")) {
					t.Errorf("%s: not SVG", ch.Name)
				}
			}
		}
	}
}

// TestMetricsDemoData: the demo's views and settings (demoMetrics).
func TestMetricsDemoData(t *testing.T) {
	c := newCommunity(t)
	var ids []string
	for i := 0; i < 3; i++ {
		p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Channel: ChannelGeneral, Title: fmt.Sprintf("demo %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	c.sync(t)
	if err := demoMetrics(map[string]*App{"Venue Lead": c.venue, "Railway IT Lead": c.rail}, ids); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	m, err := c.centre.Metrics(MetricsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Views != 6 || m.Totals.ActiveDevices != 2 || len(m.MostViewed) != 3 {
		t.Errorf("totals %+v, most viewed %d", m.Totals, len(m.MostViewed))
	}
	if !c.centre.OrgNamed("Venue North") {
		t.Error("Venue North not named")
	}
}

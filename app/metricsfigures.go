package app

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// The figures of App.Metrics, worked out from the views in one read
// transaction. Definitions (the report's terms in brackets):
//
//   - A post counts when it is real traffic (no exercise marking), shown
//     here (an observation notice only when a coordinator wrote it), and
//     published in the period. Only what this device can read is counted:
//     a coordinator holds every organisation's key and sees all.
//   - Only what a device could open counts as its read or view (a
//     post's ID is in every envelope header: a device may name a post it
//     never read): a post to the whole community, any member's device; a
//     post to organisations (ToOrgs), a device of one of them, of the
//     author's organisation, or a coordinator's (coordinators hold every
//     organisation's key); a post to people (ToPersons, RED), a device of
//     one of them or of the author's person. See metricsCalc.mayOpen.
//   - Reads are read receipts (the read button) recorded before the end
//     of the period. A post's first read is the earliest read by a device
//     other than its author's; an organisation's first read of it, the
//     earliest read by one of the organisation's devices (the author's
//     organisation left out). Times are from publication, in seconds,
//     never below zero.
//   - Read rate: for each post and each organisation it was addressed to
//     (the whole community's organisations, or those it named, or those
//     of the people it named; the author's own left out), whether one of
//     the organisation's devices read it. By organisation: read of
//     addressed; by kind: summed over the kind's organisations.
//   - Activity windows: the clock is cut into ActivityBatch windows
//     aligned on the Unix epoch (5 minutes: 10:00-10:05, 10:05-10:10, ...
//     in every zone whose offset is a multiple of 5 minutes, so a window
//     never spans two days). An honest device writes at most one activity
//     record per ActivityBatch; whatever a device wrote, all its activity
//     records in one window count as one (activityWindows): a flood of
//     records cannot inflate the figures.
//   - Topic views (閲覧数) are the posts listed by activity records written
//     in the period, each (device, post) at most once per activity
//     window: views of counted posts of any date, that the device could
//     open, by devices of organisations that count views
//     (OrgSettings.NoViewCounts). Activity records of organisations that
//     do not count views are left out whoever wrote them.
//   - Activity records (ActivityRecords) are (device, activity window)
//     pairs with at least one activity record.
//   - Active devices (ログイン) per day: the devices that wrote an activity
//     record that day, by their organisation's kind.
//   - Observation notices: posts of the observation channel, one line per
//     addressed organisation, with its first read.
//   - Weekly detections by attack class, per ISO week of the zone:
//     incidents by category, and posts of the types that report an attack
//     (malware, alert, attack-foreshadowing) by type.
//   - Against a baseline period: per day on average, active devices (the
//     sum over days of the day's active devices), views and posts, the
//     event period's figure divided by the baseline's (none when the
//     baseline's is zero).

// MetricsQuery chooses the period of the figures. A zero Since starts at
// the first counted post or activity; a zero Until is now. The baseline,
// when both its ends are set, is compared with the period. Zone says where
// days and weeks begin (nil: the local zone). Top is how many of the most
// viewed posts are listed (0: 10).
type MetricsQuery struct {
	Since, Until                 time.Time
	BaselineSince, BaselineUntil time.Time
	Zone                         *time.Location
	Top                          int
}

// maxMetricsDays bounds the days of a period.
const maxMetricsDays = 3700

// Metrics are the figures on the community's use over a period.
type Metrics struct {
	Since    time.Time     `json:"since"`
	Until    time.Time     `json:"until"`
	Zone     string        `json:"zone"`
	Coverage string        `json:"coverage"` // "all" for a coordinator, else "readable"
	Totals   MetricsTotals `json:"totals"`
	// Posts lists every counted post of the period, oldest first.
	Posts          []PostMetrics   `json:"posts"`
	FirstRead      Distribution    `json:"first_read"`
	ReadRateByOrg  []ReadRate      `json:"read_rate_by_org"`
	ReadRateByKind []ReadRate      `json:"read_rate_by_kind"`
	MostViewed     []PostViews     `json:"most_viewed"`
	Days           []DayMetrics    `json:"days"`
	Notices        []NoticeMetrics `json:"observation_notices"`
	Weeks          []WeekMetrics   `json:"weeks"`
	Baseline       *Comparison     `json:"baseline,omitempty"`
}

// MetricsTotals sums the period.
type MetricsTotals struct {
	Posts           int `json:"posts"`
	Comments        int `json:"comments"`
	Incidents       int `json:"incidents"`
	Reads           int `json:"reads"` // devices' first reads of counted posts
	Views           int `json:"views"`
	ActivityRecords int `json:"activity_records"` // (device, activity window) pairs
	ActiveDevices   int `json:"active_devices"`   // distinct over the period
	Notices         int `json:"observation_notices"`
}

// PostMetrics are one post's figures.
type PostMetrics struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Type    PostType  `json:"type"`
	Channel Channel   `json:"channel"`
	Org     string    `json:"org"`
	OrgName string    `json:"org_name"`
	Time    time.Time `json:"time"`
	// FirstReadS is the seconds from publication to the first read by
	// another device; nil when none read it.
	FirstReadS    *int64         `json:"first_read_s,omitempty"`
	OrgFirstReads []OrgFirstRead `json:"org_first_reads"`
	Readers       int            `json:"readers"`
	AudienceOrgs  int            `json:"audience_orgs"`
	ReadOrgs      int            `json:"read_orgs"`
	Views         int            `json:"views"`
}

// OrgFirstRead is an organisation's first read of a post.
type OrgFirstRead struct {
	Org     string  `json:"org"`
	OrgName string  `json:"org_name"`
	Kind    OrgKind `json:"kind"`
	AfterS  int64   `json:"after_s"`
}

// Distribution summarises times in seconds; Buckets count them by the
// upper bounds of DistributionBounds (the last counts the rest).
type Distribution struct {
	Count   int     `json:"count"`
	Unread  int     `json:"unread"`
	MedianS float64 `json:"median_s"`
	MeanS   float64 `json:"mean_s"`
	P90S    float64 `json:"p90_s"`
	Buckets []int   `json:"buckets"`
}

// DistributionBounds are the upper bounds of Distribution.Buckets, in
// seconds: 5, 15, 30 minutes, 1, 2, 4, 8, 24 hours, then more.
var DistributionBounds = []int64{300, 900, 1800, 3600, 7200, 14400, 28800, 86400}

// ReadRate is how many of the posts addressed to an organisation (or to
// the organisations of a kind) it read.
type ReadRate struct {
	Org       string  `json:"org,omitempty"`
	Name      string  `json:"name,omitempty"`
	Kind      OrgKind `json:"kind"`
	Addressed int     `json:"addressed"`
	Read      int     `json:"read"`
	Rate      float64 `json:"rate"`
}

// PostViews is a post's topic views in the period.
type PostViews struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Views int    `json:"views"`
}

// DayMetrics are one day's figures.
type DayMetrics struct {
	Day             string          `json:"day"` // 2006-01-02 in the zone
	ActiveDevices   int             `json:"active_devices"`
	ActiveByKind    map[OrgKind]int `json:"active_by_kind"`
	ActivityRecords int             `json:"activity_records"`
	Views           int             `json:"views"`
	Posts           int             `json:"posts"`
	Comments        int             `json:"comments"`
	Incidents       int             `json:"incidents"`
}

// NoticeMetrics is an observation notice to one organisation.
type NoticeMetrics struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Org        string    `json:"org"`
	OrgName    string    `json:"org_name"`
	Time       time.Time `json:"time"`
	FirstReadS *int64    `json:"first_read_s,omitempty"`
}

// WeekMetrics are one ISO week's detections by attack class.
type WeekMetrics struct {
	Week      string           `json:"week"` // 2021-W29
	Incidents map[Category]int `json:"incidents"`
	Posts     map[PostType]int `json:"posts"`
	Total     int              `json:"total"`
}

// DetectionTypes are the post types counted as detections in WeekMetrics.
var DetectionTypes = []PostType{TypeMalware, TypeAlert, TypeForeshadowing}

// Comparison sets the period against a baseline period, per day.
type Comparison struct {
	BaselineSince time.Time `json:"baseline_since"`
	BaselineUntil time.Time `json:"baseline_until"`
	EventDays     float64   `json:"event_days"`
	BaselineDays  float64   `json:"baseline_days"`
	ActivePerDay  Ratio     `json:"active_devices_per_day"`
	ViewsPerDay   Ratio     `json:"views_per_day"`
	PostsPerDay   Ratio     `json:"posts_per_day"`
}

// Ratio is a figure per day in the period and in the baseline.
type Ratio struct {
	Event    float64  `json:"event"`
	Baseline float64  `json:"baseline"`
	Ratio    *float64 `json:"ratio,omitempty"`
}

// metricsPost is a counted post as the computation keeps it.
type metricsPost struct {
	id       envelope.Hash
	clock    uint64
	author   crypto.DeviceID
	org      crypto.ID16
	person   crypto.ID16 // the author's
	rec      *PostRecord
	inPeriod bool
	readers  map[crypto.DeviceID]uint64
	views    int
}

// Metrics works out the figures of a period from what this device can
// read. Exercise traffic is never counted.
func (a *App) Metrics(q MetricsQuery) (Metrics, error) {
	zone := q.Zone
	if zone == nil {
		zone = time.Local
	}
	top := q.Top
	if top <= 0 {
		top = 10
	}
	until := q.Until
	if until.IsZero() {
		until = a.cfg.Now()
	}
	if !q.Since.IsZero() && !until.After(q.Since) {
		return Metrics{}, fmt.Errorf("%w: the period ends before it begins (from %s to %s)", ErrInvalid, q.Since.Format(time.DateOnly), until.Format(time.DateOnly))
	}
	baseline := !q.BaselineSince.IsZero() && !q.BaselineUntil.IsZero()
	if baseline && !q.BaselineUntil.After(q.BaselineSince) {
		return Metrics{}, fmt.Errorf("%w: the baseline period ends before it begins", ErrInvalid)
	}
	if !q.BaselineSince.IsZero() != !q.BaselineUntil.IsZero() {
		return Metrics{}, fmt.Errorf("%w: a baseline needs both its beginning and its end", ErrInvalid)
	}
	var m Metrics
	var err error
	walked := 0
	a.read(func(t *vtx) error {
		c := &metricsCalc{t: t, s: a.view, zone: zone, top: top}
		m, err = c.run(q.Since, until)
		if err == nil && baseline {
			m.Baseline, err = c.compare(q.Since, until, q.BaselineSince, q.BaselineUntil)
		}
		walked = c.walked
		return nil
	})
	a.walked(walked)
	return m, err
}

// metricsCalc holds one computation's state.
type metricsCalc struct {
	t      *vtx
	s      *state
	zone   *time.Location
	top    int
	walked int
	posts  map[envelope.Hash]*metricsPost
	kinds  map[crypto.ID16]OrgKind
	// members by device, read once from the trust state.
	members map[crypto.DeviceID]crypto.Membership
	counts  map[crypto.ID16]bool // organisations whose views count
	event   sums                 // the period's, for compare
	viewBuf []*metricsPost
}

func (c *metricsCalc) member(d crypto.DeviceID) (crypto.Membership, bool) {
	m, ok := c.members[d]
	return m, ok
}

func (c *metricsCalc) kind(org crypto.ID16) OrgKind {
	if k, ok := c.kinds[org]; ok {
		return k
	}
	k := KindOther
	if p, ok := c.s.org(org); ok && p.Kind != "" {
		k = p.Kind
	}
	c.kinds[org] = k
	return k
}

// eachCountedActivity calls fn for each activity record of [from, to)
// that counts: written by a member device that is not a relay, of an
// organisation whose views count, on one of days (i is its index).
func (c *metricsCalc) eachCountedActivity(from, to uint64, days dayIndex, fn func(e activityEntry, am crypto.Membership, i int)) {
	c.t.eachActivity(from, to, func(e activityEntry) bool {
		am, ok := c.member(e.author)
		if !ok || am.Role == crypto.RoleRelay || !c.countsViews(am.Org) {
			return true
		}
		if i := days.at(e.clock); i >= 0 {
			fn(e, am, i)
		}
		return true
	})
}

func (c *metricsCalc) countsViews(org crypto.ID16) bool {
	v, ok := c.counts[org]
	if !ok {
		v = c.s.countsViews(org)
		c.counts[org] = v
	}
	return v
}

// dayIndex finds the day of a clock among the days of a period, without
// formatting a time for each record.
type dayIndex struct {
	starts []uint64 // each day's midnight in the zone, as a clock
	names  []string // 2006-01-02
	weeks  []string // the day's ISO week: 2006-W01
}

// newDayIndex lists the days from since's to until (exclusive) in the zone.
func newDayIndex(since, until time.Time, zone *time.Location) (dayIndex, error) {
	var d dayIndex
	y, mo, dd := since.In(zone).Date()
	for t := time.Date(y, mo, dd, 0, 0, 0, 0, zone); t.Before(until); t = t.AddDate(0, 0, 1) {
		if len(d.names) == maxMetricsDays {
			return d, fmt.Errorf("%w: a period of at most %d days: choose a later beginning", ErrInvalid, maxMetricsDays)
		}
		wy, w := t.ISOWeek()
		d.starts = append(d.starts, replica.FromTime(t))
		d.names = append(d.names, t.Format(time.DateOnly))
		d.weeks = append(d.weeks, fmt.Sprintf("%04d-W%02d", wy, w))
	}
	return d, nil
}

// at returns the index of the day of a clock, -1 before the first.
func (d dayIndex) at(clock uint64) int {
	return sort.Search(len(d.starts), func(i int) bool { return d.starts[i] > clock }) - 1
}

func (c *metricsCalc) load() {
	c.kinds = map[crypto.ID16]OrgKind{}
	c.counts = map[crypto.ID16]bool{}
	c.members = map[crypto.DeviceID]crypto.Membership{}
	for _, m := range c.s.trust.Members() {
		c.members[m.Device] = m
	}
	c.posts = map[envelope.Hash]*metricsPost{}
	eachPrefix(c.t.b(vbFeed), nil, func(k, _ []byte) bool {
		id := feedID(k)
		v := c.t.get(id)
		c.walked++
		if v == nil || v.rec == nil || v.rec.Post == nil || v.exercise != "" || !c.s.visible(v) {
			return true
		}
		m, _ := c.member(v.author)
		c.posts[id] = &metricsPost{id: id, clock: v.clock, author: v.author, org: m.Org, person: m.Person, rec: v.rec.Post}
		return true
	})
}

// audience returns the organisations a post was addressed to, the
// author's left out.
func (c *metricsCalc) audience(p *metricsPost, all []crypto.ID16) []crypto.ID16 {
	r := p.rec
	var out []crypto.ID16
	switch {
	case len(r.ToOrgs) == 0 && len(r.ToPersons) == 0:
		out = append(out, all...)
	case len(r.ToPersons) > 0:
		seen := map[crypto.ID16]bool{}
		for _, pr := range r.ToPersons {
			o := c.s.personOrg(pr)
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	default:
		seen := map[crypto.ID16]bool{}
		for _, o := range r.ToOrgs {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	kept := out[:0]
	for _, o := range out {
		if o != p.org {
			kept = append(kept, o)
		}
	}
	return kept
}

func (c *metricsCalc) run(since, until time.Time) (Metrics, error) {
	c.load()
	me, _ := c.member(c.t.a.dev.ID())
	m := Metrics{Until: until, Zone: c.zone.String(), Coverage: "readable"}
	if me.Role == crypto.RoleCoordinator {
		m.Coverage = "all"
	}
	to := replica.FromTime(until)
	if since.IsZero() {
		first := to
		for _, p := range c.posts {
			first = min(first, p.clock)
		}
		c.t.eachActivity(0, to, func(e activityEntry) bool {
			first = min(first, e.clock)
			return false
		})
		since = replica.Physical(first).In(c.zone)
		y, mo, d := since.Date()
		since = time.Date(y, mo, d, 0, 0, 0, 0, c.zone)
	}
	m.Since = since
	from := replica.FromTime(since)
	days, err := newDayIndex(since, until, c.zone)
	if err != nil {
		return m, err
	}
	for _, d := range days.names {
		m.Days = append(m.Days, DayMetrics{Day: d, ActiveByKind: map[OrgKind]int{}})
	}
	var ids []envelope.Hash
	for id, p := range c.posts {
		if p.clock >= from && p.clock < to {
			p.inPeriod = true
			p.readers = map[crypto.DeviceID]uint64{}
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := c.posts[ids[i]], c.posts[ids[j]]
		if a.clock != b.clock {
			return a.clock < b.clock
		}
		return bytes.Compare(a.id[:], b.id[:]) < 0
	})

	// Reads of the period's posts, recorded before its end.
	eachPrefix(c.t.b(vbReads), nil, func(k, v []byte) bool {
		if len(k) < 32 {
			return true
		}
		p := c.posts[envelope.Hash(k[:32])]
		if p == nil || !p.inPeriod {
			return true
		}
		d, clock, ok := c.t.openRead(k, v)
		if !ok || clock >= to || !c.mayOpen(p, d) {
			return true // a receipt for a post its device could not open is forged
		}
		if old, seen := p.readers[d]; !seen || clock < old {
			p.readers[d] = clock
		}
		return true
	})

	// Activity and views.
	active := map[crypto.DeviceID]bool{}
	dayActive := make([]map[crypto.DeviceID]bool, len(days.names))
	win := c.newActivityWindows()
	c.eachCountedActivity(from, to, days, func(e activityEntry, am crypto.Membership, i int) {
		day := &m.Days[i]
		first, views := win.add(e)
		if first {
			day.ActivityRecords++
			m.Totals.ActivityRecords++
		}
		if dayActive[i] == nil {
			dayActive[i] = map[crypto.DeviceID]bool{}
		}
		if !dayActive[i][e.author] {
			dayActive[i][e.author] = true
			day.ActiveDevices++
			day.ActiveByKind[c.kind(am.Org)]++
		}
		active[e.author] = true
		for _, p := range views {
			p.views++
			day.Views++
			m.Totals.Views++
		}
	})
	m.Totals.ActiveDevices = len(active)
	for _, d := range m.Days {
		c.event.active += d.ActiveDevices
		c.event.views += d.Views
	}

	// Posts, reads, read rates, notices.
	var all []crypto.ID16
	for org := range c.s.orgs {
		if _, ok := c.s.org(org); ok {
			all = append(all, org)
		}
	}
	sort.Slice(all, func(i, j int) bool { return bytes.Compare(all[i][:], all[j][:]) < 0 })
	type rate struct{ addressed, read int }
	byOrg := map[crypto.ID16]*rate{}
	rateOf := func(o crypto.ID16) *rate {
		r := byOrg[o]
		if r == nil {
			r = &rate{}
			byOrg[o] = r
		}
		return r
	}
	allSet := map[crypto.ID16]bool{}
	for _, o := range all {
		allSet[o] = true
	}
	community := 0
	authored := map[crypto.ID16]int{}
	var firsts []int64
	unread := 0
	m.Posts = make([]PostMetrics, 0, len(ids))
	for _, id := range ids {
		p := c.posts[id]
		pt := replica.Physical(p.clock)
		pm := PostMetrics{ID: id.String(), Title: p.rec.Title, Type: p.rec.Type, Channel: p.rec.Channel,
			Org: p.org.String(), OrgName: c.s.orgName(p.org), Time: pt.In(c.zone), Readers: len(p.readers),
			Views: p.views, OrgFirstReads: []OrgFirstRead{}}
		if i := days.at(p.clock); i >= 0 {
			m.Days[i].Posts++
		}
		m.Totals.Reads += len(p.readers)
		var first uint64
		found := false
		orgFirst := map[crypto.ID16]uint64{}
		for d, clock := range p.readers {
			if d == p.author {
				continue
			}
			if !found || clock < first {
				first, found = clock, true
			}
			rm, ok := c.member(d)
			if !ok || rm.Org == p.org {
				continue
			}
			if old, seen := orgFirst[rm.Org]; !seen || clock < old {
				orgFirst[rm.Org] = clock
			}
		}
		if found {
			s := after(p.clock, first)
			pm.FirstReadS = &s
			firsts = append(firsts, s)
		} else {
			unread++
		}
		for org, clock := range orgFirst {
			pm.OrgFirstReads = append(pm.OrgFirstReads, OrgFirstRead{Org: org.String(), OrgName: c.s.orgName(org), Kind: c.kind(org), AfterS: after(p.clock, clock)})
		}
		sort.Slice(pm.OrgFirstReads, func(i, j int) bool {
			a, b := pm.OrgFirstReads[i], pm.OrgFirstReads[j]
			if a.AfterS != b.AfterS {
				return a.AfterS < b.AfterS
			}
			return a.Org < b.Org
		})
		if len(p.rec.ToOrgs) == 0 && len(p.rec.ToPersons) == 0 {
			// To the whole community: every organisation's count of
			// addressed posts is added once, at the end.
			community++
			if allSet[p.org] {
				authored[p.org]++
				pm.AudienceOrgs = len(all) - 1
			} else {
				pm.AudienceOrgs = len(all)
			}
			for o := range orgFirst {
				if allSet[o] {
					rateOf(o).read++
					pm.ReadOrgs++
				}
			}
		} else {
			aud := c.audience(p, all)
			pm.AudienceOrgs = len(aud)
			for _, o := range aud {
				r := rateOf(o)
				r.addressed++
				if _, ok := orgFirst[o]; ok {
					r.read++
					pm.ReadOrgs++
				}
			}
		}
		if p.rec.Channel == ChannelObservation {
			for _, o := range p.rec.ToOrgs {
				n := NoticeMetrics{ID: pm.ID, Title: pm.Title, Org: o.String(), OrgName: c.s.orgName(o), Time: pm.Time}
				if clock, ok := orgFirst[o]; ok {
					s := after(p.clock, clock)
					n.FirstReadS = &s
				}
				m.Notices = append(m.Notices, n)
			}
		}
		m.Posts = append(m.Posts, pm)
	}
	m.Totals.Posts = len(m.Posts)
	c.event.posts = len(m.Posts)
	m.Totals.Notices = len(m.Notices)
	m.FirstRead = distribution(firsts, unread)
	if community > 0 {
		for _, o := range all {
			rateOf(o).addressed += community - authored[o]
		}
	}
	for o, r := range byOrg {
		if r.addressed == 0 {
			delete(byOrg, o) // the centre's own, when it wrote every post
		}
	}

	byKind := map[OrgKind]*rate{}
	for org, r := range byOrg {
		m.ReadRateByOrg = append(m.ReadRateByOrg, ReadRate{Org: org.String(), Name: c.s.orgName(org), Kind: c.kind(org), Addressed: r.addressed, Read: r.read, Rate: ratio(r.read, r.addressed)})
		k := byKind[c.kind(org)]
		if k == nil {
			k = &rate{}
			byKind[c.kind(org)] = k
		}
		k.addressed += r.addressed
		k.read += r.read
	}
	sort.Slice(m.ReadRateByOrg, func(i, j int) bool {
		a, b := m.ReadRateByOrg[i], m.ReadRateByOrg[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Org < b.Org
	})
	for _, k := range OrgKinds {
		if r := byKind[k]; r != nil {
			m.ReadRateByKind = append(m.ReadRateByKind, ReadRate{Kind: k, Addressed: r.addressed, Read: r.read, Rate: ratio(r.read, r.addressed)})
		}
	}

	// Most viewed.
	for _, id := range ids {
		if p := c.posts[id]; p.views > 0 {
			m.MostViewed = append(m.MostViewed, PostViews{ID: id.String(), Title: p.rec.Title, Views: p.views})
		}
	}
	// Views of older posts count too.
	for id, p := range c.posts {
		if !p.inPeriod && p.views > 0 {
			m.MostViewed = append(m.MostViewed, PostViews{ID: id.String(), Title: p.rec.Title, Views: p.views})
		}
	}
	sort.Slice(m.MostViewed, func(i, j int) bool {
		a, b := m.MostViewed[i], m.MostViewed[j]
		if a.Views != b.Views {
			return a.Views > b.Views
		}
		return a.ID < b.ID
	})
	if len(m.MostViewed) > c.top {
		m.MostViewed = m.MostViewed[:c.top]
	}

	// Comments and incidents, by day; incidents and detections by week.
	weeks := map[string]*WeekMetrics{}
	week := func(clock uint64) *WeekMetrics {
		k := days.weeks[max(days.at(clock), 0)]
		wm := weeks[k]
		if wm == nil {
			wm = &WeekMetrics{Week: k, Incidents: map[Category]int{}, Posts: map[PostType]int{}}
			weeks[k] = wm
		}
		return wm
	}
	eachPrefix(c.t.b(vbKids), nil, func(k, _ []byte) bool {
		if len(k) != 64 || c.posts[envelope.Hash(k[:32])] == nil {
			return true // comments of counted posts (incident updates are kids of incidents)
		}
		v := c.t.get(envelope.Hash(k[32:]))
		c.walked++
		if v == nil || v.rec == nil || v.rec.Comment == nil || v.exercise != "" || v.clock < from || v.clock >= to {
			return true
		}
		if i := days.at(v.clock); i >= 0 {
			m.Days[i].Comments++
			m.Totals.Comments++
		}
		return true
	})
	for _, v := range c.t.reported() {
		c.walked++
		if v.exercise != "" || v.clock < from || v.clock >= to {
			continue
		}
		if i := days.at(v.clock); i >= 0 {
			m.Days[i].Incidents++
			m.Totals.Incidents++
		}
		wm := week(v.clock)
		wm.Incidents[v.rec.Incident.Category]++
		wm.Total++
	}
	for _, id := range ids {
		p := c.posts[id]
		for _, t := range DetectionTypes {
			if p.rec.Type == t {
				wm := week(p.clock)
				wm.Posts[t]++
				wm.Total++
			}
		}
	}
	for _, wm := range weeks {
		m.Weeks = append(m.Weeks, *wm)
	}
	sort.Slice(m.Weeks, func(i, j int) bool { return m.Weeks[i].Week < m.Weeks[j].Week })
	if m.ReadRateByOrg == nil {
		m.ReadRateByOrg = []ReadRate{}
	}
	if m.ReadRateByKind == nil {
		m.ReadRateByKind = []ReadRate{}
	}
	if m.MostViewed == nil {
		m.MostViewed = []PostViews{}
	}
	if m.Notices == nil {
		m.Notices = []NoticeMetrics{}
	}
	if m.Weeks == nil {
		m.Weeks = []WeekMetrics{}
	}
	if m.Days == nil {
		m.Days = []DayMetrics{}
	}
	return m, nil
}

// sums are a period's figures for the comparison with a baseline.
type sums struct{ active, views, posts int }

// mayOpen reports whether a device could open a post (the audience rule
// of the definitions above): a read receipt or a view of a post its device
// could not open is forged, and does not count.
func (c *metricsCalc) mayOpen(p *metricsPost, d crypto.DeviceID) bool {
	m, ok := c.member(d)
	if !ok || m.Role == crypto.RoleRelay {
		return false
	}
	r := p.rec
	switch {
	case len(r.ToOrgs) == 0 && len(r.ToPersons) == 0:
		return true
	case len(r.ToPersons) > 0:
		return m.Person == p.person || slices.Contains(r.ToPersons, m.Person)
	default:
		return m.Org == p.org || m.Role == crypto.RoleCoordinator || slices.Contains(r.ToOrgs, m.Org)
	}
}

// activityWindow returns the ActivityBatch window of a clock (aligned on
// the Unix epoch).
func activityWindow(clock uint64) int64 {
	return replica.Physical(clock).UnixMilli() / ActivityBatch.Milliseconds()
}

// activityWindows counts a walk's activity records (in clock order) per
// device and activity window: a device's records in one window count as
// one record, and each post they list as one view of it.
type activityWindows struct {
	c    *metricsCalc
	devs map[crypto.DeviceID]*deviceWindow
}

// deviceWindow is a device's current window and the posts counted in it.
type deviceWindow struct {
	win   int64
	posts map[*metricsPost]bool
}

func (c *metricsCalc) newActivityWindows() *activityWindows {
	return &activityWindows{c: c, devs: map[crypto.DeviceID]*deviceWindow{}}
}

// add takes the next activity record of the walk. first says whether it
// is its device's first in its window (it counts as an activity record);
// views lists the counted posts it adds a view to: the ones its device
// could open, not counted yet in the window (the slice is reused by the
// next call).
func (w *activityWindows) add(e activityEntry) (first bool, views []*metricsPost) {
	win := activityWindow(e.clock)
	dw := w.devs[e.author]
	switch {
	case dw == nil:
		dw = &deviceWindow{win: win, posts: map[*metricsPost]bool{}}
		w.devs[e.author] = dw
		first = true
	case dw.win != win:
		dw.win = win
		clear(dw.posts)
		first = true
	}
	c := w.c
	out := c.viewBuf[:0]
	for _, v := range e.views {
		p := c.posts[v]
		if p == nil || dw.posts[p] || !c.mayOpen(p, e.author) {
			continue
		}
		dw.posts[p] = true
		out = append(out, p)
	}
	c.viewBuf = out
	return first, out
}

// periodSums works out a period's sums: active devices summed over its
// days, views, posts.
func (c *metricsCalc) periodSums(since, until time.Time) (sums, error) {
	var out sums
	days, err := newDayIndex(since, until, c.zone)
	if err != nil {
		return out, err
	}
	from, to := replica.FromTime(since), replica.FromTime(until)
	perDay := make([]map[crypto.DeviceID]bool, len(days.names))
	win := c.newActivityWindows()
	c.eachCountedActivity(from, to, days, func(e activityEntry, _ crypto.Membership, i int) {
		if perDay[i] == nil {
			perDay[i] = map[crypto.DeviceID]bool{}
		}
		if !perDay[i][e.author] {
			perDay[i][e.author] = true
			out.active++
		}
		_, views := win.add(e)
		out.views += len(views)
	})
	for _, p := range c.posts {
		if p.clock >= from && p.clock < to {
			out.posts++
		}
	}
	return out, nil
}

// compare works out the per-day ratios of the period against a baseline.
// The caller ran run first (posts are loaded, the period's sums made).
func (c *metricsCalc) compare(since, until, bsince, buntil time.Time) (*Comparison, error) {
	if since.IsZero() {
		return nil, fmt.Errorf("%w: a baseline is compared with a period that has a beginning: choose one", ErrInvalid)
	}
	bs, err := c.periodSums(bsince, buntil)
	if err != nil {
		return nil, err
	}
	ev := c.event
	ed, bd := until.Sub(since).Hours()/24, buntil.Sub(bsince).Hours()/24
	r := func(e, b int) Ratio {
		out := Ratio{Event: float64(e) / ed, Baseline: float64(b) / bd}
		if out.Baseline > 0 {
			x := out.Event / out.Baseline
			out.Ratio = &x
		}
		return out
	}
	return &Comparison{BaselineSince: bsince, BaselineUntil: buntil, EventDays: ed, BaselineDays: bd,
		ActivePerDay: r(ev.active, bs.active), ViewsPerDay: r(ev.views, bs.views), PostsPerDay: r(ev.posts, bs.posts)}, nil
}

// after returns the seconds from one clock to a later one, never below 0.
func after(from, to uint64) int64 {
	d := replica.Physical(to).Sub(replica.Physical(from))
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// distribution summarises times in seconds.
func distribution(s []int64, unread int) Distribution {
	d := Distribution{Count: len(s), Unread: unread, Buckets: make([]int, len(DistributionBounds)+1)}
	if len(s) == 0 {
		return d
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var total float64
	for _, x := range s {
		total += float64(x)
		i := sort.Search(len(DistributionBounds), func(i int) bool { return x <= DistributionBounds[i] })
		d.Buckets[i]++
	}
	d.MeanS = total / float64(len(s))
	d.MedianS = quantile(s, 0.5)
	d.P90S = quantile(s, 0.9)
	return d
}

// quantile of sorted values, linearly interpolated.
func quantile(s []int64, q float64) float64 {
	if len(s) == 1 {
		return float64(s[0])
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return float64(s[lo]) + (pos-float64(lo))*float64(s[hi]-s[lo])
}

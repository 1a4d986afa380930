package app

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// A generated community for the metrics (BenchMetrics, the metrics tests): organisations of the digest's
// kinds, members, posts, comments, incidents, read receipts and activity
// records over a baseline period and an event period, written as
// envelopes of each member's own device straight into the coordinator's
// home (its store takes them as a sync would), then folded. What was
// generated is kept as plain records (genData) so that a test works the
// figures out again without the views.

// BenchTB is what the metrics generator (NewMetricsBench) needs of a test:
// testing.TB has it; so has the runner of noroshi/app/bench, which turns
// Fatal into an error.
type BenchTB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// fakeClock is a clock moved by hand: tests' and the generator's.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2021, 7, 23, 20, 0, 0, 0, time.FixedZone("JST", 9*3600))}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // every reading moves on a little
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// genConfig returns a config for a home in a temp dir of tb's with clock
// (TestWorkFactor: the key file is not protected).
func genConfig(tb BenchTB, clock *fakeClock) Config {
	cfg := DefaultConfig(tb.TempDir())
	cfg.WorkFactor = TestWorkFactor
	cfg.Now = clock.Now
	cfg.Rand = rand.Reader
	cfg.Logf = tb.Logf
	return cfg
}

// genOpen opens a new device in a new home of tb's, closed when tb ends.
func genOpen(tb BenchTB, clock *fakeClock, name string) *App {
	tb.Helper()
	dev, err := crypto.NewDevice(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := OpenDevice(genConfig(tb, clock), dev)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// genSpec sizes a generated community.
type genSpec struct {
	orgs    map[OrgKind]int
	members int
	posts   int
	// The baseline period is [start, event), the event period [event, end).
	start, event, end time.Time
	seed              uint64
}

// gamesKinds are the digest's 330 organisations by kind.
var gamesKinds = map[OrgKind]int{KindCriticalService: 157, KindSportsBody: 66, KindOrganising: 40, KindVenue: 17,
	KindMinistry: 17, KindLawEnforcement: 13, KindSecurityAgency: 4, KindOther: 16}

var genZone = time.FixedZone("JST", 9*3600)

func gamesSpec() genSpec {
	return genSpec{orgs: gamesKinds, members: 1800, posts: 8000,
		start: time.Date(2021, 6, 3, 0, 0, 0, 0, genZone), event: time.Date(2021, 7, 21, 0, 0, 0, 0, genZone),
		end: time.Date(2021, 9, 6, 0, 0, 0, 0, genZone), seed: 2021}
}

func smallSpec() genSpec {
	return genSpec{orgs: map[OrgKind]int{KindCriticalService: 6, KindSportsBody: 4, KindVenue: 2, KindSecurityAgency: 1, KindOther: 1},
		members: 60, posts: 300,
		start: time.Date(2021, 7, 7, 0, 0, 0, 0, genZone), event: time.Date(2021, 7, 21, 0, 0, 0, 0, genZone),
		end: time.Date(2021, 8, 4, 0, 0, 0, 0, genZone), seed: 7}
}

type genOrg struct {
	id           crypto.ID16
	name         string
	kind         OrgKind
	noViewCounts bool
}

type genDev struct {
	dev *crypto.Device
	org int
	pos crypto.Position
	// last clock written: a chain's clock never goes back.
	last uint64
}

type genPost struct {
	id       envelope.Hash
	author   int // device index; -1 the coordinator
	clock    uint64
	title    string
	typ      PostType
	channel  Channel
	toOrgs   []int
	exercise bool
}

type genRecord struct {
	dev      int
	clock    uint64
	refs     []*genPost      // reads or views, as generated
	posts    []envelope.Hash // their IDs, once written
	exercise bool
}

type genComment struct {
	clock    uint64
	post     envelope.Hash
	exercise bool
}

type genIncident struct {
	clock    uint64
	category Category
	exercise bool
}

// genData is what was generated, as plain records.
type genData struct {
	spec      genSpec
	centre    *App
	clock     *fakeClock
	centreOrg crypto.ID16
	orgs      []genOrg
	devs      []genDev
	posts     []genPost
	reads     []genRecord
	acts      []genRecord
	comments  []genComment
	incidents []genIncident
}

// pending is one envelope to write, in clock order.
type pending struct {
	dev   int // -1: the coordinator
	clock uint64
	aud   crypto.Audience
	rec   *Record
	// after writing, the post's ID and clock go to post, the clock
	// written to clockOut; a comment names commentOf's ID.
	post      *genPost
	clockOut  *uint64
	commentOf *genPost
	// list: a read receipt or activity record whose posts' IDs are
	// filled in when written (they are written before, being older).
	list *genRecord
}

// generate builds the community in a new home.
func generate(tb BenchTB, spec genSpec) *genData {
	tb.Helper()
	r := mrand.New(mrand.NewPCG(spec.seed, spec.seed^0x9e3779b97f4a7c15))
	clock := &fakeClock{t: spec.start.Add(-30 * 24 * time.Hour)}
	centre := genOpen(tb, clock, "Duty Officer")
	centre.cfg.Logf = func(string, ...any) {}
	if _, err := centre.CreateCommunity(CommunityOptions{Name: "Games 2021", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		tb.Fatal(err)
	}
	g := &genData{spec: spec, centre: centre}
	g.clock = clock
	t0 := time.Now()
	defer func() { tb.Logf("generated in %v", time.Since(t0)) }()
	centre.mu.RLock()
	m, _ := centre.me()
	centre.mu.RUnlock()
	g.centreOrg = m.Org
	kinds := make([]OrgKind, 0, len(spec.orgs))
	for k := range spec.orgs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	for _, k := range kinds {
		for i := 0; i < spec.orgs[k]; i++ {
			sector := ""
			if k == KindCriticalService {
				sector = "electricity"
			}
			o, err := centre.AddOrg(fmt.Sprintf("%s %03d", k, i), k, sector)
			if err != nil {
				tb.Fatal(err)
			}
			var id crypto.ID16
			if err := id.UnmarshalText([]byte(o.ID)); err != nil {
				tb.Fatal(err)
			}
			g.orgs = append(g.orgs, genOrg{id: id, kind: k, name: o.Name})
		}
	}
	tb.Logf("organisations: %v", time.Since(t0))
	// A few organisations do not count views (set by the coordinator).
	f := false
	for i := range g.orgs {
		if i%17 == 5 {
			g.orgs[i].noViewCounts = true
			if _, err := centre.SetOrgSettings(g.orgs[i].id.String(), OrgSettingsChange{CountViews: &f}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	// Members, admitted by membership certificates a batch per commit.
	var builders []builder
	flush := func() {
		if len(builders) > 0 {
			if _, err := centre.write(builders...); err != nil {
				tb.Fatal(err)
			}
			builders = builders[:0]
		}
	}
	for i := 0; i < spec.members; i++ {
		d, err := crypto.NewDevice(rand.Reader, fmt.Sprintf("member %d", i))
		if err != nil {
			tb.Fatal(err)
		}
		org := i % len(g.orgs)
		if i >= len(g.orgs) {
			org = r.IntN(len(g.orgs))
		}
		pub := d.Public()
		builders = append(builders, centre.cert(&crypto.Certificate{Membership: &crypto.Membership{Device: d.ID(), Recipient: pub.Recipient,
			Person: crypto.PersonOf(d.ID()), Org: g.orgs[org].id, Role: crypto.RoleMember}}))
		g.devs = append(g.devs, genDev{dev: d, org: org})
		if len(builders) == 500 {
			flush()
		}
	}
	flush()
	tb.Logf("members: %v", time.Since(t0))

	centre.mu.RLock()
	ck, _ := centre.currentKey(crypto.ScopeCommunity, crypto.ID16{})
	orgKey := map[crypto.ID16]crypto.GroupKey{}
	for _, o := range g.orgs {
		k, ok := centre.currentKey(crypto.ScopeOrg, o.id)
		if !ok {
			centre.mu.RUnlock()
			tb.Fatalf("no key of organisation %s", o.id)
		}
		orgKey[o.id] = k
	}
	centre.mu.RUnlock()
	community := crypto.Audience{Groups: []crypto.GroupKey{ck}}
	orgAud := func(o int) crypto.Audience { return crypto.Audience{Groups: []crypto.GroupKey{orgKey[g.orgs[o].id]}} }

	// What happens, by time. Activity is busier in the event period (the
	// report: 1.5 times the logins, 2.5 times the views).
	span := spec.end.Sub(spec.start)
	at := func() time.Time {
		// Posts: the event period weighs twice a baseline day.
		for {
			t := spec.start.Add(time.Duration(r.Int64N(int64(span))))
			if !t.Before(spec.event) || r.IntN(2) == 0 {
				return t
			}
		}
	}
	var todo []*pending
	g.posts = make([]genPost, 0, spec.posts)
	g.comments = make([]genComment, 0, spec.posts/8)
	g.incidents = make([]genIncident, 0, spec.posts/40)
	byDevOrg := map[int][]int{}
	for i, d := range g.devs {
		byDevOrg[d.org] = append(byDevOrg[d.org], i)
	}
	detect := []PostType{TypeMalware, TypeAlert, TypeForeshadowing, TypeVulnerability, TypeObservation, TypeSchedule}
	for i := 0; i < spec.posts; i++ {
		t := at()
		p := &genPost{title: fmt.Sprintf("post %d", i), clock: replica.FromTime(t), typ: detect[r.IntN(len(detect))], channel: []Channel{ChannelPro, ChannelGeneral}[r.IntN(2)]}
		rec := &PostRecord{Type: p.typ, Tag: TagInfo, TLP: TLPGreen, Channel: p.channel, Title: fmt.Sprintf("post %d", i)}
		aud := community
		switch {
		case i%40 == 3: // an observation notice from the centre to one organisation
			o := r.IntN(len(g.orgs))
			p.author, p.channel, p.toOrgs = -1, ChannelObservation, []int{o}
			rec.Channel, rec.ToOrgs, rec.Type = ChannelObservation, []crypto.ID16{g.orgs[o].id}, TypeObservation
			p.typ = TypeObservation
			aud = orgAud(o)
		case i%25 == 7: // to a few organisations
			p.author = r.IntN(len(g.devs))
			for _, o := range []int{r.IntN(len(g.orgs)), r.IntN(len(g.orgs))} {
				p.toOrgs = append(p.toOrgs, o)
				rec.ToOrgs = append(rec.ToOrgs, g.orgs[o].id)
			}
		default:
			p.author = r.IntN(len(g.devs))
		}
		record := &Record{Post: rec}
		if i%50 == 11 { // exercise traffic: never in the figures
			p.exercise, record.Exercise = true, "ex5"
		}
		g.posts = append(g.posts, *p)
		todo = append(todo, &pending{dev: p.author, clock: p.clock, aud: aud, rec: record, post: &g.posts[len(g.posts)-1]})
	}
	// Comments and incidents.
	for i := 0; i < spec.posts/8; i++ {
		p := &g.posts[r.IntN(len(g.posts))]
		c := genComment{clock: p.clock + replica.FromTime(time.UnixMilli(0).Add(time.Duration(1+r.IntN(48))*time.Hour)), exercise: p.exercise}
		g.comments = append(g.comments, c)
		dev := r.IntN(len(g.devs))
		pd := &pending{dev: dev, clock: c.clock, aud: community, rec: &Record{Comment: &CommentRecord{Body: "more"}},
			clockOut: &g.comments[len(g.comments)-1].clock, commentOf: p}
		if p.exercise {
			pd.rec.Exercise = "ex5"
		}
		todo = append(todo, pd)
	}
	for i := 0; i < spec.posts/40; i++ {
		t := at()
		dev := r.IntN(len(g.devs))
		o := g.devs[dev].org
		inc := genIncident{clock: replica.FromTime(t), category: Categories[r.IntN(len(Categories))], exercise: i%9 == 4}
		g.incidents = append(g.incidents, inc)
		rec := &Record{Incident: &IncidentRecord{Category: inc.category, Title: fmt.Sprintf("incident %d", i), Affects: AffectsNo, Org: g.orgs[o].id}}
		if inc.exercise {
			rec.Exercise = "ex5"
		}
		todo = append(todo, &pending{dev: dev, clock: inc.clock, aud: orgAud(o), rec: rec, clockOut: &g.incidents[len(g.incidents)-1].clock})
	}
	// A member's forged settings for its own organisation: it may not
	// write them, so they do not count.
	todo = append(todo, &pending{dev: 0, clock: replica.FromTime(spec.start.Add(time.Hour)), aud: community,
		rec: &Record{OrgSettings: &OrgSettings{Org: g.orgs[g.devs[0].org].id, NoViewCounts: !g.orgs[g.devs[0].org].noViewCounts}}})

	// Write posts, comments, incidents first (their IDs are needed by
	// reads and views), then reads and activity.

	// Reads: each post's readers, batched per device per hour.
	type readEv struct {
		dev   int
		clock uint64
		post  *genPost
		ex    bool
	}
	var evs []readEv
	endClock := replica.FromTime(spec.end.Add(48 * time.Hour))
	for pi := range g.posts {
		p := &g.posts[pi]
		var cands []int
		switch {
		case len(p.toOrgs) > 0:
			for _, o := range p.toOrgs {
				cands = append(cands, byDevOrg[o]...)
			}
		default:
			for k := 0; k < 3+r.IntN(30); k++ {
				cands = append(cands, r.IntN(len(g.devs)))
			}
		}
		for _, d := range cands {
			if r.IntN(3) == 0 {
				continue
			}
			delay := time.Duration(r.ExpFloat64() * float64(3*time.Hour))
			c := p.clock + uint64(delay.Milliseconds())<<16
			if c < endClock {
				evs = append(evs, readEv{dev: d, clock: c, post: p, ex: p.exercise})
			}
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].dev != evs[j].dev {
			return evs[i].dev < evs[j].dev
		}
		return evs[i].clock < evs[j].clock
	})
	const hour = uint64(time.Hour/time.Millisecond) << 16
	for i := 0; i < len(evs); {
		j := i
		rec := genRecord{dev: evs[i].dev, exercise: evs[i].ex}
		window := evs[i].clock/hour + 1
		for j < len(evs) && evs[j].dev == evs[i].dev && evs[j].clock/hour < window && evs[j].ex == evs[i].ex {
			rec.refs = append(rec.refs, evs[j].post)
			j++
		}
		rec.clock = window*hour - 1<<16 // sent at the end of the hour
		g.reads = append(g.reads, rec)
		i = j
	}
	for i := range g.reads {
		rec := &g.reads[i]
		record := &Record{Reads: &ReadsRecord{}}
		if rec.exercise {
			record.Exercise = "ex5"
		}
		todo = append(todo, &pending{dev: rec.dev, clock: rec.clock, aud: community, rec: record, clockOut: &rec.clock, list: rec})
	}
	// Activity: devices in use on some days, a session or two, each an
	// activity record listing posts opened.
	var pubs []*genPost
	for i := range g.posts {
		pubs = append(pubs, &g.posts[i])
	}
	sort.Slice(pubs, func(i, j int) bool { return pubs[i].clock < pubs[j].clock })
	for d := range g.devs {
		for day := spec.start; day.Before(spec.end); day = day.AddDate(0, 0, 1) {
			event := !day.Before(spec.event)
			pUse, views := 0.16, 2.0
			if event {
				pUse, views = 0.24, 3.3
			}
			if r.Float64() >= pUse {
				continue
			}
			for s := 0; s < 1+r.IntN(2); s++ {
				tt := day.Add(time.Duration(8*3600+r.IntN(12*3600)) * time.Second).Add(time.Duration(s) * 15 * time.Minute)
				c := replica.FromTime(tt)
				n := sort.Search(len(pubs), func(i int) bool { return pubs[i].clock >= c })
				rec := genRecord{dev: d, clock: c, exercise: r.IntN(60) == 0}
				for k := int(r.ExpFloat64() * views); k > 0 && n > 0; k-- {
					// recent posts more often
					back := min(n, 1+int(r.ExpFloat64()*40))
					rec.refs = append(rec.refs, pubs[n-back])
				}
				g.acts = append(g.acts, rec)
			}
		}
	}
	for i := range g.acts {
		rec := &g.acts[i]
		record := &Record{Activity: &ActivityRecord{}}
		if rec.exercise {
			record.Exercise = "ex5"
		}
		todo = append(todo, &pending{dev: rec.dev, clock: rec.clock, aud: orgAud(g.devs[rec.dev].org), rec: record, clockOut: &rec.clock, list: rec})
	}
	tb.Logf("generated records: %v", time.Since(t0))
	g.write(tb, todo)
	return g
}

// write writes envelopes in clock order (each device's chain in order),
// into the coordinator's store, and folds them.
func (g *genData) write(tb BenchTB, todo []*pending) {
	tb.Helper()
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].clock < todo[j].clock })
	a := g.centre
	community := a.store.Community()
	head := a.store.Head(a.dev.ID())
	cpos := crypto.Position{Seq: head.Seq + 1, Prev: head.Head}
	var clast uint64
	var batch []*envelope.Envelope
	add := func() {
		if len(batch) == 0 {
			return
		}
		res, err := a.store.Add(batch...)
		if err != nil {
			tb.Fatal(err)
		}
		if err := res.Err(); err != nil {
			tb.Fatal(err)
		}
		if err := a.refresh(); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	// The clock moves past what is written (no clock-ahead refusals).
	maxClock := uint64(0)
	for _, p := range todo {
		maxClock = max(maxClock, p.clock)
	}
	if t := replica.Physical(maxClock).Add(time.Hour); a.cfg.Now().Before(t) {
		g.centreClockTo(t)
	}
	for _, p := range todo {
		if p.commentOf != nil {
			p.rec.Comment.Post = p.commentOf.id
		}
		if p.list != nil {
			for _, ref := range p.list.refs {
				if ref.id == (envelope.Hash{}) {
					tb.Fatalf("a record at %d lists a post at %d not written yet", p.clock, ref.clock)
				}
				p.list.posts = append(p.list.posts, ref.id)
			}
			if p.rec.Reads != nil {
				p.rec.Reads.Posts = p.list.posts
			} else {
				p.rec.Activity.Views = p.list.posts
			}
		}
		plain, err := p.rec.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		var e *envelope.Envelope
		if p.dev < 0 {
			c := max(p.clock, clast+1)
			e, err = a.dev.Seal(rand.Reader, community, cpos, c, p.aud, plain)
			if err == nil {
				cpos, clast = cpos.Next(e.ID()), c
			}
		} else {
			d := &g.devs[p.dev]
			if d.pos.Seq == 0 {
				d.pos = crypto.Position{Seq: 1}
			}
			c := max(p.clock, d.last+1)
			e, err = d.dev.Seal(rand.Reader, community, d.pos, c, p.aud, plain)
			if err == nil {
				d.pos, d.last = d.pos.Next(e.ID()), c
			}
		}
		if err != nil {
			tb.Fatal(err)
		}
		if p.post != nil {
			p.post.id = e.ID()
			p.post.clock = e.Header.Clock
		}
		if p.clockOut != nil {
			*p.clockOut = e.Header.Clock
		}
		batch = append(batch, e)
		if len(batch) == 2000 {
			add()
		}
	}
	add()
}

// centreClockTo moves the coordinator's clock on to t.
func (g *genData) centreClockTo(t time.Time) {
	now := g.centre.cfg.Now()
	if d := t.Sub(now); d > 0 {
		g.clock.Advance(d)
	}
}

// MetricsBench is a generated community for measuring Metrics: the
// coordinator's home holds it all.
type MetricsBench struct {
	g *genData
	q MetricsQuery
	// What was generated.
	Orgs, Members, Posts, Comments, Incidents, Reads, Activity int
}

// NewMetricsBench generates a community of the Games' size (330
// organisations of the digest's kinds, 1,800 members, 8,000 posts, their
// comments, incidents, read receipts and activity records over the Games
// and a baseline before them) in a home in tb's temp dir; small generates
// one of 14 organisations, 60 members and 300 posts instead.
func NewMetricsBench(tb BenchTB, small bool) *MetricsBench {
	spec := gamesSpec()
	if small {
		spec = smallSpec()
	}
	g := generate(tb, spec)
	return &MetricsBench{g: g, q: MetricsQuery{Since: spec.event, Until: spec.end, BaselineSince: spec.start, BaselineUntil: spec.event, Zone: genZone},
		Orgs: len(g.orgs), Members: len(g.devs), Posts: len(g.posts), Comments: len(g.comments), Incidents: len(g.incidents), Reads: len(g.reads), Activity: len(g.acts)}
}

// Run computes the metrics of the Games against the baseline once, as the
// coordinator, and returns them with the wall time and the CPU time (of
// the whole process; 0 where not measured) the computation took.
func (m *MetricsBench) Run() (Metrics, time.Duration, time.Duration, error) {
	cpu0 := cpuSeconds()
	start := time.Now()
	got, err := m.g.centre.Metrics(m.q)
	wall := time.Since(start)
	cpu := time.Duration((cpuSeconds() - cpu0) * float64(time.Second))
	return got, wall, cpu, err
}

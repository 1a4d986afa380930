package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Exercises are played into the community as ordinary sealed records that
// carry an exercise marking (Record.Exercise, the exercise's name) inside
// the sealed plaintext: a relay, which opens nothing, can neither strip
// nor add it, and the envelope's header says nothing of it.
//
// Isolation is by construction, not by filtering: every record with a
// marking folds here (view.go sends it), into buckets of its own, and
// never into the feed, its filters (ix), the unread list, kids, reads,
// incidents, the search slices or sources. So the real feed, search,
// unread counts, the incident board, metrics, reports, the STIX export and
// the indicator feed, which read only those, cannot show exercise traffic
// whatever they forget to filter. A post or incident of an exercise is
// still shown by its ID (post detail, incident detail), with its Exercise
// field set so that front ends show the banner.
//
// The buckets, with their keys and values:
//
//	xfeed       term(exercise=NAME) || feedKey -> nil: an exercise's posts, newest first
//	xincidents  incident ID -> nil: exercise incidents (the name is in the record)
//	xkids       parent ID || child ID -> nil: comments of exercise posts,
//	            updates of exercise incidents (kids' layout)
//	xreads      post ID || term(person) || term(device) -> sealed(device, first clock):
//	            exercise read receipts (reads' layout)
//	xruns       envelope ID -> nil: exercise runs' records (ExerciseRun)
//
// A record marked for an exercise that is a directory record, an activity
// record or anything else keeps nothing: an exercise never changes who is
// who, nor the metrics.
//
// Authority, judged when read: only a coordinator's ExerciseRun counts (a
// member's forged start, inject or stop is kept and ignored); an inject
// record counts only before the exercise's first stop; exercise incidents
// count as real ones do (a member for its own organisation, a coordinator
// for any).
const (
	vbXFeed      = "xfeed"
	vbXIncidents = "xincidents"
	vbXKids      = "xkids"
	vbXReads     = "xreads"
	vbXRuns      = "xruns"
)

// Phases of an ExerciseRun record.
const (
	ExerciseStart  = "start"
	ExerciseInject = "inject"
	ExerciseStop   = "stop"
)

// ExerciseRun is a coordinator's record of an exercise: its start (title,
// the scenario's start, when the run began and at what speed, the inject
// schedule without titles and bodies, the incidents it expects), each
// inject as it is played (which inject, which post), and its stop. It is
// sealed to the community and carries the exercise marking.
type ExerciseRun struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Start record.
	Title   Text          `json:"title,omitzero"`
	Start   time.Time     `json:"start,omitzero"`  // on the scenario's calendar
	Begins  time.Time     `json:"begins,omitzero"` // the real time the scenario's start stands for
	Speed   float64       `json:"speed,omitempty"`
	Injects []Inject      `json:"injects,omitempty"`
	Expect  []Expectation `json:"expect,omitempty"`
	// Inject record.
	Inject string        `json:"inject,omitempty"`
	Post   envelope.Hash `json:"post,omitzero"`
	// Stop record.
	Reason string `json:"reason,omitempty"`
}

// Limits on what an exercise run record may carry.
const (
	maxStopReason = 500
	// exercisePoll bounds how long the runner sleeps before it looks for a
	// stop record again.
	exercisePoll = time.Second
	minSpeed     = 0.01
	maxSpeed     = 1e6
)

// ErrExerciseStopped is returned for an inject of an exercise that stopped.
var ErrExerciseStopped = errors.New("exercise stopped")

// xterm is an exercise's key part in xfeed.
func (t *vtx) xterm(name string) []byte { return t.term("exercise=" + name) }

// foldExerciseRun folds an exercise's announcement (its start, an inject,
// its stop).
func (t *vtx) foldExerciseRun(v *viewRec, plain []byte) error {
	if err := t.put(v, plain); err != nil {
		return err
	}
	return t.b(vbXRuns).Put(v.id[:], nil)
}

// foldExercise folds a record that carries an exercise marking: exercise
// traffic never reaches the real feed, incidents, metrics or exports.
func (t *vtx) foldExercise(v *viewRec, plain []byte, trust *crypto.Trust) error {
	r := v.rec
	id := v.id
	switch {
	case r.Post != nil:
		if hasPrefix(t.b(vbRetracted), id[:]) {
			return nil // retracted before it was opened here
		}
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbXFeed).Put(cat(t.xterm(v.exercise), feedKey(v.clock, id)), nil)
	case r.Comment != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbXKids).Put(cat(r.Comment.Post[:], id[:]), nil)
	case r.Incident != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbXIncidents).Put(id[:], nil)
	case r.IncidentUpdate != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.b(vbXKids).Put(cat(r.IncidentUpdate.Incident[:], id[:]), nil)
	case r.Reads != nil:
		if err := t.put(v, plain); err != nil {
			return err
		}
		return t.foldExerciseReads(v, trust)
	case r.ExerciseRun != nil:
		return t.foldExerciseRun(v, plain)
	}
	// Chunks are read from the store; directory and activity records of
	// an exercise keep nothing.
	return nil
}

// foldExerciseReads records, per exercise post, the first time the author
// device read it.
func (t *vtx) foldExerciseReads(v *viewRec, trust *crypto.Trust) error {
	m, _ := trust.Member(v.author)
	b := t.b(vbXReads)
	for _, post := range v.rec.Reads.Posts {
		k := t.readKey(post, m.Person, v.author)
		if old := b.Get(k); old != nil {
			if _, c, ok := t.openXRead(k, old); ok && c <= v.clock {
				continue
			}
		}
		sealed, err := t.seal(cat([]byte(vbXReads), k), binary.BigEndian.AppendUint64(bytes.Clone(v.author[:]), v.clock))
		if err != nil {
			return err
		}
		if err := b.Put(k, sealed); err != nil {
			return err
		}
	}
	return nil
}

func (t *vtx) openXRead(k, v []byte) (crypto.DeviceID, uint64, bool) {
	var d crypto.DeviceID
	plain, err := t.open(cat([]byte(vbXReads), k), v)
	if err != nil || len(plain) != len(d)+8 {
		return d, 0, false
	}
	copy(d[:], plain)
	return d, binary.BigEndian.Uint64(plain[len(d):]), true
}

// unfoldExercise takes a removed exercise record out of the exercise
// buckets (the store removed it: a retraction, a revocation's purge). A
// removed read receipt takes out the first reads it set.
func (t *vtx) unfoldExercise(v *viewRec) error {
	r := v.rec
	switch {
	case r.Post != nil:
		return t.b(vbXFeed).Delete(cat(t.xterm(v.exercise), feedKey(v.clock, v.id)))
	case r.Comment != nil:
		return t.b(vbXKids).Delete(cat(r.Comment.Post[:], v.id[:]))
	case r.Incident != nil:
		return t.b(vbXIncidents).Delete(v.id[:])
	case r.IncidentUpdate != nil:
		return t.b(vbXKids).Delete(cat(r.IncidentUpdate.Incident[:], v.id[:]))
	case r.ExerciseRun != nil:
		return t.b(vbXRuns).Delete(v.id[:])
	case r.Reads != nil:
		m, _ := t.a.view.trust.Member(v.author)
		b := t.b(vbXReads)
		for _, post := range r.Reads.Posts {
			k := t.readKey(post, m.Person, v.author)
			if old := b.Get(k); old != nil {
				if d, c, ok := t.openXRead(k, old); ok && d == v.author && c == v.clock {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// kidsOf returns the bucket that lists a post's comments or an incident's
// updates under its ID: kids for real traffic, xkids for an exercise's.
func (t *vtx) kidsOf(v *viewRec) *replica.ViewBucket {
	if v.exercise != "" {
		return t.b(vbXKids)
	}
	return t.b(vbKids)
}

// postCounts returns, for a post's summary, how many people read it,
// whether person did, and its comments: from the exercise buckets for an
// exercise post.
func (t *vtx) postCounts(v *viewRec, person crypto.ID16) (readers int, read bool, comments int) {
	if v.exercise == "" {
		return t.readerCount(v.id), t.readBy(v.id, person), count(t.b(vbKids), v.id[:])
	}
	people := map[crypto.ID16]bool{}
	for p := range t.xreaders(v.id) {
		people[p] = true
	}
	return len(people), !person.IsZero() && people[person], len(t.xcomments(v))
}

// xreaders returns, per person, when they first read exercise post id.
func (t *vtx) xreaders(id envelope.Hash) map[crypto.ID16]uint64 {
	out := map[crypto.ID16]uint64{}
	for d, c := range t.xreaderDevices(id) {
		p := t.a.view.person(d)
		if old, ok := out[p]; !ok || c < old {
			out[p] = c
		}
	}
	return out
}

// xreaderDevices returns, per device, when it first read exercise post id.
func (t *vtx) xreaderDevices(id envelope.Hash) map[crypto.DeviceID]uint64 {
	out := map[crypto.DeviceID]uint64{}
	eachPrefix(t.b(vbXReads), id[:], func(k, v []byte) bool {
		if d, c, ok := t.openXRead(k, v); ok {
			out[d] = c
		}
		return true
	})
	return out
}

// readersOf and readerDevicesOf are readers and readerDevices for a post
// of either kind.
func (t *vtx) readersOf(p *viewRec) map[crypto.ID16]uint64 {
	if p.exercise == "" {
		return t.readers(p.id)
	}
	return t.xreaders(p.id)
}

func (t *vtx) readerDevicesOf(p *viewRec) []crypto.DeviceID {
	if p.exercise == "" {
		return t.readerDevices(p.id)
	}
	var out []crypto.DeviceID
	for d := range t.xreaderDevices(p.id) {
		out = append(out, d)
	}
	return out
}

// xcomments returns the comments on an exercise post that carry its
// exercise's marking.
func (t *vtx) xcomments(p *viewRec) []*viewRec {
	var cs []*viewRec
	eachPrefix(t.b(vbXKids), p.id[:], func(k, _ []byte) bool {
		if c := t.get(envelope.Hash(k[len(p.id):])); c != nil && c.rec != nil && c.rec.Comment != nil && c.exercise == p.exercise {
			cs = append(cs, c)
		}
		return true
	})
	return cs
}

// commentsOf returns a post's comments, oldest first, whichever kind.
func (t *vtx) commentsOf(p *viewRec) []Comment {
	if p.exercise == "" {
		return t.comments(p.id)
	}
	return t.commentList(t.xcomments(p))
}

// runState is one exercise as its coordinators' records say.
type runState struct {
	start   *viewRec
	injects map[string]*viewRec // by inject ID, the first that counts
	stop    *viewRec
}

// runs returns the exercises that a coordinator started, by name.
func (t *vtx) runs() map[string]*runState {
	s := t.a.view
	var recs []*viewRec
	eachPrefix(t.b(vbXRuns), nil, func(k, _ []byte) bool {
		v := t.get(envelope.Hash(k))
		if v == nil || v.rec == nil || v.rec.ExerciseRun == nil {
			return true
		}
		// Only a coordinator's record counts, and only under its own
		// marking.
		if r := v.rec.ExerciseRun; v.exercise == r.Name && s.isCoordinator(v.author) {
			recs = append(recs, v)
		}
		return true
	})
	sort.Slice(recs, func(i, j int) bool { return recs[j].newer(recs[i].meta) })
	out := map[string]*runState{}
	for _, v := range recs {
		r := v.rec.ExerciseRun
		switch r.Phase {
		case ExerciseStart:
			if out[r.Name] == nil {
				out[r.Name] = &runState{start: v, injects: map[string]*viewRec{}}
			}
		}
	}
	for _, v := range recs {
		r := v.rec.ExerciseRun
		st := out[r.Name]
		if st == nil || st.start.newer(v.meta) {
			continue
		}
		if r.Phase == ExerciseStop && st.stop == nil {
			st.stop = v
		}
	}
	for _, v := range recs {
		r := v.rec.ExerciseRun
		st := out[r.Name]
		if st == nil || r.Phase != ExerciseInject || st.start.newer(v.meta) || (st.stop != nil && v.newer(st.stop.meta)) {
			continue
		}
		if st.injects[r.Inject] == nil {
			st.injects[r.Inject] = v
		}
	}
	return out
}

// exerciseRunning reports whether a coordinator started the exercise and
// none stopped it: what the runner asks between injects, without the
// list's figures.
func (a *App) exerciseRunning(name string) bool {
	running := false
	a.read(func(t *vtx) error {
		st := t.runs()[name]
		running = st != nil && st.stop == nil
		return nil
	})
	return running
}

// ExerciseInfo is an exercise as the list shows it.
type ExerciseInfo struct {
	Name  string    `json:"name"`
	Title Text      `json:"title"`
	Start time.Time `json:"start"` // on the scenario's calendar
	// Started is when a coordinator started it; Begins the real time the
	// scenario's start stands for; Speed how much faster than the
	// scenario it plays.
	Started    time.Time `json:"started"`
	StartedBy  string    `json:"started_by"`
	Begins     time.Time `json:"begins"`
	Speed      float64   `json:"speed"`
	Stopped    time.Time `json:"stopped,omitzero"`
	StopReason string    `json:"stop_reason,omitempty"`
	Running    bool      `json:"running"`
	// Scheduled counts the injects of the schedule, Played those played.
	Scheduled int `json:"scheduled"`
	Played    int `json:"played"`
	// Participants counts the organisations, People the people, with any
	// exercise-marked activity.
	Participants int           `json:"participants"`
	People       int           `json:"people"`
	Schedule     []Inject      `json:"schedule"`
	Expect       []Expectation `json:"expect,omitempty"`
}

func (t *vtx) exerciseInfo(name string, st *runState) ExerciseInfo {
	s := t.a.view
	r := st.start.rec.ExerciseRun
	info := ExerciseInfo{Name: name, Title: r.Title, Start: r.Start, Started: wallTime(st.start.clock),
		StartedBy: s.deviceLabel(st.start.author), Begins: r.Begins, Speed: r.Speed, Running: st.stop == nil,
		Scheduled: len(r.Injects), Played: len(st.injects), Schedule: r.Injects, Expect: r.Expect}
	if info.Schedule == nil {
		info.Schedule = []Inject{}
	}
	if st.stop != nil {
		info.Stopped, info.StopReason = wallTime(st.stop.clock), st.stop.rec.ExerciseRun.Reason
	}
	orgs, people := t.participants(name)
	info.Participants, info.People = len(orgs), len(people)
	return info
}

// Exercises lists the exercises a coordinator started, the newest first.
func (a *App) Exercises() []ExerciseInfo {
	out := []ExerciseInfo{}
	a.read(func(t *vtx) error {
		for name, st := range t.runs() {
			out = append(out, t.exerciseInfo(name, st))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Exercise returns one exercise; name "" is the one running (or, when none
// runs, the latest).
func (a *App) Exercise(name string) (ExerciseInfo, error) {
	all := a.Exercises()
	if name == "" {
		for _, e := range all {
			if e.Running {
				return e, nil
			}
		}
		if len(all) > 0 {
			return all[0], nil
		}
		return ExerciseInfo{}, fmt.Errorf("%w: no exercise has run in this community (`noroshi exercise run FILE` starts one)", ErrNotFound)
	}
	for _, e := range all {
		if e.Name == name {
			return e, nil
		}
	}
	return ExerciseInfo{}, fmt.Errorf("%w: no exercise %q (`noroshi exercise list` lists them)", ErrNotFound, name)
}

// maxExerciseFeed bounds the posts ExerciseFeed returns.
const maxExerciseFeed = 5000

// ExerciseFeed lists an exercise's posts this device can read, newest
// first (at most maxExerciseFeed). Each carries Exercise.
func (a *App) ExerciseFeed(name string) ([]PostSummary, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: give the exercise's name (`noroshi exercise list` lists them)", ErrInvalid)
	}
	l := a.localState()
	out := []PostSummary{}
	walked := 0
	a.read(func(t *vtx) error {
		prefix := t.xterm(name)
		eachPrefix(t.b(vbXFeed), prefix, func(k, _ []byte) bool {
			walked++
			v := t.post(feedID(k[len(prefix):]))
			if v == nil || v.exercise != name || !t.a.view.visible(v) {
				return true
			}
			out = append(out, t.summary(v, l))
			return len(out) < maxExerciseFeed
		})
		return nil
	})
	a.walked(walked)
	return out, nil
}

// exerciseIncidents returns the incidents of an exercise that count.
func (t *vtx) exerciseIncidents(name string) []*viewRec {
	s := t.a.view
	var out []*viewRec
	eachPrefix(t.b(vbXIncidents), nil, func(k, _ []byte) bool {
		v := t.get(envelope.Hash(k))
		if v == nil || v.rec == nil || v.rec.Incident == nil || v.exercise != name {
			return true
		}
		if m, ok := s.trust.Member(v.author); ok && (m.Org == v.rec.Incident.Org || m.Role == crypto.RoleCoordinator) {
			out = append(out, v)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[j].newer(out[i].meta) })
	return out
}

// ExerciseIncidents lists an exercise's incidents this device can read,
// most recently updated first. Each carries Exercise.
func (a *App) ExerciseIncidents(name string) ([]Incident, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: give the exercise's name (`noroshi exercise list` lists them)", ErrInvalid)
	}
	out := []Incident{}
	a.read(func(t *vtx) error {
		for _, v := range t.exerciseIncidents(name) {
			out = append(out, t.incident(v))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// participants returns the organisations and people with any activity
// marked for the exercise: its posts, comments, reads, incidents and
// their updates.
func (t *vtx) participants(name string) (map[crypto.ID16]bool, map[crypto.ID16]bool) {
	s := t.a.view
	orgs, people := map[crypto.ID16]bool{}, map[crypto.ID16]bool{}
	add := func(d crypto.DeviceID) {
		if m, ok := s.trust.Member(d); ok && m.Role != crypto.RoleRelay {
			orgs[m.Org], people[m.Person] = true, true
		}
	}
	kids := func(v *viewRec) {
		eachPrefix(t.b(vbXKids), v.id[:], func(k, _ []byte) bool {
			if c := t.get(envelope.Hash(k[len(v.id):])); c != nil && c.exercise == name {
				add(c.author)
			}
			return true
		})
	}
	prefix := t.xterm(name)
	eachPrefix(t.b(vbXFeed), prefix, func(k, _ []byte) bool {
		v := t.post(feedID(k[len(prefix):]))
		if v == nil || v.exercise != name {
			return true
		}
		add(v.author)
		kids(v)
		for d := range t.xreaderDevices(v.id) {
			add(d)
		}
		return true
	})
	for _, v := range t.exerciseIncidents(name) {
		add(v.author)
		kids(v)
	}
	return orgs, people
}

// coordinatorOnly refuses what only a coordinator does with exercises.
func (a *App) coordinatorOnly(what string) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	me, err := a.me()
	if err != nil {
		return err
	}
	if me.Role != crypto.RoleCoordinator {
		return fmt.Errorf("%w: only coordinators %s exercises (this device is %s)", ErrNotAllowed, what, me.Role)
	}
	return nil
}

// writeRun seals an exercise run record to the community.
func (a *App) writeRun(r *ExerciseRun) error {
	a.mu.RLock()
	aud, err := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	_, err = a.write(a.sealed(aud, &Record{Exercise: r.Name, ExerciseRun: r}))
	return err
}

// StartExercise announces an exercise: the scenario's name, title and
// start, when the run begins (begins: the real time the scenario's start
// stands for) and at what speed, its inject schedule (without titles and
// bodies) and the incidents it expects. Coordinators only; a name that
// already ran is refused.
func (a *App) StartExercise(sc *Scenario, begins time.Time, speed float64) (ExerciseInfo, error) {
	if err := a.coordinatorOnly("run"); err != nil {
		return ExerciseInfo{}, err
	}
	if err := checkSpeed(speed); err != nil {
		return ExerciseInfo{}, err
	}
	if _, err := a.Exercise(sc.Name); err == nil {
		return ExerciseInfo{}, fmt.Errorf("%w: exercise %q already ran in this community: give the scenario another name", ErrInvalid, sc.Name)
	}
	sched := make([]Inject, len(sc.Injects))
	for i, in := range sc.Injects {
		in.Title, in.Body = Text{}, Text{}
		sched[i] = in
	}
	r := &ExerciseRun{Name: sc.Name, Phase: ExerciseStart, Title: sc.Title, Start: sc.Start, Begins: begins.UTC(),
		Speed: speed, Injects: sched, Expect: sc.Expect}
	if err := a.writeRun(r); err != nil {
		return ExerciseInfo{}, err
	}
	return a.Exercise(sc.Name)
}

func checkSpeed(speed float64) error {
	if !(speed >= minSpeed && speed <= maxSpeed) {
		return fmt.Errorf("%w: speed %g: from %g to %g (1 plays in real time, 60 an hour a minute)", ErrInvalid, speed, minSpeed, maxSpeed)
	}
	return nil
}

// PlayInject posts one inject of a running exercise, marked for it, and
// records which post it is. The post's title and body hold both
// languages, Japanese first. Coordinators only; a stopped exercise plays
// nothing more (ErrExerciseStopped).
func (a *App) PlayInject(name string, in Inject) (PostSummary, error) {
	if err := a.coordinatorOnly("run"); err != nil {
		return PostSummary{}, err
	}
	info, err := a.Exercise(name)
	if err != nil {
		return PostSummary{}, err
	}
	if !info.Running {
		return PostSummary{}, fmt.Errorf("%w: %s was stopped at %s: it plays nothing more", ErrExerciseStopped, name, info.Stopped.Format("2006-01-02 15:04 MST"))
	}
	d := PostDraft{Type: in.Type, Tag: in.Tag, TLP: in.TLP, Channel: in.Channel, Title: bilingual(in.Title, " / "),
		Body: bilingual(in.Body, "\n\n---\n\n"), Exercise: name}
	if !in.Audience.Community {
		d.ToOrgs, err = a.audienceOrgs(in.Audience)
		if err != nil {
			return PostSummary{}, err
		}
	}
	p, err := a.Post(d)
	if err != nil {
		return PostSummary{}, fmt.Errorf("inject %s: %w", in.ID, err)
	}
	var id envelope.Hash
	if err := id.UnmarshalText([]byte(p.ID)); err != nil {
		return PostSummary{}, fmt.Errorf("inject %s: %w", in.ID, err)
	}
	if err := a.writeRun(&ExerciseRun{Name: name, Phase: ExerciseInject, Inject: in.ID, Post: id}); err != nil {
		return PostSummary{}, err
	}
	return p, nil
}

// audienceOrgs resolves an inject's audience to organisation IDs: every
// organisation of the kinds, and those named.
func (a *App) audienceOrgs(au ExerciseAudience) ([]string, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, o := range a.view.orgList() {
		for _, k := range au.Kinds {
			if o.Kind == k {
				add(o.ID)
			}
		}
	}
	for _, q := range au.Orgs {
		id, err := a.view.findOrg(q)
		if err != nil {
			return nil, err
		}
		add(id.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no organisation of the kinds %v in this community: the inject would reach nobody", ErrInvalid, au.Kinds)
	}
	return out, nil
}

// StopExercise ends an exercise with a stop record: name "" is the one
// running. Coordinators only. Stopping one already stopped says when.
func (a *App) StopExercise(name, reason string) (ExerciseInfo, error) {
	if err := a.coordinatorOnly("stop"); err != nil {
		return ExerciseInfo{}, err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > maxStopReason || strings.ContainsAny(reason, "\r\n") {
		return ExerciseInfo{}, fmt.Errorf("%w: a stop reason is one line of at most %d bytes", ErrInvalid, maxStopReason)
	}
	info, err := a.Exercise(name)
	if err != nil {
		return info, err
	}
	if name == "" && !info.Running {
		return info, fmt.Errorf("%w: no exercise is running (the latest, %s, stopped at %s)", ErrNotFound, info.Name, info.Stopped.Format("2006-01-02 15:04 MST"))
	}
	if !info.Running {
		return info, fmt.Errorf("%w: %s already stopped at %s", ErrExerciseStopped, info.Name, info.Stopped.Format("2006-01-02 15:04 MST"))
	}
	if err := a.writeRun(&ExerciseRun{Name: info.Name, Phase: ExerciseStop, Reason: reason}); err != nil {
		return info, err
	}
	return a.Exercise(info.Name)
}

// ExerciseRunOptions says how RunExercise plays a scenario.
type ExerciseRunOptions struct {
	// Speed plays the scenario that many times faster (0: 1).
	Speed float64
	// Begins is the real time the scenario's start stands for (zero: now,
	// by the app's clock). Injects already due play at once.
	Begins time.Time
	// DryRun says what would be played, and when, and writes nothing.
	DryRun bool
	// Sleep waits d or until ctx ends (nil: a timer). Tests pass one that
	// moves their clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Played hears each inject as it is played (or, with DryRun, as it
	// would be); an error from it stops the exercise.
	Played func(InjectPlay) error
}

// InjectPlay is one inject as the runner plays it.
type InjectPlay struct {
	Inject Inject       `json:"inject"`
	Due    time.Time    `json:"due"`
	Post   *PostSummary `json:"post,omitempty"`
	DryRun bool         `json:"dry_run,omitempty"`
}

// RunExercise plays a scenario: the start record, then each inject at its
// time (Begins plus its offset divided by Speed, by the app's clock), as
// an exercise-marked post. Between injects it looks for a stop record
// (`noroshi exercise stop` from another terminal, or another
// coordinator's device) at least every second, and plays nothing more
// once there is one. When ctx ends it writes the stop record itself. It
// returns when every inject was played (the exercise stays open for the
// participants' answers until it is stopped), or when it was stopped.
func (a *App) RunExercise(ctx context.Context, sc *Scenario, o ExerciseRunOptions) (ExerciseInfo, error) {
	if o.Speed == 0 {
		o.Speed = 1
	}
	if err := checkSpeed(o.Speed); err != nil {
		return ExerciseInfo{}, err
	}
	if o.Begins.IsZero() {
		o.Begins = a.cfg.Now()
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	if o.Played == nil {
		o.Played = func(InjectPlay) error { return nil }
	}
	due := func(in Inject) time.Time { return o.Begins.Add(time.Duration(float64(in.Offset) / o.Speed)) }
	if err := a.coordinatorOnly("run"); err != nil {
		return ExerciseInfo{}, err
	}
	if o.DryRun {
		for _, in := range sc.Injects {
			if err := o.Played(InjectPlay{Inject: in, Due: due(in), DryRun: true}); err != nil {
				return ExerciseInfo{}, err
			}
		}
		return ExerciseInfo{Name: sc.Name, Title: sc.Title, Start: sc.Start, Begins: o.Begins, Speed: o.Speed,
			Scheduled: len(sc.Injects), Schedule: sc.Injects, Expect: sc.Expect}, nil
	}
	if _, err := a.StartExercise(sc, o.Begins, o.Speed); err != nil {
		return ExerciseInfo{}, err
	}
	stopWith := func(reason string, cause error) (ExerciseInfo, error) {
		info, err := a.StopExercise(sc.Name, reason)
		if errors.Is(err, ErrExerciseStopped) {
			err = nil
		}
		return info, errors.Join(cause, err)
	}
	for _, in := range sc.Injects {
		at := due(in)
		for {
			if !a.exerciseRunning(sc.Name) {
				return a.Exercise(sc.Name)
			}
			now := a.cfg.Now()
			if !now.Before(at) {
				break
			}
			if err := o.Sleep(ctx, min(at.Sub(now), exercisePoll)); err != nil {
				return stopWith("interrupted", nil)
			}
		}
		if ctx.Err() != nil {
			return stopWith("interrupted", nil)
		}
		p, err := a.PlayInject(sc.Name, in)
		if errors.Is(err, ErrExerciseStopped) {
			return a.Exercise(sc.Name)
		}
		if err != nil {
			return stopWith("inject "+in.ID+" failed", err)
		}
		if err := o.Played(InjectPlay{Inject: in, Due: at, Post: &p}); err != nil {
			return stopWith("the runner's output went away", err)
		}
	}
	return a.Exercise(sc.Name)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ExerciseReport says how an exercise went: for each organisation it was
// played to, the time to read each inject (the first read by any of its
// members) and to report each incident the scenario expected of it (an
// exercise incident of the expected category by that organisation after
// the inject), who took part, and what was missed. Durations are in
// seconds of real time.
type ExerciseReport struct {
	Exercise ExerciseInfo    `json:"exercise"`
	Injects  []ReportInject  `json:"injects"`
	Orgs     []ReportOrg     `json:"orgs"`
	People   []ReportPerson  `json:"people"`
	Missed   []ReportMiss    `json:"missed"`
	Expected []ReportExpects `json:"expected"`
}

// ReportInject is one inject of the schedule: played or not, and how many
// of the organisations it went to read it.
type ReportInject struct {
	ID       string    `json:"id"`
	Part     int       `json:"part,omitempty"`
	Title    string    `json:"title,omitempty"`
	Post     string    `json:"post,omitempty"`
	Played   time.Time `json:"played,omitzero"`
	Orgs     int       `json:"orgs"`
	ReadOrgs int       `json:"read_orgs"`
}

// ReportOrg is one organisation an inject went to.
type ReportOrg struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Kind     OrgKind      `json:"kind"`
	TookPart bool         `json:"took_part"`
	Reads    []ReportRead `json:"reads"`
}

// ReportRead is an organisation's first read of an inject: Read false when
// nobody of it read it (or it did not go to it: Addressed false).
type ReportRead struct {
	Inject    string  `json:"inject"`
	Addressed bool    `json:"addressed"`
	Read      bool    `json:"read"`
	Seconds   float64 `json:"seconds,omitempty"`
	ReadBy    string  `json:"read_by,omitempty"`
}

// ReportExpects is one expected incident for one organisation.
type ReportExpects struct {
	Org      string   `json:"org"`
	OrgName  string   `json:"org_name"`
	Category Category `json:"category"`
	After    string   `json:"after"`
	// Within is the expected time in real seconds (the scenario's divided
	// by the speed); 0: no bound.
	Within   float64 `json:"within,omitempty"`
	Reported bool    `json:"reported"`
	Incident string  `json:"incident,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Late     bool    `json:"late,omitempty"`
	// NotPlayed: the inject it follows was never played.
	NotPlayed bool `json:"not_played,omitempty"`
}

// ReportPerson is one person who took part.
type ReportPerson struct {
	Name    string `json:"name"`
	OrgName string `json:"org_name"`
}

// Kinds of ReportMiss.
const (
	MissUnread     = "unread"
	MissUnreported = "unreported"
	MissLate       = "late"
)

var missOrder = map[string]int{MissUnread: 0, MissUnreported: 1, MissLate: 2}

// ReportMiss is one thing an organisation missed: an inject nobody of it
// read, an expected incident not reported, or reported late.
type ReportMiss struct {
	Kind     string   `json:"kind"`
	Org      string   `json:"org"`
	OrgName  string   `json:"org_name"`
	Inject   string   `json:"inject"`
	Category Category `json:"category,omitempty"`
}

// ExerciseReport reports on an exercise (name "": the one running, else the
// latest). Read times come from the read receipts this device holds, the
// incidents from those it can open. Coordinators only: it names every
// organisation's reading and reporting times (as only an author, its
// organisation's admins and coordinators see who read a post), and only a
// coordinator opens every organisation's incidents.
func (a *App) ExerciseReport(name string) (ExerciseReport, error) {
	if err := a.coordinatorOnly("report on"); err != nil {
		return ExerciseReport{}, err
	}
	info, err := a.Exercise(name)
	if err != nil {
		return ExerciseReport{}, err
	}
	name = info.Name
	rep := ExerciseReport{Exercise: info, Injects: []ReportInject{}, Orgs: []ReportOrg{}, People: []ReportPerson{},
		Missed: []ReportMiss{}, Expected: []ReportExpects{}}
	err = a.read(func(t *vtx) error {
		s := t.a.view
		st := t.runs()[name]
		if st == nil {
			return fmt.Errorf("%w: no exercise %q", ErrNotFound, name)
		}
		speed := max(info.Speed, minSpeed)
		orgList := s.orgList()
		kindOf := map[string]OrgKind{}
		for _, o := range orgList {
			kindOf[o.ID] = o.Kind
		}
		// Each played inject: its post, its audience, each organisation's
		// first read.
		type played struct {
			post     *viewRec
			audience map[string]bool
			first    map[string]uint64 // org -> first read clock
			by       map[string]crypto.ID16
		}
		plays := map[string]*played{}
		rows := map[string]bool{}
		for _, in := range info.Schedule {
			ri := ReportInject{ID: in.ID, Part: in.Part}
			iv := st.injects[in.ID]
			var p *viewRec
			if iv != nil {
				p = t.post(iv.rec.ExerciseRun.Post)
			}
			if p == nil || p.exercise != name {
				rep.Injects = append(rep.Injects, ri)
				continue
			}
			pl := &played{post: p, audience: map[string]bool{}, first: map[string]uint64{}, by: map[string]crypto.ID16{}}
			plays[in.ID] = pl
			ri.Title, ri.Post, ri.Played = p.rec.Post.Title, p.id.String(), wallTime(p.clock)
			if len(p.rec.Post.ToOrgs) == 0 && len(p.rec.Post.ToPersons) == 0 {
				for _, o := range orgList {
					if o.Kind != KindCoordination {
						pl.audience[o.ID] = true
					}
				}
			}
			for _, o := range p.rec.Post.ToOrgs {
				pl.audience[o.String()] = true
			}
			for person, c := range t.xreaders(p.id) {
				org := s.personOrg(person).String()
				if old, ok := pl.first[org]; !ok || c < old {
					pl.first[org], pl.by[org] = c, person
				}
			}
			for org := range pl.audience {
				rows[org] = true
				if _, ok := pl.first[org]; ok {
					ri.ReadOrgs++
				}
			}
			ri.Orgs = len(pl.audience)
			rep.Injects = append(rep.Injects, ri)
		}
		since := func(from, to uint64) float64 {
			if to <= from {
				return 0
			}
			return replica.Physical(to).Sub(replica.Physical(from)).Seconds()
		}
		partOrgs, partPeople := t.participants(name)
		// Expected incidents, per organisation.
		incs := t.exerciseIncidents(name)
		for _, x := range info.Expect {
			var orgs []string
			if x.Org != "" {
				if id, err := s.findOrg(x.Org); err == nil {
					orgs = append(orgs, id.String())
				}
			} else {
				for _, o := range orgList {
					pl := plays[x.After]
					if o.Kind == x.Kind && (pl == nil || pl.audience[o.ID]) {
						orgs = append(orgs, o.ID)
					}
				}
			}
			sort.Strings(orgs)
			for _, org := range orgs {
				var oid crypto.ID16
				oid.UnmarshalText([]byte(org))
				e := ReportExpects{Org: org, OrgName: s.orgName(oid), Category: x.Category, After: x.After}
				if x.Within > 0 {
					e.Within = x.Within.Seconds() / speed
				}
				pl := plays[x.After]
				if pl == nil {
					e.NotPlayed = true
					rep.Expected = append(rep.Expected, e)
					continue
				}
				rows[org] = true
				for _, v := range incs {
					inc := v.rec.Incident
					if inc.Org == oid && inc.Category == x.Category && v.clock >= pl.post.clock {
						e.Reported, e.Incident, e.Seconds = true, v.id.String(), since(pl.post.clock, v.clock)
						break // incs are oldest first
					}
				}
				e.Late = e.Reported && e.Within > 0 && e.Seconds > e.Within
				switch {
				case !e.Reported:
					rep.Missed = append(rep.Missed, ReportMiss{Kind: MissUnreported, Org: org, OrgName: e.OrgName, Inject: x.After, Category: x.Category})
				case e.Late:
					rep.Missed = append(rep.Missed, ReportMiss{Kind: MissLate, Org: org, OrgName: e.OrgName, Inject: x.After, Category: x.Category})
				}
				rep.Expected = append(rep.Expected, e)
			}
		}
		// One row per organisation an inject went to (or an expectation
		// named), in name order.
		var ids []string
		for org := range rows {
			ids = append(ids, org)
		}
		for _, o := range orgList {
			if rows[o.ID] {
				continue
			}
			var oid crypto.ID16
			if oid.UnmarshalText([]byte(o.ID)) == nil && partOrgs[oid] && o.Kind != KindCoordination {
				ids = append(ids, o.ID) // took part, though nothing went to it
			}
		}
		for _, org := range ids {
			var oid crypto.ID16
			oid.UnmarshalText([]byte(org))
			ro := ReportOrg{ID: org, Name: s.orgName(oid), Kind: kindOf[org], TookPart: partOrgs[oid], Reads: []ReportRead{}}
			for _, in := range info.Schedule {
				r := ReportRead{Inject: in.ID}
				pl := plays[in.ID]
				if pl == nil {
					ro.Reads = append(ro.Reads, r)
					continue
				}
				r.Addressed = pl.audience[org]
				if c, ok := pl.first[org]; ok {
					r.Read, r.Seconds, r.ReadBy = true, since(pl.post.clock, c), s.personName(pl.by[org])
				} else if r.Addressed {
					rep.Missed = append(rep.Missed, ReportMiss{Kind: MissUnread, Org: org, OrgName: ro.Name, Inject: in.ID})
				}
				ro.Reads = append(ro.Reads, r)
			}
			rep.Orgs = append(rep.Orgs, ro)
		}
		sort.Slice(rep.Orgs, func(i, j int) bool {
			if rep.Orgs[i].Name != rep.Orgs[j].Name {
				return rep.Orgs[i].Name < rep.Orgs[j].Name
			}
			return rep.Orgs[i].ID < rep.Orgs[j].ID
		})
		order := map[string]int{}
		for i, in := range info.Schedule {
			order[in.ID] = i
		}
		sort.SliceStable(rep.Missed, func(i, j int) bool {
			a, b := rep.Missed[i], rep.Missed[j]
			if a.OrgName != b.OrgName {
				return a.OrgName < b.OrgName
			}
			if order[a.Inject] != order[b.Inject] {
				return order[a.Inject] < order[b.Inject]
			}
			return missOrder[a.Kind] < missOrder[b.Kind]
		})
		for person := range partPeople {
			rep.People = append(rep.People, ReportPerson{Name: s.personName(person), OrgName: s.orgName(s.personOrg(person))})
		}
		sort.Slice(rep.People, func(i, j int) bool {
			if rep.People[i].OrgName != rep.People[j].OrgName {
				return rep.People[i].OrgName < rep.People[j].OrgName
			}
			return rep.People[i].Name < rep.People[j].Name
		})
		return nil
	})
	return rep, err
}

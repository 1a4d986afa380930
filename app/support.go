package app

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// One-stop support, escalation flags and the status rules of the
// consultation window.
//
// The reporter says what help it wants (SupportKind, when reporting or by
// an update). A coordinator passes the incident to support organisations
// (kinds security-agency, law-enforcement, organising-committee): one
// envelope per addressed organisation, an IncidentUpdate carrying a
// SupportRequestRecord, sealed to the reporting organisation's key and the
// addressed organisation's key only, with a snapshot of the incident (the
// addressed organisation cannot open the incident record). Its members, or
// a coordinator, answer (accept, decline with a reason, report back with a
// note), sealed to the reporting organisation and that addressed
// organisation. Support organisation A therefore holds the snapshot, its
// own requests and their answers, and no key to anything of organisation
// B's: sealed, not filtered.
//
// Authority is judged when a view is read, against the trust state of the
// whole set, like every other view:
//
//	request        counts only from a coordinator, to an organisation of a support kind
//	answer         counts only from a member of the addressed organisation or a coordinator,
//	               for a request that counts; a decline needs a reason, a report a note
//	status move    by statusRules (below), applied in (clock, ID) order
//	notes, assign, kinds wanted, affects-event
//	               the reporting organisation's members and coordinators
//	public response, passed to NISC
//	               coordinators only
//
// An update by the reporting organisation or a coordinator that breaks a
// rule (a forbidden move written by a modified client) changes nothing: it
// stays in the timeline with Refused set and the reason. Updates by anyone
// else are not shown at all.
//
// The asked bucket, beside the buckets listed in view.go:
//
//	asked      incident ID || request ID -> nil: the support requests this
//	           device opened, so that an addressed organisation lists the
//	           incidents it was asked about. A key whose request is gone
//	           (removed) is skipped when read.
const vbAsked = "asked"

// SupportKind is a kind of help the reporting organisation wants.
type SupportKind string

// Kinds of help wanted.
const (
	SupportRemoteAdvice    SupportKind = "remote-advice"
	SupportOnSite          SupportKind = "on-site"
	SupportMalwareAnalysis SupportKind = "malware-analysis"
	SupportOutageCause     SupportKind = "outage-cause"
)

// SupportKinds lists the kinds of help.
var SupportKinds = []SupportKind{SupportRemoteAdvice, SupportOnSite, SupportMalwareAnalysis, SupportOutageCause}

// ParseSupportKind parses a kind of help.
func ParseSupportKind(s string) (SupportKind, error) { return parseEnum(FieldSupport, s, SupportKinds) }

// ParseSupportKinds parses a comma-separated list of kinds of help, each
// once, in the order of SupportKinds. An empty string is no kind.
func ParseSupportKinds(s string) ([]SupportKind, error) {
	var out []SupportKind
	for _, p := range strings.Split(s, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, err := ParseSupportKind(p)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return normKinds(out), nil
}

// normKinds returns known kinds, each once, in the order of SupportKinds.
func normKinds(ks []SupportKind) []SupportKind {
	out := []SupportKind{}
	for _, k := range SupportKinds {
		for _, x := range ks {
			if x == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// SupportOrgKinds are the kinds of organisation a support request may go to.
var SupportOrgKinds = []OrgKind{KindSecurityAgency, KindLawEnforcement, KindOrganising}

// isSupportOrg reports whether an organisation's kind takes support requests.
func isSupportOrg(k OrgKind) bool {
	for _, s := range SupportOrgKinds {
		if k == s {
			return true
		}
	}
	return false
}

// SupportAnswer is how an addressed organisation answers a request.
type SupportAnswer string

// Answers.
const (
	AnswerAccept  SupportAnswer = "accept"
	AnswerDecline SupportAnswer = "decline" // with a reason
	AnswerReport  SupportAnswer = "report"  // reports back, with a note
)

// SupportState is where a support request stands: open until answered,
// then its latest answer's.
type SupportState string

// States of a support request.
const (
	SupportOpen     SupportState = "open"
	SupportAccepted SupportState = "accepted"
	SupportDeclined SupportState = "declined"
	SupportReported SupportState = "reported-back"
)

// SupportWanted sets the kinds of help wanted anew (empty: none).
type SupportWanted struct {
	Kinds []SupportKind `json:"kinds"`
}

// SupportRequestRecord passes an incident to one support organisation. It
// carries what that organisation needs, as it cannot open the incident.
type SupportRequestRecord struct {
	To    crypto.ID16   `json:"to"`
	Kinds []SupportKind `json:"kinds,omitempty"`
	Note  string        `json:"note,omitempty"`
	// The incident as the addressed organisation sees it.
	Title    string      `json:"title"`
	Category Category    `json:"category"`
	Body     string      `json:"body,omitempty"`
	Affects  Affects     `json:"affects"`
	Org      crypto.ID16 `json:"org"`
	OrgName  string      `json:"org_name"`
	Opened   uint64      `json:"opened"` // the incident's clock
}

// SupportAnswerRecord answers a support request.
type SupportAnswerRecord struct {
	Request envelope.Hash `json:"request"`
	Answer  SupportAnswer `json:"answer"`
	Note    string        `json:"note,omitempty"`
}

// SupportRequest is a support request as the views show it.
type SupportRequest struct {
	ID       string         `json:"id"`
	Org      string         `json:"org"`
	OrgName  string         `json:"org_name"`
	Kinds    []SupportKind  `json:"kinds"`
	Note     string         `json:"note,omitempty"`
	By       string         `json:"by"`
	ByName   string         `json:"by_name"`
	State    SupportState   `json:"state"`
	Opened   time.Time      `json:"opened"`
	Answered *time.Time     `json:"answered,omitempty"` // the first answer's time
	Updated  time.Time      `json:"updated"`
	Answers  []SupportReply `json:"answers"`
	// CanAnswer: this device may answer it (a member of the addressed
	// organisation, or a coordinator).
	CanAnswer bool `json:"can_answer,omitempty"`

	to crypto.ID16
}

// SupportReply is one answer to a support request.
type SupportReply struct {
	ID         string        `json:"id"`
	Answer     SupportAnswer `json:"answer"`
	Note       string        `json:"note,omitempty"`
	Author     string        `json:"author"`
	AuthorName string        `json:"author_name"`
	AuthorOrg  string        `json:"author_org"`
	Time       time.Time     `json:"time"`
}

// IncidentAbilities say what this device may do with one incident (the
// status moves are Incident.Moves).
type IncidentAbilities struct {
	// CanUpdate: notes, assignment, kinds of help wanted.
	CanUpdate bool `json:"can_update,omitempty"`
	// CanSetAffects: the "affects event operations" flag.
	CanSetAffects bool `json:"can_set_affects,omitempty"`
	// CanFlag: the "public response" and "passed to NISC" flags.
	CanFlag bool `json:"can_flag,omitempty"`
	// CanRoute: pass the incident to support organisations.
	CanRoute bool `json:"can_route,omitempty"`
	// CanRepublish: turn it into a community post without names.
	CanRepublish bool `json:"can_republish,omitempty"`
}

// Refusal says why an incident update does not count, or is refused.
type Refusal string

// Refusals.
const (
	RefuseCoordinatorsOnly Refusal = "coordinators-only"   // the move is the coordinators'
	RefuseNotParty         Refusal = "not-party"           // neither the reporting organisation nor a coordinator
	RefuseReopen           Refusal = "reopen-coordinator"  // a closed incident is reopened only by a coordinator
	RefuseReopenReason     Refusal = "reopen-needs-reason" // reopening needs a note saying why
	RefuseNoSuchMove       Refusal = "no-such-move"        // the rules have no such move
	RefuseFlags            Refusal = "flags-coordinators"  // public response and passed-on are the coordinators'
	RefuseRoute            Refusal = "route-coordinators"  // only coordinators pass an incident on
	RefuseNotSupportOrg    Refusal = "not-support-org"     // the organisation takes no support requests
	RefuseNotAddressed     Refusal = "not-addressed"       // the answerer is not of the addressed organisation
	RefuseNoRequest        Refusal = "no-request"          // no support request that counts
	RefuseDeclineReason    Refusal = "decline-needs-reason"
	RefuseReportNote       Refusal = "report-needs-note"
	RefuseClosed           Refusal = "closed-reopen-first" // a closed incident is reopened before it is passed on
	RefuseAlreadyAsked     Refusal = "already-asked"       // the organisation has an open request of this incident
)

// Refusals lists every refusal, for front ends to phrase each.
var Refusals = []Refusal{RefuseCoordinatorsOnly, RefuseNotParty, RefuseReopen, RefuseReopenReason, RefuseNoSuchMove,
	RefuseFlags, RefuseRoute, RefuseNotSupportOrg, RefuseNotAddressed, RefuseNoRequest, RefuseDeclineReason, RefuseReportNote,
	RefuseClosed, RefuseAlreadyAsked}

// Sentence says the refusal in English.
func (r Refusal) Sentence() string {
	switch r {
	case RefuseCoordinatorsOnly:
		return "only coordinators make this move"
	case RefuseNotParty:
		return "only the reporting organisation and coordinators update an incident"
	case RefuseReopen:
		return "a closed incident is reopened only by a coordinator"
	case RefuseReopenReason:
		return "reopening a closed incident needs a reason (a note)"
	case RefuseNoSuchMove:
		return "the status rules have no such move"
	case RefuseFlags:
		return "only coordinators set the public-response and passed-on flags"
	case RefuseRoute:
		return "only coordinators pass an incident to support organisations"
	case RefuseNotSupportOrg:
		return "support requests go only to security agencies, law enforcement and the organising committee"
	case RefuseNotAddressed:
		return "only the addressed organisation and coordinators answer a support request"
	case RefuseNoRequest:
		return "no support request of this incident was made to your organisation"
	case RefuseDeclineReason:
		return "a decline needs a reason"
	case RefuseReportNote:
		return "a report back needs a note"
	case RefuseClosed:
		return "the incident is closed: a coordinator reopens it, with a reason, before passing it on"
	case RefuseAlreadyAsked:
		return "the organisation already has an open request of this incident"
	}
	return string(r)
}

// RuleError refuses an incident update, a support request or an answer:
// why, and for a status move, the move and the moves this device may make
// instead. It unwraps to ErrNotAllowed.
type RuleError struct {
	Why      Refusal
	From, To Status   // a refused status move
	Allowed  []Status // the moves this device may make from From
	Value    string   // what the rule refused, when not a move (an organisation's name)
}

func (e *RuleError) Error() string {
	s := ErrNotAllowed.Error() + ": "
	if e.From != "" || e.To != "" {
		s += fmt.Sprintf("%s -> %s: ", e.From, e.To)
	}
	if e.Value != "" {
		s += e.Value + ": "
	}
	s += e.Why.Sentence()
	if e.From != "" || e.To != "" {
		if len(e.Allowed) == 0 {
			s += " (no move allowed to you from " + string(e.From) + ")"
		} else {
			s += " (allowed to you from " + string(e.From) + ": " + strings.Join(enumNames(e.Allowed), ", ") + ")"
		}
	}
	return s
}

// Unwrap returns ErrNotAllowed.
func (e *RuleError) Unwrap() error { return ErrNotAllowed }

// actor is who writes an incident update, as the rules see it.
type actor int

const (
	actorNone        actor = iota // neither the reporting organisation nor a coordinator
	actorReporter                 // a member of the reporting organisation
	actorCoordinator              // a coordinator (of any organisation)
)

// actorOf returns who m is for an incident of org.
func actorOf(m crypto.Membership, ok bool, org crypto.ID16) actor {
	switch {
	case !ok || m.Role == crypto.RoleRelay:
		return actorNone
	case m.Role == crypto.RoleCoordinator:
		return actorCoordinator
	case m.Org == org:
		return actorReporter
	}
	return actorNone
}

// who may make a status move.
type mover int

const (
	byCoordinators mover = iota + 1 // coordinators
	byBoth                          // the reporting organisation and coordinators
	byReopen                        // coordinators, with a reason
)

// statusRules is the one table of status moves: from -> to -> who may make
// the move. A move not listed is refused (RefuseNoSuchMove); nothing moves
// back to reported. Setting the status an incident already has is no move
// and always passes.
//
//	from          to            who
//	reported      triaged       coordinators
//	reported      coordinating  coordinators
//	reported      responding    reporting organisation, coordinators
//	reported      resolved      reporting organisation, coordinators
//	reported      closed        coordinators
//	triaged       coordinating  coordinators
//	triaged       responding    reporting organisation, coordinators
//	triaged       resolved      reporting organisation, coordinators
//	triaged       closed        coordinators
//	coordinating  triaged       coordinators
//	coordinating  responding    reporting organisation, coordinators
//	coordinating  resolved      reporting organisation, coordinators
//	coordinating  closed        coordinators
//	responding    triaged       coordinators
//	responding    coordinating  coordinators
//	responding    resolved      reporting organisation, coordinators
//	responding    closed        coordinators
//	resolved      coordinating  coordinators
//	resolved      responding    reporting organisation, coordinators (not fixed after all)
//	resolved      closed        reporting organisation, coordinators
//	closed        triaged       coordinators, with a reason (reopening)
//	closed        coordinating  coordinators, with a reason
//	closed        responding    coordinators, with a reason
var statusRules = map[Status]map[Status]mover{
	StatusReported: {StatusTriaged: byCoordinators, StatusCoordinating: byCoordinators, StatusResponding: byBoth,
		StatusResolved: byBoth, StatusClosed: byCoordinators},
	StatusTriaged: {StatusCoordinating: byCoordinators, StatusResponding: byBoth, StatusResolved: byBoth,
		StatusClosed: byCoordinators},
	StatusCoordinating: {StatusTriaged: byCoordinators, StatusResponding: byBoth, StatusResolved: byBoth,
		StatusClosed: byCoordinators},
	StatusResponding: {StatusTriaged: byCoordinators, StatusCoordinating: byCoordinators, StatusResolved: byBoth,
		StatusClosed: byCoordinators},
	StatusResolved: {StatusCoordinating: byCoordinators, StatusResponding: byBoth, StatusClosed: byBoth},
	StatusClosed:   {StatusTriaged: byReopen, StatusCoordinating: byReopen, StatusResponding: byReopen},
}

// checkMove applies statusRules: "" when who may move from to to (with
// note, the update's note).
func checkMove(from, to Status, who actor, note string) Refusal {
	if to == "" || to == from {
		return ""
	}
	if who == actorNone {
		return RefuseNotParty
	}
	m, ok := statusRules[from][to]
	switch {
	case !ok:
		return RefuseNoSuchMove
	case m == byBoth:
		return ""
	case m == byReopen && who != actorCoordinator:
		return RefuseReopen
	case m == byReopen && strings.TrimSpace(note) == "":
		return RefuseReopenReason
	case who != actorCoordinator:
		return RefuseCoordinatorsOnly
	}
	return ""
}

// allowedMoves lists the statuses who may move an incident to from from,
// in the order of Statuses (a reopening needs a note too).
func allowedMoves(from Status, who actor) []Status {
	out := []Status{}
	for _, to := range Statuses {
		if to == from {
			continue
		}
		if r := checkMove(from, to, who, "reason"); r == "" {
			out = append(out, to)
		}
	}
	return out
}

// checkUpdate applies the rules to an update of an incident (not a request
// or an answer) by who, when the incident's status is cur: "" when it
// counts.
func checkUpdate(cur Status, who actor, u *IncidentUpdate) Refusal {
	if who == actorNone {
		return RefuseNotParty
	}
	if r := checkMove(cur, u.Status, who, u.Note); r != "" {
		return r
	}
	if (u.Public != nil || u.PassedOn != nil) && who != actorCoordinator {
		return RefuseFlags
	}
	return ""
}

// foldIncidentUpdate folds an incident's update: a status move, a note,
// an assignment, escalation flags, a support request or its answer. A
// support request is listed in the asked bucket too, for the addressed
// organisation, which cannot open the incident itself.
func (t *vtx) foldIncidentUpdate(v *viewRec, plain []byte) error {
	if err := t.put(v, plain); err != nil {
		return err
	}
	r := v.rec.IncidentUpdate
	if r.Request != nil {
		if err := t.b(vbAsked).Put(cat(r.Incident[:], v.id[:]), nil); err != nil {
			return err
		}
	}
	return t.b(vbKids).Put(cat(r.Incident[:], v.id[:]), nil)
}

// countsRequest reports whether a support request counts: written by a
// coordinator, to an organisation of a support kind.
func (s *state) countsRequest(u *viewRec) bool {
	r := u.rec.IncidentUpdate.Request
	if r == nil || !s.isCoordinator(u.author) {
		return false
	}
	o, ok := s.org(r.To)
	return ok && isSupportOrg(o.Kind)
}

// askedRequests returns the support requests of incident id this device
// opened that count, oldest first.
func (t *vtx) askedRequests(id envelope.Hash) []*viewRec {
	var out []*viewRec
	eachPrefix(t.b(vbAsked), id[:], func(k, _ []byte) bool {
		u := t.get(envelope.Hash(k[len(id):]))
		if u != nil && u.rec != nil && u.rec.IncidentUpdate != nil && u.rec.IncidentUpdate.Request != nil &&
			u.rec.IncidentUpdate.Incident == id && t.a.view.countsRequest(u) {
			out = append(out, u)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[j].newer(out[i].meta) })
	return out
}

// askedOnly returns the incidents this device knows only through support
// requests made to its organisation (it cannot open the incident itself).
func (t *vtx) askedOnly() []envelope.Hash {
	var out []envelope.Hash
	var last envelope.Hash
	eachPrefix(t.b(vbAsked), nil, func(k, _ []byte) bool {
		if len(k) != 2*len(last) {
			return true
		}
		id := envelope.Hash(k[:len(last)])
		if id == last {
			return true
		}
		last = id
		if v := t.get(id); v != nil && v.rec != nil && v.rec.Incident != nil && t.counts(v) {
			return true // readable in full: listed as reported
		}
		if len(t.askedRequests(id)) > 0 {
			out = append(out, id)
		}
		return true
	})
	return out
}

// counts reports whether an incident record counts: reported by a member
// for its own organisation, or by a coordinator for any.
func (t *vtx) counts(v *viewRec) bool {
	m, ok := t.a.view.trust.Member(v.author)
	return ok && (m.Org == v.rec.Incident.Org || m.Role == crypto.RoleCoordinator)
}

// buildIncident builds the view of incident id: from its record v when
// this device can open it, else (v nil) from the snapshot of the latest
// support request made to this device's organisation. Updates are applied
// in (clock, ID) order by the rules above.
func (t *vtx) buildIncident(id envelope.Hash, v *viewRec) Incident {
	s := t.a.view
	me := t.a.viewer()
	var out Incident
	var org crypto.ID16
	if v != nil {
		inc := v.rec.Incident
		org = inc.Org
		out = Incident{
			ID: id.String(), Title: inc.Title, Category: inc.Category, Status: StatusReported,
			Affects: inc.Affects, Support: normKinds(inc.Support),
			Org: inc.Org.String(), OrgName: s.orgName(inc.Org),
			Reporter: v.author.String(), ReporterName: s.deviceName(v.author),
			Opened: wallTime(v.clock), Updated: wallTime(v.clock), Body: inc.Body, Exercise: v.exercise,
			Files: attachmentViews(inc.Attachments),
		}
		out.SupportRequested = inc.SupportRequested || len(out.Support) > 0
	} else {
		reqs := t.askedRequests(id)
		if len(reqs) == 0 {
			return Incident{ID: id.String()}
		}
		last := reqs[len(reqs)-1]
		r := last.rec.IncidentUpdate.Request
		org = r.Org
		name := s.orgName(r.Org)
		if strings.HasPrefix(name, "(") && r.OrgName != "" {
			name = r.OrgName
		}
		out = Incident{
			ID: id.String(), Title: r.Title, Category: r.Category, Affects: r.Affects, Support: normKinds(r.Kinds),
			Org: r.Org.String(), OrgName: name, Opened: wallTime(r.Opened), Updated: wallTime(r.Opened), Body: r.Body,
			Exercise: last.exercise, Files: []Attachment{}, SupportOnly: true,
		}
		out.SupportRequested = len(out.Support) > 0
	}
	out.Timeline = []TimelineEntry{}
	out.Requests = []SupportRequest{}

	var ups []*viewRec
	kids := t.b(vbKids)
	if v != nil {
		kids = t.kidsOf(v) // an exercise incident's updates are in xkids (exercise.go)
	}
	eachPrefix(kids, id[:], func(k, _ []byte) bool {
		u := t.get(envelope.Hash(k[len(id):]))
		if u != nil && u.rec != nil && u.rec.IncidentUpdate != nil {
			ups = append(ups, u)
		}
		return true
	})
	sort.Slice(ups, func(i, j int) bool { return ups[j].newer(ups[i].meta) })

	// Requests that count, first: an answer counts only for one of them,
	// whatever the order the two arrived or were written in.
	requests := map[envelope.Hash]int{}
	for _, u := range ups {
		if r := u.rec.IncidentUpdate.Request; r != nil && s.countsRequest(u) {
			requests[u.id] = len(out.Requests)
			out.Requests = append(out.Requests, SupportRequest{
				ID: u.id.String(), Org: r.To.String(), OrgName: s.orgName(r.To), Kinds: normKinds(r.Kinds), Note: r.Note,
				By: u.author.String(), ByName: s.deviceName(u.author), State: SupportOpen,
				Opened: wallTime(u.clock), Updated: wallTime(u.clock), Answers: []SupportReply{},
				CanAnswer: me.canAnswerSupport(r.To), to: r.To,
			})
		}
	}
	for _, u := range ups {
		r := u.rec.IncidentUpdate
		um, ok := s.trust.Member(u.author)
		who := actorOf(um, ok, org)
		e := TimelineEntry{ID: u.id.String(), Time: wallTime(u.clock), Author: u.author.String(), AuthorName: s.deviceName(u.author),
			AuthorOrg: s.orgName(s.personOrg(s.person(u.author))), Note: r.Note}
		switch {
		case r.Request != nil:
			i, counts := requests[u.id]
			if !counts {
				if who == actorNone {
					continue // not a party: not shown
				}
				e.Refused = RefuseRoute
				if s.isCoordinator(u.author) {
					e.Refused = RefuseNotSupportOrg
				}
			} else {
				e.Request = out.Requests[i].ID
				e.RequestOrg = out.Requests[i].OrgName
				e.Support = out.Requests[i].Kinds
			}
		case r.Answer != nil:
			i, counts := requests[r.Answer.Request]
			addressed := counts && (who == actorCoordinator || (ok && um.Role != crypto.RoleRelay && um.Org == out.Requests[i].to))
			switch {
			case addressed:
				e.Refused = checkAnswer(r.Answer)
			case who == actorNone:
				continue // another organisation's word on a request not its own: ignored
			case !counts:
				e.Refused = RefuseNoRequest
			default:
				e.Refused = RefuseNotAddressed
			}
			e.Answer = r.Answer.Answer
			if counts {
				e.Request, e.RequestOrg = out.Requests[i].ID, out.Requests[i].OrgName
			}
			if e.Refused == "" {
				q := &out.Requests[i]
				q.Answers = append(q.Answers, SupportReply{ID: e.ID, Answer: r.Answer.Answer, Note: r.Answer.Note, Author: e.Author,
					AuthorName: e.AuthorName, AuthorOrg: e.AuthorOrg, Time: e.Time})
				q.State = supportStateOf(r.Answer.Answer)
				q.Updated = e.Time
				if q.Answered == nil {
					at := e.Time
					q.Answered = &at
				}
			}
		default:
			if who == actorNone {
				continue // not a party: not shown
			}
			e.Status, e.Affects, e.Public, e.PassedOn = r.Status, r.Affects, r.Public, r.PassedOn
			if r.Support != nil {
				e.Support, e.SupportSet = normKinds(r.Support.Kinds), true
			}
			if !r.Assign.IsZero() {
				e.Assign, e.AssignOrg, e.AssignID = s.personName(r.Assign), s.orgName(s.personOrg(r.Assign)), r.Assign.String()
			}
			if e.Refused = checkUpdate(out.Status, who, r); e.Refused == "" {
				out.apply(r, e)
			}
		}
		if e.Refused != "" {
			e.RefusedWhy = e.Refused.Sentence()
		}
		out.Updated = e.Time
		out.Timeline = append(out.Timeline, e)
	}
	out.Moves = []Status{}
	if !out.SupportOnly {
		mine := actorOf(me.m, me.active, org)
		if mine != actorNone {
			out.Moves = allowedMoves(out.Status, mine)
		}
		out.IncidentAbilities = IncidentAbilities{
			CanUpdate: mine != actorNone, CanSetAffects: mine != actorNone, CanFlag: mine == actorCoordinator,
			CanRoute: me.canRoute() && out.Status != StatusClosed, CanRepublish: me.canRepublish(),
		}
	} else {
		out.Status = ""
	}
	return out
}

// apply applies an update that counts to the incident's view.
func (out *Incident) apply(r *IncidentUpdate, e TimelineEntry) {
	if r.Status != "" {
		out.Status = r.Status
	}
	if !r.Assign.IsZero() {
		out.Assignee, out.AssigneeName, out.AssigneeOrg = e.AssignID, e.Assign, e.AssignOrg
	}
	if r.Support != nil {
		out.Support = normKinds(r.Support.Kinds)
		out.SupportRequested = len(out.Support) > 0
	}
	if r.Affects != "" {
		out.Affects = r.Affects
	}
	if r.Public != nil {
		out.Public = *r.Public
	}
	if r.PassedOn != nil {
		out.PassedOn = *r.PassedOn
	}
}

// checkAnswer applies the rules of an answer's content.
func checkAnswer(a *SupportAnswerRecord) Refusal {
	switch a.Answer {
	case AnswerAccept:
	case AnswerDecline:
		if strings.TrimSpace(a.Note) == "" {
			return RefuseDeclineReason
		}
	case AnswerReport:
		if strings.TrimSpace(a.Note) == "" {
			return RefuseReportNote
		}
	default:
		return RefuseNoSuchMove
	}
	return ""
}

func supportStateOf(a SupportAnswer) SupportState {
	switch a {
	case AnswerAccept:
		return SupportAccepted
	case AnswerDecline:
		return SupportDeclined
	}
	return SupportReported
}

// SupportRouting passes an incident to support organisations.
type SupportRouting struct {
	// To names the organisations (names or ID prefixes).
	To []string
	// Kinds are the kinds of help asked of them; none: the kinds the
	// reporter wants.
	Kinds []SupportKind
	Note  string
}

// SupportReplyDraft answers a support request.
type SupportReplyDraft struct {
	// Request is the request's ID (prefix); it may be left out when this
	// device may answer exactly one request of the incident.
	Request string
	Answer  SupportAnswer
	// Note is the reason of a decline, the report of a report back, and
	// optional with an accept.
	Note string
}

// pairAudience seals to two organisations: each by its key when this
// device holds it, else its members' devices and the coordinators'.
func (a *App) pairAudience(x, y crypto.ID16) (crypto.Audience, error) {
	var aud crypto.Audience
	for _, org := range []crypto.ID16{x, y} {
		o, err := a.orgAudience(org)
		if err != nil {
			return aud, err
		}
		aud.Groups = append(aud.Groups, o.Groups...)
		aud.Devices = append(aud.Devices, o.Devices...)
	}
	return aud, nil
}

// RouteIncident passes an incident to one or more support organisations
// (coordinators only): one support request per organisation, each sealed to
// the reporting organisation and the addressed organisation only, carrying
// what the addressed organisation needs to know of the incident.
func (a *App) RouteIncident(q string, r SupportRouting) (Incident, error) {
	r.Note = strings.TrimSpace(r.Note)
	if len(r.To) == 0 {
		return Incident{}, &FieldError{Of: OfIncidentNote, Field: FieldTo, Reason: ReasonRequired, Allowed: enumNames(SupportOrgKinds)}
	}
	if len(r.Note) > MaxBody || !utf8.ValidString(r.Note) {
		return Incident{}, fmt.Errorf("%w: the note is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	for _, k := range r.Kinds {
		if _, err := ParseSupportKind(string(k)); err != nil {
			return Incident{}, err
		}
	}
	a.mu.RLock()
	inc, err := a.findIncident(q)
	if err == nil {
		_, err = a.me()
	}
	if err == nil && !a.viewer().canRoute() {
		err = &RuleError{Why: RefuseRoute}
	}
	var cur Incident
	if err == nil {
		err = a.inView(func(t *vtx) error { cur = t.buildIncident(inc.id, inc); return nil })
	}
	if err == nil && cur.Status == StatusClosed {
		err = &RuleError{Why: RefuseClosed}
	}
	var orgs []crypto.ID16
	for _, name := range r.To {
		if err != nil {
			break
		}
		var id crypto.ID16
		if id, err = a.view.findOrg(name); err != nil {
			break
		}
		o, _ := a.view.org(id)
		if !isSupportOrg(o.Kind) {
			err = &RuleError{Why: RefuseNotSupportOrg, Value: fmt.Sprintf("%s is of kind %s", o.Name, o.Kind)}
			break
		}
		for _, q := range cur.Requests {
			if q.Org == id.String() && q.State == SupportOpen && err == nil {
				err = &RuleError{Why: RefuseAlreadyAsked, Value: o.Name}
			}
		}
		if err != nil {
			break
		}
		orgs = appendUnique(orgs, id)
	}
	var builders []builder
	for _, to := range orgs {
		if err != nil {
			break
		}
		var aud crypto.Audience
		if aud, err = a.pairAudience(inc.rec.Incident.Org, to); err != nil {
			break
		}
		kinds := normKinds(r.Kinds)
		if len(r.Kinds) == 0 {
			kinds = cur.Support
		}
		req := &SupportRequestRecord{To: to, Kinds: kinds, Note: r.Note, Title: cur.Title, Category: cur.Category, Body: cur.Body,
			Affects: cur.Affects, Org: inc.rec.Incident.Org, OrgName: cur.OrgName, Opened: inc.clock}
		builders = append(builders, a.sealed(aud, &Record{Exercise: inc.exercise, IncidentUpdate: &IncidentUpdate{Incident: inc.id, Request: req}}))
	}
	a.mu.RUnlock()
	if err != nil {
		return Incident{}, err
	}
	if _, err := a.write(builders...); err != nil {
		return Incident{}, err
	}
	return a.Incident(inc.id.String())
}

// AnswerSupport answers a support request of an incident: accept, decline
// (with a reason) or report back (with a note). Members of the addressed
// organisation and coordinators answer; the answer is sealed to the
// reporting organisation and the addressed organisation.
func (a *App) AnswerSupport(q string, r SupportReplyDraft) (Incident, error) {
	r.Note = strings.TrimSpace(r.Note)
	switch r.Answer {
	case AnswerAccept:
	case AnswerDecline:
		if r.Note == "" {
			return Incident{}, &FieldError{Of: OfSupportAnswer, Field: FieldReason, Reason: ReasonRequired}
		}
	case AnswerReport:
		if r.Note == "" {
			return Incident{}, &FieldError{Of: OfSupportAnswer, Field: FieldNote, Reason: ReasonRequired}
		}
	default:
		return Incident{}, &FieldError{Of: OfSupportAnswer, Field: FieldStatus, Reason: ReasonUnknownValue, Value: string(r.Answer),
			Allowed: enumNames([]SupportAnswer{AnswerAccept, AnswerDecline, AnswerReport})}
	}
	if len(r.Note) > MaxBody || !utf8.ValidString(r.Note) {
		return Incident{}, fmt.Errorf("%w: the note is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	a.mu.RLock()
	_, err := a.me()
	var cur Incident
	var id envelope.Hash
	if err == nil {
		err = a.inView(func(t *vtx) error {
			var v *viewRec
			var err error
			if id, v, err = t.findAnyIncident(q); err == nil {
				cur = t.buildIncident(id, v)
			}
			return err
		})
	}
	var req *SupportRequest
	if err == nil {
		req, err = pickRequest(cur.Requests, r.Request)
	}
	var aud crypto.Audience
	if err == nil {
		reporter, _ := parseID16(cur.Org)
		aud, err = a.pairAudience(reporter, req.to)
	}
	a.mu.RUnlock()
	if err != nil {
		return Incident{}, err
	}
	var rid envelope.Hash
	if err := rid.UnmarshalText([]byte(req.ID)); err != nil {
		return Incident{}, err
	}
	u := &IncidentUpdate{Incident: id, Answer: &SupportAnswerRecord{Request: rid, Answer: r.Answer, Note: r.Note}}
	if _, err := a.write(a.sealed(aud, &Record{Exercise: cur.Exercise, IncidentUpdate: u})); err != nil {
		return Incident{}, err
	}
	return a.Incident(id.String())
}

// pickRequest picks the request an answer is for: by ID prefix q, or the
// only one this device may answer.
func pickRequest(reqs []SupportRequest, q string) (*SupportRequest, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	var hits []*SupportRequest
	for i := range reqs {
		if q == "" && !reqs[i].CanAnswer {
			continue
		}
		if q != "" && (len(q) < 6 || !strings.HasPrefix(reqs[i].ID, q)) {
			continue
		}
		hits = append(hits, &reqs[i])
	}
	switch {
	case len(hits) == 0:
		return nil, &RuleError{Why: RefuseNoRequest}
	case len(hits) > 1:
		return nil, fmt.Errorf("%w: this incident has %d support requests you may answer: name one by its ID", ErrAmbiguous, len(hits))
	case !hits[0].CanAnswer:
		return nil, &RuleError{Why: RefuseNotAddressed, Value: hits[0].OrgName}
	}
	return hits[0], nil
}

// parseID16 parses an organisation or person ID in hex.
func parseID16(s string) (crypto.ID16, error) {
	var id crypto.ID16
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: bad ID %q", ErrInvalid, s)
	}
	copy(id[:], b)
	return id, nil
}

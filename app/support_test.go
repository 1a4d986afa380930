package app

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// supportCommunity is the one-stop support cast: the coordination centre,
// the reporting venue, two support organisations (a security agency and
// the police) and an unrelated power company.
type supportCommunity struct {
	*community
	agency *App // Cyber Agency (security-agency)
	police *App // Prefectural Police (law-enforcement)
}

func newSupportCommunity(t testing.TB) *supportCommunity {
	t.Helper()
	c := newCommunity(t)
	for _, o := range []struct {
		name string
		kind OrgKind
	}{{"Cyber Agency", KindSecurityAgency}, {"Prefectural Police", KindLawEnforcement}} {
		if _, err := c.centre.AddOrg(o.name, o.kind, ""); err != nil {
			t.Fatal(err)
		}
	}
	s := &supportCommunity{community: c}
	s.agency = c.join(t, "Agency Analyst", "Cyber Agency", crypto.RoleMember)
	s.police = c.join(t, "Police Officer", "Prefectural Police", crypto.RoleMember)
	c.all = append(c.all, s.agency, s.police)
	c.sync(t)
	return s
}

func (s *supportCommunity) report(t testing.TB) Incident {
	t.Helper()
	inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatMalware, Title: "Ransom note on the ticket gate server",
		Body: "Files encrypted at 14:05. Contact venue.lead@venue-north.example, 03-1234-5678.", Affects: AffectsYes,
		Support: []SupportKind{SupportMalwareAnalysis, SupportRemoteAdvice}})
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	return inc
}

// envelopesOf returns the envelopes with the given IDs from a's store.
func envelopesOf(t testing.TB, a *App, ids ...string) []*envelope.Envelope {
	t.Helper()
	var out []*envelope.Envelope
	for _, id := range ids {
		var h envelope.Hash
		if err := h.UnmarshalText([]byte(id)); err != nil {
			t.Fatal(err)
		}
		if e, err := a.store.Get(h); err == nil && e != nil {
			out = append(out, e)
		}
	}
	if len(out) != len(ids) {
		t.Fatalf("%d of %d envelopes found", len(out), len(ids))
	}
	return out
}

// TestSupportFlowFourHomes routes an incident to two support organisations;
// A accepts and reports back, B declines with a reason. Each home sees
// exactly its share, and A's device holds no key to B's envelopes.
func TestSupportFlowFourHomes(t *testing.T) {
	s := newSupportCommunity(t)
	inc := s.report(t)
	if !slices.Equal(inc.Support, []SupportKind{SupportRemoteAdvice, SupportMalwareAnalysis}) || !inc.SupportRequested {
		t.Fatalf("kinds wanted %v, requested %v", inc.Support, inc.SupportRequested)
	}
	// A support organisation cannot open the incident before it is asked.
	if got := s.agency.Incidents(); len(got) != 0 {
		t.Fatalf("agency lists %d incidents before being asked", len(got))
	}
	routed, err := s.centre.RouteIncident(inc.ID[:10], SupportRouting{To: []string{"Cyber Agency", "Prefectural Police"}, Note: "Please help the venue"})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed.Requests) != 2 {
		t.Fatalf("%d requests", len(routed.Requests))
	}
	s.sync(t)
	reqOf := func(i Incident, org string) SupportRequest {
		for _, r := range i.Requests {
			if r.OrgName == org {
				return r
			}
		}
		t.Fatalf("no request to %s in %+v", org, i.Requests)
		return SupportRequest{}
	}
	agencyReq, policeReq := reqOf(routed, "Cyber Agency").ID, reqOf(routed, "Prefectural Police").ID

	// The agency sees the snapshot and its own request only.
	list := s.agency.Incidents()
	if len(list) != 1 || !list[0].SupportOnly || list[0].Title != inc.Title || list[0].Body != inc.Body ||
		list[0].OrgName != "Venue North" || list[0].Category != CatMalware || list[0].Affects != AffectsYes {
		t.Fatalf("agency's list: %+v", list)
	}
	if len(list[0].Requests) != 1 || list[0].Requests[0].ID != agencyReq || !list[0].Requests[0].CanAnswer ||
		!slices.Equal(list[0].Requests[0].Kinds, []SupportKind{SupportRemoteAdvice, SupportMalwareAnalysis}) {
		t.Fatalf("agency's requests: %+v", list[0].Requests)
	}
	if _, err := s.agency.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerAccept, Note: "Analyst on the way"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.agency.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerReport, Note: "Sample is LockBit 3.0; decryptor unavailable"}); err != nil {
		t.Fatal(err)
	}
	// The police decline, with a reason (without one it is refused).
	_, err = s.police.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerDecline})
	if fe, ok := AsFieldError(err); !ok || fe.Field != FieldReason || fe.Reason != ReasonRequired {
		t.Fatalf("decline without reason: %v", err)
	}
	declined, err := s.police.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerDecline, Note: "No criminal complaint filed yet"})
	if err != nil {
		t.Fatal(err)
	}
	if len(declined.Requests) != 1 || declined.Requests[0].State != SupportDeclined || declined.Requests[0].Answered == nil {
		t.Fatalf("police's view: %+v", declined.Requests)
	}
	s.sync(t)

	// The reporter and the coordinators see everything.
	for _, a := range []*App{s.venue, s.centre} {
		i, err := a.Incident(inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i.SupportOnly || len(i.Requests) != 2 {
			t.Fatalf("%s: %+v", a.WhoAmI().Name, i.Requests)
		}
		ag, po := reqOf(i, "Cyber Agency"), reqOf(i, "Prefectural Police")
		if ag.State != SupportReported || len(ag.Answers) != 2 || ag.Answered == nil || po.State != SupportDeclined ||
			po.Answers[0].Note != "No criminal complaint filed yet" {
			t.Fatalf("%s: agency %+v police %+v", a.WhoAmI().Name, ag, po)
		}
		// Two requests and three answers in the timeline.
		n := 0
		for _, e := range i.Timeline {
			if e.Request != "" && e.Refused == "" {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("%s: %d support steps in %+v", a.WhoAmI().Name, n, i.Timeline)
		}
	}

	// The agency: its request and answers, nothing of the police's.
	ai, err := s.agency.Incident(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ai.Requests) != 1 || ai.Requests[0].State != SupportReported || len(ai.Timeline) != 3 {
		t.Fatalf("agency: %+v / %+v", ai.Requests, ai.Timeline)
	}
	for _, e := range ai.Timeline {
		if strings.Contains(e.Note, "criminal") || e.RequestOrg == "Prefectural Police" {
			t.Fatalf("agency sees the police's step %+v", e)
		}
	}
	// Sealed, not filtered: the police's request and answer do not open
	// with the agency's keys, and its views hold nothing of them.
	policeAnswer := declined.Requests[0].Answers[0].ID
	for _, e := range envelopesOf(t, s.centre, policeReq, policeAnswer) {
		if _, err := crypto.Open(e, s.agency.dev.Identity(), s.agency.keys); !errors.Is(err, crypto.ErrNotForMe) {
			t.Fatalf("agency opens the police's envelope %s: %v", e.ID().String()[:12], err)
		}
		if _, err := crypto.Open(e, s.power.dev.Identity(), s.power.keys); !errors.Is(err, crypto.ErrNotForMe) {
			t.Fatalf("power opens the police's envelope: %v", err)
		}
		if err := s.agency.read(func(tx *vtx) error {
			if tx.get(e.ID()) != nil {
				t.Errorf("the agency's views hold %s", e.ID().String()[:12])
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// ... and the police hold nothing of the agency's.
	for _, e := range envelopesOf(t, s.centre, agencyReq, ai.Requests[0].Answers[0].ID, ai.Requests[0].Answers[1].ID) {
		if _, err := crypto.Open(e, s.police.dev.Identity(), s.police.keys); !errors.Is(err, crypto.ErrNotForMe) {
			t.Fatalf("police open the agency's envelope: %v", err)
		}
	}
	// The incident record itself stays the venue's and the coordinators'.
	for _, e := range envelopesOf(t, s.centre, inc.ID) {
		for _, a := range []*App{s.agency, s.police, s.power} {
			if _, err := crypto.Open(e, a.dev.Identity(), a.keys); !errors.Is(err, crypto.ErrNotForMe) {
				t.Fatalf("%s opens the incident record: %v", a.WhoAmI().Name, err)
			}
		}
	}
	// An unrelated organisation sees nothing.
	if got := s.power.Incidents(); len(got) != 0 {
		t.Fatalf("power lists %+v", got)
	}
	if _, err := s.power.Incident(inc.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("power finds the incident: %v", err)
	}
}

// TestStatusRulesRefused tries every (from, to, actor) move through the
// app: the forbidden ones are refused with their reason and the moves
// allowed to the device, and write nothing; the allowed ones are the
// incident's Moves.
func TestStatusRulesRefused(t *testing.T) {
	s := newSupportCommunity(t)
	at := map[Status]string{}
	for _, from := range Statuses {
		inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatOutage, Title: "outage " + string(from)})
		if err != nil {
			t.Fatal(err)
		}
		s.sync(t)
		if from != StatusReported {
			if _, err := s.centre.UpdateIncident(inc.ID, IncidentChange{Status: from}); err != nil {
				t.Fatal(err)
			}
		}
		at[from] = inc.ID
	}
	s.sync(t)
	actors := []struct {
		a   *App
		who actor
	}{{s.centre, actorCoordinator}, {s.venue, actorReporter}}
	for _, from := range Statuses {
		for _, ac := range actors {
			before, err := ac.a.Incident(at[from])
			if err != nil {
				t.Fatal(err)
			}
			if before.Status != from {
				t.Fatalf("incident at %s shows %s", from, before.Status)
			}
			var want []Status
			for _, to := range Statuses {
				if to == from {
					continue
				}
				why := checkMove(from, to, ac.who, "")
				if why == "" || why == RefuseReopenReason {
					want = append(want, to)
				}
				if why == "" {
					continue
				}
				_, err := ac.a.UpdateIncident(at[from], IncidentChange{Status: to})
				var re *RuleError
				if !errors.As(err, &re) || re.Why != why || re.From != from || re.To != to || !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("%s -> %s by %d: %v", from, to, ac.who, err)
				}
				if !strings.Contains(err.Error(), why.Sentence()) || !strings.Contains(err.Error(), "allowed to you") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s -> %s: %q", from, to, err)
				}
				if !slices.Equal(re.Allowed, before.Moves) {
					t.Fatalf("%s: error allows %v, incident %v", from, re.Allowed, before.Moves)
				}
			}
			if !slices.Equal(before.Moves, want) && !(len(want) == 0 && len(before.Moves) == 0) {
				t.Fatalf("%s by %d: moves %v, want %v", from, ac.who, before.Moves, want)
			}
			after, _ := ac.a.Incident(at[from])
			if after.Status != from || len(after.Timeline) != len(before.Timeline) {
				t.Fatalf("a refused move wrote something: %+v", after.Timeline)
			}
		}
	}
	// Other organisations move nothing: they cannot even find it.
	for _, a := range []*App{s.power, s.agency} {
		if _, err := a.UpdateIncident(at[StatusReported], IncidentChange{Status: StatusTriaged}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v", a.WhoAmI().Name, err)
		}
	}
	// A closed incident is reopened by a coordinator with a reason.
	if _, err := s.centre.UpdateIncident(at[StatusClosed], IncidentChange{Status: StatusTriaged, Note: "Recurred at 19:10"}); err != nil {
		t.Fatal(err)
	}
	// The reporting organisation closes what it resolved.
	if i, err := s.venue.UpdateIncident(at[StatusResolved], IncidentChange{Status: StatusClosed}); err != nil || i.Status != StatusClosed {
		t.Fatalf("venue closes its resolved incident: %v", err)
	}
	// Flags: the venue sets affects-event, not the coordinators' two.
	yes := true
	if _, err := s.venue.UpdateIncident(at[StatusReported], IncidentChange{Public: &yes}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("venue sets public: %v", err)
	}
	if i, err := s.venue.UpdateIncident(at[StatusReported], IncidentChange{Affects: AffectsYes, SetSupport: true, Support: []SupportKind{SupportOnSite}}); err != nil ||
		i.Affects != AffectsYes || !slices.Equal(i.Support, []SupportKind{SupportOnSite}) {
		t.Fatalf("venue sets affects: %v %+v", err, i)
	}
	i, err := s.centre.UpdateIncident(at[StatusReported], IncidentChange{Public: &yes, PassedOn: &yes})
	if err != nil || !i.Public || !i.PassedOn || !i.CanFlag || !i.CanRoute {
		t.Fatalf("centre flags: %v %+v", err, i)
	}
}

// forgeUpdate writes an incident update as a modified client would: sealed like
// the real thing, with no rule checked.
func forgeUpdate(t testing.TB, a *App, incID string, u IncidentUpdate) envelope.Hash {
	t.Helper()
	a.mu.RLock()
	v, err := a.findIncident(incID)
	var aud crypto.Audience
	if err == nil {
		aud, err = a.orgAudience(v.rec.Incident.Org)
	}
	a.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	u.Incident = v.id
	ids, err := a.write(a.sealed(aud, &Record{IncidentUpdate: &u}))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// TestThreatForgedMoveIgnored: forbidden moves written past the app's
// check (a modified client) change nothing, whatever order the updates
// arrive in: every observer ends with the status the rules give in (clock,
// ID) order, the forged moves in the timeline marked refused.
func TestThreatForgedMoveIgnored(t *testing.T) {
	c := newCommunity(t)
	obs := []*App{c.join(t, "Venue Observer", "Venue North", crypto.RoleMember)}
	writers := []*App{c.centre, c.venue}
	c.all = append(c.all, obs...)
	c.sync(t)
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: fmt.Sprintf("flood %d", round)})
		if err != nil {
			rt.Fatal(err)
		}
		// Only the new report travels: the rest is held already.
		for _, a := range append([]*App{c.centre}, obs...) {
			e := *envelopesOf(t, c.venue, inc.ID)[0]
			if _, err := a.store.Add(&e); err != nil {
				rt.Fatal(err)
			}
			if err := a.refresh(); err != nil {
				rt.Fatal(err)
			}
		}
		n := rapid.IntRange(1, 4).Draw(rt, "updates")
		type step struct {
			id  envelope.Hash
			e   *envelope.Envelope
			who actor
			u   IncidentUpdate
		}
		var steps []step
		for range n {
			w := rapid.IntRange(0, 1).Draw(rt, "writer")
			u := IncidentUpdate{Status: rapid.SampledFrom(Statuses).Draw(rt, "status")}
			if rapid.Bool().Draw(rt, "note") {
				u.Note = "because"
			}
			id := forgeUpdate(t, writers[w], inc.ID, u)
			who := actorCoordinator
			if w == 1 {
				who = actorReporter
			}
			steps = append(steps, step{id: id, e: envelopesOf(t, writers[w], id.String())[0], who: who, u: u})
		}
		// The model: in (clock, ID) order, by the table.
		model := slices.Clone(steps)
		sort.Slice(model, func(i, j int) bool {
			a, b := model[i].e.Header, model[j].e.Header
			if a.Clock != b.Clock {
				return a.Clock < b.Clock
			}
			return model[i].id.String() < model[j].id.String()
		})
		status := StatusReported
		refused := map[string]Refusal{}
		for _, s := range model {
			if r := checkMove(status, s.u.Status, s.who, s.u.Note); r != "" {
				refused[s.id.String()] = r
				continue
			}
			status = s.u.Status
		}
		for k, o := range obs {
			idx := make([]int, len(steps))
			for i := range idx {
				idx[i] = i
			}
			order := rapid.Permutation(idx).Draw(rt, fmt.Sprintf("order%d", k))
			for _, i := range order {
				e := *steps[i].e
				if _, err := o.store.Add(&e); err != nil {
					rt.Fatal(err)
				}
				if err := o.refresh(); err != nil {
					rt.Fatal(err)
				}
			}
		}
		for w, a := range writers {
			var mine []string
			for _, s := range steps {
				if (s.who == actorReporter) == (w == 1) {
					mine = append(mine, s.id.String())
				}
			}
			if len(mine) == 0 {
				continue
			}
			other := writers[1-w]
			for _, e := range envelopesOf(t, a, mine...) {
				c := *e
				if _, err := other.store.Add(&c); err != nil {
					rt.Fatal(err)
				}
			}
			if err := other.refresh(); err != nil {
				rt.Fatal(err)
			}
		}
		for _, a := range append([]*App{c.centre, c.venue}, obs...) {
			got, err := a.Incident(inc.ID)
			if err != nil {
				rt.Fatal(err)
			}
			if got.Status != status || len(got.Timeline) != n {
				rt.Fatalf("%s: status %s, want %s; timeline %+v", a.WhoAmI().Name, got.Status, status, got.Timeline)
			}
			for _, e := range got.Timeline {
				if e.Refused != refused[e.ID] {
					rt.Fatalf("%s: step %s refused %q, want %q", a.WhoAmI().Name, e.ID[:8], e.Refused, refused[e.ID])
				}
			}
		}
	})
}

// TestThreatSupportRouting: only coordinators route, only to support
// organisations; only the addressed organisation (or a coordinator)
// answers, and a forged answer from another organisation is ignored.
func TestThreatSupportRouting(t *testing.T) {
	s := newSupportCommunity(t)
	inc := s.report(t)
	// A member of the reporting organisation routes: refused.
	if _, err := s.venue.RouteIncident(inc.ID, SupportRouting{To: []string{"Cyber Agency"}}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("venue routes: %v", err)
	}
	// A non-support organisation addressed: refused with the reason.
	_, err := s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Metro Power"}})
	var re *RuleError
	if !errors.As(err, &re) || re.Why != RefuseNotSupportOrg || !strings.Contains(err.Error(), "Metro Power is of kind critical-service") {
		t.Fatalf("routing to Metro Power: %v", err)
	}
	// A forged request by the venue (bypassing the check) counts nowhere.
	forgeUpdate(t, s.venue, inc.ID, IncidentUpdate{Request: &SupportRequestRecord{To: s.orgID(t, "Cyber Agency"), Title: "forged"}})
	s.sync(t)
	if i, _ := s.centre.Incident(inc.ID); len(i.Requests) != 0 || i.Timeline[0].Refused != RefuseRoute {
		t.Fatalf("forged request counts: %+v %+v", i.Requests, i.Timeline)
	}
	if _, err := s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Cyber Agency"}}); err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	// The police were not asked: nothing to answer.
	if _, err := s.police.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerAccept}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("police answer: %v", err)
	}
	// A forged answer from the police to the agency's request, sealed to
	// the venue and coordinators: ignored, shown nowhere.
	i, _ := s.centre.Incident(inc.ID)
	var rid envelope.Hash
	if err := rid.UnmarshalText([]byte(i.Requests[0].ID)); err != nil {
		t.Fatal(err)
	}
	s.police.mu.RLock()
	aud, err := s.police.pairAudience(s.orgID(t, "Venue North"), s.orgID(t, "Prefectural Police"))
	s.police.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	var iid envelope.Hash
	iid.UnmarshalText([]byte(inc.ID))
	if _, err := s.police.write(s.police.sealed(aud, &Record{IncidentUpdate: &IncidentUpdate{Incident: iid,
		Answer: &SupportAnswerRecord{Request: rid, Answer: AnswerDecline, Note: "forged by the police"}}})); err != nil {
		t.Fatal(err)
	}
	// And a decline without a reason, forged by the agency.
	agAud, err := s.agency.pairAudienceLocked(s.orgID(t, "Venue North"), s.orgID(t, "Cyber Agency"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.agency.write(s.agency.sealed(agAud, &Record{IncidentUpdate: &IncidentUpdate{Incident: iid,
		Answer: &SupportAnswerRecord{Request: rid, Answer: AnswerDecline}}})); err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	for _, a := range []*App{s.centre, s.venue, s.agency} {
		got, err := a.Incident(inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Requests[0].State != SupportOpen || len(got.Requests[0].Answers) != 0 {
			t.Fatalf("%s: %+v", a.WhoAmI().Name, got.Requests[0])
		}
		for _, e := range got.Timeline {
			if strings.Contains(e.Note, "forged by the police") {
				t.Fatalf("%s shows the police's forged answer", a.WhoAmI().Name)
			}
			if e.Answer == AnswerDecline && e.Refused != RefuseDeclineReason {
				t.Fatalf("%s: decline without reason %+v", a.WhoAmI().Name, e)
			}
		}
	}
	// Through the app: a decline without a reason is refused.
	if _, err := s.agency.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerDecline, Note: "  "}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("decline without reason: %v", err)
	}
}

func (s *supportCommunity) orgID(t testing.TB, name string) crypto.ID16 {
	t.Helper()
	s.centre.mu.RLock()
	defer s.centre.mu.RUnlock()
	id, err := s.centre.view.findOrg(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (a *App) pairAudienceLocked(x, y crypto.ID16) (crypto.Audience, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.pairAudience(x, y)
}

// TestThreatRepublishLeaksNoName: the draft of a re-published incident
// holds no organisation's or person's name, e-mail or phone number from
// the directory; only coordinators make it; the post links back to the
// incident only for those who can open it.
func TestThreatRepublishLeaksNoName(t *testing.T) {
	s := newSupportCommunity(t)
	inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatPhishing, Title: "Venue North staff phished, Venue Lead's account used",
		Body: "Venue Lead (venue.lead@venue-north.example, +81 3 1234 5678, 090-1234-5678) got a mail from 'Metro Power' and " +
			"Duty Officer asked Power Analyst. The lure came from 198.51.100.23 on 2021-07-23 at 14:05.", Affects: AffectsYes})
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	if _, err := s.venue.RepublishDraft(inc.ID); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("venue makes a draft: %v", err)
	}
	d, err := s.centre.RepublishDraft(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	text := d.Title + "\n" + d.Body
	for _, o := range s.centre.Orgs() {
		if strings.Contains(strings.ToLower(text), strings.ToLower(o.Name)) {
			t.Errorf("organisation %q in %q", o.Name, text)
		}
	}
	for _, m := range s.centre.Members() {
		if strings.Contains(strings.ToLower(text), strings.ToLower(m.Name)) {
			t.Errorf("person %q in %q", m.Name, text)
		}
	}
	for _, leak := range []string{"@", "1234", "5678"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q in %q", leak, text)
		}
	}
	for _, keep := range []string{"198.51.100.23", "2021-07-23", "14:05", PlaceholderOrg, PlaceholderPerson, PlaceholderEmail, PlaceholderPhone} {
		if !strings.Contains(text, keep) {
			t.Errorf("%q missing from %q", keep, text)
		}
	}
	if d.Type != TypeIncident || d.Channel != ChannelPro || d.TLP != TLPAmber || d.Incident != inc.ID {
		t.Fatalf("draft %+v", d)
	}
	red := d
	red.TLP = TLPRed
	if _, err := s.centre.Post(red); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("RED re-publication: %v", err)
	}
	p, err := s.centre.Post(d)
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	// The link shows where the incident opens, and nowhere else.
	for _, c := range []struct {
		a    *App
		link bool
	}{{s.centre, true}, {s.venue, true}, {s.power, false}, {s.agency, false}} {
		det, err := c.a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (det.Incident == inc.ID) != c.link || (!c.link && det.Incident != "") {
			t.Fatalf("%s: link %q", c.a.WhoAmI().Name, det.Incident)
		}
	}
	// A member's post cannot claim to re-publish an incident.
	d.Incident = inc.ID
	if _, err := s.venue.Post(d); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("member links a post: %v", err)
	}
}

// TestOldSupportFlagReadable: a record with the old flag and no kinds
// reads as "support requested, kind not said".
func TestOldSupportFlagReadable(t *testing.T) {
	c := newCommunity(t)
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "old style", SupportRequested: true})
	if err != nil {
		t.Fatal(err)
	}
	if !inc.SupportRequested || len(inc.Support) != 0 {
		t.Fatalf("%+v", inc)
	}
	if _, err := ParseSupportKinds("on-site,bogus"); err == nil {
		t.Fatal("bogus kind parsed")
	}
	ks, err := ParseSupportKinds("outage-cause, remote-advice,remote-advice")
	if err != nil || !slices.Equal(ks, []SupportKind{SupportRemoteAdvice, SupportOutageCause}) {
		t.Fatalf("%v %v", ks, err)
	}
}

// TestDemoSupportRuns: the demo's support steps run on a community of the
// demo's shape (the lead calls demoSupport from Demo).
func TestDemoSupportRuns(t *testing.T) {
	c := newCommunity(t)
	for _, o := range []struct {
		name string
		kind OrgKind
	}{{"National CSIRT", KindSecurityAgency}, {"Organising Committee", KindOrganising}} {
		if _, err := c.centre.AddOrg(o.name, o.kind, ""); err != nil {
			t.Fatal(err)
		}
	}
	csirt := c.join(t, "CSIRT Analyst", "National CSIRT", crypto.RoleMember)
	committee := c.join(t, "Committee Security", "Organising Committee", crypto.RoleOrgAdmin)
	c.all = append(c.all, csirt, committee)
	c.sync(t)
	if _, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "UDP flood against venue Wi-Fi controller", Affects: AffectsYes}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if err := demoSupport(c.centre, map[string]*App{"Venue Lead": c.venue, "CSIRT Analyst": csirt, "Committee Security": committee}, c.all); err != nil {
		t.Fatal(err)
	}
	i := c.centre.Incidents()[0]
	if len(i.Requests) != 2 || !i.PassedOn || len(i.Support) != 2 {
		t.Fatalf("%+v", i)
	}
}

// A second request to an organisation that has one open is refused, as is
// routing a closed incident before a coordinator reopens it; once the
// request is answered, the organisation may be asked again.
func TestRouteRefusesDuplicateAndClosed(t *testing.T) {
	s := newSupportCommunity(t)
	inc := s.report(t)
	if _, err := s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Cyber Agency"}}); err != nil {
		t.Fatal(err)
	}
	var re *RuleError
	_, err := s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Cyber Agency"}})
	if !errors.As(err, &re) || re.Why != RefuseAlreadyAsked {
		t.Fatalf("second open request: %v", err)
	}
	if _, err := s.centre.AnswerSupport(inc.ID, SupportReplyDraft{Answer: AnswerDecline, Note: "no analyst free tonight"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Cyber Agency"}}); err != nil {
		t.Fatalf("asking again after a decline: %v", err)
	}
	if _, err := s.centre.UpdateIncident(inc.ID, IncidentChange{Status: StatusClosed}); err != nil {
		t.Fatal(err)
	}
	if i, _ := s.centre.Incident(inc.ID); i.CanRoute {
		t.Error("a closed incident offers routing")
	}
	_, err = s.centre.RouteIncident(inc.ID, SupportRouting{To: []string{"Prefectural Police"}})
	if !errors.As(err, &re) || re.Why != RefuseClosed {
		t.Fatalf("routing a closed incident: %v", err)
	}
}

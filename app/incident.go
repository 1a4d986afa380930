package app

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// IncidentDraft is a report to the consultation window.
type IncidentDraft struct {
	Category Category
	Title    string
	Body     string
	Affects  Affects
	// Support lists the kinds of help wanted (none: no support asked).
	// SupportRequested without kinds is an older front end's "support
	// requested, kind not said".
	Support          []SupportKind
	SupportRequested bool
	Files            []File
	Exercise         string
}

// IncidentChange moves an incident: a new status, a note, an assignee,
// the kinds of help wanted, escalation flags. Zero fields change nothing.
type IncidentChange struct {
	Status Status
	// Note is a note for the timeline; reopening a closed incident needs
	// one (the reason).
	Note string
	// Assign is the person who handles it: a person ID (as Member.Person;
	// a device ID or an ID prefix of at least 6 hex digits also does), or
	// a name only when exactly one person bears it.
	Assign string
	// SetSupport sets the kinds of help wanted to Support (empty: none).
	SetSupport bool
	Support    []SupportKind
	// Affects sets "affects event operations" (the reporting organisation
	// and coordinators); Public ("needs a public response / in the media")
	// and PassedOn ("passed to the security coordination centre") are set
	// by coordinators only.
	Affects  Affects
	Public   *bool
	PassedOn *bool
}

// Incident is an incident with its whole timeline.
//
// For other parts (reports, metrics): Affects, Public and PassedOn are the
// escalation flags; Support the kinds of help wanted; Requests the support
// requests with their state, opened and answered times; Moves the status
// moves this device may make. All are as the rules of support.go judge
// them, against the trust state of the whole set.
type Incident struct {
	ID               string          `json:"id"`
	Title            string          `json:"title"`
	Category         Category        `json:"category"`
	Status           Status          `json:"status"`
	Affects          Affects         `json:"affects_event"`
	SupportRequested bool            `json:"support_requested"`
	Support          []SupportKind   `json:"support"`
	Public           bool            `json:"public_response"`
	PassedOn         bool            `json:"passed_on"`
	Org              string          `json:"org"`
	OrgName          string          `json:"org_name"`
	Reporter         string          `json:"reporter"`
	ReporterName     string          `json:"reporter_name"`
	Assignee         string          `json:"assignee,omitempty"`
	AssigneeName     string          `json:"assignee_name,omitempty"`
	AssigneeOrg      string          `json:"assignee_org,omitempty"`
	Opened           time.Time       `json:"opened"`
	Updated          time.Time       `json:"updated"`
	Body             string          `json:"body,omitempty"`
	Exercise         string          `json:"exercise,omitempty"`
	Files            []Attachment    `json:"files"`
	Timeline         []TimelineEntry `json:"timeline"`
	// Requests are the support requests this device may see: all of them
	// for the reporting organisation and coordinators, its own
	// organisation's for an addressed organisation.
	Requests []SupportRequest `json:"support_requests"`
	// SupportOnly: this device knows the incident only through support
	// requests to its organisation (the snapshot they carry); its status
	// and updates are not shared with it (Status is empty).
	SupportOnly bool `json:"support_only,omitempty"`
	// Moves are the statuses this device may move the incident to now
	// (support.go, statusRules); a reopening needs a note.
	Moves []Status `json:"moves"`
	IncidentAbilities
}

// TimelineEntry is one step of an incident's timeline.
type TimelineEntry struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Author     string    `json:"author"`
	AuthorName string    `json:"author_name"`
	AuthorOrg  string    `json:"author_org"`
	Status     Status    `json:"status,omitempty"`
	Note       string    `json:"note,omitempty"`
	// Assign is the assignee's name, AssignOrg their organisation and
	// AssignID their person ID.
	Assign    string `json:"assign,omitempty"`
	AssignOrg string `json:"assign_org,omitempty"`
	AssignID  string `json:"assign_id,omitempty"`
	// Support, when SupportSet, are the kinds of help wanted set anew (on
	// a request: the kinds asked of that organisation).
	Support    []SupportKind `json:"support,omitempty"`
	SupportSet bool          `json:"support_set,omitempty"`
	Affects    Affects       `json:"affects,omitempty"`
	Public     *bool         `json:"public_response,omitempty"`
	PassedOn   *bool         `json:"passed_on,omitempty"`
	// Request is the support request this step makes (or answers), to
	// RequestOrg; Answer is the answer.
	Request    string        `json:"request,omitempty"`
	RequestOrg string        `json:"request_org,omitempty"`
	Answer     SupportAnswer `json:"answer,omitempty"`
	// Refused, when set, says why this step changed nothing (a move the
	// rules forbid, written by a modified client); RefusedWhy in English.
	Refused    Refusal `json:"refused,omitempty"`
	RefusedWhy string  `json:"refused_why,omitempty"`
}

// ReportIncident opens an incident in the consultation window. It is sealed
// to the reporter's organisation key, which every coordinator also holds.
func (a *App) ReportIncident(d IncidentDraft) (Incident, error) {
	d.Title = strings.TrimSpace(d.Title)
	switch {
	case d.Title == "":
		return Incident{}, &FieldError{Of: OfIncident, Field: FieldTitle, Reason: ReasonRequired, Max: MaxTitle}
	case len(d.Title) > MaxTitle || strings.ContainsAny(d.Title, "\r\n"):
		return Incident{}, &FieldError{Of: OfIncident, Field: FieldTitle, Reason: ReasonTooLong, Max: MaxTitle}
	case len(d.Body) > MaxBody || !utf8.ValidString(d.Body):
		return Incident{}, fmt.Errorf("%w: the description is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	case d.Category == "":
		return Incident{}, &FieldError{Of: OfIncident, Field: FieldCategory, Reason: ReasonRequired, Allowed: enumNames(Categories)}
	}
	if d.Affects == "" {
		d.Affects = AffectsUnknown
	}
	for _, k := range d.Support {
		if _, err := ParseSupportKind(string(k)); err != nil {
			return Incident{}, err
		}
	}
	d.Support = normKinds(d.Support)
	if err := checkFiles(d.Files, a.cfg.MaxAttachment); err != nil {
		return Incident{}, err
	}
	a.mu.RLock()
	me, err := a.me()
	var aud crypto.Audience
	if err == nil {
		aud, err = a.orgAudience(me.Org)
	}
	a.mu.RUnlock()
	if err != nil {
		return Incident{}, err
	}
	rec := &IncidentRecord{Category: d.Category, Title: d.Title, Body: d.Body, Affects: d.Affects, SupportRequested: d.SupportRequested && len(d.Support) == 0, Support: d.Support, Org: me.Org}
	builders, refs := a.attachmentBuilders(aud, d.Files, d.Exercise)
	builders = append(builders, func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		rec.Attachments = refs()
		return a.sealed(aud, &Record{Exercise: d.Exercise, Incident: rec})(pos, clock)
	})
	ids, err := a.write(builders...)
	if err != nil {
		return Incident{}, err
	}
	return a.Incident(ids[len(ids)-1].String())
}

// orgAudience returns the audience of an organisation's own records: its key
// when this device holds it, else its members' devices and the coordinators'.
func (a *App) orgAudience(org crypto.ID16) (crypto.Audience, error) {
	if k, ok := a.currentKey(crypto.ScopeOrg, org); ok {
		return crypto.Audience{Groups: []crypto.GroupKey{k}}, nil
	}
	var aud crypto.Audience
	for _, m := range a.view.trust.Members() {
		if _, revoked := a.view.trust.Revoked(m.Device); revoked {
			continue
		}
		if m.Org == org || m.Role == crypto.RoleCoordinator {
			aud.Devices = append(aud.Devices, m.Public())
		}
	}
	if len(aud.Devices) == 0 {
		return aud, fmt.Errorf("%w: nobody could read a record of this organisation", ErrInvalid)
	}
	return aud, nil
}

// UpdateIncident adds a status change, note, assignment, kinds of help
// wanted or escalation flags. The reporting organisation's members and the
// coordinators may update an incident; status moves follow statusRules and
// the public-response and passed-on flags are the coordinators' (a
// *RuleError says why, and which moves are allowed).
func (a *App) UpdateIncident(q string, c IncidentChange) (Incident, error) {
	c.Note = strings.TrimSpace(c.Note)
	if c.Status == "" && c.Note == "" && c.Assign == "" && !c.SetSupport && c.Affects == "" && c.Public == nil && c.PassedOn == nil {
		return Incident{}, &FieldError{Of: OfIncidentNote, Field: FieldStatus, Reason: ReasonOneRequired, Also: []Field{FieldNote, FieldAssign}}
	}
	if len(c.Note) > MaxBody || !utf8.ValidString(c.Note) {
		return Incident{}, fmt.Errorf("%w: the note is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	if c.Affects != "" {
		if _, err := ParseAffects(string(c.Affects)); err != nil {
			return Incident{}, err
		}
	}
	for _, k := range c.Support {
		if _, err := ParseSupportKind(string(k)); err != nil {
			return Incident{}, err
		}
	}
	u := &IncidentUpdate{Status: c.Status, Note: c.Note, Affects: c.Affects, Public: c.Public, PassedOn: c.PassedOn}
	if c.SetSupport {
		u.Support = &SupportWanted{Kinds: normKinds(c.Support)}
	}
	a.mu.RLock()
	inc, err := a.findIncident(q)
	if err == nil {
		_, err = a.me() // joined and not revoked, or says so
	}
	me := a.viewer()
	if err == nil && !me.canUpdateIncident(inc.rec.Incident.Org) {
		err = fmt.Errorf("%w: only the reporting organisation and coordinators update an incident", ErrNotAllowed)
	}
	if err == nil {
		var cur Incident
		err = a.inView(func(t *vtx) error { cur = t.buildIncident(inc.id, inc); return nil })
		who := actorOf(me.m, me.active, inc.rec.Incident.Org)
		if r := checkUpdate(cur.Status, who, u); err == nil && r != "" {
			err = &RuleError{Why: r}
			if u.Status != "" && checkMove(cur.Status, u.Status, who, u.Note) != "" {
				err = &RuleError{Why: r, From: cur.Status, To: u.Status, Allowed: allowedMoves(cur.Status, who)}
			}
		}
	}
	if err == nil && c.Assign != "" {
		u.Assign, err = a.view.findPerson(c.Assign)
	}
	var aud crypto.Audience
	if err == nil {
		aud, err = a.orgAudience(inc.rec.Incident.Org)
	}
	a.mu.RUnlock()
	if err != nil {
		return Incident{}, err
	}
	u.Incident = inc.id
	if _, err := a.write(a.sealed(aud, &Record{Exercise: inc.exercise, IncidentUpdate: u})); err != nil {
		return Incident{}, err
	}
	return a.Incident(inc.id.String())
}

// Incidents lists the incidents this device can read, most recently
// updated first: those it can open, and those its organisation was asked
// to support (Incident.SupportOnly).
func (a *App) Incidents() []Incident {
	var out []Incident
	a.read(func(t *vtx) error {
		for _, v := range t.reported() {
			out = append(out, t.incident(v))
		}
		for _, id := range t.askedOnly() {
			out = append(out, t.buildIncident(id, nil))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].ID < out[j].ID
	})
	if out == nil {
		out = []Incident{}
	}
	return out
}

// findIncident resolves an incident ID prefix in a view transaction of its
// own, among the incidents this device can open. The caller holds a.mu.
func (a *App) findIncident(q string) (*viewRec, error) {
	var v *viewRec
	err := a.inView(func(t *vtx) error {
		var err error
		v, err = t.findIncident(q)
		return err
	})
	return v, err
}

// Incident returns one incident by ID prefix: one this device can open,
// or one its organisation was asked to support.
func (a *App) Incident(q string) (Incident, error) {
	var out Incident
	err := a.read(func(t *vtx) error {
		id, v, err := t.findAnyIncident(q)
		if err == nil {
			out = t.buildIncident(id, v)
		}
		return err
	})
	return out, err
}

// IncidentAttachment returns a file attached to an incident report, checked
// against its hash.
func (a *App) IncidentAttachment(q, name string) ([]byte, error) {
	a.mu.RLock()
	inc, err := a.findIncident(q)
	var refs []AttachmentRef
	if err == nil {
		refs = inc.rec.Incident.Attachments
	}
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return a.attachment(refs, name, "incident")
}

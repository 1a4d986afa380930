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
	Category         Category
	Title            string
	Body             string
	Affects          Affects
	SupportRequested bool
	Files            []File
	Exercise         string
}

// IncidentChange moves an incident: a new status, a note, an assignee.
type IncidentChange struct {
	Status Status
	Note   string
	// Assign is the person who handles it: a person ID (as Member.Person;
	// a device ID or an ID prefix of at least 6 hex digits also does), or
	// a name only when exactly one person bears it.
	Assign string
}

// Incident is an incident with its whole timeline.
type Incident struct {
	ID               string          `json:"id"`
	Title            string          `json:"title"`
	Category         Category        `json:"category"`
	Status           Status          `json:"status"`
	Affects          Affects         `json:"affects_event"`
	SupportRequested bool            `json:"support_requested"`
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
	rec := &IncidentRecord{Category: d.Category, Title: d.Title, Body: d.Body, Affects: d.Affects, SupportRequested: d.SupportRequested, Org: me.Org}
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

// UpdateIncident adds a status change, note or assignment. The reporting
// organisation's members and the coordinators may update an incident.
func (a *App) UpdateIncident(q string, c IncidentChange) (Incident, error) {
	c.Note = strings.TrimSpace(c.Note)
	if c.Status == "" && c.Note == "" && c.Assign == "" {
		return Incident{}, &FieldError{Of: OfIncidentNote, Field: FieldStatus, Reason: ReasonOneRequired, Also: []Field{FieldNote, FieldAssign}}
	}
	if len(c.Note) > MaxBody || !utf8.ValidString(c.Note) {
		return Incident{}, fmt.Errorf("%w: the note is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	a.mu.RLock()
	inc, err := a.findIncident(q)
	if err == nil {
		_, err = a.me() // joined and not revoked, or says so
	}
	if err == nil && !a.viewer().canUpdateIncident(inc.rec.Incident.Org) {
		err = fmt.Errorf("%w: only the reporting organisation and coordinators update an incident", ErrNotAllowed)
	}
	var assign crypto.ID16
	if err == nil && c.Assign != "" {
		assign, err = a.view.findPerson(c.Assign)
	}
	var aud crypto.Audience
	if err == nil {
		aud, err = a.orgAudience(inc.rec.Incident.Org)
	}
	a.mu.RUnlock()
	if err != nil {
		return Incident{}, err
	}
	u := &IncidentUpdate{Incident: inc.id, Status: c.Status, Note: c.Note, Assign: assign}
	if _, err := a.write(a.sealed(aud, &Record{Exercise: inc.exercise, IncidentUpdate: u})); err != nil {
		return Incident{}, err
	}
	return a.Incident(inc.id.String())
}

// Incidents lists the incidents this device can read, most recently updated first.
func (a *App) Incidents() []Incident {
	var out []Incident
	a.read(func(t *vtx) error {
		for _, v := range t.reported() {
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
	if out == nil {
		out = []Incident{}
	}
	return out
}

// findIncident resolves an incident ID prefix in a view transaction of its
// own. The caller holds a.mu.
func (a *App) findIncident(q string) (*viewRec, error) {
	var v *viewRec
	err := a.inView(func(t *vtx) error {
		var err error
		v, err = t.findIncident(q)
		return err
	})
	return v, err
}

// Incident returns one incident by ID prefix.
func (a *App) Incident(q string) (Incident, error) {
	var out Incident
	err := a.read(func(t *vtx) error {
		v, err := t.findIncident(q)
		if err == nil {
			out = t.incident(v)
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

package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// recordVersion is the version of the sealed domain record encoding.
const recordVersion = 1

// Record is what a sealed envelope carries: one domain record, encoded as
// compact JSON, a newline, then an optional binary blob (attachment chunks).
// Exactly one of the pointers is set. Exercise is the exercise marking: a
// record written during an exercise carries the exercise's name, so exercise
// traffic is never confused with real traffic.
//
// Authority, the record rows of the table in DESIGN.md section 4 (the
// certificate rows are in crypto/trust.go). Every record is kept when
// folded; the rule is applied when a view is read, against the trust state
// of the whole set, so views do not depend on arrival order. Relays write
// nothing (admission refuses their envelopes).
//
//	Community       coordinators
//	Org             coordinators
//	Member          the person's own devices, coordinators, org admins of the person's organisation
//	Post            any member; observation channel: coordinators
//	Comment, Reads  any member
//	Incident        any member, for its own organisation; coordinators, for any
//	IncidentUpdate  coordinators, and members of the reporting organisation, each status
//	                move by the table in support.go (statusRules); a support request:
//	                coordinators; its answer: members of the addressed organisation,
//	                coordinators
//	Contacts        coordinators, org admins of that organisation
//	Assets          coordinators, org admins of that organisation (assets.go)
//	OrgSettings     coordinators, org admins of that organisation (metrics.go)
//	Activity        any member, for its own device (metrics.go)
//	ExerciseRun     coordinators (exercise.go)
//	Chunk           anyone; it counts only where a post or incident names it by ID
//	Revocation      coordinators (the reason shown beside a revocation)
type Record struct {
	V              int               `json:"v"`
	Exercise       string            `json:"exercise,omitempty"`
	Community      *CommunityProfile `json:"community,omitempty"`
	Org            *OrgProfile       `json:"org,omitempty"`
	Member         *MemberProfile    `json:"member,omitempty"`
	Post           *PostRecord       `json:"post,omitempty"`
	Comment        *CommentRecord    `json:"comment,omitempty"`
	Reads          *ReadsRecord      `json:"reads,omitempty"`
	Incident       *IncidentRecord   `json:"incident,omitzero"`
	IncidentUpdate *IncidentUpdate   `json:"incident_update,omitempty"`
	Contacts       *ContactsRecord   `json:"contacts,omitempty"`
	Chunk          *ChunkRecord      `json:"chunk,omitempty"`
	Revocation     *RevocationNote   `json:"revocation,omitempty"`
	Assets         *AssetsRecord     `json:"assets,omitempty"`       // assets.go
	OrgSettings    *OrgSettings      `json:"org_settings,omitempty"` // metrics.go
	Activity       *ActivityRecord   `json:"activity,omitempty"`     // metrics.go
	ExerciseRun    *ExerciseRun      `json:"exercise_run,omitempty"` // exercise.go
	Blob           []byte            `json:"-"`
}

// CommunityProfile names the community. Demo marks a demo community.
type CommunityProfile struct {
	Name string `json:"name"`
	Demo bool   `json:"demo,omitempty"`
}

// OrgProfile describes one organisation; the latest by clock wins.
type OrgProfile struct {
	ID     crypto.ID16 `json:"id"`
	Name   string      `json:"name"`
	Kind   OrgKind     `json:"kind"`
	Sector string      `json:"sector,omitempty"`
}

// MemberProfile names a person (through one of its devices). It counts
// only when written by one of that person's own devices, a coordinator, or
// an org admin of the person's organisation (state.mayWriteProfile): a
// display name never routes anything, recipients resolve to IDs.
type MemberProfile struct {
	Person crypto.ID16     `json:"person"`
	Device crypto.DeviceID `json:"device"`
	Name   string          `json:"name"`
}

// PostRecord is a post. Its ID is its envelope's header ID.
type PostRecord struct {
	Type        PostType        `json:"type"`
	Tag         Tag             `json:"tag"`
	TLP         TLP             `json:"tlp"`
	Channel     Channel         `json:"channel"`
	Title       string          `json:"title"`
	Body        string          `json:"body,omitempty"`
	ToOrgs      []crypto.ID16   `json:"to_orgs,omitempty"`
	ToPersons   []crypto.ID16   `json:"to_persons,omitempty"`
	Attachments []AttachmentRef `json:"attachments,omitempty"`
	Indicators  []Indicator     `json:"indicators,omitempty"`
	// Source, when set, names the outside object the post stands for (a
	// STIX object, a GitHub security advisory): every post of one source
	// is a version of one post, and the views show the newest (sources.go).
	Source *PostSource `json:"source,omitempty"`
	// Advisory, when set, holds a security advisory's structured fields
	// (advisory.go).
	Advisory *AdvisoryFields `json:"advisory,omitempty"`
	// STIX, on a post imported from STIX, is a JSON array of the original
	// objects it stands for (at most MaxSTIX bytes), exported as they came.
	STIX json.RawMessage `json:"stix,omitempty"`
	// Incident, on a post a coordinator re-published from an incident
	// without names, links back to that incident (shown only to those who
	// may see it; support.go).
	Incident envelope.Hash `json:"incident,omitzero"`
	// About, on an observation notice, names the post whose indicator
	// falls inside the addressed organisation's registered assets
	// (assets.go).
	About envelope.Hash `json:"about,omitzero"`
}

// PostSource names the outside object a post stands for. ID is the
// source's own identifier with a scheme ("ghsa:GHSA-xxxx-xxxx-xxxx",
// "stix:report--<uuid>"): whoever writes a version of it, on whichever
// device, the ID decides which post it is, not the author. Modified is the
// source's own revision time: the newest version is shown, the others are
// kept as its history.
type PostSource struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// URL is where the source can be read, when it has such a place.
	URL string `json:"url,omitempty"`
}

// AttachmentRef names a file attached to a post and the chunk envelopes
// that carry it.
type AttachmentRef struct {
	Name   string          `json:"name"`
	Size   int64           `json:"size"`
	SHA256 envelope.Hash   `json:"sha256"`
	Chunks []envelope.Hash `json:"chunks"`
}

// ChunkRecord is one piece of an attachment; the bytes are the record's blob.
type ChunkRecord struct {
	Index int `json:"index"`
}

// CommentRecord comments on a post.
type CommentRecord struct {
	Post envelope.Hash `json:"post"`
	Body string        `json:"body"`
}

// ReadsRecord lists every post its author read since their previous one:
// read receipts are batched, one envelope per member per minute at most.
type ReadsRecord struct {
	Posts []envelope.Hash `json:"posts"`
}

// IncidentRecord opens an incident in the consultation window. Support
// lists the kinds of help wanted; SupportRequested is the flag older
// records carry instead ("support requested, kind not said"), still read.
type IncidentRecord struct {
	Category         Category        `json:"category"`
	Title            string          `json:"title"`
	Body             string          `json:"body,omitempty"`
	Affects          Affects         `json:"affects"`
	SupportRequested bool            `json:"support_requested,omitempty"`
	Support          []SupportKind   `json:"support,omitempty"`
	Org              crypto.ID16     `json:"org"`
	Attachments      []AttachmentRef `json:"attachments,omitempty"`
}

// IncidentUpdate changes an incident: its status, a note, an assignee,
// the kinds of help wanted, the escalation flags; or it is a support
// request to one organisation, or an answer to one (support.go, which
// says who may write what). Unset fields change nothing.
type IncidentUpdate struct {
	Incident envelope.Hash `json:"incident"`
	Status   Status        `json:"status,omitempty"`
	Note     string        `json:"note,omitempty"`
	Assign   crypto.ID16   `json:"assign,omitempty"`
	// Support sets the kinds of help wanted anew.
	Support *SupportWanted `json:"support,omitempty"`
	// Affects sets "affects event operations"; Public "needs a public
	// response / in the media"; PassedOn "passed to the security
	// coordination centre (NISC)".
	Affects  Affects `json:"affects,omitempty"`
	Public   *bool   `json:"public,omitempty"`
	PassedOn *bool   `json:"passed_on,omitempty"`
	// Request passes the incident to one support organisation; Answer
	// answers such a request. Either comes alone.
	Request *SupportRequestRecord `json:"request,omitempty"`
	Answer  *SupportAnswerRecord  `json:"answer,omitempty"`
}

// ContactsRecord is an organisation's whole list of 24-hour contact points;
// the latest by clock wins.
type ContactsRecord struct {
	Org     crypto.ID16    `json:"org"`
	Entries []ContactEntry `json:"entries"`
}

// ContactEntry is one 24-hour contact point.
type ContactEntry struct {
	Role  string `json:"role"`
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
	Hours string `json:"hours,omitempty"`
}

// RevocationNote carries the reason for a revocation, sealed.
type RevocationNote struct {
	Device crypto.DeviceID `json:"device"`
	Reason string          `json:"reason"`
}

// Encode returns the record's plaintext.
func (r *Record) Encode() ([]byte, error) {
	r.V = recordVersion
	if n := r.count(); n != 1 {
		return nil, fmt.Errorf("record holds %d items, want 1", n)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return append(b, r.Blob...), nil
}

func (r *Record) count() int {
	n := 0
	for _, set := range []bool{r.Community != nil, r.Org != nil, r.Member != nil, r.Post != nil,
		r.Comment != nil, r.Reads != nil, r.Incident != nil, r.IncidentUpdate != nil,
		r.Contacts != nil, r.Chunk != nil, r.Revocation != nil, r.Assets != nil, r.OrgSettings != nil,
		r.Activity != nil, r.ExerciseRun != nil} {
		if set {
			n++
		}
	}
	return n
}

// DecodeRecord parses a record's plaintext. Unknown fields are ignored, so
// that a newer writer's additions do not hide a record from an older reader;
// a newer version is refused with a message.
func DecodeRecord(b []byte) (*Record, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, errors.New("record: no header line")
	}
	r := &Record{}
	if err := json.Unmarshal(b[:i], r); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if r.V != recordVersion {
		return nil, fmt.Errorf("record version %d, this program reads %d: upgrade Noroshi", r.V, recordVersion)
	}
	if n := r.count(); n != 1 {
		return nil, fmt.Errorf("record holds %d items, want 1", n)
	}
	if len(b) > i+1 {
		r.Blob = b[i+1:]
	}
	return r, nil
}

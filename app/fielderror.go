package app

import (
	"errors"
	"fmt"
	"strings"
)

// A FieldError says which input was wrong and why, in terms every front end
// phrases its own way: the CLI names its flags, the desktop app its form
// fields, in Japanese or English. Error gives a plain English sentence that
// names no front end's controls, for logs and for callers that do not
// phrase errors themselves.
//
// errors.Is still works with the sentinel errors: a FieldError unwraps to
// Err (ErrInvalid when nil).
type FieldError struct {
	// Err is the sentinel: ErrInvalid, ErrNotAllowed, ErrTooLarge,
	// ErrHasIdentity, ErrHasCommunity, ErrNoIdentity, ErrNotForDevice or
	// ErrAwaitingQuorum. Nil means ErrInvalid.
	Err error
	// Of is what the input belongs to: a post, an incident, a contact...
	Of Subject
	// Field is the input; Reason what is wrong with it.
	Field  Field
	Reason Reason
	// Value is the value given, when there is one to show (an unknown
	// TLP, the home directory in question). Detail is a technical cause
	// (a parse error), shown after the sentence.
	Value  string
	Detail string
	// Min and Max bound a length, in bytes (Min: characters for a
	// passphrase).
	Min, Max int
	// Allowed lists the values that would do (ReasonUnknownValue,
	// ReasonRequired of a choice).
	Allowed []string
	// Also lists further fields: with ReasonRequired, fields that are
	// needed too; with ReasonOneRequired, the alternatives to Field.
	Also []Field
	// With and WithValue name the other input that makes Field wrong or
	// needed: Field is not allowed (or needed) when With is WithValue.
	With      Field
	WithValue string
}

// Field is a stable identifier of an input.
type Field string

// Inputs, by the names the CLI's flags also use where they exist.
const (
	FieldHome        Field = "home"         // the home directory
	FieldName        Field = "name"         // a device's, person's, organisation's or community's name
	FieldPassphrase  Field = "passphrase"   // the key file's passphrase
	FieldTitle       Field = "title"        // a post's or incident's title
	FieldBody        Field = "body"         // a post's body, an incident's description, a comment
	FieldType        Field = "type"         // a post's information type
	FieldTag         Field = "tag"          // a post's title tag
	FieldTLP         Field = "tlp"          // a TLP marking
	FieldChannel     Field = "channel"      // a post's channel
	FieldTo          Field = "to"           // organisations a post goes to
	FieldToMember    Field = "to-member"    // people a post goes to
	FieldReason      Field = "reason"       // why a device is revoked or a post retracted
	FieldOrg         Field = "org"          // an organisation
	FieldOrgKind     Field = "org-kind"     // an organisation's kind
	FieldSector      Field = "sector"       // a critical-service sector
	FieldRole        Field = "role"         // the role an invite gives
	FieldCategory    Field = "category"     // an incident's category
	FieldStatus      Field = "status"       // an incident's status
	FieldNote        Field = "note"         // a note on an incident
	FieldAssign      Field = "assign"       // who an incident is assigned to
	FieldAffects     Field = "affects"      // whether an incident affects the event
	FieldContactRole Field = "contact-role" // a contact point's role ("CSIRT duty")
	FieldContactName Field = "contact-name" // a contact point's person
	FieldPhone       Field = "phone"        // a contact point's phone number
	FieldEmail       Field = "email"        // a contact point's e-mail address
	FieldRequest     Field = "request"      // a join request file
	FieldEndorsement Field = "endorsement"  // an endorsement file
	FieldInvite      Field = "invite"       // an invite file
	FieldSupport     Field = "support"      // the kinds of help an incident's reporter wants (support.go)
)

// Fields lists every field, for front ends to check that they phrase each.
var Fields = []Field{FieldHome, FieldName, FieldPassphrase, FieldTitle, FieldBody, FieldType, FieldTag, FieldTLP, FieldChannel,
	FieldTo, FieldToMember, FieldReason, FieldOrg, FieldOrgKind, FieldSector, FieldRole, FieldCategory, FieldStatus, FieldNote,
	FieldAssign, FieldAffects, FieldContactRole, FieldContactName, FieldPhone, FieldEmail, FieldRequest, FieldEndorsement, FieldInvite, FieldSupport}

// Reason is what is wrong with a field.
type Reason string

// Reasons.
const (
	ReasonRequired     Reason = "required"       // missing or empty (and each of Also)
	ReasonOneRequired  Reason = "one-required"   // give Field or one of Also
	ReasonTooLong      Reason = "too-long"       // more than one line, or more than Max bytes
	ReasonTooShort     Reason = "too-short"      // fewer than Min characters
	ReasonNotText      Reason = "not-text"       // not UTF-8 text
	ReasonUnknownValue Reason = "unknown-value"  // not one of Allowed
	ReasonNotAllowed   Reason = "not-allowed"    // not allowed (with With=WithValue)
	ReasonExactlyOne   Reason = "exactly-one"    // exactly one value (with With=WithValue)
	ReasonExists       Reason = "exists"         // already exists (a home's identity, a community, a name)
	ReasonEmpty        Reason = "empty"          // the home holds no identity yet
	ReasonMalformed    Reason = "malformed"      // not a file of the expected kind
	ReasonNotForDevice Reason = "not-for-device" // made for another device
	ReasonQuorum       Reason = "quorum"         // recorded; a second coordinator must agree
	ReasonNotDemo      Reason = "not-demo"       // the home holds something else than the demo (With: FieldPassphrase when the demo's does not open it)
)

// Reasons lists every reason.
var Reasons = []Reason{ReasonRequired, ReasonOneRequired, ReasonTooLong, ReasonTooShort, ReasonNotText, ReasonUnknownValue,
	ReasonNotAllowed, ReasonExactlyOne, ReasonExists, ReasonEmpty, ReasonMalformed, ReasonNotForDevice, ReasonQuorum, ReasonNotDemo}

// Subject is what a field belongs to.
type Subject string

// Subjects.
const (
	OfIdentity      Subject = "identity"
	OfCommunity     Subject = "community"
	OfOrg           Subject = "organisation"
	OfPost          Subject = "post"
	OfComment       Subject = "comment"
	OfIncident      Subject = "incident"
	OfIncidentNote  Subject = "incident-update"
	OfContact       Subject = "contact"
	OfInvite        Subject = "invite"
	OfRevocation    Subject = "revocation"
	OfRetraction    Subject = "retraction"
	OfDemo          Subject = "demo"
	OfSupportAnswer Subject = "support-answer" // an answer to a support request (support.go)
)

func (e *FieldError) Unwrap() error {
	if e.Err == nil {
		return ErrInvalid
	}
	return e.Err
}

// Error phrases the error in plain English, naming fields by their words.
func (e *FieldError) Error() string {
	msg := e.Unwrap().Error()
	if e.Value != "" && (e.Reason == ReasonExists || e.Reason == ReasonEmpty) && e.Field == FieldHome {
		msg += " (" + e.Value + ")"
	}
	return msg + ": " + e.Sentence()
}

// Sentence is Error without its sentinel: what is wrong, in English.
func (e *FieldError) Sentence() string {
	f := FieldWord(e.Field)
	s := ""
	switch e.Reason {
	case ReasonRequired:
		s = fmt.Sprintf("%s needs %s", article(SubjectWord(e.Of)), f)
		if e.With != "" {
			s = fmt.Sprintf("%s with %s %s needs %s", article(SubjectWord(e.Of)), FieldWord(e.With), e.WithValue, f)
		}
		if len(e.Also) > 0 {
			s += ", " + joinFields(e.Also, "and")
		}
		if len(e.Allowed) > 0 {
			s += " (one of " + strings.Join(e.Allowed, ", ") + ")"
		}
	case ReasonOneRequired:
		s = fmt.Sprintf("give %s", joinFields(append([]Field{e.Field}, e.Also...), "or"))
	case ReasonTooLong:
		s = fmt.Sprintf("the %s must be one line of at most %d bytes", f, e.Max)
		if e.Field == FieldBody || e.Field == FieldNote {
			s = fmt.Sprintf("the %s is UTF-8 text of at most %d bytes", f, e.Max)
		}
	case ReasonTooShort:
		s = fmt.Sprintf("%s too short: use at least %d characters", f, e.Min)
	case ReasonNotText:
		s = fmt.Sprintf("the %s must be UTF-8 text", f)
	case ReasonUnknownValue:
		if e.Value == "" {
			s = fmt.Sprintf("no %s given: use one of %s", f, strings.Join(e.Allowed, ", "))
		} else {
			s = fmt.Sprintf("unknown %s %q: use one of %s", f, e.Value, strings.Join(e.Allowed, ", "))
		}
	case ReasonNotAllowed:
		s = fmt.Sprintf("%s is not allowed", f)
		if e.With != "" {
			s = fmt.Sprintf("%s is not allowed with %s %s", f, FieldWord(e.With), e.WithValue)
		}
	case ReasonExactlyOne:
		s = fmt.Sprintf("give exactly one %s", f)
		if e.With != "" {
			s += fmt.Sprintf(" with %s %s", FieldWord(e.With), e.WithValue)
		}
	case ReasonExists:
		s = fmt.Sprintf("the %s exists already", f)
		if e.Field == FieldHome {
			s = "use another home directory"
		} else if e.Value != "" {
			s = fmt.Sprintf("%s %q exists already", f, e.Value)
		}
	case ReasonEmpty:
		s = "create an identity in it first"
	case ReasonMalformed:
		s = fmt.Sprintf("this is not %s file", article(f))
	case ReasonNotForDevice:
		s = fmt.Sprintf("the %s was made from another device's join request", f)
	case ReasonNotDemo:
		s = fmt.Sprintf("%s holds a real community, not the demo: give the demo a home of its own", e.Value)
		if e.With == FieldPassphrase {
			s = fmt.Sprintf("%s holds a home that the demo passphrase does not open, so it is not the demo: give the demo a home of its own", e.Value)
		}
	case ReasonQuorum:
		s = fmt.Sprintf("your agreement is recorded; another coordinator must agree (%s %s)", f, e.Value)
	default:
		s = fmt.Sprintf("%s: %s", f, e.Reason)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// FieldWord is a field's name in English prose.
func FieldWord(f Field) string {
	switch f {
	case FieldTLP:
		return "TLP"
	case FieldTo:
		return "organisations"
	case FieldToMember:
		return "named people"
	case FieldOrg:
		return "organisation"
	case FieldOrgKind:
		return "organisation kind"
	case FieldAffects:
		return "affects-event value"
	case FieldContactRole:
		return "role"
	case FieldContactName:
		return "name"
	case FieldRequest:
		return "join request"
	case FieldAssign:
		return "assignee"
	case FieldEmail:
		return "e-mail"
	case FieldSupport:
		return "kind of help"
	}
	return string(f)
}

// SubjectWord is a subject's name in English prose.
func SubjectWord(s Subject) string {
	switch s {
	case OfIncidentNote:
		return "incident update"
	case "":
		return "this"
	}
	return string(s)
}

func article(w string) string {
	if w == "this" {
		return w
	}
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

func joinFields(fs []Field, conj string) string {
	ws := make([]string, len(fs))
	for i, f := range fs {
		ws[i] = FieldWord(f)
	}
	if len(ws) == 1 {
		return ws[0]
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " " + conj + " " + ws[len(ws)-1]
}

// AsFieldError returns the FieldError in err's chain, if any.
func AsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// needAll returns a ReasonRequired error for the first of fields that is
// not given, listing the others not given in Also; nil when all are.
func needAll(of Subject, given map[Field]bool, fields ...Field) error {
	var missing []Field
	for _, f := range fields {
		if !given[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &FieldError{Of: of, Field: missing[0], Reason: ReasonRequired, Also: missing[1:]}
}

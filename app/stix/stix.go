// Package stix owns Noroshi's STIX 2.1 vocabulary: the object structs it
// writes and reads (bundle, identity, marking-definition, report, indicator,
// note, incident, sighting, vulnerability, malware, attack-pattern, campaign,
// relationship; any other object is kept as raw JSON), stable identifiers
// (UUIDv5 under a fixed Noroshi namespace, so the same post gets the same
// STIX ID on every device), the TLP 2.0 and TLP 1.0 marking definitions with
// their fixed OASIS IDs, a pattern builder and a parser for simple
// comparison patterns, and a bounded bundle reader.
//
// It is a leaf: it imports no noroshi package. Mapping Noroshi's posts to
// STIX and back is app's business (app/stixio.go).
package stix

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// SpecVersion is the STIX version every object written here carries.
const SpecVersion = "2.1"

// namespace is Noroshi's UUIDv5 namespace, drawn at random once and fixed
// forever: changing it changes every exported ID.
var namespace = [16]byte{0x3f, 0x0c, 0x5c, 0x1e, 0x8a, 0x44, 0x5b, 0x4e, 0x9a, 0x1d, 0x2c, 0x6e, 0x0b, 0x73, 0x51, 0x90}

// ID returns the stable STIX identifier of an object of type typ named by
// name (a post's envelope ID, an organisation's ID): typ--UUIDv5(namespace,
// typ+"/"+name). The same name always gives the same ID.
func ID(typ, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(typ + "/" + name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return typ + "--" + s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

var idPattern = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// TypeOf returns the type part of a STIX identifier, "" when s is not one.
func TypeOf(s string) string {
	m := idPattern.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// TimeLayout is the STIX timestamp layout written here: UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats a time as a STIX timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses a STIX timestamp (RFC 3339, any fraction).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stix: timestamp %q: want RFC 3339 such as 2016-05-12T08:17:27.000Z", s)
	}
	return t.UTC(), nil
}

// Common holds the properties shared by STIX domain and relationship
// objects.
type Common struct {
	Type               string                     `json:"type"`
	SpecVersion        string                     `json:"spec_version"`
	ID                 string                     `json:"id"`
	CreatedByRef       string                     `json:"created_by_ref,omitempty"`
	Created            string                     `json:"created"`
	Modified           string                     `json:"modified"`
	Revoked            bool                       `json:"revoked,omitempty"`
	Labels             []string                   `json:"labels,omitempty"`
	Confidence         *int                       `json:"confidence,omitempty"`
	Lang               string                     `json:"lang,omitempty"`
	ExternalReferences []ExternalReference        `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string                   `json:"object_marking_refs,omitempty"`
	Extensions         map[string]json.RawMessage `json:"extensions,omitempty"`
}

// NewCommon returns the common properties of a new object of type typ
// with the given ID, created and modified at the given times.
func NewCommon(typ, id string, created, modified time.Time) Common {
	if modified.Before(created) {
		modified = created
	}
	return Common{Type: typ, SpecVersion: SpecVersion, ID: id, Created: FormatTime(created), Modified: FormatTime(modified)}
}

// ExternalReference points to non-STIX information (a CVE, a web page).
type ExternalReference struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

// KillChainPhase is a phase of a kill chain.
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// Bundle is a STIX bundle as written. Objects are encoded objects.
type Bundle struct {
	Type    string            `json:"type"`
	ID      string            `json:"id"`
	Objects []json.RawMessage `json:"objects"`
}

// Identity is an organisation (identity_class "organization").
type Identity struct {
	Common
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	Roles         []string `json:"roles,omitempty"`
	IdentityClass string   `json:"identity_class,omitempty"`
	Sectors       []string `json:"sectors,omitempty"`
	Contact       string   `json:"contact_information,omitempty"`
}

// MarkingDefinition is a data marking (a TLP level, a statement).
type MarkingDefinition struct {
	Type              string                     `json:"type"`
	SpecVersion       string                     `json:"spec_version"`
	ID                string                     `json:"id"`
	Created           string                     `json:"created"`
	CreatedByRef      string                     `json:"created_by_ref,omitempty"`
	Name              string                     `json:"name,omitempty"`
	DefinitionType    string                     `json:"definition_type,omitempty"`
	Definition        json.RawMessage            `json:"definition,omitempty"`
	ObjectMarkingRefs []string                   `json:"object_marking_refs,omitempty"`
	Extensions        map[string]json.RawMessage `json:"extensions,omitempty"`
}

// Report is a collection of threat intelligence on one topic: a post.
type Report struct {
	Common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	ReportTypes []string `json:"report_types,omitempty"`
	Published   string   `json:"published"`
	ObjectRefs  []string `json:"object_refs"`
}

// Indicator is a pattern that detects something.
type Indicator struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	IndicatorTypes  []string         `json:"indicator_types,omitempty"`
	Pattern         string           `json:"pattern"`
	PatternType     string           `json:"pattern_type"`
	PatternVersion  string           `json:"pattern_version,omitempty"`
	ValidFrom       string           `json:"valid_from"`
	ValidUntil      string           `json:"valid_until,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// Note is a comment on other objects.
type Note struct {
	Common
	Abstract   string   `json:"abstract,omitempty"`
	Content    string   `json:"content"`
	Authors    []string `json:"authors,omitempty"`
	ObjectRefs []string `json:"object_refs"`
}

// Incident is an incident (a stub in STIX 2.1; the incident core
// extension, IncidentExtensionID, adds status and types).
type Incident struct {
	Common
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// IncidentExtensionID is the OASIS incident core extension definition.
const IncidentExtensionID = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"

// IncidentCore is the incident core extension's property block.
type IncidentCore struct {
	ExtensionType       string   `json:"extension_type"`
	Determination       string   `json:"determination"`
	InvestigationStatus string   `json:"investigation_status"`
	IncidentTypes       []string `json:"incident_types,omitempty"`
	Criticality         *int     `json:"criticality,omitempty"`
}

// Sighting says that something was seen.
type Sighting struct {
	Common
	Description      string   `json:"description,omitempty"`
	FirstSeen        string   `json:"first_seen,omitempty"`
	LastSeen         string   `json:"last_seen,omitempty"`
	Count            *int     `json:"count,omitempty"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	ObservedDataRefs []string `json:"observed_data_refs,omitempty"`
	WhereSightedRefs []string `json:"where_sighted_refs,omitempty"`
	Summary          bool     `json:"summary,omitempty"`
}

// Vulnerability is a flaw in software (a CVE).
type Vulnerability struct {
	Common
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Malware is malicious code (a family or an instance).
type Malware struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	MalwareTypes    []string         `json:"malware_types,omitempty"`
	IsFamily        bool             `json:"is_family"`
	Aliases         []string         `json:"aliases,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// AttackPattern is a kind of attack (TTP).
type AttackPattern struct {
	Common
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	Aliases         []string         `json:"aliases,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// Campaign is a set of attacks with one purpose.
type Campaign struct {
	Common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
	FirstSeen   string   `json:"first_seen,omitempty"`
	LastSeen    string   `json:"last_seen,omitempty"`
	Objective   string   `json:"objective,omitempty"`
}

// Relationship links two objects.
type Relationship struct {
	Common
	RelationshipType string `json:"relationship_type"`
	Description      string `json:"description,omitempty"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
	StartTime        string `json:"start_time,omitempty"`
	StopTime         string `json:"stop_time,omitempty"`
}

// Object is one object as read from a bundle: the properties every
// reader needs, and the object's bytes as they came (Decode reads them
// into one of the structs above).
type Object struct {
	Type              string   `json:"type"`
	ID                string   `json:"id"`
	Created           string   `json:"created,omitempty"`
	Modified          string   `json:"modified,omitempty"`
	CreatedByRef      string   `json:"created_by_ref,omitempty"`
	ObjectMarkingRefs []string `json:"object_marking_refs,omitempty"`
	// GranularMarkingRefs are the marking_ref of each granular marking
	// (STIX 2.1 section 7.2.3): markings of some of the object's
	// properties, which a reader takes as the whole object's.
	GranularMarkingRefs []string `json:"-"`
	// MarkingsMalformed is set when object_marking_refs or
	// granular_markings is there but not as STIX gives it (a list of
	// marking IDs, a list of objects with a string marking_ref or lang):
	// what it says cannot be known, so a reader takes the object as the
	// most restrictive marking (TLP:RED).
	MarkingsMalformed bool   `json:"-"`
	Name              string `json:"name,omitempty"`
	// Value is a cyber observable's value (an address, a domain, a URL).
	Value string `json:"value,omitempty"`
	// Raw is the whole object as it came.
	Raw json.RawMessage `json:"-"`
}

// Decode reads the object into v (a pointer to one of the structs above).
func (o Object) Decode(v any) error {
	if err := json.Unmarshal(o.Raw, v); err != nil {
		return fmt.Errorf("stix: %s: %w", o.ID, err)
	}
	return nil
}

// ModifiedTime returns the object's modified time, else its created time,
// else the zero time.
func (o Object) ModifiedTime() time.Time {
	for _, s := range []string{o.Modified, o.Created} {
		if t, err := ParseTime(s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Marshal encodes an object as compact JSON.
func Marshal(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("stix: encode: %w", err)
	}
	return b, nil
}

// NewBundle wraps objects in a bundle with the given ID name (stable
// bundles for stable input).
func NewBundle(name string, objects []json.RawMessage) Bundle {
	if objects == nil {
		objects = []json.RawMessage{}
	}
	return Bundle{Type: "bundle", ID: ID("bundle", name), Objects: objects}
}

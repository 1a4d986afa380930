package app

import (
	"strings"
)

// TLP is a Traffic Light Protocol 2.0 marking. The labels are never translated.
type TLP string

// TLP 2.0 markings, from least to most restricted.
const (
	TLPClear       TLP = "CLEAR"
	TLPGreen       TLP = "GREEN"
	TLPAmber       TLP = "AMBER"
	TLPAmberStrict TLP = "AMBER+STRICT"
	TLPRed         TLP = "RED"
)

// TLPs lists the markings from least to most restricted.
var TLPs = []TLP{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// ParseTLP parses a marking, case-insensitively, with or without "TLP:".
// TLP 1.0's WHITE reads as CLEAR.
func ParseTLP(s string) (TLP, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "TLP:")
	if u == "WHITE" {
		return TLPClear, nil
	}
	for _, t := range TLPs {
		if string(t) == u {
			return t, nil
		}
	}
	allowed := make([]string, len(TLPs))
	for i, t := range TLPs {
		allowed[i] = strings.ToLower(string(t))
	}
	return "", &FieldError{Field: FieldTLP, Reason: ReasonUnknownValue, Value: s, Allowed: allowed}
}

// Label returns "TLP:RED" and so on.
func (t TLP) Label() string { return "TLP:" + string(t) }

// Tag is a post's title tag.
type Tag string

// Title tags, as JISP used them.
const (
	TagImportant Tag = "important" // 【重要】
	TagCaution   Tag = "caution"   // 【注意】
	TagInfo      Tag = "info"      // 【情報】
)

// Tags lists the title tags.
var Tags = []Tag{TagImportant, TagCaution, TagInfo}

// Mark returns the tag's bracketed Japanese mark, used in both languages as
// JISP did.
func (t Tag) Mark() string {
	switch t {
	case TagImportant:
		return "【重要】"
	case TagCaution:
		return "【注意】"
	case TagInfo:
		return "【情報】"
	}
	return ""
}

// PostType is one of the eight kinds of information JISP carried.
type PostType string

// Information types.
const (
	TypeVulnerability PostType = "vulnerability"
	TypeForeshadowing PostType = "attack-foreshadowing"
	TypeMalware       PostType = "malware"
	TypeAlert         PostType = "alert"
	TypeObservation   PostType = "observation"
	TypeIncident      PostType = "incident"
	TypeSchedule      PostType = "event-schedule"
	TypeEmergency     PostType = "emergency"
)

// PostTypes lists the information types.
var PostTypes = []PostType{TypeVulnerability, TypeForeshadowing, TypeMalware, TypeAlert, TypeObservation, TypeIncident, TypeSchedule, TypeEmergency}

// Channel is where a post appears.
type Channel string

// Channels: pro and general are readable by every member; an organisation's
// observation channel only by it and the coordinators.
const (
	ChannelPro         Channel = "pro"
	ChannelGeneral     Channel = "general"
	ChannelObservation Channel = "observation"
)

// Channels lists the channels.
var Channels = []Channel{ChannelPro, ChannelGeneral, ChannelObservation}

// OrgKind is the kind of a member organisation.
type OrgKind string

// Organisation kinds, from the seed report.
const (
	KindCoordination    OrgKind = "coordination"
	KindOrganising      OrgKind = "organising-committee"
	KindCriticalService OrgKind = "critical-service"
	KindSportsBody      OrgKind = "sports-body"
	KindVenue           OrgKind = "venue"
	KindMinistry        OrgKind = "ministry"
	KindLawEnforcement  OrgKind = "law-enforcement"
	KindSecurityAgency  OrgKind = "security-agency"
	KindOther           OrgKind = "other"
)

// OrgKinds lists the organisation kinds.
var OrgKinds = []OrgKind{KindCoordination, KindOrganising, KindCriticalService, KindSportsBody, KindVenue, KindMinistry, KindLawEnforcement, KindSecurityAgency, KindOther}

// Sectors are the 24 critical-service sectors of the seed report.
var Sectors = []string{
	"telecommunications", "broadcasting", "finance", "aviation", "railways",
	"electricity", "gas", "water", "logistics", "credit-cards",
	"local-government", "sewerage", "airports", "traffic-control",
	"emergency-calls", "weather-disaster-info", "immigration", "expressways",
	"district-heating", "buses", "security-services", "travel", "hospitals",
	"venues",
}

// Category is an incident's category in the consultation window.
type Category string

// Incident categories seen during the Games, and a few more.
const (
	CatOutage           Category = "outage"
	CatTrafficSurge     Category = "traffic-surge"
	CatDoS              Category = "dos"
	CatDefacement       Category = "defacement"
	CatConsultation     Category = "consultation"
	CatMalware          Category = "malware"
	CatRansomware       Category = "ransomware"
	CatPhishing         Category = "phishing"
	CatDataLeak         Category = "data-leak"
	CatMisconfiguration Category = "misconfiguration"
)

// Categories lists the incident categories.
var Categories = []Category{CatOutage, CatTrafficSurge, CatDoS, CatDefacement, CatConsultation, CatMalware, CatRansomware, CatPhishing, CatDataLeak, CatMisconfiguration}

// Status is an incident's state in the consultation window.
type Status string

// Incident statuses, in their usual order.
const (
	StatusReported     Status = "reported"
	StatusTriaged      Status = "triaged"
	StatusCoordinating Status = "coordinating"
	StatusResponding   Status = "responding"
	StatusResolved     Status = "resolved"
	StatusClosed       Status = "closed"
)

// Statuses lists the incident statuses in order.
var Statuses = []Status{StatusReported, StatusTriaged, StatusCoordinating, StatusResponding, StatusResolved, StatusClosed}

// Affects says whether an incident affects the running of the event.
type Affects string

// Values of Affects.
const (
	AffectsYes     Affects = "yes"
	AffectsNo      Affects = "no"
	AffectsUnknown Affects = "unknown"
)

// parseEnum finds s among the allowed values, case-insensitively.
func parseEnum[T ~string](field Field, s string, allowed []T) (T, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if string(a) == l {
			return a, nil
		}
	}
	var zero T
	if l == "" {
		s = ""
	}
	return zero, &FieldError{Field: field, Reason: ReasonUnknownValue, Value: s, Allowed: enumNames(allowed)}
}

func enumNames[T ~string](values []T) []string {
	names := make([]string, len(values))
	for i, a := range values {
		names[i] = string(a)
	}
	return names
}

// ParseTag parses a title tag.
func ParseTag(s string) (Tag, error) { return parseEnum(FieldTag, s, Tags) }

// ParsePostType parses an information type.
func ParsePostType(s string) (PostType, error) { return parseEnum(FieldType, s, PostTypes) }

// ParseChannel parses a channel.
func ParseChannel(s string) (Channel, error) { return parseEnum(FieldChannel, s, Channels) }

// ParseOrgKind parses an organisation kind.
func ParseOrgKind(s string) (OrgKind, error) { return parseEnum(FieldOrgKind, s, OrgKinds) }

// ParseSector parses a critical-service sector.
func ParseSector(s string) (string, error) { return parseEnum(FieldSector, s, Sectors) }

// ParseCategory parses an incident category.
func ParseCategory(s string) (Category, error) { return parseEnum(FieldCategory, s, Categories) }

// ParseStatus parses an incident status.
func ParseStatus(s string) (Status, error) { return parseEnum(FieldStatus, s, Statuses) }

// ParseAffects parses yes, no or unknown.
func ParseAffects(s string) (Affects, error) {
	return parseEnum(FieldAffects, s, []Affects{AffectsYes, AffectsNo, AffectsUnknown})
}

package stix

import (
	"encoding/json"
	"strings"
)

// TLP 2.0 levels as this package names them (the lower-case values of the
// OASIS TLP 2.0 extension's tlp_2_0 property).
const (
	TLPClear       = "clear"
	TLPGreen       = "green"
	TLPAmber       = "amber"
	TLPAmberStrict = "amber+strict"
	TLPRed         = "red"
)

// TLPLevels lists the TLP 2.0 levels from least to most restricted.
var TLPLevels = []string{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// TLPExtensionID is the OASIS TLP 2.0 extension definition.
const TLPExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// tlp2Created is the created time of the OASIS TLP 2.0 marking definitions.
const tlp2Created = "2022-10-01T00:00:00.000Z"

// tlp1Created is the created time of the STIX 2.1 TLP 1.0 definitions.
const tlp1Created = "2017-01-20T00:00:00.000Z"

// The fixed IDs of the TLP 2.0 marking definitions (OASIS TLP 2.0
// extension) and of STIX 2.1's predefined TLP 1.0 ones.
var (
	tlp2IDs = map[string]string{
		TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
		TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
		TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
		TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
		TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
	}
	tlp1IDs = map[string]string{
		"white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
		"green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
		"amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
		"red":   "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
	}
	// tlp1To2 reads a TLP 1.0 level as its TLP 2.0 twin.
	tlp1To2 = map[string]string{"white": TLPClear, "green": TLPGreen, "amber": TLPAmber, "red": TLPRed}
)

// TLPMarkingID returns the fixed ID of a TLP 2.0 level's marking
// definition, "" for an unknown level.
func TLPMarkingID(level string) string { return tlp2IDs[strings.ToLower(level)] }

// TLPMarking returns the OASIS TLP 2.0 marking definition of a level, as
// published (fixed ID, created time and name), and false for an unknown
// level.
func TLPMarking(level string) (MarkingDefinition, bool) {
	level = strings.ToLower(level)
	id, ok := tlp2IDs[level]
	if !ok {
		return MarkingDefinition{}, false
	}
	ext, _ := json.Marshal(map[string]string{"extension_type": "property-extension", "tlp_2_0": level})
	return MarkingDefinition{
		Type: "marking-definition", SpecVersion: SpecVersion, ID: id, Created: tlp2Created,
		Name:       "TLP:" + strings.ToUpper(level),
		Extensions: map[string]json.RawMessage{TLPExtensionID: ext},
	}, true
}

// TLPMarkingByID returns the published definition of a TLP marking by its
// fixed ID, TLP 2.0 or TLP 1.0, and false for any other ID.
func TLPMarkingByID(id string) (MarkingDefinition, bool) {
	for l, x := range tlp2IDs {
		if x == id {
			return TLPMarking(l)
		}
	}
	for l, x := range tlp1IDs {
		if x == id {
			def, _ := json.Marshal(map[string]string{"tlp": l})
			return MarkingDefinition{
				Type: "marking-definition", SpecVersion: SpecVersion, ID: id, Created: tlp1Created,
				Name: "TLP:" + strings.ToUpper(l), DefinitionType: "tlp", Definition: def,
			}, true
		}
	}
	return MarkingDefinition{}, false
}

// TLPOfMarking returns the TLP 2.0 level a marking definition ID stands
// for: a TLP 2.0 ID as it is, a TLP 1.0 ID as its 2.0 twin (WHITE reads
// CLEAR). ok is false for any other marking.
func TLPOfMarking(id string) (level string, ok bool) {
	for l, x := range tlp2IDs {
		if x == id {
			return l, true
		}
	}
	for l, x := range tlp1IDs {
		if x == id {
			return tlp1To2[l], true
		}
	}
	return "", false
}

// TLPOfDefinition reads the TLP level of a marking-definition object that
// does not use a fixed ID: a TLP 2.0 extension block, or a TLP 1.0
// definition ("definition_type": "tlp"). ok is false for other markings.
func TLPOfDefinition(m MarkingDefinition) (level string, ok bool) {
	if l, ok := TLPOfMarking(m.ID); ok {
		return l, true
	}
	if raw, has := m.Extensions[TLPExtensionID]; has {
		var e struct {
			Level string `json:"tlp_2_0"`
		}
		if json.Unmarshal(raw, &e) == nil {
			if l := strings.ToLower(e.Level); tlp2IDs[l] != "" {
				return l, true
			}
		}
	}
	if m.DefinitionType == "tlp" {
		var d struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(m.Definition, &d) == nil {
			l := strings.ToLower(d.TLP)
			if t, ok := tlp1To2[l]; ok {
				return t, true
			}
			if tlp2IDs[l] != "" {
				return l, true
			}
		}
	}
	return "", false
}

// TLPRank orders TLP 2.0 levels: 0 for CLEAR up to 4 for RED, -1 for an
// unknown level.
func TLPRank(level string) int {
	for i, l := range TLPLevels {
		if l == strings.ToLower(level) {
			return i
		}
	}
	return -1
}

// MostRestrictive returns the most restrictive of the levels, "" when
// none is known.
func MostRestrictive(levels ...string) string {
	best := ""
	for _, l := range levels {
		if TLPRank(l) > TLPRank(best) {
			best = strings.ToLower(l)
		}
	}
	return best
}

package app

// Adversarial tests of the STIX 2.1 import and export (app/stixio.go,
// app/stix), from the security review of issue #9. Each test says the
// attack it tries; each must be refused or harmless.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"noroshi/app/stix"
)

const (
	thxGreen = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	thxRed   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// thxOrgIdentity is the STIX identity Noroshi derives for a's organisation
// (orgIdentityID), read under a's lock.
func thxOrgIdentity(a *App) string { return stix.ID("identity", a.WhoAmI().Org) }

func thxUUID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func thxBundle(t testing.TB, objs ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + thxUUID(999999), "objects": objs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func thxObj(typ string, i int, marking string, more map[string]any) map[string]any {
	o := map[string]any{"type": typ, "spec_version": "2.1", "id": typ + "--" + thxUUID(i),
		"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"}
	if marking != "" {
		o["object_marking_refs"] = []string{marking}
	}
	for k, v := range more {
		o[k] = v
	}
	return o
}

// TestThreatSTIXRedCommentOfOlderVersion tries this attack: a member
// comments on a TLP:RED version of a source, hoping the comment leaves with
// the CLEAR version shown in a STIX export.
//
// The review found, before the fix:
// A comment on a TLP:RED version of a source is exported as a note of the
// CLEAR version shown, marked CLEAR (stixio.go: "The comments on every
// version of a source are the post's").
func TestThreatSTIXRedCommentOfOlderVersion(t *testing.T) {
	c := newCommunity(t)
	mod := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
	red := advisoryDraft("GHSA-bbbb early warning", "ghsa:GHSA-bbbb", mod)
	red.TLP = TLPRed
	red.ToMembers = []string{c.power.WhoAmI().Person}
	rp, err := c.centre.Post(red)
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	const secret = "RED-ONLY: our SCADA gateway 10.1.2.3 is exposed"
	if _, err := c.power.Comment(rp.ID, secret); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Hour)
	if _, err := c.centre.Post(advisoryDraft("GHSA-bbbb public advisory", "ghsa:GHSA-bbbb", mod.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	var out bytes.Buffer
	if _, err := c.power.ExportSTIX(&out, STIXExportOptions{TLPMax: TLPClear}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "SCADA gateway") {
		i := strings.Index(out.String(), "SCADA gateway")
		t.Errorf("a comment on the TLP:RED version leaves in a TLP:CLEAR STIX export: ...%s...", out.String()[max(0, i-400):i+60])
	}
	objs, err := c.power.STIXObjects(STIXExportOptions{TLPMax: TLPGreen})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(string(o.JSON), "SCADA gateway") {
			t.Errorf("TAXII would serve the RED comment as %s", o.ID)
		}
	}
}

// TestThreatSTIXRedIdentityNameLeaks tries this attack: a bundle names a
// TLP:RED identity through a GREEN relationship, so the name lands in a
// GREEN post.
//
// The review found, before the fix:
// A TLP:RED victim identity is named in the body of a TLP:GREEN post: the
// relationship line resolves the name of an object that is not a member of
// the post (identities never are), so its marking is never counted.
func TestThreatSTIXRedIdentityNameLeaks(t *testing.T) {
	c := newCommunity(t)
	b := thxBundle(t,
		thxObj("campaign", 1, thxGreen, map[string]any{"name": "Operation Smoke"}),
		thxObj("identity", 2, thxRed, map[string]any{"name": "Victim Hospital Ltd", "identity_class": "organization"}),
		thxObj("relationship", 3, thxGreen, map[string]any{"relationship_type": "targets",
			"source_ref": "campaign--" + thxUUID(1), "target_ref": "identity--" + thxUUID(2)}),
	)
	res, err := c.centre.ImportSTIX(b, STIXImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) == 0 {
		t.Fatalf("nothing added: %+v", res)
	}
	for _, it := range res.Added {
		if it.TLP == TLPRed {
			continue
		}
		d, err := c.centre.Show(it.Post)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(d.Body, "Victim Hospital") || strings.Contains(d.Body, "Incident at the hospital") {
			t.Errorf("post %q at TLP:%s carries a TLP:RED object's name:\n%s", d.Title, d.TLP, d.Body)
		}
	}
}

// TestThreatSTIXGranularRedIsIgnored tries this attack: a report marked
// GREEN whose description is RED by a granular marking.
//
// The review found, before the fix:
// A report marked GREEN as a whole with its description marked RED by a
// granular marking (STIX 2.1 section 7.2.3) is posted to the community at
// GREEN with the RED text: granular_markings are not read.
func TestThreatSTIXGranularRedIsIgnored(t *testing.T) {
	c := newCommunity(t)
	b := thxBundle(t, thxObj("report", 1, thxGreen, map[string]any{
		"name": "Phishing wave", "published": "2024-01-01T00:00:00Z",
		"description":       "RED: the CEO's mailbox was taken over",
		"object_refs":       []string{"report--" + thxUUID(1)},
		"granular_markings": []map[string]any{{"marking_ref": thxRed, "selectors": []string{"description"}}},
	}))
	res, err := c.centre.ImportSTIX(b, STIXImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Added {
		d, _ := c.centre.Show(it.Post)
		if strings.Contains(d.Body, "CEO's mailbox") && d.TLP != "TLP:RED" {
			t.Errorf("granular TLP:RED text posted at %s", d.TLP)
		}
	}
}

// TestThreatSTIXObjectsOfAnotherOrgForged tries this attack: a member posts
// stored STIX objects whose IDs collide with another organisation's derived
// indicator and identity, to replace them in every export.
//
// The review found, before the fix:
// A member's post may carry any STIX objects (PostRecord.STIX is checked
// only as a JSON array); the export keeps, per STIX ID, the newest version
// from any post. So one member replaces another organisation's exported
// indicator (same deterministic ID, later "modified", another pattern,
// created_by_ref that organisation) and its identity, in every member's
// STIX export and TAXII collection, with nothing in the output naming the
// member who wrote them.
func TestThreatSTIXObjectsOfAnotherOrgForged(t *testing.T) {
	c := newCommunity(t)
	real, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "scanner", Indicators: []string{"203.0.113.5"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	indID := stix.ID("indicator", real.ID+"/ipv4:203.0.113.5")
	powerOrg := thxOrgIdentity(c.power)
	forged := `[{"type":"indicator","spec_version":"2.1","id":"` + indID + `","created_by_ref":"` + powerOrg + `",` +
		`"created":"2021-01-01T00:00:00.000Z","modified":"2099-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.250']",` +
		`"pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},` +
		`{"type":"identity","spec_version":"2.1","id":"` + powerOrg + `","created":"2021-01-01T00:00:00.000Z","modified":"2099-01-01T00:00:00.000Z","name":"Metro Power (says: ignore the scanner)","identity_class":"organization"}]`
	d := PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "harmless", STIX: []byte(forged),
		Source: &PostSource{ID: "stix:indicator--00000000-0000-4000-8000-000000000001", Modified: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := c.rail.Post(d); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	objs, err := c.centre.STIXObjects(STIXExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if (o.ID == indID || o.ID == powerOrg) && (strings.Contains(string(o.JSON), "192.0.2.250") || strings.Contains(string(o.JSON), "ignore the scanner")) {
			t.Errorf("the coordinator's export serves Rail Member's forgery as Metro Power's %s:\n%s", o.Type, o.JSON)
		}
	}
}

// TestThreatSTIXIncidentNotAmber tries this attack: an export (or TAXII
// feed) at --tlp-max amber carries incidents that are sealed to their
// organisation and the coordinators.
//
// The review found, before the fix:
// An incident is sealed to its organisation (and the coordinators): it is
// AMBER+STRICT in all but name. The export marks it TLP:AMBER and lets it
// out under --tlp-max amber, so a coordinator's export (or its TAXII feed
// at amber) carries every organisation's incident reports, marked as
// shareable with the recipient's whole organisation and its clients.
func TestThreatSTIXIncidentNotAmber(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.power.ReportIncident(IncidentDraft{Category: CatDoS, Title: "substation SCADA unreachable", Body: "our OT VPN at 10.9.9.9 is down"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	objs, err := c.centre.STIXObjects(STIXExportOptions{TLPMax: TLPAmber})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Type == "incident" {
			t.Errorf("an organisation's incident leaves under --tlp-max amber, marked AMBER:\n%s", o.JSON)
		}
	}
}

// TestThreatSTIXImportAmplifies tries this attack: a bundle of shared
// context referred to by many reports, copied into each post, multiplies
// what every peer stores.
//
// The review found, before the fix:
// The objects shared by many reports are copied into each report's post
// (body and PostRecord.STIX): a bundle of ~1 MB becomes tens of MB of
// envelopes that every peer of the community stores.
func TestThreatSTIXImportAmplifies(t *testing.T) {
	c := newCommunity(t)
	const reports, rels = 30, 2000
	var objs []map[string]any
	objs = append(objs, thxObj("malware", 1, thxGreen, map[string]any{"name": "hub", "is_family": true}))
	hub := "malware--" + thxUUID(1)
	for i := 0; i < rels; i++ {
		objs = append(objs, thxObj("relationship", 10+i, thxGreen, map[string]any{"relationship_type": "variant-of",
			"source_ref": hub, "target_ref": hub, "description": fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(i))))}))
	}
	for i := 0; i < reports; i++ {
		objs = append(objs, thxObj("report", 100000+i, thxGreen, map[string]any{"name": fmt.Sprint("r", i),
			"published": "2024-01-01T00:00:00Z", "object_refs": []string{hub}}))
	}
	b := thxBundle(t, objs...)
	before := 0
	for _, e := range envelopes(t, c.centre) {
		before += len(e.Payload)
	}
	start := time.Now()
	if _, err := c.centre.ImportSTIX(b, STIXImportOptions{}); err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, e := range envelopes(t, c.centre) {
		after += len(e.Payload)
	}
	t.Logf("bundle %d bytes -> %d bytes of envelopes in %v", len(b), after-before, time.Since(start))
	if after-before > 4*len(b) {
		t.Errorf("a bundle of %d bytes became %d bytes of envelopes (x%d) that every peer stores", len(b), after-before, (after-before)/len(b))
	}
}

// TestThreatSTIXMalformedMarkingsDropRed tries this attack: a RED marking
// list with one non-string element, so the object reads as unmarked
// (AMBER).
//
// The review found, before the fix:
// An object_marking_refs list with one element that is not a string (a
// broken or hostile producer) is dropped whole (stix/read.go), so the
// object reads as unmarked, AMBER, though it names TLP:RED.
func TestThreatSTIXMalformedMarkingsDropRed(t *testing.T) {
	c := newCommunity(t)
	o := thxObj("report", 1, "", map[string]any{"name": "insider case", "published": "2024-01-01T00:00:00Z",
		"object_refs": []string{"report--" + thxUUID(1)}, "object_marking_refs": []any{thxRed, 0}})
	res, err := c.centre.ImportSTIX(thxBundle(t, o), STIXImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Added {
		t.Errorf("an object marked RED (with a malformed list) would be posted at %s", it.TLP)
	}
}

// TestThreatSTIXNotesNamePeople tries this attack: a CLEAR export read
// outside the community names the member who commented.
//
// The review found, before the fix:
// Notes carry the commenter's person name ("authors"), in an export meant
// for outside the community (CLEAR), where the report itself names only
// the organisation.
func TestThreatSTIXNotesNamePeople(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPClear, Title: "public note"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.power.Comment(p.ID, "seen here too"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	objs, _ := c.centre.STIXObjects(STIXExportOptions{TLPMax: TLPClear})
	for _, o := range objs {
		if strings.Contains(string(o.JSON), "Power Analyst") {
			t.Errorf("a CLEAR export names a member: %s", o.JSON)
		}
	}
}

// TestThreatSTIXHostileShapesHold tries this attack: cycles, duplicate IDs,
// deep nesting and a huge pattern, to hang the import or lower a post's
// TLP.
//
// The review found, before the fix:
// What holds: cycles, duplicates, deep nesting and a huge pattern end
// quickly with an answer; a RED member makes the whole post RED (skipped).
func TestThreatSTIXHostileShapesHold(t *testing.T) {
	c := newCommunity(t)
	cyc := thxBundle(t,
		thxObj("report", 1, thxGreen, map[string]any{"name": "a", "published": "2024-01-01T00:00:00Z", "object_refs": []string{"report--" + thxUUID(2), "indicator--" + thxUUID(3)}}),
		thxObj("report", 2, thxGreen, map[string]any{"name": "b", "published": "2024-01-01T00:00:00Z", "object_refs": []string{"report--" + thxUUID(1)}}),
		thxObj("indicator", 3, thxRed, map[string]any{"name": "red ind", "pattern": "[ipv4-addr:value = '203.0.113.1']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}),
		thxObj("indicator", 3, thxGreen, map[string]any{"name": "dup older", "modified": "2023-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '203.0.113.2']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}),
		thxObj("relationship", 4, thxGreen, map[string]any{"relationship_type": "related-to", "source_ref": "report--" + thxUUID(1), "target_ref": "report--" + thxUUID(2)}),
	)
	res, err := c.centre.ImportSTIX(cyc, STIXImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Added {
		if it.STIXID == "report--"+thxUUID(1) {
			t.Errorf("a report with a RED indicator is posted at %s", it.TLP)
		}
	}
	deep := `{"type":"bundle","id":"bundle--` + thxUUID(1) + `","objects":[{"type":"note","id":"note--` + thxUUID(2) + `","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`
	if _, err := c.centre.ImportSTIX([]byte(deep), STIXImportOptions{DryRun: true}); err == nil {
		t.Error("20,000 levels of nesting accepted")
	}
	huge := thxBundle(t, thxObj("indicator", 5, thxGreen, map[string]any{"pattern": "[" + strings.Repeat("ipv4-addr:value = '203.0.113.1' OR ", 5000) + "ipv4-addr:value = '203.0.113.1']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}))
	start := time.Now()
	if _, err := c.centre.ImportSTIX(huge, STIXImportOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a huge pattern took %v", d)
	}
}

// TestThreatSTIXStoredClaimsAnotherOrg tries this attack: a member stores,
// under IDs of its own, objects whose creator (created_by_ref) is another
// organisation of the community, so that exports attribute them to it. The
// claim is dropped; a claim of the member's own organisation stays.
func TestThreatSTIXStoredClaimsAnotherOrg(t *testing.T) {
	c := newCommunity(t)
	powerOrg := thxOrgIdentity(c.power)
	railOrg := thxOrgIdentity(c.rail)
	ind := func(i int, by string) string {
		return `{"type":"indicator","spec_version":"2.1","id":"indicator--` + thxUUID(i) + `","created_by_ref":"` + by + `",` +
			`"created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.` + fmt.Sprint(i) + `']",` +
			`"pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","object_marking_refs":["` + thxGreen + `"]}`
	}
	d := PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "two indicators", STIX: []byte("[" + ind(1, powerOrg) + "," + ind(2, railOrg) + "]"),
		Source: &PostSource{ID: "stix:indicator--" + thxUUID(1), Modified: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := c.rail.Post(d); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	objs, err := c.centre.STIXObjects(STIXExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, o := range objs {
		switch o.ID {
		case "indicator--" + thxUUID(1):
			found++
			if strings.Contains(string(o.JSON), powerOrg) {
				t.Errorf("Rail Member's object is exported as Metro Power's: %s", o.JSON)
			}
		case "indicator--" + thxUUID(2):
			found++
			if !strings.Contains(string(o.JSON), `"created_by_ref":"`+railOrg+`"`) {
				t.Errorf("the claim of the author's own organisation is lost: %s", o.JSON)
			}
		}
	}
	if found != 2 {
		t.Errorf("%d of the 2 stored indicators exported", found)
	}
}

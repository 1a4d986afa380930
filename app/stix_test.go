package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"noroshi/app/stix"
)

// stixShared is the OASIS repository copy beside the project.
const stixShared = "../../shared/stix2.1"

const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/"

// schemaLoader reads the OASIS schemas from the local copy: their $ref
// URLs map to files under stixShared.
type schemaLoader struct{ dir string }

func (l schemaLoader) Load(url string) (any, error) {
	url = strings.Replace(url, "https://", "http://", 1)
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("schema %s is not in the local copy", url)
	}
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// stixSchemas compiles the schema of each STIX type the export writes.
func stixSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	if _, err := os.Stat(stixShared); err != nil {
		t.Skipf("no OASIS STIX schemas at %s: %v", stixShared, err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(schemaLoader{stixShared})
	out := map[string]*jsonschema.Schema{}
	for typ, path := range map[string]string{
		"identity": "schemas/sdos/identity.json", "marking-definition": "schemas/common/marking-definition.json",
		"report": "schemas/sdos/report.json", "indicator": "schemas/sdos/indicator.json", "note": "schemas/sdos/note.json",
		"incident": "schemas/sdos/incident.json", "sighting": "schemas/sros/sighting.json",
		"vulnerability": "schemas/sdos/vulnerability.json", "malware": "schemas/sdos/malware.json",
		"attack-pattern": "schemas/sdos/attack-pattern.json", "campaign": "schemas/sdos/campaign.json",
		"relationship": "schemas/sros/relationship.json", "bundle": "schemas/common/bundle.json",
	} {
		s, err := c.Compile(schemaBase + path)
		if err != nil {
			t.Fatalf("compile %s: %v", path, err)
		}
		out[typ] = s
	}
	return out
}

// validateSTIX validates each object against its type's schema.
func validateSTIX(t *testing.T, schemas map[string]*jsonschema.Schema, objs []STIXObject) {
	t.Helper()
	for _, o := range objs {
		s, ok := schemas[o.Type]
		if !ok {
			t.Errorf("no schema for %s", o.Type)
			continue
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.JSON))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s does not validate: %v\n%s", o.ID, err, o.JSON)
		}
	}
}

// stixCommunity posts a little of everything: posts at each TLP with
// indicators of each kind, comments (one by another organisation that
// saw an indicator too), an incident, an exercise post.
func stixCommunity(t *testing.T) *community {
	t.Helper()
	c := newCommunity(t)
	post := func(a *App, d PostDraft) PostSummary {
		t.Helper()
		s, err := a.Post(d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	green := post(c.power, PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "Phishing against ticket buyers",
		Body: "Mails from a look-alike domain.", Indicators: []string{"hxxp://tickets-games[.]example/login", "198.51.100.23",
			"2001:db8::66", "tickets-games.example", "buyer-help@tickets-games.example",
			"d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}})
	post(c.venue, PostDraft{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Title: "Patch the turnstile controllers"})
	post(c.rail, PostDraft{Type: TypeMalware, Tag: TagInfo, TLP: TLPAmber, Title: "Loader seen on a kiosk", Indicators: []string{"203.0.113.9"}})
	post(c.rail, PostDraft{Type: TypeMalware, Tag: TagInfo, TLP: TLPAmberStrict, Title: "Our own kiosk logs"})
	post(c.centre, PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "Drill: fake outage", Exercise: "drill-1"})
	post(c.centre, PostDraft{Type: TypeVulnerability, Tag: TagImportant, TLP: TLPClear, Title: "Log4Shell in the ticketing backend",
		Source: &PostSource{ID: "ghsa:GHSA-jfh8-c2jp-5v3q", Modified: time.Date(2021, 7, 20, 0, 0, 0, 0, time.UTC), URL: "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q"},
		Advisory: &AdvisoryFields{GHSA: "GHSA-jfh8-c2jp-5v3q", CVEs: []string{"CVE-2021-44228", "not-a-cve"}, Severity: "critical", CVSSScore: 10,
			Packages: []AdvisoryPackage{{Ecosystem: "maven", Name: "org.apache.logging.log4j:log4j-core", Vulnerable: ">= 2.0-beta9, < 2.15.0", Patched: "2.15.0"}}}})
	c.sync(t)
	if _, err := c.rail.Comment(green.ID, "We saw 198.51.100.23 too, on our booking site."); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.Comment(green.ID, "Blocked at the proxy."); err != nil {
		t.Fatal(err)
	}
	if _, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "Ticket site slow", Body: "Since 09:00."}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	return c
}

func TestSTIXExportValidates(t *testing.T) {
	schemas := stixSchemas(t)
	c := stixCommunity(t)
	for _, max := range []TLP{TLPClear, "", TLPAmber, TLPAmberStrict} {
		objs, err := c.centre.STIXObjects(STIXExportOptions{TLPMax: max})
		if err != nil {
			t.Fatal(err)
		}
		validateSTIX(t, schemas, objs)
		types := map[string]int{}
		for _, o := range objs {
			types[o.Type]++
			if strings.Contains(string(o.JSON), "Drill") || strings.Contains(string(o.JSON), "RED") {
				t.Errorf("exercise or RED content exported: %s", o.JSON)
			}
		}
		t.Logf("tlp-max %q: %v", max, types)
		want := map[TLP]map[string]int{
			TLPClear:       {"report": 2, "vulnerability": 1, "identity": 2, "marking-definition": 1},
			"":             {"report": 3, "vulnerability": 1, "indicator": 8, "note": 2, "sighting": 1, "identity": 4, "marking-definition": 2},
			TLPAmber:       {"report": 4, "vulnerability": 1, "indicator": 9, "note": 2, "sighting": 1, "incident": 0, "identity": 4, "marking-definition": 3},
			TLPAmberStrict: {"report": 5, "vulnerability": 1, "indicator": 9, "note": 2, "sighting": 1, "incident": 1, "identity": 4, "marking-definition": 4},
		}[max]
		for typ, n := range want {
			if types[typ] != n {
				t.Errorf("tlp-max %q: %d %s, want %d (%v)", max, types[typ], typ, n, types)
			}
		}
	}
	if _, err := c.centre.STIXObjects(STIXExportOptions{TLPMax: TLPRed}); err == nil {
		t.Error("RED export allowed")
	}
	// Stable: the same IDs from another device, and the same objects.
	a, _ := c.centre.STIXObjects(STIXExportOptions{TLPMax: TLPAmber})
	b, _ := c.venue.STIXObjects(STIXExportOptions{TLPMax: TLPAmber})
	if len(a) != len(b) {
		t.Fatalf("centre exports %d objects, venue %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].JSON, b[i].JSON) {
			t.Errorf("object %d differs:\n%s\n%s", i, a[i].JSON, b[i].JSON)
		}
	}
	// A whole bundle.
	var buf bytes.Buffer
	res, err := c.centre.ExportSTIX(&buf, STIXExportOptions{})
	if err != nil || res.Objects == 0 {
		t.Fatalf("ExportSTIX: %+v %v", res, err)
	}
	doc, err := stix.Parse(buf.Bytes(), stix.DefaultLimits)
	if err != nil || len(doc.Objects) != res.Objects {
		t.Fatalf("bundle reads %d objects, %v", len(doc.Objects), err)
	}
	// Since: only what was added since.
	late, _ := c.centre.STIXObjects(STIXExportOptions{TLPMax: TLPAmber, Since: a[len(a)-1].Added})
	if len(late) == 0 || len(late) >= len(a) {
		t.Errorf("since the last object: %d objects of %d", len(late), len(a))
	}
}

func TestSTIXSightingIsACommentFromAnotherOrg(t *testing.T) {
	c := stixCommunity(t)
	objs, err := c.centre.STIXObjects(STIXExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Type != "sighting" {
			continue
		}
		var s stix.Sighting
		json.Unmarshal(o.JSON, &s)
		var ind stix.Indicator
		for _, x := range objs {
			if x.ID == s.SightingOfRef {
				json.Unmarshal(x.JSON, &ind)
			}
		}
		if ind.Pattern != "[ipv4-addr:value = '198.51.100.23']" || len(s.WhereSightedRefs) != 1 || *s.Count != 1 {
			t.Errorf("sighting %+v of %q", s, ind.Pattern)
		}
	}
}

func TestSTIXRoundTrip(t *testing.T) {
	c := stixCommunity(t)
	var first bytes.Buffer
	if _, err := c.centre.ExportSTIX(&first, STIXExportOptions{TLPMax: TLPAmber}); err != nil {
		t.Fatal(err)
	}
	fresh := newCommunity(t)
	res, err := fresh.power.ImportSTIX(first.Bytes(), STIXImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import: %d added, %d updated, %d skipped", len(res.Added), len(res.Updated), len(res.Skipped))
	for _, s := range res.Skipped {
		t.Logf("skipped %s %s: %s %s", s.Type, s.STIXID, s.Reason, s.Detail)
	}
	fresh.sync(t)
	var second bytes.Buffer
	if _, err := fresh.rail.ExportSTIX(&second, STIXExportOptions{TLPMax: TLPAmber}); err != nil {
		t.Fatal(err)
	}
	want, got := stixSet(t, first.Bytes()), stixSet(t, second.Bytes())
	// Four reports; the incident is AMBER+STRICT, not exported at AMBER.
	if len(want) < 24 {
		t.Fatalf("the first export holds only %d objects", len(want))
	}
	if len(res.Added) != 4 || len(res.Skipped) != 0 {
		t.Errorf("import: %+v", res)
	}
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("%s missing after the round trip", id)
		} else if g != w {
			t.Errorf("%s changed:\n%s\n%s", id, w, g)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s appeared after the round trip: %s", id, got[id])
		}
	}
}

// stixSet reads a bundle as canonical JSON by object ID.
func stixSet(t *testing.T, b []byte) map[string]string {
	t.Helper()
	doc, err := stix.Parse(b, stix.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range doc.Objects {
		var v any
		json.Unmarshal(o.Raw, &v)
		c, _ := json.Marshal(v)
		out[o.ID] = string(c)
	}
	return out
}

// TestSTIXImportShared imports every example of the OASIS repository.
func TestSTIXImportShared(t *testing.T) {
	if _, err := os.Stat(stixShared); err != nil {
		t.Skipf("no OASIS STIX files at %s: %v", stixShared, err)
	}
	c := newCommunity(t)
	n := 0
	for _, dir := range []string{"examples", "interop"} {
		err := filepath.WalkDir(filepath.Join(stixShared, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			res, err := c.power.ImportSTIX(b, STIXImportOptions{})
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			for _, s := range res.Skipped {
				if s.Reason == STIXRefused {
					t.Errorf("%s: %s refused: %s", path, s.STIXID, s.Detail)
				}
			}
			t.Logf("%s: %d added, %d skipped", path, len(res.Added), len(res.Skipped))
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 20 {
		t.Fatalf("only %d files imported", n)
	}
	// Imported on one device, held on the others.
	c.sync(t)
	b, _ := os.ReadFile(filepath.Join(stixShared, "examples/threat-reports/apt1.json"))
	res, err := c.venue.ImportSTIX(b, STIXImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 0 || len(res.Skipped) == 0 {
		t.Errorf("dry run after the import: %+v", res)
	}
}

func TestSTIXImportTLP(t *testing.T) {
	c := newCommunity(t)
	const (
		green1 = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
		white1 = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		amber2 = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		strict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
		clear2 = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
		red1   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
		custom = "marking-definition--11111111-2222-4333-8444-555555555555"
	)
	cases := []struct {
		marks    []string
		override TLP
		want     TLP
		skipped  STIXSkipReason
	}{
		{nil, "", TLPAmber, ""},
		{[]string{white1}, "", TLPClear, ""},
		{[]string{green1}, "", TLPGreen, ""},
		{[]string{clear2}, "", TLPClear, ""},
		{[]string{clear2, amber2}, "", TLPAmber, ""},
		{[]string{green1, strict, white1}, "", TLPAmberStrict, ""},
		{[]string{custom}, "", TLPGreen, ""}, // defined in the bundle as TLP green
		{[]string{red1}, "", TLPRed, STIXRed},
		{[]string{red1}, TLPGreen, TLPGreen, ""},
		{[]string{white1}, TLPAmber, TLPAmber, ""},
	}
	for i, tc := range cases {
		ind := map[string]any{"type": "indicator", "spec_version": "2.1", "id": stix.ID("indicator", fmt.Sprint("tlp", i)),
			"created": "2021-07-01T00:00:00.000Z", "modified": "2021-07-01T00:00:00.000Z", "name": fmt.Sprint("case ", i),
			"pattern": fmt.Sprintf("[ipv4-addr:value = '192.0.2.%d']", i+1), "pattern_type": "stix", "valid_from": "2021-07-01T00:00:00Z"}
		if tc.marks != nil {
			ind["object_marking_refs"] = tc.marks
		}
		md := map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": custom, "created": "2026-01-01T00:00:00.000Z",
			"definition_type": "tlp", "definition": map[string]string{"tlp": "green"}}
		b, _ := json.Marshal(map[string]any{"type": "bundle", "id": stix.ID("bundle", fmt.Sprint(i)), "objects": []any{md, ind}})
		res, err := c.power.ImportSTIX(b, STIXImportOptions{TLP: tc.override})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if tc.skipped != "" {
			if len(res.Skipped) != 1 || res.Skipped[0].Reason != tc.skipped {
				t.Errorf("case %d: %+v, want skipped %s", i, res, tc.skipped)
			}
			continue
		}
		if len(res.Added) != 1 || res.Added[0].TLP != tc.want {
			t.Errorf("case %d %v: %+v, want %s", i, tc.marks, res, tc.want)
			continue
		}
		d, err := c.power.Show(res.Added[0].Post)
		if err != nil || d.TLP != tc.want.Label() || len(d.Indicators) != 1 || d.Indicators[0].Value != fmt.Sprintf("192.0.2.%d", i+1) {
			t.Errorf("case %d: post %+v %v", i, d, err)
		}
	}
}

func TestSTIXReimport(t *testing.T) {
	c := newCommunity(t)
	bundle := func(modified string, desc string) []byte {
		return []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
{"type":"report","spec_version":"2.1","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","created":"2021-07-01T00:00:00.000Z","modified":"` + modified + `","name":"Wiper campaign","description":"` + desc + `","published":"2021-07-01T00:00:00Z","report_types":["campaign"],"object_refs":["indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2","vulnerability--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
{"type":"indicator","spec_version":"2.1","id":"indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2","created":"2021-07-01T00:00:00.000Z","modified":"2021-07-01T00:00:00.000Z","pattern":"[domain-name:value = 'wiper.example'] OR [file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']","pattern_type":"stix","valid_from":"2021-07-01T00:00:00Z","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
{"type":"indicator","spec_version":"2.1","id":"indicator--36ffb872-1dd9-446e-b6f5-d58527e5b5d2","created":"2021-07-01T00:00:00.000Z","modified":"2021-07-01T00:00:00.000Z","name":"odd","pattern":"[process:name = 'wipe.exe']","pattern_type":"stix","valid_from":"2021-07-01T00:00:00Z","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
{"type":"vulnerability","spec_version":"2.1","id":"vulnerability--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2021-07-01T00:00:00.000Z","modified":"2021-07-01T00:00:00.000Z","name":"CVE-2026-1234","external_references":[{"source_name":"cve","external_id":"CVE-2026-1234"}],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
{"type":"threat-actor","spec_version":"2.1","id":"threat-actor--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0062","created":"2021-07-01T00:00:00.000Z","modified":"2021-07-01T00:00:00.000Z","name":"Nobody"}
]}`)
	}
	first, err := c.power.ImportSTIX(bundle("2021-07-01T00:00:00.000Z", "first"), STIXImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The report, and the odd indicator alone (a lone indicator is a post).
	if len(first.Added) != 2 || len(first.Skipped) != 1 || first.Skipped[0].Reason != STIXUnused {
		t.Fatalf("first import: %+v", first)
	}
	d, err := c.power.Show(first.Added[0].Post)
	if err != nil {
		t.Fatal(err)
	}
	if d.TLP != "TLP:GREEN" || d.Title != "Wiper campaign" || len(d.Indicators) < 2 || !strings.Contains(d.Body, "CVE-2026-1234") {
		t.Errorf("report post: %+v", d)
	}
	if _, err := c.centre.Comment(first.Added[0].Post, "Seen at the airport too."); err == nil {
		t.Fatal("comment before sync")
	}
	c.sync(t)
	comment, err := c.centre.Comment(first.Added[0].Post, "Seen at the airport too.")
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	// Again, from another device: all held.
	again, err := c.rail.ImportSTIX(bundle("2021-07-01T00:00:00.000Z", "first"), STIXImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Added)+len(again.Updated) != 0 {
		t.Fatalf("second import: %+v", again)
	}
	for _, s := range again.Skipped {
		if s.Type == "report" && s.Reason != STIXHeld {
			t.Errorf("second import: %+v", s)
		}
	}
	// An older revision: held. A newer one: updated, one post in the feed.
	older, _ := c.rail.ImportSTIX(bundle("2020-01-01T00:00:00.000Z", "older"), STIXImportOptions{})
	if len(older.Added)+len(older.Updated) != 0 {
		t.Fatalf("older import: %+v", older)
	}
	newer, err := c.rail.ImportSTIX(bundle("2021-07-02T00:00:00.000Z", "second"), STIXImportOptions{})
	if err != nil || len(newer.Updated) != 1 || len(newer.Added) != 0 {
		t.Fatalf("newer import: %+v %v", newer, err)
	}
	c.sync(t)
	n := 0
	for _, p := range c.centre.Feed(FeedFilter{}) {
		if p.Title == "Wiper campaign" {
			n++
			d, _ := c.centre.Show(p.ID)
			if !strings.HasPrefix(d.Body, "second") {
				t.Errorf("feed shows %q", d.Body)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d posts of the report in the feed", n)
	}
	// The comment on the first version is a note on the report still.
	objs, err := c.centre.STIXObjects(STIXExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range objs {
		if o.ID == stix.ID("note", comment.ID) {
			found = strings.Contains(string(o.JSON), `"object_refs":["report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3"]`)
		}
		if o.ID == "report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3" && !strings.Contains(string(o.JSON), `"description":"second"`) {
			t.Errorf("report exported: %s", o.JSON)
		}
	}
	if !found {
		t.Errorf("no note for the comment on the first version in %d objects", len(objs))
	}
	// Dry run changes nothing.
	dry, err := c.rail.ImportSTIX(bundle("2021-07-03T00:00:00.000Z", "third"), STIXImportOptions{DryRun: true})
	if err != nil || len(dry.Updated) != 1 || !dry.DryRun {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if h, _ := c.rail.SourceHeld("stix:report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3", TLPGreen); !h.Modified.Equal(time.Date(2021, 7, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("held revision %v after a dry run", h.Modified)
	}
}

func TestSTIXImportRefusesGarbage(t *testing.T) {
	c := newCommunity(t)
	for _, in := range []string{"", "not json", `{"type":"bundle","id":"nope"}`, `[1]`} {
		if _, err := c.power.ImportSTIX([]byte(in), STIXImportOptions{}); err == nil {
			t.Errorf("%q imported", in)
		}
	}
	res, err := c.power.ImportSTIX([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema"}`), STIXImportOptions{})
	if err != nil || len(res.Skipped) != 1 || res.Skipped[0].Reason != STIXSchema {
		t.Errorf("schema: %+v %v", res, err)
	}
}

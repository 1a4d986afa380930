package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestIDStable(t *testing.T) {
	a, b := ID("report", "abc"), ID("report", "abc")
	if a != b {
		t.Fatalf("same name, two IDs: %s %s", a, b)
	}
	if a == ID("report", "abd") || a == ID("note", "abc")[len("note"):] {
		t.Fatal("different names, same ID")
	}
	if TypeOf(a) != "report" {
		t.Fatalf("TypeOf(%s) = %q", a, TypeOf(a))
	}
	// UUIDv5: version 5, RFC 4122 variant.
	u := strings.TrimPrefix(a, "report--")
	if u[14] != '5' || !strings.ContainsRune("89ab", rune(u[19])) {
		t.Fatalf("%s is not a UUIDv5", u)
	}
	// Fixed forever: a changed namespace would change every exported ID.
	if got, want := ID("identity", "x"), "identity--"; !strings.HasPrefix(got, want) {
		t.Fatal(got)
	}
}

func TestTypeOf(t *testing.T) {
	for in, want := range map[string]string{
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": "indicator",
		"x-custom--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":  "x-custom",
		"indicator--8e2e2d2b":                             "",
		"--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":          "",
		"":                                                "",
	} {
		if got := TypeOf(in); got != want {
			t.Errorf("TypeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTLPMapping(t *testing.T) {
	cases := []struct {
		id, level string
	}{
		{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", TLPClear},
		{"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", TLPGreen},
		{"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", TLPAmber},
		{"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", TLPAmberStrict},
		{"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", TLPRed},
		// TLP 1.0 reads as its 2.0 twin.
		{"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLPClear},
		{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLPGreen},
		{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLPAmber},
		{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLPRed},
		{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec", ""},
	}
	for _, c := range cases {
		l, ok := TLPOfMarking(c.id)
		if l != c.level || ok != (c.level != "") {
			t.Errorf("TLPOfMarking(%s) = %q %v, want %q", c.id, l, ok, c.level)
		}
		md, ok := TLPMarkingByID(c.id)
		if ok != (c.level != "") {
			t.Errorf("TLPMarkingByID(%s): %v", c.id, ok)
		}
		if ok {
			if l, _ := TLPOfDefinition(md); l != c.level {
				t.Errorf("definition of %s reads %q", c.id, l)
			}
		}
	}
	for _, l := range TLPLevels {
		md, ok := TLPMarking(l)
		if !ok || md.ID != TLPMarkingID(l) || md.Name != "TLP:"+strings.ToUpper(l) {
			t.Errorf("TLPMarking(%s) = %+v", l, md)
		}
	}
	// A definition under another ID, by its content.
	def := MarkingDefinition{ID: "marking-definition--00000000-0000-4000-8000-000000000000", DefinitionType: "tlp", Definition: json.RawMessage(`{"tlp":"white"}`)}
	if l, ok := TLPOfDefinition(def); !ok || l != TLPClear {
		t.Errorf("tlp white definition reads %q", l)
	}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"green"}, "green"},
		{[]string{"green", "amber+strict", "amber"}, "amber+strict"},
		{[]string{"clear", "red"}, "red"},
		{[]string{"nonsense", "clear"}, "clear"},
	} {
		if got := MostRestrictive(c.in...); got != c.want {
			t.Errorf("MostRestrictive(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPattern(t *testing.T) {
	cases := []struct {
		kind, value, want string
	}{
		{KindURL, "http://evil.example/a?b='c'", `[url:value = 'http://evil.example/a?b=\'c\'']`},
		{KindIPv4, "198.51.100.23", `[ipv4-addr:value = '198.51.100.23']`},
		{KindIPv6, "2001:db8::1", `[ipv6-addr:value = '2001:db8::1']`},
		{KindDomain, "evil.example", `[domain-name:value = 'evil.example']`},
		{KindEmail, "a@evil.example", `[email-addr:value = 'a@evil.example']`},
		{KindMD5, "d41d8cd98f00b204e9800998ecf8427e", `[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']`},
		{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", `[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']`},
		{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", `[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']`},
		{KindURL, `http://x.example/\`, `[url:value = 'http://x.example/\\']`},
	}
	for _, c := range cases {
		got, err := Pattern(c.kind, c.value)
		if err != nil || got != c.want {
			t.Errorf("Pattern(%s, %q) = %s, %v; want %s", c.kind, c.value, got, err, c.want)
			continue
		}
		back, err := ParsePattern(got)
		if err != nil || len(back) != 1 || back[0] != (Comparison{c.kind, c.value}) {
			t.Errorf("ParsePattern(%s) = %v, %v", got, back, err)
		}
	}
	if _, err := Pattern("phone", "1"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestParsePattern(t *testing.T) {
	cases := []struct {
		in   string
		want []Comparison
	}{
		{"[ipv4-addr:value = '10.0.0.1/32']", []Comparison{{KindIPv4, "10.0.0.1"}}},
		{"[ipv6-addr:value='2001:db8::1/128']", []Comparison{{KindIPv6, "2001:db8::1"}}},
		{"[file:hashes.'SHA-256' = 'ab' OR file:hashes.md5 = 'cd']", []Comparison{{KindSHA256, "ab"}, {KindMD5, "cd"}}},
		{"[url:value = 'http://a.example/'] OR [domain-name:value = 'b.example']", []Comparison{{KindURL, "http://a.example/"}, {KindDomain, "b.example"}}},
		{"  [ email-addr:value = 'x@y.example' ]  ", []Comparison{{KindEmail, "x@y.example"}}},
		{"[file:hashes.SHA1 = 'ef']", []Comparison{{KindSHA1, "ef"}}},
		// Not simple.
		{"[ipv4-addr:value = '10.0.0.0/8']", nil},
		{"[ipv4-addr:value = '10.0.0.1' AND url:value = 'x']", nil},
		{"[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS", nil},
		{"[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [url:value = 'y']", nil},
		{"[email-message:subject MATCHES '^x']", nil},
		{"[file:name = 'a.exe']", nil},
		{"[url:value != 'x']", nil},
		{"[url:value = 'unterminated]", nil},
		{"[url:value = 'bad\\escape']", nil},
		{"[url:value = '']", nil},
		{"", nil},
		{"[]", nil},
		{"url:value = 'x'", nil},
		{"[url:value = 'x'] OR", nil},
		{"[url:value = 'x'] ORANGE [url:value = 'y']", nil},
	}
	for _, c := range cases {
		got, err := ParsePattern(c.in)
		if c.want == nil {
			if !errors.Is(err, ErrNotSimple) {
				t.Errorf("ParsePattern(%q) = %v, %v; want ErrNotSimple", c.in, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("ParsePattern(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("ParsePattern(%q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

func TestRead(t *testing.T) {
	ind := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`
	bundle := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + ind + `]}`
	cases := []struct {
		name string
		in   string
		lim  Limits
		err  error
		n    int
	}{
		{"bundle", bundle, DefaultLimits, nil, 1},
		{"lone object", ind, DefaultLimits, nil, 1},
		{"schema", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`, DefaultLimits, nil, 0},
		{"empty bundle", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"}`, DefaultLimits, nil, 0},
		{"too big", bundle, Limits{MaxBytes: 100, MaxObjects: 10, MaxObject: 1000}, ErrTooLarge, 0},
		{"too many", bundle, Limits{MaxBytes: 1 << 20, MaxObjects: 0, MaxObject: 1000}, ErrTooLarge, 0},
		{"object too big", bundle, Limits{MaxBytes: 1 << 20, MaxObjects: 10, MaxObject: 10}, ErrTooLarge, 0},
		{"truncated", bundle[:len(bundle)-10], DefaultLimits, ErrSyntax, 0},
		{"not json", "hello", DefaultLimits, ErrSyntax, 0},
		{"no type", `{"id":"x"}`, DefaultLimits, ErrNotSTIX, 0},
		{"array", `[1,2]`, DefaultLimits, ErrNotSTIX, 0},
		{"bad bundle id", `{"type":"bundle","id":"x","objects":[]}`, DefaultLimits, ErrNotSTIX, 0},
		{"bad object id", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}]}`, DefaultLimits, ErrNotSTIX, 0},
		{"object not an object", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[3]}`, DefaultLimits, ErrNotSTIX, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Read(strings.NewReader(c.in), c.lim)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || len(d.Objects) != c.n {
				t.Fatalf("Read = %d objects, %v; want %d", len(d.Objects), err, c.n)
			}
			for _, o := range d.Objects {
				var v Indicator
				if err := o.Decode(&v); err != nil || v.Pattern == "" || o.ModifiedTime().IsZero() {
					t.Fatalf("decode: %+v %v", v, err)
				}
			}
		})
	}
}

func TestMarshalIndicatorRoundTrip(t *testing.T) {
	pat, _ := Pattern(KindDomain, "evil.example")
	c := NewCommon("indicator", ID("indicator", "x"), testTime, testTime)
	c.ObjectMarkingRefs = []string{TLPMarkingID(TLPGreen)}
	b, err := Marshal(Indicator{Common: c, Pattern: pat, PatternType: "stix", ValidFrom: FormatTime(testTime)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(b, DefaultLimits)
	if err != nil || len(d.Objects) != 1 || !bytes.Equal(d.Objects[0].Raw, b) {
		t.Fatalf("Parse: %v %v", d, err)
	}
	if got := d.Objects[0].ModifiedTime(); !got.Equal(testTime) {
		t.Fatalf("modified %v, want %v", got, testTime)
	}
}

// TestSTIXReadMarkings: granular markings count, and a marking list that is
// not of the STIX shape is flagged, never read as no marking.
func TestSTIXReadMarkings(t *testing.T) {
	red := TLPMarkingID(TLPRed)
	for _, tc := range []struct {
		props     string
		refs, gra int
		malformed bool
	}{
		{`"object_marking_refs":["` + red + `"]`, 1, 0, false},
		{`"object_marking_refs":null`, 0, 0, false},
		{`"object_marking_refs":["` + red + `",0]`, 1, 0, true},
		{`"object_marking_refs":"` + red + `"`, 0, 0, true},
		{`"granular_markings":[{"marking_ref":"` + red + `","selectors":["description"]}]`, 0, 1, false},
		{`"granular_markings":[{"lang":"en","selectors":["name"]}]`, 0, 0, false},
		{`"granular_markings":[{"marking_ref":5,"selectors":["name"]}]`, 0, 0, true},
		{`"granular_markings":[{"selectors":["name"]}]`, 0, 0, true},
		{`"granular_markings":{}`, 0, 0, true},
	} {
		d, err := Parse([]byte(`{"type":"note","id":"note--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",`+tc.props+`}`), DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", tc.props, err)
		}
		o := d.Objects[0]
		if len(o.ObjectMarkingRefs) != tc.refs || len(o.GranularMarkingRefs) != tc.gra || o.MarkingsMalformed != tc.malformed {
			t.Errorf("%s: %d refs, %d granular, malformed %v", tc.props, len(o.ObjectMarkingRefs), len(o.GranularMarkingRefs), o.MarkingsMalformed)
		}
	}
}

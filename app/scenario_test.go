package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	scenarioExample = "../examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml"
	scenarioSchema  = "../examples/exercises/scenario.schema.json"
)

// scenarioValidator compiles examples/exercises/scenario.schema.json.
func scenarioValidator(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(scenarioSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validateScenarioYAML validates a YAML scenario against the JSON schema.
func validateScenarioYAML(t testing.TB, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// The shipped scenario, the fifth joint exercise's ransomware scenario,
// validates against the schema and decodes: eight injects in two parts,
// 27 July 13:30 and 28 July 14:40 in Tokyo, in Japanese and English.
func TestScenarioExampleValidatesAndDecodes(t *testing.T) {
	b, err := os.ReadFile(scenarioExample)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateScenarioYAML(t, scenarioValidator(t), b); err != nil {
		t.Fatalf("the example does not validate against the schema: %v", err)
	}
	sc, err := DecodeScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if want := time.Date(2021, 7, 27, 13, 30, 0, 0, tokyo); !sc.Start.Equal(want) {
		t.Errorf("start %v, want %v", sc.Start, want)
	}
	if len(sc.Injects) != 8 {
		t.Fatalf("%d injects, want 8", len(sc.Injects))
	}
	parts := map[int][]Inject{}
	for _, in := range sc.Injects {
		parts[in.Part] = append(parts[in.Part], in)
		if in.Title.JA == "" || in.Title.EN == "" || in.Body.JA == "" || in.Body.EN == "" {
			t.Errorf("inject %s: not in both languages", in.ID)
		}
	}
	if len(parts[1]) != 4 || len(parts[2]) != 4 {
		t.Fatalf("parts: %d and %d injects, want 4 and 4", len(parts[1]), len(parts[2]))
	}
	if want := time.Date(2021, 7, 28, 14, 40, 0, 0, tokyo); !parts[2][0].At.Equal(want) {
		t.Errorf("part 2 starts %v, want %v", parts[2][0].At, want)
	}
	if parts[2][0].Offset != 25*time.Hour+10*time.Minute {
		t.Errorf("part 2's offset %v, want 25h10m", parts[2][0].Offset)
	}
	if len(sc.Expect) == 0 {
		t.Error("no expected incidents")
	}
}

// Every error is one line naming the inject (or expectation) and the field,
// and wraps ErrInvalid; the schema refuses the same files.
func TestScenarioErrors(t *testing.T) {
	base, err := os.ReadFile(scenarioExample)
	if err != nil {
		t.Fatal(err)
	}
	schema := scenarioValidator(t)
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"bad tlp", "tlp: GREEN\n    channel: pro\n    title:\n      ja: 複数", "tlp: BLUE\n    channel: pro\n    title:\n      ja: 複数", `inject 1 (p1-1): tlp: "BLUE"`},
		{"red", "tlp: GREEN\n    channel: pro\n    title:\n      ja: 複数", "tlp: RED\n    channel: pro\n    title:\n      ja: 複数", `inject 1 (p1-1): tlp:`},
		{"no english title", "      en: Malware found in the office networks of several critical-service operators\n", "", `inject 1 (p1-1): title.en: required`},
		{"amber+strict to all", "tlp: GREEN\n    channel: pro\n    title:\n      ja: 複数", "tlp: AMBER+STRICT\n    channel: pro\n    title:\n      ja: 複数", `inject 1 (p1-1): tlp: AMBER+STRICT stays inside an organisation`},
		{"bad offset", "offset: 15m", "offset: soon", `inject 2 (p1-2): offset: "soon"`},
		{"offset and at", "offset: 40m", "offset: 40m\n    at: \"2021-07-27T14:10:00+09:00\"", `inject 3 (p1-3): offset: give offset or at`},
		{"bad kind", "kinds: [critical-service]\n    type: incident\n    tag: important\n    tlp: AMBER\n    channel: pro\n    title:\n      ja: 【状況付与】重要", "kinds: [power]\n    type: incident\n    tag: important\n    tlp: AMBER\n    channel: pro\n    title:\n      ja: 【状況付与】重要", `inject 2 (p1-2): audience.kinds: "power"`},
		{"unknown field", "    part: 1\n    offset: 0m", "    part: 1\n    colour: red\n    offset: 0m", `unknown field "colour"`},
		{"before start", "date: 2021-07-28\n      time: \"14:40\"", "date: 2021-07-26\n      time: \"14:40\"", `inject 5 (p2-1): offset:`},
		{"bad after", "after: p1-2", "after: p9-9", `expectation 1: after: "p9-9" names no inject`},
		{"bad category", "category: ransomware", "category: ransom", `expectation 1: category: "ransom"`},
		{"format", "format: 1", "format: 2", `format: 2`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(base, []byte(c.old)) {
				t.Fatalf("the example does not hold %q", c.old)
			}
			b := bytes.Replace(base, []byte(c.old), []byte(c.new), 1)
			_, err := DecodeScenario(b)
			if err == nil {
				t.Fatal("decoded")
			}
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want one line with %q, wrapping ErrInvalid", err, c.want)
			}
			if c.name != "before start" && c.name != "bad after" && c.name != "offset and at" {
				if validateScenarioYAML(t, schema, b) == nil {
					t.Errorf("the schema takes it")
				}
			}
		})
	}
}

// Budgets: a file too large, too many injects, an alias (a small file
// that decodes large) are refused before they cost anything.
func TestScenarioBudgets(t *testing.T) {
	if _, err := DecodeScenario(make([]byte, MaxScenarioSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a file over the budget: %v", err)
	}
	var b strings.Builder
	b.WriteString("format: 1\nname: many\ntitle: {ja: 多い, en: many}\nstart: \"2021-07-27T13:30:00+09:00\"\ninjects:\n")
	for i := range MaxInjects + 1 {
		b.WriteString("  - {id: i" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + ", offset: 1m, audience: community, type: alert, tag: info, tlp: clear, title: {ja: あ, en: a}, body: {ja: あ, en: a}}\n")
	}
	if _, err := DecodeScenario([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "at most 200") {
		t.Errorf("too many injects: %v", err)
	}
	alias := "format: 1\nname: a\ntitle: &t {ja: あ, en: a}\nstart: \"2021-07-27T13:30:00+09:00\"\ninjects: []\n"
	if _, err := DecodeScenario([]byte(alias)); err == nil || !strings.Contains(err.Error(), "anchors") {
		t.Errorf("an anchor: %v", err)
	}
}

// FuzzDecodeScenario: a scenario file comes from outside. Decoding never
// panics, stays within its budgets, and errors are one line wrapping
// ErrInvalid or ErrTooLarge.
func FuzzDecodeScenario(f *testing.F) {
	if b, err := os.ReadFile(scenarioExample); err == nil {
		f.Add(b)
	}
	f.Add([]byte("format: 1\nname: x\ntitle: {ja: あ, en: a}\nstart: {date: 2021-07-27, time: \"13:30\", zone: Asia/Tokyo}\ninjects:\n  - {id: a, offset: 0m, audience: {kinds: [venue]}, type: alert, tag: info, tlp: green, title: {ja: あ, en: a}, body: {ja: あ, en: a}}\nexpect:\n  - {kind: venue, category: dos, after: a, within: 1h}\n"))
	f.Add([]byte("injects: [{at: {date: x}}]"))
	// Nested past maxScenarioDepth (small, to keep the target fast).
	f.Add(deepScenario("flow-seq", 1000))
	f.Add(deepScenario("block-seq", 200))
	f.Add(deepScenario("mixed", maxScenarioDepth+2))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := DecodeScenario(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrTooLarge", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		if len(sc.Injects) == 0 || len(sc.Injects) > MaxInjects || len(sc.Expect) > MaxExpectations {
			t.Fatalf("%d injects, %d expectations", len(sc.Injects), len(sc.Expect))
		}
		for i, in := range sc.Injects {
			if in.Offset < 0 || (i > 0 && in.Offset < sc.Injects[i-1].Offset) {
				t.Fatalf("inject %s out of order", in.ID)
			}
		}
	})
}

var _ = filepath.Join

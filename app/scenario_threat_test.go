package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// deepScenario returns a scenario file nested depth levels deep (the
// top-level mapping is the first) in one of several shapes.
func deepScenario(shape string, depth int) []byte {
	const head = "format: 1\nname: x\nexpect: "
	switch shape {
	case "flow-seq":
		return []byte(head + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "\n")
	case "flow-map":
		return []byte(head + strings.Repeat("{a: ", depth-1) + "b" + strings.Repeat("}", depth-1) + "\n")
	case "unclosed":
		return []byte(head + strings.Repeat("[", depth-1))
	case "block-seq":
		// "expect:" is in level 1; each "- " opens one more.
		return []byte(head + "\n" + strings.Repeat("- ", depth-1) + "x\n")
	case "block-map":
		var b strings.Builder
		b.WriteString(head + "\n")
		for i := 1; i < depth; i++ {
			fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
		}
		return []byte(b.String())
	case "mixed":
		// block levels, then flow levels inside them.
		var b strings.Builder
		b.WriteString(head + "\n")
		half := depth / 2
		for i := 1; i < half; i++ {
			fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
		}
		rest := depth - half - 1
		fmt.Fprintf(&b, "%sk: %s%s\n", strings.Repeat(" ", half), strings.Repeat("[", rest), strings.Repeat("]", rest))
		return []byte(b.String())
	}
	panic(shape)
}

// depthRefusal is the pre-scan's error for a file nested too deep.
const depthRefusal = "nested more than"

// TestThreatScenarioNestingRefusedBeforeParsing: a hostile scenario file
// nested thousands of levels deep ("expect: [[[[...]]]]", a 1 MiB file
// half open brackets) would keep the YAML parser busy for minutes to half
// an hour (its time grows with the square of the nesting) before it says
// "exceeded max depth". The token pre-scan refuses any file nested deeper
// than maxScenarioDepth, flow or block, with its own one-line error, so the
// parser never sees it; a file nested up to the bound passes the pre-scan.
func TestThreatScenarioNestingRefusedBeforeParsing(t *testing.T) {
	n := (MaxScenarioSize - 64) / 2
	big := deepScenario("flow-seq", n)
	if len(big) > MaxScenarioSize || len(big) < MaxScenarioSize-100 {
		t.Fatalf("setup: %d bytes", len(big))
	}
	inputs := map[string][]byte{"1 MiB flow-seq": big}
	for _, shape := range []string{"flow-seq", "flow-map", "unclosed", "block-seq", "block-map", "mixed"} {
		inputs[fmt.Sprintf("%s %d", shape, maxScenarioDepth+1)] = deepScenario(shape, maxScenarioDepth+1)
	}
	for _, shape := range []string{"flow-seq", "flow-map", "unclosed", "block-seq"} {
		inputs[fmt.Sprintf("%s 40000", shape)] = deepScenario(shape, 40000)
	}
	inputs["block-map 1400"] = deepScenario("block-map", 1400) // its size grows with the square
	for name, b := range inputs {
		if len(b) > MaxScenarioSize {
			t.Fatalf("setup %s: %d bytes", name, len(b))
		}
		_, err := DecodeScenario(b)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), depthRefusal) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s (%d bytes): %v, want the pre-scan's refusal (%q)", name, len(b), err, depthRefusal)
		}
	}
	// Up to the bound the pre-scan lets the file through (the checks
	// after the parser refuse it for other reasons).
	for _, shape := range []string{"flow-seq", "flow-map", "block-seq", "block-map", "mixed"} {
		b := deepScenario(shape, maxScenarioDepth)
		if _, err := DecodeScenario(b); err == nil || strings.Contains(err.Error(), depthRefusal) {
			t.Errorf("%s nested %d deep: %v, want a refusal after the parser", shape, maxScenarioDepth, err)
		}
	}
	// A real scenario is far from the bound.
	b, err := os.ReadFile(scenarioExample)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeScenario(b); err != nil {
		t.Fatalf("example scenario: %v", err)
	}
}

package chart

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func spec(kind Kind) Spec {
	return Spec{Title: "閲覧数 views per day", XLabel: "日 day", YLabel: "件数", Kind: kind,
		Categories: []string{"07-21", "07-22", "07-23"},
		Series:     []Series{{Name: "重要", Values: []float64{1, 2, 3}}, {Name: "info", Values: []float64{2, 0, 1}, Dashed: true}}}
}

// TestRender draws every kind to PNG and SVG, with the Japanese font when
// one is installed; NOROSHI_CHART_DIR keeps the files to look at.
func TestRender(t *testing.T) {
	fonts, err := LoadFonts(JapaneseFontPaths)
	if err != nil {
		t.Logf("no Japanese font: %v", err)
	}
	for _, k := range []Kind{Bars, StackedBars, Lines} {
		for _, f := range []string{"png", "svg"} {
			b, err := Render(spec(k), fonts, f)
			if err != nil {
				t.Fatal(err)
			}
			switch f {
			case "png":
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if img.Bounds().Dx() < 600 {
					t.Errorf("png %d wide", img.Bounds().Dx())
				}
			case "svg":
				if !strings.Contains(string(b), "<svg") {
					t.Errorf("not an svg")
				}
			}
			if dir := os.Getenv("NOROSHI_CHART_DIR"); dir != "" {
				os.WriteFile(filepath.Join(dir, string(rune('a'+k))+"."+f), b, 0o644)
			}
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	s := spec(Bars)
	s.Series[0].Values = s.Series[0].Values[:1]
	if _, err := Render(s, nil, "png"); err == nil {
		t.Error("a series of the wrong length was drawn")
	}
	if _, err := Render(spec(Bars), nil, "gif"); err == nil {
		t.Error("gif was drawn")
	}
	if _, err := Render(Spec{Title: "empty"}, nil, "png"); err != nil {
		t.Errorf("empty chart: %v", err)
	}
}

func TestParseFontRefusesLatin(t *testing.T) {
	if _, err := ParseFont([]byte("not a font")); err == nil {
		t.Error("garbage parsed as a font")
	}
}

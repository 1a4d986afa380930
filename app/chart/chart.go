// Package chart draws the metrics' charts with gonum/plot: bars (grouped
// or stacked) and lines over named categories, rendered to PNG or SVG. It
// imports no noroshi package: app gives it the figures and the labels in
// the language chosen.
//
// Fonts. gonum/plot's own fonts (Liberation) hold no Japanese glyphs: a
// Japanese label would be drawn as empty boxes. Fonts loads a TrueType or
// OpenType font with Japanese glyphs (IPAex Gothic where installed, see
// JapaneseFontPaths) for the whole chart; without one, Fonts says so
// (Japanese false) and the caller keeps its labels in English. Fonts are
// per chart (no global font cache is changed).
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"

	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// JapaneseFontPaths are where a Japanese font is looked for: IPAex Gothic
// as Debian and Ubuntu install it (fonts-ipaexfont-gothic), then other
// usual places.
var JapaneseFontPaths = []string{
	"/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/OTF/ipaexg.ttf",
	"/Library/Fonts/ipaexg.ttf",
}

// maxFontFile bounds a font file read.
const maxFontFile = 32 << 20

// Fonts is the text of a chart: a font cache and its typeface.
type Fonts struct {
	cache    *font.Cache
	typeface font.Typeface
	variant  font.Variant
	// Japanese says whether the fonts draw Japanese text.
	Japanese bool
}

// LatinFonts returns gonum/plot's own Liberation Sans (no Japanese).
func LatinFonts() *Fonts {
	return &Fonts{cache: font.NewCache(liberation.Collection()), typeface: "Liberation", variant: "Sans"}
}

// LoadFonts returns fonts for Japanese labels from the first of paths
// that holds a font, else LatinFonts and the reason none was loaded.
func LoadFonts(paths []string) (*Fonts, error) {
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		b, err := readAtMost(f, maxFontFile)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		fnt, err := ParseFont(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		return fnt, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no Japanese font installed (IPAex Gothic: fonts-ipaexfont-gothic)"))
	}
	return LatinFonts(), errors.Join(errs...)
}

func readAtMost(f *os.File, n int64) ([]byte, error) {
	var buf bytes.Buffer
	m, err := buf.ReadFrom(&limited{f: f, n: n + 1})
	if err != nil {
		return nil, err
	}
	if m > n {
		return nil, fmt.Errorf("font file larger than %d bytes", n)
	}
	return buf.Bytes(), nil
}

type limited struct {
	f *os.File
	n int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errEOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}

var errEOF = errors.New("EOF")

// ParseFont returns fonts of a TrueType or OpenType font's bytes, for
// Japanese text (it is checked to hold the glyph of 日).
func ParseFont(b []byte) (*Fonts, error) {
	f, err := opentype.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parse font: %w", err)
	}
	var sb sfnt.Buffer
	if idx, err := f.GlyphIndex(&sb, '日'); err != nil || idx == 0 {
		return nil, errors.New("the font holds no Japanese glyphs")
	}
	const tf = "Japanese"
	coll := font.Collection{{Font: font.Font{Typeface: tf}, Face: f}}
	return &Fonts{cache: font.NewCache(coll), typeface: tf, Japanese: true}, nil
}

// Kind is how a chart draws its series.
type Kind int

// Chart kinds.
const (
	Bars        Kind = iota // one bar per category and series, side by side
	StackedBars             // the series stacked on each category
	Lines                   // one line per series over the categories
)

// Series is one named row of values, one per category.
type Series struct {
	Name   string
	Values []float64
	// Dashed draws a line series dashed (a baseline).
	Dashed bool
}

// Spec is one chart.
type Spec struct {
	Title, XLabel, YLabel string
	Categories            []string
	Series                []Series
	Kind                  Kind
	// Percent shows the Y axis from 0 to 100.
	Percent bool
	// Width and Height in points (0: 640 by 360).
	Width, Height float64
}

// maxCategories bounds the categories of a chart; labels are thinned to
// at most maxLabels.
const (
	maxCategories = 4000
	maxLabels     = 24
)

// Render draws the chart in format "png" or "svg".
func Render(s Spec, fonts *Fonts, format string) ([]byte, error) {
	if fonts == nil {
		fonts = LatinFonts()
	}
	if len(s.Categories) > maxCategories {
		return nil, fmt.Errorf("chart %q: %d categories, at most %d", s.Title, len(s.Categories), maxCategories)
	}
	p, err := build(s, fonts)
	if err != nil {
		return nil, err
	}
	w, h := s.Width, s.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 360
	}
	var buf bytes.Buffer
	switch format {
	case "png":
		cv := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h)), vgimg.UseDPI(144), vgimg.UseBackgroundColor(color.White))
		p.Draw(margin(draw.New(cv)))
		if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("chart %q: %w", s.Title, err)
		}
	case "svg":
		cv := vgsvg.NewWith(vgsvg.UseWH(vg.Length(w), vg.Length(h)), vgsvg.EmbedFonts(false))
		p.Draw(margin(draw.New(cv)))
		if _, err := cv.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("chart %q: %w", s.Title, err)
		}
	default:
		return nil, fmt.Errorf("chart format %q: png or svg", format)
	}
	return buf.Bytes(), nil
}

// margin keeps the title and the last labels off the image's edges.
func margin(c draw.Canvas) draw.Canvas {
	m := vg.Points(6)
	return draw.Crop(c, m, -m, m, -m)
}

// style sets a text style's font and handler to the chart's.
func (f *Fonts) style(st *text.Style, h text.Handler, size float64) {
	st.Handler = h
	st.Font = font.Font{Typeface: f.typeface, Variant: f.variant, Size: font.Length(size)}
}

func build(s Spec, f *Fonts) (*plot.Plot, error) {
	p := plot.New()
	h := text.Plain{Fonts: f.cache}
	p.TextHandler = h
	f.style(&p.Title.TextStyle, h, 13)
	f.style(&p.Legend.TextStyle, h, 9)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		f.style(&ax.Label.TextStyle, h, 10)
		f.style(&ax.Tick.Label, h, 8)
	}
	p.Title.Text = s.Title
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = s.YLabel
	p.Legend.Top = true
	p.Y.Min = 0
	if s.Percent {
		p.Y.Max = 100
	}
	p.Add(plotter.NewGrid())
	n := len(s.Categories)
	if n == 0 {
		// An empty chart still draws its frame and title.
		p.X.Min, p.X.Max, p.Y.Max = 0, 1, math.Max(p.Y.Max, 1)
		return p, nil
	}
	for _, se := range s.Series {
		if len(se.Values) != n {
			return nil, fmt.Errorf("chart %q: series %q has %d values for %d categories", s.Title, se.Name, len(se.Values), n)
		}
	}
	switch s.Kind {
	case Lines:
		for i, se := range s.Series {
			xy := make(plotter.XYs, n)
			for j, v := range se.Values {
				xy[j] = plotter.XY{X: float64(j), Y: v}
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, fmt.Errorf("chart %q: %w", s.Title, err)
			}
			l.Color = Palette(i)
			l.Width = vg.Points(1.5)
			if se.Dashed {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(l)
			if len(s.Series) > 1 {
				p.Legend.Add(se.Name, l)
			}
		}
	default:
		groups := len(s.Series)
		if s.Kind == StackedBars {
			groups = 1
		}
		width := vg.Points(math.Max(1, math.Min(24, 480/float64(n*max(groups, 1)))))
		var below *plotter.BarChart
		for i, se := range s.Series {
			b, err := plotter.NewBarChart(plotter.Values(se.Values), width)
			if err != nil {
				return nil, fmt.Errorf("chart %q: %w", s.Title, err)
			}
			b.Color = Palette(i)
			b.LineStyle.Width = 0
			if s.Kind == StackedBars {
				if below != nil {
					b.StackOn(below)
				}
				below = b
			} else {
				b.Offset = vg.Length(float64(i)-float64(groups-1)/2) * width
			}
			p.Add(b)
			if len(s.Series) > 1 {
				p.Legend.Add(se.Name, b)
			}
		}
	}
	// Room for the bars' halves at both ends, and for the legend above.
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	if !s.Percent {
		p.Y.Max = math.Max(1, p.Y.Max*1.18)
	}
	labels := make([]string, n)
	step := (n + maxLabels - 1) / maxLabels
	for i, c := range s.Categories {
		if i%step == 0 {
			labels[i] = c
		}
	}
	p.NominalX(labels...)
	if n > 8 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	return p, nil
}

// palette is a colour-blind-safe set (Okabe and Ito).
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, {0xE6, 0x9F, 0x00, 0xFF}, {0x00, 0x9E, 0x73, 0xFF}, {0xD5, 0x5E, 0x00, 0xFF},
	{0x56, 0xB4, 0xE9, 0xFF}, {0xCC, 0x79, 0xA7, 0xFF}, {0xF0, 0xE4, 0x42, 0xFF}, {0x00, 0x00, 0x00, 0xFF},
	{0x99, 0x99, 0x99, 0xFF}, {0x88, 0x22, 0x55, 0xFF},
}

// Palette returns the colour of the i-th series.
func Palette(i int) color.Color { return palette[i%len(palette)] }

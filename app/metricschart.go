package app

import (
	"fmt"
	"strings"

	"noroshi/app/chart"
)

// The metrics' charts, drawn by gonum/plot (app/chart) from Metrics: the
// same files for the desktop app's Metrics screen (PNG) and `noroshi
// metrics --charts DIR` (PNG and SVG).
//
// Language: labels are in English or Japanese. gonum/plot's own font has
// no Japanese glyphs, so Japanese labels are drawn with IPAex Gothic
// (chart.JapaneseFontPaths); where it is not installed, the charts keep
// English labels (ChartRenderer.Lang says which) and the desktop app shows
// the Japanese titles beside them. SVG files name the font rather than
// embed it (8 MB each otherwise): a viewer without IPAex Gothic draws the
// Japanese text in a font of its own.

// Chart is one drawn chart.
type Chart struct {
	Name   string `json:"name"` // file name without extension: first-read, ...
	Title  string `json:"title"`
	Format string `json:"format"` // png or svg
	Data   []byte `json:"-"`
}

// ChartNames are the charts' names, in the order drawn.
var ChartNames = []string{"first-read", "read-rate-by-kind", "active-by-kind", "views-per-day", "incidents-per-week"}

// ChartRenderer draws the charts in one language; keep one (loading the
// Japanese font costs a few milliseconds).
type ChartRenderer struct {
	fonts *chart.Fonts
	lang  string
	// FontNote says why Japanese labels fell back to English, if they did.
	FontNote string
}

// NewChartRenderer returns a renderer for lang ("ja" or "en").
func NewChartRenderer(lang string) *ChartRenderer {
	r := &ChartRenderer{lang: "en", fonts: chart.LatinFonts()}
	if strings.HasPrefix(lang, "ja") {
		f, err := chart.LoadFonts(chart.JapaneseFontPaths)
		if err != nil || !f.Japanese {
			r.FontNote = fmt.Sprintf("charts keep English labels: %v", err)
		} else {
			r.fonts, r.lang = f, "ja"
		}
	}
	return r
}

// Lang returns the labels' language: "ja" or "en".
func (r *ChartRenderer) Lang() string { return r.lang }

var chartLabels = map[string][2]string{ // key: {en, ja}
	"first-read":         {"Time from publication to first read", "公開から初回閲読までの時間"},
	"read-rate-by-kind":  {"Read rate by organisation kind", "組織種別ごとの閲読率"},
	"active-by-kind":     {"Active devices per day by organisation kind", "組織種別ごとの日別アクティブ端末数"},
	"views-per-day":      {"Topic views per day", "日別トピック閲覧数"},
	"incidents-per-week": {"Incidents per week by category", "週別・分類別のインシデント件数"},
	"posts":              {"Posts", "投稿数"},
	"percent":            {"%", "%"},
	"devices":            {"Devices", "端末数"},
	"views":              {"Views", "閲覧数"},
	"incidents":          {"Incidents", "件数"},
	"day":                {"Day", "日付"},
	"week":               {"ISO week", "週"},
	"after":              {"Time to first read", "初回閲読までの時間"},
	"baseline":           {"Baseline (per day)", "平常時（1日平均）"},
	"not-read":           {"not read", "未読"},
	"more":               {"more", "超"},
	"kind":               {"Organisation kind", "組織種別"},
}

var kindLabelsJA = map[OrgKind]string{
	KindCoordination: "調整センター", KindCriticalService: "重要サービス事業者", KindLawEnforcement: "治安機関",
	KindMinistry: "関係府省庁", KindOrganising: "大会組織委員会", KindOther: "その他",
	KindSecurityAgency: "情報セキュリティ関係機関", KindSportsBody: "スポーツ関連団体", KindVenue: "会場",
}

var categoryLabelsJA = map[Category]string{
	CatConsultation: "相談", CatDataLeak: "情報漏えい", CatDefacement: "改ざん", CatDoS: "DoS攻撃", CatMalware: "マルウェア",
	CatMisconfiguration: "設定不備", CatOutage: "障害", CatPhishing: "フィッシング", CatRansomware: "ランサムウェア", CatTrafficSurge: "アクセス集中",
}

func (r *ChartRenderer) label(k string) string {
	l := chartLabels[k]
	if r.lang == "ja" {
		return l[1]
	}
	return l[0]
}

func (r *ChartRenderer) kind(k OrgKind) string {
	if r.lang == "ja" {
		if s, ok := kindLabelsJA[k]; ok {
			return s
		}
	}
	return string(k)
}

func (r *ChartRenderer) category(c Category) string {
	if r.lang == "ja" {
		if s, ok := categoryLabelsJA[c]; ok {
			return s
		}
	}
	return string(c)
}

// Specs returns the charts' specifications, by ChartNames.
func (r *ChartRenderer) Specs(m Metrics) []chart.Spec {
	var specs []chart.Spec

	// Time to first read.
	var cats []string
	prev := "0"
	for _, b := range DistributionBounds {
		cur := durationLabel(b)
		cats = append(cats, prev+"–"+cur)
		prev = cur
	}
	cats = append(cats, prev+" "+r.label("more"), r.label("not-read"))
	vals := make([]float64, 0, len(cats))
	for _, n := range m.FirstRead.Buckets {
		vals = append(vals, float64(n))
	}
	for len(vals) < len(cats)-1 {
		vals = append(vals, 0)
	}
	vals = append(vals, float64(m.FirstRead.Unread))
	specs = append(specs, chart.Spec{Title: r.label("first-read"), XLabel: r.label("after"), YLabel: r.label("posts"),
		Categories: cats, Series: []chart.Series{{Name: r.label("posts"), Values: vals}}, Kind: chart.Bars})

	// Read rate by kind.
	cats, vals = nil, nil
	for _, k := range m.ReadRateByKind {
		cats = append(cats, r.kind(k.Kind))
		vals = append(vals, 100*k.Rate)
	}
	specs = append(specs, chart.Spec{Title: r.label("read-rate-by-kind"), XLabel: r.label("kind"), YLabel: r.label("percent"),
		Categories: cats, Series: []chart.Series{{Values: vals}}, Kind: chart.Bars, Percent: true})

	// Active devices per day by kind.
	days := make([]string, len(m.Days))
	for i, d := range m.Days {
		days[i] = d.Day
		if len(d.Day) == len("2006-01-02") {
			days[i] = d.Day[5:] // 01-02
		}
	}
	var series []chart.Series
	for _, k := range OrgKinds {
		s := chart.Series{Name: r.kind(k), Values: make([]float64, len(m.Days))}
		nonzero := false
		for i, d := range m.Days {
			s.Values[i] = float64(d.ActiveByKind[k])
			nonzero = nonzero || s.Values[i] > 0
		}
		if nonzero {
			series = append(series, s)
		}
	}
	specs = append(specs, chart.Spec{Title: r.label("active-by-kind"), XLabel: r.label("day"), YLabel: r.label("devices"),
		Categories: days, Series: series, Kind: chart.StackedBars})

	// Views per day, with the baseline.
	views := chart.Series{Name: r.label("views"), Values: make([]float64, len(m.Days))}
	for i, d := range m.Days {
		views.Values[i] = float64(d.Views)
	}
	series = []chart.Series{views}
	if m.Baseline != nil {
		b := chart.Series{Name: r.label("baseline"), Values: make([]float64, len(m.Days)), Dashed: true}
		for i := range b.Values {
			b.Values[i] = m.Baseline.ViewsPerDay.Baseline
		}
		series = append(series, b)
	}
	specs = append(specs, chart.Spec{Title: r.label("views-per-day"), XLabel: r.label("day"), YLabel: r.label("views"),
		Categories: days, Series: series, Kind: chart.Lines})

	// Incidents per week by category.
	weeks := make([]string, len(m.Weeks))
	for i, w := range m.Weeks {
		weeks[i] = w.Week
	}
	series = nil
	for _, c := range Categories {
		s := chart.Series{Name: r.category(c), Values: make([]float64, len(m.Weeks))}
		nonzero := false
		for i, w := range m.Weeks {
			s.Values[i] = float64(w.Incidents[c])
			nonzero = nonzero || s.Values[i] > 0
		}
		if nonzero {
			series = append(series, s)
		}
	}
	specs = append(specs, chart.Spec{Title: r.label("incidents-per-week"), XLabel: r.label("week"), YLabel: r.label("incidents"),
		Categories: weeks, Series: series, Kind: chart.StackedBars})
	return specs
}

// Charts draws the charts of m in format "png" or "svg".
func (r *ChartRenderer) Charts(m Metrics, format string) ([]Chart, error) {
	var out []Chart
	for i, s := range r.Specs(m) {
		b, err := chart.Render(s, r.fonts, format)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		out = append(out, Chart{Name: ChartNames[i], Title: s.Title, Format: format, Data: b})
	}
	return out, nil
}

// durationLabel writes seconds as minutes or hours: 5m, 1h.
func durationLabel(s int64) string {
	if s < 3600 {
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%dh", s/3600)
}

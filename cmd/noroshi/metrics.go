package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// metricsCSVHeader is the one shape of `noroshi metrics --csv`: every
// figure is a row of section, subject, name, measure, value (a long,
// "tidy" table that a spreadsheet pivots), documented in the command's
// help.
var metricsCSVHeader = []string{"section", "subject", "name", "measure", "value"}

func (c *cli) metricsCmd() *cobra.Command {
	var since, until, bsince, buntil, charts, zone, lang string
	var asCSV bool
	var top int
	cmd := &cobra.Command{
		Use:   "metrics [--json|--csv] [--since D] [--until D] [--baseline-since D --baseline-until D] [--charts DIR]",
		Short: "Figures on use: first reads, read rates, topic views, active devices, notices, detections / 利用状況の集計",
		Long: `Figures on the community's use over a period, from what this device can
read (a coordinator sees every organisation's): per post, the time from
publication to the first read and to each organisation's first read; read
rates by organisation and organisation kind; topic views (opening a post,
apart from the read button) and the most viewed posts; per day, active
devices by organisation kind (the report's logins), posts, comments and
incidents; observation notices and their time to first reading by the
addressed organisation; weekly detections by attack class (incidents by
category, and posts of type malware, alert and attack-foreshadowing); and,
with a baseline period, the period against it per day. Exercise traffic is
never counted.

Dates are days (2021-07-21) or times (2021-07-21T09:00:00+09:00) in --zone;
--until D counts day D whole.

--csv prints one table: section,subject,name,measure,value. Sections:
totals; first_read (median_s, mean_s, p90_s, count, unread) and
first_read_bucket (subject: the bucket's upper bound in seconds, "more");
post (subject: post ID, name: title; measures first_read_s, readers,
audience_orgs, read_orgs, views, time); post_org_first_read (subject: post
ID, name: organisation; after_s); read_rate_org (subject: organisation ID,
name: its name; addressed, read, rate); read_rate_kind (subject: kind);
most_viewed (subject: post ID, name: title; views); day (subject: the day;
active_devices, activity_records, views, posts, comments, incidents);
day_active_by_kind (subject: day, name: kind; active_devices); notice
(subject: post ID, name: organisation; first_read_s, empty when unread);
week_incidents (subject: ISO week, name: category; count); week_posts
(subject: ISO week, name: post type; count); baseline (name: the figure;
event, baseline, ratio).

--charts DIR writes the charts (PNG and SVG) drawn with gonum/plot:
first-read, read-rate-by-kind, active-by-kind, views-per-day,
incidents-per-week. Labels are Japanese with --lang ja (needs the IPAex
Gothic font; English otherwise).

期間中の利用状況（初回閲読までの時間、組織別・種別の閲読率、閲覧数、日別アクティブ
端末数、観測通知、週別の検知件数、平常時との比較）を集計します。演習は含みません。`,
		Example: `  noroshi metrics --since 2021-07-21 --until 2021-09-05
  noroshi metrics --since 2021-07-21 --until 2021-09-05 --baseline-since 2021-06-01 --baseline-until 2021-07-20 --json
  noroshi metrics --csv > metrics.csv
  noroshi metrics --charts charts/ --lang ja`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := time.Local
			if zone != "" {
				l, err := time.LoadLocation(zone)
				if err != nil {
					return fmt.Errorf("%w: --zone %q: give a zone such as Asia/Tokyo or UTC", app.ErrInvalid, zone)
				}
				loc = l
			}
			if (bsince == "") != (buntil == "") {
				return fmt.Errorf("%w: a baseline needs both its beginning and its end: give --baseline-since and --baseline-until", app.ErrInvalid)
			}
			if asCSV && c.o.json {
				return fmt.Errorf("%w: --json or --csv, not both", app.ErrInvalid)
			}
			q := app.MetricsQuery{Zone: loc, Top: top}
			var err error
			for _, f := range []struct {
				flag, s string
				end     bool
				to      *time.Time
			}{{"--since", since, false, &q.Since}, {"--until", until, true, &q.Until},
				{"--baseline-since", bsince, false, &q.BaselineSince}, {"--baseline-until", buntil, true, &q.BaselineUntil}} {
				if f.s == "" {
					continue
				}
				if *f.to, err = parseMetricsDate(f.flag, f.s, f.end, loc); err != nil {
					return err
				}
			}
			if lang == "" {
				lang = "en"
				for _, v := range []string{"NOROSHI_LANG", "LC_ALL", "LANG"} {
					if s := c.env.getenv(v); s != "" {
						if strings.HasPrefix(s, "ja") {
							lang = "ja"
						}
						break
					}
				}
			}
			return c.withApp(func(a *app.App) error {
				m, err := a.Metrics(q)
				if err != nil {
					return err
				}
				if charts != "" {
					if err := c.writeCharts(m, c.path(charts), lang); err != nil {
						return err
					}
				}
				if asCSV {
					return writeMetricsCSV(c.out(), m)
				}
				return c.emit(m, func(w io.Writer) { printMetrics(w, m) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "beginning of the period (default: the first post or activity)")
	f.StringVar(&until, "until", "", "end of the period, day D counted whole (default: now)")
	f.StringVar(&bsince, "baseline-since", "", "beginning of the baseline period")
	f.StringVar(&buntil, "baseline-until", "", "end of the baseline period, day D counted whole")
	f.StringVar(&charts, "charts", "", "write the charts to this directory (PNG and SVG)")
	f.StringVar(&zone, "zone", "", "time zone of days and weeks (default: the local zone), e.g. Asia/Tokyo")
	f.StringVar(&lang, "lang", "", "language of the charts' labels: ja or en (default: from $LANG)")
	f.BoolVar(&asCSV, "csv", false, "print the figures as one CSV table: section,subject,name,measure,value")
	f.IntVar(&top, "top", 10, "how many of the most viewed posts to list")
	return cmd
}

// parseMetricsDate reads a day or a time; a day given as an end counts
// whole (the next day's midnight).
func parseMetricsDate(flag, s string, end bool, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %q: give a day such as 2021-07-21 or a time such as 2021-07-21T09:00:00+09:00", app.ErrInvalid, flag, s)
}

func (c *cli) writeCharts(m app.Metrics, dir, lang string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: --charts %s: %v", app.ErrInvalid, dir, err)
	}
	r := app.NewChartRenderer(lang)
	if r.FontNote != "" {
		fmt.Fprintf(c.env.stderr, "noroshi: %s\n", r.FontNote)
	}
	for _, format := range []string{"png", "svg"} {
		cs, err := r.Charts(m, format)
		if err != nil {
			return err
		}
		for _, ch := range cs {
			p := filepath.Join(dir, ch.Name+"."+format)
			if err := os.WriteFile(p, ch.Data, 0o644); err != nil {
				return fmt.Errorf("%w: --charts: %v", app.ErrInvalid, err)
			}
		}
	}
	fmt.Fprintf(c.env.stderr, "noroshi: %d charts written to %s (PNG and SVG)\n", len(app.ChartNames), dir)
	return nil
}

func secs(p *int64) string {
	if p == nil {
		return "-"
	}
	return (time.Duration(*p) * time.Second).String()
}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

// printMetrics prints the figures as readable tables.
func printMetrics(w io.Writer, m app.Metrics) {
	t := m.Totals
	fmt.Fprintf(w, "Period 期間: %s – %s (%s; %s)\n", m.Since.Format("2006-01-02 15:04"), m.Until.Format("2006-01-02 15:04"), m.Zone, map[string]string{"all": "all organisations 全組織", "readable": "what this device can read 閲覧可能な範囲"}[m.Coverage])
	fmt.Fprintf(w, "Posts 投稿 %d  comments コメント %d  incidents インシデント %d  reads 既読 %d  views 閲覧 %d  activity records %d  active devices 端末 %d  observation notices 観測通知 %d\n",
		t.Posts, t.Comments, t.Incidents, t.Reads, t.Views, t.ActivityRecords, t.ActiveDevices, t.Notices)
	d := m.FirstRead
	fmt.Fprintf(w, "\nTime to first read 初回閲読まで: %d read, %d not read; median %s, mean %s, 90%% %s\n", d.Count, d.Unread,
		time.Duration(d.MedianS*float64(time.Second)).Round(time.Second), time.Duration(d.MeanS*float64(time.Second)).Round(time.Second), time.Duration(d.P90S*float64(time.Second)).Round(time.Second))

	fmt.Fprintln(w, "\nRead rate by organisation kind 組織種別の閲読率")
	for _, r := range m.ReadRateByKind {
		fmt.Fprintf(w, "  %-22s %7s  (%d of %d)\n", r.Kind, pct(r.Rate), r.Read, r.Addressed)
	}
	fmt.Fprintln(w, "\nRead rate by organisation 組織別の閲読率")
	for _, r := range m.ReadRateByOrg {
		fmt.Fprintf(w, "  %-32s %-22s %7s  (%d of %d)\n", clip(r.Name, 32), r.Kind, pct(r.Rate), r.Read, r.Addressed)
	}
	fmt.Fprintln(w, "\nMost viewed posts 閲覧数の多い投稿")
	for _, p := range m.MostViewed {
		fmt.Fprintf(w, "  %6d  %s  %s\n", p.Views, short(p.ID), clip(p.Title, 60))
	}
	fmt.Fprintln(w, "\nPer day 日別: day, active devices, views, posts, comments, incidents, active devices by kind")
	for _, day := range m.Days {
		var kinds []string
		for k, n := range day.ActiveByKind {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "  %s %5d %6d %4d %4d %3d  %s\n", day.Day, day.ActiveDevices, day.Views, day.Posts, day.Comments, day.Incidents, strings.Join(kinds, ", "))
	}
	fmt.Fprintln(w, "\nObservation notices 観測通知: time to first reading by the addressed organisation")
	for _, n := range m.Notices {
		fmt.Fprintf(w, "  %s  %-28s %-10s %s\n", n.Time.Format("01-02 15:04"), clip(n.OrgName, 28), secs(n.FirstReadS), clip(n.Title, 50))
	}
	fmt.Fprintln(w, "\nDetections per week 週別の検知: incidents by category; posts of type malware, alert, attack-foreshadowing")
	for _, wk := range m.Weeks {
		var parts []string
		for k, n := range wk.Incidents {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		for k, n := range wk.Posts {
			parts = append(parts, fmt.Sprintf("post:%s %d", k, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "  %s %4d  %s\n", wk.Week, wk.Total, strings.Join(parts, ", "))
	}
	if b := m.Baseline; b != nil {
		fmt.Fprintf(w, "\nAgainst the baseline 平常時との比較 (%s – %s), per day:\n", b.BaselineSince.Format("2006-01-02"), b.BaselineUntil.Format("2006-01-02"))
		for _, r := range []struct {
			name string
			r    app.Ratio
		}{{"active devices 端末", b.ActivePerDay}, {"views 閲覧", b.ViewsPerDay}, {"posts 投稿", b.PostsPerDay}} {
			ratio := "-"
			if r.r.Ratio != nil {
				ratio = fmt.Sprintf("%.2fx", *r.r.Ratio)
			}
			fmt.Fprintf(w, "  %-22s %10.1f against %10.1f  %s\n", r.name, r.r.Event, r.r.Baseline, ratio)
		}
	}
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeMetricsCSV writes the figures as one long table (metricsCSVHeader).
func writeMetricsCSV(out io.Writer, m app.Metrics) error {
	w := csv.NewWriter(out)
	row := func(section, subject, name, measure string, v any) {
		var s string
		switch x := v.(type) {
		case int:
			s = strconv.Itoa(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case *int64:
			if x != nil {
				s = strconv.FormatInt(*x, 10)
			}
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case *float64:
			if x != nil {
				s = strconv.FormatFloat(*x, 'f', -1, 64)
			}
		case string:
			s = x
		}
		w.Write([]string{section, subject, name, measure, s})
	}
	w.Write(metricsCSVHeader)
	t := m.Totals
	for _, x := range []struct {
		k string
		v int
	}{{"posts", t.Posts}, {"comments", t.Comments}, {"incidents", t.Incidents}, {"reads", t.Reads}, {"views", t.Views},
		{"activity_records", t.ActivityRecords}, {"active_devices", t.ActiveDevices}, {"observation_notices", t.Notices}} {
		row("totals", "", "", x.k, x.v)
	}
	fr := m.FirstRead
	row("first_read", "", "", "count", fr.Count)
	row("first_read", "", "", "unread", fr.Unread)
	row("first_read", "", "", "median_s", fr.MedianS)
	row("first_read", "", "", "mean_s", fr.MeanS)
	row("first_read", "", "", "p90_s", fr.P90S)
	for i, n := range fr.Buckets {
		bound := "more"
		if i < len(app.DistributionBounds) {
			bound = strconv.FormatInt(app.DistributionBounds[i], 10)
		}
		row("first_read_bucket", bound, "", "posts", n)
	}
	for _, p := range m.Posts {
		row("post", p.ID, p.Title, "time", p.Time.Format(time.RFC3339))
		row("post", p.ID, p.Title, "first_read_s", p.FirstReadS)
		row("post", p.ID, p.Title, "readers", p.Readers)
		row("post", p.ID, p.Title, "audience_orgs", p.AudienceOrgs)
		row("post", p.ID, p.Title, "read_orgs", p.ReadOrgs)
		row("post", p.ID, p.Title, "views", p.Views)
		for _, o := range p.OrgFirstReads {
			row("post_org_first_read", p.ID, o.OrgName, "after_s", o.AfterS)
		}
	}
	for _, r := range m.ReadRateByOrg {
		row("read_rate_org", r.Org, r.Name, "addressed", r.Addressed)
		row("read_rate_org", r.Org, r.Name, "read", r.Read)
		row("read_rate_org", r.Org, r.Name, "rate", r.Rate)
	}
	for _, r := range m.ReadRateByKind {
		row("read_rate_kind", string(r.Kind), "", "addressed", r.Addressed)
		row("read_rate_kind", string(r.Kind), "", "read", r.Read)
		row("read_rate_kind", string(r.Kind), "", "rate", r.Rate)
	}
	for _, p := range m.MostViewed {
		row("most_viewed", p.ID, p.Title, "views", p.Views)
	}
	for _, d := range m.Days {
		row("day", d.Day, "", "active_devices", d.ActiveDevices)
		row("day", d.Day, "", "activity_records", d.ActivityRecords)
		row("day", d.Day, "", "views", d.Views)
		row("day", d.Day, "", "posts", d.Posts)
		row("day", d.Day, "", "comments", d.Comments)
		row("day", d.Day, "", "incidents", d.Incidents)
		for _, k := range app.OrgKinds {
			if n, ok := d.ActiveByKind[k]; ok {
				row("day_active_by_kind", d.Day, string(k), "active_devices", n)
			}
		}
	}
	for _, n := range m.Notices {
		row("notice", n.ID, n.OrgName, "first_read_s", n.FirstReadS)
	}
	for _, wk := range m.Weeks {
		for _, k := range app.Categories {
			if n, ok := wk.Incidents[k]; ok {
				row("week_incidents", wk.Week, string(k), "count", n)
			}
		}
		for _, k := range app.DetectionTypes {
			if n, ok := wk.Posts[k]; ok {
				row("week_posts", wk.Week, string(k), "count", n)
			}
		}
	}
	if b := m.Baseline; b != nil {
		for _, x := range []struct {
			k string
			r app.Ratio
		}{{"active_devices_per_day", b.ActivePerDay}, {"views_per_day", b.ViewsPerDay}, {"posts_per_day", b.PostsPerDay}} {
			row("baseline", "", x.k, "event", x.r.Event)
			row("baseline", "", x.k, "baseline", x.r.Baseline)
			row("baseline", "", x.k, "ratio", x.r.Ratio)
		}
	}
	w.Flush()
	return w.Error()
}

func (c *cli) orgSettingsCmd() *cobra.Command {
	var countViews, named bool
	cmd := &cobra.Command{
		Use:   "settings [ORG] [--count-views=true|false] [--named=true|false]",
		Short: "Show or change an organisation's settings: views counted, consent to be named / 組織の設定",
		Long: `Show an organisation's settings (your own without ORG), or change them
(its admins and the coordinators): --count-views=false stops recording and
counting its members' topic views and activity in the metrics;
--named=true lets the daily bulletin and digests name it.

組織の設定（閲覧数の記録・集計、日報等での組織名の掲載）を表示・変更します。`,
		Example: `  noroshi org settings
  noroshi org settings "Metro Power" --count-views=false
  noroshi org settings --named=true --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			org := ""
			if len(args) == 1 {
				org = args[0]
			}
			var ch app.OrgSettingsChange
			if cmd.Flags().Changed("count-views") {
				ch.CountViews = &countViews
			}
			if cmd.Flags().Changed("named") {
				ch.Named = &named
			}
			return c.withApp(func(a *app.App) error {
				var s app.OrgSettingsView
				var err error
				if ch.CountViews == nil && ch.Named == nil {
					s, err = a.OrgSettingsOf(org)
				} else {
					s, err = a.SetOrgSettings(org, ch)
				}
				if err != nil {
					return err
				}
				return c.emit(s, func(w io.Writer) {
					yes := map[bool]string{true: "yes はい", false: "no いいえ"}
					fmt.Fprintf(w, "%s (%s)\n", s.OrgName, s.Kind)
					fmt.Fprintf(w, "views counted 閲覧数を集計: %s\n", yes[s.CountViews])
					fmt.Fprintf(w, "may be named 組織名の掲載: %s\n", yes[s.Named])
					if s.Set {
						fmt.Fprintf(w, "updated %s by %s\n", when(s.Updated), s.By)
					}
				})
			})
		},
	}
	cmd.Flags().BoolVar(&countViews, "count-views", true, "record and count the members' topic views and activity")
	cmd.Flags().BoolVar(&named, "named", false, "the organisation may be named in the daily bulletin and digests")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// reportCmd is `noroshi report sitrep|bulletin|digest`.
func (c *cli) reportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the AM/PM situation report, the daily bulletin or the digest for non-specialists",
		Long: `Reports made from what this device holds, over a fixed window, in Japanese
or English, as Markdown, HTML (one file, laid out for A4 paper) or PDF (A4,
with a Japanese font). Exercise traffic is never included.

Windows, in --zone (the machine's local zone by default):
  sitrep --window am   the day before 17:00 to the day's 09:00
  sitrep --window pm   the day's 09:00 to 17:00
  bulletin             the whole day, 00:00 to 24:00
  digest --weeks N     the N weeks that end with the day

The language is --lang, else the locale's (LC_ALL, LC_MESSAGES, LANG):
Japanese when it starts with "ja", English otherwise. TLP labels are never
translated.`,
		Example: `  noroshi report sitrep --window am --format pdf --out sitrep-am.pdf
  noroshi report bulletin --date 2021-07-24 --post
  noroshi report digest --weeks 2 --audience sports-bodies --format html --out digest.html`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(c.reportSitrepCmd(), c.reportBulletinCmd(), c.reportDigestCmd())
	return cmd
}

// reportFlags are the flags every report takes.
type reportFlags struct {
	date, zone, format, out, lang, font string
	force                               bool
}

func (f *reportFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.date, "date", "", "the report's day, YYYY-MM-DD (default: today)")
	fl.StringVar(&f.zone, "zone", "", "time zone of the windows, such as Asia/Tokyo (default: the machine's)")
	fl.StringVar(&f.format, "format", "md", "md, html or pdf")
	fl.StringVar(&f.out, "out", "", "file to write (default: standard output; a PDF needs a file)")
	fl.StringVar(&f.lang, "lang", "", "ja or en (default: from the locale)")
	fl.StringVar(&f.font, "font", "", "Japanese TrueType font for the PDF (default: IPAex Gothic, package fonts-ipaexfont-gothic)")
	fl.BoolVar(&f.force, "force", false, "overwrite an existing file")
}

// options reads the flags every report takes into o, and returns the
// format and language.
func (f *reportFlags) options(c *cli, o *app.ReportOptions) (app.ReportFormat, string, error) {
	if f.zone != "" {
		loc, err := time.LoadLocation(f.zone)
		if err != nil {
			return "", "", fmt.Errorf("%w: --zone %q: give a zone such as Asia/Tokyo or UTC", app.ErrInvalid, f.zone)
		}
		o.Zone = loc
	}
	if f.date != "" {
		d, err := app.ParseReportDate(f.date, o.Zone)
		if err != nil {
			return "", "", fmt.Errorf("%w: --date %q: give a day such as 2021-07-24", app.ErrInvalid, f.date)
		}
		o.Date = d
	}
	format, err := app.ParseReportFormat(f.format)
	if err != nil {
		return "", "", fmt.Errorf("%w: --format %q: give md, html or pdf", app.ErrInvalid, f.format)
	}
	if format == app.FormatPDF && (f.out == "" || f.out == "-") {
		return "", "", fmt.Errorf("%w: a PDF is not written to the terminal: give --out FILE.pdf", app.ErrInvalid)
	}
	lang := localeLang(c.env.getenv)
	if f.lang != "" {
		if lang, err = app.ParseReportLang(f.lang); err != nil {
			return "", "", fmt.Errorf("%w: --lang %q: give ja or en", app.ErrInvalid, f.lang)
		}
	}
	return format, lang, nil
}

// localeLang returns ja when the locale (LC_ALL, LC_MESSAGES, LANG, the
// first set) is Japanese, else en.
func localeLang(getenv func(string) string) string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if l := getenv(v); l != "" {
			if strings.HasPrefix(strings.ToLower(l), "ja") {
				return app.ReportJapanese
			}
			return app.ReportEnglish
		}
	}
	return app.ReportEnglish
}

// writeReport makes the report and writes it: the data with --json, else
// the rendered report to --out or standard output.
func (c *cli) writeReport(o app.ReportOptions, f *reportFlags, after func(a *app.App, r app.Report, lang string) error) error {
	format, lang, err := f.options(c, &o)
	if err != nil {
		return err
	}
	if f.font != "" {
		f.font = c.path(f.font)
	}
	return c.withApp(func(a *app.App) error {
		r, err := a.MakeReport(o)
		if err != nil {
			return err
		}
		if c.o.json {
			if err := c.emit(r, nil); err != nil {
				return err
			}
			if after != nil {
				return after(a, r, lang)
			}
			return nil
		}
		if after != nil && f.out == "" {
			// Posting: the confirmation is the output.
			return after(a, r, lang)
		}
		b, err := r.Render(app.ReportRender{Format: format, Lang: lang, Font: f.font})
		if errors.Is(err, app.ErrNoReportFont) {
			return errors.New("no Japanese TrueType font for the PDF: install fonts-ipaexfont-gothic (Debian, Ubuntu: apt install fonts-ipaexfont-gothic) or pass --font FILE.ttf")
		}
		if err != nil {
			return err
		}
		if err := c.writeOutput(f.out, b, f.force); err != nil {
			return err
		}
		if f.out != "" && f.out != "-" {
			fmt.Fprintf(c.out(), "%s: %s, %s, %s\n", f.out, reportName(r), r.TLP.Label(), sizeText(len(b)))
		}
		if after != nil {
			return after(a, r, lang)
		}
		return nil
	})
}

// reportName says which report it is, in English.
func reportName(r app.Report) string {
	switch r.Kind {
	case app.ReportSitrep:
		return fmt.Sprintf("situation report (%s) %s", strings.ToUpper(string(r.Window)), r.Date)
	case app.ReportBulletin:
		return "daily bulletin " + r.Date
	}
	return fmt.Sprintf("digest of %d weeks to %s", r.Digest.Weeks, r.Date)
}

func sizeText(n int) string {
	if n < 10<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func (c *cli) reportSitrepCmd() *cobra.Command {
	var f reportFlags
	var window string
	cmd := &cobra.Command{
		Use:   "sitrep --window am|pm [--date D] [--zone ZONE] [--format md|html|pdf] [--out FILE] [--lang ja|en] [--font FILE]",
		Short: "Write the AM or PM situation report to the security coordination centre",
		Long: `Write the situation report of a half day: the incidents that affect the
event, need a public response or were passed to the security coordination
centre, by category and status; what changed in the window (new incidents,
status moves, escalation flags); open support requests and their age;
observation notices sent; threat information shared, by tag and type.
AM covers the day before 17:00 to the day's 09:00, PM 09:00 to 17:00.
It shows whatever this device can read (a coordinator sees everything) and
is marked TLP:AMBER: it names organisations.`,
		Example: `  noroshi report sitrep --window am
  noroshi report sitrep --window pm --date 2021-07-24 --zone Asia/Tokyo --format pdf --out sitrep-pm.pdf
  noroshi report sitrep --window am --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := app.ParseReportWindow(window)
			if window == "" {
				return fmt.Errorf("%w: a situation report needs --window am or pm", app.ErrInvalid)
			}
			if err != nil {
				return fmt.Errorf("%w: --window %q: give am or pm", app.ErrInvalid, window)
			}
			return c.writeReport(app.ReportOptions{Kind: app.ReportSitrep, Window: w}, &f, nil)
		},
	}
	cmd.Flags().StringVar(&window, "window", "", "am (the day before 17:00 to 09:00) or pm (09:00 to 17:00)")
	f.add(cmd)
	return cmd
}

func (c *cli) reportBulletinCmd() *cobra.Command {
	var f reportFlags
	var tlpMax string
	var post bool
	cmd := &cobra.Command{
		Use:   "bulletin [--date D] [--zone ZONE] [--tlp-max clear|green|amber] [--post] [--format md|html|pdf] [--out FILE] [--lang ja|en] [--font FILE]",
		Short: "Write the daily bulletin for all members, and post it with --post",
		Long: `Write the daily bulletin for all members: the day's incidents counted by
category (an organisation named only when it consented, in its settings),
the observation notices sent (a count), and the threat information shared
with the whole community that day within --tlp-max (GREEN by default;
AMBER at most). Posts sealed to chosen organisations or people and
observation notices are never included. The bulletin is marked with the
most restricted TLP of what it includes, GREEN at least.
--post posts it to the community: the general channel, type alert, tag
【情報】, with that TLP, its body the bulletin in Markdown.`,
		Example: `  noroshi report bulletin
  noroshi report bulletin --date 2021-07-24 --lang ja --post
  noroshi report bulletin --tlp-max amber --format html --out bulletin.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := app.ReportOptions{Kind: app.ReportBulletin}
			if tlpMax != "" {
				t, err := app.ParseTLP(tlpMax)
				if err != nil || t == app.TLPAmberStrict || t == app.TLPRed {
					return fmt.Errorf("%w: --tlp-max %q: a bulletin to all members includes clear, green or amber at most", app.ErrInvalid, tlpMax)
				}
				o.TLPMax = t
			}
			var after func(a *app.App, r app.Report, lang string) error
			if post {
				after = func(a *app.App, r app.Report, lang string) error {
					p, err := a.PostBulletin(r, lang)
					if err != nil {
						return err
					}
					w := c.env.stdout
					if c.o.json {
						w = c.env.stderr
					}
					fmt.Fprintf(w, "posted %s  %s%s  %s to the community (general)\n", short(p.ID), p.TagMark, p.Title, p.TLP)
					return nil
				}
			}
			return c.writeReport(o, &f, after)
		},
	}
	cmd.Flags().StringVar(&tlpMax, "tlp-max", "", "most restricted marking to include: clear, green (default) or amber")
	cmd.Flags().BoolVar(&post, "post", false, "post the bulletin to the community (general channel, 【情報】)")
	f.add(cmd)
	return cmd
}

func (c *cli) reportDigestCmd() *cobra.Command {
	var f reportFlags
	var tlpMax, audience string
	var weeks int
	cmd := &cobra.Command{
		Use:   "digest [--weeks N] [--audience KIND] [--date D] [--zone ZONE] [--tlp-max clear|green|amber] [--format md|html|pdf] [--out FILE] [--lang ja|en] [--font FILE]",
		Short: "Write the digest of the last weeks for non-specialists (sports bodies by default)",
		Long: `Write a digest for readers who are not security specialists: only the
【重要】 and 【注意】 posts shared with the whole community in the last
--weeks (2 by default, at most 8) within --tlp-max (GREEN by default),
important first; for each, what to do (the post's "What to do:" or
"対策：" paragraph, else the tag's advice) and a summary first, technical
details (type, TLP, indicators defanged) in a last section for IT staff.
Organisations are named only with their consent.
Audiences: ` + joinEnum(app.OrgKinds) + ` (plural forms too).`,
		Example: `  noroshi report digest --weeks 2 --audience sports-bodies
  noroshi report digest --lang ja --format pdf --out digest.pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := app.ReportOptions{Kind: app.ReportDigest, Weeks: weeks}
			if weeks < 1 || weeks > app.MaxDigestWeeks {
				return fmt.Errorf("%w: --weeks %d: give 1 to %d", app.ErrInvalid, weeks, app.MaxDigestWeeks)
			}
			k, err := app.ParseReportAudience(audience)
			if err != nil {
				return fmt.Errorf("%w: --audience %q: give one of %s", app.ErrInvalid, audience, joinEnum(app.OrgKinds))
			}
			o.Audience = k
			if tlpMax != "" {
				t, err := app.ParseTLP(tlpMax)
				if err != nil || t == app.TLPAmberStrict || t == app.TLPRed {
					return fmt.Errorf("%w: --tlp-max %q: a digest includes clear, green or amber at most", app.ErrInvalid, tlpMax)
				}
				o.TLPMax = t
			}
			return c.writeReport(o, &f, nil)
		},
	}
	cmd.Flags().IntVar(&weeks, "weeks", 2, "weeks the digest covers, ending with --date")
	cmd.Flags().StringVar(&audience, "audience", "sports-bodies", "the kind of organisation it is written for")
	cmd.Flags().StringVar(&tlpMax, "tlp-max", "", "most restricted marking to include: clear, green (default) or amber")
	f.add(cmd)
	return cmd
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// maxSTIXFile bounds a STIX file read by `stix import`.
const maxSTIXFile = 64 << 20

// stixCmd is `noroshi stix export|import`.
func (c *cli) stixCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stix",
		Short: "Write or read STIX 2.1 bundles, for the tools security teams already run",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(c.stixExportCmd(), c.stixImportCmd())
	return cmd
}

func (c *cli) stixExportCmd() *cobra.Command {
	var tlpMax, since, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write one STIX 2.1 bundle of the posts, comments and incidents this device can read",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := app.STIXExportOptions{}
			if tlpMax != "" {
				t, err := app.ParseTLP(tlpMax)
				if err != nil {
					return err
				}
				if t == app.TLPRed {
					return fmt.Errorf("%w: TLP:RED never leaves Noroshi: give --tlp-max clear, green, amber or amber+strict", app.ErrNotAllowed)
				}
				opts.TLPMax = t
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				opts.Since = t
			}
			return c.withApp(func(a *app.App) error {
				var buf bytes.Buffer
				r, err := a.ExportSTIX(&buf, opts)
				if err != nil {
					return err
				}
				if out == "" || out == "-" {
					// The bundle is the output; with --json too.
					return c.writeOutput("-", buf.Bytes(), false)
				}
				if err := c.writeOutput(out, buf.Bytes(), force); err != nil {
					return err
				}
				return c.emit(map[string]any{"file": out, "bundle_id": r.BundleID, "objects": r.Objects, "by_type": r.ByType, "withheld": r.Withheld}, func(w io.Writer) {
					fmt.Fprintf(w, "%s: %s", out, plural(r.Objects, "STIX object", "STIX objects"))
					if r.Objects > 0 {
						fmt.Fprintf(w, " (%s)", byType(r.ByType))
					}
					fmt.Fprintln(w)
					if r.Withheld > 0 {
						fmt.Fprintf(w, "%s above the TLP limit left out (--tlp-max)\n", plural(r.Withheld, "post or incident", "posts or incidents"))
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&tlpMax, "tlp-max", "", "most restricted marking to export: clear, green (default), amber or amber+strict; RED never")
	cmd.Flags().StringVar(&since, "since", "", "only what was written since TIME (2026-07-24, 2026-07-24T09:00:00+09:00, or a duration such as 24h)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

// byType lists counts by STIX type: "2 report, 8 indicator".
func byType(m map[string]int) string {
	order := []string{"report", "indicator", "note", "sighting", "incident", "identity", "marking-definition"}
	seen := map[string]bool{}
	var parts []string
	for _, t := range order {
		if m[t] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[t], t))
		}
		seen[t] = true
	}
	for t, n := range m {
		if !seen[t] {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	return strings.Join(parts, ", ")
}

// parseSince reads a time: RFC 3339, a date, a date and time (local), or
// a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	// Days and weeks, as people say them: 7d, 2w.
	if num, unit := s[:max(len(s)-1, 0)], s[max(len(s)-1, 0):]; unit == "d" || unit == "w" {
		if n, err := strconv.Atoi(num); err == nil && n > 0 && n <= 3660 && !strings.HasPrefix(num, "+") {
			if unit == "w" {
				n *= 7
			}
			return now.AddDate(0, 0, -n), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --since %q: give a time such as 2026-07-24, 2026-07-24T09:00:00+09:00, or a duration such as 24h, 7d or 2w", app.ErrInvalid, s)
}

func (c *cli) stixImportCmd() *cobra.Command {
	var tlp, typ, tag string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Turn a STIX 2.1 bundle into posts; importing again updates instead of duplicating",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts app.STIXImportOptions
			var err error
			if tlp != "" {
				if opts.TLP, err = app.ParseTLP(tlp); err != nil {
					return err
				}
			}
			if typ != "" {
				if opts.Type, err = app.ParsePostType(typ); err != nil {
					return err
				}
			}
			if tag != "" {
				if opts.Tag, err = app.ParseTag(tag); err != nil {
					return err
				}
			}
			opts.DryRun = dryRun
			b, err := c.readInput(args[0], maxSTIXFile)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				r, err := a.ImportSTIX(b, opts)
				if err != nil {
					return err
				}
				return c.emit(r, func(w io.Writer) { printSTIXImport(w, r) })
			})
		},
	}
	cmd.Flags().StringVar(&tlp, "tlp", "", "mark every post with this TLP, whatever the bundle says (clear, green, amber, amber+strict)")
	cmd.Flags().StringVar(&typ, "type", "", "information type of every post ("+joinEnum(app.PostTypes)+")")
	cmd.Flags().StringVar(&tag, "tag", "", "title tag of every post ("+joinEnum(app.Tags)+")")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be added, updated and skipped; post nothing")
	return cmd
}

// stixReasons says why an object was skipped.
var stixReasons = map[app.STIXSkipReason]string{
	app.STIXHeld:    "already held, same or newer revision",
	app.STIXUnused:  "no post refers to it, and it is no post on its own",
	app.STIXSchema:  "a JSON schema, not STIX content",
	app.STIXRevoked: "revoked by its author",
	app.STIXRed:     "TLP:RED goes to named people only: import with --tlp, or post it by hand with --to-member",
	app.STIXRefused: "refused",
	app.STIXBudget:  "over the import's size budget (twice the bundle, plus 1 MiB): import it on its own",
}

func printSTIXImport(w io.Writer, r app.STIXImportResult) {
	verb := map[string]string{"added": "added", "updated": "updated"}
	if r.DryRun {
		verb = map[string]string{"added": "would add", "updated": "would update"}
	}
	line := func(what string, it app.STIXImportItem) {
		fmt.Fprintf(w, "%-12s %s", what, it.STIXID)
		if it.TLP != "" {
			fmt.Fprintf(w, "  %s", it.TLP.Label())
		}
		if it.Title != "" {
			fmt.Fprintf(w, "  %s", it.Title)
		}
		if it.Post != "" && what != "skipped" {
			fmt.Fprintf(w, "  (post %s)", short(it.Post))
		}
		if it.Detail != "" && what != "skipped" {
			fmt.Fprintf(w, "  [%s]", it.Detail)
		}
		fmt.Fprintln(w)
	}
	for _, it := range r.Added {
		line(verb["added"], it)
	}
	for _, it := range r.Updated {
		line(verb["updated"], it)
	}
	for _, it := range r.Skipped {
		why := stixReasons[it.Reason]
		switch {
		case it.Detail == "" || it.Reason == app.STIXSchema:
		case it.Reason == app.STIXHeld:
			why += " (" + it.Detail + ")"
		default:
			why += ": " + it.Detail
		}
		id := it.STIXID
		if id == "" {
			id = "(file)"
		}
		fmt.Fprintf(w, "%-12s %s: %s\n", "skipped", id, why)
	}
	fmt.Fprintf(w, "%d added, %d updated, %d skipped", len(r.Added), len(r.Updated), len(r.Skipped))
	if r.DryRun {
		fmt.Fprint(w, " (dry run: nothing posted)")
	}
	fmt.Fprintln(w)
}

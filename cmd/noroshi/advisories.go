package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"noroshi/app"
)

// advisoryHTTPTimeout bounds one request to the advisory API.
const advisoryHTTPTimeout = time.Minute

// maxSkippedLines is how many skipped advisories the text output lists one
// by one; beyond it, they are counted by reason.
const maxSkippedLines = 20

// advisoriesCmd is `noroshi advisories import`.
func (c *cli) advisoriesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "advisories",
		Short: "Import GitHub security advisories as vulnerability posts",
		Long: `GitHub security advisories (the global advisory database, or a GitHub
Enterprise Server's) as vulnerability posts for the community: one
advisory is one post across the community, whoever imported it, and a
later revision of it updates it.
GitHub セキュリティアドバイザリを脆弱性情報の投稿として取り込みます。`,
		Example: `  noroshi advisories import --severity critical,high --since 7d
  noroshi advisories import --cve CVE-2021-44228 --dry-run`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(c.advisoriesImportCmd())
	return cmd
}

func (c *cli) advisoriesImportCmd() *cobra.Command {
	var (
		ecosystem, since, apiURL, tlp, tokenFile string
		severities, cves                         []string
		dryRun                                   bool
		limit                                    int
	)
	cmd := &cobra.Command{
		Use:   "import [--ecosystem E] [--severity critical,high] [--since TIME] [--cve ID ...] [--tlp TLP] [--limit N] [--dry-run] [--api-url URL] [--token-file FILE]",
		Short: "Read GitHub security advisories and post the ones this community lacks",
		Long: `Read GitHub's security advisories (SecurityAdvisories.ListGlobalSecurityAdvisories,
every page) and post each one as a vulnerability post: 【重要】 for critical,
【注意】 for high, 【情報】 otherwise, TLP:CLEAR unless --tlp says otherwise,
with its GHSA ID, CVE IDs, CVSS, affected packages and version ranges,
patched versions and references as structured fields (noroshi show).
An advisory already held in the same or a newer revision, on this device
or synced from another member, is skipped; an older one is updated.
It prints what it added, updated and skipped, and why.

GITHUB_TOKEN, when set, is sent (it raises GitHub's rate limit); it is not
needed. While noroshi serve (or the desktop app) holds the home, the
command runs there and cannot see this shell's environment: give the
token with --token-file. A rate limit says when to try again; with no
network it says so and changes nothing. It reads at most --limit
advisories (1000) per run.
GitHub のアドバイザリを脆弱性情報として投稿します。同じアドバイザリは
コミュニティ全体で一つの投稿になり、新しい改訂で更新されます。`,
		Example: `  noroshi advisories import --severity critical,high --since 7d
  noroshi advisories import --ecosystem npm --since 2026-07-01 --dry-run
  noroshi advisories import --cve CVE-2021-44228 --cve CVE-2021-45046
  GITHUB_TOKEN=ghp_... noroshi advisories import --json
  noroshi advisories import --api-url https://ghe.example.com/api/v3/ --token-file ~/.ghe-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := app.AdvisoryOptions{
				HTTPClient: &http.Client{Timeout: advisoryHTTPTimeout},
				APIURL:     apiURL, Ecosystem: ecosystem, Severities: severities, CVEs: cves,
				DryRun: dryRun, Limit: limit,
				Token: strings.TrimSpace(c.env.getenv("GITHUB_TOKEN")),
			}
			if tokenFile != "" {
				b, err := c.readInput(tokenFile, 4<<10)
				if err != nil {
					return err
				}
				o.Token = strings.TrimSpace(string(b))
			}
			if tlp != "" {
				t, err := app.ParseTLP(tlp)
				if err != nil {
					return err
				}
				o.TLP = t
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				o.Since = t
			}
			if limit < 0 {
				return fmt.Errorf("%w: --limit %d: give a positive number of advisories", app.ErrInvalid, limit)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if c.env.held == nil {
				// Ctrl-C stops between requests; what was posted stays.
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
				defer stop()
			}
			return c.withApp(func(a *app.App) error {
				res, err := a.ImportAdvisories(ctx, o)
				if err != nil && res.Added+res.Updated == 0 {
					return advisoryError(err, time.Now())
				}
				if perr := c.emit(res, func(w io.Writer) { printAdvisoryImport(w, res) }); perr != nil {
					return perr
				}
				if res.LimitReached {
					fmt.Fprintf(c.env.stderr, "noroshi: stopped after %d advisories (--limit %d); more are listed: narrow with --since, --ecosystem or --severity, or raise --limit\n", res.Read, res.Limit)
				}
				if err != nil {
					return advisoryError(err, time.Now())
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&ecosystem, "ecosystem", "", "only advisories of this ecosystem: npm, pip, maven, go, rubygems, nuget, composer, rust, erlang, actions, pub, swift, other")
	f.StringSliceVar(&severities, "severity", nil, "only these severities, comma-separated: critical, high, medium, low, unknown")
	f.StringVar(&since, "since", "", "only advisories published or updated since TIME (2026-07-24, 2026-07-24T09:00:00+09:00, or a duration such as 168h)")
	f.StringArrayVar(&cves, "cve", nil, "only the advisories of this CVE ID (repeatable)")
	f.StringVar(&tlp, "tlp", "", "TLP of the posts (default clear: advisories are public): clear, green, amber or amber+strict")
	f.IntVar(&limit, "limit", app.DefaultAdvisoryLimit, "read at most this many advisories")
	f.BoolVar(&dryRun, "dry-run", false, "say what would be added, updated and skipped; post nothing")
	f.StringVar(&apiURL, "api-url", "", "GitHub API base URL (default "+app.DefaultAdvisoryAPI+"; GitHub Enterprise Server: https://HOST/api/v3/)")
	f.StringVar(&tokenFile, "token-file", "", "read the GitHub token from this file instead of $GITHUB_TOKEN")
	return cmd
}

// advisoryError phrases an import's error in one line: offline and rate
// limits in the user's terms, with the time to try again in local time.
func advisoryError(err error, now time.Time) error {
	var off *app.OfflineError
	var rl *app.RateLimitError
	switch {
	case errors.As(err, &off) && off.Kept == 0:
		return fmt.Errorf("offline: no connection to %s; nothing changed", off.Host)
	case errors.As(err, &off):
		return fmt.Errorf("offline: connection to %s lost; the %d advisories imported before it are kept: run again for the rest", off.Host, off.Kept)
	case errors.As(err, &rl):
		s := fmt.Sprintf("rate limited by %s: try again", rl.Host)
		if rl.Reset.IsZero() {
			s += " in a few minutes"
		} else {
			s += " after " + when(rl.Reset.Local())
			if d := rl.Reset.Sub(now).Round(time.Minute); d > 0 {
				s += fmt.Sprintf(" (in %s)", strings.TrimSuffix(d.String(), "0s"))
			}
		}
		if rl.Kept == 0 {
			s += "; nothing changed"
		} else {
			s += fmt.Sprintf("; the %d advisories imported before it are kept", rl.Kept)
		}
		if !rl.Token {
			s += "; set GITHUB_TOKEN for a higher limit"
		}
		return errors.New(s)
	}
	return err
}

// printAdvisoryImport prints what an import did: every advisory added or
// updated, and the skipped ones one by one, or by reason when many.
func printAdvisoryImport(w io.Writer, r app.AdvisoryResult) {
	verb := map[string]string{app.AdvisoryAdded: "added", app.AdvisoryUpdated: "updated", app.AdvisorySkipped: "skipped"}
	if r.DryRun {
		verb[app.AdvisoryAdded], verb[app.AdvisoryUpdated] = "would add", "would update"
	}
	for _, it := range r.Items {
		if it.Action == app.AdvisorySkipped {
			continue
		}
		fmt.Fprintf(w, "%-12s %s  %s", verb[it.Action], tagOfSeverity(it.Severity), it.Title)
		if it.Post != "" && !r.DryRun {
			fmt.Fprintf(w, "  (post %s)", short(it.Post))
		}
		fmt.Fprintln(w)
	}
	if r.Skipped <= maxSkippedLines {
		for _, it := range r.Items {
			if it.Action == app.AdvisorySkipped {
				fmt.Fprintf(w, "%-12s %s  %s\n", "skipped", orDash(it.GHSA), it.Reason)
			}
		}
	} else {
		byReason := map[string]int{}
		for _, it := range r.Items {
			if it.Action == app.AdvisorySkipped {
				byReason[it.Reason]++
			}
		}
		reasons := make([]string, 0, len(byReason))
		for reason := range byReason {
			reasons = append(reasons, reason)
		}
		sort.Slice(reasons, func(i, j int) bool { return byReason[reasons[i]] > byReason[reasons[j]] })
		for _, reason := range reasons {
			fmt.Fprintf(w, "%-12s %s: %s\n", "skipped", plural(byReason[reason], "advisory", "advisories"), reason)
		}
	}
	head := "advisories from " + r.Host
	if r.DryRun {
		head = "dry run, nothing posted: advisories from " + r.Host
	}
	fmt.Fprintf(w, "%s: %d added, %d updated, %d skipped (%s read, %s)\n", head, r.Added, r.Updated, r.Skipped,
		plural(r.Read, "advisory", "advisories"), plural(r.Pages, "page", "pages"))
}

func tagOfSeverity(s string) string {
	switch s {
	case "critical":
		return app.TagImportant.Mark()
	case "high":
		return app.TagCaution.Mark()
	}
	return app.TagInfo.Mark()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printAdvisory prints a post's advisory fields, compactly, for noroshi show.
func printAdvisory(w io.Writer, f *app.AdvisoryFields) {
	if f == nil {
		return
	}
	head := []string{f.GHSA}
	head = append(head, f.CVEs...)
	if f.Severity != "" {
		head = append(head, f.Severity)
	}
	if f.CVSSScore > 0 || f.CVSSVector != "" {
		head = append(head, strings.TrimSpace(fmt.Sprintf("CVSS %.1f %s", f.CVSSScore, f.CVSSVector)))
	}
	fmt.Fprintf(w, "\nadvisory %s\n", strings.Join(head, " · "))
	if !f.Withdrawn.IsZero() {
		fmt.Fprintf(w, "  WITHDRAWN %s\n", when(f.Withdrawn.Local()))
	}
	for _, p := range f.Packages {
		patched := "no patched version"
		if p.Patched != "" {
			patched = "patched in " + p.Patched
		}
		fmt.Fprintf(w, "  %s %s: %s; %s\n", p.Ecosystem, p.Name, orDash(p.Vulnerable), patched)
	}
	if len(f.CWEs) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(f.CWEs, ", "))
	}
	var dates []string
	if !f.Published.IsZero() {
		dates = append(dates, "published "+when(f.Published.Local()))
	}
	if !f.Updated.IsZero() {
		dates = append(dates, "updated "+when(f.Updated.Local()))
	}
	if len(dates) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(dates, ", "))
	}
	if f.URL != "" {
		fmt.Fprintf(w, "  %s\n", f.URL)
	}
	const shown = 5
	for i, r := range f.References {
		if i == shown {
			fmt.Fprintf(w, "  ... %d more references (--json lists them)\n", len(f.References)-shown)
			break
		}
		fmt.Fprintf(w, "  ref %s\n", r)
	}
}

// advisoryFlags are serve's flags for the scheduled import.
type advisoryFlags struct {
	every  time.Duration
	apiURL string
}

func (f *advisoryFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.every, "advisories-every", 0, "import GitHub security advisories at this interval (such as 6h), unattended; GITHUB_TOKEN is sent when set")
	fs.StringVar(&f.apiURL, "advisories-api-url", "", "GitHub API base URL for --advisories-every (default "+app.DefaultAdvisoryAPI+")")
}

// advisoryFirstRun is how soon after start serve first imports advisories
// (sooner when the interval is shorter): time enough for the first sync,
// so that what peers already imported is skipped.
const advisoryFirstRun = 30 * time.Second

// scheduleAdvisories runs the scheduled import of serve --advisories-every
// until ctx ends, and returns a function that waits for it to stop. Each
// run asks for what changed since the last good one (an hour of overlap);
// results and errors are logged, never fatal; after a rate limit the next
// run waits for its reset (rateLimitDelay).
func (c *cli) scheduleAdvisories(ctx context.Context, a *app.App, f advisoryFlags) (wait func()) {
	if f.every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	logf := func(format string, args ...any) {
		fmt.Fprintf(c.env.stderr, "noroshi: advisories: "+format+"\n", args...)
	}
	token := strings.TrimSpace(c.env.getenv("GITHUB_TOKEN"))
	logf("importing every %s from %s", f.every, orDefault(f.apiURL, app.DefaultAdvisoryAPI))
	go func() {
		defer close(done)
		delay := min(advisoryFirstRun, f.every)
		var since time.Time
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			start := time.Now()
			res, err := a.ImportAdvisories(ctx, app.AdvisoryOptions{
				HTTPClient: &http.Client{Timeout: advisoryHTTPTimeout},
				APIURL:     f.apiURL, Token: token, Since: since,
			})
			if ctx.Err() != nil {
				return
			}
			delay = f.every
			if err != nil {
				var rl *app.RateLimitError
				if errors.As(err, &rl) {
					delay = rateLimitDelay(rl.Reset, f.every, time.Now())
				}
				logf("%s; next try in %s", oneLine(advisoryError(err, time.Now()).Error()), delay.Round(time.Second))
				continue
			}
			since = start.Add(-time.Hour)
			msg := fmt.Sprintf("%d added, %d updated, %d skipped from %s (%s read)", res.Added, res.Updated, res.Skipped, res.Host, plural(res.Read, "advisory", "advisories"))
			if res.LimitReached {
				msg += fmt.Sprintf("; stopped at the limit of %d", res.Limit)
			}
			logf("%s; next in %s", msg, delay)
		}
	}()
	return func() { <-done }
}

// advisoryUnknownReset is how long the scheduled import waits (at least)
// after a rate limit that does not say until when.
const advisoryUnknownReset = 15 * time.Minute

// rateLimitDelay is how long the scheduled import waits after a rate limit
// that resets at reset (zero: not said): a minute past the reset, or
// advisoryUnknownReset; never less than the interval every, nor more than
// app.MaxRateLimitWait (unless the interval is longer).
func rateLimitDelay(reset time.Time, every time.Duration, now time.Time) time.Duration {
	d := advisoryUnknownReset
	if !reset.IsZero() {
		// Sub saturates; compare before adding, so nothing overflows.
		d = min(reset.Sub(now), app.MaxRateLimitWait)
		d = min(d+time.Minute, app.MaxRateLimitWait)
	}
	return max(d, every)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

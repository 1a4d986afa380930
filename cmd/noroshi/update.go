package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// updateCheck is what `noroshi update check --json` prints.
type updateCheck struct {
	// Offline says that the API could not be reached; nothing else is set
	// but Repo, Host and Current then.
	Offline bool `json:"offline"`
	app.UpdateResult
}

func (c *cli) updateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Check for a newer release (never downloads or installs)",
		Long: `Check whether a newer release of Noroshi is published. Noroshi never
downloads or installs anything by itself: install a newer release as you
installed this one (the .deb, the Windows build, the relay binary).
新しいリリースがあるかを確認します（自動でダウンロードやインストールはしません）。`,
		Example: `  noroshi update check`,
	}
	var repo, apiURL string
	check := &cobra.Command{
		Use:   "check [--repo OWNER/NAME] [--api-url URL] [--json]",
		Short: "Ask GitHub's releases API whether a release newer than this build is published",
		Long: `Ask GitHub's releases API for the latest release of the project and say
whether it is newer than this build, with the first lines of its release
notes. With no network it says "offline: ..." in one line and exits 0.
It only reads: nothing is downloaded or installed. --repo names another
repository (OWNER/NAME), --api-url another API (GitHub Enterprise Server:
https://HOST/api/v3/).
GitHub のリリース API に最新リリースを問い合わせ、このビルドより新しいかを表示します。
ネットワークがなければ "offline: ..." の 1 行だけを表示します。`,
		Example: `  noroshi update check
  noroshi update check --repo example-org/noroshi --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cur := readVersion().Version
			if repo == "" {
				repo = releaseRepo
			}
			if strings.TrimSpace(repo) == "" {
				return fmt.Errorf("%w: this build names no release repository: give --repo OWNER/NAME", app.ErrInvalid)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			res, err := app.CheckUpdate(ctx, app.UpdateOptions{Repo: repo, APIURL: apiURL, Current: cur})
			var off *app.OfflineError
			if errors.As(err, &off) {
				out := updateCheck{Offline: true, UpdateResult: res}
				return c.emit(out, func(w io.Writer) {
					fmt.Fprintf(w, "offline: %s cannot be reached; no update check was made\n", off.Host)
				})
			}
			if err != nil {
				return err
			}
			return c.emit(updateCheck{UpdateResult: res}, func(w io.Writer) { printUpdate(w, res) })
		},
	}
	check.Flags().StringVar(&repo, "repo", "", "the GitHub repository to look in, OWNER/NAME (default: the one this build names)")
	check.Flags().StringVar(&apiURL, "api-url", "", "the GitHub REST API's base URL (default "+app.DefaultAdvisoryAPI+")")
	cmd.AddCommand(check)
	return cmd
}

func printUpdate(w io.Writer, r app.UpdateResult) {
	switch {
	case !r.Comparable:
		fmt.Fprintf(w, "the latest release of %s is %s; this build (%s) is not a release, so which is newer cannot be said\n", r.Repo, r.Latest, r.Current)
	case r.Newer:
		fmt.Fprintf(w, "a newer release is out: %s (this build: %s)\n", r.Latest, r.Current)
	default:
		fmt.Fprintf(w, "up to date: this build (%s) is not older than the latest release of %s (%s)\n", r.Current, r.Repo, r.Latest)
	}
	if !r.Newer && r.Comparable {
		return
	}
	if r.Name != "" && r.Name != r.Latest {
		fmt.Fprintf(w, "  %s\n", r.Name)
	}
	if !r.Published.IsZero() {
		fmt.Fprintf(w, "  published %s\n", r.Published.Format("2006-01-02"))
	}
	for _, l := range r.Notes {
		fmt.Fprintf(w, "  | %s\n", l)
	}
	if r.URL != "" {
		fmt.Fprintf(w, "  %s\n", r.URL)
	}
}

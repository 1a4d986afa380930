package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// assetsCmd is the asset register and observation notices: each
// organisation's registered domains, URLs and address ranges (sealed to it
// and the coordinators), the posts that concern them, and the notices a
// coordinator sends about them.
func (c *cli) assetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "Registered assets of organisations, the posts that concern them, observation notices",
		Long: `Each organisation registers its public assets: domains (a domain covers its
subdomains), URLs (host and path prefix) and address ranges in CIDR (an
address alone is a /32 or /128). The register is sealed to the organisation
and the coordinators; its admins and the coordinators edit it.

A post whose indicator falls inside a registered asset concerns that
organisation: its members see it in the post (noroshi show) and in
"noroshi assets matches"; coordinators see every organisation's and send
observation notices ("noroshi assets notices", "noroshi assets notify").

Ranges wider than /` + fmt.Sprint(app.MinPrefixV4) + ` (IPv4) or /` + fmt.Sprint(app.MinPrefixV6) + ` (IPv6), private, loopback and reserved
ranges, and public suffixes such as "jp" or "co.jp" are refused.`,
		Example: `  noroshi assets add cidr 203.0.113.0/24 --note "ticket gates"
  noroshi assets list
  noroshi assets notices`,
	}
	cmd.AddCommand(c.assetsListCmd(), c.assetsAddCmd(), c.assetsRemoveCmd(), c.assetsSetCmd(),
		c.assetsMatchesCmd(), c.assetsNoticesCmd(), c.assetsNotifyCmd(), c.assetsSentCmd())
	return cmd
}

func printRegister(w io.Writer, r app.AssetRegister) {
	fmt.Fprintf(w, "%s", r.OrgName)
	if r.Updated != nil {
		fmt.Fprintf(w, " (updated %s by %s)", when(*r.Updated), r.By)
	}
	fmt.Fprintln(w)
	if len(r.Entries) == 0 {
		fmt.Fprintln(w, "  nothing registered")
	}
	for _, e := range r.Entries {
		fmt.Fprintf(w, "  %-6s  %-32s  %s\n", e.Kind, e.Value, e.Note)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(w, "  (%s of the stored register break the rules and are ignored: save the register again)\n", plural(r.Dropped, "entry", "entries"))
	}
}

func (c *cli) assetsListCmd() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list [--org ORG]",
		Short: "List registered assets: yours, or (coordinators) every organisation's",
		Example: `  noroshi assets list
  noroshi assets list --org "Venue North" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				var rs []app.AssetRegister
				if org != "" {
					r, err := a.Assets(org)
					if err != nil {
						return err
					}
					rs = []app.AssetRegister{r}
				} else {
					rs = a.AllAssets()
					if len(rs) == 0 {
						r, err := a.Assets("")
						if err != nil {
							return err
						}
						rs = []app.AssetRegister{r}
					}
				}
				return c.emit(rs, func(w io.Writer) {
					for _, r := range rs {
						printRegister(w, r)
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation (default: yours; coordinators: every organisation)")
	return cmd
}

func (c *cli) assetsAddCmd() *cobra.Command {
	var org, note string
	cmd := &cobra.Command{
		Use:   "add KIND VALUE [--note NOTE] [--org ORG]",
		Short: "Register an asset: KIND is domain, url or cidr",
		Example: `  noroshi assets add cidr 203.0.113.0/24 --note "ticket gates"
  noroshi assets add domain venue-north.example
  noroshi assets add url https://hosting.example.net/venue-north/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := app.ParseAssetKind(args[0])
			if err != nil {
				return err
			}
			e, err := app.ParseAsset(kind, args[1], note)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				r, err := a.AddAsset(org, e)
				if err != nil {
					return err
				}
				return c.emit(r, func(w io.Writer) {
					fmt.Fprintf(w, "%s %s registered for %s (%s)\n", e.Kind, e.Value, r.OrgName, plural(len(r.Entries), "entry", "entries"))
				})
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation (default: yours)")
	cmd.Flags().StringVar(&note, "note", "", "what it is, one line (\"ticket gates\")")
	return cmd
}

func (c *cli) assetsRemoveCmd() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:     "remove VALUE [--org ORG]",
		Short:   "Remove an asset from the register",
		Example: `  noroshi assets remove 203.0.113.0/24`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				r, err := a.RemoveAsset(org, args[0])
				if err != nil {
					return err
				}
				return c.emit(r, func(w io.Writer) {
					fmt.Fprintf(w, "%s removed from %s (%s left)\n", args[0], r.OrgName, plural(len(r.Entries), "entry", "entries"))
				})
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation (default: yours)")
	return cmd
}

func (c *cli) assetsSetCmd() *cobra.Command {
	var org, file string
	cmd := &cobra.Command{
		Use:   "set --file FILE [--org ORG]",
		Short: "Replace the whole register with a file's entries (all or nothing)",
		Long: `Replace the whole register with the entries of a file (- for standard
input): one entry a line, "kind value note", the note optional; blank lines
and lines starting with # are skipped. One bad line refuses the whole file
and names the line.

  # Venue North
  cidr   203.0.113.0/24        ticket gates and Wi-Fi
  domain venue-north.example   main site and mail
  url    https://hosting.example.net/venue-north/`,
		Example: `  noroshi assets set --file venue-north-assets.txt
  noroshi assets set --org "Venue North" --file - < assets.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("%w: give the register's file with --file (- for standard input)", app.ErrInvalid)
			}
			b, err := c.readInput(file, int64(app.MaxAssets)*(app.MaxAssetValue/8+app.MaxAssetNote+16))
			if err != nil {
				return err
			}
			es, err := app.ParseAssetList(string(b))
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return c.withApp(func(a *app.App) error {
				r, err := a.SetAssets(org, es)
				if err != nil {
					return err
				}
				return c.emit(r, func(w io.Writer) {
					fmt.Fprintf(w, "%s registered for %s\n", plural(len(r.Entries), "entry", "entries"), r.OrgName)
				})
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation (default: yours)")
	cmd.Flags().StringVar(&file, "file", "", "the register: one \"kind value note\" a line (- for standard input)")
	return cmd
}

func printMatches(w io.Writer, ms []app.AssetMatch) {
	for _, m := range ms {
		fmt.Fprintf(w, "  %s %s inside %s %s", m.Indicator.Kind, m.Indicator.Defanged, m.Asset.Kind, m.Asset.Value)
		if m.Asset.Note != "" {
			fmt.Fprintf(w, " (%s)", m.Asset.Note)
		}
		fmt.Fprintln(w)
	}
}

func (c *cli) assetsMatchesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "matches",
		Short:   "List the posts whose indicators fall inside your organisation's registered assets",
		Example: `  noroshi assets matches --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				ps := a.AssetMatches()
				return c.emit(ps, func(w io.Writer) {
					if len(ps) == 0 {
						fmt.Fprintln(w, "no post concerns your registered assets")
					}
					for _, p := range ps {
						fmt.Fprintf(w, "%s  %s%s  (%s, %s)\n", short(p.Post.ID), p.Post.TagMark, p.Post.Title, p.Post.OrgName, when(p.Post.Time))
						printMatches(w, p.Matches)
					}
				})
			})
		},
	}
}

func (c *cli) assetsNoticesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "notices",
		Short:   "Coordinators: posts that concern an organisation's registered assets, no notice sent yet",
		Example: `  noroshi assets notices`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				if !a.WhoAmI().CanPostObservation {
					return fmt.Errorf("%w: only coordinators send observation notices; see `noroshi assets matches` for your organisation's", app.ErrNotAllowed)
				}
				ns := a.NoticeCandidates()
				return c.emit(ns, func(w io.Writer) {
					if len(ns) == 0 {
						fmt.Fprintln(w, "no notice to send")
					}
					for _, n := range ns {
						fmt.Fprintf(w, "%s  %s%s  -> %s\n", short(n.Post.ID), n.Post.TagMark, n.Post.Title, n.OrgName)
						printMatches(w, n.Matches)
						fmt.Fprintf(w, "  send: noroshi assets notify %s --org %s\n", short(n.Post.ID), shellQuote(n.OrgName))
					}
				})
			})
		},
	}
}

func (c *cli) assetsNotifyCmd() *cobra.Command {
	var org, title, body string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "notify POST --org ORG [--title T] [--body B] [--dry-run]",
		Short: "Coordinators: send an organisation the observation notice about a post, pre-filled",
		Long: `Send an organisation an observation notice about a post whose indicators fall
inside its registered assets: the observation channel, to that organisation
only, type observation, tag caution, TLP:AMBER (AMBER+STRICT when the post
was), title and body in Japanese and English naming the indicators
(defanged) and the registered assets, linked to the post. --title and
--body replace the pre-filled ones; --dry-run prints the notice without
sending it.`,
		Example: `  noroshi assets notify 3f2a9c01b7e4 --org "Venue North" --dry-run
  noroshi assets notify 3f2a9c01b7e4 --org "Venue North"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if org == "" {
				return fmt.Errorf("%w: give the organisation the notice goes to with --org (see `noroshi assets notices`)", app.ErrInvalid)
			}
			return c.withApp(func(a *app.App) error {
				d, err := a.NoticeDraft(args[0], org)
				if err != nil {
					return err
				}
				if title != "" {
					d.Title = title
				}
				if body != "" {
					d.Body = body
				}
				if dryRun {
					return c.emit(noticeJSON(d, org), func(w io.Writer) {
						fmt.Fprintf(w, "to: %s (observation channel)\n%s  %s  %s  about %s\n\n%s%s\n\n%s", org, d.TLP.Label(), d.Type, d.Tag, d.About, d.Tag.Mark(), d.Title, d.Body)
					})
				}
				p, err := a.Post(d)
				if err != nil {
					return err
				}
				return c.emit(p, func(w io.Writer) { fmt.Fprintln(w, p.ID) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "the organisation the notice goes to")
	f.StringVar(&title, "title", "", "replace the pre-filled title")
	f.StringVar(&body, "body", "", "replace the pre-filled body")
	f.BoolVar(&dryRun, "dry-run", false, "print the notice, do not send it")
	return cmd
}

// noticeJSON is a notice draft as --dry-run --json prints it.
func noticeJSON(d app.PostDraft, org string) map[string]any {
	return map[string]any{"org": org, "channel": d.Channel, "type": d.Type, "tag": d.Tag, "tlp": d.TLP.Label(),
		"title": d.Title, "body": d.Body, "about": d.About, "to_orgs": d.ToOrgs}
}

func (c *cli) assetsSentCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "sent",
		Short:   "List the observation notices sent, and when the organisation first read each",
		Example: `  noroshi assets sent --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				ns := a.ObservationNotices()
				return c.emit(ns, func(w io.Writer) {
					if len(ns) == 0 {
						fmt.Fprintln(w, "no observation notices")
					}
					for _, n := range ns {
						read := "not read yet"
						if n.FirstRead != nil {
							read = "first read " + when(*n.FirstRead)
						}
						fmt.Fprintf(w, "%s  %s  -> %s, %s, %s\n", short(n.ID), strings.TrimSpace(n.Title), n.OrgName, when(n.Time), read)
					}
				})
			})
		},
	}
}

// printConcerns says which registered assets a post's indicators fall
// inside: "this concerns your registered address: 203.0.113[.]17 (inside
// 203.0.113.0/24, ticket gates)"; on a coordinator's device, other
// organisations' too, by name.
func printConcerns(w io.Writer, post string, ms []app.AssetMatch, myOrg string) {
	if len(ms) > 0 {
		fmt.Fprintln(w)
	}
	for _, m := range ms {
		whose := "your"
		if m.Org != myOrg {
			whose = m.OrgName + "'s"
		}
		what := map[app.AssetKind]string{app.AssetDomain: "domain", app.AssetURL: "URL"}[m.Asset.Kind]
		if what == "" {
			what = "address"
		}
		fmt.Fprintf(w, "this concerns %s registered %s: %s (inside %s", whose, what, m.Indicator.Defanged, m.Asset.Value)
		if m.Asset.Note != "" {
			fmt.Fprintf(w, ", %s", m.Asset.Note)
		}
		fmt.Fprint(w, ")")
		switch {
		case m.Noticed:
			fmt.Fprint(w, "; notice sent")
		case m.CanNotice:
			fmt.Fprintf(w, "; send a notice: noroshi assets notify %s --org %s", short(post), shellQuote(m.OrgName))
		}
		fmt.Fprintln(w)
	}
}

package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// addIncidentCmds adds the one-stop support commands to `noroshi incident`:
// route, answer, flag and publish.
func (c *cli) addIncidentCmds(cmd *cobra.Command) {
	cmd.AddCommand(c.incidentRouteCmd(), c.incidentAnswerCmd(), c.incidentFlagCmd(), c.incidentPublishCmd(), c.incidentSupportCmd())
}

func (c *cli) incidentRouteCmd() *cobra.Command {
	var to []string
	var kinds, note string
	cmd := &cobra.Command{
		Use:     "route ID --to ORG[,ORG] [--kinds K,K] [--note TEXT]",
		Example: "  noroshi incident route 3f2a9c --to \"National CSIRT,Metropolitan Police Cyber Unit\" --kinds malware-analysis --note \"Please help the venue\"",
		Short:   "Pass an incident to support organisations (coordinators)",
		Long: "Pass an incident to one or more support organisations (security agencies, law enforcement, the organising committee)\n" +
			"as support requests: each is sealed to the reporting organisation and the addressed organisation only.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ks, err := app.ParseSupportKinds(kinds)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.RouteIncident(args[0], app.SupportRouting{To: to, Kinds: ks, Note: note})
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) {
					for _, r := range inc.Requests {
						fmt.Fprintf(w, "%s  %s  %s\n", short(r.ID), r.State, r.OrgName)
					}
				})
			})
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "support organisations, by name or ID (comma-separated or repeated)")
	cmd.Flags().StringVar(&kinds, "kinds", "", "kinds of help asked, comma-separated (default: those the reporter wants): "+joinEnum(app.SupportKinds))
	cmd.Flags().StringVar(&note, "note", "", "a note for the addressed organisations")
	return cmd
}

func (c *cli) incidentAnswerCmd() *cobra.Command {
	var accept, decline bool
	var reason, report, note, request string
	cmd := &cobra.Command{
		Use:     "answer ID (--accept [--note T] | --decline --reason R | --report NOTE) [--request REQ]",
		Example: "  noroshi incident answer 3f2a9c --accept --note \"Analyst on the way\"\n  noroshi incident answer 3f2a9c --decline --reason \"No criminal complaint filed yet\"\n  noroshi incident answer 3f2a9c --report \"Sample is LockBit 3.0; no decryptor\"",
		Short:   "Answer a support request to your organisation",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := app.SupportReplyDraft{Request: request}
			n := 0
			if accept {
				d.Answer, d.Note = app.AnswerAccept, note
				n++
			}
			if decline {
				d.Answer, d.Note = app.AnswerDecline, reason
				n++
			}
			if cmd.Flags().Changed("report") {
				d.Answer, d.Note = app.AnswerReport, report
				n++
			}
			if n != 1 {
				return fmt.Errorf("%w: give exactly one of --accept, --decline --reason R, --report NOTE", app.ErrInvalid)
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.AnswerSupport(args[0], d)
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) {
					for _, r := range inc.Requests {
						fmt.Fprintf(w, "%s  %s  %s\n", short(r.ID), r.State, r.OrgName)
					}
				})
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&accept, "accept", false, "accept the request")
	f.BoolVar(&decline, "decline", false, "decline the request (needs --reason)")
	f.StringVar(&reason, "reason", "", "why you decline")
	f.StringVar(&report, "report", "", "report back: what you found or did")
	f.StringVar(&note, "note", "", "a note with an acceptance")
	f.StringVar(&request, "request", "", "the request's ID, when the incident has several you may answer")
	return cmd
}

func (c *cli) incidentFlagCmd() *cobra.Command {
	var affects string
	var public, noPublic, passed, noPassed bool
	var note string
	cmd := &cobra.Command{
		Use:     "flag ID [--affects yes|no|unknown] [--public|--no-public] [--passed-on|--no-passed-on]",
		Example: "  noroshi incident flag 3f2a9c --affects yes --public --passed-on\n  noroshi incident flag 3f2a9c --no-public",
		Short:   "Set an incident's escalation flags",
		Long: "Set an incident's escalation flags: affects event operations (the reporting organisation and coordinators),\n" +
			"needs a public response / in the media, passed to the security coordination centre (coordinators).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := app.IncidentChange{Note: note}
			if affects != "" {
				v, err := app.ParseAffects(affects)
				if err != nil {
					return err
				}
				ch.Affects = v
			}
			var err error
			if ch.Public, err = boolPair(public, noPublic, "--public", "--no-public"); err != nil {
				return err
			}
			if ch.PassedOn, err = boolPair(passed, noPassed, "--passed-on", "--no-passed-on"); err != nil {
				return err
			}
			if ch.Affects == "" && ch.Public == nil && ch.PassedOn == nil {
				return fmt.Errorf("%w: give --affects, --public, --no-public, --passed-on or --no-passed-on", app.ErrInvalid)
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.UpdateIncident(args[0], ch)
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) { fmt.Fprintln(w, flagsLine(inc)) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&affects, "affects", "", "affects event operations: yes, no or unknown")
	f.BoolVar(&public, "public", false, "needs a public response / in the media")
	f.BoolVar(&noPublic, "no-public", false, "no public response needed")
	f.BoolVar(&passed, "passed-on", false, "passed to the security coordination centre (NISC)")
	f.BoolVar(&noPassed, "no-passed-on", false, "not passed to the security coordination centre")
	f.StringVar(&note, "note", "", "a note for the timeline")
	return cmd
}

// boolPair reads a flag and its negation.
func boolPair(yes, no bool, yesName, noName string) (*bool, error) {
	switch {
	case yes && no:
		return nil, fmt.Errorf("%w: give %s or %s, not both", app.ErrInvalid, yesName, noName)
	case yes:
		return &yes, nil
	case no:
		f := false
		return &f, nil
	}
	return nil, nil
}

func (c *cli) incidentSupportCmd() *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:     "support ID KINDS",
		Example: "  noroshi incident support 3f2a9c remote-advice,malware-analysis\n  noroshi incident support 3f2a9c none",
		Short:   "Set the kinds of help wanted (comma-separated; \"none\" for none)",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ks []app.SupportKind
			if strings.TrimSpace(args[1]) != "none" {
				var err error
				if ks, err = app.ParseSupportKinds(args[1]); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.UpdateIncident(args[0], app.IncidentChange{SetSupport: true, Support: ks, Note: note})
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) { fmt.Fprintln(w, kindsText(inc.Support, inc.SupportRequested)) })
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "a note for the timeline")
	return cmd
}

func (c *cli) incidentPublishCmd() *cobra.Command {
	var title, body, bodyFile, tlp string
	var dryRun bool
	cmd := &cobra.Command{
		Use:     "publish ID [--title T] [--body B | --body-file F] [--tlp TLP] [--dry-run]",
		Example: "  noroshi incident publish 3f2a9c --dry-run > draft.txt\n  noroshi incident publish 3f2a9c --title \"Ransomware at a venue ticket gate\" --body-file edited.md --tlp green",
		Short:   "Re-publish an incident to the community without names (coordinators)",
		Long: "Re-publish an incident as a community post (type incident, channel pro, TLP:AMBER unless --tlp) with the\n" +
			"organisations' and people's names, e-mail addresses and phone numbers replaced by placeholders.\n" +
			"--dry-run prints the draft; edit it and pass --title/--body-file to post your version.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t app.TLP
			if tlp != "" {
				var err error
				if t, err = app.ParseTLP(tlp); err != nil {
					return err
				}
			}
			if bodyFile != "" {
				b, err := c.readInput(bodyFile, app.MaxBody)
				if err != nil {
					return err
				}
				body = string(b)
			}
			return c.withApp(func(a *app.App) error {
				d, err := a.RepublishDraft(args[0])
				if err != nil {
					return err
				}
				if cmd.Flags().Changed("title") {
					d.Title = title
				}
				if cmd.Flags().Changed("body") || bodyFile != "" {
					d.Body = body
				}
				if t != "" {
					d.TLP = t
				}
				if dryRun {
					out := struct {
						Title    string       `json:"title"`
						Body     string       `json:"body"`
						Type     app.PostType `json:"type"`
						Tag      app.Tag      `json:"tag"`
						TLP      app.TLP      `json:"tlp"`
						Channel  app.Channel  `json:"channel"`
						Incident string       `json:"incident"`
					}{d.Title, d.Body, d.Type, d.Tag, d.TLP, d.Channel, d.Incident}
					// The title and marking go to standard error, the body
					// alone to standard output: `--dry-run > draft.md` is a
					// body to edit and give back with --body-file.
					return c.emit(out, func(w io.Writer) {
						fmt.Fprintf(c.env.stderr, "%s%s\n%s  %s  %s\n\n", d.Tag.Mark(), d.Title, d.TLP.Label(), d.Type, d.Channel)
						fmt.Fprint(w, d.Body)
						if !strings.HasSuffix(d.Body, "\n") {
							fmt.Fprintln(w)
						}
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
	f.StringVar(&title, "title", "", "the post's title (default: the incident's, without names)")
	f.StringVar(&body, "body", "", "the post's body (default: the incident's description, without names)")
	f.StringVar(&bodyFile, "body-file", "", "read the body from a file")
	f.StringVar(&tlp, "tlp", "", "TLP marking (default amber; never red)")
	f.BoolVar(&dryRun, "dry-run", false, "print the draft, post nothing")
	return cmd
}

// kindsText says the kinds of help wanted.
func kindsText(ks []app.SupportKind, requested bool) string {
	if len(ks) == 0 {
		if requested {
			return "support requested (kind not said)"
		}
		return "no support requested"
	}
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return "support wanted: " + strings.Join(s, ", ")
}

// flagsLine says the escalation flags.
func flagsLine(i app.Incident) string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprintf("flags: affects event: %s  public response: %s  passed to NISC: %s", i.Affects, yn(i.Public), yn(i.PassedOn))
}

// age says how long ago t was, in minutes, hours or days.
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

// printIncident prints an incident with its flags, support requests,
// allowed moves and timeline.
func printIncident(w io.Writer, i app.Incident, now time.Time) {
	if i.Exercise != "" {
		fmt.Fprintf(w, "*** EXERCISE %s: not real traffic ***\n", i.Exercise)
	}
	if i.SupportOnly {
		fmt.Fprintf(w, "%s\nsupport request  %s  affects event: %s  support requested: %v\n", i.Title, i.Category, i.Affects, i.SupportRequested)
		fmt.Fprintf(w, "reported by %s %s\n", i.OrgName, when(i.Opened))
	} else {
		fmt.Fprintf(w, "%s\n%s  %s  affects event: %s  support requested: %v\n", i.Title, i.Status, i.Category, i.Affects, i.SupportRequested)
		fmt.Fprintf(w, "reported by %s (%s) %s\n", i.ReporterName, i.OrgName, when(i.Opened))
	}
	if i.AssigneeName != "" {
		fmt.Fprintf(w, "assigned to %s (%s) %s\n", i.AssigneeName, i.AssigneeOrg, short(i.Assignee))
	}
	fmt.Fprintln(w, kindsText(i.Support, i.SupportRequested))
	fmt.Fprintln(w, flagsLine(i))
	if !i.SupportOnly {
		moves := "none"
		if len(i.Moves) > 0 {
			moves = joinEnum(i.Moves)
		}
		fmt.Fprintf(w, "moves allowed to you: %s\n", moves)
	}
	fmt.Fprintf(w, "id: %s\n\n%s\n", i.ID, i.Body)
	for _, f := range i.Files {
		fmt.Fprintf(w, "attachment: %s (%d bytes, sha256 %s)\n", f.Name, f.Size, f.SHA256)
	}
	if len(i.Requests) > 0 {
		fmt.Fprintf(w, "\nsupport requests:\n")
		for _, r := range i.Requests {
			line := fmt.Sprintf("  %s  %-13s %s  opened %s (%s ago)", short(r.ID), r.State, r.OrgName, when(r.Opened), age(now.Sub(r.Opened)))
			if r.Answered != nil {
				line += "  answered " + when(*r.Answered)
			}
			if len(r.Kinds) > 0 {
				line += "  kinds: " + joinEnum(r.Kinds)
			}
			fmt.Fprintln(w, line)
			for _, a := range r.Answers {
				l := fmt.Sprintf("    %s  %s  %s (%s)", when(a.Time), a.Answer, a.AuthorName, a.AuthorOrg)
				if a.Note != "" {
					l += ": " + a.Note
				}
				fmt.Fprintln(w, l)
			}
		}
	}
	fmt.Fprintf(w, "\ntimeline:\n")
	if !i.SupportOnly {
		fmt.Fprintf(w, "  %s  reported  %s (%s)\n", when(i.Opened), i.ReporterName, i.OrgName)
	}
	for _, e := range i.Timeline {
		line := "  " + when(e.Time) + "  "
		if e.Status != "" {
			line += string(e.Status) + "  "
		}
		switch {
		case e.Answer != "":
			line += "answer " + string(e.Answer) + " to " + e.RequestOrg + "  "
		case e.Request != "":
			line += "support request to " + e.RequestOrg + "  "
		}
		line += e.AuthorName + " (" + e.AuthorOrg + ")"
		if e.Assign != "" {
			line += "  assigned to " + e.Assign + " (" + e.AssignOrg + ")"
		}
		if e.SupportSet && e.Request == "" {
			line += "  " + kindsText(e.Support, false)
		}
		if e.Affects != "" {
			line += "  affects event: " + string(e.Affects)
		}
		if e.Public != nil {
			line += fmt.Sprintf("  public response: %v", *e.Public)
		}
		if e.PassedOn != nil {
			line += fmt.Sprintf("  passed to NISC: %v", *e.PassedOn)
		}
		if e.Note != "" {
			line += ": " + e.Note
		}
		if e.Refused != "" {
			line += "  [refused: " + e.RefusedWhy + "]"
		}
		fmt.Fprintln(w, line)
	}
}

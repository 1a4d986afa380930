package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"noroshi/app"
)

func (c *cli) initCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "init --name NAME",
		Short: "Create this device's identity (keys in a passphrase-protected key file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := c.home()
			if err != nil {
				return err
			}
			if app.HasIdentity(home) {
				return fmt.Errorf("%w (%s): use another --home, or keep using this one", app.ErrHasIdentity, home)
			}
			pass, err := c.passphrase(true)
			if err != nil {
				return err
			}
			p, err := app.Init(c.config(home), name, pass)
			if err != nil {
				return err
			}
			return c.emit(map[string]string{"device": p.ID.String(), "recipient": p.Recipient, "home": home}, func(w io.Writer) {
				fmt.Fprintln(w, p.ID)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "your name, as other members will see it")
	return cmd
}

func (c *cli) communityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "community", Short: "Create a community"}
	var name, org, kind, sector string
	create := &cobra.Command{
		Use:   "create --name NAME --org ORG --org-kind KIND",
		Short: "Found a community with this device as its first coordinator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := app.ParseOrgKind(kind)
			if err != nil {
				return err
			}
			if sector != "" {
				if sector, err = app.ParseSector(sector); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				w, err := a.CreateCommunity(app.CommunityOptions{Name: name, OrgName: org, OrgKind: k, OrgSector: sector})
				if err != nil {
					return err
				}
				return c.emit(w, func(out io.Writer) { fmt.Fprintln(out, w.Community) })
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "the community's name, e.g. \"Games 2026\"")
	create.Flags().StringVar(&org, "org", "", "your organisation, e.g. \"Coordination Centre\"")
	create.Flags().StringVar(&kind, "org-kind", "coordination", "your organisation's kind")
	create.Flags().StringVar(&sector, "org-sector", "", "sector, for a critical-service organisation")
	cmd.AddCommand(create)
	return cmd
}

func (c *cli) orgCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Organisations of the community"}
	var name, kind, sector string
	add := &cobra.Command{
		Use:   "add --name NAME --kind KIND [--sector S]",
		Short: "Add an organisation (coordinators)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := app.ParseOrgKind(kind)
			if err != nil {
				return err
			}
			if sector != "" {
				if sector, err = app.ParseSector(sector); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				o, err := a.AddOrg(name, k, sector)
				if err != nil {
					return err
				}
				return c.emit(o, func(w io.Writer) { fmt.Fprintln(w, o.ID) })
			})
		},
	}
	add.Flags().StringVar(&name, "name", "", "organisation name")
	add.Flags().StringVar(&kind, "kind", "", "organisation kind: "+joinEnum(app.OrgKinds))
	add.Flags().StringVar(&sector, "sector", "", "critical-service sector")
	list := &cobra.Command{
		Use:   "list",
		Short: "List organisations with their kinds and sectors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				c.namesNote(a)
				orgs := a.Orgs()
				return c.emit(orgs, func(w io.Writer) {
					for _, o := range orgs {
						kind := string(o.Kind)
						if o.Sector != "" {
							kind += "/" + o.Sector
						}
						fmt.Fprintf(w, "%s  %-32s %-28s %s\n", short(o.ID), o.Name, kind, plural(o.Members, "member", "members"))
					}
				})
			})
		},
	}
	cmd.AddCommand(add, list, c.orgSettingsCmd())
	return cmd
}

func joinEnum[T ~string](v []T) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

func (c *cli) requestCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "request --out FILE",
		Short: "Write a join request (public keys and name) for a coordinator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				b, err := a.JoinRequest()
				if err != nil {
					return err
				}
				return c.writeOutput(out, b, false)
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "-", "file to write (- for standard output)")
	return cmd
}

// maxRequestFile bounds what is read of a join request or endorsement file.
const maxRequestFile = 64 << 10

// optionalRole parses a --role flag; empty means "the default".
func optionalRole(s string) (app.Role, error) {
	if s == "" {
		return "", nil
	}
	return app.ParseRole(s)
}

func (c *cli) endorseCmd() *cobra.Command {
	var reqFile, role, out string
	cmd := &cobra.Command{
		Use:   "endorse --request FILE --out FILE",
		Short: "Vouch that a join request is another device of your own person, for your org admin to invite",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := optionalRole(role)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("%w: give --out FILE", app.ErrInvalid)
			}
			req, err := c.readInput(reqFile, maxRequestFile)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				b, err := a.Endorse(req, r)
				if err != nil {
					return err
				}
				return c.writeOutput(out, b, false)
			})
		},
	}
	cmd.Flags().StringVar(&reqFile, "request", "", "the join request of your new device")
	cmd.Flags().StringVar(&role, "role", "", "member or org-admin (default: your role, at most org-admin)")
	cmd.Flags().StringVar(&out, "out", "", "the endorsement file to write")
	return cmd
}

func (c *cli) inviteCmd() *cobra.Command {
	var reqFile, org, role, same, endorsement, out string
	cmd := &cobra.Command{
		Use:   "invite --request FILE --org ORG --role ROLE --out INVITE",
		Short: "Admit the device of a join request; the invite opens only on that device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := optionalRole(role)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("%w: give --out INVITE", app.ErrInvalid)
			}
			req, err := c.readInput(reqFile, maxRequestFile)
			if err != nil {
				return err
			}
			var en []byte
			if endorsement != "" {
				if en, err = c.readInput(endorsement, maxRequestFile); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				inv, m, err := a.Invite(req, app.InviteOptions{Org: org, Role: r, SamePersonAs: same, Endorsement: en})
				if errors.Is(err, app.ErrAwaitingQuorum) {
					fmt.Fprintf(c.env.stderr, "noroshi: %s\n", phrase(err)) // recorded: not a failure
					return nil
				}
				if err != nil {
					return err
				}
				if err := c.writeOutput(out, inv, false); err != nil {
					return err
				}
				return c.emit(m, func(w io.Writer) { fmt.Fprintln(w, m.Person) })
			})
		},
	}
	cmd.Flags().StringVar(&reqFile, "request", "", "the join request file")
	cmd.Flags().StringVar(&org, "org", "", "the organisation the device joins")
	cmd.Flags().StringVar(&role, "role", "", "member, org-admin, coordinator or relay (default member; with --same-person-as, that person's role)")
	cmd.Flags().StringVar(&same, "same-person-as", "", "an existing person, by person ID from 'noroshi member list' (a name only if no one else bears it): the device is another device of that person")
	cmd.Flags().StringVar(&endorsement, "endorsement", "", "the file that 'noroshi endorse' wrote on one of the person's own devices (an org admin adding a device to an existing person needs it)")
	cmd.Flags().StringVar(&out, "out", "", "the invite file to write")
	return cmd
}

func (c *cli) joinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "join INVITE",
		Short: "Join the community of an invite made for this device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := c.readInput(args[0], 1<<30)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				w, err := a.Join(inv)
				if err != nil {
					return err
				}
				return c.emit(w, func(out io.Writer) { fmt.Fprintln(out, w.Community) })
			})
		},
	}
}

func (c *cli) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show this device, its community, organisation and role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				w := a.WhoAmI()
				return c.emit(w, func(out io.Writer) {
					fmt.Fprintf(out, "name:      %s\ndevice:    %s\n", w.Name, w.Device)
					if !w.Joined {
						fmt.Fprintln(out, "community: none yet (noroshi community create, or noroshi request + join)")
						return
					}
					demo := ""
					if w.Demo {
						demo = "  [DEMO]"
					}
					fmt.Fprintf(out, "community: %s (%s)%s\norg:       %s (%s)\nrole:      %s\nperson:    %s (give it to --same-person-as or --to-member)\n", w.CommunityName, short(w.Community), demo, w.OrgName, w.OrgKind, w.Role, w.Person)
					if w.Revoked {
						fmt.Fprintln(out, "REVOKED:   "+w.RevokedNotice())
					}
				})
			})
		},
	}
}

func (c *cli) memberCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "People of the community and their devices"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List people, their devices and roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				c.namesNote(a)
				ms := a.Members()
				return c.emit(ms, func(w io.Writer) {
					for _, m := range ms {
						fmt.Fprintf(w, "%s  %-24s %-28s %s\n", short(m.Person), m.Name, m.OrgName, m.Role)
						for _, d := range m.Devices {
							state := ""
							if d.Revoked {
								state = fmt.Sprintf("  REVOKED after #%d: %s", d.LastValidSeq, d.RevokeReason)
							}
							if d.Forked {
								state += "  FORKED CHAIN: wrote two different envelopes at one position; check this device"
							}
							fmt.Fprintf(w, "    device %s  %s%s\n", short(d.ID), d.Role, state)
							var by []string
							switch {
							case d.Founder:
								by = append(by, "founded the community")
							case d.AdmittedBy != "":
								by = append(by, "admitted by "+d.AdmittedBy+" "+short(d.AdmittedByDevice))
							}
							if d.RevokedBy != "" {
								by = append(by, "revoked by "+d.RevokedBy)
							}
							if d.AwaitingQuorum {
								by = append(by, "revocation waiting for a second coordinator")
							}
							if len(by) > 0 {
								fmt.Fprintf(w, "      %s\n", strings.Join(by, "; "))
							}
						}
					}
				})
			})
		},
	}
	var reason string
	revoke := &cobra.Command{
		Use:   "revoke DEVICE --reason TEXT",
		Short: "Revoke a device (coordinators): peers refuse what it writes from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				d, err := a.Revoke(args[0], reason)
				if err != nil {
					return err
				}
				if d.AwaitingQuorum {
					fmt.Fprintf(c.env.stderr, "noroshi: device %s belongs to a coordinator: your revocation takes effect when a second coordinator also runs `noroshi member revoke %s`\n", short(d.ID), short(d.ID))
				}
				return c.emit(d, func(w io.Writer) { fmt.Fprintln(w, d.ID) })
			})
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why (shown to every member)")
	cmd.AddCommand(list, revoke)
	return cmd
}

func (c *cli) postCmd() *cobra.Command {
	var typ, tag, tlp, title, body, bodyFile, channel, exercise string
	var to, toMember, attach, indicators []string
	cmd := &cobra.Command{
		Use:   "post --type T --tag TAG --tlp TLP --title TITLE",
		Short: "Share information with the community, organisations or people",
		Long: `Share information with the whole community, organisations or people: the
post is signed, and sealed to its audience by its TLP and scope.
Types: ` + joinEnum(app.PostTypes) + `.
Tags: important 【重要】, caution 【注意】, info 【情報】.
TLP: clear, green, amber, amber+strict, red.
  RED is sealed to the named people's devices only: give --to-member.
  AMBER+STRICT stays inside organisations (default: yours).
  Without --to/--to-member a post goes to the whole community.
The observation channel of an organisation is written by coordinators:
  --channel observation --to ORG.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d := app.PostDraft{Title: title, Body: body, ToOrgs: to, ToMembers: toMember, Exercise: exercise, Indicators: indicators}
			var err error
			if d.Type, err = app.ParsePostType(typ); err != nil {
				return err
			}
			if d.Tag, err = app.ParseTag(tag); err != nil {
				return err
			}
			if d.TLP, err = app.ParseTLP(tlp); err != nil {
				return err
			}
			if d.Channel, err = app.ParseChannel(channel); err != nil {
				return err
			}
			if bodyFile != "" {
				if body != "" {
					return fmt.Errorf("%w: give --body or --body-file, not both", app.ErrInvalid)
				}
				b, err := c.readInput(bodyFile, app.MaxBody)
				if err != nil {
					return err
				}
				d.Body = string(b)
			}
			if d.Files, err = c.readFiles(attach); err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				p, err := a.Post(d)
				if err != nil {
					return err
				}
				if d.TLP == app.TLPAmberStrict && len(to) == 0 && !c.o.json {
					// AMBER+STRICT stays in the author's organisation unless
					// --to names others: say so, as RED says to whom.
					fmt.Fprintln(c.env.stderr, "noroshi: sealed to your organisation only (AMBER+STRICT; --to shares it with others)")
				}
				if len(toMember) > 0 && !c.o.json {
					// Say whom a name resolved to: the organisation and ID
					// show a name taken by someone unexpected.
					if sd, err := a.Show(p.ID); err == nil {
						fmt.Fprintf(c.env.stderr, "noroshi: sealed to %s\n", strings.Join(sd.Scope.People, ", "))
					}
				}
				return c.emit(p, func(w io.Writer) { fmt.Fprintln(w, p.ID) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "information type: "+joinEnum(app.PostTypes))
	f.StringVar(&tag, "tag", "", "title tag: important, caution or info")
	f.StringVar(&tlp, "tlp", "", "TLP marking: clear, green, amber, amber+strict or red")
	f.StringVar(&title, "title", "", "title (one line)")
	f.StringVar(&body, "body", "", "body text (Markdown)")
	f.StringVar(&bodyFile, "body-file", "", "read the body from a file (- for standard input)")
	f.StringSliceVar(&to, "to", nil, "organisation to share with (repeatable)")
	f.StringSliceVar(&toMember, "to-member", nil, "person to share with, by person ID from `noroshi member list` (a name only if no one else bears it; repeatable; all their devices)")
	f.StringSliceVar(&attach, "attach", nil, "file to attach (repeatable, 25 MiB each at most)")
	f.StringArrayVar(&indicators, "indicator", nil, "indicator: URL, IP address, domain, e-mail or hash, defanged or not (repeatable)")
	f.StringVar(&channel, "channel", "pro", "pro, general or observation")
	f.StringVar(&exercise, "exercise", "", "mark as exercise traffic, with the exercise's name")
	return cmd
}

func (c *cli) feedCmd() *cobra.Command {
	var unread, bookmarked bool
	var typ, tag, tlp, search, channel, before string
	var limit int
	cmd := &cobra.Command{
		Use:   "feed",
		Short: "List the posts this device can read, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return fmt.Errorf("%w: --limit %d: give a number of posts, or 0 for all", app.ErrInvalid, limit)
			}
			f := app.FeedFilter{Unread: unread, Bookmarked: bookmarked, Search: search, Before: before}
			var err error
			if typ != "" {
				if f.Type, err = app.ParsePostType(typ); err != nil {
					return err
				}
			}
			if tag != "" {
				if f.Tag, err = app.ParseTag(tag); err != nil {
					return err
				}
			}
			if tlp != "" {
				if f.TLP, err = app.ParseTLP(tlp); err != nil {
					return err
				}
			}
			if channel != "" {
				if f.Channel, err = app.ParseChannel(channel); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				if f.Before != "" {
					if f.Before, err = resolveBefore(a, f.Before); err != nil {
						return err
					}
				}
				w := a.WhoAmI()
				// Written a chunk at a time as it is read (feedstream.go).
				n, last, more, err := c.listFeed(a, f, limit, func(out io.Writer) {
					if w.Demo {
						fmt.Fprintf(out, "*** DEMO community %q: not real information ***\n", w.CommunityName)
					}
				})
				if err == nil && more && !c.o.json {
					fmt.Fprintf(c.env.stderr, "noroshi: %s shown; more: %s\n", plural(n, "post", "posts"), nextPageCommand(cmd, last))
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", feedPageSize, "at most this many posts (0: all)")
	f.StringVar(&before, "before", "", "continue after this post (its full ID: the last of the previous page)")
	f.BoolVar(&unread, "unread", false, "only unread posts")
	f.BoolVar(&bookmarked, "bookmarked", false, "only bookmarked posts")
	f.StringVar(&typ, "type", "", "only this information type")
	f.StringVar(&tag, "tag", "", "only this tag")
	f.StringVar(&tlp, "tlp", "", "only this TLP")
	f.StringVar(&channel, "channel", "", "only this channel")
	f.StringVar(&search, "search", "", "only posts whose title, body or author contain this text")
	return cmd
}

func printSummary(w io.Writer, p app.PostSummary) {
	marks := ""
	if p.Unread {
		marks += " ●"
	}
	if p.Bookmarked {
		marks += " ★"
	}
	ex := ""
	if p.Exercise != "" {
		ex = "[EXERCISE " + p.Exercise + "] "
	}
	fmt.Fprintf(w, "%s  %s%s%s  %s  %s  %s  %s  read %d%s\n", short(p.ID), ex, p.TagMark, p.Title, p.TLP, p.Type, p.OrgName, when(p.Time), p.Reads, marks)
}

func (c *cli) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a post: body, attachments, comments, reads",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				d, err := a.OpenPost(args[0]) // a topic view (metrics)
				if err != nil {
					return err
				}
				return c.emit(d, func(w io.Writer) {
					if d.Exercise != "" {
						fmt.Fprintf(w, "*** EXERCISE %s ***\n", d.Exercise)
					}
					fmt.Fprintf(w, "%s%s\n%s  %s  %s channel\n", d.TagMark, d.Title, d.TLP, d.Type, d.Channel)
					fmt.Fprintf(w, "from %s, %s — %s\n", d.AuthorName, d.OrgName, when(d.Time))
					switch {
					case d.Scope.Community:
						fmt.Fprintln(w, "shared with: the whole community")
					default:
						fmt.Fprintf(w, "shared with: %s\n", strings.Join(append(append([]string{}, d.Scope.Orgs...), d.Scope.People...), ", "))
					}
					fmt.Fprintf(w, "id: %s\n\n%s\n", d.ID, d.Body)
					for _, in := range d.Indicators {
						fmt.Fprintf(w, "\nindicator %s: %s", in.Kind, in.Defanged)
					}
					if len(d.Indicators) > 0 {
						fmt.Fprintln(w)
					}
					printConcerns(w, d.ID, d.Concerns, a.WhoAmI().Org) // assets.go
					printAdvisory(w, d.Advisory)
					for _, f := range d.Files {
						fmt.Fprintf(w, "\nattachment: %s (%d bytes, sha256 %s)", f.Name, f.Size, f.SHA256)
					}
					if len(d.Files) > 0 {
						fmt.Fprintln(w)
					}
					printSource(w, d)
					if dl := d.Delivery; dl != nil {
						switch {
						case dl.OnlyHere:
							fmt.Fprintln(w, "\ndelivery: only on this device so far")
						case dl.ReachedRelay:
							fmt.Fprintf(w, "\ndelivery: reached a relay; on %s\n", plural(dl.Peers, "peer", "peers"))
						default:
							fmt.Fprintf(w, "\ndelivery: on %s\n", plural(dl.Peers, "peer", "peers"))
						}
					}
					fmt.Fprintf(w, "\nread by %s in %d of %s\n", plural(d.Reads, "person", "people"), d.ReadOrgs, plural(d.AudienceOrgs, "organisation", "organisations"))
					for _, r := range d.ReadBy {
						fmt.Fprintf(w, "  %s (%s) %s\n", r.Name, r.OrgName, when(r.Time))
					}
					for _, cm := range d.CommentList {
						fmt.Fprintf(w, "\n%s (%s) %s:\n%s\n", cm.AuthorName, cm.OrgName, when(cm.Time), cm.Body)
					}
				})
			})
		},
	}
}

// printSource prints where a post that stands for an outside object comes
// from, and its versions when there are several.
func printSource(w io.Writer, d app.PostDetail) {
	s := d.Source
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\nsource: %s, revised %s", s.ID, s.Modified.UTC().Format("2006-01-02 15:04 MST"))
	if s.URL != "" {
		fmt.Fprintf(w, " — %s", s.URL)
	}
	fmt.Fprintln(w)
	if len(d.Versions) < 2 {
		return
	}
	fmt.Fprintf(w, "%s of this source, the one shown first:\n", plural(len(d.Versions), "version", "versions"))
	for _, v := range d.Versions {
		mark := " "
		if v.Post == d.ID {
			mark = "*"
		}
		fmt.Fprintf(w, " %s %s  revised %s, written by %s (%s) %s\n", mark, v.Post, v.Modified.UTC().Format("2006-01-02 15:04 MST"), v.AuthorName, v.OrgName, when(v.Time))
	}
}

func (c *cli) readCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "read ID",
		Short: "Mark a post as read; receipts are sent in batches",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				p, err := a.MarkRead(args[0])
				if err != nil {
					return err
				}
				return c.emit(p, func(w io.Writer) { fmt.Fprintln(w, p.ID) })
			})
		},
	}
}

func (c *cli) commentCmd() *cobra.Command {
	var body string
	cmd := &cobra.Command{
		Use:   "comment ID --body TEXT",
		Short: "Comment on a post (shared with the post's audience)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				cm, err := a.Comment(args[0], body)
				if err != nil {
					return err
				}
				return c.emit(cm, func(w io.Writer) { fmt.Fprintln(w, cm.ID) })
			})
		},
	}
	cmd.Flags().StringVar(&body, "body", "", "the comment")
	return cmd
}

func (c *cli) bookmarkCmd() *cobra.Command {
	var remove bool
	cmd := &cobra.Command{
		Use:   "bookmark ID",
		Short: "Bookmark a post on this device (never shared)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				p, err := a.Bookmark(args[0], !remove)
				if err != nil {
					return err
				}
				return c.emit(p, func(w io.Writer) { fmt.Fprintln(w, p.ID) })
			})
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the bookmark")
	return cmd
}

func (c *cli) retractCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "retract ID [--reason TEXT]",
		Short: "Retract a post: honest peers drop it (what others already read stays read)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				id, err := a.Retract(args[0], reason)
				if err != nil {
					return err
				}
				return c.emit(map[string]string{"retraction": id}, func(w io.Writer) { fmt.Fprintln(w, id) })
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required when a coordinator retracts another member's post)")
	return cmd
}

func (c *cli) attachmentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "attachment", Short: "Attachments of posts"}
	var out string
	var force bool
	save := &cobra.Command{
		Use:   "save ID NAME --out FILE",
		Short: "Save an attachment of a post or an incident to a file (it is never opened automatically)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: give --out FILE", app.ErrInvalid)
			}
			return c.withApp(func(a *app.App) error {
				// ID names a post, or an incident report.
				get := a.AttachmentData
				if _, err := a.Incident(args[0]); err == nil {
					get = a.IncidentAttachment
				}
				b, err := get(args[0], args[1])
				if err != nil {
					return err
				}
				return c.writeOutput(out, b, force)
			})
		},
	}
	save.Flags().StringVar(&out, "out", "", "file to write")
	save.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	cmd.AddCommand(save)
	return cmd
}

func (c *cli) incidentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "The consultation window: report and follow incidents"}
	var category, title, affects, body, bodyFile, exercise, supportKinds string
	var support bool
	var incAttach []string
	report := &cobra.Command{
		Use:   "report --category C --title TITLE",
		Short: "Report an incident or ask for advice",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := app.ParseCategory(category)
			if err != nil {
				return err
			}
			aff, err := app.ParseAffects(affects)
			if err != nil {
				return err
			}
			if bodyFile != "" {
				b, err := c.readInput(bodyFile, app.MaxBody)
				if err != nil {
					return err
				}
				body = string(b)
			}
			files, err := c.readFiles(incAttach)
			if err != nil {
				return err
			}
			kinds, err := app.ParseSupportKinds(supportKinds)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.ReportIncident(app.IncidentDraft{Category: cat, Title: title, Body: body, Affects: aff, Support: kinds, SupportRequested: support, Exercise: exercise, Files: files})
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) { fmt.Fprintln(w, inc.ID) })
			})
		},
	}
	rf := report.Flags()
	rf.StringVar(&category, "category", "", "category: "+joinEnum(app.Categories))
	rf.StringVar(&title, "title", "", "title (one line)")
	rf.StringVar(&affects, "affects-event", "unknown", "does it affect the running of the event? yes, no or unknown")
	rf.BoolVar(&support, "support-requested", false, "ask the coordination centre for support (kind not said; see --support)")
	rf.StringVar(&supportKinds, "support", "", "kinds of help wanted, comma-separated: "+joinEnum(app.SupportKinds))
	rf.StringVar(&body, "body", "", "description")
	rf.StringVar(&bodyFile, "body-file", "", "read the description from a file")
	rf.StringVar(&exercise, "exercise", "", "mark as exercise traffic, with the exercise's name")
	rf.StringSliceVar(&incAttach, "attach", nil, "file to attach: logs, screenshots (repeatable, 25 MiB each at most)")

	var status, note, assign string
	update := &cobra.Command{
		Use:   "update ID [--status S] [--note TEXT] [--assign MEMBER]",
		Short: "Change an incident's status, add a note, assign it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := app.IncidentChange{Note: note, Assign: assign}
			if status != "" {
				s, err := app.ParseStatus(status)
				if err != nil {
					return err
				}
				ch.Status = s
			}
			return c.withApp(func(a *app.App) error {
				inc, err := a.UpdateIncident(args[0], ch)
				if err != nil {
					return err
				}
				return c.emit(inc, func(w io.Writer) { fmt.Fprintln(w, inc.ID) })
			})
		},
	}
	update.Flags().StringVar(&status, "status", "", "new status: "+joinEnum(app.Statuses))
	update.Flags().StringVar(&note, "note", "", "a note for the timeline")
	update.Flags().StringVar(&assign, "assign", "", "the person who handles it, by person ID from `noroshi member list` (a name only if no one else bears it)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, most recently updated first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				incs := a.Incidents()
				return c.emit(incs, func(w io.Writer) {
					if len(incs) == 0 {
						fmt.Fprintln(w, "no incidents")
					}
					for _, i := range incs {
						sup := ""
						if i.SupportRequested {
							sup = "  support requested"
						}
						status := string(i.Status)
						if i.SupportOnly {
							status = "asked-support" // known through a support request to this organisation
						}
						fmt.Fprintf(w, "%s  %-13s %-16s %s  (%s)  affects event: %s  updated %s%s\n", short(i.ID), status, i.Category, i.Title, i.OrgName, i.Affects, when(i.Updated), sup)
					}
				})
			})
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its whole timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				i, err := a.Incident(args[0])
				if err != nil {
					return err
				}
				return c.emit(i, func(w io.Writer) { printIncident(w, i, time.Now()) })
			})
		},
	}
	cmd.AddCommand(report, update, list, show)
	c.addIncidentCmds(cmd) // incident.go: route, answer, flag, publish
	return cmd
}

func (c *cli) contactCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "contact", Short: "24-hour contact points of the organisations"}
	var org, role, name, phone, email, hours string
	var remove bool
	set := &cobra.Command{
		Use:   "set --role ROLE --name NAME [--phone P] [--email E] [--hours H] [--org ORG]",
		Short: "Set a contact point of an organisation (its admins, coordinators)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				l, err := a.SetContact(org, app.ContactEntry{Role: role, Name: name, Phone: phone, Email: email, Hours: hours}, remove)
				if err != nil {
					return err
				}
				return c.emit(l, func(w io.Writer) { fmt.Fprintln(w, l.Org) })
			})
		},
	}
	sf := set.Flags()
	sf.StringVar(&org, "org", "", "organisation (default: yours)")
	sf.StringVar(&role, "role", "", "the contact's role, e.g. \"CSIRT duty\"; an existing role is replaced")
	sf.StringVar(&name, "name", "", "person or desk")
	sf.StringVar(&phone, "phone", "", "phone number")
	sf.StringVar(&email, "email", "", "e-mail address")
	sf.StringVar(&hours, "hours", "24/7", "when reachable")
	sf.BoolVar(&remove, "remove", false, "remove the contact with this role")
	var search string
	list := &cobra.Command{
		Use:   "list [--search Q]",
		Short: "List contact points by organisation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				ls := a.Contacts(search)
				if ls == nil {
					ls = []app.ContactList{}
				}
				return c.emit(ls, func(w io.Writer) {
					if len(ls) == 0 {
						fmt.Fprintln(w, "no contacts")
					}
					for _, l := range ls {
						kind := string(l.Kind)
						if l.Sector != "" {
							kind += "/" + l.Sector
						}
						fmt.Fprintf(w, "%s (%s)\n", l.OrgName, kind)
						for _, e := range l.Entries {
							fmt.Fprintf(w, "  %-20s %-22s %-16s %-28s %s\n", e.Role, e.Name, e.Phone, e.Email, e.Hours)
						}
					}
				})
			})
		},
	}
	list.Flags().StringVar(&search, "search", "", "only entries matching this text")
	cmd.AddCommand(set, list)
	return cmd
}

// feedPageSize is how many posts `feed` lists unless --limit says otherwise.
const feedPageSize = 50

// feedPage reads one page of the feed: at most limit posts (0: all), and
// whether more follow.
func feedPage(a *app.App, f app.FeedFilter, limit int) ([]app.PostSummary, bool) {
	if limit > 0 {
		f.Limit = limit + 1 // one more says whether there is a next page
	}
	posts := a.Feed(f)
	more := limit > 0 && len(posts) > limit
	if more {
		posts = posts[:limit]
	}
	if posts == nil {
		posts = []app.PostSummary{}
	}
	return posts, more
}

// nextPageCommand is the command line that lists the page after last: this
// one's flags, with --before last.
func nextPageCommand(cmd *cobra.Command, last string) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name == "before" || fl.Name == "passphrase-file" {
			return
		}
		if fl.Value.Type() == "bool" {
			parts = append(parts, "--"+fl.Name)
			return
		}
		parts = append(parts, "--"+fl.Name, shellQuote(fl.Value.String()))
	})
	return strings.Join(append(parts, "--before", last), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@+=-,", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

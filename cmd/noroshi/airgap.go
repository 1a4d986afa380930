package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// The air gap: export writes a bundle file, import reads one and prints
// the receiving device's mark, which the next export reads to write only
// what the receiver lacks.

// maxMarkFile bounds what is read of a mark file.
const maxMarkFile = 1 << 20

func (c *cli) exportCmd() *cobra.Command {
	var out, forWhom, since, expires string
	var force bool
	cmd := &cobra.Command{
		Use:   "export --out FILE",
		Short: "Write a bundle file for an air gap: everything, or what a mark lacks, for every member or one device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: give --out FILE", app.ErrInvalid)
			}
			o := app.ExportOptions{}
			if expires != "" {
				d, err := app.ParseBundleExpiry(expires)
				if err != nil {
					return err
				}
				o.Expires = d
			}
			if forWhom != "" {
				// A join request file, or a device ID or person.
				if st, err := os.Stat(c.path(forWhom)); err == nil && st.Mode().IsRegular() {
					b, err := c.readInput(forWhom, maxRequestFile)
					if err != nil {
						return err
					}
					o.ForRequest = b
				} else {
					o.For = forWhom
				}
			}
			if since != "" {
				m, err := c.readMark(since)
				if err != nil {
					return err
				}
				o.Since = m
			}
			return c.withApp(func(a *app.App) error {
				var buf bytes.Buffer
				r, err := a.Export(&buf, o)
				if err != nil {
					return err
				}
				if err := c.writeOutput(out, buf.Bytes(), force); err != nil {
					return err
				}
				return c.emit(struct {
					app.ExportResult
					File string `json:"file"`
				}{r, out}, func(w io.Writer) {
					fmt.Fprintf(w, "%s, %s\n", plural(r.Envelopes, "envelope", "envelopes"), plural(r.Bytes, "byte", "bytes"))
					if r.SinceMark {
						fmt.Fprintf(w, "left out:   %d the mark's device holds already\n", r.Skipped)
					}
					if r.For != "" {
						fmt.Fprintf(w, "sealed to:  device %s, %s, alone\n", short(r.For), r.ForName)
					} else {
						fmt.Fprintln(w, "sealed to:  every member (TLP:RED payloads stay sealed to their recipients)")
					}
					fmt.Fprintf(w, "expires:    %s\n", when(r.Expires))
				})
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "bundle file to write")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	cmd.Flags().StringVar(&forWhom, "for", "", "seal the bundle to one device only: its device ID, its person, or its join request file")
	cmd.Flags().StringVar(&since, "since", "", "write only what the receiving device lacks: the mark its import printed, or a file holding it")
	cmd.Flags().StringVar(&expires, "expires", "28d", "how long the bundle imports: days (7d), weeks (2w) or hours (12h)")
	return cmd
}

// readMark reads --since: a mark, or a file holding one.
func (c *cli) readMark(s string) (string, error) {
	if st, err := os.Stat(c.path(s)); err != nil || !st.Mode().IsRegular() {
		return s, nil // app says it is not a mark
	}
	b, err := c.readInput(s, maxMarkFile)
	if err != nil {
		return "", err
	}
	// A mark file may hold the line import printed.
	text := strings.TrimSpace(string(b))
	if i := strings.LastIndex(text, ": "); i >= 0 && strings.HasPrefix(text, "mark for") {
		text = text[i+2:]
	}
	return text, nil
}

func (c *cli) importCmd() *cobra.Command {
	var force bool
	var markOut string
	cmd := &cobra.Command{
		Use:   "import BUNDLE",
		Short: "Import a bundle file: every envelope is verified; importing twice changes nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := c.readInput(args[0], 4<<30)
			if err != nil {
				return err
			}
			return c.withApp(func(a *app.App) error {
				// Progress on one line, only where it is a terminal: a
				// log gets no carriage returns.
				live := !c.o.json && isTerminal(c.env.stderr)
				r, err := a.Import(b, app.ImportOptions{Force: force, Progress: func(done, total int) {
					if live {
						fmt.Fprintf(c.env.stderr, "\rimporting %d/%d", done, total)
					}
				}})
				if live {
					fmt.Fprintln(c.env.stderr)
				}
				if errors.Is(err, app.ErrBundleExpired) {
					return fmt.Errorf("%w (noroshi import --force %s)", err, args[0])
				}
				// A bundle made for a mark that claims more than this
				// device holds was imported, but may lack envelopes: the
				// table says so, and the command fails.
				ahead := errors.Is(err, app.ErrMarkAhead)
				if err != nil && !ahead {
					return err
				}
				if markOut != "" && r.Mark != "" {
					if err := c.writeOutput(markOut, []byte(r.Mark+"\n"), true); err != nil {
						return err
					}
				}
				if eerr := c.emit(r, func(w io.Writer) { importTable(w, r) }); eerr != nil {
					return eerr
				}
				if ahead {
					return fmt.Errorf("%w (on the sending device: noroshi export without --since)", err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "import a bundle past its expiry")
	cmd.Flags().StringVar(&markOut, "mark-out", "", "also write this device's mark to FILE, to carry back for the next export")
	return cmd
}

// refusalText says each refusal reason in words.
var refusalText = map[app.RefusalReason]string{
	app.RefusedSignature:   "bad signature",
	app.RefusedMalformed:   "malformed",
	app.RefusedRevoked:     "revoked author",
	app.RefusedNotMember:   "author not a member",
	app.RefusedNotAllowed:  "not allowed to its author",
	app.RefusedCommunity:   "another community",
	app.RefusedForked:      "forked chain (kept as evidence)",
	app.RefusedChainOrder:  "out of chain order",
	app.RefusedOtherReason: "other",
}

// importTable prints what an import brought, and the mark.
func importTable(w io.Writer, r app.ImportResult) {
	if r.From != "" {
		name := r.FromName
		if name == "" {
			name = "unknown"
		}
		fmt.Fprintf(w, "from:            %s, device %s\n", name, short(r.From))
	}
	if !r.Expires.IsZero() {
		note := ""
		if r.Expired {
			note = " (expired: imported with --force)"
		}
		fmt.Fprintf(w, "made:            %s, expires %s%s\n", when(r.Created), when(r.Expires), note)
	}
	switch {
	case r.ForThisDevice && r.SinceMark:
		fmt.Fprintln(w, "holds:           what this device lacked, sealed to it alone")
	case r.ForThisDevice:
		fmt.Fprintln(w, "holds:           everything, sealed to this device alone")
	case r.SinceMark:
		fmt.Fprintln(w, "holds:           what this device lacked")
	}
	if len(r.MarkAhead) > 0 {
		fmt.Fprintln(w, "WARNING:         this bundle was made for a mark that claims more than this device holds: ask the sender for a full export (without --since)")
		for i, who := range r.MarkAhead {
			if i == 5 {
				fmt.Fprintf(w, "  and %d more\n", len(r.MarkAhead)-i)
				break
			}
			fmt.Fprintf(w, "  claims more of: %s\n", who)
		}
	}
	fmt.Fprintf(w, "envelopes:       %d\n", r.Envelopes)
	fmt.Fprintf(w, "added:           %d\n", r.Admitted)
	fmt.Fprintf(w, "already held:    %d\n", r.Duplicates)
	fmt.Fprintf(w, "waiting:         %d (for envelopes not yet here)\n", r.Waiting)
	fmt.Fprintf(w, "refused:         %d\n", r.Refused)
	for _, reason := range app.RefusalReasons {
		if n := r.RefusedFor[reason]; n > 0 {
			fmt.Fprintf(w, "  %-15s%d\n", refusalText[reason]+":", n)
		}
	}
	if r.Mark != "" {
		fmt.Fprintf(w, "this device's mark (give it to the sender's next noroshi export --since): %s\n", r.Mark)
	}
}

func (c *cli) markCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "mark",
		Short: "Print this device's mark: what it holds, for the next export to leave out",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				m, err := a.Mark()
				if err != nil {
					return err
				}
				if out != "" {
					if err := c.writeOutput(out, []byte(m+"\n"), true); err != nil {
						return err
					}
				}
				return c.emit(map[string]any{"mark": m}, func(w io.Writer) {
					fmt.Fprintln(w, m)
				})
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "also write the mark to FILE")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// exerciseBanner heads every exercise output, so that nobody mistakes it
// for real traffic.
func exerciseBanner(w io.Writer, name string, title app.Text) {
	fmt.Fprintf(w, "*** EXERCISE 演習 %s: %s / %s (not real information / 訓練情報) ***\n", name, title.JA, title.EN)
}

// longRunning reports whether a command line runs for long (an exercise
// run): the holder runs it beside the other commands, so that `exercise
// stop` still gets through.
func longRunning(args []string) bool {
	var words []string
	for i := 0; i < len(args) && len(words) < 2; i++ {
		a := args[i]
		if flagsWithValue[a] {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
	}
	return len(words) == 2 && words[0] == "exercise" && words[1] == "run"
}

// parseStart reads --start: RFC 3339, or "2006-01-02 15:04" in the local
// zone.
func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --start %q: give a time such as 2026-07-27T13:30:00+09:00 or \"2026-07-27 13:30\"", app.ErrInvalid, s)
}

func (c *cli) exerciseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exercise",
		Short: "Run, stop and report exercises: scenario injects played as exercise-marked posts",
		Long: `Exercises play a scenario file (examples/exercises/README.md) into the
community as exercise-marked posts, which never appear in the real feed,
incidents, metrics, reports, STIX export or indicator feed: they have their
own feed (exercise feed NAME) and report (exercise report NAME).
演習シナリオを演習用の投稿として配信し、実際の情報とは分けて扱います。`,
	}
	cmd.Example = `  noroshi exercise run examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml --speed 60
  noroshi exercise report`
	cmd.AddCommand(c.exerciseRunCmd(), c.exerciseStopCmd(), c.exerciseListCmd(), c.exerciseFeedCmd(), c.exerciseReportCmd())
	return cmd
}

func (c *cli) exerciseRunCmd() *cobra.Command {
	var speed float64
	var start string
	var dry bool
	cmd := &cobra.Command{
		Use:   "run FILE [--speed N] [--start TIME] [--dry-run]",
		Short: "Play a scenario: each inject at its time, as an exercise-marked post (coordinators)",
		Long: `run announces the exercise to the community (its name, title, start, inject
schedule and expected incidents), then posts each inject at its time: the
start (--start, default now) plus the inject's offset divided by --speed
(60 plays an hour of the scenario in a minute). Ctrl-C, or noroshi exercise
stop from another terminal, ends it with a stop record; a stopped exercise
plays nothing more. When serve or the desktop app holds the home, the run
goes on inside it: stop it with noroshi exercise stop (Ctrl-C then ends only
this command, and the runner stops at its next inject). --dry-run prints the schedule and writes nothing.
Coordinators only.
シナリオの状況付与を時刻どおりに演習投稿として配信します（調整役のみ）。`,
		Example: `  noroshi exercise run examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml --dry-run
  noroshi exercise run examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml --speed 60
  noroshi exercise run drill.yaml --start "2026-07-27 13:30"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := c.readInput(args[0], app.MaxScenarioSize)
			if err != nil {
				return err
			}
			sc, err := app.DecodeScenario(b)
			if err != nil {
				return err
			}
			var begins time.Time
			if start != "" {
				if begins, err = parseStart(start); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var hold *homeHold
			defer func() { hold.release() }()
			if c.env.held == nil && !dry {
				// This process holds the home while the exercise runs:
				// `exercise stop` from another terminal reaches it over
				// the control socket.
				c.unlocking = func(home string) { hold = holdHome(home, "noroshi exercise run") }
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
			}
			return c.withApp(func(a *app.App) error {
				if c.env.held == nil && !dry {
					ls, err := listenLocal(a, c.env.workFactor, nil)
					if err != nil {
						return err
					}
					defer ls.Close()
					hold.serving()
				}
				w := c.out()
				if !c.o.json {
					exerciseBanner(w, sc.Name, sc.Title)
					verb := "playing"
					if dry {
						verb = "would play (dry run, nothing written)"
					}
					fmt.Fprintf(w, "%s %d injects at speed %g; stop with: noroshi exercise stop %s\n", verb, len(sc.Injects), max(speed, 0), sc.Name)
				}
				info, err := a.RunExercise(ctx, sc, app.ExerciseRunOptions{Speed: speed, Begins: begins, DryRun: dry,
					Played: func(p app.InjectPlay) error { return c.printPlay(w, p) }})
				if err != nil {
					return err
				}
				if c.o.json {
					return c.emit(info, nil)
				}
				switch {
				case dry:
				case !info.Running:
					fmt.Fprintf(w, "stopped at %s after %d of %d injects%s\n", when(info.Stopped), info.Played, info.Scheduled, reasonSuffix(info.StopReason))
				default:
					fmt.Fprintf(w, "all %d injects played; the exercise stays open for answers until: noroshi exercise stop %s\n", info.Played, info.Name)
				}
				return nil
			})
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 1, "play the scenario N times faster (60: an hour a minute)")
	cmd.Flags().StringVar(&start, "start", "", "when the scenario's start is, in real time (RFC 3339 or \"2006-01-02 15:04\"; default now)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print the schedule and write nothing")
	return cmd
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// printPlay prints one inject as it is played (one JSON line with --json).
func (c *cli) printPlay(w io.Writer, p app.InjectPlay) error {
	if c.o.json {
		return c.emit(p, nil)
	}
	to := "community"
	if !p.Inject.Audience.Community {
		var parts []string
		for _, k := range p.Inject.Audience.Kinds {
			parts = append(parts, string(k))
		}
		parts = append(parts, p.Inject.Audience.Orgs...)
		to = strings.Join(parts, ", ")
	}
	id := ""
	if p.Post != nil {
		id = "  post " + short(p.Post.ID)
	}
	_, err := fmt.Fprintf(w, "%s  [EXERCISE] %s (part %d, scenario %s)  -> %s  %s %s%s\n", when(p.Due), p.Inject.ID, p.Inject.Part,
		p.Inject.At.Format("01-02 15:04 MST"), to, p.Inject.Tag.Mark(), p.Inject.Title.EN, id)
	return err
}

func (c *cli) exerciseStopCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "stop [NAME] [--reason R]",
		Short: "Stop the running exercise (or NAME) with a stop record (coordinators)",
		Long: `stop writes the exercise's stop record: the runner plays nothing more. When
another process (exercise run, serve, the desktop app) holds the home, the
command reaches it over the control socket.
演習を終了します（調整役のみ）。`,
		Example: `  noroshi exercise stop
  noroshi exercise stop tokyo2020-je5-ransomware --reason "part 1 over"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return c.withApp(func(a *app.App) error {
				info, err := a.StopExercise(name, reason)
				if err != nil {
					return err
				}
				return c.emit(info, func(w io.Writer) {
					fmt.Fprintf(w, "exercise %s stopped at %s after %d of %d injects / 演習を終了しました\n", info.Name, when(info.Stopped), info.Played, info.Scheduled)
				})
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why it stops (one line)")
	return cmd
}

func (c *cli) exerciseListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the exercises coordinators started",
		Example: `  noroshi exercise list
  noroshi exercise list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				list := a.Exercises()
				return c.emit(list, func(w io.Writer) {
					if len(list) == 0 {
						fmt.Fprintln(w, "no exercise has run in this community / 演習はまだありません")
						return
					}
					tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
					fmt.Fprintln(tw, "EXERCISE\tSTATE\tSTARTED\tINJECTS\tORGS\tTITLE")
					for _, e := range list {
						state := "running 実施中"
						if !e.Running {
							state = "stopped 終了"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s / %s\n", e.Name, state, when(e.Started), e.Played, e.Scheduled, e.Participants, e.Title.JA, e.Title.EN)
					}
					tw.Flush()
				})
			})
		},
	}
}

func (c *cli) exerciseFeedCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "feed NAME",
		Short:   "List an exercise's own posts (never in the real feed)",
		Example: `  noroshi exercise feed tokyo2020-je5-ransomware`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				info, err := a.Exercise(args[0])
				if err != nil {
					return err
				}
				posts, err := a.ExerciseFeed(info.Name)
				if err != nil {
					return err
				}
				return c.emit(posts, func(w io.Writer) {
					exerciseBanner(w, info.Name, info.Title)
					if len(posts) == 0 {
						fmt.Fprintln(w, "no exercise post yet / 演習投稿はまだありません")
					}
					for _, p := range posts {
						printSummary(w, p)
					}
				})
			})
		},
	}
}

func (c *cli) exerciseReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report [NAME] [--json]",
		Short: "How an exercise went: time to read each inject and to report, who took part, what was missed",
		Long: `report gives, for each organisation an inject went to, the time from the
inject to its first read by any of its members, the time to report each
incident the scenario expected of it (an exercise incident of that category
by that organisation), who took part (any exercise-marked activity), and
what was missed. NAME defaults to the running exercise, else the latest.
演習の結果（既読までの時間、報告までの時間、参加者、未対応）を表示します。`,
		Example: `  noroshi exercise report
  noroshi exercise report tokyo2020-je5-ransomware --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return c.withApp(func(a *app.App) error {
				rep, err := a.ExerciseReport(name)
				if err != nil {
					return err
				}
				return c.emit(rep, func(w io.Writer) { printExerciseReport(w, rep) })
			})
		},
	}
}

// minutes says a duration in seconds for people: "4m", "1h05m".
func minutes(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func printExerciseReport(w io.Writer, rep app.ExerciseReport) {
	e := rep.Exercise
	exerciseBanner(w, e.Name, e.Title)
	state := "running / 実施中"
	if !e.Running {
		state = "stopped " + when(e.Stopped) + reasonSuffix(e.StopReason) + " / 終了"
	}
	fmt.Fprintf(w, "started %s by %s, speed %g; %s; %d of %d injects played\n\n", when(e.Started), e.StartedBy, e.Speed, state, e.Played, e.Scheduled)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "INJECT\tPART\tPLAYED\tREAD BY\tTITLE")
	for _, in := range rep.Injects {
		played := "not played / 未実施"
		if in.Post != "" {
			played = when(in.Played)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d orgs\t%s\n", in.ID, in.Part, played, in.ReadOrgs, in.Orgs, in.Title)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nTime to read (first reader of each organisation) / 既読までの時間:")
	tw = tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	head := "ORGANISATION"
	for _, in := range rep.Injects {
		head += "\t" + in.ID
	}
	fmt.Fprintln(tw, head)
	for _, o := range rep.Orgs {
		row := o.Name
		for _, r := range o.Reads {
			switch {
			case r.Read:
				row += "\t" + minutes(r.Seconds)
			case r.Addressed:
				row += "\tunread"
			default:
				row += "\t-"
			}
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	if len(rep.Expected) > 0 {
		fmt.Fprintln(w, "\nExpected incidents / 想定インシデントの報告:")
		tw = tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ORGANISATION\tCATEGORY\tAFTER\tWITHIN\tREPORTED")
		for _, x := range rep.Expected {
			within := "-"
			if x.Within > 0 {
				within = minutes(x.Within)
			}
			got := "not reported / 未報告"
			switch {
			case x.NotPlayed:
				got = "inject not played"
			case x.Late:
				got = "after " + minutes(x.Seconds) + " (late / 遅延)"
			case x.Reported:
				got = "after " + minutes(x.Seconds)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.OrgName, x.Category, x.After, within, got)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nTook part / 参加: %d organisations, %d people\n", e.Participants, len(rep.People))
	for _, p := range rep.People {
		fmt.Fprintf(w, "  %s (%s)\n", p.Name, p.OrgName)
	}
	fmt.Fprintf(w, "\nMissed / 未対応: %d\n", len(rep.Missed))
	for _, m := range rep.Missed {
		switch m.Kind {
		case app.MissUnread:
			fmt.Fprintf(w, "  %s: nobody read inject %s / 未読\n", m.OrgName, m.Inject)
		case app.MissUnreported:
			fmt.Fprintf(w, "  %s: no %s incident reported after %s / 未報告\n", m.OrgName, m.Category, m.Inject)
		case app.MissLate:
			fmt.Fprintf(w, "  %s: %s incident after %s reported late / 報告遅延\n", m.OrgName, m.Category, m.Inject)
		}
	}
}

var _ = errors.Is

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"noroshi/app"
)

func (c *cli) serveCmd() *cobra.Command {
	var nf netFlags
	var af advisoryFlags
	var feedBind, feedTLP string
	cmd := &cobra.Command{
		Use:   "serve [--bind ADDR:PORT] [--advertise ADDR:PORT] [--join ADDR ...] [--relay ADDR ...] [--profile lan|wan] [--no-mdns]",
		Short: "Run this device headless as a peer or relay; the CLI talks to it over the control socket",
		Long: `serve unlocks the home once and keeps it open. While it runs, every other
noroshi command on this home is carried out by this process over the control
socket in the home (owner-only), with no passphrase prompt and no wait on the
store's file lock. Stop it with Ctrl-C or SIGTERM.

It replicates with peers: gossip (memberlist, encrypted with the community
transport key) with the peers given by --join and those learned from them,
anti-entropy with a random peer every few seconds, and sync streams to the
relays given by --relay. Peers on the same LAN are found by mDNS unless
--no-mdns is given (what mDNS shows to the LAN: that a Noroshi node runs at
this address and port, nothing of the community). A device whose role is relay keeps every payload it
cannot read, and forwards it. --offline holds the home with no network.
--advisories-every imports GitHub security advisories on a schedule, as
noroshi advisories import does (GITHUB_TOKEN is sent when set).
--indicators-bind serves the indicator feed (blocklists and TAXII 2.1,
HTTPS) beside the relay, as noroshi indicators serve does, and keeps it
current with the community.
NOROSHI_CLOCK_SKEW (a Go duration such as 24h or -24h) moves this process's
clock, a testing aid that plays a device with a wrong date.
ホームを開いたまま保持し、ピアと複製します（中継、指標フィード、アドバイザリの定期取り込みも可）。`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.env.held != nil {
				return errors.New("already serving")
			}
			// Say so plainly when another process already holds the home,
			// before asking for a passphrase or waiting on the store's lock.
			if home, err := c.home(); err == nil {
				if h, ok := readHolder(home); ok {
					return fmt.Errorf("%s already holds %s: use it, or stop it first (Ctrl-C in its terminal, or kill %d)", h, home, h.PID)
				}
				if socketAnswers(home) {
					return fmt.Errorf("another noroshi process already serves %s: use it, or stop it first", home)
				}
			}
			// From the passphrase on, the home's holder file says that this
			// process holds it, so commands wait for the control socket.
			var hold *homeHold
			defer func() { hold.release() }()
			c.unlocking = func(home string) { hold = holdHome(home, "noroshi serve") }
			a, done, err := c.open()
			if err != nil {
				return err
			}
			defer done()
			var nw *app.Network
			if !nf.offline {
				nc, err := nf.config()
				if err != nil {
					return err
				}
				if nw, err = a.StartNetwork(nc); err != nil {
					if strings.Contains(err.Error(), "address already in use") {
						return fmt.Errorf("%v: another program uses port %d or %d (gossip, then sync streams): pick free ones with --bind ADDR:PORT", err, nc.BindPort, nc.BindPort+1)
					}
					return err
				}
				defer nw.Close()
				fmt.Fprintf(c.env.stderr, "noroshi: gossip on %s, sync on %s\n", nw.GossipAddr(), nw.SyncAddr())
			}
			if feedBind != "" {
				tlp, err := parseTLPMax(feedTLP)
				if err != nil {
					return err
				}
				opts := app.FeedOptions{TLPMax: tlp}
				fs, err := a.StartIndicatorFeed(feedBind, opts)
				if err != nil {
					return err
				}
				defer fs.Close()
				printFeed(c.env.stderr, fs, opts, len(a.FeedTokens()))
			}
			ls, err := listenLocal(a, c.env.workFactor, nw)
			if err != nil {
				return err
			}
			defer ls.Close()
			hold.serving()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(c.env.stderr, "noroshi: serving %s (control socket %s)\n", a.Home(), filepath.Join(a.Home(), app.SocketName))
			stopReads := a.HoldReadReceipts()
			waitAdvisories := c.scheduleAdvisories(ctx, a, af)
			<-ctx.Done()
			waitAdvisories()
			if err := stopReads(); err != nil {
				fmt.Fprintf(c.env.stderr, "noroshi: read receipts not sent: %s\n", phrase(err))
			}
			fmt.Fprintln(c.env.stderr, "noroshi: stopped")
			return nil
		},
	}
	nf.register(cmd.Flags())
	af.register(cmd.Flags())
	cmd.Flags().StringVar(&feedBind, "indicators-bind", "", "also serve the indicator feed (HTTPS) on this address and port, e.g. 192.0.2.10:8443")
	cmd.Flags().StringVar(&feedTLP, "indicators-tlp-max", "green", "the most restricted marking the indicator feed serves: clear, green, amber or amber+strict")
	return cmd
}

func (c *cli) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo [--home DIR]",
		Short: "Create (or open) the demo community in a home of its own and print its feed",
		Long: `demo creates a demo community in its own home, never mixed with a real one:
the default is the per-user data directory's "noroshi-demo"; --home picks
another. Its passphrase is "` + app.DemoPassphrase + `". Run it again to see the feed;
use the other commands on it with --home and NOROSHI_PASSPHRASE=` + app.DemoPassphrase + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := app.DemoHome(c.path(c.o.home))
			if err != nil {
				return err
			}
			if !app.HasIdentity(home) {
				fmt.Fprintf(c.env.stderr, "noroshi: creating the demo community in %s ...\n", home)
			}
			if _, held := readHolder(home); held {
				// The desktop app or serve holds the demo home: it lists
				// the feed.
				if code, ok := forward(home, []string{"--home", home, "feed"}, c.env); ok {
					if code != 0 {
						return exitError{code}
					}
					return nil
				}
				return holderInfo(home)
			}
			a, err := app.OpenDemo(c.config(home))
			if err != nil {
				if held := holderInfo(home); held != nil {
					return held
				}
				return err
			}
			defer a.Close()
			w := a.WhoAmI()
			// The demo's own posts: one page, as `feed` lists it.
			posts, _ := feedPage(a, app.FeedFilter{}, feedPageSize)
			return c.emit(posts, func(out io.Writer) {
				fmt.Fprintf(out, "*** DEMO community %q: not real information ***\n", w.CommunityName)
				fmt.Fprintf(out, "home %s, you are %s (%s, %s); passphrase %q\n\n", home, w.Name, w.OrgName, w.Role, app.DemoPassphrase)
				for _, p := range posts {
					printSummary(out, p)
				}
				fmt.Fprintf(out, "\nnext: NOROSHI_PASSPHRASE=%s noroshi --home %s show %s\n", app.DemoPassphrase, home, short(posts[0].ID))
			})
		},
	}
}

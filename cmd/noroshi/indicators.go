package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// indicatorsCmd is `noroshi indicators`: the read-only indicator feed that
// firewalls, proxies and TAXII clients poll (app/indicatorfeed.go), its
// tokens, and what it would serve.
func (c *cli) indicatorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "indicators",
		Short: "The indicator feed that firewalls, proxies and TAXII clients poll: serve it, manage its tokens, list what it serves",
		Long: `The indicator feed serves, read-only, the structured indicators of the posts
this device shows, marked at most --tlp-max (GREEN unless asked): plain-text
blocklists per kind (/blocklist/ipv4.txt, ipv6.txt, domains.txt, urls.txt,
emails.txt, md5.txt, sha1.txt, sha256.txt) and a TAXII 2.1 API root with one
collection (/taxii2/). TLP:RED, exercises and retracted posts never appear.
Every request shows a token made by noroshi indicators token create.
ファイアウォールや TAXII クライアント向けの読み取り専用の指標フィードです。`,
		Example: `  noroshi indicators token create --label "venue firewall"
  noroshi indicators serve --bind 192.0.2.10:8443
  noroshi indicators list --kind ipv4`,
	}
	cmd.AddCommand(c.indicatorsServeCmd(), c.indicatorsListCmd(), c.indicatorsTokenCmd(), c.indicatorsCertCmd())
	return cmd
}

func (c *cli) indicatorsCertCmd() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "certificate [--out FILE]",
		Short: "Print the indicator feed's certificate (PEM), for clients to trust",
		Long: `certificate prints the feed's self-signed certificate as PEM (or writes it
to --out), and its SHA-256 fingerprint and public key pin on standard error.
The certificate is made once and kept in the home; give the PEM to clients
(curl --cacert, a firewall's trusted certificates), or pin the public key
(curl --pinnedpubkey), which stays the same when the certificate is issued
again for a new address.
フィードの自己署名証明書を表示します。鍵のピンはアドレスが変わっても同じです。`,
		Example: `  noroshi indicators certificate --out feed.pem
  curl --cacert feed.pem -H "Authorization: Bearer $TOKEN" https://127.0.0.1:8443/blocklist/domains.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				cert, err := a.IndicatorFeedCertificate()
				if err != nil {
					return err
				}
				if c.o.json {
					return c.emit(cert, func(io.Writer) {})
				}
				fmt.Fprintf(c.env.stderr, "noroshi: SHA-256 fingerprint %s\nnoroshi: public key pin %s\n", cert.Fingerprint, cert.PublicKeyPin)
				return c.writeOutput(out, []byte(cert.PEM), force)
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the PEM to this file instead of standard output")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite --out if it exists")
	return cmd
}

func (c *cli) indicatorsServeCmd() *cobra.Command {
	var bind, tlpMax string
	var plain bool
	var maxConns int
	cmd := &cobra.Command{
		Use:   "serve --bind ADDR:PORT [--tlp-max clear|green|amber|amber+strict] [--plain-http] [--max-conns N]",
		Short: "Serve the indicator feed over HTTPS until stopped",
		Long: `serve unlocks the home, holds it (other noroshi commands on this home are
carried out by this process, as with noroshi serve) and serves the indicator
feed on --bind over HTTPS, with a self-signed certificate kept in the home
and reused across runs: it prints the certificate's SHA-256 fingerprint and
its public key pin (curl --pinnedpubkey) for the clients to trust. Plain
HTTP (--plain-http) is served on a loopback address only. Clients show a
token as "Authorization: Bearer TOKEN" (or as the password of HTTP basic
authentication). Stop it with Ctrl-C or SIGTERM.

It does not replicate: to keep the feed current with the community, run
noroshi serve --indicators-bind ADDR:PORT instead (or switch the feed on in
the desktop app's Sync screen).
指標フィードを HTTPS で提供します（平文 HTTP はループバックのみ）。`,
		Example: `  noroshi indicators serve --bind 192.0.2.10:8443
  noroshi indicators serve --bind 127.0.0.1:8080 --plain-http --tlp-max amber
  curl --cacert feed.pem -H "Authorization: Bearer $TOKEN" https://192.0.2.10:8443/blocklist/ipv4.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bind == "" {
				return fmt.Errorf("%w: give --bind ADDR:PORT, such as 127.0.0.1:8443, or this machine's LAN address", app.ErrInvalid)
			}
			tlp, err := parseTLPMax(tlpMax)
			if err != nil {
				return err
			}
			opts := app.FeedOptions{TLPMax: tlp, PlainHTTP: plain, MaxConns: maxConns}
			if c.env.held != nil {
				return errors.New("another noroshi process (noroshi serve or the desktop app) holds this home: run noroshi serve --indicators-bind ADDR:PORT instead, switch the feed on in the desktop app's Sync screen, or stop that process and run this again")
			}
			home, err := c.home()
			if err != nil {
				return err
			}
			if h, ok := readHolder(home); ok {
				return fmt.Errorf("%s already holds %s: stop it first, or switch the feed on in the desktop app's Sync screen", h, home)
			}
			var hold *homeHold
			defer func() { hold.release() }()
			c.unlocking = func(home string) { hold = holdHome(home, "noroshi indicators serve") }
			a, done, err := c.open()
			if err != nil {
				return err
			}
			defer done()
			s, err := a.StartIndicatorFeed(bind, opts)
			if err != nil {
				return err
			}
			defer s.Close()
			ls, err := listenLocal(a, c.env.workFactor, nil)
			if err != nil {
				return err
			}
			defer ls.Close()
			hold.serving()
			printFeed(c.env.stderr, s, opts, len(a.FeedTokens()))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			select {
			case <-ctx.Done():
			case <-s.Done():
				if err := s.Err(); err != nil {
					return fmt.Errorf("indicator feed: %w", err)
				}
			}
			fmt.Fprintln(c.env.stderr, "noroshi: indicator feed stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bind, "bind", "", "address and port to serve on (127.0.0.1:8443; a LAN address for firewalls on the network)")
	f.StringVar(&tlpMax, "tlp-max", "green", "the most restricted marking served: clear, green, amber or amber+strict (never red)")
	f.BoolVar(&plain, "plain-http", false, "serve plain HTTP instead of HTTPS (loopback addresses only)")
	f.IntVar(&maxConns, "max-conns", 64, "connections served at once")
	return cmd
}

// printFeed says where the feed is and how clients trust it.
func printFeed(w io.Writer, s *app.FeedServer, opts app.FeedOptions, tokens int) {
	tlp := opts.TLPMax
	if tlp == "" {
		tlp = app.TLPGreen
	}
	fmt.Fprintf(w, "noroshi: indicator feed on %s (%s and below)\n", s.URL(), tlp.Label())
	fmt.Fprintf(w, "noroshi:   blocklists %s/blocklist/ipv4.txt (ipv6, domains, urls, emails, md5, sha1, sha256), TAXII 2.1 %s/taxii2/\n", s.URL(), s.URL())
	if cert := s.Certificate(); cert != nil {
		fmt.Fprintf(w, "noroshi:   certificate SHA-256 fingerprint %s\n", cert.Fingerprint)
		fmt.Fprintf(w, "noroshi:   public key pin %s (noroshi indicators certificate prints the PEM)\n", cert.PublicKeyPin)
	}
	if tokens == 0 {
		fmt.Fprintln(w, "noroshi:   no token yet: clients are refused until you run noroshi indicators token create --label NAME")
	}
}

// parseTLPMax reads --tlp-max.
func parseTLPMax(s string) (app.TLP, error) {
	if s == "" {
		return app.TLPGreen, nil
	}
	t, err := app.ParseTLP(s)
	if err != nil {
		return "", fmt.Errorf("--tlp-max %q: choose clear, green, amber or amber+strict", s)
	}
	if t == app.TLPRed {
		return "", fmt.Errorf("%w: TLP:RED is never served to machines: choose --tlp-max amber+strict at most", app.ErrNotAllowed)
	}
	return t, nil
}

func (c *cli) indicatorsListCmd() *cobra.Command {
	var tlpMax, kind string
	cmd := &cobra.Command{
		Use:   "list [--tlp-max clear|green|amber|amber+strict] [--kind KIND]",
		Short: "Print what the indicator feed would serve",
		Long: `list prints the indicators the feed serves at --tlp-max (GREEN unless
asked): kind, value (as served, refanged), marking and the newest post that
carries it. --kind keeps one kind: ipv4, ipv6, domain, url, email, md5, sha1,
sha256. With --json it prints them as a JSON array.
フィードが提供する指標を一覧します。`,
		Example: `  noroshi indicators list
  noroshi indicators list --kind domain --tlp-max amber
  noroshi indicators list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tlp, err := parseTLPMax(tlpMax)
			if err != nil {
				return err
			}
			var k app.IndicatorKind
			if kind != "" {
				if k, err = app.ParseIndicatorKind(kind); err != nil {
					return err
				}
			}
			return c.withApp(func(a *app.App) error {
				inds, err := a.FeedIndicators(tlp, k)
				if err != nil {
					return err
				}
				if inds == nil {
					inds = []app.FeedIndicator{}
				}
				return c.emit(inds, func(w io.Writer) {
					if len(inds) == 0 {
						fmt.Fprintf(w, "nothing to serve at %s and below\n", tlp.Label())
						return
					}
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					for _, in := range inds {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Kind, in.Value, in.TLP, short(in.Post))
					}
					tw.Flush()
					fmt.Fprintf(w, "%s at %s and below\n", plural(len(inds), "indicator", "indicators"), tlp.Label())
				})
			})
		},
	}
	cmd.Flags().StringVar(&tlpMax, "tlp-max", "green", "the most restricted marking listed: clear, green, amber or amber+strict")
	cmd.Flags().StringVar(&kind, "kind", "", "one kind only: ipv4, ipv6, domain, url, email, md5, sha1, sha256")
	return cmd
}

func (c *cli) indicatorsTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Bearer tokens of the indicator feed: create, list, revoke",
		Long: `Every client of the indicator feed shows a token. Tokens are kept on this
device only (a hash of each; the token itself is shown once, when made).
フィードのトークン（クライアントごと）を管理します。`,
		Example: `  noroshi indicators token create --label "venue firewall"
  noroshi indicators token list
  noroshi indicators token revoke "venue firewall"`,
	}
	var label string
	create := &cobra.Command{
		Use:   "create [--label LABEL]",
		Short: "Make a token for one client and print it (only now)",
		Long: `create makes a bearer token for one client (a firewall, a proxy, a TAXII
client) and prints it once: only its hash is kept. Give each client its own,
labelled, so that one can be revoked alone.
クライアント用のトークンを作り、一度だけ表示します。`,
		Example: `  noroshi indicators token create --label "venue firewall"
  TOKEN=$(noroshi indicators token create --label proxy)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				tok, err := a.CreateFeedToken(label)
				if err != nil {
					return err
				}
				info, _ := a.CheckFeedToken(tok)
				if !c.o.json {
					fmt.Fprintf(c.env.stderr, "noroshi: token %s (%s) made; it is shown only now: give it to the client as \"Authorization: Bearer TOKEN\"\n", info.ID, info.Label)
				}
				return c.emit(map[string]any{"id": info.ID, "label": info.Label, "token": tok}, func(w io.Writer) { fmt.Fprintln(w, tok) })
			})
		},
	}
	create.Flags().StringVar(&label, "label", "", "what the token is for (a firewall's name)")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the tokens (never the tokens themselves)",
		Long:    `list shows each token's ID, label and when it was made.`,
		Example: `  noroshi indicators token list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				toks := a.FeedTokens()
				return c.emit(toks, func(w io.Writer) {
					if len(toks) == 0 {
						fmt.Fprintln(w, "no tokens: noroshi indicators token create --label NAME makes one")
						return
					}
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					for _, t := range toks {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Label, when(t.Created.In(time.Local)))
					}
					tw.Flush()
				})
			})
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token (by ID or label): its next request is refused",
		Long:    `revoke removes a token, named by its ID or its label; the client's next request is refused.`,
		Example: `  noroshi indicators token revoke 9f3a1c2e`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withApp(func(a *app.App) error {
				t, err := a.RevokeFeedToken(args[0])
				if err != nil {
					return err
				}
				return c.emit(t, func(w io.Writer) { fmt.Fprintf(w, "revoked token %s (%s)\n", t.ID, t.Label) })
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

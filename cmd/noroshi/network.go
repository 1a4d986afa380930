package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"noroshi/app"
)

// netFlags are serve's network flags.
type netFlags struct {
	bind      string
	advertise string
	join      []string
	relays    []string
	profile   string
	offline   bool
	interval  time.Duration
	noMDNS    bool
	mdnsIface string
}

func (f *netFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.bind, "bind", "0.0.0.0:7946", "gossip address (UDP and TCP); sync streams use the next port")
	fs.StringVar(&f.advertise, "advertise", "", "address peers reach this device at, if not the bound one (relay behind NAT)")
	fs.StringSliceVar(&f.join, "join", nil, "gossip address of a peer to join (repeatable)")
	fs.StringSliceVar(&f.relays, "relay", nil, "sync address (gossip port + 1) of a relay to sync with through streams this device opens (repeatable)")
	fs.StringVar(&f.profile, "profile", "lan", "lan (a venue network) or wan (relays across the internet)")
	fs.BoolVar(&f.offline, "offline", false, "hold the home for the CLI only, with no network")
	fs.DurationVar(&f.interval, "anti-entropy", 5*time.Second, "time between two anti-entropy rounds")
	fs.BoolVar(&f.noMDNS, "no-mdns", false, "do not advertise this device on the local network nor look for peers there (mDNS)")
	fs.StringVar(&f.mdnsIface, "mdns-interface", "", "network interface for mDNS (default: every interface up with multicast)")
}

func (f *netFlags) config() (app.NetworkConfig, error) {
	host, port, err := net.SplitHostPort(f.bind)
	if err != nil {
		return app.NetworkConfig{}, fmt.Errorf("%w: --bind %q: want host:port", app.ErrInvalid, f.bind)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65534 {
		return app.NetworkConfig{}, fmt.Errorf("%w: --bind %q: bad port", app.ErrInvalid, f.bind)
	}
	prof := app.Profile(f.profile)
	if prof != app.ProfileLAN && prof != app.ProfileWAN {
		return app.NetworkConfig{}, fmt.Errorf("%w: --profile %q: use lan or wan", app.ErrInvalid, f.profile)
	}
	return app.NetworkConfig{BindAddr: host, BindPort: p, Advertise: f.advertise, Join: f.join, Relays: f.relays,
		Profile: prof, AntiEntropy: f.interval, MDNS: !f.noMDNS, MDNSInterface: f.mdnsIface}, nil
}

func (c *cli) peersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "List peers, their state and what each side lacked at the last sync; and the connectivity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var peers []app.Peer
			conn := app.Connectivity{State: "alone"}
			refusals := map[string]int{}
			dropped := map[string]uint64{}
			refusedEnv := map[string]uint64{}
			if c.env.net != nil {
				peers, conn = c.env.net.Peers()
				refusals = c.env.net.Refusals()
				dropped = c.env.net.Dropped()
				refusedEnv = c.env.net.RefusedEnvelopes()
			}
			if peers == nil {
				peers = []app.Peer{}
			}
			out := struct {
				Connectivity app.Connectivity `json:"connectivity"`
				Serving      bool             `json:"serving"`
				Peers        []app.Peer       `json:"peers"`
				// Refusals counts the streams this device refused, by reason.
				Refusals map[string]int `json:"refusals"`
				// Dropped counts the gossip and stream messages this
				// device dropped (over budget, malformed, replayed), by
				// reason.
				Dropped map[string]uint64 `json:"dropped"`
				// RefusedEnvelopes counts the envelopes this device
				// refused at admission (bad signature, equivocation,
				// revoked author, ...), by reason, since its home was made.
				RefusedEnvelopes map[string]uint64 `json:"refused_envelopes"`
			}{conn, c.env.net != nil, peers, refusals, dropped, refusedEnv}
			return c.emit(out, func(w io.Writer) {
				switch {
				case c.env.net == nil:
					fmt.Fprintln(w, "alone: no `noroshi serve` runs on this home, so nothing syncs")
					return
				case conn.State == "connected":
					fmt.Fprintf(w, "connected to a coordinator or relay (%s)\n", plural(conn.Peers, "peer", "peers"))
				case conn.State == "mesh":
					fmt.Fprintf(w, "local mesh only (%s)\n", plural(conn.Peers, "peer", "peers"))
				default:
					fmt.Fprintln(w, "alone")
				}
				for _, p := range peers {
					last := "never"
					if !p.LastSync.IsZero() {
						last = when(p.LastSync)
					}
					fmt.Fprintf(w, "%s  %-22s %-26s %-11s %-8s %-21s last sync %s  they lacked %d, we lacked %d", short(p.Device), p.Name, p.OrgName, p.Role, p.State, p.SyncAddr, last, p.PeerLacked, p.WeLacked)
					if p.Error != "" {
						fmt.Fprintf(w, "  error: %s", p.Error)
					}
					if r := p.Refused; r != nil {
						who := "we refused it"
						if r.ByPeer {
							who = "it refused us"
						}
						fmt.Fprintf(w, "  refused (%s, %s): %s", r.Reason, who, r.Msg)
					}
					fmt.Fprintln(w)
				}
				if len(refusals) > 0 {
					reasons := make([]string, 0, len(refusals))
					for r := range refusals {
						reasons = append(reasons, r)
					}
					sort.Strings(reasons)
					fmt.Fprint(w, "refused streams:")
					for _, r := range reasons {
						fmt.Fprintf(w, " %s %d", r, refusals[r])
					}
					fmt.Fprintln(w)
				}
				if len(dropped) > 0 {
					reasons := make([]string, 0, len(dropped))
					for r := range dropped {
						// Announcements heard twice and envelopes
						// received twice are gossip's and anti-entropy's
						// normal redundancy, not a fault: --json counts them.
						if r != "announce-seen" && r != "envelope-duplicate" {
							reasons = append(reasons, r)
						}
					}
					sort.Strings(reasons)
					if len(reasons) > 0 {
						fmt.Fprint(w, "dropped messages (over budget or malformed):")
						for _, r := range reasons {
							fmt.Fprintf(w, " %s %d", r, dropped[r])
						}
						fmt.Fprintln(w)
					}
				}
			})
		},
	}
}

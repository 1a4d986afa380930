// Command noroshi-proof is the proof harness of issue #12: it runs real
// noroshi processes under load, faults and bad input, measures them, and
// writes docs/reliability.md and docs/performance.md (package
// internal/proofdoc) with the machine they ran on.
//
//	noroshi-proof chaos     5 to 7 relays in network namespaces, partitions, netem, kills (root)
//	noroshi-proof crash     SIGKILLs during writes, bundle imports and view folds
//	noroshi-proof hostile   a member that sends forged, oversized, replayed messages at full speed
//	noroshi-proof compare   side by side with Syncthing on loopback
//	noroshi-proof fuzz      every fuzz target for a budget; the corpus kept in testdata
//
// It is a developer's tool, not part of the product: it drives the noroshi
// binary from outside as a user or an attacker would (proc.go), and only
// the hostile peer reaches below app, to forge what an honest client never
// writes. `make chaos`, `make crash`, ... run it; scripts/test.sh runs short
// versions in CI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "noroshi-proof",
		Short:         "Proof of Noroshi under load, faults and bad input: real processes, measured figures, generated reports",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(chaosCmd(), crashCmd(), hostileCmd(), compareCmd(), fuzzCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "noroshi-proof:", err)
		os.Exit(1)
	}
}

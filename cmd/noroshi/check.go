package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"noroshi/app"
)

// checkCmd checks a home: bbolt's consistency check of the store file, the
// set digest, and the views against a fresh fold of the envelopes. On a
// served home serve runs it (the control socket); on a home nobody holds
// the store file is checked before anything opens it.
func (c *cli) checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check this home: the store file (bbolt's check), the set digest, and the views against a fresh fold",
		Long: `check reads the whole home and changes nothing in it: bbolt's consistency
check of the store file, the number of envelopes and the set digest (equal
sets of envelopes, equal digests), and the views folded afresh from every
envelope in a throwaway copy, compared with the stored views by what they
hold (not by their ciphertext). It exits 1, saying what to do, when the
store file is damaged or the views differ. When another process (serve,
the desktop app) holds the home, it runs there over the control socket.
ホームの整合性（ストアファイル、集合ダイジェスト、ビューの再構築との一致）を検査します。`,
		Example: `  noroshi check
  noroshi --json check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.env.held == nil {
				home, err := c.home()
				if err != nil {
					return err
				}
				if _, err := os.Stat(filepath.Join(home, app.StoreFileName)); err == nil && app.HasIdentity(home) {
					r, err := app.CheckStoreFile(home)
					if err != nil {
						if held := holderInfo(home); held != nil {
							return held
						}
						return err
					}
					if r != nil {
						if err := c.emitCheck(*r); err != nil {
							return err
						}
						return r.Err()
					}
				}
			}
			return c.withApp(func(a *app.App) error {
				r, err := a.Check()
				if err != nil {
					return err
				}
				if err := c.emitCheck(r); err != nil {
					return err
				}
				return r.Err()
			})
		},
	}
}

// emitCheck prints a check's report: JSON, or a short summary.
func (c *cli) emitCheck(r app.CheckReport) error {
	return c.emit(r, func(w io.Writer) {
		if r.BoltOK {
			fmt.Fprintln(w, "store file: sound (bbolt check) / ストアファイル: 正常")
		} else {
			fmt.Fprintf(w, "store file: DAMAGED, %s / ストアファイル: 破損\n", plural(len(r.BoltErrors), "finding", "findings"))
			for _, e := range r.BoltErrors {
				fmt.Fprintf(w, "  %s\n", e)
			}
			return
		}
		fmt.Fprintf(w, "envelopes: %d, %d waiting for a predecessor / エンベロープ: %d 件（保留 %d 件）\n", r.Envelopes, r.Pending, r.Envelopes, r.Pending)
		fmt.Fprintf(w, "set digest / 集合ダイジェスト: %s\n", r.SetDigest)
		if r.ViewsMatchFold {
			fmt.Fprintf(w, "views: equal to a fresh fold (digest %s) / ビュー: 再構築と一致\n", short(r.ViewsDigest))
			return
		}
		fmt.Fprintln(w, "views: DIFFER from a fresh fold / ビュー: 再構築と不一致")
		for _, d := range r.ViewDifferences {
			fmt.Fprintf(w, "  %s\n", d)
		}
	})
}

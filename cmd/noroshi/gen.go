package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// genCmd writes what the packages ship beside the binary, made from the
// commands' own help: man pages. (Shell completions come from cobra's
// `noroshi completion bash|zsh|fish|powershell`.) It is hidden: packaging
// runs it (scripts/package.sh), users do not.
func (c *cli) genCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "gen",
		Short:   "Generate packaging files from the commands' help (man pages)",
		Long:    `Generate files the packages ship, from the commands' own help. Used by scripts/package.sh.`,
		Example: `  noroshi gen man --dir dist/man`,
		Hidden:  true,
	}
	var dir string
	man := &cobra.Command{
		Use:   "man --dir DIR",
		Short: "Write a man page (section 1) for every command into DIR",
		Long: `Write a man page in section 1 for noroshi and each of its commands into
DIR. Their date is $SOURCE_DATE_EPOCH (Unix seconds) when set, else the
date of this binary's commit, so that two builds write the same pages.`,
		Example: `  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) noroshi gen man --dir dist/man`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("give --dir DIR")
			}
			date, err := c.manDate()
			if err != nil {
				return err
			}
			out := c.path(dir)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			v := readVersion()
			hdr := &doc.GenManHeader{Title: "NOROSHI", Section: "1", Date: &date, Source: "Noroshi " + v.Version, Manual: "Noroshi Manual"}
			if err := doc.GenManTree(root, hdr, out); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return nil
		},
	}
	man.Flags().StringVar(&dir, "dir", "", "directory to write the pages into")
	cmd.AddCommand(man)
	return cmd
}

// manDate is the date the man pages carry: SOURCE_DATE_EPOCH, else the
// commit's date, else today.
func (c *cli) manDate() (time.Time, error) {
	if s := c.env.getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want Unix seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, readVersion().Date); err == nil {
		return t.UTC(), nil
	}
	return time.Now().UTC(), nil
}

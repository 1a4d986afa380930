package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// chaosCmd is being written this session (see /work/notes/COMMON.md).
func chaosCmd() *cobra.Command {
	return &cobra.Command{Use: "chaos", RunE: func(*cobra.Command, []string) error { return errors.New("chaos: not written yet") }}
}

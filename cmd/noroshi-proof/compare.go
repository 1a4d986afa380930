package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// compareCmd is being written this session (see /work/notes/COMMON.md).
func compareCmd() *cobra.Command {
	return &cobra.Command{Use: "compare", RunE: func(*cobra.Command, []string) error { return errors.New("compare: not written yet") }}
}

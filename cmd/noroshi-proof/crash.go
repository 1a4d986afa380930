package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// crashCmd is being written this session (see /work/notes/COMMON.md).
func crashCmd() *cobra.Command {
	return &cobra.Command{Use: "crash", RunE: func(*cobra.Command, []string) error { return errors.New("crash: not written yet") }}
}

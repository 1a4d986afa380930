package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// hostileCmd is being written this session (see /work/notes/COMMON.md).
func hostileCmd() *cobra.Command {
	return &cobra.Command{Use: "hostile", RunE: func(*cobra.Command, []string) error { return errors.New("hostile: not written yet") }}
}

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// fuzzCmd is being written this session (see /work/notes/COMMON.md).
func fuzzCmd() *cobra.Command {
	return &cobra.Command{Use: "fuzz", RunE: func(*cobra.Command, []string) error { return errors.New("fuzz: not written yet") }}
}

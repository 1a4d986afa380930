package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every --help starts with what the command does and shows an example; a
// flag the usage line shows without brackets has no default (so it looks
// required only when it is); --home names the default directory.
func TestHelp(t *testing.T) {
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }, cwd: t.TempDir(), workFactor: 10}
	root := newRoot(e)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	flagInUse := regexp.MustCompile(`--[a-z-]+`)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		name := c.CommandPath()
		if c.Name() == "help" || strings.HasPrefix(name, "noroshi completion") {
			return
		}
		if c.Long == "" && c.Short == "" {
			t.Errorf("%s: no description", name)
		}
		if c.Example == "" {
			t.Errorf("%s: no example", name)
		}
		// Flags outside brackets in the usage line are required: they must
		// have no default.
		required := regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(c.Use, "")
		for _, f := range flagInUse.FindAllString(required, -1) {
			fl := c.Flags().Lookup(strings.TrimPrefix(f, "--"))
			if fl == nil {
				t.Errorf("%s: usage names %s, which it does not have", name, f)
				continue
			}
			if (fl.DefValue != "" && fl.DefValue != "[]" && fl.DefValue != "false") || strings.Contains(fl.Usage, "(default") {
				t.Errorf("%s: %s has a default, so its usage line must show it in brackets: %q", name, f, c.Use)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"feed", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	if !strings.HasPrefix(help, "List the posts") || !strings.Contains(help, "Examples:") {
		t.Errorf("feed --help does not start with what it does or shows no example:\n%s", help)
	}
	if !strings.Contains(help, "--home string") || !strings.Contains(help, "else "+defaultHomeText()+")") {
		t.Errorf("--home does not name the default directory:\n%s", help)
	}
}

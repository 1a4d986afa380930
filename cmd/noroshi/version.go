package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// What the release build stamps into the binary (scripts/package.sh):
//
//	-ldflags "-X main.buildVersion=v1.2.3 -X main.buildCommit=<hash> -X main.buildDate=<RFC 3339, the commit's time> -X main.releaseRepo=OWNER/NAME"
//
// A plain `go build` leaves them empty: the version then comes from what
// the go command stamps itself (the module version it derives from git, and
// the vcs.* build settings).
var (
	buildVersion string
	buildCommit  string
	buildDate    string
	// releaseRepo is the GitHub repository whose releases `noroshi update
	// check` reads unless --repo names another.
	releaseRepo string
)

// versionInfo is what `noroshi version` says of this binary.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Date is the commit's time (RFC 3339, UTC), not the time of the build:
	// two builds of one commit are the same bytes.
	Date     string `json:"date"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// Desktop says whether the desktop app is built in (a relay build,
	// -tags nogui, has none).
	Desktop bool `json:"desktop"`
	// Cgo says whether the binary was built with cgo.
	Cgo bool `json:"cgo"`
}

// readVersion gathers versionInfo from the linker's stamps, else from the
// build information the go command records.
func readVersion() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, Date: buildDate, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Desktop: true}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if v.Version == "" {
			v.Version = "(devel)"
		}
		return v
	}
	var vcsTime string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.time":
			vcsTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "-tags":
			for _, t := range strings.Split(s.Value, ",") {
				if t == "nogui" {
					v.Desktop = false
				}
			}
		case "CGO_ENABLED":
			v.Cgo = s.Value == "1"
		}
	}
	if v.Date == "" && vcsTime != "" {
		if t, err := time.Parse(time.RFC3339, vcsTime); err == nil {
			v.Date = t.UTC().Format(time.RFC3339)
		}
	}
	if v.Version == "" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" || v.Version == "(devel)" {
		v.Version = pseudoVersion(v.Commit, v.Date, v.Modified)
	}
	return v
}

// pseudoVersion names a build of a commit with no release tag, as the go
// command does: v0.0.0-YYYYMMDDhhmmss-COMMIT12 (+dirty for a modified tree);
// "(devel)" when the commit is unknown.
func pseudoVersion(commit, date string, modified bool) string {
	t, err := time.Parse(time.RFC3339, date)
	if commit == "" || err != nil {
		return "(devel)"
	}
	v := "v0.0.0-" + t.UTC().Format("20060102150405") + "-" + short(commit)
	if modified {
		v += "+dirty"
	}
	return v
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, commit, build date, Go version and whether the desktop app is built in",
		Long: `Print this binary's version (from git: the release tag, or
v0.0.0-DATE-COMMIT between releases), the commit it was built from, that
commit's date (the build date: two builds of one commit are identical),
the Go version, and whether the desktop app is built in (the relay build,
-tags nogui, has none). --json prints the same as JSON.
このバイナリのバージョン、コミット、ビルド日（コミットの日時）、Go のバージョン、デスクトップアプリの有無を表示します。`,
		Example: `  noroshi version
  noroshi version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := readVersion()
			return c.emit(v, func(w io.Writer) { printVersion(w, v) })
		},
	}
}

func printVersion(w io.Writer, v versionInfo) {
	fmt.Fprintf(w, "noroshi %s\n", v.Version)
	commit := v.Commit
	if commit == "" {
		commit = "unknown"
	}
	if v.Modified {
		commit += " (with uncommitted changes)"
	}
	date := v.Date
	if date == "" {
		date = "unknown"
	}
	desktop := "built in"
	if !v.Desktop {
		desktop = "not built in (relay build, -tags nogui)"
	}
	fmt.Fprintf(w, "commit:  %s\ndate:    %s\ngo:      %s %s\ndesktop: %s\n", commit, date, v.Go, v.Platform, desktop)
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runCLI runs one command line in process and returns its exit code,
// standard output and standard error.
func runCmdLine(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }, cwd: t.TempDir(), workFactor: 10}
	code := run(args, e)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, errs := runCmdLine(t, nil, "version", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("version --json: exit %d, %s", code, errs)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if v.Version == "" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version %+v", v)
	}
	code, out, _ = runCmdLine(t, nil, "version")
	for _, want := range []string{"noroshi " + v.Version + "\n", "commit:  ", "date:    ", "go:      " + runtime.Version(), "desktop: "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("version: exit %d, no %q in\n%s", code, want, out)
		}
	}
}

// The linker's stamps win; without them the version is a pseudo-version of
// the commit, as the go command writes them.
func TestVersionStamps(t *testing.T) {
	defer func(v, c, d string) { buildVersion, buildCommit, buildDate = v, c, d }(buildVersion, buildCommit, buildDate)
	buildVersion, buildCommit, buildDate = "v1.2.3", "e4a4b8e1234567890abcdef1234567890abcdef0", "2026-12-07T08:15:00Z"
	v := readVersion()
	if v.Version != "v1.2.3" || v.Commit != buildCommit || v.Date != buildDate {
		t.Errorf("stamped: %+v", v)
	}
	if got := pseudoVersion("e4a4b8e1234567890abcdef1234567890abcdef0", "2026-12-07T08:15:00Z", false); got != "v0.0.0-20261207081500-e4a4b8e12345" {
		t.Errorf("pseudo-version %q", got)
	}
	if got := pseudoVersion("e4a4b8e1234567890abcdef1234567890abcdef0", "2026-12-07T17:15:00+09:00", true); got != "v0.0.0-20261207081500-e4a4b8e12345+dirty" {
		t.Errorf("pseudo-version %q", got)
	}
	if got := pseudoVersion("", "", false); got != "(devel)" {
		t.Errorf("no commit: %q", got)
	}
}

func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runCmdLine(t, map[string]string{"SOURCE_DATE_EPOCH": "1796630400"}, "gen", "man", "--dir", dir)
	if code != 0 {
		t.Fatalf("gen man: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "noroshi.1"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`.TH "NOROSHI" "1" "Dec 2026" "Noroshi `, "--passphrase-file", "noroshi-serve(1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("noroshi.1 has no %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "noroshi-update-check.1")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "noroshi-gen.1")); err == nil {
		t.Error("the hidden gen command has a man page")
	}
	// The same date, the same pages.
	dir2 := t.TempDir()
	runCmdLine(t, map[string]string{"SOURCE_DATE_EPOCH": "1796630400"}, "gen", "man", "--dir", dir2)
	b2, _ := os.ReadFile(filepath.Join(dir2, "noroshi.1"))
	if !bytes.Equal(b, b2) {
		t.Error("two runs wrote different pages")
	}
}

const cliReleaseJSON = `{"tag_name":"v9.1.0","name":"Noroshi 9.1.0","html_url":"https://github.com/example-org/noroshi/releases/tag/v9.1.0","published_at":"2026-11-30T09:00:00Z","body":"Relay binaries for arm64.\n\nReports in PDF."}`

func TestUpdateCheckCLI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repos/example-org/noroshi/releases/latest":
			io.WriteString(w, cliReleaseJSON)
		case "/repos/example-org/limited/releases/latest":
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"message":"slow down"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
		}
	}))
	defer srv.Close()
	api := srv.URL + "/"
	code, out, errs := runCmdLine(t, nil, "update", "check", "--repo", "example-org/noroshi", "--api-url", api)
	if code != 0 || errs != "" {
		t.Fatalf("update check: exit %d: %s", code, errs)
	}
	// This test binary is no release: it says so, and shows the notes.
	for _, want := range []string{"v9.1.0", "| Relay binaries for arm64.", "| Reports in PDF.", "https://github.com/example-org/noroshi/releases/tag/v9.1.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	code, out, _ = runCmdLine(t, nil, "update", "check", "--repo", "example-org/noroshi", "--api-url", api, "--json")
	var res updateCheck
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Offline || res.Latest != "v9.1.0" || len(res.Notes) != 2 {
		t.Errorf("--json: exit %d, %v: %s", code, err, out)
	}
	code, _, errs = runCmdLine(t, nil, "update", "check", "--repo", "example-org/limited", "--api-url", api)
	if code != 1 || !strings.Contains(errs, "rate limited") || strings.Count(errs, "\n") != 1 {
		t.Errorf("rate limited: exit %d: %q", code, errs)
	}
	code, _, errs = runCmdLine(t, nil, "update", "check", "--repo", "example-org/other", "--api-url", api)
	if code != 1 || !strings.Contains(errs, "no published release") {
		t.Errorf("404: exit %d: %q", code, errs)
	}
	code, _, errs = runCmdLine(t, nil, "update", "check", "--repo", "not a repo", "--api-url", api)
	if code != 1 || !strings.Contains(errs, "OWNER/NAME") {
		t.Errorf("bad repo: exit %d: %q", code, errs)
	}

	// No network: one line, nothing else.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/"
	l.Close()
	code, out, errs = runCmdLine(t, nil, "update", "check", "--repo", "example-org/noroshi", "--api-url", dead)
	if code != 0 || errs != "" || !strings.HasPrefix(out, "offline: ") || strings.Count(out, "\n") != 1 {
		t.Errorf("offline: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, _ = runCmdLine(t, nil, "update", "check", "--repo", "example-org/noroshi", "--api-url", dead, "--json")
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.Offline {
		t.Errorf("offline --json: exit %d: %s", code, out)
	}
}

package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"noroshi/app"
)

// The CLI is tested end to end by the scripts in testdata/*.txt: each one
// is a user story run against real homes (real key files, real bbolt, real
// age) in the script's own work directory. The test binary doubles as the
// noroshi command: testscript.Main runs it under that name.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"noroshi": func() {
			e := newProcessEnv(app.TestWorkFactor)
			// A script cannot type on a terminal: with no passphrase set,
			// the command must say so rather than wait on /dev/tty.
			e.prompt = nil
			os.Exit(run(os.Args[1:], e))
		},
	})
}

// scriptPassphrase is the passphrase every home of the scripts uses unless a
// script sets NOROSHI_PASSPHRASE itself.
const scriptPassphrase = "correct horse battery staple"

func TestScripts(t *testing.T) {
	t.Parallel()
	runScripts(t, "testdata")
}

// runScripts runs the scripts of one directory, each in homes of its own
// work directory, with every command the scripts know.
func runScripts(t *testing.T, dir string) {
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			// Nothing may touch the real user's directories: the default
			// home (~/.local/share/noroshi) lands inside the work dir.
			home := filepath.Join(e.WorkDir, "user")
			e.Setenv("HOME", home)
			e.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			e.Setenv("NOROSHI_HOME", "")
			e.Setenv("NOROSHI_PASSPHRASE", scriptPassphrase)
			// Under -race every command would sleep a second on exit
			// (the race runtime's default atexit_sleep_ms).
			e.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capture":    cmdCapture,
			"eventually": cmdEventually,
			"freeport":   cmdFreeport,
			"ghsaserve":  cmdGHSAServe,
			"jsonget":    cmdJSONGet,
			"jsoneq":     cmdJSONEq,
			"lines":      cmdLines,
			"mkfile":     cmdMkfile,
			"waitfile":   cmdWaitfile,
		},
	})
}

// coordinatorHome makes a home whose device founded a community ("Games",
// its coordination centre) and returns it open: the caller closes it.
func coordinatorHome(t *testing.T, pass string) (string, *app.App) {
	t.Helper()
	home := t.TempDir()
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = app.TestWorkFactor
	if _, err := app.Init(cfg, "Duty Officer", pass); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(cfg, pass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCommunity(app.CommunityOptions{Name: "Games", OrgName: "Coordination Centre", OrgKind: app.KindCoordination}); err != nil {
		a.Close()
		t.Fatal(err)
	}
	return home, a
}

// eventually SECONDS PATTERN PROGRAM ARGS...: runs PROGRAM (as exec would)
// until it succeeds with standard output matching PATTERN, for at most
// SECONDS: for what replication brings in its own time.
func cmdEventually(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: eventually SECONDS PATTERN PROGRAM ARGS...")
	}
	secs, err := strconv.Atoi(args[0])
	ts.Check(err)
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for {
		err := ts.Exec(args[2], args[3:]...)
		if err == nil && re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("after %ds, %s %s: %v; stdout %q, stderr %q", secs, args[2], strings.Join(args[3:], " "), err, ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// freeport VAR: sets $VAR to a loopback port P such that P and P+1 are free
// for both TCP and UDP (serve's gossip and sync ports), and ${VAR}_NEXT to
// P+1.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := p < 65535
		for _, q := range []int{p, p + 1} {
			if !ok {
				break
			}
			addr := fmt.Sprintf("127.0.0.1:%d", q)
			lt, err1 := net.Listen("tcp", addr)
			lu, err2 := net.ListenPacket("udp", addr)
			ok = err1 == nil && err2 == nil
			if lt != nil {
				lt.Close()
			}
			if lu != nil {
				lu.Close()
			}
		}
		if ok {
			ts.Setenv(args[0], strconv.Itoa(p))
			ts.Setenv(args[0]+"_NEXT", strconv.Itoa(p+1))
			return
		}
	}
	ts.Fatalf("freeport: no free pair of loopback ports")
}

// capture VAR: sets $VAR to the last command's standard output, trimmed of
// surrounding space (commands that create something print its ID alone).
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture VAR")
	}
	v := strings.TrimSpace(ts.ReadFile("stdout"))
	if v == "" {
		ts.Fatalf("capture %s: the last command printed nothing", args[0])
	}
	ts.Setenv(args[0], v)
}

// jsonget VAR PATH: sets $VAR to the value at PATH in the last command's
// standard output (a JSON document): strings as they are, anything else as
// JSON. See jsonPath for PATH.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonget VAR PATH")
	}
	v, err := jsonPath(ts.ReadFile("stdout"), args[1])
	ts.Check(err)
	ts.Setenv(args[0], v)
}

// jsoneq PATH WANT: the value at PATH in the last command's standard output
// is WANT (strings compared as they are, anything else as JSON); with !, it
// is not (a missing PATH also counts as "not").
func cmdJSONEq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: [!] jsoneq PATH WANT")
	}
	got, err := jsonPath(ts.ReadFile("stdout"), args[0])
	switch {
	case neg && (err != nil || got != args[1]):
		return
	case neg:
		ts.Fatalf("%s is %q, want anything else", args[0], got)
	case err != nil:
		ts.Fatalf("%v", err)
	case got != args[1]:
		ts.Fatalf("%s is %q, want %q", args[0], got, args[1])
	}
}

// jsonPath finds PATH in doc. PATH is a chain of steps, each after a dot:
// a key of an object (.title), an index of an array (.0), "length" for the
// number of elements of an array or object (.devices.length), or
// [key=value] for the first element of an array whose key holds that
// string (.[name=Venue Lead].role). "." alone is the whole document.
// (testscript reads # as the start of a comment, hence "length".)
func jsonPath(doc, path string) (string, error) {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return "", fmt.Errorf("standard output is not JSON: %v", err)
	}
	if !strings.HasPrefix(path, ".") {
		return "", fmt.Errorf("path %q: must start with a dot", path)
	}
	for _, step := range splitPath(path[1:]) {
		var err error
		if v, err = jsonStep(v, step); err != nil {
			return "", fmt.Errorf("path %q at %q: %v", path, step, err)
		}
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// splitPath splits at dots outside brackets.
func splitPath(p string) []string {
	var steps []string
	depth, start := 0, 0
	for i, r := range p {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				steps = append(steps, p[start:i])
				start = i + 1
			}
		}
	}
	if p != "" {
		steps = append(steps, p[start:])
	}
	return steps
}

func jsonStep(v any, step string) (any, error) {
	switch x := v.(type) {
	case []any:
		switch {
		case step == "length":
			return float64(len(x)), nil
		case strings.HasPrefix(step, "[") && strings.HasSuffix(step, "]"):
			key, want, ok := strings.Cut(step[1:len(step)-1], "=")
			if !ok {
				return nil, fmt.Errorf("want [key=value]")
			}
			for _, el := range x {
				if m, ok := el.(map[string]any); ok && m[key] == want {
					return el, nil
				}
			}
			return nil, fmt.Errorf("no element with %s=%q", key, want)
		}
		i, err := strconv.Atoi(step)
		if err != nil || i < 0 || i >= len(x) {
			return nil, fmt.Errorf("no index %s in an array of %d", step, len(x))
		}
		return x[i], nil
	case map[string]any:
		if step == "length" {
			return float64(len(x)), nil
		}
		el, ok := x[step]
		if !ok {
			return nil, fmt.Errorf("no such key")
		}
		return el, nil
	}
	return nil, fmt.Errorf("cannot step into %T", v)
}

// lines stdout|stderr|FILE N: the file has exactly N lines.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lines stdout|stderr|FILE N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	s := ts.ReadFile(args[0])
	got := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		got++
	}
	if got != want {
		ts.Fatalf("%s has %d lines, want %d:\n%s", args[0], got, want, s)
	}
}

// mkfile PATH SIZE: writes SIZE bytes of deterministic noise (seeded by
// PATH's name) to PATH. SIZE is bytes, KiB or MiB, with an optional +N:
// 100KiB, 25MiB+1.
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkfile PATH SIZE")
	}
	size, err := parseSize(args[1])
	ts.Check(err)
	seed := sha256.Sum256([]byte(filepath.Base(args[0])))
	r := rand.NewChaCha8(seed)
	data := make([]byte, size)
	r.Read(data)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

func parseSize(s string) (int64, error) {
	base, extra, _ := strings.Cut(s, "+")
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20} {
		if b, ok := strings.CutSuffix(base, suffix); ok {
			base, mult = b, m
		}
	}
	n, err := strconv.ParseInt(base, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %v", s, err)
	}
	var add int64
	if extra != "" {
		if add, err = strconv.ParseInt(extra, 10, 64); err != nil {
			return 0, fmt.Errorf("size %q: %v", s, err)
		}
	}
	return n*mult + add, nil
}

// waitfile PATH: waits until PATH exists, for a background process (noroshi
// serve) to open its control socket. A bounded poll is the one way to wait
// on another process here; it fails after a minute.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	p := ts.MkAbs(args[0])
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within a minute", args[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

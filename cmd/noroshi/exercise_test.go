package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"noroshi/app"
)

// The CLI plays the shipped scenario at speed (a day in a tenth of a
// second), lists it, shows its own feed (never the real one), reports on
// it, and stops it; a second stop says it already stopped.
func TestExerciseCLI(t *testing.T) {
	const pass = "correct horse battery"
	home, a := coordinatorHome(t, pass)
	if _, err := a.AddOrg("Metro Power", app.KindCriticalService, "electricity"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Post(app.PostDraft{Title: "real post", Type: app.TypeAlert, Tag: app.TagInfo, TLP: app.TLPGreen}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	scenario, err := filepath.Abs("../../examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, cwd: home, workFactor: app.TestWorkFactor,
			getenv: func(k string) string {
				if k == "NOROSHI_PASSPHRASE" {
					return pass
				}
				return ""
			}}
		code := run(append([]string{"--home", home}, args...), e)
		return stdout.String(), stderr.String(), code
	}
	out, errs, code := cli("exercise", "run", scenario, "--dry-run", "--speed", "60")
	if code != 0 || !strings.Contains(out, "EXERCISE") || strings.Count(out, "[EXERCISE] p") != 8 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cli("exercise", "run", scenario, "--speed", "1000000")
	if code != 0 || strings.Count(out, "[EXERCISE] p") != 8 || !strings.Contains(out, "all 8 injects played") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(home, holderFileName)); !os.IsNotExist(err) {
		t.Errorf("the runner left its holder file: %v", err)
	}
	out, _, code = cli("exercise", "list")
	if code != 0 || !strings.Contains(out, "tokyo2020-je5-ransomware") || !strings.Contains(out, "8/8") {
		t.Fatalf("list: %s", out)
	}
	out, _, code = cli("exercise", "feed", "tokyo2020-je5-ransomware")
	if code != 0 || !strings.HasPrefix(out, "*** EXERCISE") || !strings.Contains(out, "情報窃取") {
		t.Fatalf("exercise feed: %s", out)
	}
	out, _, code = cli("feed")
	if code != 0 || !strings.Contains(out, "real post") || strings.Contains(out, "ランサムウェア") || strings.Contains(out, "EXERCISE") {
		t.Fatalf("the real feed shows exercise posts: %s", out)
	}
	out, errs, code = cli("exercise", "report", "--json")
	var rep app.ExerciseReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("report --json: exit %d %s%s", code, out, errs)
	}
	if len(rep.Injects) != 8 || len(rep.Orgs) != 1 || rep.Orgs[0].Name != "Metro Power" || len(rep.Missed) == 0 {
		t.Fatalf("report: %+v", rep)
	}
	out, _, code = cli("exercise", "report")
	if code != 0 || !strings.Contains(out, "Time to read") || !strings.Contains(out, "Metro Power") || !strings.Contains(out, "未報告") {
		t.Fatalf("report: %s", out)
	}
	out, errs, code = cli("exercise", "stop", "--reason", "drill over")
	if code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("stop: exit %d %s%s", code, out, errs)
	}
	_, errs, code = cli("exercise", "stop", "tokyo2020-je5-ransomware")
	if code == 0 || !strings.Contains(errs, "already stopped") {
		t.Fatalf("second stop: exit %d %s", code, errs)
	}
	_, errs, code = cli("exercise", "run", scenario)
	if code == 0 || !strings.Contains(errs, "already ran") {
		t.Fatalf("the same name again: exit %d %s", code, errs)
	}
}

// An exercise run forwarded to the process holding the home does not hold
// its other commands back (exercise stop must get through).
func TestExerciseRunIsLongRunning(t *testing.T) {
	for args, want := range map[string]bool{
		"exercise run f.yaml":             true,
		"--home h exercise run f.yaml":    true,
		"--json exercise run f --speed 9": true,
		"exercise stop":                   false,
		"exercise report run":             false,
		"feed":                            false,
	} {
		if got := longRunning(strings.Fields(args)); got != want {
			t.Errorf("longRunning(%q) = %v", args, got)
		}
	}
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// While `exercise run` plays, it holds the home: `exercise stop` from
// another terminal reaches it over the control socket, and the runner,
// which looks for a stop record between injects, plays nothing more.
func TestExerciseStopReachesTheRunner(t *testing.T) {
	const pass = "correct horse battery"
	home, a := coordinatorHome(t, pass)
	a.Close()
	scenario := filepath.Join(home, "drill.yaml")
	if err := os.WriteFile(scenario, []byte(`format: 1
name: drill
title: {ja: 訓練, en: Drill}
start: "2026-07-27T13:30:00+09:00"
injects:
  - {id: first, offset: 0m, audience: community, type: alert, tag: info, tlp: green, title: {ja: 一, en: one}, body: {ja: 一, en: one}}
  - {id: later, offset: 10h, audience: community, type: alert, tag: info, tlp: green, title: {ja: 二, en: two}, body: {ja: 二, en: two}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	newEnv := func(stdout, stderr io.Writer) *env {
		return &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, cwd: home, workFactor: app.TestWorkFactor,
			getenv: func(k string) string {
				if k == "NOROSHI_PASSPHRASE" {
					return pass
				}
				return ""
			}}
	}
	var runOut, runErr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--home", home, "exercise", "run", scenario}, newEnv(&runOut, &runErr)) }()
	for i := 0; !strings.Contains(runOut.String(), "[EXERCISE] first"); i++ {
		select {
		case code := <-done:
			t.Fatalf("the runner ended (exit %d): %s%s", code, runOut.String(), runErr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if i > 600 {
			t.Fatalf("the first inject never played: %s%s", runOut.String(), runErr.String())
		}
	}
	var out, errs bytes.Buffer
	if code := run([]string{"--home", home, "exercise", "stop", "--reason", "from another terminal"}, newEnv(&out, &errs)); code != 0 {
		t.Fatalf("stop: exit %d %s%s", code, out.String(), errs.String())
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(runOut.String(), "stopped at") || strings.Contains(runOut.String(), "[EXERCISE] later") {
			t.Fatalf("the runner: exit %d\n%s%s", code, runOut.String(), runErr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the runner did not see the stop: %s", runOut.String())
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"noroshi/app"
)

// holderHome makes a home with an identity and a holder file naming a
// running process (a sleep child) in the given state, as serve writes it.
func holderHome(t *testing.T, state string) (string, holder) {
	t.Helper()
	home := t.TempDir()
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = 10
	if _, err := app.Init(cfg, "Duty Officer", scriptPassphrase); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	h := holder{PID: sleep.Process.Pid, Command: "noroshi serve", State: state, Program: "sleep"}
	b, _ := json.Marshal(h)
	if err := os.WriteFile(filepath.Join(home, holderFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return home, h
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A command that arrives while the holder of the home is still unlocking
// says that it waits, and runs in the holder once its control socket
// answers.
func TestCommandWaitsForUnlockingHolder(t *testing.T) {
	home, _ := holderHome(t, holderUnlocking)
	errR, errW := io.Pipe()
	var stdout lockedBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: errW, getenv: func(string) string { return "" }, cwd: t.TempDir(), workFactor: 10}
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--home", home, "whoami", "--json"}, e)
		errW.Close()
	}()
	// The command says it waits before the holder opens its socket.
	line, err := bufio.NewReader(errR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "noroshi: waiting for noroshi serve (pid ") || !strings.Contains(line, "to finish unlocking "+home) {
		t.Fatalf("stderr %q, want the wait said", line)
	}
	go io.Copy(io.Discard, errR)
	// The holder finishes unlocking: its control socket answers.
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = 10
	a, err := app.Open(cfg, scriptPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ls, err := listenLocal(a, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	// The wait is bounded by unlockWait; the socket answers well before.
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), `"name": "Duty Officer"`) {
		t.Errorf("stdout %q, want whoami from the holder", stdout.String())
	}
}

// A holder that serves but whose socket is silent is named, with how to
// stop it; a holder whose process is gone is ignored.
func TestCommandNamesSilentHolder(t *testing.T) {
	home, h := holderHome(t, holderServing)
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, cwd: t.TempDir(), workFactor: 10}
	if code := run([]string{"--home", home, "whoami"}, e); code != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	want := "noroshi: noroshi serve (pid " + itoa(h.PID) + ") holds " + home + " but did not answer on its control socket (it may be stopping): run the command again in a moment; if this stays, stop it (Ctrl-C in its terminal, or kill " + itoa(h.PID) + ")\n"
	if stderr.String() != want {
		t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
	}

	// The same file naming a process that is gone (or another program
	// under a reused ID) is stale.
	h.Program = "not-noroshi"
	b, _ := json.Marshal(h)
	os.WriteFile(filepath.Join(home, holderFileName), b, 0o600)
	if _, ok := readHolder(home); ok {
		t.Errorf("a holder file naming another program counts as a holder")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

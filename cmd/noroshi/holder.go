package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A process that holds a home (noroshi serve, the desktop app) says so in
// holderFileName, next to its control socket, from the moment it starts
// unlocking until it lets the home go: its process ID, how it was started
// and whether it is still unlocking or already answers on the socket. A
// command that finds the socket silent reads it to wait for a holder that
// is still unlocking, or to say plainly which process holds the home and
// how to stop it. The file holds nothing secret; a stale one (its process
// is gone) is ignored.
const holderFileName = "holder.json"

// Holder states.
const (
	holderUnlocking = "unlocking"
	holderServing   = "serving"
)

// unlockWait bounds how long a command waits for a holder to finish
// unlocking (scrypt, then opening the store) before it gives up.
const unlockWait = 30 * time.Second

type holder struct {
	PID     int    `json:"pid"`
	Command string `json:"command"` // "noroshi serve", "the desktop app"
	State   string `json:"state"`
	// Program is the holder's program name, to tell a reused process ID
	// from the holder where the system says.
	Program string `json:"program"`
}

// String names the holder for people: "noroshi serve (pid 1234)".
func (h holder) String() string { return fmt.Sprintf("%s (pid %d)", h.Command, h.PID) }

// howToStop says how its user stops the holder: a window is closed, serve
// is stopped in its terminal.
func (h holder) howToStop() string {
	if strings.Contains(h.Command, "desktop app") {
		return "close its window"
	}
	return "Ctrl-C in its terminal"
}

// homeHold is this process's claim on a home.
type homeHold struct {
	mu   sync.Mutex
	home string
	h    holder
}

// holdHome writes this process's holder file into home.
func holdHome(home, command string) *homeHold {
	hh := &homeHold{home: home, h: holder{PID: os.Getpid(), Command: command, State: holderUnlocking, Program: filepath.Base(os.Args[0])}}
	hh.write()
	return hh
}

func (hh *homeHold) write() {
	b, _ := json.Marshal(hh.h)
	path := filepath.Join(hh.home, holderFileName)
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err == nil {
		os.Rename(tmp, path)
	}
}

// serving records that the control socket answers.
func (hh *homeHold) serving() {
	if hh == nil {
		return
	}
	hh.mu.Lock()
	defer hh.mu.Unlock()
	hh.h.State = holderServing
	hh.write()
}

// release removes the holder file, if it is still this process's.
func (hh *homeHold) release() {
	if hh == nil {
		return
	}
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if h, ok := readHolderFile(hh.home); ok && h.PID == os.Getpid() {
		os.Remove(filepath.Join(hh.home, holderFileName))
	}
}

func readHolderFile(home string) (holder, bool) {
	b, err := os.ReadFile(filepath.Join(home, holderFileName))
	if err != nil {
		return holder{}, false
	}
	var h holder
	if json.Unmarshal(b, &h) != nil || h.PID <= 0 {
		return holder{}, false
	}
	return h, true
}

// readHolder returns the process, other than this one, that holds home,
// if it still runs.
func readHolder(home string) (holder, bool) {
	h, ok := readHolderFile(home)
	if !ok || h.PID == os.Getpid() || !alive(h) {
		return holder{}, false
	}
	return h, true
}

// alive reports whether h's process still runs (and, where the system
// says, is still the same program).
func alive(h holder) bool {
	p, err := os.FindProcess(h.PID)
	if err != nil {
		return false
	}
	if err := p.Signal(syscall.Signal(0)); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if runtime.GOOS == "linux" && h.Program != "" {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", h.PID)); err == nil {
			argv0, _, _ := strings.Cut(string(b), "\x00")
			return filepath.Base(argv0) == h.Program
		}
	}
	return true
}

// errHeld is a command refused because another process holds the home.
type errHeld struct {
	h    holder
	home string
}

func (e errHeld) Error() string {
	if e.h.State == holderUnlocking {
		return fmt.Sprintf("%s is still unlocking %s: run the command again in a moment, or stop it (%s, or kill %d)", e.h, e.home, e.h.howToStop(), e.h.PID)
	}
	return fmt.Sprintf("%s holds %s but did not answer on its control socket (it may be stopping): run the command again in a moment; if this stays, stop it (%s, or kill %d)", e.h, e.home, e.h.howToStop(), e.h.PID)
}

// waitForHolder runs args in the process holding home once it answers:
// a holder still unlocking is waited for, for unlockWait at most, with a
// word on stderr. It reports false when no process holds home, so the
// command runs here; a holder that never answers makes it fail with a
// plain error.
func waitForHolder(home string, args []string, e *env) (int, bool) {
	h, ok := readHolder(home)
	if !ok {
		return 0, false
	}
	if h.State == holderUnlocking {
		fmt.Fprintf(e.stderr, "noroshi: waiting for %s to finish unlocking %s ...\n", h, home)
		deadline := time.Now().Add(unlockWait)
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if code, ok := forward(home, args, e); ok {
				return code, true
			}
			if h, ok = readHolder(home); !ok {
				return 0, false // it stopped, or gave up unlocking: run here
			}
			if h.State != holderUnlocking {
				break
			}
		}
		if code, ok := forward(home, args, e); ok {
			return code, true
		}
	}
	fmt.Fprintf(e.stderr, "noroshi: %s\n", errHeld{h, home})
	return 1, true
}

// holderInfo is what serve and demo say of a home that another process
// holds: nil when none does.
func holderInfo(home string) error {
	if h, ok := readHolder(home); ok {
		return errHeld{h, home}
	}
	return nil
}

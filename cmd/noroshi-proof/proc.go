package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The processes under test: the noroshi binary built from this tree, homes
// made with its own commands (init, community create, request, invite,
// join), serve started and stopped (or killed) as a user would, and every
// other command run on a served home through its control socket.

// passphrase of every home the harness makes (test homes only).
const passphrase = "noroshi-proof passphrase"

// buildNoroshi builds ./cmd/noroshi of the module at root into dir and
// returns the binary's path. tags are build tags ("nogui" for a relay
// build, which links faster and has no cgo).
func buildNoroshi(ctx context.Context, root, dir string, tags ...string) (string, error) {
	bin := filepath.Join(dir, "noroshi")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/noroshi")...)
	cmd.Dir = root
	if len(tags) > 0 && tags[0] == "nogui" {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/noroshi: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run noroshi-proof inside the noroshi repository (no go.mod found)")
	}
	return filepath.Dir(mod), nil
}

// node is one device: its home, the binary it runs, and its serve process
// while one runs.
type node struct {
	Name  string // for tables and logs: "coord", "venue-1"
	Home  string
	Bin   string
	Netns string   // when set, serve runs in this network namespace (ip netns exec)
	Env   []string // extra environment for serve (NOROSHI_CLOCK_SKEW=24h, ...)
	Log   string   // serve's output goes here (appended)

	serve  *exec.Cmd
	exited chan error
}

func (n *node) env(extra ...string) []string {
	env := append(os.Environ(), "NOROSHI_PASSPHRASE="+passphrase, "NOROSHI_LANG=en")
	env = append(env, n.Env...)
	return append(env, extra...)
}

// Run runs one noroshi command on this home and returns its standard
// output; on failure the error holds its standard error. A served home's
// command is carried out by serve over the control socket (a Unix socket
// in the home: no network namespace needed).
func (n *node) Run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, n.Bin, append([]string{"--home", n.Home}, args...)...)
	cmd.Env = n.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: noroshi %s: %v: %s", n.Name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// JSON runs a command with --json and decodes its output into v.
func (n *node) JSON(ctx context.Context, v any, args ...string) error {
	out, err := n.Run(ctx, append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: noroshi --json %s: %v", n.Name, strings.Join(args, " "), err)
	}
	return nil
}

// Serve starts `noroshi serve args...` (in the node's namespace when it has
// one) and waits until its control socket answers.
func (n *node) Serve(ctx context.Context, args ...string) error {
	if n.serve != nil {
		return fmt.Errorf("%s: serve already runs", n.Name)
	}
	argv := append([]string{n.Bin, "--home", n.Home, "serve"}, args...)
	if n.Netns != "" {
		argv = append([]string{"ip", "netns", "exec", n.Netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = n.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if n.Log != "" {
		f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start serve: %w", n.Name, err)
	}
	n.serve, n.exited = cmd, make(chan error, 1)
	go func() { n.exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := n.Run(ctx, "whoami"); err == nil && n.serving() {
			return nil
		}
		select {
		case err := <-n.exited:
			n.serve = nil
			return fmt.Errorf("%s: serve exited while starting: %v (log: %s)", n.Name, err, n.Log)
		case <-ctx.Done():
			n.Kill()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Kill()
			return fmt.Errorf("%s: serve did not answer on its control socket within 90 s (log: %s)", n.Name, n.Log)
		}
	}
}

// serving reports whether the home's holder file says serve answers.
func (n *node) serving() bool {
	b, err := os.ReadFile(filepath.Join(n.Home, "holder.json"))
	if err != nil {
		return false
	}
	var h struct {
		State string `json:"state"`
	}
	return json.Unmarshal(b, &h) == nil && h.State == "serving"
}

// PID is serve's process ID (of ip netns exec, which execs noroshi), 0
// when none runs.
func (n *node) PID() int {
	if n.serve == nil {
		return 0
	}
	return n.serve.Process.Pid
}

// Stop stops serve as Ctrl-C does and waits for it (SIGKILL after 30 s).
func (n *node) Stop() error { return n.signal(syscall.SIGINT, 30*time.Second) }

// Kill kills serve with SIGKILL, as a power cut would, and waits for it.
func (n *node) Kill() error { return n.signal(syscall.SIGKILL, 10*time.Second) }

func (n *node) signal(sig syscall.Signal, wait time.Duration) error {
	if n.serve == nil {
		return nil
	}
	defer func() { n.serve = nil }()
	killed, err := stopGroup(n.serve.Process.Pid, n.exited, sig, wait)
	switch {
	case killed:
		return fmt.Errorf("%s: serve did not stop within %s: killed", n.Name, wait)
	case sig == syscall.SIGKILL:
		return nil
	}
	return err
}

// stopGroup sends sig to the process group led by pid and waits for the
// leader's exit on exited; after wait it sends SIGKILL and waits again,
// and says so (killed).
func stopGroup(pid int, exited <-chan error, sig syscall.Signal, wait time.Duration) (killed bool, exitErr error) {
	_ = syscall.Kill(-pid, sig)
	select {
	case err := <-exited:
		return false, err
	case <-time.After(wait):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
		return true, nil
	}
}

// member says who a device of a test community is.
type member struct {
	Name    string // person and node name
	Org     string
	OrgKind string // venue, critical-service, sports-body, ... (coordination for the coordinator's)
	Role    string // member, org-admin, coordinator, relay ("" = member)
}

// newCommunity makes, under dir, the homes of a community: members[0] is
// the coordinator, who creates it, adds every other organisation and
// invites every other device through a join request file. Every home runs
// bin.
func newCommunity(ctx context.Context, dir, bin string, members []member) ([]*node, error) {
	if len(members) == 0 {
		return nil, errors.New("newCommunity: no members")
	}
	nodes := make([]*node, len(members))
	for i, m := range members {
		nodes[i] = &node{Name: m.Name, Home: filepath.Join(dir, m.Name), Bin: bin, Log: filepath.Join(dir, m.Name+".log")}
		if _, err := nodes[i].Run(ctx, "init", "--name", m.Name); err != nil {
			return nil, err
		}
	}
	coord := nodes[0]
	kind := members[0].OrgKind
	if kind == "" {
		kind = "coordination"
	}
	if _, err := coord.Run(ctx, "community", "create", "--name", "Noroshi proof", "--org", members[0].Org, "--org-kind", kind); err != nil {
		return nil, err
	}
	// The coordinator's home is held (serve --offline) while it adds
	// organisations and invites: its commands go over the control socket
	// instead of unlocking the key file (scrypt) once each.
	if len(members) > 1 {
		if err := coord.Serve(ctx, "--offline"); err != nil {
			return nil, err
		}
		defer coord.Stop()
	}
	orgs := map[string]bool{members[0].Org: true}
	for i, m := range members[1:] {
		n := nodes[i+1]
		if !orgs[m.Org] {
			k := m.OrgKind
			if k == "" {
				k = "venue"
			}
			if _, err := coord.Run(ctx, "org", "add", "--name", m.Org, "--kind", k); err != nil {
				return nil, err
			}
			orgs[m.Org] = true
		}
		req, inv := filepath.Join(dir, m.Name+".request"), filepath.Join(dir, m.Name+".invite")
		if _, err := n.Run(ctx, "request", "--out", req); err != nil {
			return nil, err
		}
		args := []string{"invite", "--request", req, "--org", m.Org, "--out", inv}
		if m.Role != "" {
			args = append(args, "--role", m.Role)
		}
		if _, err := coord.Run(ctx, args...); err != nil {
			return nil, err
		}
		if _, err := n.Run(ctx, "join", inv); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// freePort returns a loopback TCP port free now, whose next port is free
// too (serve uses gossip port + 1 for sync streams).
func freePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p >= 65534 {
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		l2.Close()
		return p, nil
	}
	return 0, errors.New("no free pair of loopback ports")
}

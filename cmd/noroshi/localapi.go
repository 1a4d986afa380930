package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"noroshi/app"
)

// The local control socket (the LocalAPI pattern of tailscaled and its CLI):
// while one process holds a home (noroshi serve, later the desktop app), the
// CLI sends its command line over a Unix socket in the home and the holder
// runs it against its already unlocked App. The socket is owner-only (the
// home is 0700, the socket 0600, and the peer's uid is checked where the OS
// tells it), so the CLI pays no passphrase cost and never waits on the bbolt
// file lock.
//
// One request per connection, JSON both ways:
//
//	request  {"v":1,"args":[...],"cwd":"/abs/dir","stdin":"base64"}
//	response {"v":1,"code":0,"stdout":"base64","stderr":"base64"}
const (
	localAPIVersion = 1
	maxLocalRequest = 64 << 20
)

type localRequest struct {
	V     int      `json:"v"`
	Args  []string `json:"args"`
	Cwd   string   `json:"cwd"`
	Stdin []byte   `json:"stdin,omitempty"`
}

type localResponse struct {
	V      int    `json:"v"`
	Code   int    `json:"code"`
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
}

// forwardable reports whether a command line may run in the holder.
func forwardable(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return false
		}
	}
	switch firstCommand(args) {
	case "", "init", "demo", "serve", "help", "version", "completion":
		return false
	}
	return true
}

// flagsWithValue are the persistent flags that take a separate value.
var flagsWithValue = map[string]bool{"--home": true, "--passphrase-file": true}

func firstCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if flagsWithValue[a] {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func homeFromArgs(args []string, e *env) (string, error) {
	flag := ""
	for i, a := range args {
		if a == "--home" && i+1 < len(args) {
			flag = args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--home="); ok {
			flag = v
		}
	}
	return resolveHome(flag, e)
}

// forward runs args in the process holding home, if one answers.
func forward(home string, args []string, e *env) (int, bool) {
	sock := filepath.Join(home, app.SocketName)
	if _, err := os.Stat(sock); err != nil {
		return 0, false
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	req := localRequest{V: localAPIVersion, Args: args, Cwd: e.cwd}
	for _, a := range args {
		if a == "-" {
			req.Stdin, _ = io.ReadAll(io.LimitReader(e.stdin, maxLocalRequest/2))
		}
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return 0, false
	}
	var resp localResponse
	if err := json.NewDecoder(io.LimitReader(conn, 4*maxLocalRequest)).Decode(&resp); err != nil {
		fmt.Fprintf(e.stderr, "noroshi: the process holding %s did not answer: %v\n", home, err)
		return 1, true
	}
	e.stdout.Write(resp.Stdout)
	e.stderr.Write(resp.Stderr)
	return resp.Code, true
}

// localServer answers the control socket for a held App.
type localServer struct {
	a          *app.App
	ln         net.Listener
	workFactor int
	net        *app.Network
	mu         sync.Mutex // one command at a time: commands are short
	wg         sync.WaitGroup
}

// socketAnswers reports whether a process answers on home's control socket.
func socketAnswers(home string) bool {
	conn, err := net.DialTimeout("unix", filepath.Join(home, app.SocketName), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// listenLocal opens the control socket in the app's home, replacing a stale one.
func listenLocal(a *app.App, workFactor int, nw *app.Network) (*localServer, error) {
	sock := filepath.Join(a.Home(), app.SocketName)
	if socketAnswers(a.Home()) {
		return nil, fmt.Errorf("another noroshi process already serves %s", a.Home())
	}
	os.Remove(sock)
	old := umask(0o077)
	ln, err := net.Listen("unix", sock)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &localServer{a: a, ln: ln, workFactor: workFactor, net: nw}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *localServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.handle(conn)
		}()
	}
}

func (s *localServer) handle(conn net.Conn) {
	if err := checkPeer(conn); err != nil {
		return
	}
	var req localRequest
	if err := json.NewDecoder(io.LimitReader(conn, maxLocalRequest)).Decode(&req); err != nil || req.V != localAPIVersion {
		json.NewEncoder(conn).Encode(localResponse{V: localAPIVersion, Code: 2, Stderr: []byte("noroshi: bad control request: upgrade the CLI to match the running process\n")})
		return
	}
	var stdout, stderr bytes.Buffer
	e := &env{stdin: bytes.NewReader(req.Stdin), stdout: &stdout, stderr: &stderr,
		getenv: func(string) string { return "" }, cwd: req.Cwd, workFactor: s.workFactor, held: s.a, net: s.net}
	if !filepath.IsAbs(e.cwd) {
		e.cwd = "/"
	}
	s.mu.Lock()
	code := run(req.Args, e)
	s.mu.Unlock()
	json.NewEncoder(conn).Encode(localResponse{V: localAPIVersion, Code: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()})
}

// Close stops answering and removes the socket.
func (s *localServer) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	os.Remove(filepath.Join(s.a.Home(), app.SocketName))
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

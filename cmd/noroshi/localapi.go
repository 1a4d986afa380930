package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
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
// One request per connection. The request is one JSON line:
//
//	request  {"v":2,"args":[...],"cwd":"/abs/dir","stdin":"base64"}
//
// The answer is a stream of frames, written while the command runs, so
// neither the holder nor the CLI ever holds a command's whole output:
//
//	frame    kind (1 byte) | length (4 bytes, big-endian) | payload (length bytes)
//	'o'      standard output: 1 to maxFrame bytes
//	'e'      standard error: 1 to maxFrame bytes
//	'x'      exit: the exit code (4 bytes, big-endian); the last frame
//
// Version 1 answered with one JSON object holding all of stdout and stderr
// (base64): a whole feed of 100,000 posts sat in the holder's memory twice.
// A version-1 answer starts with '{', which no frame kind is, so a client
// tells an old holder by its first byte; a holder answers a version-1
// request in version 1's shape. Either way the user is told in one line to
// restart serve (or the app), or to upgrade the CLI.
//
// Budgets:
//   - the request line: maxLocalRequest (64 MiB), standard input in it at
//     most maxLocalStdin (32 MiB; base64 makes it 43 MiB). A larger input
//     is refused before it is sent: give a file instead of "-".
//   - a frame: at most maxFrame (32 KiB) of payload. A client reads into
//     one buffer of that size; a holder writes the command's own buffers
//     in slices of that size, copying nothing.
//   - a stalled client: a holder gives up on a frame that the client has
//     not taken within writeStall (1 minute), and the command's further
//     writes fail at once, so the holder (which runs one command at a
//     time) is never blocked for good by a client that stops reading; a
//     client that goes away fails the next write at once.
const (
	localAPIVersion = 2
	maxLocalRequest = 64 << 20
	maxLocalStdin   = 32 << 20
	writeStall      = time.Minute
	// requestWait bounds how long a client may take to send its request,
	// and maxLocalConns how many connections are served at once (each may
	// buffer a request): more wait in the listen queue.
	requestWait   = 5 * time.Second
	maxLocalConns = 8
)

// maxFrame bounds a frame's payload (a variable so that tests can make
// small outputs span many frames).
var maxFrame = 32 << 10

const (
	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x'
	frameHeader = 5
)

type localRequest struct {
	V     int      `json:"v"`
	Args  []string `json:"args"`
	Cwd   string   `json:"cwd"`
	Stdin []byte   `json:"stdin,omitempty"`
}

// localResponseV1 is version 1's whole answer, used only to answer a
// version-1 client.
type localResponseV1 struct {
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
	case "", "init", "demo", "serve", "help", "version", "completion", "update", "gen", "bench":
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

// forward runs args in the process holding home, if one answers, and
// copies its output to e's streams as it comes.
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
	if slices.Contains(args, "-") {
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxLocalStdin+1))
		if err != nil {
			fmt.Fprintf(e.stderr, "noroshi: read standard input: %v\n", err)
			return 1, true
		}
		if len(b) > maxLocalStdin {
			fmt.Fprintf(e.stderr, "noroshi: standard input is larger than %d MiB, more than the process holding %s takes: give a file instead of -\n", maxLocalStdin>>20, home)
			return 1, true
		}
		req.Stdin = b
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return 0, false
	}
	return readFrames(conn, home, e)
}

// readFrames copies the holder's answer to e's streams, frame by frame,
// and returns the command's exit code.
func readFrames(conn io.Reader, home string, e *env) (int, bool) {
	r := bufio.NewReader(conn)
	if b, err := r.Peek(1); err == nil && b[0] == '{' {
		fmt.Fprintf(e.stderr, "noroshi: the process holding %s runs an older noroshi (control protocol 1, this one speaks %d): restart serve (or the desktop app) with this version\n", home, localAPIVersion)
		return 2, true
	}
	var hdr [frameHeader]byte
	buf := make([]byte, maxFrame)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			fmt.Fprintf(e.stderr, "noroshi: the process holding %s stopped answering before the command ended (%v): see its log, and run the command again\n", home, err)
			return 1, true
		}
		kind, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
		ok := n <= uint32(maxFrame) && (kind == frameStdout || kind == frameStderr || kind == frameExit && n == 4)
		if !ok {
			fmt.Fprintf(e.stderr, "noroshi: the process holding %s answered in a form this noroshi does not know: run the same version for both (restart serve, or the desktop app)\n", home)
			return 2, true
		}
		p := buf[:n]
		if _, err := io.ReadFull(r, p); err != nil {
			fmt.Fprintf(e.stderr, "noroshi: the process holding %s stopped answering before the command ended (%v): see its log, and run the command again\n", home, err)
			return 1, true
		}
		switch kind {
		case frameExit:
			return int(int32(binary.BigEndian.Uint32(p))), true
		case frameStdout:
			e.stdout.Write(p)
		case frameStderr:
			e.stderr.Write(p)
		}
	}
}

// frameWriter writes frames to a client: both of a command's streams
// share it.
type frameWriter struct {
	mu   sync.Mutex
	conn net.Conn
	err  error // sticky: once a client is gone, every write fails at once
}

// frame writes one frame of at most maxFrame bytes, giving up after
// writeStall.
func (w *frameWriter) frame(kind byte, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	hdr := make([]byte, frameHeader)
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	w.conn.SetWriteDeadline(time.Now().Add(writeStall))
	bufs := net.Buffers{hdr, p}
	if _, err := bufs.WriteTo(w.conn); err != nil {
		w.err = fmt.Errorf("the CLI went away: %w", err)
	}
	return w.err
}

// exit writes the last frame, with the command's exit code.
func (w *frameWriter) exit(code int) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return w.frame(frameExit, b[:])
}

// stream is one of a command's output streams, written as frames.
type stream struct {
	w    *frameWriter
	kind byte
}

func (s stream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), maxFrame)
		if err := s.w.frame(s.kind, p[:c]); err != nil {
			return n, err
		}
		n, p = n+c, p[c:]
	}
	return n, nil
}

// localServer answers the control socket for a held App.
type localServer struct {
	a          *app.App
	ln         net.Listener
	workFactor int
	net        *app.Network
	mu         sync.Mutex // one command at a time: commands are short
	wg         sync.WaitGroup
	cmu        sync.Mutex
	conns      map[net.Conn]bool // open connections, for Close
	closed     bool
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
	s := &localServer{a: a, ln: ln, workFactor: workFactor, net: nw, conns: map[net.Conn]bool{}}
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
		s.cmu.Lock()
		if len(s.conns) >= maxLocalConns {
			s.cmu.Unlock()
			conn.Close()
			continue
		}
		s.conns[conn] = true
		if s.closed {
			conn.SetReadDeadline(time.Now())
		}
		s.cmu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.cmu.Lock()
				delete(s.conns, conn)
				s.cmu.Unlock()
				conn.Close()
			}()
			s.handle(conn)
		}()
	}
}

func (s *localServer) handle(conn net.Conn) {
	if err := checkPeer(conn); err != nil {
		return
	}
	// A client has requestWait to send its request: one that sends nothing
	// holds no goroutine for long.
	conn.SetReadDeadline(time.Now().Add(requestWait))
	req, err := readLocalRequest(conn)
	conn.SetReadDeadline(time.Time{})
	w := &frameWriter{conn: conn}
	switch {
	case err == nil && req.V >= 1 && req.V < localAPIVersion:
		// An older CLI reads one JSON answer: say so in its terms.
		msg := fmt.Sprintf("noroshi: the process holding %s runs a newer noroshi (control protocol %d, this one speaks %d): upgrade this noroshi to the same version, or restart serve (or the desktop app) with this one\n", s.a.Home(), localAPIVersion, req.V)
		conn.SetWriteDeadline(time.Now().Add(writeStall))
		json.NewEncoder(conn).Encode(localResponseV1{V: req.V, Code: 2, Stdout: []byte{}, Stderr: []byte(msg)})
		return
	case err != nil || req.V != localAPIVersion:
		fmt.Fprintf(stream{w, frameStderr}, "noroshi: bad control request to the process holding %s: run the same version of noroshi for both (upgrade the CLI, or restart serve)\n", s.a.Home())
		w.exit(2)
		return
	}
	e := &env{stdin: bytes.NewReader(req.Stdin), stdout: stream{w, frameStdout}, stderr: stream{w, frameStderr},
		getenv: func(string) string { return "" }, cwd: req.Cwd, workFactor: s.workFactor, held: s.a, net: s.net}
	if !filepath.IsAbs(e.cwd) {
		e.cwd = "/"
	}
	// An exercise run lasts as long as its scenario: it runs beside the
	// other commands, so that exercise stop gets through (exercise.go).
	serial := !longRunning(req.Args)
	if serial {
		s.mu.Lock()
	}
	code := run(req.Args, e)
	if serial {
		s.mu.Unlock()
	}
	w.exit(code)
}

// readLocalRequest reads a client's request line within the budgets.
func readLocalRequest(r io.Reader) (localRequest, error) {
	var req localRequest
	err := json.NewDecoder(io.LimitReader(r, maxLocalRequest)).Decode(&req)
	if err == nil && len(req.Stdin) > maxLocalStdin {
		err = fmt.Errorf("stdin of %d bytes", len(req.Stdin))
	}
	return req, err
}

// Close stops answering and removes the socket.
func (s *localServer) Close() error {
	err := s.ln.Close()
	// A client still sending its request is cut off; a command that runs
	// finishes and answers (each of its frames bounded by writeStall).
	s.cmu.Lock()
	s.closed = true
	for conn := range s.conns {
		conn.SetReadDeadline(time.Now())
	}
	s.cmu.Unlock()
	s.wg.Wait()
	os.Remove(filepath.Join(s.a.Home(), app.SocketName))
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

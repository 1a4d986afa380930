package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"noroshi/app"
)

// heldHome makes a home with a community and n posts, held by this
// process on its control socket as serve holds it.
func heldHome(t *testing.T, n int) (string, *app.App) {
	t.Helper()
	home := t.TempDir()
	setup := testEnv(t)
	for _, args := range [][]string{
		{"--home", home, "init", "--name", "Duty Officer"},
		{"--home", home, "community", "create", "--name", "Games 2026", "--org", "Coordination Centre"},
	} {
		if code := run(args, setup); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
	cfg := app.DefaultConfig(home)
	cfg.WorkFactor = 10
	a, err := app.Open(cfg, scriptPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ls, err := listenLocal(a, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	for i := range n {
		e := testEnv(t)
		if code := run([]string{"--home", home, "post", "--type", "alert", "--tag", "info", "--tlp", "green", "--title", fmt.Sprintf("Post <%d> & more", i)}, e); code != 0 {
			t.Fatalf("post %d: exit %d: %s", i, code, e.stderr)
		}
	}
	return home, a
}

func testEnv(t *testing.T) *env {
	return &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{},
		getenv: func(k string) string {
			if k == "NOROSHI_PASSPHRASE" {
				return scriptPassphrase
			}
			return ""
		}, cwd: t.TempDir(), workFactor: 10}
}

// outputs runs args as a CLI process would (through the control socket
// when a process holds the home) and returns the exit code and streams.
func outputs(t *testing.T, args []string, stdin string) (int, string, string) {
	e := testEnv(t)
	e.stdin = strings.NewReader(stdin)
	code := run(args, e)
	return code, e.stdout.(*bytes.Buffer).String(), e.stderr.(*bytes.Buffer).String()
}

// small makes every frame and every feed chunk small for the test, so a
// few posts span many of each. Not parallel: it sets package variables.
func small(t *testing.T, frame, chunk int) {
	oldFrame, oldChunk := maxFrame, feedChunk
	maxFrame, feedChunk = frame, chunk
	t.Cleanup(func() { maxFrame, feedChunk = oldFrame, oldChunk })
}

// A command whose output spans many frames arrives whole and in order,
// exactly as the holder prints it; exit codes and standard input pass
// through; `feed --limit 0` reads the feed a chunk at a time and writes
// the JSON array that a single page gave, byte for byte.
func TestLocalAPIStreamsOutput(t *testing.T) {
	small(t, 64, 2)
	const posts = 7
	home, a := heldHome(t, posts)

	code, out, errOut := outputs(t, []string{"--home", home, "feed", "--json", "--limit", "0"}, "")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if len(out) < 10*maxFrame {
		t.Fatalf("output of %d bytes: too small to span many frames", len(out))
	}
	var got []app.PostSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got) != posts {
		t.Fatalf("%d posts, want %d", len(got), posts)
	}
	// The shape of the whole page as emit printed it before chunking.
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(a.Feed(app.FeedFilter{}))
	if out != want.String() {
		t.Errorf("feed --json --limit 0 through the socket:\n%s\nwant:\n%s", out, want.String())
	}
	// The same command run in the holder itself prints the same.
	held := testEnv(t)
	held.held = a
	if code := run([]string{"--home", home, "feed", "--json", "--limit", "0"}, held); code != 0 || held.stdout.(*bytes.Buffer).String() != out {
		t.Errorf("in the holder: exit %d, output differs from the socket's", code)
	}

	// Text: a line per post, newest first.
	code, out, _ = outputs(t, []string{"--home", home, "feed", "--limit", "0"}, "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != posts || !strings.Contains(lines[0], fmt.Sprintf("Post <%d> & more", posts-1)) || !strings.Contains(lines[posts-1], "Post <0> & more") {
		t.Errorf("feed --limit 0: exit %d\n%s", code, out)
	}

	// No post: an empty array, as before.
	if code, out, _ = outputs(t, []string{"--home", home, "feed", "--json", "--search", "nothing-matches-this"}, ""); code != 0 || out != "[]\n" {
		t.Errorf("empty feed: exit %d, %q", code, out)
	}

	// A page that ends inside a chunk, and the next one after it.
	code, out, errOut = outputs(t, []string{"--home", home, "feed", "--limit", "3"}, "")
	next, ok := strings.CutPrefix(strings.TrimSuffix(errOut, "\n"), "noroshi: 3 posts shown; more: noroshi feed --home "+home+" --limit 3 --before ")
	if code != 0 || strings.Count(out, "\n") != 3 || !ok || len(next) != 64 {
		t.Fatalf("feed --limit 3: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	code, out, errOut = outputs(t, []string{"--home", home, "feed", "--limit", "3", "--before", next}, "")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "Post <3> & more") || !strings.Contains(errOut, "3 posts shown; more:") {
		t.Errorf("next page: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	// A prefix of the ID does as well.
	if _, out2, _ := outputs(t, []string{"--home", home, "feed", "--limit", "3", "--before", next[:12]}, ""); out2 != out {
		t.Errorf("--before a prefix: %q, want %q", out2, out)
	}
	// --before naming no post says so, rather than listing nothing.
	code, out, errOut = outputs(t, []string{"--home", home, "feed", "--before", strings.Repeat("0", 64)}, "")
	if code != 1 || out != "" || !strings.Contains(errOut, "no post ID 0000") || !strings.Contains(errOut, "give the full ID of the last post of the previous page") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("--before unknown: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A refusal: its exit code and its one line on stderr.
	code, out, errOut = outputs(t, []string{"--home", home, "show", "000000000000"}, "")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "noroshi: ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("show unknown: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Standard input goes with the request.
	body := strings.Repeat("Firmware 4.2 fixes the remote unlock. ", 20)
	code, id, errOut := outputs(t, []string{"--home", home, "post", "--type", "vulnerability", "--tag", "important", "--tlp", "clear", "--title", "Patch", "--body-file", "-"}, body)
	if code != 0 {
		t.Fatalf("post --body-file -: exit %d, %s", code, errOut)
	}
	if code, out, _ = outputs(t, []string{"--home", home, "show", strings.TrimSpace(id)}, ""); code != 0 || !strings.Contains(out, strings.TrimSpace(body)) {
		t.Errorf("show: exit %d\n%s", code, out)
	}
}

// A client that goes away in the middle of an answer does not hold the
// holder: the next command is answered.
func TestLocalAPIClientGoesAway(t *testing.T) {
	small(t, 64, 2)
	home, _ := heldHome(t, 5)
	conn, err := net.Dial("unix", filepath.Join(home, app.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(conn).Encode(localRequest{V: localAPIVersion, Args: []string{"--home", home, "feed", "--json", "--limit", "0"}, Cwd: "/"})
	var hdr [frameHeader]byte
	if _, err := bufio.NewReader(conn).Read(hdr[:1]); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if code, out, errOut := outputs(t, []string{"--home", home, "whoami", "--json"}, ""); code != 0 || !strings.Contains(out, "Duty Officer") {
		t.Errorf("after a client went away: exit %d, %q %q", code, out, errOut)
	}
}

// A CLI and a holder of different protocol versions say so in one line,
// with what to do, whichever side is older.
func TestLocalAPIVersionMismatch(t *testing.T) {
	home, _ := heldHome(t, 0)

	// An old (version 1) CLI against this holder reads one JSON answer.
	conn, err := net.Dial("unix", filepath.Join(home, app.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(conn).Encode(localRequest{V: 1, Args: []string{"--home", home, "whoami"}, Cwd: "/"})
	var resp localResponseV1
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	want := "noroshi: the process holding " + home + " runs a newer noroshi (control protocol 2, this one speaks 1): upgrade this noroshi to the same version, or restart serve (or the desktop app) with this one\n"
	if resp.Code != 2 || string(resp.Stderr) != want {
		t.Errorf("v1 client: code %d, stderr %q\nwant %q", resp.Code, resp.Stderr, want)
	}

	// This CLI against holders that answer otherwise: an old (version 1)
	// holder, a frame too large, an answer cut short.
	for _, c := range []struct {
		name   string
		answer []byte
		code   int
		stderr string
	}{
		{"v1 holder", []byte(`{"v":1,"code":2,"stdout":null,"stderr":"bm9yb3NoaQo="}` + "\n"), 2,
			"runs an older noroshi (control protocol 1, this one speaks 2): restart serve (or the desktop app) with this version\n"},
		{"frame too large", frameBytes(frameStdout, make([]byte, maxFrame+1)), 2, "answered in a form this noroshi does not know"},
		{"no exit frame", frameBytes(frameStdout, []byte("half")), 1, "stopped answering before the command ended"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := fakeHolder(t, c.answer)
			e := testEnv(t)
			code, ok := forward(fake, []string{"--home", fake, "whoami"}, e)
			errOut := e.stderr.(*bytes.Buffer).String()
			if !ok || code != c.code || !strings.Contains(errOut, c.stderr) || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "noroshi: the process holding "+fake+" ") {
				t.Errorf("exit %d (%v), stderr %q, want %d and %q", code, ok, errOut, c.code, c.stderr)
			}
		})
	}
}

func frameBytes(kind byte, p []byte) []byte {
	b := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(p)))
	return append(b, p...)
}

// fakeHolder answers one request on a control socket in a home of its
// own with answer, and returns the home.
func fakeHolder(t *testing.T, answer []byte) string {
	home, err := os.MkdirTemp("", "h") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	ln, err := net.Listen("unix", filepath.Join(home, app.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		bufio.NewReader(conn).ReadString('\n')
		conn.Write(answer)
	}()
	return home
}

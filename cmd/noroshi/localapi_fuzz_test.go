package main

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzLocalRequest: the control socket reads one request line from any
// process of the same user. Decoding never panics, keeps to its budgets,
// and the routing of the command line it holds never panics either.
func FuzzLocalRequest(f *testing.F) {
	f.Add([]byte(`{"v":2,"args":["--home","/h","post","--title","x","-"],"cwd":"/tmp","stdin":"aGVsbG8="}` + "\n"))
	f.Add([]byte(`{"v":1,"args":["feed"],"cwd":"/"}`))
	f.Add([]byte(`{"v":2,"args":["exercise","run","--home=/h"],"cwd":"rel"}`))
	f.Add([]byte(`{"v":2,"args":["--home"]}`))
	f.Add([]byte(`{"v":2,"stdin":"!!"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := readLocalRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(req.Stdin) > maxLocalStdin {
			t.Fatalf("stdin of %d bytes accepted", len(req.Stdin))
		}
		forwardable(req.Args)
		firstCommand(req.Args)
		longRunning(req.Args)
	})
}

// FuzzLocalAnswer: the CLI reads the holder's answer frame by frame. A
// damaged or foreign answer ends with an exit code, never a panic, and
// nothing is copied to the streams that was not in the answer.
func FuzzLocalAnswer(f *testing.F) {
	frame := func(kind byte, p []byte) []byte {
		h := make([]byte, frameHeader, frameHeader+len(p))
		h[0] = kind
		binary.BigEndian.PutUint32(h[1:], uint32(len(p)))
		return append(h, p...)
	}
	var ok []byte
	ok = append(ok, frame(frameStdout, []byte("feed\n"))...)
	ok = append(ok, frame(frameStderr, []byte("warning\n"))...)
	ok = append(ok, frame(frameExit, []byte{0, 0, 0, 3})...)
	f.Add(ok)
	f.Add([]byte(`{"v":1,"code":0}`))
	f.Add(frame(frameExit, []byte{0, 0}))
	f.Add([]byte{frameStdout, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out, errs bytes.Buffer
		e := &env{stdout: &out, stderr: &errs, getenv: func(string) string { return "" }}
		code, handled := readFrames(bytes.NewReader(b), "/home", e)
		if !handled {
			t.Fatal("an answer was not handled")
		}
		if out.Len() > len(b) {
			t.Fatalf("%d bytes of output from an answer of %d", out.Len(), len(b))
		}
		_ = code
	})
}

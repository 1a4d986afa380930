package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
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

// noroshiPair is two noroshi serve processes on loopback: A (the
// coordinator) writes, B (a member of another organisation) receives.
type noroshiPair struct {
	a, b   *node
	addrA  string // A's gossip address
	portB  int
	o      compareOptions
	count  int // posts B must show so far
	serial int // titles are unique within a run
}

func newNoroshiPair(ctx context.Context, dir, bin string, o compareOptions) (*noroshiPair, error) {
	dir = filepath.Join(dir, "homes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	nodes, err := newCommunity(ctx, dir, bin, []member{
		{Name: "a", Org: "Coordination Centre"},
		{Name: "b", Org: "Venue North"},
	})
	if err != nil {
		return nil, err
	}
	p := &noroshiPair{a: nodes[0], b: nodes[1], o: o}
	portA, err := freePort()
	if err != nil {
		return p, err
	}
	p.addrA = fmt.Sprintf("127.0.0.1:%d", portA)
	if err := p.a.Serve(ctx, "--bind", p.addrA, "--no-mdns", "--anti-entropy", o.AntiEntropy.String()); err != nil {
		return p, err
	}
	if p.portB, err = freePort(); err != nil {
		return p, err
	}
	if err := p.StartB(ctx); err != nil {
		return p, err
	}
	return p, p.connected(ctx)
}

// connected waits until B lists A as a live peer.
func (p *noroshiPair) connected(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var peers struct {
			Peers []struct {
				State string `json:"state"`
			} `json:"peers"`
		}
		err := p.b.JSON(ctx, &peers, "peers")
		if err == nil && len(peers.Peers) > 0 && peers.Peers[0].State == "alive" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("noroshi: B did not see A within 2 minutes (%v); logs in %s", err, filepath.Dir(p.b.Log))
		}
		if err := cmpSleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// StartB starts B's serve, joined to A.
func (p *noroshiPair) StartB(ctx context.Context) error {
	return p.b.Serve(ctx, "--bind", fmt.Sprintf("127.0.0.1:%d", p.portB), "--no-mdns", "--join", p.addrA, "--anti-entropy", p.o.AntiEntropy.String())
}

// StopB stops B's serve as Ctrl-C does.
func (p *noroshiPair) StopB(ctx context.Context) error { return p.b.Stop() }

// AfterWrite: an acknowledged post is already stored and announced.
func (p *noroshiPair) AfterWrite(ctx context.Context, total int) (time.Duration, error) {
	return 0, nil
}

// Close stops both serve processes.
func (p *noroshiPair) Close() {
	p.b.Stop()
	p.a.Stop()
}

func (p *noroshiPair) postArgs(it compareItem) []string {
	args := []string{"post", "--type", "alert", "--tag", "info", "--tlp", "green", "--title", "compare " + it.Name}
	if it.Path != "" {
		return append(args, "--body", "1 MiB attached", "--attach", it.Path)
	}
	return append(args, "--body", string(it.Data))
}

// Write posts items on A through its control socket, o.Writers requests
// at once, and returns when the last is acknowledged.
func (p *noroshiPair) Write(ctx context.Context, items []compareItem) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan compareItem)
	errc := make(chan error, p.o.Writers)
	var wg sync.WaitGroup
	for range p.o.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				if _, err := controlRun(ctx, p.a.Home, p.postArgs(it)...); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case next <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("noroshi: post on A: %w", err)
	default:
	}
	return ctx.Err()
}

// cliSample posts n items through one CLI process each and returns the
// time per post.
func (p *noroshiPair) cliSample(ctx context.Context, n int) (time.Duration, error) {
	if n <= 0 {
		return 0, nil
	}
	start := time.Now()
	for i := range n {
		it := compareItem{Name: fmt.Sprintf("cli-%06d.txt", i), Data: bytes.Repeat([]byte("x"), 1<<10)}
		if _, err := p.a.Run(ctx, p.postArgs(it)...); err != nil {
			return 0, err
		}
	}
	p.count += n
	return time.Since(start) / time.Duration(n), nil
}

// WaitB polls B's feed until it lists total posts.
func (p *noroshiPair) WaitB(ctx context.Context, total int, poll time.Duration) error {
	var lastErr error
	for {
		n, err := p.feedCount(ctx)
		if err == nil && n >= total {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if err := cmpSleep(ctx, poll); err != nil {
			return fmt.Errorf("noroshi: B shows %d of %d posts (%v): %w", n, total, lastErr, err)
		}
	}
}

// feedCount counts the posts B's feed lists.
func (p *noroshiPair) feedCount(ctx context.Context) (int, error) {
	out, err := controlRun(ctx, p.b.Home, "--json", "feed", "--limit", "0")
	if err != nil {
		return 0, err
	}
	var posts []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &posts); err != nil {
		return 0, fmt.Errorf("noroshi feed --json: %w", err)
	}
	return len(posts), nil
}

// checkDigests compares A's and B's envelope sets with `noroshi check`
// when this tree has it; it is not timed.
func (p *noroshiPair) checkDigests(ctx context.Context) error {
	type check struct {
		Envelopes int    `json:"envelopes"`
		Digest    string `json:"set_digest"`
	}
	var ca, cb check
	if err := p.a.JSON(ctx, &ca, "check"); err != nil {
		if strings.Contains(err.Error(), "unknown command") {
			p.o.Logf("noroshi check is not in this tree yet: envelope sets not compared")
			return nil
		}
		return err
	}
	if err := p.b.JSON(ctx, &cb, "check"); err != nil {
		return err
	}
	if ca != cb {
		return fmt.Errorf("noroshi: after the run A holds %d envelopes (set %s), B %d (set %s)", ca.Envelopes, ca.Digest, cb.Envelopes, cb.Digest)
	}
	p.o.Logf("noroshi check: A and B hold the same %d envelopes", ca.Envelopes)
	return nil
}

// controlRun runs one noroshi command in the serve process holding home,
// over its control socket, as the CLI does when a home is served
// (cmd/noroshi/localapi.go, protocol version 2: one JSON request line,
// then frames of kind, big-endian length, payload until an exit frame),
// without starting a process. It returns the command's standard output.
func controlRun(ctx context.Context, home string, args ...string) ([]byte, error) {
	const maxOut = 256 << 20
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(home, app.SocketName))
	if err != nil {
		return nil, fmt.Errorf("control socket of %s: %w", home, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	req := struct {
		V    int      `json:"v"`
		Args []string `json:"args"`
		Cwd  string   `json:"cwd"`
	}{2, append([]string{"--home", home}, args...), "/"}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, fmt.Errorf("control socket of %s: %w", home, err)
	}
	what := commandName(args)
	r := bufio.NewReader(conn)
	var stdout, stderr bytes.Buffer
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("control socket of %s: noroshi %s: %w", home, what, err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > 1<<20 {
			return nil, fmt.Errorf("control socket of %s: a frame of %d bytes", home, n)
		}
		var w *bytes.Buffer
		switch hdr[0] {
		case 'o':
			w = &stdout
		case 'e':
			w = &stderr
		case 'x':
			var code [4]byte
			if n != 4 {
				return nil, errors.New("control socket: bad exit frame")
			}
			if _, err := io.ReadFull(r, code[:]); err != nil {
				return nil, err
			}
			if c := int32(binary.BigEndian.Uint32(code[:])); c != 0 {
				return stdout.Bytes(), fmt.Errorf("noroshi %s: exit %d: %s", what, c, strings.TrimSpace(stderr.String()))
			}
			return stdout.Bytes(), nil
		default:
			return nil, fmt.Errorf("control socket of %s: unknown frame kind %q", home, hdr[0])
		}
		if w.Len()+int(n) > maxOut {
			return nil, fmt.Errorf("control socket of %s: more than %d bytes of output", home, maxOut)
		}
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return nil, err
		}
	}
}

// commandName is a command line up to its first flag ("--json feed"
// stays, a post's body does not), for errors.
func commandName(args []string) string {
	for i, a := range args {
		if strings.HasPrefix(a, "--") && a != "--json" {
			return strings.Join(args[:i], " ")
		}
	}
	return strings.Join(args, " ")
}

func cmpSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

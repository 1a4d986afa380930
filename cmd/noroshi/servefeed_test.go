package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeWithIndicatorFeed: noroshi serve --indicators-bind serves the
// indicator feed beside the relay, and the feed follows what is posted
// through serve while it runs.
func TestServeWithIndicatorFeed(t *testing.T) {
	home := feedHome(t)
	token, _ := runFeedCmd(t, home, 0, "indicators", "token", "create", "--label", "firewall")
	token = strings.TrimSpace(token)

	var url string
	for _, line := range runServing(t, home, "noroshi: serving ", "serve", "--offline", "--indicators-bind", "127.0.0.1:0") {
		if u, ok := strings.CutPrefix(line, "noroshi: indicator feed on "); ok {
			url, _, _ = strings.Cut(u, " ")
		}
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("serve printed no feed address (got %q)", url)
	}
	// The test trusts the certificate it is shown, as a client pinning the
	// printed fingerprint would; pinning itself is tested in app.
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func() string {
		req, _ := http.NewRequest("GET", url+"/blocklist/ipv4.txt", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("blocklist: %d %s", res.StatusCode, b)
		}
		return string(b)
	}
	if body := get(); !strings.Contains(body, "\n203.0.113.9\n") || strings.Contains(body, "198.51.100.44") {
		t.Fatalf("blocklist before the post:\n%s", body)
	}
	runFeedCmd(t, home, 0, "post", "--type", "alert", "--tag", "caution", "--tlp", "clear", "--title", "new scanner", "--indicator", "198.51.100.44")
	if body := get(); !strings.Contains(body, "\n198.51.100.44\n") {
		t.Fatalf("the feed did not follow a post made through serve:\n%s", body)
	}
}

// runServing runs a serving command (serve, indicators serve) on home until
// the test ends, and returns the lines it printed on standard error up to
// the first that starts with until.
func runServing(t *testing.T, home, until string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errR, errW := io.Pipe()
	var serveOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		root := newRoot(feedEnv(home, &serveOut, errW))
		root.SetArgs(append([]string{"--home", home}, args...))
		done <- root.ExecuteContext(ctx)
		errW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%v: %v", args, err)
		}
	})
	var lines []string
	sc := bufio.NewScanner(errR)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), until) {
			break
		}
	}
	go io.Copy(io.Discard, errR)
	return lines
}

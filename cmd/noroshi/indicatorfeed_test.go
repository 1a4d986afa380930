package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"noroshi/app"
)

// feedHome makes a home with a community and posts at GREEN, AMBER and in
// an exercise.
func feedHome(t *testing.T) string {
	t.Helper()
	home, a := coordinatorHome(t, scriptPassphrase)
	defer a.Close()
	for _, d := range []app.PostDraft{
		{Title: "phishing", TLP: app.TLPGreen, Indicators: []string{"203.0.113.9", "login-games[.]example"}},
		{Title: "partners", TLP: app.TLPAmber, Indicators: []string{"203.0.113.66"}},
		{Title: "inject", TLP: app.TLPGreen, Exercise: "Exercise 5", Indicators: []string{"203.0.113.77"}},
	} {
		d.Type, d.Tag = app.TypeAlert, app.TagCaution
		if _, err := a.Post(d); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func feedEnv(home string, stdout, stderr io.Writer) *env {
	return &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, cwd: home, workFactor: app.TestWorkFactor,
		getenv: func(k string) string {
			if k == "NOROSHI_PASSPHRASE" {
				return scriptPassphrase
			}
			return ""
		}}
}

// runFeedCmd runs one command line in-process and returns its output.
func runFeedCmd(t *testing.T, home string, want int, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"--home", home}, args...), feedEnv(home, &stdout, &stderr)); code != want {
		t.Fatalf("%v: exit %d, want %d\nstdout %s\nstderr %s", args, code, want, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// The commands: tokens are made, listed and revoked; list prints what
// the feed would serve; serve holds the home, serves over HTTPS, and the
// token commands reach it over the control socket while it runs.
func TestIndicatorsCommands(t *testing.T) {
	home := feedHome(t)

	out, _ := runFeedCmd(t, home, 0, "indicators", "list")
	if !strings.Contains(out, "203.0.113.9") || !strings.Contains(out, "login-games.example") || strings.Contains(out, "203.0.113.66") || strings.Contains(out, "203.0.113.77") {
		t.Errorf("indicators list:\n%s", out)
	}
	out, _ = runFeedCmd(t, home, 0, "indicators", "list", "--tlp-max", "amber", "--kind", "ipv4")
	if !strings.Contains(out, "203.0.113.66") || strings.Contains(out, "login-games") || strings.Contains(out, "203.0.113.77") {
		t.Errorf("indicators list --tlp-max amber --kind ipv4:\n%s", out)
	}
	_, errOut := runFeedCmd(t, home, 1, "indicators", "list", "--tlp-max", "red")
	if !strings.Contains(errOut, "never served") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("--tlp-max red: %q", errOut)
	}
	_, errOut = runFeedCmd(t, home, 1, "indicators", "serve", "--bind", "0.0.0.0:0", "--plain-http")
	if !strings.Contains(errOut, "plain HTTP only on a loopback address") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("--plain-http on 0.0.0.0: %q", errOut)
	}

	// serve, stopped when the test ends.
	var url, fingerprint string
	for _, line := range runServing(t, home, "noroshi:   certificate SHA-256 fingerprint ", "indicators", "serve", "--bind", "127.0.0.1:0") {
		if u, ok := strings.CutPrefix(line, "noroshi: indicator feed on "); ok {
			url, _, _ = strings.Cut(u, " ")
		}
		if f, ok := strings.CutPrefix(line, "noroshi:   certificate SHA-256 fingerprint "); ok {
			fingerprint = f
		}
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") || len(fingerprint) != 95 {
		t.Fatalf("serve printed url %q, fingerprint %q", url, fingerprint)
	}

	// While it serves, the token and certificate commands run in it.
	token, errOut := runFeedCmd(t, home, 0, "indicators", "token", "create", "--label", "venue firewall")
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, "noroshi-feed-") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create: %q %q", token, errOut)
	}
	out, _ = runFeedCmd(t, home, 0, "indicators", "token", "list")
	if !strings.Contains(out, "venue firewall") || strings.Contains(out, token) {
		t.Errorf("token list:\n%s", out)
	}
	pemOut, errOut := runFeedCmd(t, home, 0, "indicators", "certificate")
	if !strings.Contains(errOut, fingerprint) {
		t.Errorf("certificate says %q, serve said %s", errOut, fingerprint)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemOut)) {
		t.Fatalf("certificate printed no PEM: %q", pemOut)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", url+"/blocklist/ipv4.txt", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(token); code != 200 || !strings.Contains(body, "\n203.0.113.9\n") || strings.Contains(body, "203.0.113.66") || strings.Contains(body, "203.0.113.77") {
		t.Errorf("with the token: %d\n%s", code, body)
	}
	if code, _ := get(""); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}", url+"/blocklist/domains.txt").CombinedOutput()
		if err != nil || string(out) != "401" {
			t.Errorf("curl without a token: %s %v", out, err)
		}
	}

	out, _ = runFeedCmd(t, home, 0, "indicators", "token", "revoke", "venue firewall")
	if !strings.Contains(out, "revoked token") {
		t.Errorf("token revoke: %q", out)
	}
	if code, _ := get(token); code != 401 {
		t.Errorf("with the revoked token: %d", code)
	}
}

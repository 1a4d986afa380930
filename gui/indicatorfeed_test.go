package gui

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// The sync screen's switch starts the indicator feed on this computer,
// shows its address and fingerprint, makes a token that the feed takes,
// and stops it.
func TestSyncIndicatorFeedSwitch(t *testing.T) {
	_, u := startDemo(t)
	u.show(screenSync)
	f := u.sync.feed
	assertShows(t, u.sync.obj, T("sync.feed.switch"))
	assertShows(t, u.sync.obj, T("sync.feed.off"))
	f.port.SetText("0") // any free port
	test.Tap(f.on)
	if f.srv == nil {
		t.Fatalf("the switch did not start the feed: %q", f.info.Text)
	}
	url := f.srv.URL()
	if !strings.HasPrefix(url, "https://127.0.0.1:") || !strings.Contains(f.info.Text, url) ||
		!strings.Contains(f.info.Text, f.srv.Certificate().Fingerprint) || !strings.Contains(f.info.Text, "TLP:GREEN") {
		t.Fatalf("the screen says %q for %s", f.info.Text, url)
	}
	test.Tap(f.newToken)
	token := f.token.Text
	if !f.token.Visible() || !strings.HasPrefix(token, "noroshi-feed-") {
		t.Fatalf("no token shown: %q", token)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(f.srv.Certificate().PEM))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", url+"/blocklist/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "/blocklist/ipv4.txt") {
		t.Errorf("the feed answers %d %q", res.StatusCode, b)
	}
	test.Tap(f.on)
	if f.srv != nil || f.info.Text != T("sync.feed.off") || f.on.Checked {
		t.Errorf("the switch did not stop the feed: %q", f.info.Text)
	}
	if _, err := c.Do(req); err == nil {
		t.Errorf("the feed still answers after it was switched off")
	}
}

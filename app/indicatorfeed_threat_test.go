package app

// Threats to the indicator feed's connections (security review of issue
// #9).

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Attack: a client on the LAN with no token opens every connection slot
// (MaxConns, 64) and says nothing, or asks again and again without a
// token, so that the firewalls that poll with a token wait in the listen
// queue and time out. Held: one address holds at most
// MaxConnsPerAddress connections (more are closed as they come), a
// connection that does not start a request within firstByteTimeout is
// closed, and a 401 closes its connection.
func TestThreatFeedSlotsHeldWithoutToken(t *testing.T) {
	fc := newFeedCommunity(t)
	token, err := fc.a.CreateFeedToken("firewall")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fc.a.StartIndicatorFeed("127.0.0.1:0", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL(), "https://")
	// The attacker is another host: 127.0.0.2 (Linux routes all of
	// 127/8 to the loopback).
	attacker := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 64 {
		c, err := attacker.Dial("tcp", addr)
		if err != nil {
			if len(conns) == 0 {
				t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
			}
			t.Fatal(err)
		}
		conns = append(conns, c) // says nothing
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL()+"/blocklist/ipv4.txt", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("a firewall with a valid token is not served while an unauthenticated client holds %d connections: %v", len(conns), err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the firewall got %d", res.StatusCode)
	}

	// Every connection of the attacker is closed by the server: those
	// past its share at once, the silent ones once their first byte is
	// late.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("silent connection %d: read %v, want the server to close it", i, err)
		}
	}

	// A request without a token is told to close its connection, and is.
	bad, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := io.WriteString(bad, "GET /blocklist/ipv4.txt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	bad.SetReadDeadline(time.Now().Add(time.Minute))
	got, err := io.ReadAll(bad)
	if !strings.HasPrefix(string(got), "HTTP/1.1 401 ") || !strings.Contains(string(got), "\r\nConnection: close\r\n") {
		t.Errorf("a request without a token got %q", got)
	}
	if err != nil && !isReset(err) {
		t.Errorf("after a 401 the connection stays open: %v", err)
	}
}

// isReset reports whether err is a connection reset (a server closing a
// connection with unread bytes).
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !errors.Is(err, os.ErrDeadlineExceeded)
}

// A client's share is counted by address, an IPv6 client's by its /64.
func TestFeedClientKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 2}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 3}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 4}, "2001:db8:1:2::"},
	} {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

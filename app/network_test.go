package app

import (
	"testing"
	"time"
)

// startNet starts a's network on loopback with short timers.
func startNet(t *testing.T, a *App, join ...string) *Network {
	t.Helper()
	n, err := a.StartNetwork(NetworkConfig{BindAddr: "127.0.0.1", BindPort: 0, Join: join, Test: true, AntiEntropy: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// waitFor waits until cond holds, re-checking whenever a's views change.
func waitFor(t *testing.T, a *App, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		ch := a.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: not after 20s", what)
		}
	}
}

func TestGossipOnLoopback(t *testing.T) {
	c := newCommunity(t)
	first := startNet(t, c.centre)
	var nets []*Network
	for _, a := range c.all[1:] {
		nets = append(nets, startNet(t, a, first.GossipAddr()))
	}
	p, err := c.venue.Post(PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Title: "gossiped post"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range c.all {
		waitFor(t, a, a.dev.Name+" sees the post", func() bool {
			_, err := a.Show(p.ID)
			return err == nil
		})
	}
	// A RED post reaches its recipient, and only as a header elsewhere.
	red, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "red over the wire", ToMembers: []string{"Power Analyst"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c.power, "recipient reads RED", func() bool { _, err := c.power.Show(red.ID); return err == nil })
	for _, a := range c.all {
		if a == c.power || a == c.centre {
			continue
		}
		waitFor(t, a, a.dev.Name+" holds the RED header", func() bool { return a.store.Digest() == c.centre.store.Digest() })
		if got := a.Feed(FeedFilter{Search: "red over the wire"}); len(got) != 0 {
			t.Errorf("%s shows the RED post", a.dev.Name)
		}
	}
	peers, conn := nets[0].Peers()
	if conn.State != "connected" || len(peers) < 3 {
		t.Errorf("venue's peers = %d, connectivity %+v; want 3 peers, connected (a coordinator is among them)", len(peers), conn)
	}
}

package app

import (
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
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
	waitFor(t, c.venue, "delivery shows the peers", func() bool {
		d, err := c.venue.Show(p.ID)
		return err == nil && d.Delivery != nil && d.Delivery.Peers >= 1 && !d.Delivery.OnlyHere
	})
	if d, _ := c.power.Show(p.ID); d.Delivery != nil {
		t.Errorf("a reader sees the author's delivery state")
	}
	peers, conn := nets[0].Peers()
	if conn.State != "connected" || len(peers) < 3 {
		t.Errorf("venue's peers = %d, connectivity %+v; want 3 peers, connected (a coordinator is among them)", len(peers), conn)
	}
}

// TestRelayCarriesRED: a relay stores and forwards a RED payload it cannot
// read, so the recipient gets it although the author went offline first.
func TestRelayCarriesRED(t *testing.T) {
	c := newCommunity(t)
	relay := c.join(t, "Venue Relay", "Venue North", crypto.RoleRelay)
	c.all = append(c.all, relay)
	c.sync(t)
	relayNet := startNet(t, relay)
	centreNet := startNet(t, c.centre, relayNet.GossipAddr())
	red, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "red via relay", ToMembers: []string{"Power Analyst"}})
	if err != nil {
		t.Fatal(err)
	}
	var id envelope.Hash
	id.UnmarshalText([]byte(red.ID))
	waitFor(t, relay, "relay holds the RED payload", func() bool {
		e, err := relay.store.Get(id)
		return err == nil && e.Payload != nil
	})
	waitFor(t, c.centre, "author sees the relay", func() bool {
		d, err := c.centre.Show(red.ID)
		return err == nil && d.Delivery.ReachedRelay
	})
	if _, err := relay.Show(red.ID); err == nil {
		t.Fatal("the relay reads the RED post")
	}
	if got := relay.Feed(FeedFilter{}); len(got) != 0 {
		t.Errorf("the relay shows %d posts, want none: it holds no key", len(got))
	}
	centreNet.Close()
	startNet(t, c.power, relayNet.GossipAddr())
	waitFor(t, c.power, "recipient reads RED from the relay", func() bool { _, err := c.power.Show(red.ID); return err == nil })
	// Another member syncing with the relay gets the header only.
	startNet(t, c.rail, relayNet.GossipAddr())
	waitFor(t, c.rail, "rail member in sync", func() bool { return c.rail.store.Digest() == relay.store.Digest() })
	if e, err := c.rail.store.Get(id); err != nil || e.Payload != nil {
		t.Errorf("a non-recipient got the RED payload from the relay (err %v)", err)
	}
}

// TestLaptopSyncsThroughRelayStream: a laptop behind NAT does not join the
// gossip; it syncs over streams it opens to a relay (serve --relay).
func TestLaptopSyncsThroughRelayStream(t *testing.T) {
	c := newCommunity(t)
	relay := c.join(t, "Internet Relay", "Coordination Centre", crypto.RoleRelay)
	c.all = append(c.all, relay)
	c.sync(t)
	relayNet := startNet(t, relay)
	startNet(t, c.centre, relayNet.GossipAddr())
	laptop, err := c.venue.StartNetwork(NetworkConfig{BindAddr: "127.0.0.1", Relays: []string{relayNet.SyncAddr()}, Test: true, AntiEntropy: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { laptop.Close() })

	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "through the relay"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c.venue, "laptop gets the post through the relay", func() bool { _, err := c.venue.Show(p.ID); return err == nil })
	q, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "from the laptop"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c.centre, "the centre gets the laptop's post", func() bool { _, err := c.centre.Show(q.ID); return err == nil })
	peers, conn := laptop.Peers()
	if conn.State != "connected" || len(peers) != 1 || peers[0].Role != crypto.RoleRelay {
		t.Errorf("laptop peers = %+v, connectivity %+v; want the relay, connected", peers, conn)
	}
}

// TestRevokedDeviceKeptOutOfGossip: during the transport key's grace period
// a revoked device still holds an accepted key; it must still not be a peer.
func TestRevokedDeviceKeptOutOfGossip(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Revoke("Power Analyst", "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	c.sync(t) // the revoked device even learns of it, and keeps its old keys
	centreNet := startNet(t, c.centre)
	venueNet := startNet(t, c.venue, centreNet.GossipAddr())
	startNet(t, c.power, centreNet.GossipAddr(), venueNet.GossipAddr())
	// The venue's post reaches the centre; the revoked device is no peer.
	p, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after the revocation"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c.centre, "centre gets the venue's post", func() bool { _, err := c.centre.Show(p.ID); return err == nil })
	for _, n := range []*Network{centreNet, venueNet} {
		peers, _ := n.Peers()
		for _, q := range peers {
			if q.Name == "Power Analyst" && q.State == "alive" {
				t.Errorf("the revoked device is an alive peer: %+v", q)
			}
		}
	}
	if _, err := c.power.Show(p.ID); err == nil {
		t.Errorf("the revoked device got a post written after its revocation")
	}
}

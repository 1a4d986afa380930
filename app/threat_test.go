package app

import (
	"crypto/rand"
	"errors"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Adversarial tests of the threat model (docs/threat-model.md) at the level
// of whole homes: an insider's device writes, with its own valid key, a
// certificate its role does not allow (as a modified client would; this
// program refuses to write it), and the envelope reaches every other home
// as replication would carry it.

// forgeCert signs c as a's next envelope, without a's own checks.
func forgeCert(t *testing.T, a *App, c *crypto.Certificate) *envelope.Envelope {
	t.Helper()
	head := a.store.Head(a.dev.ID())
	e, err := a.dev.NewCertificate(c, crypto.Position{Seq: head.Seq + 1, Prev: head.Head}, a.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deliver hands envs to every app (the attacker's own store keeps its
// forgeries too, as a modified client would), then syncs everyone.
func deliver(t *testing.T, c *community, envs ...*envelope.Envelope) {
	t.Helper()
	for _, a := range c.all {
		if _, err := a.store.Add(envs...); err != nil {
			t.Fatal(err)
		}
		if err := a.refresh(); err != nil {
			t.Fatal(err)
		}
	}
	c.sync(t)
}

func personOf(t *testing.T, a *App) crypto.ID16 {
	t.Helper()
	m, err := meOf(a)
	if err != nil {
		t.Fatal(err)
	}
	return m.Person
}

// TestThreatOrgAdminCannotAttachDeviceToAnotherPerson: an org admin adds a
// device of its own to the coordinator's person, and to a person of
// another organisation, to read the RED posts addressed to them.
func TestThreatOrgAdminCannotAttachDeviceToAnotherPerson(t *testing.T) {
	c := newCommunity(t)
	venueOrg := c.venue.WhoAmI().Org
	var org crypto.ID16
	if err := org.UnmarshalText([]byte(venueOrg)); err != nil {
		t.Fatal(err)
	}
	laptop, err := crypto.NewDevice(rand.Reader, "attacker laptop")
	if err != nil {
		t.Fatal(err)
	}
	p := laptop.Public()
	var forged []*envelope.Envelope
	for _, victim := range []*App{c.centre, c.power} {
		forged = append(forged, forgeCert(t, c.venue, &crypto.Certificate{Membership: &crypto.Membership{
			Device: p.ID, Recipient: p.Recipient, Person: personOf(t, victim), Org: org, Role: crypto.RoleMember}}))
		// Its own organisation's ID is not the point: try the victim's too.
		vm, _ := meOf(victim)
		forged = append(forged, forgeCert(t, c.venue, &crypto.Certificate{Membership: &crypto.Membership{
			Device: p.ID, Recipient: p.Recipient, Person: personOf(t, victim), Org: vm.Org, Role: crypto.RoleMember}}))
	}
	// Forged certificates are chained one after another in venue's chain.
	for i := range forged {
		if i > 0 {
			head := forged[i-1]
			e, err := c.venue.dev.NewCertificate(mustCert(t, forged[i]), crypto.Position{Seq: head.Header.Seq + 1, Prev: head.ID()}, c.venue.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			forged[i] = e
		}
	}
	deliver(t, c, forged...)

	for _, a := range c.all {
		if _, ok := trustOf(a).Member(p.ID); ok {
			t.Errorf("%s: the attacker's device is a member", a.dev.Name)
		}
	}
	// RED posts to the coordinator and to the power analyst reach only
	// their own devices.
	red1, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "to the duty officer", ToMembers: []string{personOf(t, c.centre).String()}})
	if err != nil {
		t.Fatal(err)
	}
	red2, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "to the analyst", ToMembers: []string{personOf(t, c.power).String()}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, id := range []string{red1.ID, red2.ID} {
		h, _ := findHash(t, c.centre, id)
		e, err := c.centre.store.Get(h)
		if err != nil || e.Payload == nil {
			e, err = c.power.store.Get(h)
		}
		if err != nil || e.Payload == nil {
			t.Fatalf("RED post %s: %v", id[:8], err)
		}
		if _, err := crypto.Open(e, laptop.Identity()); !errors.Is(err, crypto.ErrNotForMe) {
			t.Errorf("the attacker's device opens a RED post addressed to the person it claimed: %v", err)
		}
	}
	if n := c.centre.store.Refusals()["inert-certificate"]; n == 0 {
		t.Errorf("the forged memberships were not counted as inert")
	}
}

func mustCert(t *testing.T, e *envelope.Envelope) *crypto.Certificate {
	t.Helper()
	c, err := crypto.DecodeCertificate(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func findHash(t *testing.T, a *App, id string) (envelope.Hash, *viewRec) {
	t.Helper()
	a.mu.RLock()
	defer a.mu.RUnlock()
	p, err := a.findPost(id)
	if err != nil {
		t.Fatal(err)
	}
	return p.id, p
}

// TestThreatOrgAdminCannotMintCommunityKey: an org admin creates a
// community key epoch newer than the real one and grants it to everyone
// (so that the coordinator's next posts would be sealed to a key it does
// not hold), and a second key under the real epoch for the analyst.
func TestThreatOrgAdminCannotMintCommunityKey(t *testing.T) {
	c := newCommunity(t)
	var devices []crypto.PublicDevice
	for _, a := range c.all {
		if a != c.centre {
			devices = append(devices, a.dev.Public())
		}
	}
	bogus, _ := crypto.NewScopedKey(rand.Reader, crypto.ScopeCommunity, crypto.ID16{})
	g1, err := crypto.NewKeyGrant(rand.Reader, crypto.ScopeCommunity, crypto.ID16{}, bogus, devices)
	if err != nil {
		t.Fatal(err)
	}
	c.centre.mu.RLock()
	real, ok := c.centre.currentKey(crypto.ScopeCommunity, crypto.ID16{})
	c.centre.mu.RUnlock()
	if !ok {
		t.Fatal("no community key")
	}
	// A second key under the real epoch's ID, as a modified client would
	// write it.
	g2, err := crypto.NewKeyGrant(rand.Reader, crypto.ScopeCommunity, crypto.ID16{}, bogus, []crypto.PublicDevice{c.power.dev.Public()})
	if err != nil {
		t.Fatal(err)
	}
	g2.Epoch = real.Epoch
	e1 := forgeCert(t, c.venue, &crypto.Certificate{KeyGrant: g1})
	e2, err := c.venue.dev.NewCertificate(&crypto.Certificate{KeyGrant: g2}, crypto.Position{Seq: e1.Header.Seq + 1, Prev: e1.ID()}, c.venue.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, c, e1, e2)

	for _, a := range c.all {
		a.mu.RLock()
		k, ok := a.currentKey(crypto.ScopeCommunity, crypto.ID16{})
		a.mu.RUnlock()
		if !ok || k != real {
			t.Errorf("%s: the current community key is not the coordinator's", a.dev.Name)
		}
	}
	post, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after the bogus epoch"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range c.all {
		if got := a.Feed(FeedFilter{Search: "after the bogus epoch"}); len(got) != 1 || got[0].ID != post.ID {
			t.Errorf("%s cannot read the coordinator's post after the bogus epoch: %+v", a.dev.Name, got)
		}
	}
}

// TestThreatCoordinatorCannotWipeStores: one of three coordinators revokes
// the founder at sequence 0 (which would purge the genesis and, with it,
// every envelope), then through the app; nothing is lost, and the founder
// stays until a second coordinator agrees.
func TestThreatCoordinatorCannotWipeStores(t *testing.T) {
	c := newCommunity(t)
	deputy := c.join(t, "Deputy Duty Officer", "Coordination Centre", crypto.RoleCoordinator)
	// A third coordinator takes two: the centre's agreement, then the
	// deputy's invite.
	third := openNew(t, c.clock, "Night Duty Officer")
	req, err := third.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	c.all = append(c.all, deputy)
	c.sync(t)
	if _, _, err := c.centre.Invite(req, InviteOptions{Org: "Coordination Centre", Role: crypto.RoleCoordinator}); !errors.Is(err, ErrAwaitingQuorum) {
		t.Fatalf("the first coordinator's invite of a third: %v, want ErrAwaitingQuorum", err)
	}
	c.sync(t)
	inv, _, err := deputy.Invite(req, InviteOptions{Org: "Coordination Centre", Role: crypto.RoleCoordinator})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := third.Join(inv); err != nil {
		t.Fatal(err)
	}
	c.all = append(c.all, third)
	c.sync(t)
	if m, err := meOf(third); err != nil || m.Role != crypto.RoleCoordinator {
		t.Fatalf("the third coordinator: %+v %v", m, err)
	}
	before := len(envelopes(t, c.rail))

	wipe := forgeCert(t, deputy, &crypto.Certificate{Revocation: &crypto.Revocation{Device: c.centre.dev.ID()}})
	deliver(t, c, wipe)
	for _, a := range c.all {
		if _, revoked := trustOf(a).Revoked(c.centre.dev.ID()); revoked {
			t.Errorf("%s: the founder is revoked by one coordinator reaching back before its genesis", a.dev.Name)
		}
		if trustOf(a).Community().IsZero() {
			t.Errorf("%s lost the genesis", a.dev.Name)
		}
	}
	if got := len(envelopes(t, c.rail)); got < before {
		t.Errorf("the rail member's store went from %d to %d envelopes", before, got)
	}

	d, err := deputy.Revoke(c.centre.dev.ID().String(), "test of the quorum")
	if err != nil {
		t.Fatal(err)
	}
	if d.Revoked || !d.AwaitingQuorum {
		t.Errorf("one of three coordinators revoked the founder: %+v", d)
	}
	c.sync(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "still here"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if got := c.rail.Feed(FeedFilter{Search: "still here"}); len(got) != 1 {
		t.Errorf("the founder's post after one coordinator's vote does not show")
	}
	// The second coordinator agrees: the founder is revoked after the last
	// envelope they hold, and nothing else is lost.
	if _, err := third.Revoke(c.centre.dev.ID().String(), "agreed"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, revoked := trustOf(c.rail).Revoked(c.centre.dev.ID()); !revoked {
		t.Errorf("two coordinators revoked the founder: not revoked")
	}
	for _, a := range []*App{c.venue, c.power, c.rail} {
		if _, err := meOf(a); err != nil {
			t.Errorf("%s lost its membership with the founder's revocation: %v", a.dev.Name, err)
		}
	}
	if got := c.rail.Feed(FeedFilter{Search: "still here"}); len(got) != 1 {
		t.Errorf("the founder's posts before the cut are gone")
	}
}

// trustOf returns a's trust state as its views hold it now (the fold loop
// replaces it under a.mu).
func trustOf(a *App) *crypto.Trust {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.view.trust
}

// meOf is a.me() under a.mu.
func meOf(a *App) (crypto.Membership, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.me()
}

package app

import (
	"os"
	"path/filepath"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// fakeClock is in metricsgen.go (the metrics generator uses it too).

// testConfig returns a config for a home in a temp dir with a fake clock.
func testConfig(t testing.TB, clock *fakeClock) Config { return genConfig(t, clock) }

// openNew opens a new device in a new home.
func openNew(t testing.TB, clock *fakeClock, name string) *App {
	t.Helper()
	return genOpen(t, clock, name)
}

// community is a small community for tests: a coordinator at the
// coordination centre and members of two other organisations.
type community struct {
	clock  *fakeClock
	centre *App // Duty Officer, coordinator
	venue  *App // Venue Lead, org-admin of Venue North
	power  *App // Power Analyst, member of Metro Power
	rail   *App // Rail Member, member of Capital Railways
	all    []*App
}

func newCommunity(t testing.TB) *community {
	t.Helper()
	c := &community{clock: newFakeClock()}
	c.centre = openNew(t, c.clock, "Duty Officer")
	if _, err := c.centre.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name, sector string
		kind         OrgKind
	}{{"Venue North", "", KindVenue}, {"Metro Power", "electricity", KindCriticalService}, {"Capital Railways", "railways", KindCriticalService}} {
		if _, err := c.centre.AddOrg(o.name, o.kind, o.sector); err != nil {
			t.Fatal(err)
		}
	}
	c.venue = c.join(t, "Venue Lead", "Venue North", crypto.RoleOrgAdmin)
	c.power = c.join(t, "Power Analyst", "Metro Power", crypto.RoleMember)
	c.rail = c.join(t, "Rail Member", "Capital Railways", crypto.RoleMember)
	c.all = []*App{c.centre, c.venue, c.power, c.rail}
	c.sync(t)
	return c
}

func (c *community) join(t testing.TB, name, org string, role crypto.Role) *App {
	t.Helper()
	m := openNew(t, c.clock, name)
	req, err := m.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := c.centre.Invite(req, InviteOptions{Org: org, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Join(inv); err != nil {
		t.Fatal(err)
	}
	return m
}

// sync gives every app every envelope, as replication will.
func (c *community) sync(t testing.TB) {
	t.Helper()
	if err := exchange(c.all); err != nil {
		t.Fatal(err)
	}
}

// envelopes returns every envelope a's store holds, in local order.
func envelopes(t testing.TB, a *App) []*envelope.Envelope {
	t.Helper()
	var out []*envelope.Envelope
	if err := a.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rawStore returns the bytes of a's bbolt file.
func rawStore(t testing.TB, a *App) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.cfg.Home, StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

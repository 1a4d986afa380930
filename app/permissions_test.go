package app

import "testing"

// The views say what this device may do, by the same rules the writes
// enforce.
func TestAbilities(t *testing.T) {
	c := newCommunity(t)
	centre, venue, power := c.centre.WhoAmI(), c.venue.WhoAmI(), c.power.WhoAmI()
	if !centre.CanInvite || !centre.CanAddOrg || !centre.CanRevoke || !centre.CanPostObservation || !centre.SeesAllIncidents || !centre.CanSetContacts {
		t.Errorf("coordinator: %+v", centre.Abilities)
	}
	if !venue.CanInvite || venue.CanAddOrg || venue.CanRevoke || venue.CanPostObservation || venue.SeesAllIncidents || !venue.CanSetContacts {
		t.Errorf("org admin: %+v", venue.Abilities)
	}
	if power.CanInvite || power.CanAddOrg || power.CanRevoke || power.CanSetContacts || !power.CanPost {
		t.Errorf("member: %+v", power.Abilities)
	}
	// Each device says whether this viewer may revoke it.
	for _, m := range c.centre.Members() {
		if !m.Addressable {
			t.Errorf("%s: not addressable", m.Name)
		}
		for _, d := range m.Devices {
			if want := d.ID != centre.Device; d.CanRevoke != want {
				t.Errorf("coordinator sees %s's device CanRevoke=%v, want %v", m.Name, d.CanRevoke, want)
			}
		}
	}
	for _, m := range c.power.Members() {
		for _, d := range m.Devices {
			if d.CanRevoke {
				t.Errorf("a member sees %s's device as revocable", m.Name)
			}
		}
	}
	// A post: its author and the coordinators may retract it; another
	// member may not, and a try is refused.
	p, err := c.power.Post(PostDraft{Title: "scan", Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, tc := range []struct {
		a    *App
		want bool
	}{{c.power, true}, {c.centre, true}, {c.rail, false}} {
		d, err := tc.a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.CanRetract != tc.want || !d.CanComment {
			t.Errorf("%s: CanRetract=%v CanComment=%v, want %v true", tc.a.WhoAmI().Name, d.CanRetract, d.CanComment, tc.want)
		}
		if !tc.want {
			if _, err := tc.a.Retract(p.ID, ""); err == nil {
				t.Errorf("%s retracted a post the view said it may not", tc.a.WhoAmI().Name)
			}
		}
	}
}

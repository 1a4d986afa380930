package app

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sort"
	"strings"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Rule 1 of issue 7: names never route. A person's profile counts only when
// that person's own device, a coordinator or an admin of the person's
// organisation wrote it; recipients, assignments and revocations resolve to
// IDs, and a name that several people bear is refused with the list.

// writeProfile writes a member profile from a, sealed to the community.
func writeProfile(t *testing.T, a *App, person crypto.ID16, dev crypto.DeviceID, name string) {
	t.Helper()
	a.mu.RLock()
	aud, err := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.write(a.sealed(aud, &Record{Member: &MemberProfile{Person: person, Device: dev, Name: name}})); err != nil {
		t.Fatal(err)
	}
}

// membership returns a's own membership.
func membership(t *testing.T, a *App) crypto.Membership {
	t.Helper()
	m, ok := a.store.Trust().Member(a.dev.ID())
	if !ok {
		t.Fatalf("%s is not a member", a.dev.Name)
	}
	return m
}

// nameOf returns the name viewer shows for person p.
func nameOf(viewer *App, p crypto.ID16) string {
	for _, m := range viewer.Members() {
		if m.Person == p.String() {
			return m.Name
		}
	}
	return ""
}

// recipientTags returns the sorted recipient tags an envelope of author at
// seq would carry for people's devices.
func recipientTags(a *App, author crypto.DeviceID, seq uint64, people ...crypto.ID16) []envelope.Tag {
	var out []envelope.Tag
	for _, m := range a.store.Trust().Members() {
		for _, p := range people {
			if m.Person == p {
				out = append(out, crypto.RecipientTag(a.store.Community(), author, seq, m.Device))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// assertSealedTo checks that post id of author is sealed to exactly the
// devices of people (the author's own person included by the caller), and
// that it opens on to and not on notTo.
func assertSealedTo(t *testing.T, author *App, id string, people []crypto.ID16, to, notTo []*App) {
	t.Helper()
	var h envelope.Hash
	if err := h.UnmarshalText([]byte(id)); err != nil {
		t.Fatal(err)
	}
	e, err := author.store.Get(h)
	if err != nil || e.Payload == nil {
		t.Fatalf("author's envelope %s: %v", id[:8], err)
	}
	want := recipientTags(author, author.dev.ID(), e.Header.Seq, people...)
	if len(e.Header.Epochs) != 0 || len(e.Header.Recipients) != len(want) {
		t.Fatalf("sealed to %d epochs and %d devices, want 0 epochs and %d devices", len(e.Header.Epochs), len(e.Header.Recipients), len(want))
	}
	for i := range want {
		if e.Header.Recipients[i] != want[i] {
			t.Fatalf("recipient %d is not a device of the intended people", i)
		}
	}
	for _, a := range to {
		a.mu.RLock()
		_, err := crypto.Open(e, a.identities()...)
		a.mu.RUnlock()
		if err != nil {
			t.Errorf("%s cannot open the post: %v", a.dev.Name, err)
		}
	}
	for _, a := range notTo {
		a.mu.RLock()
		_, err := crypto.Open(e, a.identities()...)
		a.mu.RUnlock()
		if !errors.Is(err, crypto.ErrNotForMe) {
			t.Errorf("%s opens the post: %v, want ErrNotForMe", a.dev.Name, err)
		}
	}
}

func redTo(people ...string) PostDraft {
	return PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "insider access", ToMembers: people}
}

// TestThreatMemberCannotRenameAnother: a plain member writes profiles that
// rename the coordinator's intended recipient and itself. The recipient's
// name does not change; a RED post addressed by the recipient's ID or by
// their name reaches their devices only, and once the attacker takes the
// same name, the name is refused with both people to choose from.
func TestThreatMemberCannotRenameAnother(t *testing.T) {
	c := newCommunity(t)
	victim, attacker, centre := membership(t, c.venue), membership(t, c.power), membership(t, c.centre)

	// The attacker renames the venue lead.
	writeProfile(t, c.power, victim.Person, victim.Device, "Old Venue Account")
	c.sync(t)
	for _, a := range c.all {
		if got := nameOf(a, victim.Person); got != "Venue Lead" {
			t.Fatalf("%s shows the venue lead as %q, want %q", a.dev.Name, got, "Venue Lead")
		}
	}
	byName, err := c.centre.Post(redTo("Venue Lead"))
	if err != nil {
		t.Fatalf("RED to the venue lead by name: %v", err)
	}
	assertSealedTo(t, c.centre, byName.ID, []crypto.ID16{victim.Person, centre.Person}, []*App{c.venue}, []*App{c.power, c.rail})

	// The attacker now also takes the venue lead's name for itself, as a
	// person may: the name no longer routes.
	writeProfile(t, c.power, attacker.Person, attacker.Device, "Venue Lead")
	c.sync(t)
	if got := nameOf(c.centre, attacker.Person); got != "Venue Lead" {
		t.Fatalf("the attacker's own rename: %q, want it to count", got)
	}
	_, err = c.centre.Post(redTo("Venue Lead"))
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("RED to a name two people bear: %v, want ErrAmbiguous", err)
	}
	for _, want := range []string{"Venue Lead (Venue North) " + victim.Person.String()[:8], "Venue Lead (Metro Power) " + attacker.Person.String()[:8]} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not offer %q", err, want)
		}
	}
	byID, err := c.centre.Post(redTo(victim.Person.String()))
	if err != nil {
		t.Fatalf("RED by person ID: %v", err)
	}
	assertSealedTo(t, c.centre, byID.ID, []crypto.ID16{victim.Person, centre.Person}, []*App{c.venue}, []*App{c.power, c.rail})
	if d, err := c.centre.Show(byID.ID); err != nil || len(d.Scope.People) != 1 || d.Scope.People[0] != "Venue Lead (Venue North)" {
		t.Errorf("shared with %v (%v), want [Venue Lead (Venue North)]", d.Scope.People, err)
	}
}

// TestProfileWriters: who may name a person, one case per row of the
// authority table.
func TestProfileWriters(t *testing.T) {
	c := newCommunity(t)
	power, rail := membership(t, c.power), membership(t, c.rail)
	cases := []struct {
		name   string
		writer *App
		target crypto.Membership
		counts bool
	}{
		{"own device", c.power, power, true},
		{"coordinator", c.centre, rail, true},
		{"org admin of another organisation", c.venue, power, false},
		{"plain member of another person", c.rail, power, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := nameOf(c.centre, tc.target.Person)
			name := "Renamed " + string(rune('A'+i))
			writeProfile(t, tc.writer, tc.target.Person, tc.target.Device, name)
			c.sync(t)
			want := before
			if tc.counts {
				want = name
			}
			for _, a := range c.all {
				if got := nameOf(a, tc.target.Person); got != want {
					t.Errorf("%s shows %q, want %q", a.dev.Name, got, want)
				}
			}
		})
	}
	// A profile naming a device of another person does not count either,
	// even from a coordinator.
	writeProfile(t, c.centre, power.Person, membership(t, c.venue).Device, "Mixed Up")
	c.sync(t)
	if got := nameOf(c.rail, power.Person); got == "Mixed Up" {
		t.Errorf("a profile whose device belongs to someone else renamed the person")
	}
}

// forge builds author's next envelopes sealing recs to aud, without
// storing them at the author: for authors whose own store refuses what
// they write.
func forge(t *testing.T, author *App, aud crypto.Audience, recs ...*Record) []*envelope.Envelope {
	t.Helper()
	head := author.store.Head(author.dev.ID())
	pos := crypto.Position{Seq: head.Seq + 1, Prev: head.Head}
	var out []*envelope.Envelope
	for _, rec := range recs {
		plain, err := rec.Encode()
		if err != nil {
			t.Fatal(err)
		}
		e, err := author.dev.Seal(rand.Reader, author.store.Community(), pos, author.clock.Now(), aud, plain)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
		pos = pos.Next(e.ID())
	}
	return out
}

// TestThreatRelayCannotRename: a relay holds no community key, but can
// seal a profile to every member's device. Its profiles count nowhere, so
// RED by name still reaches the intended person alone.
func TestThreatRelayCannotRename(t *testing.T) {
	c := newCommunity(t)
	relay := c.join(t, "Relay North", "Coordination Centre", crypto.RoleRelay)
	c.all = append(c.all, relay)
	c.sync(t)
	victim, centre, rm := membership(t, c.venue), membership(t, c.centre), membership(t, relay)

	var aud crypto.Audience
	for _, m := range c.centre.store.Trust().Members() {
		if m.Role != crypto.RoleRelay {
			aud.Devices = append(aud.Devices, m.Public())
		}
	}
	// The relay renames the venue lead, then takes the name itself.
	forged := forge(t, relay, aud,
		&Record{Member: &MemberProfile{Person: victim.Person, Device: victim.Device, Name: "Former Venue Lead"}},
		&Record{Member: &MemberProfile{Person: rm.Person, Device: rm.Device, Name: "Venue Lead"}})
	for _, a := range []*App{c.centre, c.venue, c.power, c.rail} {
		// Refused by admission; the views must not count them either.
		if _, err := a.store.Add(forged...); err != nil {
			t.Fatal(err)
		}
		if err := a.refresh(); err != nil {
			t.Fatal(err)
		}
		// As a peer that admitted them would: fold them into the views.
		a.mu.Lock()
		for _, e := range forged {
			plain, err := crypto.Open(e, a.identities()...)
			if err != nil {
				t.Fatalf("%s cannot open the relay's profile: %v", a.dev.Name, err)
			}
			rec, err := DecodeRecord(plain)
			if err != nil {
				t.Fatal(err)
			}
			a.view.record(metaOf(e.Header, rec.Exercise), rec)
		}
		a.mu.Unlock()
	}
	for _, a := range []*App{c.centre, c.venue, c.power, c.rail} {
		if got := nameOf(a, victim.Person); got != "Venue Lead" {
			t.Errorf("%s shows the venue lead as %q", a.dev.Name, got)
		}
		if got := nameOf(a, rm.Person); got != "Relay North" {
			t.Errorf("%s shows the relay as %q, want the name its coordinator gave it", a.dev.Name, got)
		}
	}
	red, err := c.centre.Post(redTo("Venue Lead"))
	if err != nil {
		t.Fatalf("RED to the venue lead by name: %v", err)
	}
	assertSealedTo(t, c.centre, red.ID, []crypto.ID16{victim.Person, centre.Person}, []*App{c.venue}, []*App{c.power, c.rail, relay})
}

// TestThreatAmbiguousNameIsRefused: two people bear the same name (in any
// case). Every place a person is named refuses the name with the list of
// "Name (Organisation) ID" and takes the person ID.
func TestThreatAmbiguousNameIsRefused(t *testing.T) {
	c := newCommunity(t)
	twin := c.join(t, "venue lead", "Metro Power", crypto.RoleMember)
	c.all = append(c.all, twin)
	c.sync(t)
	lead, tw, centre := membership(t, c.venue), membership(t, twin), membership(t, c.centre)
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	laptop := openNew(t, c.clock, "VL laptop")
	req, err := laptop.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}

	refusals := map[string]func(q string) error{
		"post --to-member": func(q string) error { _, err := c.centre.Post(redTo(q)); return err },
		"incident --assign": func(q string) error {
			_, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Assign: q})
			return err
		},
		"member revoke": func(q string) error { _, err := c.centre.Revoke(q, "test"); return err },
		"invite --same-person-as": func(q string) error {
			_, _, err := c.centre.Invite(req, InviteOptions{SamePersonAs: q})
			return err
		},
	}
	for what, f := range refusals {
		for _, q := range []string{"Venue Lead", "VENUE LEAD"} {
			err := f(q)
			if !errors.Is(err, ErrAmbiguous) {
				t.Errorf("%s %q: %v, want ErrAmbiguous", what, q, err)
				continue
			}
			for _, want := range []string{"Venue Lead (Venue North) " + lead.Person.String()[:8], "venue lead (Metro Power) " + tw.Person.String()[:8]} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s %q: refusal %q does not offer %q", what, q, err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: refusal is not one line: %q", what, err)
			}
		}
	}

	// The person ID settles it.
	red, err := c.centre.Post(redTo(tw.Person.String()[:8]))
	if err != nil {
		t.Fatalf("RED by ID prefix: %v", err)
	}
	assertSealedTo(t, c.centre, red.ID, []crypto.ID16{tw.Person, centre.Person}, []*App{twin}, []*App{c.venue, c.power})
	got, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Assign: lead.Person.String()})
	if err != nil || got.Assignee != lead.Person.String() || got.AssigneeOrg != "Venue North" {
		t.Errorf("assign by ID: %+v, %v", got, err)
	}
	if _, m, err := c.centre.Invite(req, InviteOptions{SamePersonAs: lead.Person.String()}); err != nil || m.Person != lead.Person.String() {
		t.Errorf("invite by person ID: %+v, %v", m, err)
	}
	if d, err := c.centre.Revoke(tw.Device.String()[:10], "test"); err != nil || d.ID != tw.Device.String() {
		t.Errorf("revoke by device ID: %+v, %v", d, err)
	}
}

// TestRevokedDeviceIsToldEverywhere: once a device's revocation reaches its
// store, it says who revoked it and when, and every write is refused with
// that message.
func TestRevokedDeviceIsToldEverywhere(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "before"})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := c.power.ReportIncident(IncidentDraft{Category: CatDoS, Title: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.centre.Revoke(membership(t, c.power).Device.String(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if w := c.power.WhoAmI(); w.Revoked || w.RevokedNotice() != "" {
		t.Fatalf("revoked before it learned of it: %+v", w)
	}
	c.sync(t)
	w := c.power.WhoAmI()
	if !w.Revoked || w.RevokedBy != "Duty Officer (Coordination Centre)" || w.RevokedAt == nil {
		t.Fatalf("whoami = %+v, want revoked by Duty Officer (Coordination Centre) with a time", w)
	}
	notice := w.RevokedNotice()
	for _, want := range []string{"this device was revoked by Duty Officer (Coordination Centre) at " + w.RevokedAt.Format("2006-01-02 15:04 MST"), "refused by every peer", "Ask a coordinator for a new invite."} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice %q lacks %q", notice, want)
		}
	}
	writes := map[string]func() error{
		"post": func() error {
			_, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after"})
			return err
		},
		"comment": func() error { _, err := c.power.Comment(p.ID, "after"); return err },
		"incident": func() error {
			_, err := c.power.ReportIncident(IncidentDraft{Category: CatDoS, Title: "after"})
			return err
		},
		"update": func() error { _, err := c.power.UpdateIncident(inc.ID, IncidentChange{Note: "after"}); return err },
		"read":   func() error { _, err := c.power.MarkRead(p.ID); return err },
		"contact": func() error {
			_, err := c.power.SetContact("", ContactEntry{Role: "SOC", Name: "x", Phone: "1"}, false)
			return err
		},
	}
	for what, f := range writes {
		err := f()
		var rev *RevokedError
		if !errors.As(err, &rev) || !errors.Is(err, ErrNotAllowed) || err.Error() != notice {
			t.Errorf("%s on a revoked device: %v, want the notice %q", what, err, notice)
		}
	}
	// Everyone else sees who revoked it.
	for _, m := range c.venue.Members() {
		if m.Name == "Power Analyst" && m.Devices[0].RevokedBy != "Duty Officer (Coordination Centre)" {
			t.Errorf("member list: %+v, want revoked by Duty Officer (Coordination Centre)", m.Devices[0])
		}
	}
}

// TestMemberListShowsWhoAdmitted: every device shows who admitted it.
func TestMemberListShowsWhoAdmitted(t *testing.T) {
	c := newCommunity(t)
	for _, m := range c.rail.Members() {
		for _, d := range m.Devices {
			switch {
			case m.Name == "Duty Officer":
				if !d.Founder {
					t.Errorf("founder's device %+v, want Founder", d)
				}
			case d.AdmittedBy != "Duty Officer (Coordination Centre)" || d.AdmittedByDevice != c.centre.dev.ID().String():
				t.Errorf("%s's device admitted by %q (%s), want Duty Officer (Coordination Centre)", m.Name, d.AdmittedBy, d.AdmittedByDevice)
			}
		}
	}
}

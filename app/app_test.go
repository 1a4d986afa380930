package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

func TestCommunityAndWhoAmI(t *testing.T) {
	c := newCommunity(t)
	w := c.venue.WhoAmI()
	if !w.Joined || w.CommunityName != "Games 2026" || w.OrgName != "Venue North" || w.Role != crypto.RoleOrgAdmin {
		t.Errorf("venue whoami = %+v, want joined Games 2026 / Venue North / org-admin", w)
	}
	if got := len(c.power.Orgs()); got != 4 {
		t.Errorf("member sees %d organisations, want 4", got)
	}
	if got := len(c.centre.Members()); got != 4 {
		t.Errorf("%d members, want 4", got)
	}
	for _, o := range c.centre.Orgs() {
		if o.Name == "Metro Power" && (o.Kind != KindCriticalService || o.Sector != "electricity" || o.Members != 1) {
			t.Errorf("Metro Power = %+v", o)
		}
	}
}

// TestNoPlaintextInStore checks the bbolt file holds ciphertext only: no
// title, body, organisation name or person name in clear.
func TestNoPlaintextInStore(t *testing.T) {
	c := newCommunity(t)
	title := "Unique title iob1zq: malware disguised as a damage report"
	body := "Unique body oib1wv: block hxxp://damage-report[.]example"
	p, err := c.centre.Post(PostDraft{Type: TypeMalware, Tag: TagImportant, TLP: TLPGreen, Title: title, Body: body,
		Files: []File{{Name: "iocs.txt", Data: []byte("unique attachment bio1jm")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Comment(p.ID, "unique comment ob1itk"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.ReportIncident(IncidentDraft{Category: CatDoS, Title: "unique incident bo1ixr"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	// The views are folded (search signatures, filters, read receipts,
	// the directory) and used, so every bucket and index is populated.
	if got := c.power.Feed(FeedFilter{Search: "iob1zq"}); len(got) != 1 || got[0].Title != title {
		t.Errorf("member's feed search = %+v, want the post", got)
	}
	if _, err := c.power.MarkRead(p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.FlushReads(true); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	var secrets []string
	for _, s := range []string{title, body, "iob1zq", "oib1wv", "bio1jm", "ob1itk", "bo1ixr", "Venue North", "Metro Power", "Duty Officer", "Games 2026", "damage-report", "disguised"} {
		secrets = append(secrets, s, strings.ToLower(s))
	}
	for _, a := range c.all {
		a.Close()
		// Every file of the home: the store with its views and indexes,
		// and anything else a process left there.
		filepath.WalkDir(a.Home(), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range secrets {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("%s's %s holds %q in clear", a.dev.Name, filepath.Base(path), secret)
				}
			}
			return nil
		})
	}
}

// TestTLPEnforcedBySealing opens payloads with every key a device holds: a
// RED post for one person and an AMBER post for one organisation must not
// open on another device, whatever it does.
func TestTLPEnforcedBySealing(t *testing.T) {
	c := newCommunity(t)
	red, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "red for venue", ToMembers: []string{"Venue Lead"}})
	if err != nil {
		t.Fatal(err)
	}
	amber, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPAmber, Title: "amber for power", ToOrgs: []string{"Metro Power"}})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := c.rail.Post(PostDraft{Type: TypeObservation, Tag: TagInfo, TLP: TLPAmberStrict, Title: "strict inside railways"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	get := func(a *App, id string) *envelope.Envelope {
		var h envelope.Hash
		if err := h.UnmarshalText([]byte(id)); err != nil {
			t.Fatal(err)
		}
		// Take the envelope with its payload from the author's side, so the
		// test does not depend on whether the reader's store kept it.
		e, err := a.store.Get(h)
		if err != nil || e.Payload == nil {
			t.Fatalf("author's envelope %s: %v", id[:8], err)
		}
		return e
	}
	cases := []struct {
		name   string
		env    *envelope.Envelope
		reader *App
		opens  bool
	}{
		{"RED at its recipient", get(c.centre, red.ID), c.venue, true},
		{"RED at another member", get(c.centre, red.ID), c.power, false},
		{"RED at another org-member", get(c.centre, red.ID), c.rail, false},
		{"AMBER at its organisation", get(c.centre, amber.ID), c.power, true},
		{"AMBER at another organisation", get(c.centre, amber.ID), c.venue, false},
		{"AMBER+STRICT at another organisation", get(c.rail, strict.ID), c.power, false},
		{"AMBER+STRICT at a coordinator", get(c.rail, strict.ID), c.centre, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.reader.mu.RLock()
			_, err := crypto.Open(tc.env, tc.reader.identities()...)
			tc.reader.mu.RUnlock()
			if tc.opens && err != nil {
				t.Fatalf("Open: %v, want it to open", err)
			}
			if !tc.opens && !errors.Is(err, crypto.ErrNotForMe) {
				t.Fatalf("Open: %v, want ErrNotForMe", err)
			}
		})
	}
	// RED payloads are not even stored by non-recipients.
	var h envelope.Hash
	h.UnmarshalText([]byte(red.ID))
	if e, err := c.power.store.Get(h); err != nil || e.Payload != nil {
		t.Errorf("non-recipient holds RED: payload %d bytes, err %v; want header only", len(e.Payload), err)
	}
	if got := c.power.Feed(FeedFilter{Search: "red for venue"}); len(got) != 0 {
		t.Errorf("non-recipient's feed shows the RED post")
	}
	if got := c.venue.Feed(FeedFilter{Search: "red for venue"}); len(got) != 1 {
		t.Errorf("recipient's feed lacks the RED post")
	}
}

func TestScopeRules(t *testing.T) {
	c := newCommunity(t)
	cases := []struct {
		name string
		a    *App
		d    PostDraft
		want error
	}{
		{"RED without recipient", c.centre, PostDraft{TLP: TLPRed}, ErrInvalid},
		{"RED to an organisation", c.centre, PostDraft{TLP: TLPRed, ToOrgs: []string{"Venue North"}, ToMembers: []string{"Venue Lead"}}, ErrInvalid},
		{"AMBER+STRICT to a person", c.centre, PostDraft{TLP: TLPAmberStrict, ToMembers: []string{"Venue Lead"}}, ErrInvalid},
		{"observation by a member", c.venue, PostDraft{TLP: TLPAmber, Channel: ChannelObservation, ToOrgs: []string{"Venue North"}}, ErrNotAllowed},
		{"observation to two orgs", c.centre, PostDraft{TLP: TLPAmber, Channel: ChannelObservation, ToOrgs: []string{"Venue North", "Metro Power"}}, ErrInvalid},
		{"unknown organisation", c.centre, PostDraft{TLP: TLPGreen, ToOrgs: []string{"Nowhere"}}, ErrNotFound},
		{"unknown member", c.centre, PostDraft{TLP: TLPRed, ToMembers: []string{"Nobody"}}, ErrNotFound},
		{"no title", c.centre, PostDraft{TLP: TLPGreen, Title: " "}, ErrInvalid},
		{"too large attachment", c.centre, PostDraft{TLP: TLPGreen, Files: []File{{Name: "big.bin", Data: make([]byte, 25<<20+1)}}}, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.a.store.Digest()
			d := tc.d
			d.Type, d.Tag = TypeAlert, TagInfo
			if d.Title == "" {
				d.Title = "t"
			}
			_, err := tc.a.Post(d)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Post: %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if tc.a.store.Digest() != before {
				t.Errorf("a refused post changed the store")
			}
		})
	}
}

func TestRoles(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.power.AddOrg("Rogue Org", KindOther, ""); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("member AddOrg: %v, want ErrNotAllowed", err)
	}
	if _, err := c.power.Revoke("Venue Lead", "because"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("member Revoke: %v, want ErrNotAllowed", err)
	}
	if _, err := c.power.SetContact("Venue North", ContactEntry{Role: "SOC", Name: "x", Phone: "1"}, false); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("member sets another org's contact: %v, want ErrNotAllowed", err)
	}
	if _, err := c.venue.SetContact("", ContactEntry{Role: "IT on call", Name: "Venue Lead", Phone: "+81-3-0000-0201"}, false); err != nil {
		t.Errorf("org admin sets own contacts: %v", err)
	}
	p, err := c.venue.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "venue post"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.power.Retract(p.ID, "no"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("member retracts another's post: %v, want ErrNotAllowed", err)
	}
	if _, err := c.centre.Retract(p.ID, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("coordinator retracts without reason: %v, want ErrInvalid", err)
	}
	if _, err := c.centre.Retract(p.ID, "mis-marked TLP"); err != nil {
		t.Errorf("coordinator retracts with reason: %v", err)
	}
	c.sync(t)
	if _, err := c.venue.Show(p.ID); err == nil || !strings.Contains(err.Error(), "mis-marked TLP") {
		t.Errorf("the author is not told why: %v", err)
	}
	for _, a := range c.all {
		if got := a.Feed(FeedFilter{Search: "venue post"}); len(got) != 0 {
			t.Errorf("%s still shows the retracted post", a.dev.Name)
		}
		if _, err := a.Show(p.ID); !errors.Is(err, ErrRetracted) || !strings.Contains(err.Error(), "by Duty Officer") {
			t.Errorf("%s Show retracted: %v, want ErrRetracted saying who retracted it", a.dev.Name, err)
		}
	}
	// A forged envelope: a member's device writing an organisation profile
	// (a coordinator's record) is stored but ignored by every view.
	if _, err := c.power.write(c.power.sealed(mustAud(t, c.power), &Record{Org: &OrgProfile{ID: crypto.ID16{1}, Name: "Forged", Kind: KindOther}})); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, o := range c.centre.Orgs() {
		if o.Name == "Forged" {
			t.Errorf("an organisation profile written by a member shows in the directory")
		}
	}
}

func mustAud(t *testing.T, a *App) crypto.Audience {
	a.mu.RLock()
	defer a.mu.RUnlock()
	aud, err := a.communityAudience()
	if err != nil {
		t.Fatal(err)
	}
	return aud
}

func TestIncidentTimeline(t *testing.T) {
	c := newCommunity(t)
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "UDP flood", Affects: AffectsYes, SupportRequested: true})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	steps := []IncidentChange{{Status: StatusTriaged, Assign: "Duty Officer"}, {Status: StatusCoordinating, Note: "ISP engaged"}, {Note: "still flooding"}, {Status: StatusResolved}}
	for _, s := range steps {
		if _, err := c.centre.UpdateIncident(inc.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.power.UpdateIncident(inc.ID, IncidentChange{Note: "x"}); err == nil {
		t.Errorf("another organisation's member updated the incident (it should not even read it)")
	}
	c.sync(t)
	got, err := c.venue.Incident(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusResolved || got.AssigneeName != "Duty Officer" || len(got.Timeline) != 4 || got.Timeline[1].Note != "ISP engaged" {
		t.Errorf("incident = %+v", got)
	}
	if n := len(c.power.Incidents()); n != 0 {
		t.Errorf("Metro Power sees %d incidents of Venue North, want 0", n)
	}
}

func TestReadsBatched(t *testing.T) {
	c := newCommunity(t)
	var ids []string
	for _, title := range []string{"one", "two", "three"} {
		p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	c.sync(t)
	before := c.venue.store.Head(c.venue.dev.ID()).Seq
	for _, id := range ids {
		s, err := c.venue.MarkRead(id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Unread {
			t.Errorf("post %s still unread after MarkRead", id[:8])
		}
	}
	if got := c.venue.store.Head(c.venue.dev.ID()).Seq - before; got != 1 {
		t.Errorf("%d envelopes for three reads within a minute, want 1 (the first read goes out at once)", got)
	}
	c.clock.Advance(61 * time.Second)
	if n, err := c.venue.FlushReads(false); err != nil || n != 2 {
		t.Errorf("FlushReads after a minute = %d, %v; want 2 posts in one envelope", n, err)
	}
	c.sync(t)
	d, err := c.centre.Show(ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if d.Reads != 1 || !d.ReadByVisible || len(d.ReadBy) != 1 || d.ReadBy[0].Name != "Venue Lead" {
		t.Errorf("author's view of reads = %d %v %+v", d.Reads, d.ReadByVisible, d.ReadBy)
	}
	if d, _ := c.power.Show(ids[2]); d.ReadByVisible || len(d.ReadBy) != 0 {
		t.Errorf("a member of another organisation sees who read: %+v", d.ReadBy)
	}
}

func TestBookmarksStayLocal(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "bookmark me"})
	if err != nil {
		t.Fatal(err)
	}
	before := c.centre.store.Head(c.centre.dev.ID())
	if _, err := c.centre.Bookmark(p.ID, true); err != nil {
		t.Fatal(err)
	}
	if c.centre.store.Head(c.centre.dev.ID()) != before {
		t.Errorf("a bookmark wrote an envelope")
	}
	c.sync(t)
	if got := c.centre.Feed(FeedFilter{Bookmarked: true}); len(got) != 1 {
		t.Errorf("bookmarked feed has %d posts, want 1", len(got))
	}
	if got := c.venue.Feed(FeedFilter{Bookmarked: true}); len(got) != 0 {
		t.Errorf("another device sees the bookmark")
	}
}

func TestAttachmentRoundTrip(t *testing.T) {
	c := newCommunity(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: four chunks
	p, err := c.centre.Post(PostDraft{Type: TypeMalware, Tag: TagInfo, TLP: TLPGreen, Title: "sample", Files: []File{{Name: "sample.bin", Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	got, err := c.rail.AttachmentData(p.ID, "sample.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("attachment differs: %d bytes, want %d", len(got), len(data))
	}
	if _, err := c.rail.AttachmentData(p.ID, "other.bin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown attachment: %v, want ErrNotFound", err)
	}
}

// views renders everything a device shows, as JSON.
func views(t testing.TB, a *App) []byte {
	t.Helper()
	v := map[string]any{
		"whoami":    a.WhoAmI(),
		"orgs":      a.Orgs(),
		"members":   a.Members(),
		"feed":      a.Feed(FeedFilter{}),
		"incidents": a.Incidents(),
		"contacts":  a.Contacts(""),
	}
	var details []PostDetail
	for _, p := range a.Feed(FeedFilter{}) {
		d, err := a.Show(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		details = append(details, d)
	}
	v["details"] = details
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestViewsIndependentOfOrder applies the same set of envelopes in random
// orders and random batches to fresh stores of the same device: the views
// must be byte-identical.
func TestViewsIndependentOfOrder(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "green"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.venue.Comment(p.ID, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.power.Comment(p.ID, "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.venue.MarkRead(p.ID); err != nil {
		t.Fatal(err)
	}
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatOutage, Title: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.venue.SetContact("", ContactEntry{Role: "IT", Name: "Venue Lead", Phone: "1"}, false); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.centre.UpdateIncident(inc.ID, IncidentChange{Status: StatusTriaged}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.SetContact("Venue North", ContactEntry{Role: "IT", Name: "Centre override", Phone: "2"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.rail.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "to retract"}); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	toRetract := c.rail.Feed(FeedFilter{Search: "to retract"})[0].ID
	if _, err := c.rail.Retract(toRetract, ""); err != nil {
		t.Fatal(err)
	}
	// Versions of two advisories by several members, one dated in the
	// future, one retracted, two of the same revision.
	day := func(d int) time.Time { return time.Date(2021, 7, d, 0, 0, 0, 0, time.UTC) }
	var lastVersion string
	for i, v := range []struct {
		by  *App
		src PostSource
	}{
		{c.venue, PostSource{ID: "ghsa:GHSA-aaaa", Modified: day(1)}},
		{c.power, PostSource{ID: "ghsa:GHSA-aaaa", Modified: day(3)}},
		{c.rail, PostSource{ID: "ghsa:GHSA-aaaa", Modified: day(3)}},
		{c.centre, PostSource{ID: "ghsa:GHSA-bbbb", Modified: day(2)}},
		{c.rail, PostSource{ID: "ghsa:GHSA-bbbb", Modified: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{c.venue, PostSource{ID: "ghsa:GHSA-bbbb", Modified: day(5)}},
	} {
		s, err := v.by.Post(PostDraft{Type: TypeVulnerability, Tag: TagCaution, TLP: TLPClear, Title: fmt.Sprintf("advisory version %d", i), Source: &v.src})
		if err != nil {
			t.Fatal(err)
		}
		lastVersion = s.ID
	}
	if _, err := c.venue.Retract(lastVersion, "wrong revision"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)

	all := envelopes(t, c.centre)
	want := views(t, c.centre)
	rapid.Check(t, func(rt *rapid.T) {
		perm := rapid.Permutation(all).Draw(rt, "order")
		cuts := rapid.IntRange(1, 6).Draw(rt, "batches")
		a, err := OpenDevice(testConfig(t, c.clock), c.centre.dev)
		if err != nil {
			rt.Fatal(err)
		}
		defer a.Close()
		for i := 0; i < cuts; i++ {
			lo, hi := i*len(perm)/cuts, (i+1)*len(perm)/cuts
			if _, err := a.store.Add(perm[lo:hi]...); err != nil {
				rt.Fatal(err)
			}
			if err := a.refresh(); err != nil {
				rt.Fatal(err)
			}
		}
		// A payload that arrived before its author's membership was not
		// kept (an unknown author's payloads never are); the next sync
		// brings it: here, learning everything once more.
		if _, err := a.store.Add(all...); err != nil {
			rt.Fatal(err)
		}
		if err := a.refresh(); err != nil {
			rt.Fatal(err)
		}
		// Bookmarks are local: the original device bookmarked nothing.
		if got := views(t, a); !bytes.Equal(got, want) {
			rt.Fatalf("views differ after a random order:\ngot  %s\nwant %s", got, want)
		}
	})
}

func TestRevokedDeviceCannotWrite(t *testing.T) {
	c := newCommunity(t)
	d, err := c.centre.Revoke("Power Analyst", "laptop stolen")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Revoked {
		t.Fatalf("Revoke = %+v", d)
	}
	// The revoked device writes on, unaware; nobody accepts it.
	p, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after revocation"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if got := c.centre.Feed(FeedFilter{Search: "after revocation"}); len(got) != 0 {
		t.Errorf("a post written after revocation shows: %+v", got)
	}
	if _, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "again"}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("revoked device posts once it learned of its revocation: %v, want ErrNotAllowed", err)
	}
	_ = p
	// Keys rotated: what is written now does not open on the revoked
	// device, even once it holds every envelope.
	oldTransport := c.power.TransportKeys()
	after, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "after rotation"})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.power.Show(after.ID); err == nil {
		t.Errorf("the revoked device reads a post written after its revocation")
	}
	for _, a := range []*App{c.venue, c.rail} {
		if _, err := a.Show(after.ID); err != nil {
			t.Errorf("%s cannot read a post written after the rotation: %v", a.dev.Name, err)
		}
		if got := a.TransportKeys(); len(got) != len(oldTransport)+1 || bytes.Equal(got[0], oldTransport[0]) {
			t.Errorf("%s transport keys: %d, want a new primary key and the old one kept", a.dev.Name, len(got))
		}
	}
	if got := c.power.TransportKeys(); len(got) != len(oldTransport) {
		t.Errorf("the revoked device learned the new transport key")
	}
	c.clock.Advance(TransportGrace + time.Hour)
	if got := c.venue.TransportKeys(); len(got) != 1 {
		t.Errorf("after the grace period: %d transport keys, want only the new one", len(got))
	}
	for _, m := range c.venue.Members() {
		if m.Name == "Power Analyst" && (!m.Devices[0].Revoked || m.Devices[0].RevokeReason != "laptop stolen") {
			t.Errorf("member list = %+v", m)
		}
	}
}

func TestSecondDeviceOfSamePerson(t *testing.T) {
	c := newCommunity(t)
	laptop := openNew(t, c.clock, "VL laptop")
	req, err := laptop.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, m, err := c.centre.Invite(req, InviteOptions{SamePersonAs: "Venue Lead"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Devices) != 2 || m.OrgName != "Venue North" || m.Name != "Venue Lead" || m.Devices[0].Role != crypto.RoleOrgAdmin || m.Devices[1].Role != crypto.RoleOrgAdmin {
		t.Errorf("invited member = %+v, want two org-admin devices of Venue Lead in Venue North", m)
	}
	if _, err := laptop.Join(inv); err != nil {
		t.Fatal(err)
	}
	c.all = append(c.all, laptop)
	red, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Title: "red to the person", ToMembers: []string{"Venue Lead"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	for _, a := range []*App{c.venue, laptop} {
		if _, err := a.Show(red.ID); err != nil {
			t.Errorf("device %s of the person cannot read the RED post: %v", a.dev.ID().Short(), err)
		}
	}
	// Another device's invite is useless here.
	other := openNew(t, c.clock, "Intruder")
	if _, err := other.Join(inv); !errors.Is(err, ErrNotForDevice) {
		t.Errorf("joining with another device's invite: %v, want ErrNotForDevice", err)
	}
}

// TestEquivocationFlagged: a device that writes two different envelopes at
// one position is flagged in the member list, and its chain is frozen
// before the fork: the views drop what the store removed.
func TestEquivocationFlagged(t *testing.T) {
	c := newCommunity(t)
	head := c.rail.store.Head(c.rail.dev.ID())
	pos := crypto.Position{Seq: head.Seq + 1, Prev: head.Head}
	aud := mustAud(t, c.rail)
	var forks []*envelope.Envelope
	for _, title := range []string{"version one", "version two"} {
		plain, err := (&Record{Post: &PostRecord{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Channel: ChannelPro, Title: title}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.rail.dev.Seal(c.rail.cfg.Rand, c.rail.store.Community(), pos, c.rail.clock.Now(), aud, plain)
		if err != nil {
			t.Fatal(err)
		}
		forks = append(forks, e)
	}
	for _, e := range forks {
		if _, err := c.centre.store.Add(e); err != nil {
			t.Fatal(err)
		}
		c.centre.refresh()
	}
	// The device is frozen before the fork on every peer (see
	// docs/threat-model.md): neither version stays in the views.
	if got := c.centre.Feed(FeedFilter{Search: "version"}); len(got) != 0 {
		t.Errorf("feed = %+v, want neither version: the chain is frozen before the fork", got)
	}
	for _, m := range c.centre.Members() {
		if m.Name == "Rail Member" && !m.Devices[0].Forked {
			t.Errorf("the equivocating device is not flagged: %+v", m)
		}
		if m.Name != "Rail Member" && m.Devices[0].Forked {
			t.Errorf("%s flagged without cause", m.Name)
		}
	}
}

func TestIncidentAttachments(t *testing.T) {
	c := newCommunity(t)
	log := bytes.Repeat([]byte("Jul 23 21:58:01 fw1 DROP UDP 203.0.113.9:123\n"), 20000)
	inc, err := c.venue.ReportIncident(IncidentDraft{Category: CatDoS, Title: "UDP flood", Files: []File{{Name: "fw.log", Data: log}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Files) != 1 || inc.Files[0].Name != "fw.log" || inc.Files[0].Size != int64(len(log)) {
		t.Fatalf("incident files = %+v", inc.Files)
	}
	c.sync(t)
	got, err := c.centre.IncidentAttachment(inc.ID, "fw.log")
	if err != nil || !bytes.Equal(got, log) {
		t.Fatalf("coordinator reads the attachment: %d bytes, %v", len(got), err)
	}
	if _, err := c.power.IncidentAttachment(inc.ID, "fw.log"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another organisation: %v, want ErrNotFound (it cannot read the incident)", err)
	}
}

package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

func TestBundleAcrossAirGap(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.venue.Post(PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Title: "generator power"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.venue.ExportBundle(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("generator power")) {
		t.Fatal("bundle holds plaintext")
	}
	var progressed, total int
	r, err := c.centre.ImportBundle(buf.Bytes(), func(done, all int) { progressed, total = done, all })
	if err != nil {
		t.Fatal(err)
	}
	if r.Envelopes != n || r.Admitted == 0 || r.Refused != 0 || progressed != total || total < n {
		t.Errorf("import = %+v (progress %d of %d), want %d envelopes, some new, none refused, progress to the end", r, progressed, total, n)
	}
	if got := c.centre.Feed(FeedFilter{Search: "generator"}); len(got) != 1 {
		t.Errorf("coordinator feed after import: %d posts, want 1", len(got))
	}
	before := c.centre.store.Digest()
	r2, err := c.centre.ImportBundle(buf.Bytes(), nil)
	if err != nil || r2.Admitted != 0 || r2.Duplicates != n {
		t.Errorf("second import = %+v, %v; want all duplicates", r2, err)
	}
	if c.centre.store.Digest() != before {
		t.Error("importing twice changed the store")
	}

	// Damaged and foreign bundles are refused and change nothing.
	other := openNew(t, c.clock, "Other Coordinator")
	if _, err := other.CreateCommunity(CommunityOptions{Name: "Other", OrgName: "Other Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	var foreign bytes.Buffer
	if _, err := other.ExportBundle(&foreign); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"foreign":   foreign.Bytes(),
		"truncated": buf.Bytes()[:buf.Len()/2],
		"garbage":   []byte("not a bundle"),
	} {
		if _, err := c.centre.ImportBundle(b, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s bundle: %v, want ErrInvalid", name, err)
		}
		if c.centre.store.Digest() != before {
			t.Errorf("%s bundle changed the store", name)
		}
	}
}

// TestThreatAirGappedMemberCrossesRevocation: a member that only ever
// receives bundles by file opens a bundle made after a revocation (its new
// community key travels inside it, readable with its device key), and the
// revoked device, importing the same file, cannot read what was written
// after the rotation.
func TestThreatAirGappedMemberCrossesRevocation(t *testing.T) {
	clock := newFakeClock()
	coord := openNew(t, clock, "Duty Officer")
	if _, err := coord.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	if _, err := coord.AddOrg("Venue North", KindVenue, ""); err != nil {
		t.Fatal(err)
	}
	join := func(name string) *App {
		m := openNew(t, clock, name)
		req, err := m.JoinRequest()
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := coord.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Join(inv); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1 := join("Stolen Laptop")
	m2 := join("Air Gapped")
	before, err := coord.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "before the revocation"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := coord.Revoke(m1.Device().ID.String(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	after, err := coord.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "after the rotation"})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if _, err := coord.ExportBundle(&file); err != nil {
		t.Fatal(err)
	}

	// The air-gapped member opens the bundle and reads both posts.
	if _, err := m2.ImportBundle(file.Bytes(), nil); err != nil {
		t.Fatalf("air-gapped member imports the bundle made after a revocation: %v", err)
	}
	for _, id := range []string{before.ID, after.ID} {
		if _, err := m2.Show(id); err != nil {
			t.Errorf("air-gapped member cannot read post %s: %v", id[:12], err)
		}
	}
	if w := m2.WhoAmI(); !w.Joined {
		t.Errorf("air-gapped member after the import: %+v", w)
	}

	// The revoked device imports the same file: it learns that it was
	// revoked, and cannot read what was written after the rotation.
	_, err = m1.ImportBundle(file.Bytes(), nil)
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked device imports the bundle: %v, want ErrNotAllowed saying it was revoked", err)
	}
	if _, err := m1.Show(after.ID); err == nil {
		t.Error("the revoked device reads a post written after its revocation")
	}
	if got := m1.Feed(FeedFilter{Search: "after the rotation"}); len(got) != 0 {
		t.Errorf("the revoked device's feed shows %d posts written after the rotation", len(got))
	}
}

// TestThreatAirGappedMemberOpensNewcomersBundle: a bundle made by a member
// that holds none of the community epochs the air-gapped member holds still
// opens there: its trust section is sealed to that member's device key too.
func TestThreatAirGappedMemberOpensNewcomersBundle(t *testing.T) {
	clock := newFakeClock()
	coord := openNew(t, clock, "Duty Officer")
	if _, err := coord.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	if _, err := coord.AddOrg("Venue North", KindVenue, ""); err != nil {
		t.Fatal(err)
	}
	join := func(name string) *App {
		m := openNew(t, clock, name)
		req, err := m.JoinRequest()
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := coord.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Join(inv); err != nil {
			t.Fatal(err)
		}
		return m
	}
	lost := join("Stolen Laptop")
	gapped := join("Air Gapped")
	if _, err := coord.Revoke(lost.Device().ID.String(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	newcomer := join("Newcomer")
	// Invites today grant every epoch the inviter holds. Make the newcomer
	// hold only the community epochs the air-gapped member lacks, as a
	// device invited by one that held no older epoch would.
	newcomer.mu.Lock()
	kept := crypto.NewKeyring()
	for _, e := range newcomer.keys.Epochs() {
		g, _ := newcomer.keys.Get(e)
		if newcomer.epochs[e].scope == crypto.ScopeCommunity && gapped.keys.Has(e) {
			delete(newcomer.epochs, e)
			continue
		}
		kept.Add(g)
	}
	newcomer.keys = kept
	newcomer.mu.Unlock()
	var community int
	for _, info := range newcomer.epochs {
		if info.scope == crypto.ScopeCommunity {
			community++
		}
	}
	if community == 0 {
		t.Fatal("the newcomer holds no community epoch of its own: the test shows nothing")
	}
	p, err := newcomer.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "from the newcomer"})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if _, err := newcomer.ExportBundle(&file); err != nil {
		t.Fatal(err)
	}
	if _, err := gapped.ImportBundle(file.Bytes(), nil); err != nil {
		t.Fatalf("air-gapped member imports a newcomer's bundle: %v", err)
	}
	if _, err := gapped.Show(p.ID); err != nil {
		t.Errorf("air-gapped member cannot read the newcomer's post: %v", err)
	}
	// The revoked device holds no epoch the newcomer holds, and gets no
	// stanza of its own.
	if _, err := lost.ImportBundle(file.Bytes(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("revoked device imports a newcomer's bundle: %v, want ErrInvalid", err)
	}
}

// exportFormat1 writes a bundle as programs before format 2 did: one
// replica bundle sealed to the current community key.
func exportFormat1(t testing.TB, a *App) []byte {
	t.Helper()
	aud, err := a.memberAudience()
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, a)
	sealed, err := a.sealBundle(bundleMeta{V: 1, Type: bundleType, Community: a.store.Community(), From: a.dev.ID(), Count: len(envs)}, envs, aud)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func TestBundleFormat1StillImports(t *testing.T) {
	c := newCommunity(t)
	p, err := c.venue.Post(PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Title: "generator power"})
	if err != nil {
		t.Fatal(err)
	}
	old := exportFormat1(t, c.venue)
	var done, total int
	r, err := c.centre.ImportBundle(old, func(d, all int) { done, total = d, all })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(envelopes(t, c.venue)); r.Envelopes != n || r.Admitted != 1 || r.Duplicates != n-1 || done != n || total != n {
		t.Errorf("format 1 import = %+v, progress %d of %d; want %d envelopes, 1 new", r, done, total, n)
	}
	if _, err := c.centre.Show(p.ID); err != nil {
		t.Errorf("post of a format 1 bundle: %v", err)
	}
}

// TestBundleSections: each section is sealed to its audience, the trust
// section holds no sealed payload, and a file whose sections were tampered
// with is refused in one line.
func TestBundleSections(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "sections"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.centre.ExportBundle(&buf)
	if err != nil {
		t.Fatal(err)
	}
	secs, err := replica.ReadSections(buf.Bytes())
	if err != nil || len(secs) != 2 {
		t.Fatalf("sections: %d, %v", len(secs), err)
	}
	plain, err := crypto.OpenFrom(secs[0], maxBundle, c.centre.identities()...)
	if err != nil {
		t.Fatal(err)
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	var trust, headers int
	for {
		e, err := br.Next()
		if err != nil {
			break
		}
		trust++
		if e.Header.Class == envelope.ClassSealed {
			headers++
			if e.Payload != nil {
				t.Errorf("the trust section holds the payload of sealed envelope %s", e.ID().String()[:12])
			}
		}
	}
	if trust == 0 || trust >= n {
		t.Errorf("trust section: %d of %d envelopes", trust, n)
	}
	before := c.venue.store.Digest()
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	swapped, _ := replica.AppendSections(nil, secs[1], secs[0])
	three, _ := replica.AppendSections(nil, secs[0], secs[1], secs[1])
	newer := bytes.Clone(buf.Bytes())
	copy(newer[len("noroshi-sealed-bundle\n"):], u32(3))
	for name, tt := range map[string]struct {
		b    []byte
		want string
	}{
		"swapped":       {swapped, "not a Noroshi bundle"},
		"three":         {three, "a bundle of 3 sections, this program reads 2: upgrade Noroshi"},
		"newer format":  {newer, "bundle file format 3, this program reads 1 and 2: upgrade Noroshi"},
		"cut":           {buf.Bytes()[:buf.Len()-1], "truncated"},
		"trust section": {secs[0], "not a whole Noroshi bundle"},
	} {
		_, err := c.venue.ImportBundle(tt.b, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line of ErrInvalid saying %q", name, err, tt.want)
		}
		if c.venue.store.Digest() != before {
			t.Errorf("%s changed the store", name)
		}
	}
}

// FuzzImportBundle imports anything as a bundle: no panic, and an error
// is ErrInvalid.
func FuzzImportBundle(f *testing.F) {
	c := newCommunity(f)
	var buf bytes.Buffer
	if _, err := c.centre.ExportBundle(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(exportFormat1(f, c.centre))
	f.Add(buf.Bytes()[:200])
	f.Add([]byte("noroshi-sealed-bundle\n\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x01b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := c.venue.ImportBundle(b, nil); err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("import: %v, want nil or ErrInvalid", err)
		}
	})
}

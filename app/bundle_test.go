package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestBundleSections: a label in clear, then each section sealed to its
// audience; the trust section holds no sealed payload, and a file whose
// sections were tampered with is refused in one line.
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
	if err != nil || len(secs) != 3 {
		t.Fatalf("sections: %d, %v", len(secs), err)
	}
	if l, ok := decodeLabel(secs[0]); !ok || l.V != bundleVersion || l.For != nil {
		t.Fatalf("label %q", secs[0])
	}
	plain, err := crypto.OpenFrom(secs[1], maxBundle, c.centre.identities()...)
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
	before := stateOf(t, c.venue)
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	swapped, _ := replica.AppendSections(nil, secs[0], secs[2], secs[1])
	labelLast, _ := replica.AppendSections(nil, secs[1], secs[2], secs[0])
	four, _ := replica.AppendSections(nil, secs[0], secs[1], secs[2], secs[2])
	newerLabel, _ := replica.AppendSections(nil, bytes.Replace(secs[0], []byte(`"v":3`), []byte(`"v":4`), 1), secs[1], secs[2])
	newer := bytes.Clone(buf.Bytes())
	copy(newer[len("noroshi-sealed-bundle\n"):], u32(3))
	for name, tt := range map[string]struct {
		b    []byte
		want string
	}{
		"swapped":        {swapped, "sections are out of order"},
		"label last":     {labelLast, "sections are out of order"},
		"four":           {four, "a bundle of 4 sections, this program reads 2 and 3: upgrade Noroshi"},
		"newer format":   {newer, "bundle file format 3, this program reads 1 and 2: upgrade Noroshi"},
		"newer label":    {newerLabel, "bundle format 4, this program reads 1 to 3: upgrade Noroshi"},
		"cut":            {buf.Bytes()[:buf.Len()-1], "truncated"},
		"trust section":  {secs[1], "not a whole Noroshi bundle"},
		"records alone":  {secs[2], "not a whole Noroshi bundle"},
		"label alone":    {secs[0], "not a Noroshi bundle"},
		"magic cut":      {[]byte("noroshi-sealed"), "truncated"},
		"frame cut":      {buf.Bytes()[:30], "truncated"},
		"other sections": {mustSections(t, secs[0], secs[1], otherRecords(t, c)), "the bundle file is damaged or was altered"},
	} {
		_, err := c.venue.ImportBundle(tt.b, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line of ErrInvalid saying %q", name, err, tt.want)
		}
		if got := stateOf(t, c.venue); got != before {
			t.Errorf("%s changed the store: %+v, was %+v", name, got, before)
		}
	}
}

func mustSections(t testing.TB, secs ...[]byte) []byte {
	t.Helper()
	b, err := replica.AppendSections(nil, secs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherRecords returns the records section of another bundle of c.
func otherRecords(t testing.TB, c *community) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := c.centre.ExportBundle(&buf); err != nil {
		t.Fatal(err)
	}
	secs, err := replica.ReadSections(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return secs[2]
}

// storeState is what a failed import must leave as it was.
type storeState struct {
	digest [32]byte
	last   uint64
	count  int
}

func stateOf(t testing.TB, a *App) storeState {
	t.Helper()
	return storeState{digest: a.store.Digest(), last: a.store.LastSeq(), count: len(envelopes(t, a))}
}

// airGapped returns a member of c's venue organisation that receives
// nothing but its invite: it never syncs.
func airGapped(t testing.TB, c *community, name string) *App {
	t.Helper()
	m := openNew(t, c.clock, name)
	req, err := m.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := c.centre.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Join(inv); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBundleTamper: each way a bundle can be damaged, altered, misdirected
// or stale is refused with its own one-line error, and stores nothing.
func TestBundleTamper(t *testing.T) {
	c := newCommunity(t)
	gapped := openNew(t, c.clock, "Air Gapped")
	gapReq, err := gapped.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	gapInvite, _, err := c.centre.Invite(gapReq, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gapped.Join(gapInvite); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: fmt.Sprintf("tamper %d", i), Body: strings.Repeat("body ", 200)}); err != nil {
			t.Fatal(err)
		}
	}
	export := func(o ExportOptions) []byte {
		t.Helper()
		var buf bytes.Buffer
		if _, err := c.centre.Export(&buf, o); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	good := export(ExportOptions{})
	secs, err := replica.ReadSections(good)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets of each section in the file.
	off := len("noroshi-sealed-bundle\n") + 8
	var start []int
	for _, s := range secs {
		start = append(start, off+8)
		off += 8 + len(s)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x10
		return b
	}
	forVenue := export(ExportOptions{For: c.venue.Device().ID.String()})
	short := export(ExportOptions{Expires: time.Hour})
	other := openNew(t, c.clock, "Other Coordinator")
	if _, err := other.CreateCommunity(CommunityOptions{Name: "Other", OrgName: "Other Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	var foreign bytes.Buffer
	if _, err := other.ExportBundle(&foreign); err != nil {
		t.Fatal(err)
	}
	stranger := openNew(t, c.clock, "Stranger")
	req, err := stranger.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	invite, _, err := c.centre.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(2 * time.Hour) // the short bundle has expired

	before := stateOf(t, gapped)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated in the trust section", good[:start[1]+len(secs[1])/2], "the bundle file is truncated"},
		{"truncated in the records", good[:len(good)-100], "the bundle file is truncated"},
		{"truncated after the label", good[:start[1]], "the bundle file is truncated"},
		{"reordered", mustSections(t, secs[0], secs[2], secs[1]), "the bundle's sections are out of order"},
		{"flipped bit in the label", flip(start[0] + 20), "damaged or was altered"},
		{"flipped bit in the trust section", flip(start[1] + len(secs[1])*3/4), "damaged or was altered"},
		{"flipped bit in the records", flip(start[2] + len(secs[2])/2), "damaged or was altered"},
		{"flipped bit at the end", flip(len(good) - 1), "damaged or was altered"},
		{"wrong recipient", forVenue, "this bundle was sealed to another device, " + c.venue.Device().ID.Short() + " of Venue Lead"},
		{"expired", short, "the bundle has expired on "},
		{"another community", foreign.Bytes(), "this bundle belongs to another community"},
		{"an invite for another device", invite, "as an invite is"},
		{"a join request", req, "this file is a join request, not a bundle"},
		{"garbage", []byte("not a bundle"), "not a Noroshi bundle"},
		{"empty", nil, "not a Noroshi bundle"},
		{"the invite this device joined with", gapInvite, "this file is an invite, not a bundle"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gapped.ImportBundle(tt.b, nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v, want one line of ErrInvalid saying %q", err, tt.want)
			}
			if got := stateOf(t, gapped); got != before {
				t.Errorf("the store changed: %+v, was %+v", got, before)
			}
		})
	}
	if r, err := gapped.ImportBundle(short, nil); !errors.Is(err, ErrBundleExpired) || r.Expires.IsZero() || r.Admitted != 0 {
		t.Errorf("expired: %+v, %v; want ErrBundleExpired saying when", r, err)
	}

	// Replayed: the second import of the same file adds nothing.
	r, err := gapped.ImportBundle(good, nil)
	if err != nil || r.Admitted == 0 || r.Refused != 0 {
		t.Fatalf("good bundle: %+v, %v", r, err)
	}
	held := stateOf(t, gapped)
	r2, err := gapped.ImportBundle(good, nil)
	if err != nil || r2.Admitted != 0 || r2.Duplicates != r2.Envelopes || r2.Envelopes != r.Envelopes || r2.Refused != 0 {
		t.Errorf("replayed: %+v, %v; want all %d already held", r2, err, r.Envelopes)
	}
	if got := stateOf(t, gapped); got != held {
		t.Errorf("the replay changed the store: %+v, was %+v", got, held)
	}
	if r2.Mark != r.Mark || r.Mark == "" {
		t.Errorf("mark after the replay %q, after the import %q", r2.Mark, r.Mark)
	}

	// An expired bundle imports with Force, and says so.
	r3, err := gapped.Import(short, ImportOptions{Force: true})
	if err != nil || !r3.Expired || r3.Expires.IsZero() {
		t.Errorf("expired with force: %+v, %v", r3, err)
	}
}

// TestBundleForOneDevice: a bundle sealed to one device opens there alone,
// whether named by device ID, by person or by its join request; the others
// are told whose it is.
func TestBundleForOneDevice(t *testing.T) {
	c := newCommunity(t)
	gapped := airGapped(t, c, "Air Gapped")
	// The other members learn of the new device, as they would by sync.
	if err := exchange([]*App{c.centre, c.power}); err != nil {
		t.Fatal(err)
	}
	p, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "for one device"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := gapped.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]ExportOptions{
		"device ID":    {For: gapped.Device().ID.String()},
		"ID prefix":    {For: gapped.Device().ID.String()[:8]},
		"person":       {For: "Air Gapped"},
		"join request": {ForRequest: req},
	} {
		var buf bytes.Buffer
		res, err := c.centre.Export(&buf, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.For != gapped.Device().ID.String() || !strings.Contains(res.ForName, "Air Gapped") {
			t.Errorf("%s: export for %q (%q)", name, res.For, res.ForName)
		}
		if bytes.Contains(buf.Bytes(), []byte("noroshi-group")) {
			t.Errorf("%s: a bundle for one device has a group key stanza", name)
		}
		before := stateOf(t, c.power)
		if _, err := c.power.ImportBundle(buf.Bytes(), nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "sealed to another device, "+gapped.Device().ID.Short()) {
			t.Errorf("%s: another member imports: %v", name, err)
		}
		if stateOf(t, c.power) != before {
			t.Errorf("%s: another member's store changed", name)
		}
	}
	var buf bytes.Buffer
	if _, err := c.centre.Export(&buf, ExportOptions{For: "Air Gapped"}); err != nil {
		t.Fatal(err)
	}
	r, err := gapped.ImportBundle(buf.Bytes(), nil)
	if err != nil || !r.ForThisDevice || r.Admitted == 0 || r.From != c.centre.Device().ID.String() || !strings.Contains(r.FromName, "Duty Officer") {
		t.Fatalf("the device imports its bundle: %+v, %v", r, err)
	}
	if _, err := gapped.Show(p.ID); err != nil {
		t.Errorf("the device cannot read the post: %v", err)
	}

	// A device not yet invited, or revoked, gets no bundle.
	stranger := openNew(t, c.clock, "Stranger")
	sreq, err := stranger.JoinRequest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Export(io.Discard, ExportOptions{ForRequest: sreq}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "invite it first") {
		t.Errorf("for a device not invited: %v", err)
	}
	if _, err := c.centre.Revoke(c.rail.Device().ID.String(), "lost"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.centre.Export(io.Discard, ExportOptions{For: c.rail.Device().ID.String()}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("for a revoked device: %v", err)
	}
	if _, err := c.centre.Export(io.Discard, ExportOptions{For: "nobody at all"}); err == nil {
		t.Error("for nobody: no error")
	}
}

// TestBundleSinceMark: the receiving device's mark makes the next bundle
// hold only what it lacks, so a daily run stays small; the feed it shows
// is the exporter's.
func TestBundleSinceMark(t *testing.T) {
	c := newCommunity(t)
	gapped := airGapped(t, c, "Air Gapped")
	for i := range 40 {
		if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: fmt.Sprintf("day one %d", i), Body: strings.Repeat("indicator ", 50)}); err != nil {
			t.Fatal(err)
		}
	}
	var first bytes.Buffer
	full, err := c.centre.Export(&first, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gapped.ImportBundle(first.Bytes(), nil)
	if err != nil || !strings.HasPrefix(r.Mark, markPrefix) {
		t.Fatalf("first import: %+v, %v", r, err)
	}
	if m, err := gapped.Mark(); err != nil || m != r.Mark {
		t.Errorf("Mark() = %q, %v; the import said %q", m, err, r.Mark)
	}
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPGreen, Title: "day two"}); err != nil {
		t.Fatal(err)
	}
	var second bytes.Buffer
	delta, err := c.centre.Export(&second, ExportOptions{Since: r.Mark})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first bundle %d envelopes, %d bytes; second %d envelopes (%d left out), %d bytes; mark %d characters",
		full.Envelopes, full.Bytes, delta.Envelopes, delta.Skipped, delta.Bytes, len(r.Mark))
	if !delta.SinceMark || delta.Envelopes+delta.Skipped != full.Envelopes+1 || delta.Envelopes > 3 {
		t.Errorf("second export: %+v, want a few envelopes of %d", delta, full.Envelopes+1)
	}
	if delta.Bytes*5 > full.Bytes {
		t.Errorf("second bundle %d bytes, first %d: want a small fraction", delta.Bytes, full.Bytes)
	}
	r2, err := gapped.ImportBundle(second.Bytes(), nil)
	if err != nil || r2.Admitted != delta.Envelopes || r2.Refused != 0 || r2.Waiting != 0 || !r2.SinceMark {
		t.Fatalf("second import: %+v, %v", r2, err)
	}
	if got, want := bundleFeed(gapped), bundleFeed(c.centre); !slices.Equal(got, want) {
		t.Errorf("feed after the second import:\n%v\nwant\n%v", got, want)
	}
	// Nothing new: the bundle is empty, and imports.
	var third bytes.Buffer
	if res, err := c.centre.Export(&third, ExportOptions{Since: r2.Mark}); err != nil || res.Envelopes != 0 {
		t.Errorf("export since an up-to-date mark: %+v, %v", res, err)
	}
	if r3, err := gapped.ImportBundle(third.Bytes(), nil); err != nil || r3.Envelopes != 0 {
		t.Errorf("import of an empty bundle: %+v, %v", r3, err)
	}
	// An old mark leaves out less; a mark of a device ahead leaves out all.
	var again bytes.Buffer
	if res, err := c.centre.Export(&again, ExportOptions{Since: r.Mark}); err != nil || res.Envelopes != delta.Envelopes {
		t.Errorf("export since the old mark again: %+v, %v", res, err)
	}

	// Marks that are not this community's, or damaged, are refused.
	other := openNew(t, c.clock, "Other Coordinator")
	if _, err := other.CreateCommunity(CommunityOptions{Name: "Other", OrgName: "Other Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	om, err := other.Mark()
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ mark, want string }{
		"other community": {om, "another community"},
		"cut":             {r.Mark[:len(r.Mark)-3], "damaged"},
		"not a mark":      {"hello", "not a mark"},
		"newer":           {"nm2." + r.Mark[4:], "upgrade Noroshi"},
	} {
		if _, err := c.centre.Export(io.Discard, ExportOptions{Since: tt.mark}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s mark: %v, want ErrInvalid saying %q", name, err, tt.want)
		}
	}
}

// TestBundleMarkFork: a mark whose head for an author is not the header
// the exporter holds there (a forked chain) makes that author's chain go
// in whole.
func TestBundleMarkFork(t *testing.T) {
	c := newCommunity(t)
	m, err := c.venue.Mark()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeMark(m, c.venue.store.Community())
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, c.centre)
	if out, skipped := sinceMark(envs, dec); len(out) != 0 || skipped != len(envs) {
		t.Fatalf("a synced device's mark leaves in %d of %d", len(out), len(envs))
	}
	centre := c.centre.Device().ID
	p := [markIDLen]byte(centre[:markIDLen])
	h := dec.heads[p]
	h.head[0] ^= 1
	dec.heads[p] = h
	out, _ := sinceMark(envs, dec)
	var mine int
	for _, e := range envs {
		if crypto.DeviceID(e.Header.Author) == centre {
			mine++
		}
	}
	if len(out) != mine {
		t.Errorf("a forked head leaves in %d envelopes, want the author's %d", len(out), mine)
	}
}

func bundleFeed(a *App) []string {
	var out []string
	for _, p := range a.Feed(FeedFilter{}) {
		out = append(out, p.ID+" "+p.Title)
	}
	slices.Sort(out)
	return out
}

// TestBundleThreeHomes: the coordinator's home and a venue's are connected
// only by bundles carried through a third home; across a retraction and a
// revocation, each ends up with what the others have.
func TestBundleThreeHomes(t *testing.T) {
	clock := newFakeClock()
	a := openNew(t, clock, "Duty Officer")
	if _, err := a.CreateCommunity(CommunityOptions{Name: "Games 2026", OrgName: "Coordination Centre", OrgKind: KindCoordination}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddOrg("Venue North", KindVenue, ""); err != nil {
		t.Fatal(err)
	}
	join := func(name string) *App {
		m := openNew(t, clock, name)
		req, err := m.JoinRequest()
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := a.Invite(req, InviteOptions{Org: "Venue North", Role: crypto.RoleMember})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Join(inv); err != nil {
			t.Fatal(err)
		}
		return m
	}
	b, cc, d := join("Courier"), join("Venue Lead"), join("Stolen Laptop")
	marks := map[*App]string{}
	carry := func(from, to *App) ImportResult {
		t.Helper()
		var buf bytes.Buffer
		if _, err := from.Export(&buf, ExportOptions{Since: marks[to]}); err != nil {
			t.Fatal(err)
		}
		r, err := to.ImportBundle(buf.Bytes(), nil)
		if err != nil {
			t.Fatal(err)
		}
		marks[to] = r.Mark
		return r
	}
	post := func(x *App, title string) PostSummary {
		t.Helper()
		p, err := x.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := post(a, "gate 3 closed")
	post(a, "phishing wave")
	carry(a, b)
	carry(b, cc)
	post(cc, "venue Wi-Fi down")
	dp := post(d, "from the laptop")
	carry(d, b) // the laptop reaches the courier before it is stolen
	carry(cc, b)
	carry(b, a)
	if _, err := a.Retract(p1.ID, "wrong gate"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke(d.Device().ID.String(), "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	post(a, "after the rotation")
	late := post(d, "written with the stolen key") // reaches the courier, never the centre
	carry(d, b)
	carry(a, b)
	carry(b, cc)
	carry(cc, b)
	r := carry(b, a)
	if r.Refused != 0 && r.RefusedFor[RefusedRevoked] != r.Refused {
		t.Errorf("last import: refused %v", r.RefusedFor)
	}
	carry(a, b)
	carry(b, cc)

	want := bundleFeed(a)
	for _, x := range []*App{b, cc} {
		if got := bundleFeed(x); !slices.Equal(got, want) {
			t.Errorf("%s sees\n%v\nwant\n%v", x.WhoAmI().Name, got, want)
		}
	}
	for _, x := range []*App{a, b, cc} {
		if x.store.Digest() != a.store.Digest() {
			t.Errorf("%s holds another set of envelopes than the centre", x.WhoAmI().Name)
		}
		if _, err := x.Show(p1.ID); err == nil {
			t.Errorf("%s still shows the retracted post", x.WhoAmI().Name)
		}
		if _, err := x.Show(late.ID); err == nil {
			t.Errorf("%s shows the post written after the revocation", x.WhoAmI().Name)
		}
		if _, err := x.Show(dp.ID); err != nil {
			t.Errorf("%s lost the laptop's post from before the revocation: %v", x.WhoAmI().Name, err)
		}
	}
	if len(want) != 4 {
		t.Errorf("feed: %v, want 4 posts", want)
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
	var forVenue bytes.Buffer
	if _, err := c.centre.Export(&forVenue, ExportOptions{For: c.venue.Device().ID.String()}); err != nil {
		f.Fatal(err)
	}
	f.Add(forVenue.Bytes())
	if secs, err := replica.ReadSections(buf.Bytes()); err == nil {
		f.Add(secs[0])
		f.Add(mustSections(f, secs[0], []byte("x"), []byte("y")))
	}
	f.Add(exportFormat1(f, c.centre))
	f.Add(buf.Bytes()[:200])
	f.Add([]byte("noroshi-sealed-bundle\n\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x01b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := c.venue.ImportBundle(b, nil); err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("import: %v, want nil or ErrInvalid", err)
		}
	})
}

// FuzzDecodeMark reads anything as a mark: no panic; an error is
// ErrInvalid; a mark that decodes leaves out only envelopes it covers.
func FuzzDecodeMark(f *testing.F) {
	c := newCommunity(f)
	m, err := c.venue.Mark()
	if err != nil {
		f.Fatal(err)
	}
	community := c.venue.store.Community()
	envs := envelopes(f, c.centre)
	f.Add(m)
	f.Add(m[:len(m)/2])
	f.Add("nm1.")
	f.Add("nm9.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := decodeMark(s, community)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, skipped := sinceMark(envs, dec)
		if len(out)+skipped != len(envs) {
			t.Fatalf("%d in and %d left out of %d", len(out), skipped, len(envs))
		}
	})
}

// TestBundleRefusalReasons: envelopes refused on import are counted by
// reason.
func TestBundleRefusalReasons(t *testing.T) {
	c := newCommunity(t)
	if _, err := c.centre.Revoke(c.rail.Device().ID.String(), "lost"); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	if _, err := c.centre.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen, Title: "forged"}); err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, c.centre)
	forged := *envs[len(envs)-1]
	h := *forged.Header
	h.Signature[3] ^= 1
	forged.Header = &h
	railEnv := revokedAfterCut(t, c, h.Clock)
	aud, err := c.centre.memberAudience()
	if err != nil {
		t.Fatal(err)
	}
	list := []*envelope.Envelope{&forged, railEnv}
	sealed, err := c.centre.sealBundle(bundleMeta{V: 1, Type: bundleType, Community: c.centre.store.Community(), From: c.centre.dev.ID(), Count: len(list)}, list, aud)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.venue.ImportBundle(sealed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != 2 || r.RefusedFor[RefusedSignature] != 1 || r.RefusedFor[RefusedRevoked] != 1 {
		t.Errorf("refused %d: %v, want one bad signature and one revoked author", r.Refused, r.RefusedFor)
	}
}

// revokedAfterCut returns an envelope the revoked rail member's device
// signs after its cut, as a stolen key would.
func revokedAfterCut(t testing.TB, c *community, clock uint64) *envelope.Envelope {
	t.Helper()
	head := c.rail.store.Head(c.rail.Device().ID)
	e, err := c.rail.dev.Seal(c.rail.cfg.Rand, c.rail.store.Community(), crypto.Position{Seq: head.Seq + 1, Prev: head.Head}, clock,
		crypto.Audience{Devices: []crypto.PublicDevice{c.venue.Device()}}, []byte("written with a stolen key"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// exportFormat2 writes a bundle as programs before format 3 did: a trust
// and a records section, no label, expiry or signature.
func exportFormat2(t testing.TB, a *App) []byte {
	t.Helper()
	aud, err := a.memberAudience()
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, a)
	a.mu.RLock()
	trustAud := a.trustAudience(envs)
	a.mu.RUnlock()
	trust, records := splitBundle(envs)
	meta := bundleMeta{V: 2, Type: bundleType, Community: a.store.Community(), From: a.dev.ID(), Count: len(trust), Records: len(records)}
	ts, err := a.sealBundle(meta, trust, trustAud)
	if err != nil {
		t.Fatal(err)
	}
	meta.Type, meta.Count, meta.Records = recordsType, len(records), 0
	rs, err := a.sealBundle(meta, records, aud)
	if err != nil {
		t.Fatal(err)
	}
	return mustSections(t, ts, rs)
}

// TestBundleFormat2StillImports: a bundle of format 2, with no expiry,
// imports whatever the date; tampered with, it is refused and stores
// nothing.
func TestBundleFormat2StillImports(t *testing.T) {
	c := newCommunity(t)
	p, err := c.venue.Post(PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Title: "format two"})
	if err != nil {
		t.Fatal(err)
	}
	old := exportFormat2(t, c.venue)
	c.clock.Advance(400 * 24 * time.Hour)
	secs, err := replica.ReadSections(old)
	if err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, c.centre)
	for name, b := range map[string][]byte{
		"swapped":   mustSections(t, secs[1], secs[0]),
		"truncated": old[:len(old)-10],
	} {
		if _, err := c.centre.ImportBundle(b, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s format 2 bundle: %v", name, err)
		}
		if stateOf(t, c.centre) != before {
			t.Errorf("%s format 2 bundle changed the store", name)
		}
	}
	r, err := c.centre.ImportBundle(old, nil)
	if err != nil || r.Admitted != 1 || !r.Expires.IsZero() {
		t.Fatalf("format 2 import = %+v, %v", r, err)
	}
	if _, err := c.centre.Show(p.ID); err != nil {
		t.Errorf("post of a format 2 bundle: %v", err)
	}
}

// FuzzImportSections imports sections whose plaintext is anything, sealed
// to a key the importer holds (so the fuzzer reaches the meta, the
// section reader and admission behind the encryption): no panic, an error
// is ErrInvalid, and a section the reader refuses stores nothing.
func FuzzImportSections(f *testing.F) {
	c := newCommunity(f)
	var buf bytes.Buffer
	if _, err := c.centre.ExportBundle(&buf); err != nil {
		f.Fatal(err)
	}
	secs, err := replica.ReadSections(buf.Bytes())
	if err != nil {
		f.Fatal(err)
	}
	trust, err := crypto.OpenFrom(secs[1], maxBundle, c.centre.identities()...)
	if err != nil {
		f.Fatal(err)
	}
	records, err := crypto.OpenFrom(secs[2], maxBundle, c.centre.identities()...)
	if err != nil {
		f.Fatal(err)
	}
	aud, err := c.centre.memberAudience()
	if err != nil {
		f.Fatal(err)
	}
	v2 := func(b []byte) []byte { return bytes.Replace(b, []byte(`"v":3`), []byte(`"v":2`), 1) }
	f.Add(v2(trust), v2(records))
	f.Add(trust, records)
	f.Add(v2(trust)[:len(trust)/2], v2(records))
	f.Fuzz(func(t *testing.T, tp, rp []byte) {
		ts, err := crypto.SealTo(c.centre.cfg.Rand, tp, aud)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := crypto.SealTo(c.centre.cfg.Rand, rp, aud)
		if err != nil {
			t.Fatal(err)
		}
		file, err := replica.AppendSections(nil, ts, rs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.venue.ImportBundle(file, nil); err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("import: %v, want nil or ErrInvalid", err)
		}
	})
}

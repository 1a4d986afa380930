package crypto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
	"noroshi/crypto/envelope"
)

var (
	person1 = crypto.ID16{1}
	person2 = crypto.ID16{2}
	orgA    = crypto.ID16{0xa}
	orgB    = crypto.ID16{0xb}
)

func membership(d *crypto.Device, person, org crypto.ID16, role crypto.Role) crypto.Membership {
	p := d.Public()
	return crypto.Membership{Device: p.ID, Recipient: p.Recipient, Person: person, Org: org, Role: role}
}

// certificates returns one valid certificate of each kind.
func certificates(t testing.TB) map[string]*crypto.Certificate {
	founder, bob := cryptotest.Device(t, "founder"), cryptotest.Device(t, "bob")
	g, err := crypto.NewScopedKey(cryptotest.Rand("cert group"), crypto.ScopeOrg, orgA)
	if err != nil {
		t.Fatal(err)
	}
	kg, err := crypto.NewKeyGrant(cryptotest.Rand("grant"), crypto.ScopeOrg, orgA, g, []crypto.PublicDevice{bob.Public()})
	if err != nil {
		t.Fatal(err)
	}
	m := membership(bob, person2, orgA, crypto.RoleMember)
	return map[string]*crypto.Certificate{
		"genesis":    {Genesis: &crypto.Genesis{Nonce: crypto.ID16{9}, Founder: membership(founder, crypto.PersonOf(founder.ID()), orgA, crypto.RoleCoordinator)}},
		"membership": {Membership: &m},
		"revocation": {Revocation: &crypto.Revocation{Device: bob.ID(), LastValidSeq: 12, LastValid: envelope.Hash{12}}},
		"key grant":  {KeyGrant: kg},
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	for name, c := range certificates(t) {
		t.Run(name, func(t *testing.T) {
			b, err := c.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := crypto.DecodeCertificate(b)
			if err != nil {
				t.Fatalf("DecodeCertificate: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, c)
			}
			b2, err := got.Encode()
			if err != nil || !bytes.Equal(b2, b) {
				t.Errorf("re-encoded: got %s, %v; want %s", b2, err, b)
			}
		})
	}
}

// edit decodes a valid certificate's JSON into a generic map, lets f change
// it, and encodes it again: the way to build certificates Encode refuses.
func edit(t *testing.T, c *crypto.Certificate, f func(m map[string]any)) []byte {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeCertificateStrict(t *testing.T) {
	certs := certificates(t)
	mem, _ := certs["membership"].Encode()
	inner := func(m map[string]any, stmt string) map[string]any { return m[stmt].(map[string]any) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "certificate"},
		{"not JSON", []byte("v=1"), "certificate"},
		{"null", []byte("null"), "version 0"},
		{"array", []byte("[]"), "certificate"},
		{"unknown field", edit(t, certs["membership"], func(m map[string]any) { m["title"] = "x" }), "unknown field"},
		{"unknown inner field", edit(t, certs["membership"], func(m map[string]any) { inner(m, "membership")["name"] = "Bob" }), "unknown field"},
		{"two statements", edit(t, certs["membership"], func(m map[string]any) { m["revocation"] = map[string]any{"device": strings.Repeat("00", 32)} }), "2 statements"},
		{"zero statements", []byte(`{"v":2}`), "0 statements"},
		{"bad role", edit(t, certs["membership"], func(m map[string]any) { inner(m, "membership")["role"] = "admin" }), "unknown role"},
		{"version 3", edit(t, certs["membership"], func(m map[string]any) { m["v"] = 3 }), "upgrade"},
		{"version 1", edit(t, certs["membership"], func(m map[string]any) { m["v"] = 1 }), "insider-safe"},
		{"founder's person not derived from its device", edit(t, certs["genesis"], func(m map[string]any) { inner(inner(m, "genesis"), "founder")["person"] = strings.Repeat("ab", 16) }), "derived"},
		{"revocation cut without its hash", edit(t, certs["revocation"], func(m map[string]any) { delete(inner(m, "revocation"), "last_valid") }), "sequence and hash"},
		{"bad endorsement", edit(t, certs["membership"], func(m map[string]any) {
			inner(m, "membership")["endorsement"] = map[string]any{"device": strings.Repeat("00", 32), "sig": "AAAA"}
		}), "endorsement"},
		{"version 0", edit(t, certs["membership"], func(m map[string]any) { delete(m, "v") }), "version 0"},
		{"trailing object", append(bytes.Clone(mem), `{"v":1}`...), "trailing"},
		{"trailing brace", append(bytes.Clone(mem), '}'), "trailing"},
		{"trailing bracket", append(bytes.Clone(mem), ']'), "trailing"},
		{"trailing garbage", append(bytes.Clone(mem), " x"...), "trailing"},
		{"too large", append(bytes.Clone(mem), bytes.Repeat([]byte(" "), crypto.MaxCertificate)...), "at most"},
		{"founder not a coordinator", edit(t, certs["genesis"], func(m map[string]any) { inner(inner(m, "genesis"), "founder")["role"] = "member" }), "coordinator"},
		{"membership without person", edit(t, certs["membership"], func(m map[string]any) { inner(m, "membership")["person"] = strings.Repeat("0", 32) }), "person"},
		{"membership with a classic recipient", edit(t, certs["membership"], func(m map[string]any) { inner(m, "membership")["recipient"] = mustX25519(t) }), "certificate"},
		{"bad device ID", edit(t, certs["membership"], func(m map[string]any) { inner(m, "membership")["device"] = "00" }), "device ID"},
		{"community key grant with an org", edit(t, certs["key grant"], func(m map[string]any) { inner(m, "key_grant")["scope"] = "community" }), "names an organisation"},
		{"org key grant without an org", edit(t, certs["key grant"], func(m map[string]any) { delete(inner(m, "key_grant"), "org") }), "without an organisation"},
		{"unknown scope", edit(t, certs["key grant"], func(m map[string]any) { inner(m, "key_grant")["scope"] = "world" }), "unknown key scope"},
		{"key grant to nobody", edit(t, certs["key grant"], func(m map[string]any) { inner(m, "key_grant")["grants"] = []any{} }), "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := crypto.DecodeCertificate(tt.b)
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want an error containing %q", err, tt.want)
			}
		})
	}
	// Encode refuses what DecodeCertificate refuses.
	for name, c := range map[string]*crypto.Certificate{
		"empty":          {},
		"two statements": {Membership: certs["membership"].Membership, Revocation: certs["revocation"].Revocation},
		"bad role":       {Membership: &crypto.Membership{Role: "boss"}},
	} {
		if b, err := c.Encode(); err == nil {
			t.Errorf("Encode %s: got %s, want an error", name, b)
		}
	}
}

func FuzzDecodeCertificate(f *testing.F) {
	for _, c := range certificates(f) {
		b, err := c.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"revocation":{"device":"` + strings.Repeat("ab", 32) + `","last_valid_seq":3}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := crypto.DecodeCertificate(b)
		if err != nil {
			if c != nil {
				t.Errorf("DecodeCertificate returned a certificate with its error %v", err)
			}
			return
		}
		// What decodes encodes, and decodes again to the same certificate.
		b2, err := c.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded certificate: %v", err)
		}
		c2, err := crypto.DecodeCertificate(b2)
		if err != nil {
			t.Fatalf("DecodeCertificate of an encoded certificate: %v\n%s", err, b2)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("decode-encode-decode changed the certificate:\n%+v\n%+v", c, c2)
		}
	})
}

func TestKeyGrant(t *testing.T) {
	bob, carol, dave := cryptotest.Device(t, "bob"), cryptotest.Device(t, "carol"), cryptotest.Device(t, "dave")
	g, err := crypto.NewScopedKey(cryptotest.Rand("grant key"), crypto.ScopeOrg, orgA)
	if err != nil {
		t.Fatal(err)
	}
	kg, err := crypto.NewKeyGrant(cryptotest.Rand("grant"), crypto.ScopeOrg, orgA, g, []crypto.PublicDevice{bob.Public(), carol.Public()})
	if err != nil {
		t.Fatal(err)
	}
	// Through a certificate's encoding, as it travels.
	b, err := (&crypto.Certificate{KeyGrant: kg}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, g.Key[:]) {
		t.Fatalf("the certificate holds the group key in clear")
	}
	c, err := crypto.DecodeCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	kg = c.KeyGrant
	for _, d := range []*crypto.Device{bob, carol} {
		got, ok, err := d.OpenGrant(kg)
		if err != nil || !ok || got != g {
			t.Errorf("%s: OpenGrant got %x, %v, %v; want the key, true, nil", d.Name, got.Epoch[:4], ok, err)
		}
	}
	if got, ok, err := dave.OpenGrant(kg); ok || err != nil {
		t.Errorf("dave, not granted: OpenGrant got %x, %v, %v; want nothing, false, nil", got.Key[:4], ok, err)
	}

	// A grant sealed to Bob, listed under Dave's ID, does not open for Dave.
	stolen := *kg
	stolen.Grants = []crypto.Grant{{Device: dave.ID(), Sealed: kg.Grants[0].Sealed}}
	if _, ok, err := dave.OpenGrant(&stolen); ok || !errors.Is(err, crypto.ErrNotForMe) {
		t.Errorf("dave with Bob's sealed grant: got %v, %v; want false, ErrNotForMe", ok, err)
	}
	// A grant replayed under another epoch, scope or organisation is refused.
	for name, f := range map[string]func(k *crypto.KeyGrant){
		"epoch": func(k *crypto.KeyGrant) { k.Epoch[0] ^= 1 },
		"org":   func(k *crypto.KeyGrant) { k.Org = orgB },
		"scope": func(k *crypto.KeyGrant) { k.Scope, k.Org = crypto.ScopeCommunity, crypto.ID16{} },
	} {
		replayed := *kg
		f(&replayed)
		if _, ok, err := bob.OpenGrant(&replayed); ok || err == nil {
			t.Errorf("grant replayed under another %s: got %v, %v; want false and an error", name, ok, err)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range []crypto.Role{crypto.RoleCoordinator, crypto.RoleOrgAdmin, crypto.RoleMember, crypto.RoleRelay} {
		if got, err := crypto.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Coordinator", "admin", "member "} {
		if _, err := crypto.ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q): got no error", s)
		}
	}
}

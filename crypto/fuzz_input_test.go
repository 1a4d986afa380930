package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// keyFilePlain is the decrypted text of d's key file, as WriteKeyFile
// writes it.
func keyFilePlain(d *Device) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Noroshi device key file. Keep it secret; never copy it to a second machine.\n")
	fmt.Fprintf(&b, "# noroshi-key-file: %d\n", keyFileVersion)
	fmt.Fprintf(&b, "# created: 2026-07-24T09:30:00Z\n")
	fmt.Fprintf(&b, "# device-id: %s\n", d.ID())
	fmt.Fprintf(&b, "# name: %s\n", d.Name)
	fmt.Fprintf(&b, "# signing-key: %s\n", base64.RawStdEncoding.EncodeToString(d.sign.Seed()))
	fmt.Fprintf(&b, "%s\n", d.age.String())
	return b.Bytes()
}

// FuzzParseKeyFile: a key file is read from disk, where anything may have
// been copied over it. What age decrypts is parsed without a panic, and a
// file that parses gives a device whose own key file parses back to it.
func FuzzParseKeyFile(f *testing.F) {
	d, err := NewDevice(rand.Reader, "Fuzz 太郎")
	if err != nil {
		f.Fatal(err)
	}
	plain := keyFilePlain(d)
	f.Add(plain)
	f.Add([]byte(strings.Replace(string(plain), "noroshi-key-file: 1", "noroshi-key-file: 2", 1)))
	f.Add([]byte("# noroshi-key-file: 1\n# signing-key: AAAA\nAGE-SECRET-KEY-PQ-1XYZ\n"))
	f.Add([]byte("# noroshi-key-file: -9223372036854775809\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxKeyFile {
			return
		}
		got, err := parseKeyFile(b)
		if err != nil {
			return
		}
		if got.sign == nil || got.age == nil {
			t.Fatal("a key file without its keys parsed")
		}
		again, err := parseKeyFile(keyFilePlain(got))
		if err != nil {
			t.Fatalf("the key file of a parsed device does not parse: %v", err)
		}
		if again.ID() != got.ID() || again.age.String() != got.age.String() {
			t.Fatal("the key file of a parsed device gives another device")
		}
	})
}

// FuzzParseDeviceID: device and person IDs are pasted by people and read
// from files and messages. Whatever parses prints back as the same ID.
func FuzzParseDeviceID(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add(strings.Repeat("AB", 16))
	f.Add("zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDeviceID(s); err == nil {
			if back, err := ParseDeviceID(d.String()); err != nil || back != d {
				t.Fatalf("device ID %q prints as %s, which reads back as %s, %v", s, d, back, err)
			}
			if !strings.EqualFold(d.String(), s) {
				t.Fatalf("device ID %q prints as %s", s, d)
			}
		}
		var d DeviceID
		if err := d.UnmarshalText([]byte(s)); err == nil && !strings.EqualFold(d.String(), s) {
			t.Fatalf("device ID %q unmarshals as %s", s, d)
		}
		var id ID16
		if err := id.UnmarshalText([]byte(s)); err == nil {
			if !strings.EqualFold(id.String(), s) {
				t.Fatalf("ID %q unmarshals as %s", s, id)
			}
			var back ID16
			if b, _ := id.MarshalText(); back.UnmarshalText(b) != nil || back != id {
				t.Fatalf("ID %s does not read back", id)
			}
		}
	})
}

// FuzzOpenFrom: what is sealed to a device (invites, bundles, key grants,
// sealed reasons) arrives from outside. Opening damaged or foreign bytes
// fails without a panic and never returns more than the budget.
func FuzzOpenFrom(f *testing.F) {
	d, err := NewDevice(rand.Reader, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	_, sealed, err := NewViewKey(rand.Reader, d)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\nAAAA\n--- AAAA\n"))
	f.Add([]byte("age-encryption.org/v1\n-> mlkem768x25519 AAAA\nAAAA\n--- AAAA\n"))
	const budget = 1 << 10
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		if plain, err := OpenFrom(b, budget, d.Identity()); err == nil && len(plain) > budget {
			t.Fatalf("opened %d bytes, more than the budget of %d", len(plain), budget)
		}
		d.OpenViewKey(b)
	})
}

package crypto_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
)

var keyFileTime = time.Date(2026, 7, 24, 9, 30, 0, 0, time.UTC)

// writeKeyFile writes d's key file with the test work factor.
func writeKeyFile(t testing.TB, d *crypto.Device, passphrase string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := crypto.WriteKeyFile(&buf, d, passphrase, cryptotest.WorkFactor, keyFileTime); err != nil {
		t.Fatalf("WriteKeyFile: %v", err)
	}
	return buf.Bytes()
}

// scryptEncrypt encrypts plain with passphrase as age does, without going
// through WriteKeyFile: it builds key files WriteKeyFile would never write.
func scryptEncrypt(t testing.TB, plain, passphrase string) []byte {
	t.Helper()
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(cryptotest.WorkFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scryptDecrypt decrypts a key file as the age library does.
func scryptDecrypt(t testing.TB, file []byte, passphrase string) string {
	t.Helper()
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatalf("age.Decrypt of the key file: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeyFileRoundTrip(t *testing.T) {
	tests := []struct {
		name, devName, wantName, passphrase string
	}{
		{"plain", "Alice Example", "Alice Example", "correct horse battery staple"},
		{"unicode", "渡辺 さくら", "渡辺 さくら", "パスフレーズ"},
		{"empty name", "", "", "p"},
		{"newline in name", "Bob\n# signing-key: AAAA", "Bob # signing-key: AAAA", "p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := cryptotest.Device(t, tt.devName)
			file := writeKeyFile(t, d, tt.passphrase)
			got, err := crypto.ReadKeyFile(bytes.NewReader(file), tt.passphrase)
			if err != nil {
				t.Fatalf("ReadKeyFile: %v", err)
			}
			if got.ID() != d.ID() {
				t.Errorf("device ID %s, want %s", got.ID(), d.ID())
			}
			if got.Public() != d.Public() {
				t.Errorf("public keys %+v, want %+v", got.Public(), d.Public())
			}
			if got.Name != tt.wantName {
				t.Errorf("name %q, want %q", got.Name, tt.wantName)
			}
			msg := []byte("signed after a round trip")
			if !crypto.VerifyBytes(d.ID(), msg, got.SignBytes(msg)) {
				t.Errorf("the read signing key does not sign for %s", d.ID().Short())
			}
			// The read age identity opens what was sealed to the original.
			sealed, err := crypto.SealTo(cryptotest.Rand("kf"), msg, crypto.Audience{Devices: []crypto.PublicDevice{d.Public()}})
			if err != nil {
				t.Fatal(err)
			}
			if plain, err := crypto.OpenFrom(sealed, 1024, got.Identity()); err != nil || !bytes.Equal(plain, msg) {
				t.Errorf("OpenFrom with the read identity: got %q, %v; want %q", plain, err, msg)
			}
			// The plaintext is an age identity file with the documented comment lines.
			plain := scryptDecrypt(t, file, tt.passphrase)
			for _, want := range []string{
				"# noroshi-key-file: 1\n",
				"# created: 2026-07-24T09:30:00Z\n",
				"# device-id: " + d.ID().String() + "\n",
				"# signing-key: ",
				"\nAGE-SECRET-KEY-PQ-1",
			} {
				if !strings.Contains(plain, want) {
					t.Errorf("key file plaintext lacks %q:\n%s", want, plain)
				}
			}
		})
	}
}

func TestKeyFileWrongPassphrase(t *testing.T) {
	d := cryptotest.Device(t, "alice")
	file := writeKeyFile(t, d, "right")
	for _, p := range []string{"wrong", "Right", "right ", "righ"} {
		_, err := crypto.ReadKeyFile(bytes.NewReader(file), p)
		if !errors.Is(err, crypto.ErrWrongPassphrase) {
			t.Errorf("ReadKeyFile with passphrase %q: got %v, want ErrWrongPassphrase", p, err)
		}
	}
	if _, err := crypto.ReadKeyFile(bytes.NewReader(file), ""); err == nil {
		t.Errorf("ReadKeyFile with an empty passphrase: got no error")
	}
}

func TestWriteKeyFileRefuses(t *testing.T) {
	d := cryptotest.Device(t, "alice")
	tests := []struct {
		name       string
		passphrase string
		workFactor int
	}{
		{"empty passphrase", "", cryptotest.WorkFactor},
		{"work factor 0", "p", 0},
		{"work factor 31", "p", 31},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := crypto.WriteKeyFile(&buf, d, tt.passphrase, tt.workFactor, keyFileTime); err == nil {
			t.Errorf("%s: got no error, want one", tt.name)
		}
	}
}

func TestKeyFileDamaged(t *testing.T) {
	d := cryptotest.Device(t, "alice")
	const pass = "p"
	file := writeKeyFile(t, d, pass)

	// Any damage gives an error, never a panic and never a device.
	check := func(name string, b []byte) error {
		t.Helper()
		got, err := crypto.ReadKeyFile(bytes.NewReader(b), pass)
		if err == nil {
			t.Errorf("%s: got device %s, want an error", name, got.ID().Short())
		}
		return err
	}
	for i := 0; i < len(file); i += 11 {
		check("truncated", file[:i])
	}
	for i := 0; i < len(file); i += 17 {
		b := bytes.Clone(file)
		b[i] ^= 0x20
		check("flipped", b)
	}

	// The body (after the header) is authenticated: damage there is "damaged".
	body := bytes.Index(file, []byte("\n---")) + 48
	b := bytes.Clone(file)
	b[body+10] ^= 1
	if err := check("flipped body", b); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("flipped body: got %v, want an error saying damaged", err)
	}

	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a Noroshi key file"},
		{"text", []byte("AGE-SECRET-KEY-PQ-1 is not encrypted\n"), "not a Noroshi key file"},
		{"too large", bytes.Repeat([]byte{'a'}, 1<<20), "larger than"},
		{"encrypted to a key", sealedToKey(t), "not protected by a passphrase"},
		{"no format line", scryptEncrypt(t, "# signing-key: x\nAGE-SECRET-KEY-PQ-1X\n", pass), "no format line"},
		{"version 0", scryptEncrypt(t, "# noroshi-key-file: 0\n", pass), "no format line"},
		{"negative version", scryptEncrypt(t, "# noroshi-key-file: -1\n", pass), "unknown format version"},
		{"unreadable version", scryptEncrypt(t, "# noroshi-key-file: one\n", pass), "unreadable format version"},
		{"bad signing key", scryptEncrypt(t, "# noroshi-key-file: 1\n# signing-key: !!!\n", pass), "damaged signing key"},
		{"short signing key", scryptEncrypt(t, "# noroshi-key-file: 1\n# signing-key: AAAA\n", pass), "damaged signing key"},
		{"bad age identity", scryptEncrypt(t, "# noroshi-key-file: 1\nAGE-SECRET-KEY-PQ-1XYZ\n", pass), "key file"},
		{"missing keys", scryptEncrypt(t, "# noroshi-key-file: 1\n", pass), "a key is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check(tt.name, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
			if errors.Is(err, crypto.ErrWrongPassphrase) {
				t.Errorf("got ErrWrongPassphrase for a damaged file")
			}
		})
	}
}

func sealedToKey(t *testing.T) []byte {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "# noroshi-key-file: 1\n")
	w.Close()
	return buf.Bytes()
}

func TestKeyFileNewerVersion(t *testing.T) {
	// A version 2 key file may hold anything else: it must say "upgrade",
	// not "damaged" or "a key is missing".
	d := cryptotest.Device(t, "alice")
	plain := scryptDecrypt(t, writeKeyFile(t, d, "p"), "p")
	for name, p := range map[string]string{
		"v2 with v1 keys":   strings.Replace(plain, "# noroshi-key-file: 1", "# noroshi-key-file: 2", 1),
		"v2 with new lines": "# noroshi-key-file: 2\nNOROSHI-SECRET-KEY-2-SOMETHING-NEW\n",
		"v2 with a new signing key encoding, before the version line": "# signing-key: ed25519:0123456789abcdef\n# noroshi-key-file: 2\n",
	} {
		_, err := crypto.ReadKeyFile(bytes.NewReader(scryptEncrypt(t, p, "p")), "p")
		if err == nil || !strings.Contains(err.Error(), "upgrade") {
			t.Errorf("%s: got %v, want an error saying upgrade", name, err)
		}
	}
}

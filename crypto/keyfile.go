package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
)

// DefaultWorkFactor is age's own scrypt work factor for passphrases (2^18).
// Real key files always use it; only test code passes a lower one.
const DefaultWorkFactor = 18

// keyFileVersion is written into every key file and checked on reading.
const keyFileVersion = 1

// maxKeyFile bounds what ReadKeyFile will read.
const maxKeyFile = 64 << 10

// ErrWrongPassphrase is returned by ReadKeyFile for a passphrase that does
// not open the key file.
var ErrWrongPassphrase = errors.New("wrong passphrase for this key file")

// WriteKeyFile writes d to w as an age file encrypted with passphrase
// (scrypt, 2^workFactor). Decrypted with the stock age command it is a valid
// age identity file: the age identity on its own line, the signing key and
// the format version in comment lines.
func WriteKeyFile(w io.Writer, d *Device, passphrase string, workFactor int, now time.Time) error {
	if passphrase == "" {
		return errors.New("empty passphrase: choose a passphrase to protect the key file")
	}
	if workFactor < 1 || workFactor > 30 {
		return fmt.Errorf("scrypt work factor %d out of range", workFactor)
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	r.SetWorkFactor(workFactor)
	var plain bytes.Buffer
	fmt.Fprintf(&plain, "# Noroshi device key file. Keep it secret; never copy it to a second machine.\n")
	fmt.Fprintf(&plain, "# noroshi-key-file: %d\n", keyFileVersion)
	fmt.Fprintf(&plain, "# created: %s\n", now.Format(time.RFC3339))
	fmt.Fprintf(&plain, "# device-id: %s\n", d.ID())
	fmt.Fprintf(&plain, "# name: %s\n", strings.ReplaceAll(d.Name, "\n", " "))
	fmt.Fprintf(&plain, "# signing-key: %s\n", base64.RawStdEncoding.EncodeToString(d.sign.Seed()))
	fmt.Fprintf(&plain, "%s\n", d.age.String())

	enc, err := age.Encrypt(w, r)
	if err != nil {
		return fmt.Errorf("encrypt key file: %w", err)
	}
	if _, err := enc.Write(plain.Bytes()); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// ReadKeyFile opens a key file written by WriteKeyFile.
func ReadKeyFile(r io.Reader, passphrase string) (*Device, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	file, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if len(file) > maxKeyFile {
		return nil, fmt.Errorf("key file larger than %d bytes: not a Noroshi key file", maxKeyFile)
	}
	dec, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) || errors.Is(err, age.ErrIncorrectIdentity) {
			// age says the same for a wrong passphrase and for a file
			// encrypted to a key rather than a passphrase: tell them apart.
			if !bytes.HasPrefix(file, []byte("age-encryption.org/v1\n-> scrypt ")) {
				return nil, errors.New("key file is not protected by a passphrase: not a Noroshi key file")
			}
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("key file is damaged or not a Noroshi key file: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(dec, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("key file is damaged: %w", err)
	}
	return parseKeyFile(plain)
}

func parseKeyFile(plain []byte) (*Device, error) {
	lines := strings.Split(string(plain), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	// The format version first: a newer format may write its keys in a way
	// this program cannot parse, and must then be told to upgrade, not that
	// the file is damaged.
	version := 0
	for _, line := range lines {
		if v, ok := strings.CutPrefix(line, "# noroshi-key-file: "); ok {
			if _, err := fmt.Sscanf(v, "%d", &version); err != nil {
				return nil, errors.New("key file: unreadable format version")
			}
		}
	}
	switch {
	case version == 0:
		return nil, errors.New("key file: not a Noroshi key file (no format line)")
	case version < 0:
		return nil, fmt.Errorf("key file: unknown format version %d", version)
	case version > keyFileVersion:
		return nil, fmt.Errorf("key file format %d is newer than this program reads (%d): upgrade Noroshi", version, keyFileVersion)
	}
	d := &Device{}
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "# name: "):
			d.Name = strings.TrimPrefix(line, "# name: ")
		case strings.HasPrefix(line, "# signing-key: "):
			seed, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(line, "# signing-key: "))
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, errors.New("key file: damaged signing key")
			}
			d.sign = ed25519.NewKeyFromSeed(seed)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err := age.ParseHybridIdentity(line)
			if err != nil {
				return nil, fmt.Errorf("key file: %w", err)
			}
			d.age = id
		}
	}
	if d.sign == nil || d.age == nil {
		return nil, errors.New("key file: a key is missing")
	}
	return d, nil
}

package app

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"noroshi/crypto"
)

// Files in a home directory.
const (
	KeyFileName   = "key.age"
	StoreFileName = "store.db"
	SocketName    = "control.sock"
)

// Config configures an App. Time, randomness and logging are passed in so
// that tests control them.
type Config struct {
	Home string
	// WorkFactor is the scrypt work factor for a new key file; real homes use
	// crypto.DefaultWorkFactor, only test code passes less.
	WorkFactor int
	// ReadBatch is how long read receipts gather before they are sent as one
	// envelope.
	ReadBatch time.Duration
	// MaxAttachment bounds one attached file.
	MaxAttachment int64
	Now           func() time.Time
	Rand          io.Reader
	Logf          func(format string, args ...any)
	// Progress, when set, hears how a long fold of the views goes (the
	// first open of a big home, or after an upgrade): done of total
	// envelopes.
	Progress func(done, total uint64)
}

// DefaultConfig returns the configuration for a real home.
func DefaultConfig(home string) Config {
	return Config{
		Home:          home,
		WorkFactor:    crypto.DefaultWorkFactor,
		ReadBatch:     time.Minute,
		MaxAttachment: MaxAttachmentSize,
		Now:           time.Now,
		Rand:          rand.Reader,
		Logf:          func(string, ...any) {},
	}
}

func (c *Config) fill() {
	d := DefaultConfig(c.Home)
	if c.WorkFactor == 0 {
		c.WorkFactor = d.WorkFactor
	}
	if c.ReadBatch == 0 {
		c.ReadBatch = d.ReadBatch
	}
	if c.MaxAttachment == 0 {
		c.MaxAttachment = d.MaxAttachment
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Rand == nil {
		c.Rand = d.Rand
	}
	if c.Logf == nil {
		c.Logf = d.Logf
	}
}

// DefaultHome returns the per-user data directory for Noroshi: on Linux
// $XDG_DATA_HOME/noroshi or ~/.local/share/noroshi.
func DefaultHome() (string, error) {
	switch runtime.GOOS {
	case "windows", "darwin":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "Noroshi"), nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "noroshi"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", &FieldError{Err: ErrNoHome, Field: FieldHome, Reason: ReasonRequired, Detail: err.Error()}
	}
	return filepath.Join(h, ".local", "share", "noroshi"), nil
}

// HasIdentity reports whether home holds a key file.
func HasIdentity(home string) bool {
	_, err := os.Stat(filepath.Join(home, KeyFileName))
	return err == nil
}

// Init creates a device identity in cfg.Home: a new key file protected by
// passphrase. It refuses to overwrite an existing one.
func Init(cfg Config, name, passphrase string) (crypto.PublicDevice, error) {
	cfg.fill()
	if name == "" {
		return crypto.PublicDevice{}, &FieldError{Of: OfIdentity, Field: FieldName, Reason: ReasonRequired}
	}
	if err := CheckPassphrase(passphrase); err != nil {
		return crypto.PublicDevice{}, err
	}
	if HasIdentity(cfg.Home) {
		return crypto.PublicDevice{}, &FieldError{Err: ErrHasIdentity, Of: OfIdentity, Field: FieldHome, Reason: ReasonExists, Value: cfg.Home}
	}
	if err := os.MkdirAll(cfg.Home, 0o700); err != nil {
		return crypto.PublicDevice{}, fmt.Errorf("create home: %w", err)
	}
	d, err := crypto.NewDevice(cfg.Rand, name)
	if err != nil {
		return crypto.PublicDevice{}, err
	}
	var buf bytes.Buffer
	if err := crypto.WriteKeyFile(&buf, d, passphrase, cfg.WorkFactor, cfg.Now()); err != nil {
		return crypto.PublicDevice{}, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.Home, KeyFileName), buf.Bytes(), 0o600); err != nil {
		return crypto.PublicDevice{}, fmt.Errorf("write key file: %w", err)
	}
	return d.Public(), nil
}

// ReadDevice opens the home's key file.
func ReadDevice(home, passphrase string) (*crypto.Device, error) {
	f, err := os.Open(filepath.Join(home, KeyFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &FieldError{Err: ErrNoIdentity, Of: OfIdentity, Field: FieldHome, Reason: ReasonEmpty, Value: home}
	}
	if err != nil {
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	d, err := crypto.ReadKeyFile(f, passphrase)
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return nil, fmt.Errorf("%w: try again, or set NOROSHI_PASSPHRASE correctly", err)
	}
	return d, err
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

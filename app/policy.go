package app

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"
)

// Rules the front ends apply before or around calling app, each kept here
// once: the passphrase policy, the attachment size limit, where the demo
// lives, and when read receipts go out.

// MinPassphrase is the shortest passphrase a key file accepts, in
// characters.
const MinPassphrase = 8

// CheckPassphrase applies the passphrase policy to a new passphrase.
func CheckPassphrase(p string) error {
	if utf8.RuneCountInString(p) < MinPassphrase {
		return &FieldError{Of: OfIdentity, Field: FieldPassphrase, Reason: ReasonTooShort, Min: MinPassphrase}
	}
	return nil
}

// MaxAttachmentSize is the default bound on one attached file. A front end
// reads at most this much of a file before handing it to app, which checks
// the bound of its Config (App.MaxAttachment).
const MaxAttachmentSize = 25 << 20

// MaxAttachment returns the bound on one attached file of this app.
func (a *App) MaxAttachment() int64 { return a.cfg.MaxAttachment }

// ErrNotDemo says that a home meant for the demo holds something else.
var ErrNotDemo = errors.New("not the demo")

// DemoHome returns where the demo community lives: home when one is given
// (an absolute path), else the per-user data directory's "noroshi-demo",
// beside the default home and never mixed with it.
func DemoHome(home string) (string, error) {
	if home != "" {
		return home, nil
	}
	def, err := DefaultHome()
	if err != nil {
		return "", err
	}
	return def + "-demo", nil
}

// OpenDemo opens the demo community in cfg.Home, creating it there first
// when the home is empty (HasIdentity tells which). It refuses a home that
// holds anything but the demo, with ErrNotDemo.
func OpenDemo(cfg Config) (*App, error) {
	if !HasIdentity(cfg.Home) {
		return Demo(cfg)
	}
	a, err := Open(cfg, DemoPassphrase)
	if errors.Is(err, ErrNotAllowed) || (err != nil && errors.Is(err, context.Canceled)) {
		return nil, err
	}
	if err != nil {
		// The demo passphrase does not open it.
		return nil, &FieldError{Err: ErrNotDemo, Of: OfDemo, Field: FieldHome, Reason: ReasonNotDemo, Value: cfg.Home, With: FieldPassphrase}
	}
	if !a.WhoAmI().Demo {
		a.Close()
		return nil, &FieldError{Err: ErrNotDemo, Of: OfDemo, Field: FieldHome, Reason: ReasonNotDemo, Value: cfg.Home}
	}
	return a, nil
}

// flushMu serialises sending read receipts, so that a periodic flush and
// one after a read never send the same receipts twice.
var flushMu sync.Mutex

// FlushDueReads sends the read receipts gathered in earlier runs once their
// batch (Config.ReadBatch) is due. A CLI process calls it when it opens a
// home. Having no community or a revoked device is not an error here: the
// receipts stay until they can go.
func (a *App) FlushDueReads() error {
	if err := a.FlushDueActivity(); err != nil { // topic views, batched alike (metrics.go)
		a.cfg.Logf("activity: %v", err)
	}
	_, err := a.FlushReads(false)
	var revoked *RevokedError
	if errors.Is(err, ErrNoCommunity) || errors.As(err, &revoked) {
		return nil
	}
	return err
}

// HoldReadReceipts is for a process that holds the home open (serve, the
// desktop app): it sends due read receipts as their batch falls due. stop
// ends that and sends the rest at once; its error says what was not sent.
func (a *App) HoldReadReceipts() (stop func() error) {
	every := a.cfg.ReadBatch / 4
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := a.FlushDueReads(); err != nil {
					a.cfg.Logf("read receipts: %v", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			close(done)
			wg.Wait()
			_, err = a.FlushReads(true)
			if _, aerr := a.FlushActivity(true); aerr != nil { // metrics.go
				a.cfg.Logf("activity: %v", aerr)
			}
			var revoked *RevokedError
			if errors.Is(err, ErrNoCommunity) || errors.As(err, &revoked) {
				err = nil
			}
		})
		return err
	}
}

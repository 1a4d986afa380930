package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"filippo.io/age"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// App is one unlocked device in one home: its keys, its store and the views
// folded from it. It is safe for concurrent use.
type App struct {
	cfg   Config
	dev   *crypto.Device
	store *replica.Store
	clock *replica.HLC

	// wmu serialises this device's own writes: each takes the next position
	// in the device's chain.
	wmu sync.Mutex

	mu      sync.RWMutex // guards everything below
	keys    *crypto.Keyring
	epochs  map[crypto.EpochID]epochInfo
	view    *state
	lastSeq uint64
	// locked lists, in the order stored, the sealed envelopes this device
	// had no key for yet (a relay: all of them). Only their IDs: the
	// payloads stay in the store and are read again when a key arrives.
	locked []envelope.Hash
	// announce, when the network runs, tells peers about new envelopes.
	announce func(...envelope.Hash)
	// holders, when the network runs, says which peers hold this
	// device's envelope of a given sequence.
	holders func(seq uint64) []crypto.DeviceID

	chmu    sync.Mutex
	changed chan struct{} // closed at the next change; see Changed
}

// epochInfo says what a group key epoch is for and when it was granted.
type epochInfo struct {
	scope crypto.Scope
	org   crypto.ID16
	clock uint64
}

// Open unlocks the home's key file with passphrase and opens its store.
func Open(cfg Config, passphrase string) (*App, error) {
	cfg.fill()
	dev, err := ReadDevice(cfg.Home, passphrase)
	if err != nil {
		return nil, err
	}
	return OpenDevice(cfg, dev)
}

// OpenDevice opens the home's store for an already unlocked device.
func OpenDevice(cfg Config, dev *crypto.Device) (*App, error) {
	cfg.fill()
	sc := replica.DefaultConfig(filepath.Join(cfg.Home, StoreFileName), dev.ID())
	sc.Now = cfg.Now
	sc.Logf = cfg.Logf
	sc.KeepAllPayloads = cfg.Relay
	st, err := replica.Open(sc)
	if errors.Is(err, replica.ErrLocked) {
		return nil, fmt.Errorf("%w: another noroshi process (the app or `noroshi serve`) holds %s and does not answer on its control socket; close it and try again", err, cfg.Home)
	}
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, dev: dev, store: st, clock: replica.NewHLC(cfg.Now)}
	if err := a.rebuild(); err != nil {
		st.Close()
		return nil, err
	}
	a.observeOwnClock()
	a.relayMode()
	return a, nil
}

// observeOwnClock moves the clock past this device's last header, so a
// device whose wall clock went back still writes increasing clocks.
func (a *App) observeOwnClock() {
	h := a.store.Head(a.dev.ID())
	if h.Seq == 0 {
		return
	}
	if e, err := a.store.Get(h.Head); err == nil {
		a.clock.Observe(e.Header.Clock)
	}
}

// Close flushes pending read receipts when their time has come, and closes the store.
func (a *App) Close() error {
	return a.store.Close()
}

// Device returns this device's public keys.
func (a *App) Device() crypto.PublicDevice { return a.dev.Public() }

// Home returns the home directory.
func (a *App) Home() string { return a.cfg.Home }

// Store returns the envelope store, for replication and bundles.
func (a *App) Store() *replica.Store { return a.store }

// rebuild folds the whole store from scratch.
func (a *App) rebuild() error {
	defer a.notify()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = crypto.NewKeyring()
	a.epochs = map[crypto.EpochID]epochInfo{}
	a.view = newState()
	a.lastSeq = 0
	a.locked = nil
	return a.foldLocked()
}

// isRelay reports whether this device is a relay, which is granted no
// group key.
func (a *App) isRelay(trust *crypto.Trust) bool {
	m, ok := trust.Member(a.dev.ID())
	return ok && m.Role == crypto.RoleRelay
}

// relayMode makes a relay's store keep every payload: a relay stores and
// forwards what it cannot read, RED included, so that it reaches recipients
// who were offline.
func (a *App) relayMode() {
	if m, ok := a.store.Trust().Member(a.dev.ID()); ok && m.Role == crypto.RoleRelay {
		a.store.SetKeepAllPayloads(true)
	}
}

// refresh folds what arrived since the last fold; after a purge, everything.
func (a *App) refresh(res replica.Result) error {
	defer a.relayMode()
	if res.Purged > 0 {
		return a.rebuild()
	}
	defer a.notify()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.foldLocked()
}

func (a *App) foldLocked() error {
	trust := a.store.Trust()
	a.view.trust = trust
	var newKey bool
	err := a.store.Since(a.lastSeq, func(seq uint64, e *envelope.Envelope) error {
		a.lastSeq = seq
		if a.foldEnvelope(e, trust) {
			newKey = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read store: %w", err)
	}
	if newKey && len(a.locked) > 0 {
		a.reopenLocked()
	}
	return nil
}

// reopenLocked tries again, in the order stored, the sealed envelopes this
// device could not open, reading each from the store.
func (a *App) reopenLocked() {
	still := a.locked[:0]
	for _, id := range a.locked {
		e, err := a.store.Get(id)
		if err != nil || e.Payload == nil {
			continue // purged, or its payload dropped: nothing to open
		}
		if !a.openAndFold(e) {
			still = append(still, id)
		}
	}
	clear(a.locked[len(still):])
	a.locked = still
}

// foldEnvelope folds one envelope and reports whether it brought a new key.
func (a *App) foldEnvelope(e *envelope.Envelope, trust *crypto.Trust) bool {
	h := e.Header
	switch h.Class {
	case envelope.ClassCertificate:
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil {
			return false
		}
		if kg := c.KeyGrant; kg != nil {
			g, ok, err := a.dev.OpenGrant(kg)
			if err != nil {
				a.cfg.Logf("key grant %s: %v", h.ID().String()[:12], err)
			}
			// A key counts only when it matches the commitment the
			// community agreed for its epoch (see crypto.Trust): a
			// second, different key under a real epoch is ignored, even
			// when it arrives first.
			info, known := trust.Epoch(g.Epoch)
			if ok && (!known || info.Commitment != kg.Commitment) {
				a.cfg.Logf("key grant %s: epoch %x not agreed by the community: ignored", h.ID().String()[:12], g.Epoch[:6])
				ok = false
			}
			if ok && !a.keys.Has(g.Epoch) {
				a.keys.Add(g)
				a.epochs[g.Epoch] = epochInfo{scope: kg.Scope, org: kg.Org, clock: h.Clock}
				// A transport key opens no record: nothing locked moves.
				return kg.Scope != crypto.ScopeTransport
			}
		}
	case envelope.ClassRetraction:
		r, err := crypto.DecodeRetraction(e.Payload)
		if err != nil {
			return false
		}
		reason := ""
		if len(r.SealedReason) > 0 {
			if b, err := crypto.OpenFrom(r.SealedReason, 64<<10, a.keys); err == nil {
				reason = string(b)
			}
		}
		a.view.retract(h, r.Target, reason)
	case envelope.ClassSealed:
		if e.Payload == nil {
			return false
		}
		// Only an envelope sealed to a group key epoch may open later
		// (when that key arrives); one addressed to other devices never
		// will, and a relay holds no group key at all.
		if !a.openAndFold(e) && len(h.Epochs) > 0 && !a.isRelay(trust) {
			a.locked = append(a.locked, h.ID())
		}
	}
	return false
}

// openAndFold opens a sealed envelope and folds its record; false when this
// device holds no key for it (yet).
func (a *App) openAndFold(e *envelope.Envelope) bool {
	plain, err := crypto.Open(e, a.dev.Identity(), a.keys)
	if errors.Is(err, crypto.ErrNotForMe) {
		return false
	}
	if err != nil {
		a.cfg.Logf("open %s: %v", e.Header.ID().String()[:12], err)
		return true
	}
	rec, err := DecodeRecord(plain)
	if err != nil {
		a.cfg.Logf("record %s: %v", e.Header.ID().String()[:12], err)
		return true
	}
	a.view.record(e.Header, rec)
	return true
}

// currentKey returns the newest epoch of a scope that this device holds
// and that the community agreed (created by a device allowed to, at its
// position: see crypto.Trust), newest by its creation's clock.
func (a *App) currentKey(scope crypto.Scope, org crypto.ID16) (crypto.GroupKey, bool) {
	var best crypto.EpochID
	var bestClock uint64
	found := false
	for e := range a.epochs {
		info, ok := a.view.trust.Epoch(e)
		if !ok || info.Scope != scope || info.Org != org {
			continue
		}
		if !found || info.Clock > bestClock || (info.Clock == bestClock && string(e[:]) > string(best[:])) {
			best, bestClock, found = e, info.Clock, true
		}
	}
	if !found {
		return crypto.GroupKey{}, false
	}
	return a.keys.Get(best)
}

// builder makes one envelope at a given chain position and clock.
type builder func(pos crypto.Position, clock uint64) (*envelope.Envelope, error)

// write builds envelopes at the next positions of this device's chain, adds
// them in one commit, and folds them into the views. It returns their IDs.
func (a *App) write(builders ...builder) ([]envelope.Hash, error) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	head := a.store.Head(a.dev.ID())
	pos := crypto.Position{Seq: head.Seq + 1, Prev: head.Head}
	envs := make([]*envelope.Envelope, 0, len(builders))
	ids := make([]envelope.Hash, 0, len(builders))
	for _, b := range builders {
		e, err := b(pos, a.clock.Now())
		if err != nil {
			return nil, err
		}
		id := e.ID()
		envs = append(envs, e)
		ids = append(ids, id)
		pos = pos.Next(id)
	}
	res, err := a.store.AddOwn(envs...)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAllowed, err)
	}
	if res.Pending > 0 {
		return nil, fmt.Errorf("%w: this device's membership is not known to its own store", ErrNotAllowed)
	}
	if err := a.refresh(res); err != nil {
		return nil, err
	}
	a.announceIDs(ids)
	return ids, nil
}

// sealed returns a builder for a sealed record.
func (a *App) sealed(aud crypto.Audience, rec *Record) builder {
	return func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		plain, err := rec.Encode()
		if err != nil {
			return nil, err
		}
		return a.dev.Seal(a.cfg.Rand, a.store.Community(), pos, clock, aud, plain)
	}
}

// cert returns a builder for a certificate.
func (a *App) cert(c *crypto.Certificate) builder {
	return func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		return a.dev.NewCertificate(c, pos, clock)
	}
}

// identities returns what opens payloads on this device.
func (a *App) identities() []age.Identity { return []age.Identity{a.dev.Identity(), a.keys} }

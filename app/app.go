package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

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

	mu     sync.RWMutex // guards everything below
	keys   *crypto.Keyring
	epochs map[crypto.EpochID]epochInfo
	view   *state
	// vkey seals the persisted views (see view.go); folded and removed are
	// how far they follow the store's log and its removals.
	vkey    *crypto.ViewKey
	folded  uint64
	removed uint64
	// exportGen moves whenever the views change in a way that what leaves
	// for machines (the indicator feed, TAXII) may change: a post, comment,
	// incident, profile, certificate or removal folded; not a read
	// receipt, which arrives every minute from every reading member.
	exportGen uint64

	// walkedSince counts view records read since the store's pages were
	// last released; release releases them when the process is idle (see
	// walked). release is guarded by chmu.
	walkedSince atomic.Int64
	release     *time.Timer
	// net is the network while it runs (StartNetwork to Network.Close):
	// the delivery view asks it which peers hold this device's envelopes.
	net *Network

	chmu    sync.Mutex
	changed chan struct{} // closed at the next change; see Changed

	// assetCache holds the index of the asset registers (assets.go).
	assetCache assetCache

	stop    chan struct{} // closed by Close: the fold loop stops
	stopped chan struct{} // closed when the fold loop has stopped
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
	// The unlock's scrypt buffer (256 MiB at the default work factor) is
	// garbage now: give it back to the OS at once rather than over the
	// minutes the runtime's scavenger takes, so that a long-running
	// process (serve, the app) rests at what it holds.
	debug.FreeOSMemory()
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
	st, err := replica.Open(sc)
	if errors.Is(err, replica.ErrLocked) {
		return nil, fmt.Errorf("%w: another noroshi process (the desktop app or `noroshi serve`) has %s open; close it and try again", err, cfg.Home)
	}
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, dev: dev, store: st, clock: replica.NewHLC(cfg.Now), stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := a.openAndCatchUp(); err != nil {
		st.Close()
		return nil, err
	}
	a.observeOwnClock()
	a.relayMode()
	go a.foldLoop()
	return a, nil
}

// openAndCatchUp opens the persisted views, loads what they hold in memory
// and folds what the store holds beyond them.
func (a *App) openAndCatchUp() error {
	defer a.notify()
	a.mu.Lock()
	defer a.mu.Unlock()
	folded, removed, err := a.openViews()
	if err != nil {
		return err
	}
	a.folded, a.removed = folded, removed
	if err := a.loadViews(); err != nil {
		return fmt.Errorf("load views: %w", err)
	}
	// Records locked under a key that is held: the last run stopped
	// between storing the key and opening them. They open before what
	// follows the key is folded, as they would have without the stop.
	if err := a.reopenLocked(a.keys.Epochs(), a.view.trust); err != nil {
		return fmt.Errorf("open records locked under a held key: %w", err)
	}
	if err := a.foldLocked(); err != nil {
		return err
	}
	if err := a.reopenLocked(a.keys.Epochs(), a.view.trust); err != nil {
		return fmt.Errorf("open records locked under a held key: %w", err)
	}
	return nil
}

// foldLoop folds into the views whatever the store commits (a sync, a
// bundle, the gossip node, this device's own writes): the store's one
// change signal drives it.
func (a *App) foldLoop() {
	defer close(a.stopped)
	for {
		// The signal is taken before the fold: a commit that lands while
		// it runs wakes the next round.
		changed := a.store.Changed()
		if err := a.refresh(); err != nil {
			a.cfg.Logf("views: %v", err)
		}
		select {
		case <-a.stop:
			return
		case <-changed:
		}
	}
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

// Close stops folding and closes the store.
func (a *App) Close() error {
	a.chmu.Lock()
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	if a.release != nil {
		a.release.Stop()
	}
	a.chmu.Unlock()
	<-a.stopped
	return a.store.Close()
}

// Device returns this device's public keys.
func (a *App) Device() crypto.PublicDevice { return a.dev.Public() }

// Home returns the home directory.
func (a *App) Home() string { return a.cfg.Home }

// Store returns the envelope store, for replication and bundles.
func (a *App) Store() *replica.Store { return a.store }

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

// refresh folds what arrived or was removed since the last fold.
func (a *App) refresh() error {
	defer a.relayMode()
	defer a.notify()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.foldLocked()
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
	if err := a.refresh(); err != nil {
		return nil, err
	}
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

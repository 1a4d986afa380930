package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// A bundle file carries envelopes across an air gap: the replica bundle
// format, sealed with age to the community's current key, so any member can
// import it and nobody outside can read even its headers. Every envelope is
// verified on import like one received from a peer; import is idempotent.

const (
	bundleType    = "noroshi-air-gap-bundle"
	bundleVersion = 1
	maxBundle     = 4 << 30
)

type bundleMeta struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	Community envelope.Hash   `json:"community"`
	From      crypto.DeviceID `json:"from"`
	Count     int             `json:"count"`
}

// ImportResult says what an imported bundle brought.
type ImportResult struct {
	Envelopes  int `json:"envelopes"`
	Admitted   int `json:"admitted"`
	Duplicates int `json:"duplicates"`
	Waiting    int `json:"waiting"`
	Refused    int `json:"refused"`
}

// ExportBundle writes every envelope this device holds to w, sealed to the
// community key. Payloads addressed to individual devices (TLP:RED) go in
// too, still sealed to their recipients: an importing device keeps them
// only if it is one of them (or a relay), so RED reaches its recipient
// across an air gap and nobody else.
func (a *App) ExportBundle(w io.Writer) (int, error) {
	aud, err := a.memberAudience()
	if err != nil {
		return 0, err
	}
	var envs []*envelope.Envelope
	if err := a.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
		envs = append(envs, e)
		return nil
	}); err != nil {
		return 0, err
	}
	meta, _ := json.Marshal(bundleMeta{V: bundleVersion, Type: bundleType, Community: a.store.Community(), From: a.dev.ID(), Count: len(envs)})
	var plain bytes.Buffer
	bw, err := replica.NewBundleWriter(&plain, meta)
	if err != nil {
		return 0, err
	}
	for _, e := range envs {
		if err := bw.Add(e); err != nil {
			return 0, err
		}
	}
	if err := bw.Close(); err != nil {
		return 0, err
	}
	sealed, err := crypto.SealTo(a.cfg.Rand, plain.Bytes(), aud)
	if err != nil {
		return 0, err
	}
	_, err = w.Write(sealed)
	return len(envs), err
}

// ImportBundle reads a bundle made by ExportBundle and admits what this
// device lacks. progress, if not nil, is called as envelopes are read.
func (a *App) ImportBundle(sealed []byte, progress func(done, total int)) (ImportResult, error) {
	a.mu.RLock()
	_, err := a.me()
	a.mu.RUnlock()
	if err != nil {
		return ImportResult{}, err
	}
	a.mu.RLock()
	plain, err := crypto.OpenFrom(sealed, maxBundle, a.identities()...)
	a.mu.RUnlock()
	if errors.Is(err, crypto.ErrNotForMe) {
		return ImportResult{}, fmt.Errorf("%w: this bundle is sealed to a community key this device does not hold (another community, or an epoch it was not given)", ErrInvalid)
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: not a Noroshi bundle (%v)", ErrInvalid, err)
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var meta bundleMeta
	if err := json.Unmarshal(br.Meta, &meta); err != nil || meta.Type != bundleType {
		return ImportResult{}, fmt.Errorf("%w: not a Noroshi bundle", ErrInvalid)
	}
	if meta.V != bundleVersion {
		return ImportResult{}, fmt.Errorf("%w: bundle version %d, this program reads %d: upgrade Noroshi", ErrInvalid, meta.V, bundleVersion)
	}
	if meta.Community != a.store.Community() {
		return ImportResult{}, fmt.Errorf("%w: the bundle belongs to another community", ErrInvalid)
	}
	var r ImportResult
	const batch = 256
	var envs []*envelope.Envelope
	flush := func() error {
		res, err := a.store.Add(envs...)
		if err != nil {
			return err
		}
		r.Admitted += len(res.Admitted)
		r.Duplicates += res.Duplicates
		r.Refused += len(res.Refused)
		envs = envs[:0]
		if progress != nil {
			progress(r.Envelopes, meta.Count)
		}
		return a.refresh(res)
	}
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return r, fmt.Errorf("%w: bundle damaged after %d envelopes (those were imported): %v", ErrInvalid, r.Envelopes, err)
		}
		r.Envelopes++
		envs = append(envs, e)
		if len(envs) == batch {
			if err := flush(); err != nil {
				return r, err
			}
		}
	}
	if err := flush(); err != nil {
		return r, err
	}
	for _, n := range a.store.Pending() {
		r.Waiting += n
	}
	return r, nil
}

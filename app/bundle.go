package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// A bundle file carries envelopes across an air gap. Nobody outside the
// community can read even its headers; every envelope is verified on import
// like one received from a peer; import is idempotent.
//
// Format 2, written here, is two sections in a clear frame
// (replica.AppendSections), each a replica bundle sealed with age:
//
//	trust    what a relay would see of the community's trust: the clear
//	         envelopes whole (genesis, memberships, revocations, key grants,
//	         retractions) and the headers of the sealed envelopes they chain
//	         on. Sealed to every community key epoch the exporter holds, and
//	         to the device key of every active member whose first community
//	         epoch the exporter does not hold.
//	records  every sealed envelope, sealed to the current community key.
//
// So a member cut off from the newest epoch (an air-gapped member after a
// revocation) opens the trust section with a key it holds, admits the
// certificates, opens its grant of the new epoch with its device key, and
// then opens the records. A revoked device opens the trust section too (the
// certificates are public within the community, and the new grants in it
// are sealed to the remaining devices) and so learns it was revoked, but not
// the records. Format 1, a whole file sealed to the community key of its
// day, still imports.
const (
	bundleType    = "noroshi-air-gap-bundle"  // format 1, and format 2's trust section
	recordsType   = "noroshi-air-gap-records" // format 2's records section
	bundleVersion = 2
	maxBundle     = 4 << 30
)

type bundleMeta struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	Community envelope.Hash   `json:"community"`
	From      crypto.DeviceID `json:"from"`
	Count     int             `json:"count"`
	// Records is, in a trust section, how many envelopes the records
	// section holds.
	Records int `json:"records,omitempty"`
}

// ImportResult says what an imported bundle brought.
type ImportResult struct {
	Envelopes  int `json:"envelopes"`
	Admitted   int `json:"admitted"`
	Duplicates int `json:"duplicates"`
	Waiting    int `json:"waiting"`
	Refused    int `json:"refused"`
}

// ExportBundle writes every envelope this device holds to w and returns how
// many. Payloads addressed to individual devices (TLP:RED) go in too, still
// sealed to their recipients: an importing device keeps them only if it is
// one of them (or a relay), so RED reaches its recipient across an air gap
// and nobody else.
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
	a.mu.RLock()
	trustAud := a.trustAudience(envs)
	a.mu.RUnlock()
	trust, records := splitBundle(envs)
	meta := bundleMeta{V: bundleVersion, Type: bundleType, Community: a.store.Community(), From: a.dev.ID(), Count: len(trust), Records: len(records)}
	trustSec, err := a.sealBundle(meta, trust, trustAud)
	if err != nil {
		return 0, err
	}
	meta.Type, meta.Count, meta.Records = recordsType, len(records), 0
	recordsSec, err := a.sealBundle(meta, records, aud)
	if err != nil {
		return 0, err
	}
	file, err := replica.AppendSections(make([]byte, 0, len(trustSec)+len(recordsSec)+64), trustSec, recordsSec)
	if err != nil {
		return 0, err
	}
	_, err = w.Write(file)
	return len(envs), err
}

// splitBundle splits envs (in store order) into a trust section and a
// records section. The trust section holds every envelope that is not
// sealed, and the header alone of each sealed envelope that an envelope of
// the trust section follows in its author's chain, so that the trust
// section is admitted whole without the records. The records section holds
// the other sealed envelopes and the payloads of those whose header is in
// the trust section.
func splitBundle(envs []*envelope.Envelope) (trust, records []*envelope.Envelope) {
	lastClear := map[[32]byte]uint64{}
	for _, e := range envs {
		if h := e.Header; h.Class != envelope.ClassSealed {
			lastClear[h.Author] = max(lastClear[h.Author], h.Seq)
		}
	}
	for _, e := range envs {
		h := e.Header
		switch {
		case h.Class != envelope.ClassSealed:
			trust = append(trust, e)
		case h.Seq < lastClear[h.Author]:
			trust = append(trust, &envelope.Envelope{Header: h})
			if e.Payload != nil {
				records = append(records, e)
			}
		default:
			records = append(records, e)
		}
	}
	return trust, records
}

// trustAudience returns who may open a trust section: every community key
// epoch this device holds, and the device key of every active member
// device (relays aside) whose first community epoch (the one its invite
// carried, which it holds for sure) this device does not hold. The caller
// holds a.mu.
func (a *App) trustAudience(envs []*envelope.Envelope) crypto.Audience {
	var aud crypto.Audience
	held := map[crypto.EpochID]bool{}
	for ep, info := range a.epochs {
		if k, ok := a.keys.Get(ep); ok && info.scope == crypto.ScopeCommunity {
			aud.Groups = append(aud.Groups, k)
			held[ep] = true
		}
	}
	slices.SortFunc(aud.Groups, func(x, y crypto.GroupKey) int { return bytes.Compare(x.Epoch[:], y.Epoch[:]) })
	type first struct {
		clock uint64
		held  bool
	}
	firsts := map[crypto.DeviceID]first{}
	for _, e := range envs {
		if e.Header.Class != envelope.ClassCertificate || e.Payload == nil {
			continue
		}
		c, err := crypto.DecodeCertificate(e.Payload)
		if err != nil || c.KeyGrant == nil || c.KeyGrant.Scope != crypto.ScopeCommunity {
			continue
		}
		clock, h := e.Header.Clock, held[c.KeyGrant.Epoch]
		for _, g := range c.KeyGrant.Grants {
			f, ok := firsts[g.Device]
			switch {
			case !ok || clock < f.clock:
				firsts[g.Device] = first{clock, h}
			case clock == f.clock && h:
				firsts[g.Device] = first{clock, true}
			}
		}
	}
	t := a.view.trust
	for _, m := range t.Members() {
		if _, revoked := t.Revoked(m.Device); revoked || m.Role == crypto.RoleRelay {
			continue
		}
		if f := firsts[m.Device]; !f.held {
			aud.Devices = append(aud.Devices, m.Public())
		}
	}
	return aud
}

// sealBundle writes envs as a replica bundle with meta and seals it to aud.
func (a *App) sealBundle(meta bundleMeta, envs []*envelope.Envelope, aud crypto.Audience) ([]byte, error) {
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var plain bytes.Buffer
	bw, err := replica.NewBundleWriter(&plain, mb)
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		if err := bw.Add(e); err != nil {
			return nil, err
		}
	}
	if err := bw.Close(); err != nil {
		return nil, err
	}
	return crypto.SealTo(a.cfg.Rand, plain.Bytes(), aud)
}

// ImportBundle reads a bundle made by ExportBundle (either format) and
// admits what this device lacks. progress, if not nil, is called as
// envelopes are read.
func (a *App) ImportBundle(b []byte, progress func(done, total int)) (ImportResult, error) {
	a.mu.RLock()
	_, err := a.me()
	a.mu.RUnlock()
	if err != nil {
		return ImportResult{}, err
	}
	if len(b) > maxBundle {
		return ImportResult{}, fmt.Errorf("%w: a bundle of %d bytes, at most %d", ErrInvalid, len(b), maxBundle)
	}
	if !replica.IsSectioned(b) {
		return a.importFormat1(b, progress)
	}
	secs, err := replica.ReadSections(b)
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(secs) != 2 {
		return ImportResult{}, fmt.Errorf("%w: a bundle of %d sections, this program reads 2: upgrade Noroshi", ErrInvalid, len(secs))
	}
	br, meta, err := a.openBundle(secs[0], bundleType, bundleVersion)
	if err != nil {
		return ImportResult{}, err
	}
	im := &bundleImport{a: a, progress: progress, total: meta.Count + meta.Records, headers: map[envelope.Hash]bool{}, admitted: map[envelope.Hash]bool{}}
	if err := im.run(br, func(e *envelope.Envelope) bool {
		if e.Payload == nil && e.Header.Class == envelope.ClassSealed {
			im.headers[e.ID()] = true
		}
		return false
	}); err != nil {
		return im.result(), err
	}

	// The trust section may have brought this device's grant of the
	// current community key, or its revocation.
	br, rmeta, err := a.openBundle(secs[1], recordsType, bundleVersion)
	if errors.Is(err, crypto.ErrNotForMe) {
		a.mu.RLock()
		_, merr := a.me()
		a.mu.RUnlock()
		if merr != nil {
			return im.result(), fmt.Errorf("imported this bundle's %d certificates and headers; its records are sealed to a key this device was not given: %w", meta.Count, merr)
		}
		return im.result(), fmt.Errorf("%w: this bundle's records are sealed to a community key this device was not given (its %d certificates and headers were imported): ask a coordinator whether this device is still a member", ErrInvalid, meta.Count)
	}
	if err != nil {
		return im.result(), err
	}
	if rmeta.Community != meta.Community || rmeta.From != meta.From || rmeta.Count != meta.Records {
		return im.result(), fmt.Errorf("%w: the bundle's sections do not belong together (the file is damaged)", ErrInvalid)
	}
	err = im.run(br, func(e *envelope.Envelope) bool { return im.headers[e.ID()] })
	return im.result(), err
}

// importFormat1 imports a bundle of format 1: one replica bundle sealed to
// the community key of its day.
func (a *App) importFormat1(b []byte, progress func(done, total int)) (ImportResult, error) {
	br, meta, err := a.openBundle(b, bundleType, 1)
	if err != nil {
		return ImportResult{}, err
	}
	im := &bundleImport{a: a, progress: progress, total: meta.Count, admitted: map[envelope.Hash]bool{}}
	err = im.run(br, func(*envelope.Envelope) bool { return false })
	return im.result(), err
}

// openBundle opens one sealed replica bundle and checks that its meta says
// type typ, version v and this community. An error wraps crypto.ErrNotForMe
// when this device holds no key for it.
func (a *App) openBundle(sealed []byte, typ string, v int) (*replica.BundleReader, bundleMeta, error) {
	a.mu.RLock()
	plain, err := crypto.OpenFrom(sealed, maxBundle, a.identities()...)
	a.mu.RUnlock()
	if errors.Is(err, crypto.ErrNotForMe) {
		return nil, bundleMeta{}, notForMe{fmt.Errorf("%w: this bundle is sealed to a community key this device does not hold (another community, or an epoch it was not given)", ErrInvalid)}
	}
	if err != nil {
		// The parser's message may quote the file (its first line): a
		// file given by mistake is not echoed.
		return nil, bundleMeta{}, fmt.Errorf("%w: not a Noroshi bundle, or a damaged one: give a file made by `noroshi export`", ErrInvalid)
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return nil, bundleMeta{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var meta bundleMeta
	if err := json.Unmarshal(br.Meta, &meta); err != nil || meta.Type != typ {
		return nil, bundleMeta{}, fmt.Errorf("%w: not a Noroshi bundle", ErrInvalid)
	}
	switch {
	case meta.V > bundleVersion:
		return nil, bundleMeta{}, fmt.Errorf("%w: bundle version %d, this program reads 1 and %d: upgrade Noroshi", ErrInvalid, meta.V, bundleVersion)
	case meta.V != v:
		return nil, bundleMeta{}, fmt.Errorf("%w: not a whole Noroshi bundle (a part of one, or a damaged file)", ErrInvalid)
	}
	if meta.Community != a.store.Community() {
		return nil, bundleMeta{}, fmt.Errorf("%w: the bundle belongs to another community", ErrInvalid)
	}
	if meta.Count < 0 || meta.Records < 0 {
		return nil, bundleMeta{}, fmt.Errorf("%w: not a Noroshi bundle", ErrInvalid)
	}
	return br, meta, nil
}

// notForMe is an error that also wraps crypto.ErrNotForMe, without saying so.
type notForMe struct{ error }

func (e notForMe) Unwrap() []error { return []error{e.error, crypto.ErrNotForMe} }

// bundleImport admits the envelopes of a bundle's sections in batches and
// counts what they brought.
type bundleImport struct {
	a           *App
	progress    func(done, total int)
	done, total int
	r           ImportResult
	// headers holds the sealed envelopes of a trust section, whose
	// payloads the records section brings; admitted, those of them (and
	// any envelope completed) this import counted as new already.
	headers, admitted map[envelope.Hash]bool
}

// run admits every envelope br holds. An envelope for which completes
// says true brings the payload of one counted already: it is not counted
// again, unless it completes one this device held without its payload.
func (im *bundleImport) run(br *replica.BundleReader, completes func(*envelope.Envelope) bool) error {
	const batch = 256
	var fresh, payloads []*envelope.Envelope
	add := func(envs []*envelope.Envelope, completing bool) error {
		if len(envs) == 0 {
			return nil
		}
		res, err := im.a.store.Add(envs...)
		if err != nil {
			return err
		}
		im.r.Admitted += len(res.Admitted)
		im.r.Refused += len(res.Refused)
		for _, id := range res.Admitted {
			if im.headers[id] {
				im.admitted[id] = true
			}
		}
		if !completing {
			im.r.Duplicates += res.Duplicates
		}
		// A payload stored for a header held before this import is new.
		for _, id := range res.Filled {
			if !im.admitted[id] {
				im.admitted[id] = true
				im.r.Admitted++
				if completing {
					im.r.Duplicates = max(0, im.r.Duplicates-1)
				}
			}
		}
		return im.a.refresh()
	}
	flush := func() error {
		if err := add(fresh, false); err != nil {
			return err
		}
		if err := add(payloads, true); err != nil {
			return err
		}
		im.done += len(fresh) + len(payloads)
		fresh, payloads = fresh[:0], payloads[:0]
		if im.progress != nil {
			im.progress(im.done, im.total)
		}
		return nil
	}
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: bundle damaged after %d envelopes (those were imported): %v", ErrInvalid, im.done, err)
		}
		if completes(e) {
			payloads = append(payloads, e)
		} else {
			im.r.Envelopes++
			fresh = append(fresh, e)
		}
		if len(fresh)+len(payloads) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// result returns the counts so far, with what waits for envelopes not yet held.
func (im *bundleImport) result() ImportResult {
	r := im.r
	for _, n := range im.a.store.Pending() {
		r.Waiting += n
	}
	return r
}

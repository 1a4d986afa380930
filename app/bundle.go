package app

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// A bundle file carries envelopes across an air gap. Nobody outside the
// community can read even its headers; every envelope is verified on import
// like one received from a peer; import is idempotent.
//
// Format 3, written here, is three sections in a clear frame
// (replica.AppendSections):
//
//	label    in clear, a few bytes of JSON: the format version, a random
//	         bundle ID, and tags (HMAC-SHA256 keyed with the community ID,
//	         and with the device ID of the one device it is sealed to, if
//	         any) that let a member say "another community" or "sealed
//	         to another device" without anyone outside learning either.
//	trust    what a relay would see of the community's trust: the clear
//	         envelopes whole (genesis, memberships, revocations, key grants,
//	         retractions) and the headers of the sealed envelopes they chain
//	         on. Sealed to every community key epoch the exporter holds, and
//	         to the device key of every active member whose first community
//	         epoch the exporter does not hold.
//	records  every other sealed envelope, sealed to the current community key.
//
// A bundle made for one device (ExportOptions.For) seals both sections to
// that device's key alone. The trust section's meta, signed by the
// exporting device, holds the bundle ID, when the bundle expires and the
// SHA-256 of the sealed records section: a bit changed anywhere, a section
// swapped in from another bundle, or an expiry edited is refused before
// anything is stored. A bundle made since a mark (ExportOptions.Since)
// carries that mark in the signed meta too: the mark travels unsigned, and
// the receiver compares it with what it holds (ErrMarkAhead).
//
// So a member cut off from the newest epoch (an air-gapped member after a
// revocation) opens the trust section with a key it holds, admits the
// certificates, opens its grant of the new epoch with its device key, and
// then opens the records. A revoked device opens the trust section too (the
// certificates are public within the community, and the new grants in it
// are sealed to the remaining devices) and so learns it was revoked, but not
// the records. Format 2 (the same two sealed sections with no label, no
// expiry and no signature) and format 1 (one replica bundle sealed to the
// community key of its day) still import.
const (
	bundleType    = "noroshi-air-gap-bundle"  // format 1, and the trust section of formats 2 and 3
	recordsType   = "noroshi-air-gap-records" // the records section of formats 2 and 3
	labelType     = "noroshi-air-gap-label"   // format 3's clear label
	bundleVersion = 3
	maxBundle     = 4 << 30
	maxLabel      = 4 << 10
	bundleIDLen   = 16
	labelTagLen   = 16

	// DefaultBundleExpiry is how long a bundle stays importable unless
	// ExportOptions.Expires says otherwise.
	DefaultBundleExpiry = 28 * 24 * time.Hour
	// MaxBundleExpiry bounds ExportOptions.Expires.
	MaxBundleExpiry = 366 * 24 * time.Hour
)

// ErrBundleExpired is wrapped (with ErrInvalid) by the error of importing a
// bundle past its expiry: ImportOptions.Force imports it anyway.
var ErrBundleExpired = errors.New("the bundle has expired")

// ErrMarkAhead is wrapped (with ErrInvalid) by the error of importing a
// bundle made for a mark that claims more of some author's chain than this
// device holds: a mark altered on the way (or another device's), which may
// have left envelopes out. What the bundle held that verifies is imported
// all the same; ImportResult.MarkAhead names the authors.
var ErrMarkAhead = errors.New("this bundle was made for a mark that claims more than this device holds")

type bundleMeta struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	Community envelope.Hash   `json:"community"`
	From      crypto.DeviceID `json:"from"`
	Count     int             `json:"count"`
	// Records is, in a trust section, how many envelopes the records
	// section holds.
	Records int `json:"records,omitempty"`

	// Format 3.

	// ID is the label's bundle ID, in both sections.
	ID []byte `json:"id,omitempty"`
	// Created and Expires are Unix seconds (trust section).
	Created int64 `json:"created,omitempty"`
	Expires int64 `json:"expires,omitempty"`
	// RecordsHash is the SHA-256 of the sealed records section (trust
	// section).
	RecordsHash []byte `json:"records_sha256,omitempty"`
	// For is the one device the bundle is sealed to, if any.
	For *crypto.DeviceID `json:"for,omitempty"`
	// Since says the bundle holds only what a mark lacked.
	Since bool `json:"since,omitempty"`
	// Mark is that mark (trust section): signed with the rest, so that
	// the receiver sees whether the mark the exporter was given claims
	// more than it holds (a mark forged on the way, to leave a chain out).
	Mark string `json:"mark,omitempty"`
	// Sig is From's signature over the meta without Sig (trust section).
	Sig []byte `json:"sig,omitempty"`
}

// signedBytes is what a format 3 trust section's Sig signs.
func (m bundleMeta) signedBytes() []byte {
	m.Sig = nil
	b, _ := json.Marshal(m)
	return append([]byte("noroshi/bundle/v3\x00"), b...)
}

// bundleLabel is format 3's clear section.
type bundleLabel struct {
	Type      string `json:"type"`
	V         int    `json:"v"`
	ID        []byte `json:"id"`
	Community []byte `json:"community"`
	For       []byte `json:"for,omitempty"`
}

// labelTag is a label's tag of key (a community or device ID) for bundle id.
func labelTag(key []byte, what string, id []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("noroshi/bundle-label/v3\x00" + what + "\x00"))
	m.Write(id)
	return m.Sum(nil)[:labelTagLen]
}

// ImportResult says what an imported bundle brought: the table import ends
// with.
type ImportResult struct {
	Envelopes  int `json:"envelopes"`
	Admitted   int `json:"admitted"`
	Duplicates int `json:"duplicates"`
	Waiting    int `json:"waiting"`
	Refused    int `json:"refused"`
	// RefusedFor counts the refused envelopes by reason (RefusalReasons
	// lists them in the order to show them).
	RefusedFor map[RefusalReason]int `json:"refused_for"`
	// From is the exporting device's ID, FromName its person as this
	// device knows it after the import.
	From     string `json:"from,omitempty"`
	FromName string `json:"from_name,omitempty"`
	// Created and Expires are when the bundle was made and until when it
	// imports (format 3; zero for older bundles).
	Created time.Time `json:"created,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	// Expired says the bundle was past its expiry and imported anyway.
	Expired bool `json:"expired,omitempty"`
	// ForThisDevice says the bundle was sealed to this device alone.
	ForThisDevice bool `json:"for_this_device,omitempty"`
	// SinceMark says the bundle holds only what a mark lacked.
	SinceMark bool `json:"since_mark,omitempty"`
	// MarkAhead names the authors (person and device, or the ID prefix
	// of an author this device does not know) of whom the mark the
	// bundle was made for claims more than this device holds: the bundle
	// may lack some of their envelopes. Ask the sender for a full export.
	MarkAhead []string `json:"mark_ahead,omitempty"`
	// Mark is this device's mark after the import: give it to the next
	// export (ExportOptions.Since).
	Mark string `json:"mark,omitempty"`
}

// RefusalReason says why an imported envelope was refused.
type RefusalReason string

// Refusal reasons, in the order to show them.
const (
	RefusedSignature   RefusalReason = "bad-signature"
	RefusedMalformed   RefusalReason = "malformed"
	RefusedRevoked     RefusalReason = "revoked-author"
	RefusedNotMember   RefusalReason = "not-a-member"
	RefusedNotAllowed  RefusalReason = "not-allowed"
	RefusedCommunity   RefusalReason = "other-community"
	RefusedForked      RefusalReason = "forked-chain"
	RefusedChainOrder  RefusalReason = "out-of-chain-order"
	RefusedOtherReason RefusalReason = "other"
)

// RefusalReasons lists every RefusalReason in the order to show them.
var RefusalReasons = []RefusalReason{RefusedSignature, RefusedMalformed, RefusedRevoked, RefusedNotMember, RefusedNotAllowed,
	RefusedCommunity, RefusedForked, RefusedChainOrder, RefusedOtherReason}

// refusalReason puts a replica admission refusal in its category.
func refusalReason(r replica.Reason) RefusalReason {
	switch r {
	case replica.ReasonSignature, replica.ReasonPayloadHash:
		return RefusedSignature
	case replica.ReasonMalformed, replica.ReasonCertificate, replica.ReasonRetraction:
		return RefusedMalformed
	case replica.ReasonRevoked:
		return RefusedRevoked
	case replica.ReasonNotMember:
		return RefusedNotMember
	case replica.ReasonNotAllowed:
		return RefusedNotAllowed
	case replica.ReasonCommunity:
		return RefusedCommunity
	case replica.ReasonEquivocation:
		return RefusedForked
	case replica.ReasonClockAhead, replica.ReasonClockBack, replica.ReasonOverflow, replica.ReasonExpired:
		return RefusedChainOrder
	}
	return RefusedOtherReason
}

// ExportOptions says what a bundle holds and who opens it.
type ExportOptions struct {
	// For names the one device the bundle is sealed to: a device ID (or
	// a prefix of at least 6 hex digits) or a person whose only active
	// device it is. Empty: every member.
	For string
	// ForRequest is a join request (the file `noroshi request` wrote)
	// naming that device instead; the device must have been invited.
	ForRequest []byte
	// Since is a mark (ImportResult.Mark, App.Mark) of the receiving
	// device: only what it lacks goes in.
	Since string
	// Expires is how long the bundle imports without force: 0 means
	// DefaultBundleExpiry, at most MaxBundleExpiry.
	Expires time.Duration
}

// ExportResult says what a bundle holds.
type ExportResult struct {
	// Envelopes is how many envelopes the bundle holds; Skipped how many
	// the mark said the receiver holds already.
	Envelopes int `json:"envelopes"`
	Skipped   int `json:"skipped"`
	// Bytes is the bundle's size.
	Bytes int `json:"bytes"`
	// For is the device it is sealed to (empty: every member), ForName
	// that device's person.
	For     string    `json:"for,omitempty"`
	ForName string    `json:"for_name,omitempty"`
	Expires time.Time `json:"expires"`
	// SinceMark says only what a mark lacked went in.
	SinceMark bool `json:"since_mark,omitempty"`
}

// ParseBundleExpiry reads an expiry as a person types it: "28d", "2w",
// "12h", "90m".
func ParseBundleExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	bad := fmt.Errorf("%w: expiry %q: give days (7d), weeks (2w) or hours (12h), at most %d days", ErrInvalid, s, int(MaxBundleExpiry/(24*time.Hour)))
	var d time.Duration
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); n != s && (unit == "d" || unit == "w") {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 || v > 1000 {
			return 0, bad
		}
		d = time.Duration(v) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
	} else {
		// Hours only: "1m" would read as a minute where people mean a month.
		v, err := strconv.Atoi(strings.TrimSuffix(s, "h"))
		if !strings.HasSuffix(s, "h") || err != nil || v <= 0 || strings.HasPrefix(s, "+") {
			return 0, bad
		}
		d = time.Duration(v) * time.Hour
	}
	if d < time.Hour || d > MaxBundleExpiry {
		return 0, bad
	}
	return d, nil
}

// ExportBundle writes every envelope this device holds to w, for every
// member, expiring after DefaultBundleExpiry, and returns how many.
func (a *App) ExportBundle(w io.Writer) (int, error) {
	r, err := a.Export(w, ExportOptions{})
	return r.Envelopes, err
}

// Export writes a bundle to w: every envelope this device holds, or those
// the mark o.Since lacks. Payloads addressed to individual devices
// (TLP:RED) go in too, still sealed to their recipients: an importing
// device keeps them only if it is one of them (or a relay), so RED reaches
// its recipient across an air gap and nobody else.
func (a *App) Export(w io.Writer, o ExportOptions) (ExportResult, error) {
	aud, err := a.memberAudience()
	if err != nil {
		return ExportResult{}, err
	}
	expiry := o.Expires
	if expiry == 0 {
		expiry = DefaultBundleExpiry
	}
	if expiry < time.Minute || expiry > MaxBundleExpiry {
		return ExportResult{}, fmt.Errorf("%w: a bundle expires after a minute to %d days, not %s", ErrInvalid, int(MaxBundleExpiry/(24*time.Hour)), expiry)
	}
	community := a.store.Community()
	var mark *bundleMark
	if strings.TrimSpace(o.Since) != "" {
		if mark, err = decodeMark(o.Since, community); err != nil {
			return ExportResult{}, err
		}
	}
	var all []*envelope.Envelope
	if err := a.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
		all = append(all, e)
		return nil
	}); err != nil {
		return ExportResult{}, err
	}
	envs, skipped := all, 0
	if mark != nil {
		envs, skipped = sinceMark(all, mark)
	}
	res := ExportResult{Envelopes: len(envs), Skipped: skipped, SinceMark: mark != nil}
	a.mu.RLock()
	trustAud := a.trustAudience(all)
	var target *crypto.PublicDevice
	if o.For != "" || o.ForRequest != nil {
		var d crypto.PublicDevice
		if d, err = a.exportTarget(o); err == nil {
			target = &d
			res.For, res.ForName = d.ID.String(), a.view.deviceLabel(d.ID)
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return ExportResult{}, err
	}
	if target != nil {
		aud = crypto.Audience{Devices: []crypto.PublicDevice{*target}}
		trustAud = aud
	}

	id := make([]byte, bundleIDLen)
	if _, err := io.ReadFull(a.cfg.Rand, id); err != nil {
		return ExportResult{}, fmt.Errorf("bundle ID: %w", err)
	}
	label := bundleLabel{Type: labelType, V: bundleVersion, ID: id, Community: labelTag(community[:], "community", id)}
	now := a.cfg.Now()
	trust, records := splitBundle(envs)
	meta := bundleMeta{V: bundleVersion, Type: recordsType, Community: community, From: a.dev.ID(), Count: len(records), ID: id, Since: mark != nil}
	if target != nil {
		label.For = labelTag(target.ID[:], "device", id)
		meta.For = &target.ID
	}
	recordsSec, err := a.sealBundle(meta, records, aud)
	if err != nil {
		return ExportResult{}, err
	}
	sum := sha256.Sum256(recordsSec)
	meta.Type, meta.Count, meta.Records = bundleType, len(trust), len(records)
	meta.Created, meta.Expires, meta.RecordsHash = now.Unix(), now.Add(expiry).Unix(), sum[:]
	if mark != nil {
		meta.Mark = strings.TrimSpace(o.Since)
	}
	meta.Sig = a.dev.SignBytes(meta.signedBytes())
	trustSec, err := a.sealBundle(meta, trust, trustAud)
	if err != nil {
		return ExportResult{}, err
	}
	lb, err := json.Marshal(label)
	if err != nil {
		return ExportResult{}, err
	}
	file, err := replica.AppendSections(make([]byte, 0, len(lb)+len(trustSec)+len(recordsSec)+64), lb, trustSec, recordsSec)
	if err != nil {
		return ExportResult{}, err
	}
	res.Bytes, res.Expires = len(file), time.Unix(meta.Expires, 0)
	if _, err := w.Write(file); err != nil {
		return ExportResult{}, err
	}
	return res, nil
}

// exportTarget resolves ExportOptions.For or ForRequest to an active
// member device. The caller holds a.mu.
func (a *App) exportTarget(o ExportOptions) (crypto.PublicDevice, error) {
	var d crypto.DeviceID
	if o.ForRequest != nil {
		r, err := DecodeJoinRequest(o.ForRequest)
		if err != nil {
			return crypto.PublicDevice{}, err
		}
		d = r.Device
		if _, ok := a.view.trust.Member(d); !ok {
			return crypto.PublicDevice{}, fmt.Errorf("%w: the device of this join request (%s, %s) is not a member yet: invite it first", ErrNotFound, r.Name, d.Short())
		}
	} else {
		var err error
		if d, err = a.view.findDevice(o.For); err != nil {
			return crypto.PublicDevice{}, err
		}
	}
	m, _ := a.view.trust.Member(d)
	if _, revoked := a.view.trust.Revoked(d); revoked {
		return crypto.PublicDevice{}, fmt.Errorf("%w: device %s (%s) is revoked: a bundle for it would tell it nothing it may read", ErrNotAllowed, d.Short(), a.view.deviceLabel(d))
	}
	return m.Public(), nil
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

// ImportOptions says how to import a bundle.
type ImportOptions struct {
	// Progress, if not nil, is called as envelopes are admitted.
	Progress func(done, total int)
	// Force imports a bundle past its expiry.
	Force bool
}

// ImportBundle imports a bundle with progress, refusing an expired one.
func (a *App) ImportBundle(b []byte, progress func(done, total int)) (ImportResult, error) {
	return a.Import(b, ImportOptions{Progress: progress})
}

// errBundle is an ErrInvalid saying what is wrong with a bundle file.
func errBundle(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

var (
	errTruncated = errBundle("the bundle file is truncated (it ends before its last section): copy it again from the exporting device")
	errDamaged   = errBundle("the bundle file is damaged or was altered (its integrity check failed): nothing was imported; copy it again, or export it again")
	errReordered = errBundle("the bundle's sections are out of order: the file was altered; nothing was imported")
)

// Import reads a bundle made by Export (any format) and admits what this
// device lacks. A bundle that fails verification (damaged, altered,
// truncated, expired, of another community, sealed to another device)
// stores nothing; for an expired one (ErrBundleExpired) the result says
// when it was made and expired. One that verifies admits every envelope that passes
// admission, and says why the others were refused.
func (a *App) Import(b []byte, o ImportOptions) (ImportResult, error) {
	a.mu.RLock()
	_, err := a.me()
	a.mu.RUnlock()
	if err != nil {
		return ImportResult{}, err
	}
	if len(b) > maxBundle {
		return ImportResult{}, errBundle("a bundle of %d bytes, at most %d", len(b), maxBundle)
	}
	if !replica.IsSectioned(b) {
		return a.importUnsectioned(b, o)
	}
	secs, err := replica.ReadSections(b)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), err != nil && strings.Contains(err.Error(), "truncated"):
		return ImportResult{}, errTruncated
	case err != nil && strings.Contains(err.Error(), "upgrade Noroshi"):
		return ImportResult{}, errBundle("%v", err)
	case err != nil:
		return ImportResult{}, errDamaged
	}
	var sb sectionedBundle
	switch len(secs) {
	case 2:
		sb = sectionedBundle{v: 2, trust: secs[0], records: secs[1]}
	case 3:
		label, err := a.checkLabel(secs)
		if err != nil {
			return ImportResult{}, err
		}
		sb = sectionedBundle{v: bundleVersion, label: label, trust: secs[1], records: secs[2]}
	default:
		return ImportResult{}, errBundle("a bundle of %d sections, this program reads 2 and 3: upgrade Noroshi", len(secs))
	}
	return a.importSections(sb, o)
}

// sectionedBundle is a bundle file of format 2 or 3, cut in its sections.
type sectionedBundle struct {
	v              int
	label          *bundleLabel
	trust, records []byte
}

// checkLabel reads a format 3 label (the first of secs) and checks that it
// is of this community and, if it names one device, this one.
func (a *App) checkLabel(secs [][]byte) (*bundleLabel, error) {
	label, ok := decodeLabel(secs[0])
	if !ok {
		for _, s := range secs[1:] {
			if _, ok := decodeLabel(s); ok {
				return nil, errReordered
			}
		}
		return nil, errDamaged
	}
	if label.V > bundleVersion {
		return nil, errBundle("bundle format %d, this program reads 1 to %d: upgrade Noroshi", label.V, bundleVersion)
	}
	if label.V != bundleVersion || len(label.ID) != bundleIDLen {
		return nil, errDamaged
	}
	// A label that names another community or device is believed only
	// when this device cannot open the trust section: otherwise the
	// label was altered.
	altered := func() bool {
		_, _, err := a.openSection(secs[1], bundleType, bundleVersion)
		return !errors.Is(err, crypto.ErrNotForMe)
	}
	c := a.store.Community()
	if !hmac.Equal(label.Community, labelTag(c[:], "community", label.ID)) {
		if altered() {
			return nil, errDamaged
		}
		return nil, errBundle("this bundle belongs to another community: import it on a device of that community")
	}
	if label.For != nil {
		me := a.dev.ID()
		if !hmac.Equal(label.For, labelTag(me[:], "device", label.ID)) {
			if altered() {
				return nil, errDamaged
			}
			a.mu.RLock()
			defer a.mu.RUnlock()
			for _, m := range a.view.trust.Members() {
				if hmac.Equal(label.For, labelTag(m.Device[:], "device", label.ID)) {
					return nil, notForMe{errBundle("this bundle was sealed to another device, %s of %s, not this one: import it there, or ask for a bundle for this device", m.Device.Short(), a.view.deviceLabel(m.Device))}
				}
			}
			return nil, notForMe{errBundle("this bundle was sealed to another device, not this one: ask for a bundle sealed to this device")}
		}
	}
	return label, nil
}

// decodeLabel reads a format 3 label.
func decodeLabel(b []byte) (*bundleLabel, bool) {
	if len(b) > maxLabel || len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var l bundleLabel
	if err := json.Unmarshal(b, &l); err != nil || l.Type != labelType {
		return nil, false
	}
	return &l, true
}

// importSections imports a bundle of format 2 or 3. Both sections are
// opened and read whole before anything is stored, except when the
// records open only with a key the trust section brings.
func (a *App) importSections(sb sectionedBundle, o ImportOptions) (ImportResult, error) {
	trustPlain, meta, err := a.openSection(sb.trust, bundleType, sb.v)
	if err != nil {
		if errors.Is(err, errWrongSection) {
			return ImportResult{}, errReordered
		}
		switch {
		case errors.Is(err, crypto.ErrNotForMe) && sb.label != nil && sb.label.For != nil:
			return ImportResult{}, errDamaged // the label names this device, yet its key does not open the bundle
		case errors.Is(err, crypto.ErrNotForMe) && sb.label != nil:
			// The label says this community: the exporter holds none of
			// the epochs this device does, and did not know it.
			return ImportResult{}, notForMe{errBundle("this bundle is sealed to community keys this device was not given: ask for a bundle sealed to this device")}
		}
		return ImportResult{}, err
	}
	var info ImportResult
	if sb.v >= 3 {
		if info, err = a.checkTrustMeta(meta, sb, o); err != nil {
			// An expired bundle's result says when it was made and
			// expired; nothing was imported.
			return info, err
		}
	}
	var mark *bundleMark
	if sb.v >= 3 && meta.Since {
		if mark, err = decodeMark(meta.Mark, a.store.Community()); err != nil {
			return ImportResult{}, errBundle("this bundle does not show the mark it was made for (an older Noroshi made it): ask the sender for a full export, not one made since a mark; nothing was imported")
		}
	}
	trust, err := readSection(trustPlain, meta.Count)
	if err != nil {
		return ImportResult{}, err
	}
	checkRecords := func(plain []byte, rmeta bundleMeta) error {
		if rmeta.Community != meta.Community || rmeta.From != meta.From || rmeta.Count != meta.Records || !bytes.Equal(rmeta.ID, meta.ID) {
			return errBundle("the bundle's sections do not belong together: the file was altered; nothing was imported")
		}
		_, err := readSection(plain, -rmeta.Count-1)
		return err
	}
	recordsPlain, rmeta, rerr := a.openSection(sb.records, recordsType, sb.v)
	switch {
	case errors.Is(rerr, errWrongSection):
		return ImportResult{}, errReordered
	case rerr == nil:
		if err := checkRecords(recordsPlain, rmeta); err != nil {
			return ImportResult{}, err
		}
	case !errors.Is(rerr, crypto.ErrNotForMe):
		return ImportResult{}, rerr
	}

	im := &bundleImport{a: a, progress: o.Progress, total: meta.Count + meta.Records, headers: map[envelope.Hash]bool{}, admitted: map[envelope.Hash]bool{}}
	im.r = info
	im.r.From = meta.From.String()
	im.mark = mark
	for _, e := range trust {
		if e.Payload == nil && e.Header.Class == envelope.ClassSealed {
			im.headers[e.ID()] = true
		}
	}
	if err := im.runAll(trust); err != nil {
		return im.result(), err
	}

	// The trust section may have brought this device's grant of the
	// current community key, or its revocation.
	if rerr != nil {
		recordsPlain, rmeta, rerr = a.openSection(sb.records, recordsType, sb.v)
	}
	if errors.Is(rerr, crypto.ErrNotForMe) {
		a.mu.RLock()
		_, merr := a.me()
		a.mu.RUnlock()
		if merr != nil {
			return im.result(), fmt.Errorf("imported this bundle's %d certificates and headers; its records are sealed to a key this device was not given: %w", meta.Count, merr)
		}
		return im.result(), errBundle("this bundle's records are sealed to a community key this device was not given (its %d certificates and headers were imported): ask a coordinator whether this device is still a member", meta.Count)
	}
	if rerr == nil {
		rerr = checkRecords(recordsPlain, rmeta)
	}
	if rerr != nil {
		return im.result(), rerr
	}
	br, err := replica.NewBundleReader(bytes.NewReader(recordsPlain))
	if err != nil {
		return im.result(), errDamaged
	}
	err = im.run(br, func(e *envelope.Envelope) bool { return im.headers[e.ID()] })
	r := im.result()
	if err == nil && len(r.MarkAhead) > 0 {
		err = fmt.Errorf("%w: %w: %s: ask the sender for a full export, not one made since a mark; what the bundle held was imported",
			ErrInvalid, ErrMarkAhead, markAheadList(r.MarkAhead))
	}
	return r, err
}

// markAheadList names the first few authors of ImportResult.MarkAhead.
func markAheadList(names []string) string {
	const show = 3
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// markAhead names the authors of whom mark m claims a longer chain than
// this device holds (ImportResult.MarkAhead). A mark this device made
// does so only for a chain it cut since (a device revoked or forked, or
// no longer a member), and the first two are not named.
func (a *App) markAhead(m *bundleMark) []string {
	if m == nil {
		return nil
	}
	held := map[[markIDLen]byte]uint64{}
	who := map[[markIDLen]byte]crypto.DeviceID{}
	for _, h := range a.store.Heads() {
		p := [markIDLen]byte(h.Author[:markIDLen])
		if _, ok := who[p]; !ok || h.Seq > held[p] {
			held[p], who[p] = h.Seq, h.Author
		}
	}
	var ahead [][markIDLen]byte
	for p, mh := range m.heads {
		if mh.seq > held[p] && len(a.store.ForkEvidence(p[:])) == 0 {
			ahead = append(ahead, p)
		}
	}
	if len(ahead) == 0 {
		return nil
	}
	slices.SortFunc(ahead, func(x, y [markIDLen]byte) int { return bytes.Compare(x[:], y[:]) })
	a.mu.RLock()
	defer a.mu.RUnlock()
	// This device may have cut the chain of a device revoked (or forked,
	// above) since its mark was made.
	cut := map[[markIDLen]byte]bool{}
	for _, mb := range a.view.trust.Members() {
		if _, revoked := a.view.trust.Revoked(mb.Device); revoked || mb.Role == crypto.RoleRelay {
			cut[[markIDLen]byte(mb.Device[:markIDLen])] = true
		}
	}
	ahead = slices.DeleteFunc(ahead, func(p [markIDLen]byte) bool { return cut[p] })
	var out []string
	for _, p := range ahead {
		d, ok := who[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("an author this device does not know (device %x)", p[:6]))
		case strings.HasPrefix(a.view.deviceLabel(d), "("):
			out = append(out, "device "+d.Short())
		default:
			out = append(out, fmt.Sprintf("%s (device %s)", a.view.deviceLabel(d), d.Short()))
		}
	}
	return out
}

// checkTrustMeta checks what format 3 adds to a trust section's meta: the
// label's bundle ID, the exporter's signature, the records section's hash
// and the expiry. It returns what the import result tells of them.
func (a *App) checkTrustMeta(meta bundleMeta, sb sectionedBundle, o ImportOptions) (ImportResult, error) {
	if !bytes.Equal(meta.ID, sb.label.ID) {
		return ImportResult{}, errBundle("the bundle's label and sections do not belong together: the file was altered; nothing was imported")
	}
	if !crypto.VerifyBytes(meta.From, meta.signedBytes(), meta.Sig) {
		return ImportResult{}, errBundle("the bundle's signature does not verify: the file was altered; nothing was imported")
	}
	if sum := sha256.Sum256(sb.records); !bytes.Equal(meta.RecordsHash, sum[:]) {
		return ImportResult{}, errDamaged
	}
	if (meta.For != nil) != (sb.label.For != nil) || meta.For != nil && !hmac.Equal(sb.label.For, labelTag(meta.For[:], "device", meta.ID)) {
		return ImportResult{}, errDamaged
	}
	r := ImportResult{From: meta.From.String(), Created: time.Unix(meta.Created, 0), Expires: time.Unix(meta.Expires, 0),
		ForThisDevice: meta.For != nil && *meta.For == a.dev.ID(), SinceMark: meta.Since}
	if meta.For != nil && *meta.For != a.dev.ID() {
		return ImportResult{}, errDamaged
	}
	if now := a.cfg.Now(); meta.Expires == 0 || now.Unix() > meta.Expires {
		if !o.Force {
			return r, fmt.Errorf("%w: %w on %s (made %s): ask for a fresh export; import it anyway only if you know it is current",
				ErrInvalid, ErrBundleExpired, r.Expires.UTC().Format("2006-01-02 15:04 MST"), r.Created.UTC().Format("2006-01-02 15:04 MST"))
		}
		r.Expired = true
	}
	return r, nil
}

// readSection reads every envelope of a section's plaintext: the whole
// section is checked before anything of it is stored. want is how many
// envelopes its meta says it holds; a negative want, -n-1, says the same of
// a section whose envelopes are not kept (they are read again to admit
// them), for which nil is returned.
func readSection(plain []byte, want int) ([]*envelope.Envelope, error) {
	keep := want >= 0
	if !keep {
		want = -want - 1
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return nil, errDamaged
	}
	var out []*envelope.Envelope
	n := 0
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errDamaged
		}
		n++
		if keep {
			out = append(out, e)
		}
	}
	if n != want {
		return nil, errDamaged
	}
	return out, nil
}

// importUnsectioned imports a bundle of format 1, or says what else the
// file is: an invite, a join request, a part of a bundle.
func (a *App) importUnsectioned(b []byte, o ImportOptions) (ImportResult, error) {
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte("{")) && bytes.Contains(t[:min(len(t), 4096)], []byte(`"`+joinRequestType+`"`)) {
		return ImportResult{}, errBundle("this file is a join request, not a bundle: a coordinator or org admin answers it with an invite (noroshi invite)")
	}
	if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
		if magic := "noroshi-sealed-bundle\n"; len(b) > 0 && len(b) < len(magic) && strings.HasPrefix(magic, string(b)) {
			return ImportResult{}, errTruncated
		}
		return ImportResult{}, errBundle("not a Noroshi bundle: give a file made by noroshi export")
	}
	a.mu.RLock()
	plain, err := crypto.OpenFrom(b, maxBundle, a.identities()...)
	a.mu.RUnlock()
	if errors.Is(err, crypto.ErrNotForMe) {
		if !hasGroupStanza(b) {
			return ImportResult{}, errBundle("this file is sealed to one device's key, as an invite is, and not to this device: an invite is taken by noroshi join, on the device that asked for it")
		}
		return ImportResult{}, notForMe{errBundle("this bundle is sealed to a community key this device does not hold (another community, or an epoch it was not given)")}
	}
	if err != nil {
		return ImportResult{}, errDamaged
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return ImportResult{}, errDamaged
	}
	var head struct {
		V    int    `json:"v"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(br.Meta, &head); err != nil {
		return ImportResult{}, errBundle("not a Noroshi bundle: give a file made by noroshi export")
	}
	switch {
	case head.Type == inviteType:
		return ImportResult{}, errBundle("this file is an invite, not a bundle: it is taken by noroshi join, on a device that has not joined a community yet")
	case head.Type == bundleType && head.V > bundleVersion:
		return ImportResult{}, errBundle("bundle version %d, this program reads 1 to %d: upgrade Noroshi", head.V, bundleVersion)
	case head.Type == recordsType || head.Type == bundleType && head.V != 1:
		return ImportResult{}, errBundle("not a whole Noroshi bundle (a part of one, or a damaged file)")
	case head.Type != bundleType:
		return ImportResult{}, errBundle("not a Noroshi bundle: give a file made by noroshi export")
	}
	plain, meta, err := a.checkSection(plain, bundleType, 1)
	if err != nil {
		return ImportResult{}, err
	}
	if _, err := readSection(plain, -meta.Count-1); err != nil {
		return ImportResult{}, err
	}
	br, err = replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return ImportResult{}, errDamaged
	}
	im := &bundleImport{a: a, progress: o.Progress, total: meta.Count, admitted: map[envelope.Hash]bool{}}
	im.r.From = meta.From.String()
	err = im.run(br, func(*envelope.Envelope) bool { return false })
	return im.result(), err
}

// hasGroupStanza reports whether the age file b has a recipient stanza of
// a group key (a community or organisation key), read from its header.
func hasGroupStanza(b []byte) bool {
	hdr := b[:min(len(b), 256<<10)]
	for line := range bytes.SplitSeq(hdr, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) {
			break
		}
		if bytes.HasPrefix(line, []byte("-> noroshi-group ")) {
			return true
		}
	}
	return false
}

// errWrongSection says a section of the other type was found where one was
// expected: the sections were reordered.
var errWrongSection = errors.New("a section of the other type")

// openSection opens one sealed section and checks that its meta says
// type typ, version v and this community; it returns the plaintext. An
// error wraps crypto.ErrNotForMe when this device holds no key for it.
func (a *App) openSection(sealed []byte, typ string, v int) ([]byte, bundleMeta, error) {
	a.mu.RLock()
	plain, err := crypto.OpenFrom(sealed, maxBundle, a.identities()...)
	a.mu.RUnlock()
	if errors.Is(err, crypto.ErrNotForMe) {
		return nil, bundleMeta{}, notForMe{errBundle("this bundle is sealed to a community key this device does not hold (another community, or an epoch it was not given)")}
	}
	if err != nil {
		// The parser's message may quote the file (its first line): a
		// file given by mistake is not echoed.
		return nil, bundleMeta{}, errDamaged
	}
	return a.checkSection(plain, typ, v)
}

// checkSection checks an opened section's meta.
func (a *App) checkSection(plain []byte, typ string, v int) ([]byte, bundleMeta, error) {
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return nil, bundleMeta{}, errDamaged
	}
	var meta bundleMeta
	if err := json.Unmarshal(br.Meta, &meta); err != nil {
		return nil, bundleMeta{}, errBundle("not a Noroshi bundle")
	}
	if meta.Type != typ {
		if meta.Type == bundleType || meta.Type == recordsType {
			return nil, bundleMeta{}, errWrongSection
		}
		return nil, bundleMeta{}, errBundle("not a Noroshi bundle")
	}
	switch {
	case meta.V > bundleVersion:
		return nil, bundleMeta{}, errBundle("bundle version %d, this program reads 1 to %d: upgrade Noroshi", meta.V, bundleVersion)
	case meta.V != v:
		return nil, bundleMeta{}, errBundle("not a whole Noroshi bundle (a part of one, or a damaged file)")
	}
	if meta.Community != a.store.Community() {
		return nil, bundleMeta{}, errBundle("this bundle belongs to another community: import it on a device of that community")
	}
	if meta.Count < 0 || meta.Records < 0 {
		return nil, bundleMeta{}, errDamaged
	}
	return plain, meta, nil
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
	// mark is the mark the bundle was made for, if any.
	mark *bundleMark
}

// run admits every envelope br holds. An envelope for which completes
// says true brings the payload of one counted already: it is not counted
// again, unless it completes one this device held without its payload.
func (im *bundleImport) run(br *replica.BundleReader, completes func(*envelope.Envelope) bool) error {
	return im.runNext(br.Next, completes)
}

// runNext admits every envelope next returns, until io.EOF.
func (im *bundleImport) runNext(next func() (*envelope.Envelope, error), completes func(*envelope.Envelope) bool) error {
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
		for _, rf := range res.Refused {
			if im.r.RefusedFor == nil {
				im.r.RefusedFor = map[RefusalReason]int{}
			}
			im.r.RefusedFor[refusalReason(rf.Reason)]++
		}
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
		e, err := next()
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

// runAll admits envs, the envelopes of a trust section.
func (im *bundleImport) runAll(envs []*envelope.Envelope) error {
	i := 0
	return im.runNext(func() (*envelope.Envelope, error) {
		if i == len(envs) {
			return nil, io.EOF
		}
		i++
		return envs[i-1], nil
	}, func(*envelope.Envelope) bool { return false })
}

// result returns the counts so far, with what waits for envelopes not yet
// held, and this device's mark.
func (im *bundleImport) result() ImportResult {
	r := im.r
	r.RefusedFor = maps.Clone(r.RefusedFor)
	if r.RefusedFor == nil {
		r.RefusedFor = map[RefusalReason]int{}
	}
	for _, n := range im.a.store.Pending() {
		r.Waiting += n
	}
	r.MarkAhead = im.a.markAhead(im.mark)
	im.a.mu.RLock()
	if r.From != "" {
		if d, err := crypto.ParseDeviceID(r.From); err == nil {
			r.FromName = im.a.view.deviceLabel(d)
		}
	}
	_, err := im.a.me()
	im.a.mu.RUnlock()
	if err == nil {
		r.Mark = im.a.mark()
	}
	return r
}

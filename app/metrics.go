package app

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Metrics: what the coordination centre counted on its platform (the
// report's logins, topic views, time from a notice to its first reading).
//
// Recording. Opening a post (App.OpenPost: the CLI's `show`, the desktop
// app's post detail) is a topic view, apart from the read button. A view
// is kept on this device (a local value, so a short CLI process loses
// none: keyed by the view key's keyed hash of the post ID, the ID sealed
// with the view key, so that the store file does not say which posts were
// opened; see pendingViewKey) and sent with the others as one ActivityRecord:
// one envelope per device per ActivityBatch at most, listing each post
// opened in that window once. An activity record with no views says the
// device was in use (App.NoteActivity): the report's "logins" are counted
// as active devices per day. Views of exercise posts are not recorded.
// Nothing is recorded while the device's organisation says NoViewCounts.
//
// The view bucket metrics.go adds (see view.go for the others):
//
//	activity  clock u64 || envelope ID -> sealed(author device || post IDs, 32 bytes each)
//
// kept in clock order so that a period is one range of keys. An activity
// record the store removes (a revoked device's purge, a retraction) leaves
// it through unfoldActivity, called by view.go's remove.

// ActivityBatch is how long views and activity gather on a device before
// they are sent as one envelope.
const ActivityBatch = 5 * time.Minute

// maxViewsPerRecord bounds the posts one activity record lists; more wait
// for the next one.
const maxViewsPerRecord = 1000

const vbActivity = "activity"

// Local values of the views not sent yet.
const (
	localPendingView  = "activity/view/" // + hex of the view key's term of the post ID (pendingViewKey)
	localActive       = "activity/active"
	localActivitySent = "activity/sent"
)

// ActivityRecord says its device was in use, and lists the posts it
// opened since its previous activity record (topic views, apart from the
// read button): batched, one envelope per device per few minutes at most.
type ActivityRecord struct {
	Views []envelope.Hash `json:"views,omitempty"`
}

// OrgSettings is an organisation's own settings; the latest by clock wins.
// Its organisation's admins and the coordinators write it.
type OrgSettings struct {
	Org crypto.ID16 `json:"org"`
	// NoViewCounts: the organisation's members' topic views and activity
	// are not recorded, nor counted when an older device recorded them.
	NoViewCounts bool `json:"no_view_counts,omitempty"`
	// Named: the organisation consents to being named in the daily
	// bulletin and digests to all members (report.go); without it, it is
	// counted but not named.
	Named bool `json:"named,omitempty"`
}

type orgSettingsState struct {
	rec OrgSettings
	meta
}

// orgSettingsOf returns an organisation's settings that count: the newest
// written by one of its admins or a coordinator (judged now, against the
// trust state of the whole set).
func (s *state) orgSettingsOf(org crypto.ID16) (orgSettingsState, bool) {
	return latest(s.orgSettings[org], func(c orgSettingsState) bool {
		return c.rec.Org == org && s.canAdminOrg(c.author, org)
	})
}

// countsViews reports whether an organisation's members' views and
// activity are counted.
func (s *state) countsViews(org crypto.ID16) bool {
	c, ok := s.orgSettingsOf(org)
	return !ok || !c.rec.NoViewCounts
}

// orgNamed reports whether an organisation consents to being named in the
// bulletin and digests (part 3). The caller holds a.mu.
func (s *state) orgNamed(org crypto.ID16) bool {
	c, ok := s.orgSettingsOf(org)
	return ok && c.rec.Named
}

// OrgNamed reports whether an organisation (an ID, an ID prefix or a name)
// consents to being named in the bulletin and digests to all members.
func (a *App) OrgNamed(org string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, err := a.view.findOrg(org)
	return err == nil && a.view.orgNamed(id)
}

// OrgSettingsView is an organisation's settings as shown.
type OrgSettingsView struct {
	Org     string  `json:"org"`
	OrgName string  `json:"org_name"`
	Kind    OrgKind `json:"kind"`
	// CountViews: its members' topic views and activity are recorded and
	// counted (the default).
	CountViews bool `json:"count_views"`
	// Named: it consents to being named in the bulletin and digests.
	Named bool `json:"named"`
	// Set says whether the settings were ever written; Updated and By
	// say when and by whom.
	Set     bool      `json:"set"`
	Updated time.Time `json:"updated,omitzero"`
	By      string    `json:"updated_by,omitempty"`
	// MayChange: this device may change them (its admins, coordinators).
	MayChange bool `json:"may_change"`
}

// OrgSettingsChange is what SetOrgSettings changes: nil leaves a setting
// as it is.
type OrgSettingsChange struct {
	CountViews *bool
	Named      *bool
}

// OrgSettingsOf returns the settings of an organisation ("" for this
// device's own).
func (a *App) OrgSettingsOf(org string) (OrgSettingsView, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, err := a.settingsOrg(org)
	if err != nil {
		return OrgSettingsView{}, err
	}
	return a.orgSettingsView(id), nil
}

// settingsOrg resolves an organisation ("" for this device's own). The
// caller holds a.mu.
func (a *App) settingsOrg(org string) (crypto.ID16, error) {
	me, err := a.me()
	if err != nil {
		return crypto.ID16{}, err
	}
	if strings.TrimSpace(org) == "" {
		return me.Org, nil
	}
	return a.view.findOrg(org)
}

func (a *App) orgSettingsView(id crypto.ID16) OrgSettingsView {
	s := a.view
	p, _ := s.org(id)
	v := OrgSettingsView{Org: id.String(), OrgName: s.orgName(id), Kind: p.Kind, CountViews: true,
		MayChange: s.canAdminOrg(a.dev.ID(), id)}
	if c, ok := s.orgSettingsOf(id); ok {
		v.CountViews, v.Named, v.Set = !c.rec.NoViewCounts, c.rec.Named, true
		v.Updated, v.By = wallTime(c.clock), s.deviceName(c.author)
	}
	return v
}

// SetOrgSettings changes an organisation's settings ("" for this device's
// own). Its admins and the coordinators may; the whole settings record is
// written again, sealed to the community (every member's device reads
// whether an organisation's views count and whether it may be named).
func (a *App) SetOrgSettings(org string, c OrgSettingsChange) (OrgSettingsView, error) {
	if c.CountViews == nil && c.Named == nil {
		return OrgSettingsView{}, fmt.Errorf("%w: nothing to change: set whether views are counted, or whether the organisation may be named", ErrInvalid)
	}
	a.mu.RLock()
	id, err := a.settingsOrg(org)
	if err == nil && !a.view.canAdminOrg(a.dev.ID(), id) {
		me, _ := a.me()
		err = fmt.Errorf("%w: only the organisation's admins and coordinators change its settings (your role: %s)", ErrNotAllowed, me.Role)
	}
	rec := OrgSettings{Org: id}
	if cur, ok := a.view.orgSettingsOf(id); ok {
		rec = cur.rec
	}
	aud, aerr := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return OrgSettingsView{}, err
	}
	if aerr != nil {
		return OrgSettingsView{}, aerr
	}
	if c.CountViews != nil {
		rec.NoViewCounts = !*c.CountViews
	}
	if c.Named != nil {
		rec.Named = *c.Named
	}
	if _, err := a.write(a.sealed(aud, &Record{OrgSettings: &rec})); err != nil {
		return OrgSettingsView{}, err
	}
	if rec.NoViewCounts {
		// What this device gathered goes no further.
		a.dropPendingActivity()
	}
	return a.OrgSettingsOf(id.String())
}

// OpenPost returns a post's detail, as Show, and counts it as a topic view
// of this device (the user opened it: the CLI's `show`, the desktop app's
// post detail). Show alone records nothing (it also serves lookups).
func (a *App) OpenPost(q string) (PostDetail, error) {
	d, err := a.Show(q)
	if err != nil {
		return d, err
	}
	if err := a.RecordView(d.ID); err != nil {
		a.cfg.Logf("topic view: %v", err)
	}
	return d, nil
}

// RecordView records a topic view of a post on this device; it goes out
// with the others as one activity record once ActivityBatch has passed
// since the last one. A view of an exercise post, or on a device whose
// organisation does not count views, is not recorded.
func (a *App) RecordView(q string) error {
	a.mu.RLock()
	p, err := a.findPost(q)
	counts := false
	var k string
	var sealed []byte
	if err == nil {
		counts = a.recordsActivity()
		if counts && p.exercise == "" {
			k, sealed, err = a.pendingView(p.id)
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	if !counts || p.exercise != "" {
		return nil
	}
	if a.store.GetLocal(k) == nil {
		if err := a.store.PutLocal(localOp(k, sealed)); err != nil {
			return err
		}
	}
	_, err = a.FlushActivity(false)
	return err
}

// pendingViewKey returns the local key of a pending view of a post: the
// view key's keyed hash of its ID (the term key of view.go's index), so
// that a stolen disk does not say which posts this device opened (the
// store file holds the local values in clear). The caller holds a.mu.
func (a *App) pendingViewKey(id envelope.Hash) string {
	h := a.vkey.Term("activity/view\x00" + string(id[:]))
	return localPendingView + hex.EncodeToString(h[:])
}

// pendingView returns a pending view's local key and value: the post ID
// sealed with the view key, bound to the key. The caller holds a.mu.
func (a *App) pendingView(id envelope.Hash) (string, []byte, error) {
	if a.vkey == nil {
		return "", nil, fmt.Errorf("topic view: the views are not open yet")
	}
	k := a.pendingViewKey(id)
	sealed, err := a.vkey.Seal(a.cfg.Rand, []byte(k), id[:])
	if err != nil {
		return "", nil, fmt.Errorf("topic view: %w", err)
	}
	return k, sealed, nil
}

// openPendingView returns the post of a pending view (key k, value val),
// false when it does not open (another device's key, a damaged value).
// A view kept by an older version (the post ID in clear in the key, value
// 1) is still taken, and leaves with the next record. The caller holds
// a.mu.
func (a *App) openPendingView(k string, val []byte) (envelope.Hash, bool) {
	var h envelope.Hash
	if a.vkey != nil {
		if plain, err := a.vkey.Open([]byte(k), val); err == nil && len(plain) == len(h) {
			copy(h[:], plain)
			return h, true
		}
	}
	if bytes.Equal(val, []byte{1}) && h.UnmarshalText([]byte(strings.TrimPrefix(k, localPendingView))) == nil {
		return h, true
	}
	return h, false
}

// NoteActivity records that this device is in use (the user opened the
// app or acted in it), without a view: at most one activity record per
// ActivityBatch says so.
func (a *App) NoteActivity() error {
	a.mu.RLock()
	counts := a.recordsActivity()
	a.mu.RUnlock()
	if !counts {
		return nil
	}
	if a.store.GetLocal(localActive) == nil {
		if err := a.store.PutLocal(localOp(localActive, []byte{1})); err != nil {
			return err
		}
	}
	_, err := a.FlushActivity(false)
	return err
}

// recordsActivity reports whether this device records views and activity:
// an active member (not a relay) whose organisation counts them. The
// caller holds a.mu.
func (a *App) recordsActivity() bool {
	me, err := a.me()
	return err == nil && me.Role != crypto.RoleRelay && a.view.countsViews(me.Org)
}

// dropPendingActivity forgets the views and activity not sent yet.
func (a *App) dropPendingActivity() {
	var ops []replica.LocalOp
	for k := range a.store.LocalWithPrefix(localPendingView) {
		ops = append(ops, replica.LocalOp{Key: k})
	}
	ops = append(ops, replica.LocalOp{Key: localActive})
	if err := a.store.PutLocal(ops...); err != nil {
		a.cfg.Logf("activity: %v", err)
	}
}

// FlushDueActivity sends the views and activity gathered in earlier runs
// once their batch is due. Having no community or a revoked device is not
// an error here: they stay until they can go (or are dropped, when the
// organisation stopped counting views).
func (a *App) FlushDueActivity() error {
	_, err := a.FlushActivity(false)
	var revoked *RevokedError
	if errors.Is(err, ErrNoCommunity) || errors.As(err, &revoked) {
		return nil
	}
	return err
}

// FlushActivity sends the views and activity kept on this device as one
// activity record, when ActivityBatch has passed since the last one (or
// always, with force). It returns how many posts the record listed.
//
// The record is sealed to the device's organisation (its key, held by its
// members and every coordinator: see orgAudience): who opened what is the
// organisation's own business and the coordination centre's, which counts
// it; other organisations learn nothing of it.
func (a *App) FlushActivity(force bool) (int, error) {
	flushMu.Lock()
	defer flushMu.Unlock()
	pending := a.store.LocalWithPrefix(localPendingView)
	active := a.store.GetLocal(localActive) != nil
	if len(pending) == 0 && !active {
		return 0, nil
	}
	now := a.cfg.Now()
	if last := a.store.GetLocal(localActivitySent); !force && last != nil {
		var t time.Time
		if t.UnmarshalText(last) == nil && now.Sub(t) < ActivityBatch && now.Sub(t) > -ActivityBatch {
			return 0, nil
		}
	}
	keys := make([]string, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rec := &ActivityRecord{}
	var ops []replica.LocalOp
	a.mu.RLock()
	me, err := a.me()
	counts := err == nil && a.recordsActivity()
	var aud crypto.Audience
	if counts {
		aud, err = a.orgAudience(me.Org)
		for _, k := range keys {
			if len(rec.Views) == maxViewsPerRecord {
				break
			}
			if h, ok := a.openPendingView(k, pending[k]); ok && !slices.Contains(rec.Views, h) {
				rec.Views = append(rec.Views, h)
			}
			ops = append(ops, replica.LocalOp{Key: k})
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	if !counts {
		a.dropPendingActivity()
		return 0, nil
	}
	sort.Slice(rec.Views, func(i, j int) bool { return bytes.Compare(rec.Views[i][:], rec.Views[j][:]) < 0 })
	if _, err := a.write(a.sealed(aud, &Record{Activity: rec})); err != nil {
		return 0, err
	}
	stamp, _ := now.MarshalText()
	ops = append(ops, replica.LocalOp{Key: localActive}, replica.LocalOp{Key: localActivitySent, Value: stamp})
	return len(rec.Views), a.store.PutLocal(ops...)
}

// activityKey is an activity record's key in the activity bucket.
func activityKey(clock uint64, id envelope.Hash) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 40), clock), id[:]...)
}

// foldActivity folds an activity record: kept in rec, and listed in the
// activity bucket by clock. Exercise traffic is never listed: metrics
// never count it.
func (t *vtx) foldActivity(v *viewRec, plain []byte) error {
	if err := t.put(v, plain); err != nil {
		return err
	}
	if v.exercise != "" {
		return nil
	}
	views := v.rec.Activity.Views
	if len(views) > maxViewsPerRecord {
		views = views[:maxViewsPerRecord]
	}
	b := make([]byte, 0, 32+32*len(views))
	b = append(b, v.author[:]...)
	for _, p := range views {
		b = append(b, p[:]...)
	}
	k := activityKey(v.clock, v.id)
	sealed, err := t.seal(cat([]byte(vbActivity), k), b)
	if err != nil {
		return err
	}
	return t.b(vbActivity).Put(k, sealed)
}

// unfoldActivity takes a removed activity record out of the activity
// bucket (entries left behind are skipped when read anyway).
func (t *vtx) unfoldActivity(v *viewRec) error {
	return t.b(vbActivity).Delete(activityKey(v.clock, v.id))
}

// activityEntry is one activity record as the metrics read it.
type activityEntry struct {
	clock  uint64
	author crypto.DeviceID
	views  []envelope.Hash
}

// eachActivity calls fn for each activity record with a clock in [from,
// to), in clock order, until fn returns false.
func (t *vtx) eachActivity(from, to uint64, fn func(e activityEntry) bool) {
	b := t.b(vbActivity)
	c := b.Cursor()
	start := binary.BigEndian.AppendUint64(nil, from)
	for k, val := c.Seek(start); k != nil; k, val = c.Next() {
		if len(k) != 40 {
			continue
		}
		clock := binary.BigEndian.Uint64(k)
		if clock >= to {
			return
		}
		plain, err := t.open(cat([]byte(vbActivity), k), val)
		if err != nil || len(plain) < 32 || len(plain)%32 != 0 {
			continue
		}
		e := activityEntry{clock: clock}
		copy(e.author[:], plain)
		e.views = make([]envelope.Hash, 0, len(plain)/32-1)
		for p := plain[32:]; len(p) >= 32; p = p[32:] {
			e.views = append(e.views, envelope.Hash(p[:32]))
		}
		if !fn(e) {
			return
		}
	}
}

// demoMetrics gives the demo community topic views and organisation
// settings: members open the first posts (one activity record each), and
// two organisations consent to be named. Demo calls it after the reads
// (members by name, ids the demo's posts); exchange follows.
func demoMetrics(members map[string]*App, ids []string) error {
	for _, name := range []string{"Venue Lead", "Power SOC Analyst", "Railway IT Lead", "CSIRT Analyst"} {
		m := members[name]
		if m == nil {
			continue
		}
		for _, id := range ids[:min(len(ids), 5)] {
			if err := m.RecordView(id); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if _, err := m.FlushActivity(true); err != nil {
			return err
		}
	}
	named := true
	for _, name := range []string{"Venue Lead"} {
		if m := members[name]; m != nil {
			if _, err := m.SetOrgSettings("", OrgSettingsChange{Named: &named}); err != nil {
				return err
			}
		}
	}
	return nil
}

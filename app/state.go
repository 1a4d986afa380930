package app

import (
	"bytes"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// meta is what every folded record keeps of its envelope.
type meta struct {
	id       envelope.Hash
	author   crypto.DeviceID
	seq      uint64
	clock    uint64
	exercise string
}

// newer orders records for last-writer-wins: by clock, then by ID, so that
// every device picks the same winner whatever order records arrived in.
func (m meta) newer(o meta) bool {
	if m.clock != o.clock {
		return m.clock > o.clock
	}
	return bytes.Compare(m.id[:], o.id[:]) > 0
}

func metaOf(h *envelope.Header, exercise string) meta {
	return meta{id: h.ID(), author: crypto.DeviceID(h.Author), seq: h.Seq, clock: h.Clock, exercise: exercise}
}

type orgState struct {
	rec OrgProfile
	meta
}

type profileState struct {
	rec MemberProfile
	meta
}

type contactsState struct {
	rec *ContactsRecord
	meta
}

type communityState struct {
	rec CommunityProfile
	meta
}

type revocationState struct {
	rec RevocationNote
	meta
}

// state is what the views hold in memory: the trust state and the
// directory (the community's profile, organisations, people, contacts and
// revocation notes), all bounded by the community's size, not by what its
// members post. Folding is commutative: maps keyed by IDs, last-writer-wins
// by (clock, ID) when read. Posts, comments, read receipts and incidents
// live in the persisted views (see view.go).
type state struct {
	trust       *crypto.Trust
	communities map[envelope.Hash]communityState
	orgs        map[crypto.ID16]map[envelope.Hash]orgState
	profiles    map[crypto.ID16]map[envelope.Hash]profileState // by person
	contacts    map[crypto.ID16]map[envelope.Hash]contactsState
	revocations map[crypto.DeviceID]map[envelope.Hash]revocationState
	assets      map[crypto.ID16]map[envelope.Hash]assetsState      // by organisation (assets.go)
	orgSettings map[crypto.ID16]map[envelope.Hash]orgSettingsState // by organisation (metrics.go)
	// revIndex says when revocations were written; filled from the store
	// when first needed (see revocationIndex).
	revIndex *revocationIndex
}

func newState() *state {
	return &state{
		trust:       crypto.NewTrust(envelope.Hash{}),
		communities: map[envelope.Hash]communityState{},
		orgs:        map[crypto.ID16]map[envelope.Hash]orgState{},
		profiles:    map[crypto.ID16]map[envelope.Hash]profileState{},
		contacts:    map[crypto.ID16]map[envelope.Hash]contactsState{},
		revocations: map[crypto.DeviceID]map[envelope.Hash]revocationState{},
		assets:      map[crypto.ID16]map[envelope.Hash]assetsState{},
		orgSettings: map[crypto.ID16]map[envelope.Hash]orgSettingsState{},
		revIndex:    newRevocationIndex(),
	}
}

// role returns the current role of a device, "" for none.
func (s *state) role(d crypto.DeviceID) (crypto.Membership, bool) {
	return s.trust.Member(d)
}

func (s *state) isCoordinator(d crypto.DeviceID) bool {
	m, ok := s.role(d)
	return ok && m.Role == crypto.RoleCoordinator
}

// canAdminOrg reports whether d may write an organisation's own records
// (contacts): its org admins and every coordinator.
func (s *state) canAdminOrg(d crypto.DeviceID, org crypto.ID16) bool {
	m, ok := s.role(d)
	return ok && (m.Role == crypto.RoleCoordinator || (m.Role == crypto.RoleOrgAdmin && m.Org == org))
}

// mayWriteProfile reports whether a member profile counts: it names a
// device of the person it claims (the device's membership says so), and
// its author is one of that person's own devices, a coordinator, or an org
// admin of the person's organisation (DESIGN.md section 4, "a person's
// profile"). A relay writes nothing that counts. Judged against the trust
// state of the whole set, when views are read.
func (s *state) mayWriteProfile(p profileState) bool {
	dev, ok := s.role(p.rec.Device)
	if !ok || dev.Person != p.rec.Person {
		return false
	}
	author, ok := s.role(p.author)
	if !ok {
		return false
	}
	switch author.Role {
	case crypto.RoleRelay:
		return false
	case crypto.RoleCoordinator:
		return true
	case crypto.RoleOrgAdmin:
		if author.Org == dev.Org {
			return true
		}
	}
	return author.Person == p.rec.Person
}

// record folds one opened directory record. Every record is kept; rules
// that depend on roles (only coordinators name organisations, say) are
// applied when views are read, against the trust state of the whole set,
// so the result does not depend on the order in which certificates and
// records arrived.
func (s *state) record(m meta, r *Record) {
	switch {
	case r.Community != nil:
		s.communities[m.id] = communityState{rec: *r.Community, meta: m}
	case r.Org != nil:
		put(s.orgs, r.Org.ID, m.id, orgState{rec: *r.Org, meta: m})
	case r.Member != nil:
		put(s.profiles, r.Member.Person, m.id, profileState{rec: *r.Member, meta: m})
	case r.Contacts != nil:
		put(s.contacts, r.Contacts.Org, m.id, contactsState{rec: r.Contacts, meta: m})
	case r.Revocation != nil:
		put(s.revocations, r.Revocation.Device, m.id, revocationState{rec: *r.Revocation, meta: m})
	case r.Assets != nil:
		put(s.assets, r.Assets.Org, m.id, assetsState{rec: r.Assets, meta: m})
	case r.OrgSettings != nil:
		put(s.orgSettings, r.OrgSettings.Org, m.id, orgSettingsState{rec: *r.OrgSettings, meta: m})
	}
}

// forget removes a directory record the store removed.
func (s *state) forget(id envelope.Hash) {
	delete(s.communities, id)
	for _, m := range s.orgs {
		delete(m, id)
	}
	for _, m := range s.profiles {
		delete(m, id)
	}
	for _, m := range s.contacts {
		delete(m, id)
	}
	for _, m := range s.revocations {
		delete(m, id)
	}
	for _, m := range s.assets {
		delete(m, id)
	}
	for _, m := range s.orgSettings {
		delete(m, id)
	}
}

// put sets m[k][id] = v, making the inner map when needed.
func put[K comparable, V any](m map[K]map[envelope.Hash]V, k K, id envelope.Hash, v V) {
	inner := m[k]
	if inner == nil {
		inner = map[envelope.Hash]V{}
		m[k] = inner
	}
	inner[id] = v
}

// latest returns the newest candidate that passes ok.
func latest[V interface{ metaOf() meta }](cands map[envelope.Hash]V, ok func(V) bool) (V, bool) {
	var best V
	found := false
	for _, c := range cands {
		if !ok(c) {
			continue
		}
		if !found || c.metaOf().newer(best.metaOf()) {
			best, found = c, true
		}
	}
	return best, found
}

func (m meta) metaOf() meta { return m }

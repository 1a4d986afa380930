package app

import (
	"fmt"
	"strings"

	"noroshi/crypto"
)

// CommunityOptions describes a new community and its founding organisation.
type CommunityOptions struct {
	Name      string
	OrgName   string
	OrgKind   OrgKind
	OrgSector string
	Demo      bool
}

// CreateCommunity founds a community with this device as its first
// coordinator: the genesis certificate, the community key, the founding
// organisation and its key, and their sealed names.
func (a *App) CreateCommunity(opt CommunityOptions) (WhoAmI, error) {
	if !a.store.Community().IsZero() {
		return WhoAmI{}, &FieldError{Err: ErrHasCommunity, Of: OfCommunity, Field: FieldHome, Reason: ReasonExists}
	}
	if err := checkName("community name", opt.Name); err != nil {
		return WhoAmI{}, err
	}
	if err := checkName("organisation name", opt.OrgName); err != nil {
		return WhoAmI{}, err
	}
	if err := checkSector(opt.OrgKind, opt.OrgSector); err != nil {
		return WhoAmI{}, err
	}
	person := crypto.PersonOf(a.dev.ID())
	org, err := crypto.NewID16(a.cfg.Rand)
	if err != nil {
		return WhoAmI{}, err
	}
	nonce, err := crypto.NewID16(a.cfg.Rand)
	if err != nil {
		return WhoAmI{}, err
	}
	p := a.dev.Public()
	genesis := &crypto.Certificate{Genesis: &crypto.Genesis{Nonce: nonce, Founder: crypto.Membership{
		Device: p.ID, Recipient: p.Recipient, Person: person, Org: org, Role: crypto.RoleCoordinator}}}
	if _, err := a.write(a.cert(genesis)); err != nil {
		return WhoAmI{}, fmt.Errorf("write genesis: %w", err)
	}
	ck, err := crypto.NewScopedKey(a.cfg.Rand, crypto.ScopeCommunity, crypto.ID16{})
	if err != nil {
		return WhoAmI{}, err
	}
	ok, err := crypto.NewScopedKey(a.cfg.Rand, crypto.ScopeOrg, org)
	if err != nil {
		return WhoAmI{}, err
	}
	cg, err := crypto.NewKeyGrant(a.cfg.Rand, crypto.ScopeCommunity, crypto.ID16{}, ck, []crypto.PublicDevice{p})
	if err != nil {
		return WhoAmI{}, err
	}
	og, err := crypto.NewKeyGrant(a.cfg.Rand, crypto.ScopeOrg, org, ok, []crypto.PublicDevice{p})
	if err != nil {
		return WhoAmI{}, err
	}
	tk, err := crypto.NewScopedKey(a.cfg.Rand, crypto.ScopeTransport, crypto.ID16{})
	if err != nil {
		return WhoAmI{}, err
	}
	tg, err := crypto.NewKeyGrant(a.cfg.Rand, crypto.ScopeTransport, crypto.ID16{}, tk, []crypto.PublicDevice{p})
	if err != nil {
		return WhoAmI{}, err
	}
	toAll := crypto.Audience{Groups: []crypto.GroupKey{ck}}
	if _, err := a.write(
		a.cert(&crypto.Certificate{KeyGrant: tg}),
		a.cert(&crypto.Certificate{KeyGrant: cg}),
		a.cert(&crypto.Certificate{KeyGrant: og}),
		a.sealed(toAll, &Record{Community: &CommunityProfile{Name: opt.Name, Demo: opt.Demo}}),
		a.sealed(toAll, &Record{Org: &OrgProfile{ID: org, Name: opt.OrgName, Kind: opt.OrgKind, Sector: opt.OrgSector}}),
		a.sealed(toAll, &Record{Member: &MemberProfile{Person: person, Device: p.ID, Name: a.dev.Name}}),
	); err != nil {
		return WhoAmI{}, err
	}
	return a.WhoAmI(), nil
}

func checkName(what, s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: the %s is empty", ErrInvalid, what)
	}
	if len(s) > 200 || strings.ContainsAny(s, "\n\r") {
		return fmt.Errorf("%w: the %s must be one line of at most 200 bytes", ErrInvalid, what)
	}
	return nil
}

func checkSector(kind OrgKind, sector string) error {
	if kind == KindCriticalService && sector == "" {
		return &FieldError{Of: OfOrg, Field: FieldSector, Reason: ReasonRequired, With: FieldOrgKind, WithValue: string(KindCriticalService), Allowed: Sectors}
	}
	if kind != KindCriticalService && sector != "" {
		return &FieldError{Of: OfOrg, Field: FieldSector, Reason: ReasonNotAllowed, With: FieldOrgKind, WithValue: string(kind)}
	}
	return nil
}

// communityAudience returns the current community key as an audience.
func (a *App) communityAudience() (crypto.Audience, error) {
	ck, ok := a.currentKey(crypto.ScopeCommunity, crypto.ID16{})
	if !ok {
		return crypto.Audience{}, fmt.Errorf("%w: this device holds no community key (a relay cannot write records)", ErrNotAllowed)
	}
	return crypto.Audience{Groups: []crypto.GroupKey{ck}}, nil
}

// memberAudience checks that this device is an active member and returns
// the current community key as an audience.
func (a *App) memberAudience() (crypto.Audience, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, err := a.me(); err != nil {
		return crypto.Audience{}, err
	}
	return a.communityAudience()
}

// AddOrg adds an organisation: a new organisation key granted to every
// coordinator, and its profile sealed to the community. Coordinators only.
func (a *App) AddOrg(name string, kind OrgKind, sector string) (Org, error) {
	if err := checkName("organisation name", name); err != nil {
		return Org{}, err
	}
	if err := checkSector(kind, sector); err != nil {
		return Org{}, err
	}
	a.mu.RLock()
	me, err := a.me()
	if err == nil && me.Role != crypto.RoleCoordinator {
		err = fmt.Errorf("%w: only coordinators add organisations (your role: %s)", ErrNotAllowed, me.Role)
	}
	if err == nil {
		if _, ferr := a.view.findOrg(name); ferr == nil {
			err = fmt.Errorf("%w: an organisation named %q exists already", ErrInvalid, name)
		}
	}
	var coordinators []crypto.PublicDevice
	for _, m := range a.view.trust.Members() {
		if _, revoked := a.view.trust.Revoked(m.Device); m.Role == crypto.RoleCoordinator && !revoked {
			coordinators = append(coordinators, m.Public())
		}
	}
	aud, aerr := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return Org{}, err
	}
	if aerr != nil {
		return Org{}, aerr
	}
	id, err := crypto.NewID16(a.cfg.Rand)
	if err != nil {
		return Org{}, err
	}
	key, err := crypto.NewScopedKey(a.cfg.Rand, crypto.ScopeOrg, id)
	if err != nil {
		return Org{}, err
	}
	grant, err := crypto.NewKeyGrant(a.cfg.Rand, crypto.ScopeOrg, id, key, coordinators)
	if err != nil {
		return Org{}, err
	}
	if _, err := a.write(
		a.cert(&crypto.Certificate{KeyGrant: grant}),
		a.sealed(aud, &Record{Org: &OrgProfile{ID: id, Name: name, Kind: kind, Sector: sector}}),
	); err != nil {
		return Org{}, err
	}
	return Org{ID: id.String(), Name: name, Kind: kind, Sector: sector}, nil
}

// Revoke revokes a device (by device ID prefix, or a person with one device):
// every peer refuses what it writes after the last envelope this device
// holds of it. Coordinators only; the reason travels sealed. Every key the
// revoked device held rotates to a new epoch granted only to the remaining
// devices: the community key, the transport key, its organisation's key (all
// organisation keys for a coordinator). What the device already had, it
// keeps: say so to users.
func (a *App) Revoke(device, reason string) (Device, error) {
	if strings.TrimSpace(reason) == "" {
		return Device{}, &FieldError{Of: OfRevocation, Field: FieldReason, Reason: ReasonRequired}
	}
	a.mu.RLock()
	me, err := a.me()
	if err == nil && me.Role != crypto.RoleCoordinator {
		err = fmt.Errorf("%w: only coordinators revoke devices (your role: %s)", ErrNotAllowed, me.Role)
	}
	var d crypto.DeviceID
	if err == nil {
		d, err = a.view.findDevice(device)
	}
	if err == nil && d == a.dev.ID() {
		err = fmt.Errorf("%w: a device cannot revoke itself; ask another coordinator", ErrNotAllowed)
		if _, need := a.view.trust.Quorum(d); need == 0 {
			err = fmt.Errorf("%w: this is the last coordinator's device: it cannot be revoked; make another coordinator first", ErrNotAllowed)
		}
	}
	if err == nil {
		if _, revoked := a.view.trust.Revoked(d); revoked {
			err = fmt.Errorf("%w: device %s is already revoked", ErrInvalid, d.Short())
		}
	}
	// Revoking a coordinator takes a second coordinator where one exists:
	// this device's revocation is then a vote, and keys rotate only with
	// the revocation that completes the quorum.
	effective := true
	if err == nil {
		have, need := a.view.trust.Quorum(d)
		switch {
		case need == 0:
			err = fmt.Errorf("%w: device %s belongs to the last coordinator, who cannot be revoked: make another coordinator first", ErrNotAllowed, d.Short())
		case a.view.trust.Voted(d, me.Person):
			err = fmt.Errorf("%w: you already revoked coordinator device %s; another coordinator must agree (noroshi member revoke %s)", ErrInvalid, d.Short(), d.Short())
		default:
			effective = have+1 >= need
		}
	}
	aud, aerr := a.communityAudience()
	var rotations []*crypto.KeyGrant
	if err == nil && effective {
		rotations, err = a.rotationsWithout(d)
	}
	a.mu.RUnlock()
	if err != nil {
		return Device{}, err
	}
	if aerr != nil {
		return Device{}, aerr
	}
	// The cut is the last envelope of the device this device holds, named
	// by hash: a stolen key cannot write a fork below it.
	head := a.store.Head(d)
	last := head.Seq
	builders := []builder{a.cert(&crypto.Certificate{Revocation: &crypto.Revocation{Device: d, LastValidSeq: last, LastValid: head.Head}})}
	for _, g := range rotations {
		builders = append(builders, a.cert(&crypto.Certificate{KeyGrant: g}))
	}
	// The reason is sealed to the new community key: the revoked device
	// does not learn it from this envelope.
	if len(rotations) > 0 {
		for _, g := range rotations {
			if g.Scope == crypto.ScopeCommunity {
				if k, ok, _ := a.dev.OpenGrant(g); ok {
					aud = crypto.Audience{Groups: []crypto.GroupKey{k}}
				}
			}
		}
	}
	builders = append(builders, a.sealed(aud, &Record{Revocation: &RevocationNote{Device: d, Reason: reason}}))
	if _, err := a.write(builders...); err != nil {
		return Device{}, err
	}
	m, _ := a.store.Trust().Member(d)
	_, revoked := a.store.Trust().Revoked(d)
	return Device{ID: d.String(), Role: m.Role, Revoked: revoked, AwaitingQuorum: !revoked, LastValidSeq: last, RevokeReason: reason}, nil
}

// maxGrantsPerCert keeps a key grant certificate under the size bound: a
// hybrid-sealed key is about 1.7 KB.
const maxGrantsPerCert = 400

// rotationsWithout returns new epochs of every key scope that device d
// holds, granted to every other active device entitled to it. The caller
// holds a.mu.
func (a *App) rotationsWithout(d crypto.DeviceID) ([]*crypto.KeyGrant, error) {
	t := a.view.trust
	revoked, ok := t.Member(d)
	if !ok {
		return nil, fmt.Errorf("%w: device %s is not a member", ErrNotFound, d.Short())
	}
	var active []crypto.Membership
	for _, m := range t.Members() {
		if _, r := t.Revoked(m.Device); !r && m.Device != d {
			active = append(active, m)
		}
	}
	type scope struct {
		s   crypto.Scope
		org crypto.ID16
	}
	scopes := []scope{{crypto.ScopeTransport, crypto.ID16{}}}
	if revoked.Role != crypto.RoleRelay {
		scopes = append(scopes, scope{crypto.ScopeCommunity, crypto.ID16{}})
		switch revoked.Role {
		case crypto.RoleCoordinator:
			for id := range a.view.orgs {
				scopes = append(scopes, scope{crypto.ScopeOrg, id})
			}
		default:
			scopes = append(scopes, scope{crypto.ScopeOrg, revoked.Org})
		}
	}
	var out []*crypto.KeyGrant
	for _, sc := range scopes {
		var to []crypto.PublicDevice
		for _, m := range active {
			switch {
			case sc.s == crypto.ScopeTransport:
			case m.Role == crypto.RoleRelay:
				continue
			case sc.s == crypto.ScopeOrg && m.Org != sc.org && m.Role != crypto.RoleCoordinator:
				continue
			}
			to = append(to, m.Public())
		}
		key, err := crypto.NewScopedKey(a.cfg.Rand, sc.s, sc.org)
		if err != nil {
			return nil, err
		}
		for len(to) > 0 {
			n := min(len(to), maxGrantsPerCert)
			g, err := crypto.NewKeyGrant(a.cfg.Rand, sc.s, sc.org, key, to[:n])
			if err != nil {
				return nil, err
			}
			out = append(out, g)
			to = to[n:]
		}
	}
	return out, nil
}

package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// JoinRequest is what a new device hands to a coordinator: its public keys and
// its person's name, signed by the device. It holds nothing secret.
type JoinRequest struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Device    crypto.DeviceID `json:"device"`
	Recipient string          `json:"recipient"`
	Created   time.Time       `json:"created"`
	Signature []byte          `json:"signature"`
}

const (
	joinRequestType    = "noroshi-join-request"
	joinRequestVersion = 1
	maxJoinRequest     = 16 << 10
	inviteType         = "noroshi-invite"
	inviteVersion      = 1
	// maxInvite bounds an invite's plaintext: the community's envelopes.
	maxInvite = 1 << 30
)

func (r *JoinRequest) signedBytes() []byte {
	c := *r
	c.Signature = nil
	b, _ := json.Marshal(c)
	return append([]byte("noroshi/join-request/v1\x00"), b...)
}

// JoinRequest returns this device's signed join request.
func (a *App) JoinRequest() ([]byte, error) {
	p := a.dev.Public()
	r := &JoinRequest{V: joinRequestVersion, Type: joinRequestType, Name: a.dev.Name, Device: p.ID, Recipient: p.Recipient,
		Created: a.cfg.Now().Round(time.Second)}
	r.Signature = a.dev.SignBytes(r.signedBytes())
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeJoinRequest parses and verifies a join request.
func DecodeJoinRequest(b []byte) (*JoinRequest, error) {
	if len(b) > maxJoinRequest {
		return nil, fmt.Errorf("%w: join request of %d bytes is too large: is this the right file?", ErrInvalid, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	r := &JoinRequest{}
	if err := dec.Decode(r); err != nil {
		return nil, &FieldError{Of: OfInvite, Field: FieldRequest, Reason: ReasonMalformed, Detail: err.Error()}
	}
	if r.Type != joinRequestType {
		return nil, fmt.Errorf("%w: not a join request (type %q)", ErrInvalid, r.Type)
	}
	if r.V != joinRequestVersion {
		return nil, fmt.Errorf("%w: join request version %d, this program reads %d: upgrade Noroshi", ErrInvalid, r.V, joinRequestVersion)
	}
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 200 {
		return nil, fmt.Errorf("%w: join request without a usable name", ErrInvalid)
	}
	if _, err := (crypto.PublicDevice{ID: r.Device, Recipient: r.Recipient}).AgeRecipient(); err != nil {
		return nil, fmt.Errorf("%w: join request: %v", ErrInvalid, err)
	}
	if !crypto.VerifyBytes(r.Device, r.signedBytes(), r.Signature) {
		return nil, fmt.Errorf("%w: join request signature does not verify: the file was changed; ask for a new one", ErrInvalid)
	}
	return r, nil
}

// InviteOptions says what an invited device becomes.
type InviteOptions struct {
	Org string
	// Role is the device's role; empty means member, or the person's role
	// for another device of an existing person.
	Role crypto.Role
	// SamePersonAs names an existing member: the new device is another
	// device of that person.
	SamePersonAs string
	// Endorsement is the file `noroshi endorse` wrote on one of that
	// person's devices: an org admin needs it to add a device to an
	// existing person (a coordinator does not).
	Endorsement []byte
}

// endorsementFile is what `noroshi endorse` writes: a membership for a new
// device of this device's person, signed by this device.
type endorsementFile struct {
	V          int               `json:"v"`
	Type       string            `json:"type"`
	Community  envelope.Hash     `json:"community"`
	Membership crypto.Membership `json:"membership"`
}

const (
	endorsementType    = "noroshi-endorsement"
	endorsementVersion = 1
)

// Endorse vouches that the device of a join request is another device of
// this device's person, in its organisation, with role (empty: this
// device's role, at most org admin). An org admin turns the file into an
// invite with `noroshi invite --endorsement FILE`.
func (a *App) Endorse(reqBytes []byte, role crypto.Role) ([]byte, error) {
	req, err := DecodeJoinRequest(reqBytes)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	me, err := a.me()
	community := a.view.trust.Community()
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if role == "" {
		role = me.Role
		if role != crypto.RoleMember {
			role = crypto.RoleOrgAdmin
		}
	}
	if role != crypto.RoleMember && role != crypto.RoleOrgAdmin {
		return nil, fmt.Errorf("%w: an endorsement admits a member or an org admin; a coordinator's device needs a coordinator's invite", ErrInvalid)
	}
	m := crypto.Membership{Device: req.Device, Recipient: req.Recipient, Person: me.Person, Org: me.Org, Role: role}
	m.Endorsement = a.dev.Endorse(community, m)
	b, err := json.MarshalIndent(endorsementFile{V: endorsementVersion, Type: endorsementType, Community: community, Membership: m}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func decodeEndorsement(b []byte, req *JoinRequest, community envelope.Hash) (crypto.Membership, error) {
	if len(b) > maxJoinRequest {
		return crypto.Membership{}, fmt.Errorf("%w: endorsement of %d bytes is too large: is this the right file?", ErrInvalid, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f endorsementFile
	if err := dec.Decode(&f); err != nil || f.Type != endorsementType {
		return crypto.Membership{}, &FieldError{Of: OfInvite, Field: FieldEndorsement, Reason: ReasonMalformed}
	}
	if f.V != endorsementVersion {
		return crypto.Membership{}, fmt.Errorf("%w: endorsement version %d, this program reads %d: upgrade Noroshi", ErrInvalid, f.V, endorsementVersion)
	}
	m := f.Membership
	switch {
	case f.Community != community:
		return m, fmt.Errorf("%w: the endorsement is for another community", ErrInvalid)
	case m.Device != req.Device || m.Recipient != req.Recipient:
		return m, fmt.Errorf("%w: the endorsement is for another device than this join request", ErrInvalid)
	case m.Endorsement == nil || !crypto.VerifyBytes(m.Endorsement.Device, crypto.EndorsementMessage(community, m), m.Endorsement.Sig):
		return m, fmt.Errorf("%w: the endorsement's signature does not verify: the file was changed; ask for a new one", ErrInvalid)
	}
	return m, nil
}

// inviteMeta is the metadata of an invite's bundle.
type inviteMeta struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	Community envelope.Hash   `json:"community"`
	Device    crypto.DeviceID `json:"device"`
	Inviter   crypto.DeviceID `json:"inviter"`
}

// Invite admits the device of a join request and returns the invite file:
// every envelope this device holds that the new device may hold, sealed with
// age to the requesting device alone.
func (a *App) Invite(reqBytes []byte, opt InviteOptions) ([]byte, Member, error) {
	req, err := DecodeJoinRequest(reqBytes)
	if err != nil {
		return nil, Member{}, err
	}
	a.mu.RLock()
	me, err := a.me()
	if err != nil {
		a.mu.RUnlock()
		return nil, Member{}, err
	}
	s := a.view
	if _, ok := s.trust.Member(req.Device); ok {
		a.mu.RUnlock()
		return nil, Member{}, fmt.Errorf("%w: device %s is already a member: it can run `noroshi join` with the invite made before", ErrInvalid, req.Device.Short())
	}
	var org, person crypto.ID16
	var endorsed *crypto.Membership
	name := req.Name
	if len(opt.Endorsement) > 0 {
		var m crypto.Membership
		if m, err = decodeEndorsement(opt.Endorsement, req, s.trust.Community()); err == nil {
			endorsed = &m
			person, org, opt.Role = m.Person, m.Org, m.Role
			if n, ok := s.profileName(person); ok {
				name = n
			}
			opt.SamePersonAs, opt.Org = "", ""
		}
	}
	if err == nil && opt.SamePersonAs != "" {
		// Another device of an existing person: same organisation, same
		// name, and by default the person's role.
		person, err = s.findPerson(opt.SamePersonAs)
		if err == nil {
			if n, ok := s.profileName(person); ok {
				name = n
			}
			for _, m := range s.trust.Members() {
				if _, revoked := s.trust.Revoked(m.Device); m.Person == person && !revoked {
					org = m.Org
					if opt.Role == "" {
						opt.Role = m.Role
					}
				}
			}
		}
	}
	if opt.Role == "" {
		opt.Role = crypto.RoleMember
	}
	if err == nil && opt.Org != "" {
		org, err = s.findOrg(opt.Org)
	}
	if err == nil && org.IsZero() {
		err = &FieldError{Of: OfInvite, Field: FieldOrg, Reason: ReasonRequired}
	}
	if err == nil {
		switch {
		case me.Role == crypto.RoleCoordinator:
		case me.Role == crypto.RoleOrgAdmin && !person.IsZero() && endorsed == nil:
			err = &FieldError{Err: ErrNotAllowed, Of: OfInvite, Field: FieldEndorsement, Reason: ReasonRequired, With: FieldRole, WithValue: string(crypto.RoleOrgAdmin)}
		case me.Role == crypto.RoleOrgAdmin && org == me.Org && (opt.Role == crypto.RoleMember || opt.Role == crypto.RoleOrgAdmin):
		default:
			err = fmt.Errorf("%w: your role (%s) cannot admit a %s to this organisation: ask a coordinator", ErrNotAllowed, me.Role, opt.Role)
		}
	}
	// Group keys to hand over: every epoch of the community key, so the new
	// device reads the history; its organisation's keys; every organisation
	// key for a coordinator; and the transport key. A relay gets only the
	// transport key.
	var grants []*crypto.KeyGrant
	newDev := crypto.PublicDevice{ID: req.Device, Recipient: req.Recipient}
	if err == nil {
		for _, e := range a.keys.Epochs() {
			info := a.epochs[e]
			switch {
			case info.scope == crypto.ScopeTransport:
			case opt.Role == crypto.RoleRelay:
				continue // a relay reads nothing
			case info.scope == crypto.ScopeOrg && info.org != org && opt.Role != crypto.RoleCoordinator:
				continue
			}
			g, _ := a.keys.Get(e)
			kg, gerr := crypto.NewKeyGrant(a.cfg.Rand, info.scope, info.org, g, []crypto.PublicDevice{newDev})
			if gerr != nil {
				err = gerr
				break
			}
			grants = append(grants, kg)
		}
	}
	ck, haveCK := a.currentKey(crypto.ScopeCommunity, crypto.ID16{})
	community := s.trust.Community()
	a.mu.RUnlock()
	if err != nil {
		return nil, Member{}, err
	}
	if !haveCK {
		return nil, Member{}, fmt.Errorf("%w: this device holds no community key", ErrNotAllowed)
	}
	if person.IsZero() {
		person = crypto.PersonOf(req.Device)
	}
	ms := &crypto.Membership{Device: req.Device, Recipient: req.Recipient, Person: person, Org: org, Role: opt.Role}
	if endorsed != nil {
		ms = endorsed
	}
	// The membership first: for a new coordinator where two coordinators
	// exist it is this coordinator's agreement only, and the keys are
	// granted by the second, whose invite admits the device.
	if _, err := a.write(a.cert(&crypto.Certificate{Membership: ms})); err != nil {
		return nil, Member{}, err
	}
	if _, ok := a.store.Trust().Member(req.Device); !ok {
		return nil, Member{}, &FieldError{Err: ErrAwaitingQuorum, Of: OfInvite, Field: FieldRole, Reason: ReasonQuorum, Value: string(crypto.RoleCoordinator)}
	}
	var builders []builder
	for _, kg := range grants {
		builders = append(builders, a.cert(&crypto.Certificate{KeyGrant: kg}))
	}
	builders = append(builders, a.sealed(crypto.Audience{Groups: []crypto.GroupKey{ck}},
		&Record{Member: &MemberProfile{Person: person, Device: req.Device, Name: name}}))
	if _, err := a.write(builders...); err != nil {
		return nil, Member{}, err
	}

	meta, _ := json.Marshal(inviteMeta{V: inviteVersion, Type: inviteType, Community: community, Device: req.Device, Inviter: a.dev.ID()})
	var plain bytes.Buffer
	bw, err := replica.NewBundleWriter(&plain, meta)
	if err != nil {
		return nil, Member{}, err
	}
	if err := a.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
		if !replica.MayHoldPayload(e.Header, community, req.Device) {
			e.Payload = nil
		}
		return bw.Add(e)
	}); err != nil {
		return nil, Member{}, err
	}
	if err := bw.Close(); err != nil {
		return nil, Member{}, err
	}
	sealed, err := crypto.SealTo(a.cfg.Rand, plain.Bytes(), crypto.Audience{Devices: []crypto.PublicDevice{newDev}})
	if err != nil {
		return nil, Member{}, err
	}
	var mem Member
	for _, m := range a.Members() {
		if m.Person == person.String() {
			mem = m
		}
	}
	return sealed, mem, nil
}

// Join opens an invite made for this device and stores the community it
// carries.
func (a *App) Join(invite []byte) (WhoAmI, error) {
	if c := a.store.Community(); !c.IsZero() {
		return WhoAmI{}, &FieldError{Err: ErrHasCommunity, Of: OfCommunity, Field: FieldHome, Reason: ReasonExists}
	}
	plain, err := crypto.OpenFrom(invite, maxInvite, a.dev.Identity())
	if errors.Is(err, crypto.ErrNotForMe) {
		return WhoAmI{}, &FieldError{Err: ErrNotForDevice, Of: OfInvite, Field: FieldInvite, Reason: ReasonNotForDevice}
	}
	if err != nil {
		return WhoAmI{}, fmt.Errorf("%w: not a Noroshi invite (%v)", ErrInvalid, err)
	}
	br, err := replica.NewBundleReader(bytes.NewReader(plain))
	if err != nil {
		return WhoAmI{}, fmt.Errorf("%w: invite: %v", ErrInvalid, err)
	}
	var meta inviteMeta
	if err := json.Unmarshal(br.Meta, &meta); err != nil || meta.Type != inviteType {
		return WhoAmI{}, fmt.Errorf("%w: not a Noroshi invite", ErrInvalid)
	}
	if meta.V != inviteVersion {
		return WhoAmI{}, fmt.Errorf("%w: invite version %d, this program reads %d: upgrade Noroshi", ErrInvalid, meta.V, inviteVersion)
	}
	if meta.Device != a.dev.ID() {
		return WhoAmI{}, fmt.Errorf("%w: it names device %s", ErrNotForDevice, meta.Device.Short())
	}
	var envs []*envelope.Envelope
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return WhoAmI{}, fmt.Errorf("%w: invite: %v", ErrInvalid, err)
		}
		envs = append(envs, e)
	}
	if len(envs) == 0 || envs[0].ID() != meta.Community {
		return WhoAmI{}, fmt.Errorf("%w: invite does not start with its community's genesis", ErrInvalid)
	}
	res, err := a.store.Add(envs...)
	if err != nil {
		return WhoAmI{}, err
	}
	if err := a.refresh(); err != nil {
		return WhoAmI{}, err
	}
	w := a.WhoAmI()
	if !w.Joined {
		return w, fmt.Errorf("%w: the invite holds no membership for this device (%d envelopes refused)", ErrInvalid, len(res.Refused))
	}
	return w, nil
}

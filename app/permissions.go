package app

import "noroshi/crypto"

// Who may do what, in one place: the write paths refuse by these rules and
// the views carry their answers (WhoAmI.Abilities, PostDetail.PostAbilities,
// Member.Addressable, Device.CanRevoke), so no front end derives a rule
// from a role.

// Abilities say what this device may do now. A device that has not joined,
// or was revoked, may do none of it.
type Abilities struct {
	// CanPost: write posts, comments and incidents (not a relay).
	CanPost bool `json:"can_post,omitempty"`
	// CanPostObservation: post to an organisation's observation channel.
	CanPostObservation bool `json:"can_post_observation,omitempty"`
	// CanInvite: admit devices (a coordinator anywhere, an org admin to
	// their own organisation).
	CanInvite bool `json:"can_invite,omitempty"`
	// CanAddOrg: add organisations.
	CanAddOrg bool `json:"can_add_org,omitempty"`
	// CanRevoke: revoke devices (each device says whether it may be:
	// Device.CanRevoke).
	CanRevoke bool `json:"can_revoke,omitempty"`
	// CanSetContacts: set the 24-hour contacts of this device's own
	// organisation.
	CanSetContacts bool `json:"can_set_contacts,omitempty"`
	// SeesAllIncidents: the incident board holds every organisation's
	// incidents, not only this device's organisation's.
	SeesAllIncidents bool `json:"sees_all_incidents,omitempty"`
}

// PostAbilities say what this device may do with one post.
type PostAbilities struct {
	CanRetract bool `json:"can_retract,omitempty"`
	CanComment bool `json:"can_comment,omitempty"`
}

// viewer is this device as the rules see it.
type viewer struct {
	device crypto.DeviceID
	m      crypto.Membership
	active bool // joined and not revoked
}

// viewer returns this device as the rules see it. The caller holds a.mu.
func (a *App) viewer() viewer {
	m, ok := a.view.trust.Member(a.dev.ID())
	_, revoked := a.view.trust.Cut(a.dev.ID())
	return viewer{device: a.dev.ID(), m: m, active: ok && !revoked}
}

func (v viewer) is(r crypto.Role) bool { return v.active && v.m.Role == r }

func (v viewer) coordinator() bool { return v.is(crypto.RoleCoordinator) }

func (v viewer) canPost() bool { return v.active && v.m.Role != crypto.RoleRelay }

func (v viewer) canPostObservation() bool { return v.coordinator() }

func (v viewer) canInvite() bool { return v.coordinator() || v.is(crypto.RoleOrgAdmin) }

func (v viewer) canAddOrg() bool { return v.coordinator() }

func (v viewer) canRevokeDevices() bool { return v.coordinator() }

// canRevoke: a coordinator revokes any active device but its own (the
// last coordinator's rule is checked when it is tried).
func (v viewer) canRevoke(d crypto.DeviceID, revoked bool) bool {
	return v.canRevokeDevices() && !revoked && d != v.device
}

// canSetContacts: the organisation's admins and the coordinators.
func (v viewer) canSetContacts(org crypto.ID16) bool {
	return v.coordinator() || (v.is(crypto.RoleOrgAdmin) && v.m.Org == org)
}

func (v viewer) seesAllIncidents() bool { return v.coordinator() }

// canUpdateIncident: the reporting organisation and the coordinators.
func (v viewer) canUpdateIncident(org crypto.ID16) bool {
	return v.coordinator() || (v.active && v.m.Org == org)
}

// canRetract: the device that wrote the post, or a coordinator.
func (v viewer) canRetract(author crypto.DeviceID) bool {
	return v.active && (author == v.device || v.coordinator())
}

// canSeeReads: who read a post is shown to its author's person, the
// author's organisation admins and the coordinators.
func (v viewer) canSeeReads(author crypto.Membership) bool {
	return v.m.Person == author.Person || v.m.Role == crypto.RoleCoordinator ||
		(v.m.Role == crypto.RoleOrgAdmin && v.m.Org == author.Org)
}

func (v viewer) abilities() Abilities {
	return Abilities{
		CanPost:            v.canPost(),
		CanPostObservation: v.canPostObservation(),
		CanInvite:          v.canInvite(),
		CanAddOrg:          v.canAddOrg(),
		CanRevoke:          v.canRevokeDevices(),
		CanSetContacts:     v.canSetContacts(v.m.Org),
		SeesAllIncidents:   v.seesAllIncidents(),
	}
}

func (v viewer) postAbilities(author crypto.DeviceID) PostAbilities {
	return PostAbilities{CanRetract: v.canRetract(author), CanComment: v.canPost()}
}

// addressable reports whether posts can be sealed to a person and
// incidents assigned to them: anyone but a relay.
func addressable(r crypto.Role) bool { return r != crypto.RoleRelay }

// permitMembers fills the members' permission fields for this viewer.
func (v viewer) permitMembers(ms []Member) {
	for i := range ms {
		ms[i].Addressable = addressable(ms[i].Role)
		for j := range ms[i].Devices {
			d := &ms[i].Devices[j]
			id, err := crypto.ParseDeviceID(d.ID)
			d.CanRevoke = err == nil && v.canRevoke(id, d.Revoked)
		}
	}
}

// canRoute: coordinators pass an incident to support organisations
// (support.go).
func (v viewer) canRoute() bool { return v.coordinator() }

// canRepublish: coordinators re-publish an incident without names
// (republish.go).
func (v viewer) canRepublish() bool { return v.coordinator() }

// canAnswerSupport: the addressed organisation's members and the
// coordinators answer a support request to organisation to.
func (v viewer) canAnswerSupport(to crypto.ID16) bool {
	return v.coordinator() || (v.active && v.m.Role != crypto.RoleRelay && v.m.Org == to)
}

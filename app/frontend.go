package app

import (
	"noroshi/crypto"
	"noroshi/replica"
)

// What the front ends (gui, cmd) need from the layers below app, so that
// they import app only.

// ParseRole parses a role as people write it: coordinator, org-admin,
// member or relay.
func ParseRole(s string) (Role, error) {
	r, err := crypto.ParseRole(s)
	if err != nil {
		names := make([]string, len(Roles))
		for i, r := range []Role{RoleCoordinator, RoleOrgAdmin, RoleMember, RoleRelay} {
			names[i] = string(r)
		}
		return "", &FieldError{Field: FieldRole, Reason: ReasonUnknownValue, Value: s, Allowed: names}
	}
	return r, nil
}

// Profile tunes replication for a venue network or the internet.
type Profile = replica.Profile

// Replication profiles.
const (
	ProfileLAN = replica.ProfileLAN
	ProfileWAN = replica.ProfileWAN
)

// DefaultWorkFactor is the scrypt work factor of a real key file.
const DefaultWorkFactor = crypto.DefaultWorkFactor

// TestWorkFactor is a scrypt work factor far too low to protect a real key
// file: it makes key files fast to write and read in the front ends'
// tests. Only tests may pass it.
const TestWorkFactor = 10

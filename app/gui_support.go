package app

import (
	"fmt"
	"os"
	"path/filepath"

	"noroshi/crypto"
)

// What frontends need to show roles without importing crypto (the GUI
// imports app only).

// Role is a device's role in the community.
type Role = crypto.Role

// Roles, as app's callers name them.
const (
	RoleCoordinator = crypto.RoleCoordinator
	RoleOrgAdmin    = crypto.RoleOrgAdmin
	RoleMember      = crypto.RoleMember
	RoleRelay       = crypto.RoleRelay
)

// Roles lists the roles an invite may give.
var Roles = []Role{RoleMember, RoleOrgAdmin, RoleCoordinator, RoleRelay}

// What this device may do is in WhoAmI.Abilities (permissions.go): front
// ends read it rather than derive it from the role.

// KeyFile returns the home's key file as it is on disk: the device's keys,
// encrypted with its passphrase, for a backup. A restored backup lets the
// person read again, but the restored machine must enrol as a new device.
func (a *App) KeyFile() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(a.cfg.Home, KeyFileName))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return b, nil
}

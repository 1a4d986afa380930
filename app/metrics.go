package app

import (
	"noroshi/crypto"
	"noroshi/crypto/envelope"
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

// foldActivity folds an activity record (metrics.go owns its buckets).
func (t *vtx) foldActivity(v *viewRec, plain []byte) error {
	return t.put(v, plain)
}

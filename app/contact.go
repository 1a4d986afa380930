package app

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"noroshi/crypto"
)

// ContactList is an organisation's 24-hour contact points.
type ContactList struct {
	Org     string         `json:"org"`
	OrgName string         `json:"org_name"`
	Kind    OrgKind        `json:"kind"`
	Sector  string         `json:"sector,omitempty"`
	Entries []ContactEntry `json:"entries"`
	Updated time.Time      `json:"updated"`
	By      string         `json:"updated_by"`
}

// SetContact adds or replaces (by role) one 24-hour contact point of an
// organisation; with Remove, deletes the entry of that role. The
// organisation's admins and the coordinators may. The organisation's whole
// list is written as one record, last-writer-wins.
func (a *App) SetContact(org string, e ContactEntry, remove bool) (ContactList, error) {
	e.Role, e.Name = strings.TrimSpace(e.Role), strings.TrimSpace(e.Name)
	if e.Role == "" {
		return ContactList{}, &FieldError{Of: OfContact, Field: FieldContactRole, Reason: ReasonRequired}
	}
	if !remove && e.Name == "" {
		return ContactList{}, &FieldError{Of: OfContact, Field: FieldContactName, Reason: ReasonRequired}
	}
	if !remove && e.Phone == "" && e.Email == "" {
		return ContactList{}, &FieldError{Of: OfContact, Field: FieldPhone, Reason: ReasonOneRequired, Also: []Field{FieldEmail}}
	}
	for _, f := range []string{e.Role, e.Name, e.Phone, e.Email, e.Hours} {
		if len(f) > 200 || strings.ContainsAny(f, "\r\n") {
			return ContactList{}, fmt.Errorf("%w: contact fields are one line of at most 200 bytes", ErrInvalid)
		}
	}
	a.mu.RLock()
	me, err := a.me()
	var id crypto.ID16
	if err == nil {
		if org == "" {
			id = me.Org
		} else {
			id, err = a.view.findOrg(org)
		}
	}
	if err == nil && !a.view.canAdminOrg(a.dev.ID(), id) {
		err = fmt.Errorf("%w: only the organisation's admins and coordinators set its contacts (your role: %s)", ErrNotAllowed, me.Role)
	}
	var entries []ContactEntry
	if cur, ok := a.view.contactsOf(id); ok {
		entries = append(entries, cur.rec.Entries...)
	}
	aud, aerr := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return ContactList{}, err
	}
	if aerr != nil {
		return ContactList{}, aerr
	}
	found := false
	out := entries[:0]
	for _, x := range entries {
		if strings.EqualFold(x.Role, e.Role) {
			found = true
			if remove {
				continue
			}
			x = e
		}
		out = append(out, x)
	}
	if remove && !found {
		return ContactList{}, fmt.Errorf("%w: no contact with role %q", ErrNotFound, e.Role)
	}
	if !found {
		out = append(out, e)
	}
	if _, err := a.write(a.sealed(aud, &Record{Contacts: &ContactsRecord{Org: id, Entries: out}})); err != nil {
		return ContactList{}, err
	}
	for _, c := range a.Contacts("") {
		if c.Org == id.String() {
			return c, nil
		}
	}
	return ContactList{}, fmt.Errorf("%w: contacts written but not readable", ErrNotFound)
}

func (s *state) contactsOf(org crypto.ID16) (contactsState, bool) {
	return latest(s.contacts[org], func(c contactsState) bool { return s.canAdminOrg(c.author, org) })
}

// Contacts lists every organisation's contact points, by organisation name;
// search filters on any field.
func (a *App) Contacts(search string) []ContactList {
	a.mu.RLock()
	defer a.mu.RUnlock()
	q := strings.ToLower(strings.TrimSpace(search))
	var out []ContactList
	for org := range a.view.contacts {
		c, ok := a.view.contactsOf(org)
		if !ok {
			continue
		}
		p, _ := a.view.org(org)
		l := ContactList{Org: org.String(), OrgName: a.view.orgName(org), Kind: p.Kind, Sector: p.Sector,
			Updated: wallTime(c.clock), By: a.view.deviceName(c.author)}
		for _, e := range c.rec.Entries {
			hay := strings.ToLower(strings.Join([]string{l.OrgName, string(l.Kind), l.Sector, e.Role, e.Name, e.Phone, e.Email, e.Hours}, " "))
			if q == "" || strings.Contains(hay, q) {
				l.Entries = append(l.Entries, e)
			}
		}
		if len(l.Entries) > 0 || (q == "" && len(c.rec.Entries) == 0) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].OrgName != out[j].OrgName {
			return out[i].OrgName < out[j].OrgName
		}
		return out[i].Org < out[j].Org
	})
	return out
}

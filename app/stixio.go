package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"noroshi/app/stix"
	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// STIX 2.1 out and in (DESIGN.md section 6). The mapping:
//
//	organisation          identity (stable ID from the organisation ID), only
//	                      those the exported objects refer to
//	post                  report (stable ID from the envelope ID, or from
//	                      Source.ID for a post that stands for an outside object)
//	structured indicator  indicator (stable ID from the post and the value)
//	comment               note on the report
//	comment by another    sighting of the indicator, where_sighted the
//	organisation that     commenter's organisation: "we saw it too" is said
//	repeats an indicator  in Noroshi by commenting the indicator back
//	incident              incident with the incident core extension, marked
//	                      TLP:AMBER+STRICT (incidents are sealed to the
//	                      reporting organisation and the coordinators), so
//	                      exported only with --tlp-max amber+strict
//
// A post imported from STIX keeps its original objects (PostRecord.STIX)
// and exports them as they came, so a bundle goes round unchanged.

// stixCVE is a CVE ID as STIX external references take it.
var stixCVE = regexp.MustCompile(`^CVE-\d{4}-(0\d{3}|[1-9]\d{3,})$`)

// MaxSTIX bounds the original STIX objects a post keeps (PostRecord.STIX).
const MaxSTIX = 1 << 20

// checkSTIX checks a draft's original STIX objects: a JSON array within
// MaxSTIX.
func checkSTIX(b json.RawMessage) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) > MaxSTIX {
		return fmt.Errorf("%w: STIX objects of %d bytes, at most %d", ErrTooLarge, len(b), MaxSTIX)
	}
	var raws []json.RawMessage
	if json.Unmarshal(b, &raws) != nil {
		return fmt.Errorf("%w: a post's STIX objects must be a JSON array of objects", ErrInvalid)
	}
	return nil
}

// STIXExportOptions selects what ExportSTIX and STIXObjects give.
type STIXExportOptions struct {
	// TLPMax is the most restricted marking exported; "" means GREEN.
	// RED is never exported, whatever is asked.
	TLPMax TLP
	// Since, when set, keeps only objects added at or after it.
	Since time.Time
}

// STIXObject is one exported STIX object, as a TAXII collection serves it.
type STIXObject struct {
	ID   string
	Type string
	// Added is when this version of the object came into the community
	// (TAXII's date_added): when the post or comment was written; for a
	// report, its latest comment (its notes are among its object_refs);
	// for an incident, its latest update; for an identity or a marking,
	// the first object that refers to it.
	Added time.Time
	// Modified is the object's modified property (its version).
	Modified time.Time
	// JSON is the object's encoding.
	JSON json.RawMessage
}

// STIXExportResult says what ExportSTIX wrote.
type STIXExportResult struct {
	BundleID string         `json:"bundle_id"`
	Objects  int            `json:"objects"`
	ByType   map[string]int `json:"by_type"`
	// Withheld counts posts and incidents above the TLP limit.
	Withheld int `json:"withheld"`
}

// tlpLimit returns the rank of the most restricted marking exported.
func (o STIXExportOptions) tlpLimit() (int, error) {
	t := o.TLPMax
	if t == "" {
		t = TLPGreen
	}
	if t == TLPRed {
		return 0, fmt.Errorf("%w: TLP:RED is never exported: choose AMBER+STRICT at most", ErrNotAllowed)
	}
	r := stix.TLPRank(string(t))
	if r < 0 {
		_, err := ParseTLP(string(t))
		return 0, err
	}
	return r, nil
}

// ExportSTIX writes one STIX 2.1 bundle of what this device can read, as
// STIXObjects lists it.
func (a *App) ExportSTIX(w io.Writer, opts STIXExportOptions) (STIXExportResult, error) {
	objs, withheld, err := a.stixObjects(opts)
	if err != nil {
		return STIXExportResult{}, err
	}
	res := STIXExportResult{ByType: map[string]int{}, Withheld: withheld, Objects: len(objs)}
	raws := make([]json.RawMessage, len(objs))
	ids := make([]string, len(objs))
	for i, o := range objs {
		raws[i] = o.JSON
		ids[i] = o.ID + "@" + stix.FormatTime(o.Modified)
		res.ByType[o.Type]++
	}
	// The same content gives the same bundle ID.
	b := stix.NewBundle(strings.Join(ids, ","), raws)
	res.BundleID = b.ID
	out, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return res, fmt.Errorf("stix export: %w", err)
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return res, fmt.Errorf("stix export: %w", err)
	}
	return res, nil
}

// STIXObjects lists the STIX objects of what this device can read, within
// the TLP limit and since the given time, ordered by Added then ID: the
// organisations that wrote them as identities, the TLP marking definitions
// they use, a report per post (and its indicators, notes and sightings),
// an incident per incident. RED and exercise traffic never appear, nor an
// organisation's observation channel.
func (a *App) STIXObjects(opts STIXExportOptions) ([]STIXObject, error) {
	objs, _, err := a.stixObjects(opts)
	return objs, err
}

// stixPost is one post gathered for export.
type stixPost struct {
	v   *viewRec
	org crypto.ID16
	// comments on the post and on the other versions of its source, each
	// with the TLP of the version it is on.
	comments []stixComment
	// export is set when the post is within the TLP limit; the others are
	// only walked for the IDs Noroshi derives.
	export bool
}

// stixComment is a comment gathered for export, with the TLP of the post
// version it is on.
type stixComment struct {
	*viewRec
	tlp TLP
}

// stixOut collects exported objects, one version per ID (the newest): an
// identity or a marking can come with several imported posts.
type stixOut struct {
	byID map[string]STIXObject
	// refs: identity and marking IDs referred to, with the earliest Added.
	refs map[string]time.Time
	// derived holds the IDs Noroshi derives itself (of organisations,
	// posts, comments, incidents), exported or not; a stored object never
	// takes one. With deriving set, add only records the ID there.
	derived  map[string]bool
	deriving bool
	// stored are the original objects of imported posts, added after
	// every derived object (flushStored).
	stored []storedObject
}

// storedObject is an original object an imported post keeps, with the
// post's organisation and when it was added.
type storedObject struct {
	obj   stix.Object
	org   crypto.ID16
	added time.Time
}

func (o *stixOut) add(id, typ string, added, modified time.Time, v any) error {
	if o.deriving {
		o.derived[id] = true
		return nil
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = stix.Marshal(v); err != nil {
			return err
		}
	}
	if old, ok := o.byID[id]; ok {
		// The newest version; of two alike, the first added, then the
		// smaller encoding, whatever order the posts were read in.
		switch {
		case modified.Before(old.Modified),
			modified.Equal(old.Modified) && added.After(old.Added),
			modified.Equal(old.Modified) && added.Equal(old.Added) && bytes.Compare(raw, old.JSON) >= 0:
			return nil
		}
	}
	o.byID[id] = STIXObject{ID: id, Type: typ, Added: added, Modified: modified, JSON: raw}
	return nil
}

func (o *stixOut) ref(id string, added time.Time) {
	if id == "" || o.deriving {
		return
	}
	if t, ok := o.refs[id]; !ok || added.Before(t) {
		o.refs[id] = added
	}
}

// flushStored adds the stored objects of imported posts. A member may
// store any objects, so: one with an ID Noroshi derives (an organisation's
// identity, a TLP marking, an object of a post, a comment or an incident)
// is left out, the derived one always wins; one that claims, as its
// creator, the identity of an organisation other than the importing
// post's author's loses that claim (created_by_ref).
func (o *stixOut) flushStored(orgsByIdentity map[string]crypto.ID16) error {
	for _, so := range o.stored {
		obj := so.obj
		if o.derived[obj.ID] {
			continue
		}
		if _, ok := orgsByIdentity[obj.ID]; ok {
			continue
		}
		if _, ok := stix.TLPMarkingByID(obj.ID); ok {
			continue
		}
		if org, ok := orgsByIdentity[obj.CreatedByRef]; ok && org != so.org {
			raw, err := dropProperty(obj.Raw, "created_by_ref")
			if err != nil {
				return err
			}
			obj.Raw, obj.CreatedByRef = raw, ""
		}
		if obj.Type != "marking-definition" && obj.Type != "identity" {
			for _, m := range obj.ObjectMarkingRefs {
				o.ref(m, so.added)
			}
		}
		o.ref(obj.CreatedByRef, so.added)
		if err := o.add(obj.ID, obj.Type, so.added, obj.ModifiedTime(), obj.Raw); err != nil {
			return err
		}
	}
	o.stored = nil
	return nil
}

// dropProperty removes one property of an object.
func dropProperty(raw json.RawMessage, key string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, key)
	return json.Marshal(m)
}

func orgIdentityID(org crypto.ID16) string { return stix.ID("identity", org.String()) }

func tlpMarkingRefs(t TLP) []string {
	return []string{stix.TLPMarkingID(string(t))}
}

func (a *App) stixObjects(opts STIXExportOptions) ([]STIXObject, int, error) {
	limit, err := opts.tlpLimit()
	if err != nil {
		return nil, 0, err
	}
	out := &stixOut{byID: map[string]STIXObject{}, refs: map[string]time.Time{}, derived: map[string]bool{}}
	within := func(t TLP) bool {
		return t != TLPRed && stix.TLPRank(string(t)) >= 0 && stix.TLPRank(string(t)) <= limit
	}
	withheld, walked := 0, 0
	a.mu.RLock()
	defer a.mu.RUnlock()
	s := a.view
	var posts []stixPost
	var incidents []Incident
	var incidentOrgs []crypto.ID16
	var incidentOut []bool
	err = a.inView(func(t *vtx) error {
		// The feed holds the posts shown: of a source, the version shown
		// (sources.go). Those above the limit are walked too, for the IDs
		// Noroshi derives of them.
		c := t.b(vbFeed).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			v := t.post(feedID(k))
			walked++
			if v == nil || !s.visible(v) || v.exercise != "" || v.rec.Post.Channel == ChannelObservation {
				continue
			}
			m, _ := s.trust.Member(v.author)
			p := stixPost{v: v, org: m.Org, export: within(v.rec.Post.TLP)}
			if !p.export {
				withheld++
			}
			// The comments on every version of a source are the post's,
			// each at the TLP of its own version.
			for _, id := range t.versionIDs(v) {
				pv := t.post(id)
				if pv == nil || pv.exercise != "" {
					continue
				}
				eachPrefix(t.b(vbKids), id[:], func(k, _ []byte) bool {
					if cv := t.get(envelope.Hash(k[len(id):])); cv != nil && cv.rec != nil && cv.rec.Comment != nil && cv.exercise == "" {
						p.comments = append(p.comments, stixComment{cv, pv.rec.Post.TLP})
					}
					return true
				})
			}
			sort.Slice(p.comments, func(i, j int) bool { return p.comments[j].newer(p.comments[i].meta) })
			posts = append(posts, p)
		}
		for _, v := range t.reported() {
			if v.exercise != "" {
				continue
			}
			ok := within(TLPAmberStrict)
			if !ok {
				withheld++
			}
			incidents = append(incidents, t.incident(v))
			incidentOrgs = append(incidentOrgs, v.rec.Incident.Org)
			incidentOut = append(incidentOut, ok)
		}
		return nil
	})
	a.walked(walked)
	if err != nil {
		return nil, 0, err
	}
	// First the IDs Noroshi derives, of everything this device reads,
	// then the objects exported.
	out.deriving = true
	for _, p := range posts {
		if err := a.stixPost(out, p, time.Time{}); err != nil {
			return nil, 0, err
		}
	}
	for i, inc := range incidents {
		if err := stixIncident(out, inc, incidentOrgs[i], time.Time{}); err != nil {
			return nil, 0, err
		}
	}
	out.deriving = false
	for _, p := range posts {
		if !p.export {
			continue
		}
		// Only the comments on versions within the limit.
		p.comments = slices.DeleteFunc(slices.Clone(p.comments), func(cv stixComment) bool { return !within(cv.tlp) })
		if err := a.stixPost(out, p, opts.Since); err != nil {
			return nil, 0, err
		}
	}
	for i, inc := range incidents {
		if !incidentOut[i] {
			continue
		}
		if err := stixIncident(out, inc, incidentOrgs[i], opts.Since); err != nil {
			return nil, 0, err
		}
	}
	// Identities and markings the objects refer to.
	orgsByIdentity := map[string]crypto.ID16{}
	for org := range s.orgs {
		orgsByIdentity[orgIdentityID(org)] = org
	}
	if err := out.flushStored(orgsByIdentity); err != nil {
		return nil, 0, err
	}
	for id, added := range out.refs {
		if _, ok := out.byID[id]; ok {
			continue
		}
		if md, ok := stix.TLPMarkingByID(id); ok {
			created, _ := stix.ParseTime(md.Created)
			if err := out.add(id, md.Type, added, created, md); err != nil {
				return nil, 0, err
			}
			continue
		}
		if org, ok := orgsByIdentity[id]; ok {
			if err := stixIdentity(out, s, org, added); err != nil {
				return nil, 0, err
			}
		}
	}
	objs := make([]STIXObject, 0, len(out.byID))
	for _, o := range out.byID {
		objs = append(objs, o)
	}
	sort.Slice(objs, func(i, j int) bool {
		if !objs[i].Added.Equal(objs[j].Added) {
			return objs[i].Added.Before(objs[j].Added)
		}
		return objs[i].ID < objs[j].ID
	})
	return objs, withheld, nil
}

// stixIdentity adds an organisation's identity.
func stixIdentity(out *stixOut, s *state, org crypto.ID16, added time.Time) error {
	var first, last *orgState
	for _, o := range s.orgs[org] {
		if !s.isCoordinator(o.author) {
			continue
		}
		o := o
		if first == nil || first.newer(o.meta) {
			first = &o
		}
		if last == nil || o.newer(last.meta) {
			last = &o
		}
	}
	if last == nil {
		return nil
	}
	created, modified := wallTime(first.clock), wallTime(last.clock)
	id := orgIdentityID(org)
	desc := "Noroshi organisation: " + string(last.rec.Kind)
	if last.rec.Sector != "" {
		desc += ", sector " + last.rec.Sector
	}
	obj := stix.Identity{Common: stix.NewCommon("identity", id, created, modified), Name: last.rec.Name,
		Description: desc, IdentityClass: "organization"}
	return out.add(id, "identity", added, modified, obj)
}

// postReportID returns the ID of the report a post is exported as: the
// original report's for an imported report, else one derived from the
// source or the envelope ID.
func postReportID(v *viewRec) string {
	if src := v.rec.Post.Source; src != nil {
		if id, ok := strings.CutPrefix(src.ID, "stix:"); ok && stix.TypeOf(id) == "report" {
			return id
		}
		return stix.ID("report", src.ID)
	}
	return stix.ID("report", v.id.String())
}

// postName is the stable name a post's objects are derived from.
func postName(v *viewRec) string {
	if src := v.rec.Post.Source; src != nil {
		return src.ID
	}
	return v.id.String()
}

// postLabels are the labels that carry a post's type and tag.
func postLabels(r *PostRecord) []string {
	return []string{"noroshi-type:" + string(r.Type), "noroshi-tag:" + string(r.Tag)}
}

// reportTypes maps an information type to STIX report types.
func reportTypes(t PostType) []string {
	switch t {
	case TypeVulnerability:
		return []string{"vulnerability"}
	case TypeMalware:
		return []string{"malware"}
	case TypeForeshadowing:
		return []string{"threat-actor"}
	case TypeObservation:
		return []string{"observed-data"}
	}
	return []string{"threat-report"}
}

// stixPost adds a post's objects.
func (a *App) stixPost(out *stixOut, p stixPost, since time.Time) error {
	s := a.view
	v, r := p.v, p.v.rec.Post
	added := wallTime(v.clock)
	// mainID is what notes on the post refer to: its report, or the
	// original object an imported post stands for.
	mainID := postReportID(v)
	name := postName(v)
	// The post's indicators, by value, with their STIX IDs.
	indIDs := map[Indicator]string{}
	stored := false
	if len(r.STIX) > 0 {
		if err := a.stixStored(out, p, added, since, indIDs); err != nil {
			if !out.deriving {
				a.cfg.Logf("post %s: stored STIX objects: %v", v.id.String()[:12], err)
			}
		} else {
			stored = true
			if id, ok := strings.CutPrefix(r.Source.ID, "stix:"); ok && stix.TypeOf(id) != "" {
				mainID = id
			}
		}
	}
	if !stored {
		if err := a.stixReport(out, p, since, indIDs); err != nil {
			return err
		}
	}
	// Comments as notes; a comment by another organisation that repeats
	// one of the post's indicators as a sighting of it.
	type seen struct {
		ind string
		org crypto.ID16
	}
	type sight struct {
		first, last time.Time
		count       int
		tlp         TLP // the most restricted of the comments'
	}
	sightings := map[seen]*sight{}
	for _, cv := range p.comments {
		at := wallTime(cv.clock)
		m, _ := s.trust.Member(cv.author)
		org := orgIdentityID(m.Org)
		if m.Org != p.org {
			for _, in := range FindIndicators(cv.rec.Comment.Body) {
				if id, ok := indIDs[in]; ok {
					k := seen{id, m.Org}
					if sightings[k] == nil {
						sightings[k] = &sight{first: at, tlp: cv.tlp}
					}
					sightings[k].last = at
					sightings[k].count++
					if stix.TLPRank(string(cv.tlp)) > stix.TLPRank(string(sightings[k].tlp)) {
						sightings[k].tlp = cv.tlp
					}
				}
			}
		}
		if at.Before(since) {
			continue
		}
		// Each note at the TLP of the version it is on.
		id := stix.ID("note", cv.id.String())
		c := stix.NewCommon("note", id, at, at)
		c.CreatedByRef, c.ObjectMarkingRefs = org, tlpMarkingRefs(cv.tlp)
		// Authors: the organisation, as a report names it, never the person.
		obj := stix.Note{Common: c, Content: cv.rec.Comment.Body, Authors: []string{s.orgName(m.Org)}, ObjectRefs: []string{mainID}}
		if err := out.add(id, "note", at, at, obj); err != nil {
			return err
		}
		out.ref(org, at)
		out.ref(c.ObjectMarkingRefs[0], at)
	}
	for k, st := range sightings {
		if st.last.Before(since) {
			continue
		}
		org := orgIdentityID(k.org)
		id := stix.ID("sighting", name+"/"+k.ind+"/"+k.org.String())
		c := stix.NewCommon("sighting", id, st.first, st.last)
		// At the post's TLP, or its comments' when more restricted.
		tlp := r.TLP
		if stix.TLPRank(string(st.tlp)) > stix.TLPRank(string(tlp)) {
			tlp = st.tlp
		}
		c.CreatedByRef, c.ObjectMarkingRefs = org, tlpMarkingRefs(tlp)
		n := st.count
		obj := stix.Sighting{Common: c, FirstSeen: stix.FormatTime(st.first), LastSeen: stix.FormatTime(st.last), Count: &n,
			SightingOfRef: k.ind, WhereSightedRefs: []string{org},
			Description: "Members of this organisation said in Noroshi that they saw it too."}
		if err := out.add(id, "sighting", st.last, st.last, obj); err != nil {
			return err
		}
		out.ref(org, st.last)
		out.ref(c.ObjectMarkingRefs[0], st.last)
	}
	return nil
}

// stixReport adds a post written in Noroshi: its report and indicators.
// It fills indIDs with the indicators' STIX IDs.
func (a *App) stixReport(out *stixOut, p stixPost, since time.Time, indIDs map[Indicator]string) error {
	v, r := p.v, p.v.rec.Post
	added := wallTime(v.clock)
	marks := tlpMarkingRefs(r.TLP)
	author := orgIdentityID(p.org)
	reportID := postReportID(v)
	name := postName(v)
	var refs []string
	latest := added
	for _, in := range r.Indicators {
		pat, err := stix.Pattern(string(in.Kind), in.Value)
		if err != nil {
			continue
		}
		id := stix.ID("indicator", name+"/"+string(in.Kind)+":"+in.Value)
		indIDs[in] = id
		refs = append(refs, id)
		if added.Before(since) {
			continue
		}
		c := stix.NewCommon("indicator", id, added, added)
		c.CreatedByRef, c.ObjectMarkingRefs, c.Labels = author, marks, postLabels(r)
		obj := stix.Indicator{Common: c, Name: in.Defanged(), Pattern: pat, PatternType: "stix", PatternVersion: "2.1",
			ValidFrom: stix.FormatTime(added)}
		if err := out.add(id, "indicator", added, added, obj); err != nil {
			return err
		}
		out.ref(author, added)
		out.ref(marks[0], added)
	}
	if adv := r.Advisory; adv != nil && adv.GHSA != "" {
		// A security advisory: a vulnerability, with its CVEs.
		id := stix.ID("vulnerability", name+"/"+adv.GHSA)
		refs = append(refs, id)
		modified := added
		if adv.Updated.After(modified) {
			modified = adv.Updated
		}
		if !added.Before(since) {
			c := stix.NewCommon("vulnerability", id, added, modified)
			c.CreatedByRef, c.ObjectMarkingRefs = author, marks
			for _, cve := range adv.CVEs {
				if stixCVE.MatchString(cve) {
					c.ExternalReferences = append(c.ExternalReferences, stix.ExternalReference{SourceName: "cve", ExternalID: cve})
				}
			}
			ghsa := stix.ExternalReference{SourceName: "github", ExternalID: adv.GHSA}
			if strings.HasPrefix(adv.URL, "https://") {
				ghsa.URL = adv.URL
			}
			c.ExternalReferences = append(c.ExternalReferences, ghsa)
			var desc []string
			if adv.Severity != "" {
				desc = append(desc, "severity "+adv.Severity)
			}
			if adv.CVSSScore > 0 {
				desc = append(desc, fmt.Sprintf("CVSS %.1f %s", adv.CVSSScore, adv.CVSSVector))
			}
			for _, pk := range adv.Packages {
				l := pk.Ecosystem + " " + pk.Name + " " + pk.Vulnerable
				if pk.Patched != "" {
					l += ", patched in " + pk.Patched
				}
				desc = append(desc, l)
			}
			vname := adv.GHSA
			if len(adv.CVEs) > 0 {
				vname = adv.CVEs[0]
			}
			obj := stix.Vulnerability{Common: c, Name: vname, Description: strings.Join(desc, "\n")}
			if err := out.add(id, "vulnerability", added, modified, obj); err != nil {
				return err
			}
			out.ref(author, added)
			out.ref(marks[0], added)
		}
	}
	for _, cv := range p.comments {
		refs = append(refs, stix.ID("note", cv.id.String()))
		if t := wallTime(cv.clock); t.After(latest) {
			latest = t
		}
	}
	if len(refs) == 0 {
		refs = []string{author}
	}
	if !latest.Before(since) {
		c := stix.NewCommon("report", reportID, added, latest)
		c.CreatedByRef, c.ObjectMarkingRefs, c.Labels = author, marks, postLabels(r)
		if src := r.Source; src != nil && src.URL != "" {
			c.ExternalReferences = []stix.ExternalReference{{SourceName: "source", URL: src.URL}}
		}
		obj := stix.Report{Common: c, Name: r.Tag.Mark() + r.Title, Description: r.Body, ReportTypes: reportTypes(r.Type),
			Published: stix.FormatTime(added), ObjectRefs: refs}
		if err := out.add(reportID, "report", latest, latest, obj); err != nil {
			return err
		}
		out.ref(author, added)
		out.ref(marks[0], added)
	}
	return nil
}

// stixStored adds the original objects an imported post keeps, as they
// came (unless added before since), to out.stored (flushStored checks
// them); only their TLP marking follows the post's, when the import set
// another. It fills indIDs with the simple indicators among them. On an
// error it adds nothing.
func (a *App) stixStored(out *stixOut, p stixPost, added, since time.Time, indIDs map[Indicator]string) error {
	v := p.v
	r := v.rec.Post
	if r.Source == nil {
		return errors.New("no source")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(r.STIX, &raws); err != nil {
		return err
	}
	mark := stix.TLPMarkingID(string(r.TLP))
	objs := make([]stix.Object, 0, len(raws))
	for _, raw := range raws {
		o, err := stix.Parse(raw, stix.Limits{MaxBytes: MaxSTIX, MaxObjects: 1, MaxObject: MaxSTIX})
		if err != nil || len(o.Objects) != 1 {
			return fmt.Errorf("stored object: %v", err)
		}
		obj := o.Objects[0]
		if obj.Type != "marking-definition" && obj.Type != "identity" {
			var levels []string
			for _, m := range obj.ObjectMarkingRefs {
				if l, ok := stix.TLPOfMarking(m); ok {
					levels = append(levels, l)
				}
			}
			if stix.MostRestrictive(levels...) != strings.ToLower(string(r.TLP)) {
				if obj.Raw, err = remark(obj.Raw, obj.ObjectMarkingRefs, mark); err != nil {
					return err
				}
				obj.ObjectMarkingRefs = []string{mark}
			}
		}
		objs = append(objs, obj)
	}
	for _, obj := range objs {
		if obj.Type == "indicator" {
			var ind stix.Indicator
			if obj.Decode(&ind) == nil && ind.PatternType == "stix" {
				if cs, err := stix.ParsePattern(ind.Pattern); err == nil && len(cs) == 1 {
					if in, err := ParseIndicator(cs[0].Value); err == nil && string(in.Kind) == cs[0].Kind {
						indIDs[in] = obj.ID
					}
				}
			}
		}
		if added.Before(since) || out.deriving {
			continue
		}
		out.stored = append(out.stored, storedObject{obj: obj, org: p.org, added: added})
	}
	return nil
}

// remark replaces the TLP markings of an object with one.
func remark(raw json.RawMessage, refs []string, mark string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	keep := []string{mark}
	for _, x := range refs {
		if _, ok := stix.TLPOfMarking(x); !ok {
			keep = append(keep, x)
		}
	}
	b, _ := json.Marshal(keep)
	m["object_marking_refs"] = b
	return json.Marshal(m)
}

// stixIncident adds an incident, with the incident core extension.
func stixIncident(out *stixOut, inc Incident, org crypto.ID16, since time.Time) error {
	if inc.Updated.Before(since) {
		return nil
	}
	var id envelope.Hash
	if id.UnmarshalText([]byte(inc.ID)) != nil {
		return nil
	}
	sid := stix.ID("incident", inc.ID)
	c := stix.NewCommon("incident", sid, inc.Opened, inc.Updated)
	c.CreatedByRef = orgIdentityID(org)
	c.ObjectMarkingRefs = tlpMarkingRefs(TLPAmberStrict)
	c.Labels = []string{"noroshi-status:" + string(inc.Status), "noroshi-affects:" + string(inc.Affects)}
	status := "open"
	switch inc.Status {
	case StatusReported:
		status = "new"
	case StatusResolved, StatusClosed:
		status = "closed"
	}
	ext, err := stix.Marshal(stix.IncidentCore{ExtensionType: "property-extension", Determination: "suspected",
		InvestigationStatus: status, IncidentTypes: []string{string(inc.Category)}})
	if err != nil {
		return err
	}
	c.Extensions = map[string]json.RawMessage{stix.IncidentExtensionID: ext}
	obj := stix.Incident{Common: c, Name: inc.Title, Description: inc.Body}
	if err := out.add(sid, "incident", inc.Updated, inc.Updated, obj); err != nil {
		return err
	}
	out.ref(c.CreatedByRef, inc.Opened)
	out.ref(c.ObjectMarkingRefs[0], inc.Opened)
	return nil
}

// STIXImportOptions say how ImportSTIX turns a bundle into posts.
type STIXImportOptions struct {
	// TLP, when set, marks every post, whatever the objects' markings.
	TLP TLP
	// Type and Tag, when set, replace what the objects suggest.
	Type PostType
	Tag  Tag
	// DryRun says what would be added, updated and skipped, and posts
	// nothing.
	DryRun bool
}

// STIXSkipReason says why an object did not become a post.
type STIXSkipReason string

// Reasons an object is skipped.
const (
	// STIXHeld: this community holds the same or a newer revision.
	STIXHeld STIXSkipReason = "held"
	// STIXUnused: no post refers to it and it is no post on its own (a
	// relationship, a threat actor, a course of action...).
	STIXUnused STIXSkipReason = "unused"
	// STIXSchema: the file is a JSON schema, not STIX content.
	STIXSchema STIXSkipReason = "schema"
	// STIXRevoked: its author revoked it.
	STIXRevoked STIXSkipReason = "revoked"
	// STIXRed: marked TLP:RED, which is posted to named people only:
	// import it with another --tlp, or post it by hand.
	STIXRed STIXSkipReason = "red"
	// STIXRefused: the post was refused (Detail says why).
	STIXRefused STIXSkipReason = "refused"
	// STIXBudget: the posts before it used the import's byte budget
	// (stixBudget): import it on its own, or a smaller bundle.
	STIXBudget STIXSkipReason = "budget"
)

// maxSTIXMembers bounds the objects one post carries (itself and its
// context); the rest are left out of it.
const maxSTIXMembers = 1000

// stixBudget bounds what one import posts (the bodies and original STIX
// objects of every post together), so that objects shared by many reports
// and copied into each post cannot turn a bundle into many times its size
// in every peer's store: twice the bundle, plus 1 MiB for small ones.
func stixBudget(bundle int) int { return 2*bundle + 1<<20 }

// STIXImportItem is one object of an import and what became of it.
type STIXImportItem struct {
	// STIXID is the object's STIX ID; Type its STIX type.
	STIXID string `json:"stix_id"`
	Type   string `json:"type"`
	Title  string `json:"title,omitempty"`
	// Post is the post it became (added or updated), or the one already
	// held (skipped as held).
	Post string `json:"post,omitempty"`
	TLP  TLP    `json:"tlp,omitempty"`
	// Objects counts the STIX objects the post carries (itself and its
	// context).
	Objects int            `json:"objects,omitempty"`
	Reason  STIXSkipReason `json:"reason,omitempty"`
	// Detail adds to the reason, in English (an error, a revision time),
	// or says what an added post left out.
	Detail string `json:"detail,omitempty"`
}

// STIXImportResult lists what ImportSTIX added, updated and skipped.
type STIXImportResult struct {
	Added   []STIXImportItem `json:"added"`
	Updated []STIXImportItem `json:"updated"`
	Skipped []STIXImportItem `json:"skipped"`
	DryRun  bool             `json:"dry_run,omitempty"`
}

// stixPostTypes are the types of objects that are a post on their own
// when no report refers to them, in the order they are taken as the post
// (a campaign with its indicators is one post about the campaign).
var stixPostTypes = []string{"incident", "campaign", "malware", "vulnerability", "attack-pattern", "indicator"}

// stixSupport are types that never become posts or context by themselves:
// they are carried with the objects that refer to them.
var stixSupport = map[string]bool{"identity": true, "marking-definition": true, "extension-definition": true, "language-content": true}

// ImportSTIX turns a STIX 2.1 bundle (or one object) into posts: each
// report is a post, with the objects it refers to (indicators,
// vulnerabilities, notes, sightings, malware, attack patterns, campaigns,
// through object_refs, relationships, sighting_of_ref, a note's
// object_refs) as its context: text in the body and, for indicators whose
// patterns are simple comparisons, structured indicators. Objects no
// report refers to are posts of their own where they make sense. Each post
// keeps its source's STIX ID (PostSource "stix:<id>"): an object already
// held at the same or a newer modified time is skipped, a newer one posts
// a new version. The TLP of a post is opts.TLP, else the most restrictive
// marking of its objects, a TLP 1.0 marking read as its 2.0 twin and no
// marking as AMBER. A post carries maxSTIXMembers objects at most, and one
// import posts stixBudget bytes at most: what is over is skipped
// (STIXBudget).
func (a *App) ImportSTIX(b []byte, opts STIXImportOptions) (STIXImportResult, error) {
	res := STIXImportResult{Added: []STIXImportItem{}, Updated: []STIXImportItem{}, Skipped: []STIXImportItem{}, DryRun: opts.DryRun}
	if opts.TLP != "" {
		t, err := ParseTLP(string(opts.TLP))
		if err != nil {
			return res, err
		}
		if t == TLPRed {
			return res, fmt.Errorf("%w: TLP:RED posts are sealed to named people, not imported: choose AMBER+STRICT at most", ErrNotAllowed)
		}
	}
	doc, err := stix.Parse(b, stix.DefaultLimits)
	if err != nil {
		if errors.Is(err, stix.ErrTooLarge) {
			return res, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return res, fmt.Errorf("%w: %v: give a STIX 2.1 bundle (JSON)", ErrInvalid, err)
	}
	if doc.Schema {
		res.Skipped = append(res.Skipped, STIXImportItem{Reason: STIXSchema, Detail: "a JSON schema, not STIX content: nothing to import"})
		return res, nil
	}
	im := newSTIXImport(doc.Objects)
	var drafts []PostDraft
	var items []STIXImportItem
	var updates []bool
	budget := stixBudget(len(b))
	for _, root := range im.roots() {
		d, item, skip := im.draft(root, opts)
		if skip {
			res.Skipped = append(res.Skipped, item)
			continue
		}
		held, ok := a.SourceHeld(d.Source.ID, d.TLP)
		if ok && !held.Wants(d.Source.Modified) {
			item.Post, item.Reason = held.Post, STIXHeld
			item.Detail = "held at revision " + stix.FormatTime(held.Modified)
			res.Skipped = append(res.Skipped, item)
			continue
		}
		if cost := len(d.Title) + len(d.Body) + len(d.STIX); cost > budget {
			item.Reason = STIXBudget
			item.Detail = fmt.Sprintf("%d bytes, %d left of the import's budget of %d", cost, budget, stixBudget(len(b)))
			res.Skipped = append(res.Skipped, item)
			continue
		}
		budget -= len(d.Title) + len(d.Body) + len(d.STIX)
		drafts, items, updates = append(drafts, d), append(items, item), append(updates, ok)
	}
	for _, o := range im.unused() {
		res.Skipped = append(res.Skipped, STIXImportItem{STIXID: o.ID, Type: o.Type, Title: o.Name, Reason: STIXUnused})
	}
	for start := 0; start < len(drafts) && !opts.DryRun; {
		n, err := a.PostBatch(drafts[start:])
		if err == nil {
			break
		}
		if _, field := AsFieldError(err); !field && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
			// Not about one draft (no community, a revoked device, the
			// store): stop.
			return res, err
		}
		// Draft start+n was refused: say so, and go on with the next.
		i := start + n
		items[i].Reason, items[i].Detail = STIXRefused, err.Error()
		start = i + 1
	}
	for i, item := range items {
		switch {
		case item.Reason == STIXRefused:
			res.Skipped = append(res.Skipped, item)
			continue
		case !opts.DryRun:
			held, _ := a.SourceHeld(drafts[i].Source.ID, drafts[i].TLP)
			items[i].Post = held.Post
		}
		if updates[i] {
			res.Updated = append(res.Updated, items[i])
		} else {
			res.Added = append(res.Added, items[i])
		}
	}
	return res, nil
}

// stixImport holds a bundle's objects while they are turned into posts.
type stixImport struct {
	objs  []stix.Object          // newest version of each ID, in bundle order
	byID  map[string]stix.Object // the same, by ID
	used  map[string]bool        // carried by some post
	rels  map[string][]string    // object ID -> relationship IDs touching it
	about map[string][]string    // object ID -> notes and sightings about it
}

func newSTIXImport(objects []stix.Object) *stixImport {
	im := &stixImport{byID: map[string]stix.Object{}, used: map[string]bool{}, rels: map[string][]string{}, about: map[string][]string{}}
	for _, o := range objects {
		if old, ok := im.byID[o.ID]; ok {
			if !o.ModifiedTime().After(old.ModifiedTime()) {
				continue
			}
		} else {
			im.objs = append(im.objs, o)
		}
		im.byID[o.ID] = o
	}
	for i, o := range im.objs {
		o = im.byID[o.ID]
		im.objs[i] = o
		switch o.Type {
		case "relationship":
			var r stix.Relationship
			if o.Decode(&r) == nil {
				im.rels[r.SourceRef] = append(im.rels[r.SourceRef], o.ID)
				im.rels[r.TargetRef] = append(im.rels[r.TargetRef], o.ID)
			}
		case "sighting":
			var s stix.Sighting
			if o.Decode(&s) == nil {
				im.about[s.SightingOfRef] = append(im.about[s.SightingOfRef], o.ID)
			}
		case "note", "opinion":
			var n struct {
				ObjectRefs []string `json:"object_refs"`
			}
			if o.Decode(&n) == nil {
				for _, r := range n.ObjectRefs {
					im.about[r] = append(im.about[r], o.ID)
				}
			}
		}
	}
	return im
}

// roots lists the objects that become posts, reports first, and marks
// what each carries as used.
func (im *stixImport) roots() []stix.Object {
	var out []stix.Object
	for _, o := range im.objs {
		if o.Type == "report" {
			out = append(out, o)
			im.used[o.ID] = true
		}
	}
	for _, r := range out {
		im.members(r)
	}
	for _, typ := range stixPostTypes {
		for _, o := range im.objs {
			if o.Type == typ && !im.used[o.ID] {
				out = append(out, o)
				im.used[o.ID] = true
				im.members(o)
			}
		}
	}
	return out
}

// unused lists the objects no post carries, support objects aside.
func (im *stixImport) unused() []stix.Object {
	var out []stix.Object
	for _, o := range im.objs {
		if !im.used[o.ID] && !stixSupport[o.Type] {
			out = append(out, o)
		}
	}
	return out
}

// members returns a post's objects: the root, what it refers to, the
// relationships touching them and their other ends, the notes and
// sightings about any of them, maxSTIXMembers at most (left counts those
// left out). Each returned is marked used.
func (im *stixImport) members(root stix.Object) (objs []stix.Object, left int) {
	set := map[string]bool{root.ID: true}
	order := []string{root.ID}
	add := func(id string) {
		if _, ok := im.byID[id]; ok && !set[id] && id != "" && !stixSupport[im.byID[id].Type] && im.byID[id].Type != "report" {
			set[id] = true
			order = append(order, id)
		}
	}
	if root.Type == "report" {
		var r stix.Report
		if root.Decode(&r) == nil {
			for _, id := range r.ObjectRefs {
				add(id)
			}
		}
	}
	// Along relationships: one hop from the root and what it refers to,
	// a second from what that hop brought that is no post of its own (an
	// infrastructure and the addresses it consists of).
	hop := func(from []string) {
		for _, id := range from {
			if o := im.byID[id]; o.Type == "relationship" {
				var r stix.Relationship
				if o.Decode(&r) == nil {
					add(r.SourceRef)
					add(r.TargetRef)
				}
			}
			for _, rid := range im.rels[id] {
				add(rid)
				var r stix.Relationship
				if im.byID[rid].Decode(&r) == nil {
					add(r.SourceRef)
					add(r.TargetRef)
				}
			}
		}
	}
	direct := len(order)
	hop(append([]string(nil), order...))
	var second []string
	for _, id := range order[direct:] {
		if !slices.Contains(stixPostTypes, im.byID[id].Type) {
			second = append(second, id)
		}
	}
	hop(second)
	for _, id := range append([]string(nil), order...) {
		for _, n := range im.about[id] {
			add(n)
		}
	}
	if len(order) > maxSTIXMembers {
		left = len(order) - maxSTIXMembers
		order = order[:maxSTIXMembers]
	}
	out := make([]stix.Object, 0, len(order))
	for _, id := range order {
		im.used[id] = true
		out = append(out, im.byID[id])
	}
	return out, left
}

// objectTLP returns the TLP of one object: the most restrictive of its TLP
// markings, whole-object and granular (TLP 1.0 read as 2.0, marking
// definitions of the bundle read by content), AMBER when it has none, RED
// when its marking lists are malformed.
func (im *stixImport) objectTLP(o stix.Object) string {
	if o.MarkingsMalformed {
		return stix.TLPRed
	}
	var levels []string
	for _, m := range slices.Concat(o.ObjectMarkingRefs, o.GranularMarkingRefs) {
		if l, ok := stix.TLPOfMarking(m); ok {
			levels = append(levels, l)
		} else if md, ok := im.byID[m]; ok {
			var def stix.MarkingDefinition
			if md.Decode(&def) == nil {
				if l, ok := stix.TLPOfDefinition(def); ok {
					levels = append(levels, l)
				}
			}
		}
	}
	if len(levels) == 0 {
		return stix.TLPAmber
	}
	return stix.MostRestrictive(levels...)
}

// draft builds the post of one root object. skip is set, with the reason
// in item, when the object cannot be posted.
func (im *stixImport) draft(root stix.Object, opts STIXImportOptions) (PostDraft, STIXImportItem, bool) {
	members, left := im.members(root)
	item := STIXImportItem{STIXID: root.ID, Type: root.Type, Objects: len(members)}
	var common struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Labels      []string `json:"labels"`
		Revoked     bool     `json:"revoked"`
		ReportTypes []string `json:"report_types"`
		Pattern     string   `json:"pattern"`
	}
	root.Decode(&common)
	if common.Revoked {
		item.Reason = STIXRevoked
		return PostDraft{}, item, true
	}
	// TLP: the most restrictive of the post's objects.
	var levels []string
	modified := root.ModifiedTime()
	for _, m := range members {
		levels = append(levels, im.objectTLP(m))
		if t := m.ModifiedTime(); t.After(modified) {
			modified = t
		}
	}
	tlp := TLP(strings.ToUpper(stix.MostRestrictive(levels...)))
	// Objects that are no members (identities, other reports) are named
	// in the body, or carried with the objects, only when marked at most
	// as the members are and as the post is.
	nameable := stix.TLPRank(string(tlp))
	if opts.TLP != "" {
		tlp, _ = ParseTLP(string(opts.TLP))
		nameable = min(nameable, stix.TLPRank(string(tlp)))
	}
	item.TLP = tlp
	d := PostDraft{TLP: tlp, Type: opts.Type, Tag: opts.Tag, Channel: ChannelPro}
	title := strings.Join(strings.Fields(common.Name), " ")
	for _, t := range Tags {
		if rest, ok := strings.CutPrefix(title, t.Mark()); ok {
			title = strings.TrimSpace(rest)
			if d.Tag == "" {
				d.Tag = t
			}
		}
	}
	for _, l := range common.Labels {
		if v, ok := strings.CutPrefix(l, "noroshi-type:"); ok && d.Type == "" {
			d.Type, _ = ParsePostType(v)
		}
		if v, ok := strings.CutPrefix(l, "noroshi-tag:"); ok && d.Tag == "" {
			d.Tag, _ = ParseTag(v)
		}
	}
	if d.Type == "" {
		d.Type = stixPostType(root.Type, common.ReportTypes)
	}
	if d.Tag == "" {
		d.Tag = TagInfo
	}
	if title == "" {
		title = root.Type + " " + root.ID[len(root.Type)+2:]
		if common.Pattern != "" {
			title = root.Type + " " + common.Pattern
		}
	}
	d.Title = clipText(strings.Join(strings.Fields(title), " "), MaxTitle)
	item.Title = d.Title
	if tlp == TLPRed {
		item.Reason = STIXRed
		return PostDraft{}, item, true
	}
	var body strings.Builder
	body.WriteString(strings.TrimSpace(common.Description))
	var inds []string
	isMember := map[string]bool{}
	for _, m := range members {
		isMember[m.ID] = true
	}
	name := func(id string) string {
		if x, ok := im.byID[id]; ok && (x.Name != "" || x.Value != "") &&
			(isMember[id] || stix.TLPRank(im.objectTLP(x)) <= nameable) {
			return x.Type + " " + x.Name + x.Value
		}
		return id
	}
	for _, m := range members {
		inds = im.context(&body, m, m.ID == root.ID, inds, name)
	}
	d.Body = clipText(strings.TrimSpace(body.String()), MaxBody)
	d.Indicators = inds
	if modified.Before(sourceEpoch) || modified.Year() > 9999 {
		// No revision time at all, or none a source may carry (year 0,
		// 1600, past 9999 once in UTC: a malformed object): the epoch,
		// so that the post passes checkSource and importing it again
		// finds it held.
		modified = sourceEpoch.UTC()
	}
	d.Source = &PostSource{ID: "stix:" + root.ID, Modified: modified}
	// The original objects, with the identities and markings they name.
	raws := make([]json.RawMessage, 0, len(members))
	seen := map[string]bool{}
	addRaw := func(o stix.Object) {
		if !seen[o.ID] {
			seen[o.ID] = true
			raws = append(raws, o.Raw)
		}
	}
	for _, m := range members {
		addRaw(m)
	}
	for _, m := range members {
		for _, ref := range append([]string{m.CreatedByRef}, m.ObjectMarkingRefs...) {
			// A producer's identity is often unmarked: carried as it is;
			// one marked above the post is not.
			if o, ok := im.byID[ref]; ok && stixSupport[o.Type] &&
				(!o.MarkingsMalformed && len(o.ObjectMarkingRefs)+len(o.GranularMarkingRefs) == 0 || stix.TLPRank(im.objectTLP(o)) <= nameable) {
				addRaw(o)
			}
		}
	}
	if b, err := json.Marshal(raws); err == nil && len(b) <= MaxSTIX {
		d.STIX = b
	}
	if left > 0 {
		item.Detail = fmt.Sprintf("%d objects left out: at most %d a post", left, maxSTIXMembers)
	}
	return d, item, false
}

// stixPostType suggests an information type for a root object.
func stixPostType(typ string, reportTypes []string) PostType {
	switch typ {
	case "vulnerability":
		return TypeVulnerability
	case "malware":
		return TypeMalware
	case "incident":
		return TypeIncident
	case "campaign", "attack-pattern":
		return TypeForeshadowing
	case "report":
		for _, rt := range reportTypes {
			switch rt {
			case "vulnerability":
				return TypeVulnerability
			case "malware":
				return TypeMalware
			case "threat-actor", "campaign", "attack-pattern", "intrusion-set":
				return TypeForeshadowing
			}
		}
	}
	return TypeAlert
}

// context writes one object of a post into its body and returns the
// structured indicators with its own added: an indicator whose pattern is
// simple gives its values, any other object a line of text. name gives
// how an object the line refers to is named (its type and name, or only
// its ID when its marking keeps it out of the post).
func (im *stixImport) context(body *strings.Builder, o stix.Object, isRoot bool, inds []string, name func(id string) string) []string {
	var c struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Pattern     string   `json:"pattern"`
		PatternType string   `json:"pattern_type"`
		Content     string   `json:"content"`
		Abstract    string   `json:"abstract"`
		Relation    string   `json:"relationship_type"`
		Source      string   `json:"source_ref"`
		Target      string   `json:"target_ref"`
		SightingOf  string   `json:"sighting_of_ref"`
		Count       *int     `json:"count"`
		FirstSeen   string   `json:"first_seen"`
		LastSeen    string   `json:"last_seen"`
		Aliases     []string `json:"aliases"`
	}
	o.Decode(&c)
	var ext struct {
		External []stix.ExternalReference `json:"external_references"`
	}
	o.Decode(&ext)
	line := func(format string, args ...any) {
		body.WriteString("\n")
		fmt.Fprintf(body, format, args...)
	}
	if isRoot && o.Type != "indicator" {
		for _, e := range ext.External {
			if e.ExternalID != "" {
				line("%s: %s", e.SourceName, e.ExternalID)
			} else if e.URL != "" {
				line("%s: %s", e.SourceName, e.URL)
			}
		}
		return inds
	}
	switch o.Type {
	case "indicator":
		if c.PatternType == "stix" || c.PatternType == "" {
			if cs, err := stix.ParsePattern(c.Pattern); err == nil && len(inds)+len(cs) <= MaxIndicators {
				ok := true
				var vals []string
				for _, cmp := range cs {
					in, err := ParseIndicator(cmp.Value)
					if err != nil || string(in.Kind) != cmp.Kind {
						ok = false
						break
					}
					vals = append(vals, in.Value)
				}
				if ok {
					// A name says more than the value it is written from.
					if in, err := ParseIndicator(c.Name); c.Name != "" && !isRoot && (err != nil || !slices.Contains(vals, in.Value)) {
						line("indicator %s", c.Name)
					}
					return append(inds, vals...)
				}
			}
		}
		line("indicator %s: %s (%s pattern)", c.Name, c.Pattern, c.PatternType)
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file":
		// Cyber observables: their values are indicators.
		var sco struct {
			Value  string            `json:"value"`
			Name   string            `json:"name"`
			Hashes map[string]string `json:"hashes"`
		}
		o.Decode(&sco)
		vals := []string{sco.Value}
		for _, h := range sco.Hashes {
			vals = append(vals, h)
		}
		found := false
		for _, v := range vals {
			if in, err := ParseIndicator(v); err == nil && v != "" && len(inds) < MaxIndicators {
				inds, found = append(inds, in.Value), true
			}
		}
		if !found || sco.Name != "" {
			line("%s %s%s", o.Type, sco.Value, sco.Name)
		}
	case "note", "opinion":
		text := c.Content
		if c.Abstract != "" {
			text = c.Abstract + ": " + text
		}
		line("%s: %s", o.Type, text)
	case "relationship":
		line("%s %s %s", name(c.Source), c.Relation, name(c.Target))
	case "sighting":
		n := 1
		if c.Count != nil {
			n = *c.Count
		}
		line("sighting of %s: %d time(s) %s %s", name(c.SightingOf), n, c.FirstSeen, c.LastSeen)
	default:
		l := o.Type + " " + c.Name
		for _, e := range ext.External {
			if e.ExternalID != "" {
				l += " (" + e.SourceName + " " + e.ExternalID + ")"
			}
		}
		if c.Description != "" {
			l += ": " + strings.Join(strings.Fields(c.Description), " ")
		}
		line("%s", l)
	}
	return inds
}

// clipText cuts s to at most n bytes, at a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeCut(s, n)]
}

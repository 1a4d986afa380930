package app

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// Limits on what a post may carry.
const (
	MaxTitle       = 300
	MaxBody        = 256 << 10
	MaxAttachments = 20
	chunkSize      = 512 << 10
)

// PostDraft is a post as its author composes it.
type PostDraft struct {
	Type    PostType
	Tag     Tag
	TLP     TLP
	Channel Channel
	Title   string
	Body    string
	ToOrgs  []string // organisation names or IDs
	// ToMembers are people, sealed to all their active devices: person IDs
	// (as Member.Person; a device ID or an ID prefix of at least 6 hex
	// digits also does). A name is taken only when exactly one person
	// bears it; a name several people bear is refused with the list.
	ToMembers []string
	Files     []File
	// Indicators are URLs, IP addresses, domains, e-mail addresses and
	// hashes, defanged or not, carried as structured fields.
	Indicators []string
	Exercise   string
	// Source, when set, makes the post a version of an outside object
	// (PostSource): importers set it, people composing a post do not.
	Source *PostSource
	// Advisory carries a security advisory's structured fields (the
	// advisory importer sets it).
	Advisory *AdvisoryFields
	// STIX, set by the STIX import, keeps the original objects a post
	// stands for (PostRecord.STIX): a JSON array.
	STIX []byte
	// About, on an observation notice, is the ID (or a prefix) of the post
	// the notice is about (PostRecord.About; NoticeDraft sets it).
	About string
	// Incident, on a coordinator's re-publication of an incident without
	// names (App.RepublishDraft), is that incident's ID (republish.go).
	Incident string
}

// File is an attachment's name and bytes.
type File struct {
	Name string
	Data []byte
}

// PostSummary is a post as the feed lists it.
type PostSummary struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Type        PostType  `json:"type"`
	Tag         Tag       `json:"tag"`
	TagMark     string    `json:"tag_mark"`
	TLP         string    `json:"tlp"`
	Channel     Channel   `json:"channel"`
	Org         string    `json:"org"`
	OrgName     string    `json:"org_name"`
	Author      string    `json:"author"`
	AuthorName  string    `json:"author_name"`
	Time        time.Time `json:"time"`
	Unread      bool      `json:"unread"`
	Bookmarked  bool      `json:"bookmarked"`
	Reads       int       `json:"reads"`
	Comments    int       `json:"comments"`
	Attachments int       `json:"attachments"`
	Exercise    string    `json:"exercise,omitempty"`
}

// PostDetail is a post with everything shown in its detail view.
type PostDetail struct {
	PostSummary
	Body          string          `json:"body"`
	Scope         Scope           `json:"scope"`
	Files         []Attachment    `json:"files"`
	Indicators    []IndicatorView `json:"indicators"`
	CommentList   []Comment       `json:"comment_list"`
	ReadBy        []Reader        `json:"read_by,omitempty"`
	ReadByVisible bool            `json:"read_by_visible"`
	ReadOrgs      int             `json:"read_orgs"`
	AudienceOrgs  int             `json:"audience_orgs"`
	// Source is the outside object the post stands for, if any, and
	// Versions every version of it this device holds, the one shown first
	// (sources.go): who imported or revised it, and when.
	Source   *PostSource     `json:"source,omitempty"`
	Versions []SourceVersion `json:"versions,omitempty"`
	// Advisory is a security advisory's structured fields, when the post
	// was made from one.
	Advisory *AdvisoryFields `json:"advisory,omitempty"`
	// Delivery is shown to the author only.
	Delivery *Delivery `json:"delivery,omitempty"`
	// Concerns are the post's indicators that fall inside registered
	// assets: on a member's device its organisation's, on a coordinator's
	// every organisation's (assets.go).
	Concerns []AssetMatch `json:"concerns,omitempty"`
	// Incident is the incident a coordinator re-published this post from,
	// shown only to a device that can open that incident (support.go).
	Incident string `json:"incident,omitempty"`
	// PostAbilities say what this device may do with the post.
	PostAbilities
}

// Delivery is how far the author's post has gone: only on this device,
// reached a relay, on N peers, read by N of M organisations.
type Delivery struct {
	OnlyHere     bool `json:"only_here"`
	ReachedRelay bool `json:"reached_relay"`
	Peers        int  `json:"peers"`
	ReadOrgs     int  `json:"read_orgs"`
	AudienceOrgs int  `json:"audience_orgs"`
}

// Scope says who a post was shared with.
type Scope struct {
	Community bool     `json:"community"`
	Orgs      []string `json:"orgs,omitempty"`
	People    []string `json:"people,omitempty"`
}

// Attachment describes an attached file.
type Attachment struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Comment is one comment on a post.
type Comment struct {
	ID         string    `json:"id"`
	Author     string    `json:"author"`
	AuthorName string    `json:"author_name"`
	OrgName    string    `json:"org_name"`
	Time       time.Time `json:"time"`
	Body       string    `json:"body"`
}

// Reader is one person who read a post, and when first.
type Reader struct {
	Name    string    `json:"name"`
	OrgName string    `json:"org_name"`
	Time    time.Time `json:"time"`
}

// FeedFilter selects posts. Zero values select everything.
type FeedFilter struct {
	Unread     bool
	Bookmarked bool
	Type       PostType
	Tag        Tag
	TLP        TLP
	Channel    Channel
	Search     string
	// Before, a post ID, continues a listing: only posts after it in feed
	// order (older). Limit bounds the page; 0 means no bound. Front ends
	// ask for pages: the feed of a large community never sits in memory.
	Before string
	Limit  int
}

// Post seals and stores a new post and returns its ID.
func (a *App) Post(d PostDraft) (PostSummary, error) {
	builders, err := a.postBuilders(d)
	if err != nil {
		return PostSummary{}, err
	}
	ids, err := a.write(builders...)
	if err != nil {
		return PostSummary{}, err
	}
	return a.postSummary(ids[len(ids)-1]), nil
}

// postBatch bounds the posts PostBatch writes in one commit.
const postBatch = 2000

// PostBatch seals and stores many posts, a few thousand per commit (an
// import), checked one by one as Post checks them, and returns how many it
// stored. It stops at the first draft that fails, with that draft's index
// in the error; the posts before it are stored.
func (a *App) PostBatch(drafts []PostDraft) (int, error) {
	done := 0
	for done < len(drafts) {
		var builders []builder
		n := 0
		for _, d := range drafts[done:min(len(drafts), done+postBatch)] {
			b, err := a.postBuilders(d)
			if err != nil {
				if n > 0 {
					if _, werr := a.write(builders...); werr != nil {
						return done, werr
					}
				}
				return done + n, fmt.Errorf("post %d: %w", done+n+1, err)
			}
			builders = append(builders, b...)
			n++
		}
		if _, err := a.write(builders...); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// postBuilders checks a draft and returns the builders of its envelopes:
// its attachments' parts, then the post.
func (a *App) postBuilders(d PostDraft) ([]builder, error) {
	if err := checkDraft(&d, a.cfg.MaxAttachment); err != nil {
		return nil, err
	}
	rec := &PostRecord{Type: d.Type, Tag: d.Tag, TLP: d.TLP, Channel: d.Channel, Title: d.Title, Body: d.Body, Source: d.Source, Advisory: d.Advisory, STIX: d.STIX}
	inds, err := parseIndicators(d.Indicators)
	if err != nil {
		return nil, err
	}
	rec.Indicators = inds
	a.mu.RLock()
	me, err := a.me()
	if err == nil && me.Role == crypto.RoleRelay {
		err = fmt.Errorf("%w: a relay device cannot post", ErrNotAllowed)
	}
	if err == nil && d.Channel == ChannelObservation && me.Role != crypto.RoleCoordinator {
		err = fmt.Errorf("%w: only coordinators post to an organisation's observation channel", ErrNotAllowed)
	}
	for _, o := range d.ToOrgs {
		if err != nil {
			break
		}
		var id crypto.ID16
		id, err = a.view.findOrg(o)
		rec.ToOrgs = appendUnique(rec.ToOrgs, id)
	}
	for _, p := range d.ToMembers {
		if err != nil {
			break
		}
		var id crypto.ID16
		id, err = a.view.findPerson(p)
		rec.ToPersons = appendUnique(rec.ToPersons, id)
	}
	if err == nil {
		rec.About, err = a.resolveAbout(&d) // assets.go
	}
	if err == nil && d.Incident != "" {
		err = a.linkIncident(rec, d.Incident)
	}
	if err == nil {
		err = checkScope(rec, me)
	}
	var aud crypto.Audience
	if err == nil {
		aud, err = a.audience(rec, me.Person)
	}
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	builders, refs := a.attachmentBuilders(aud, d.Files, d.Exercise)
	return append(builders, func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		rec.Attachments = refs()
		return a.sealed(aud, &Record{Exercise: d.Exercise, Post: rec})(pos, clock)
	}), nil
}

func appendUnique(s []crypto.ID16, id crypto.ID16) []crypto.ID16 {
	for _, x := range s {
		if x == id {
			return s
		}
	}
	return append(s, id)
}

func checkDraft(d *PostDraft, maxAttachment int64) error {
	d.Title = strings.TrimSpace(d.Title)
	switch {
	case d.Title == "":
		return &FieldError{Of: OfPost, Field: FieldTitle, Reason: ReasonRequired}
	case len(d.Title) > MaxTitle || strings.ContainsAny(d.Title, "\n\r"):
		return &FieldError{Of: OfPost, Field: FieldTitle, Reason: ReasonTooLong, Max: MaxTitle}
	case len(d.Body) > MaxBody:
		return fmt.Errorf("%w: body of %d bytes, at most %d: attach long texts as files", ErrTooLarge, len(d.Body), MaxBody)
	case checkSTIX(d.STIX) != nil:
		return checkSTIX(d.STIX)
	case !utf8.ValidString(d.Title) || !utf8.ValidString(d.Body):
		return fmt.Errorf("%w: title and body must be UTF-8 text", ErrInvalid)
	}
	if err := needAll(OfPost, map[Field]bool{FieldType: d.Type != "", FieldTag: d.Tag != "", FieldTLP: d.TLP != ""}, FieldType, FieldTag, FieldTLP); err != nil {
		return err
	}
	if d.Channel == "" {
		d.Channel = ChannelPro
	}
	if err := checkFiles(d.Files, maxAttachment); err != nil {
		return err
	}
	if err := checkAdvisory(d.Advisory); err != nil {
		return err
	}
	return checkSource(d.Source)
}

// checkScope applies the TLP and channel rules of DESIGN.md section 4.
func checkScope(r *PostRecord, me crypto.Membership) error {
	switch {
	case r.Channel == ChannelObservation:
		if len(r.ToOrgs) != 1 || len(r.ToPersons) > 0 {
			return &FieldError{Of: OfPost, Field: FieldTo, Reason: ReasonExactlyOne, With: FieldChannel, WithValue: string(ChannelObservation)}
		}
		if r.TLP == TLPRed {
			return &FieldError{Of: OfPost, Field: FieldTLP, Reason: ReasonNotAllowed, Value: string(TLPRed), With: FieldChannel, WithValue: string(ChannelObservation)}
		}
	case r.TLP == TLPRed:
		if len(r.ToOrgs) > 0 {
			return &FieldError{Of: OfPost, Field: FieldTo, Reason: ReasonNotAllowed, With: FieldTLP, WithValue: string(TLPRed)}
		}
		if len(r.ToPersons) == 0 {
			return &FieldError{Of: OfPost, Field: FieldToMember, Reason: ReasonRequired, With: FieldTLP, WithValue: string(TLPRed)}
		}
	case r.TLP == TLPAmberStrict:
		if len(r.ToPersons) > 0 {
			return &FieldError{Of: OfPost, Field: FieldToMember, Reason: ReasonNotAllowed, With: FieldTLP, WithValue: string(TLPAmberStrict)}
		}
		if len(r.ToOrgs) == 0 {
			r.ToOrgs = []crypto.ID16{me.Org}
		}
	}
	return nil
}

// audience returns who a post (and its comments, chunks) is sealed to. The
// caller holds a.mu. Organisations are reached through their key when this
// device holds it, else through each of their members' devices; people
// through all their devices. The author's own organisation or person is
// always included, so the author can read what they wrote.
func (a *App) audience(r *PostRecord, authorPerson crypto.ID16) (crypto.Audience, error) {
	var aud crypto.Audience
	s := a.view
	if len(r.ToOrgs) == 0 && len(r.ToPersons) == 0 {
		return a.communityAudience()
	}
	addOrg := func(org crypto.ID16) error {
		if k, ok := a.currentKey(crypto.ScopeOrg, org); ok {
			aud.Groups = append(aud.Groups, k)
			return nil
		}
		n := 0
		for _, m := range s.trust.Members() {
			if _, revoked := s.trust.Revoked(m.Device); m.Org == org && !revoked && m.Role != crypto.RoleRelay {
				aud.Devices = append(aud.Devices, m.Public())
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%w: organisation %s has no member device yet", ErrInvalid, s.orgName(org))
		}
		return nil
	}
	for _, o := range r.ToOrgs {
		if err := addOrg(o); err != nil {
			return aud, err
		}
	}
	for _, p := range append(append([]crypto.ID16{}, r.ToPersons...), authorPerson) {
		devs := s.activeDevices(p)
		if len(devs) == 0 {
			return aud, fmt.Errorf("%w: %s has no active device", ErrInvalid, s.personName(p))
		}
		aud.Devices = append(aud.Devices, devs...)
	}
	if len(r.ToPersons) == 0 {
		// Organisation scope: the author's own organisation key, if held,
		// replaces sealing to the author's own devices.
		me, _ := s.trust.Member(a.dev.ID())
		if k, ok := a.currentKey(crypto.ScopeOrg, me.Org); ok && me.Person == authorPerson {
			aud.Groups = append(aud.Groups, k)
			aud.Devices = aud.Devices[:len(aud.Devices)-len(s.activeDevices(authorPerson))]
		}
	}
	return aud, nil
}

// localState is this device's private state: bookmarks and reads not yet sent.
type localState struct {
	bookmarks map[envelope.Hash]bool
	reads     map[envelope.Hash]bool
}

const (
	localBookmark    = "bookmark/"
	localPendingRead = "read/pending/"
	localReadsSent   = "read/sent"
)

func (a *App) localState() localState {
	l := localState{bookmarks: map[envelope.Hash]bool{}, reads: map[envelope.Hash]bool{}}
	for k := range a.store.LocalWithPrefix(localBookmark) {
		var h envelope.Hash
		if h.UnmarshalText([]byte(strings.TrimPrefix(k, localBookmark))) == nil {
			l.bookmarks[h] = true
		}
	}
	for k := range a.store.LocalWithPrefix(localPendingRead) {
		var h envelope.Hash
		if h.UnmarshalText([]byte(strings.TrimPrefix(k, localPendingRead))) == nil {
			l.reads[h] = true
		}
	}
	return l
}

// Show returns a post's detail.
func (a *App) Show(q string) (PostDetail, error) {
	l := a.localState()
	var d PostDetail
	err := a.read(func(t *vtx) error {
		p, err := t.findPost(q)
		if err != nil {
			return err
		}
		d = a.detail(t, p, l)
		return nil
	})
	return d, err
}

// detail builds a post's detail view. The caller holds a.mu.
func (a *App) detail(t *vtx, p *viewRec, l localState) PostDetail {
	s := a.view
	r := p.rec.Post
	// Empty lists, not null, in --json.
	d := PostDetail{PostSummary: t.summary(p, l), Body: r.Body, Files: []Attachment{}, CommentList: t.commentsOf(p)}
	d.Scope.Community = len(r.ToOrgs) == 0 && len(r.ToPersons) == 0
	for _, o := range r.ToOrgs {
		d.Scope.Orgs = append(d.Scope.Orgs, s.orgName(o))
	}
	for _, pr := range r.ToPersons {
		d.Scope.People = append(d.Scope.People, s.personLabel(pr))
	}
	d.Files = attachmentViews(r.Attachments)
	d.Source, d.Versions = r.Source, t.sourceHistory(p)
	d.Advisory = r.Advisory
	if len(d.Versions) > 1 {
		// The comments on every version of a source are the post's.
		d.CommentList = t.comments(t.versionIDs(p)...)
	}
	d.Indicators = PostIndicators(r.Indicators, r.Body)
	// Who read it: shown to the author, the author's organisation admins and
	// coordinators.
	author, _ := s.trust.Member(p.author)
	d.ReadByVisible = a.viewer().canSeeReads(author)
	orgs := map[crypto.ID16]bool{}
	for person, c := range t.readersOf(p) {
		org := s.personOrg(person)
		orgs[org] = true
		if d.ReadByVisible {
			d.ReadBy = append(d.ReadBy, Reader{Name: s.personName(person), OrgName: s.orgName(org), Time: wallTime(c)})
		}
	}
	sort.Slice(d.ReadBy, func(i, j int) bool {
		if !d.ReadBy[i].Time.Equal(d.ReadBy[j].Time) {
			return d.ReadBy[i].Time.Before(d.ReadBy[j].Time)
		}
		return d.ReadBy[i].Name < d.ReadBy[j].Name
	})
	d.ReadOrgs = len(orgs)
	switch {
	case d.Scope.Community:
		d.AudienceOrgs = len(s.orgList())
	case len(r.ToPersons) > 0:
		// The organisations of the people it was sealed to, and the author's.
		aud := map[crypto.ID16]bool{author.Org: true}
		for _, pr := range r.ToPersons {
			aud[s.personOrg(pr)] = true
		}
		d.AudienceOrgs = len(aud)
	default:
		aud := map[crypto.ID16]bool{author.Org: true}
		for _, o := range r.ToOrgs {
			aud[o] = true
		}
		d.AudienceOrgs = len(aud)
	}
	if p.author == a.dev.ID() {
		d.Delivery = a.delivery(p, t.readerDevicesOf(p), d.ReadOrgs, d.AudienceOrgs)
	}
	d.PostAbilities = a.viewer().postAbilities(p.author)
	d.Concerns = a.postConcerns(t, p)
	d.Incident = t.republishedFrom(p)
	return d
}

// delivery works out how far this device's post has gone. The caller holds
// a.mu. Peers that read it hold it, whether or not this device has synced
// with them since.
func (a *App) delivery(p *viewRec, readers []crypto.DeviceID, readOrgs, audienceOrgs int) *Delivery {
	d := &Delivery{ReadOrgs: readOrgs, AudienceOrgs: audienceOrgs}
	holders := map[crypto.DeviceID]bool{}
	for _, h := range a.net.holders(p.seq) {
		holders[h] = true
	}
	for _, dev := range readers {
		if dev != a.dev.ID() {
			holders[dev] = true
		}
	}
	for h := range holders {
		if m, ok := a.view.trust.Member(h); ok && m.Role == crypto.RoleRelay {
			d.ReachedRelay = true
		}
	}
	d.Peers = len(holders)
	d.OnlyHere = d.Peers == 0
	return d
}

// MarkRead records that this person read a post. Receipts are batched: they
// are kept on this device and sent as one envelope at most once per
// ReadBatch.
func (a *App) MarkRead(q string) (PostSummary, error) {
	a.mu.RLock()
	p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return PostSummary{}, err
	}
	if err := a.store.PutLocal(localOp(localPendingRead+p.id.String(), []byte{1})); err != nil {
		return PostSummary{}, err
	}
	if _, err := a.FlushReads(false); err != nil {
		return PostSummary{}, err
	}
	return a.postSummary(p.id), nil
}

// findPost resolves a post ID prefix in a view transaction of its own. The
// caller holds a.mu.
func (a *App) findPost(q string) (*viewRec, error) {
	var v *viewRec
	err := a.inView(func(t *vtx) error {
		var err error
		v, err = t.findPost(q)
		return err
	})
	return v, err
}

// postSummary returns the summary of a post that was just written or
// changed, from a view transaction of its own.
func (a *App) postSummary(id envelope.Hash) PostSummary {
	l := a.localState()
	var s PostSummary
	a.read(func(t *vtx) error {
		if v := t.post(id); v != nil {
			s = t.summary(v, l)
		}
		return nil
	})
	return s
}

func localOp(k string, v []byte) replica.LocalOp { return replica.LocalOp{Key: k, Value: v} }

// FlushReads sends the read receipts kept on this device as one envelope,
// when ReadBatch has passed since the last one (or always, with force). It
// returns how many posts the envelope listed.
func (a *App) FlushReads(force bool) (int, error) {
	flushMu.Lock()
	defer flushMu.Unlock()
	pending := a.store.LocalWithPrefix(localPendingRead)
	if len(pending) == 0 {
		return 0, nil
	}
	now := a.cfg.Now()
	if last := a.store.GetLocal(localReadsSent); !force && last != nil {
		var t time.Time
		if t.UnmarshalText(last) == nil && now.Sub(t) < a.cfg.ReadBatch {
			return 0, nil
		}
	}
	aud, err := a.memberAudience()
	if err != nil {
		return 0, err
	}
	var ops []replica.LocalOp
	var posts []envelope.Hash
	for k := range pending {
		var h envelope.Hash
		if h.UnmarshalText([]byte(strings.TrimPrefix(k, localPendingRead))) == nil {
			posts = append(posts, h)
		}
		ops = append(ops, replica.LocalOp{Key: k})
	}
	sort.Slice(posts, func(i, j int) bool { return bytes.Compare(posts[i][:], posts[j][:]) < 0 })
	// Reads of an exercise's posts go in a receipt marked for it
	// (exercise.go): one receipt for real posts, one per exercise.
	byExercise := map[string]*ReadsRecord{}
	var names []string
	a.read(func(t *vtx) error {
		for _, h := range posts {
			ex := ""
			if v := t.get(h); v != nil {
				ex = v.exercise
			}
			if byExercise[ex] == nil {
				byExercise[ex] = &ReadsRecord{}
				names = append(names, ex)
			}
			byExercise[ex].Posts = append(byExercise[ex].Posts, h)
		}
		return nil
	})
	sort.Strings(names)
	var builders []builder
	for _, ex := range names {
		builders = append(builders, a.sealed(aud, &Record{Exercise: ex, Reads: byExercise[ex]}))
	}
	if _, err := a.write(builders...); err != nil {
		return 0, err
	}
	stamp, _ := now.MarshalText()
	ops = append(ops, replica.LocalOp{Key: localReadsSent, Value: stamp})
	return len(posts), a.store.PutLocal(ops...)
}

// Bookmark sets or clears a bookmark. Bookmarks stay on this device.
func (a *App) Bookmark(q string, on bool) (PostSummary, error) {
	a.mu.RLock()
	p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return PostSummary{}, err
	}
	op := replica.LocalOp{Key: localBookmark + p.id.String()}
	if on {
		op.Value = []byte{1}
	}
	if err := a.store.PutLocal(op); err != nil {
		return PostSummary{}, err
	}
	return a.postSummary(p.id), nil
}

// Comment adds a comment to a post, sealed to the post's audience.
func (a *App) Comment(q, body string) (Comment, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return Comment{}, &FieldError{Of: OfComment, Field: FieldBody, Reason: ReasonRequired}
	}
	if len(body) > MaxBody || !utf8.ValidString(body) {
		return Comment{}, fmt.Errorf("%w: a comment is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	a.mu.RLock()
	p, err := a.findPost(q)
	var aud crypto.Audience
	if err == nil {
		_, err = a.me()
	}
	if err == nil {
		aud, err = a.audience(p.rec.Post, a.view.person(p.author))
		if err == nil && len(p.rec.Post.ToPersons) > 0 {
			aud.Devices = append(aud.Devices, a.view.activeDevices(a.view.person(a.dev.ID()))...)
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return Comment{}, err
	}
	ids, err := a.write(a.sealed(aud, &Record{Exercise: p.exercise, Comment: &CommentRecord{Post: p.id, Body: body}}))
	if err != nil {
		return Comment{}, err
	}
	var clock uint64
	a.read(func(t *vtx) error {
		if c := t.get(ids[0]); c != nil {
			clock = c.clock
		}
		return nil
	})
	return Comment{ID: ids[0].String(), Author: a.dev.ID().String(), AuthorName: a.dev.Name, Time: wallTime(clock), Body: body}, nil
}

// Retract withdraws a post: honest peers drop its payload. The author may
// retract their own post; a coordinator any post, with a reason.
func (a *App) Retract(q, reason string) (string, error) {
	a.mu.RLock()
	p, err := a.findPost(q)
	var me crypto.Membership
	if err == nil {
		me, err = a.me()
	}
	if err == nil && p.author != a.dev.ID() {
		switch {
		case me.Role != crypto.RoleCoordinator:
			err = fmt.Errorf("%w: only the author or a coordinator may retract a post", ErrNotAllowed)
		case strings.TrimSpace(reason) == "":
			err = &FieldError{Of: OfRetraction, Field: FieldReason, Reason: ReasonRequired}
		}
	}
	aud, aerr := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return "", err
	}
	r := &crypto.Retraction{Target: p.id}
	if reason = strings.TrimSpace(reason); reason != "" {
		if aerr != nil {
			return "", aerr
		}
		if r.SealedReason, err = crypto.SealTo(a.cfg.Rand, []byte(reason), aud); err != nil {
			return "", err
		}
	}
	payload, err := r.Encode()
	if err != nil {
		return "", err
	}
	ids, err := a.write(func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		return a.dev.NewClear(envelope.ClassRetraction, pos, clock, payload)
	})
	if err != nil {
		return "", err
	}
	return ids[0].String(), nil
}

// AttachmentData returns a file attached to a post, checked against its hash.
func (a *App) AttachmentData(q, name string) ([]byte, error) {
	a.mu.RLock()
	p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return a.attachment(p.rec.Post.Attachments, name, "post")
}

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
	// Delivery is shown to the author only.
	Delivery *Delivery `json:"delivery,omitempty"`
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
	if err := checkDraft(&d, a.cfg.MaxAttachment); err != nil {
		return PostSummary{}, err
	}
	rec := &PostRecord{Type: d.Type, Tag: d.Tag, TLP: d.TLP, Channel: d.Channel, Title: d.Title, Body: d.Body}
	inds, err := parseIndicators(d.Indicators)
	if err != nil {
		return PostSummary{}, err
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
		err = checkScope(rec, me)
	}
	var aud crypto.Audience
	if err == nil {
		aud, err = a.audience(rec, me.Person)
	}
	a.mu.RUnlock()
	if err != nil {
		return PostSummary{}, err
	}

	builders, refs := a.attachmentBuilders(aud, d.Files, d.Exercise)
	builders = append(builders, func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
		rec.Attachments = refs()
		return a.sealed(aud, &Record{Exercise: d.Exercise, Post: rec})(pos, clock)
	})
	ids, err := a.write(builders...)
	if err != nil {
		return PostSummary{}, err
	}
	id := ids[len(ids)-1]
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.summary(id, a.view.posts[id], a.localState()), nil
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
		return fmt.Errorf("%w: a post needs a --title", ErrInvalid)
	case len(d.Title) > MaxTitle || strings.ContainsAny(d.Title, "\n\r"):
		return fmt.Errorf("%w: the title must be one line of at most %d bytes", ErrInvalid, MaxTitle)
	case len(d.Body) > MaxBody:
		return fmt.Errorf("%w: body of %d bytes, at most %d: attach long texts as files", ErrTooLarge, len(d.Body), MaxBody)
	case !utf8.ValidString(d.Title) || !utf8.ValidString(d.Body):
		return fmt.Errorf("%w: title and body must be UTF-8 text", ErrInvalid)
	}
	if d.Type == "" || d.Tag == "" || d.TLP == "" {
		return fmt.Errorf("%w: a post needs --type, --tag and --tlp", ErrInvalid)
	}
	if d.Channel == "" {
		d.Channel = ChannelPro
	}
	if err := checkFiles(d.Files, maxAttachment); err != nil {
		return err
	}
	return nil
}

// checkScope applies the TLP and channel rules of DESIGN.md section 4.
func checkScope(r *PostRecord, me crypto.Membership) error {
	switch {
	case r.Channel == ChannelObservation:
		if len(r.ToOrgs) != 1 || len(r.ToPersons) > 0 {
			return fmt.Errorf("%w: an observation notice goes to exactly one organisation: --channel observation --to ORG", ErrInvalid)
		}
		if r.TLP == TLPRed {
			return fmt.Errorf("%w: TLP:RED goes to named people (--to-member), not to an observation channel", ErrInvalid)
		}
	case r.TLP == TLPRed:
		if len(r.ToPersons) == 0 || len(r.ToOrgs) > 0 {
			return fmt.Errorf("%w: TLP:RED is sealed to named people only: give --to-member PERSON-ID from `noroshi member list` (and no --to ORG)", ErrInvalid)
		}
	case r.TLP == TLPAmberStrict:
		if len(r.ToPersons) > 0 {
			return fmt.Errorf("%w: TLP:AMBER+STRICT stays inside organisations: use --to ORG, not --to-member", ErrInvalid)
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

// visible reports whether a folded post is shown: not retracted, and an
// observation notice only when a coordinator wrote it.
func (s *state) visible(id envelope.Hash, p postState) bool {
	if _, gone := s.retracted[id]; gone {
		return false
	}
	return p.rec.Channel != ChannelObservation || s.isCoordinator(p.author)
}

// readers returns, per person, when they first read post id.
func (s *state) readers(id envelope.Hash) map[crypto.ID16]uint64 {
	out := map[crypto.ID16]uint64{}
	for d, c := range s.reads[id] {
		p := s.person(d)
		if old, ok := out[p]; !ok || c < old {
			out[p] = c
		}
	}
	return out
}

func (a *App) summary(id envelope.Hash, p postState, l localState) PostSummary {
	s := a.view
	m, _ := s.trust.Member(p.author)
	readers := s.readers(id)
	me := s.person(a.dev.ID())
	_, read := readers[me]
	if !read && l.reads[id] {
		// Read here, receipt not sent yet (batched): count it now.
		readers[me] = 0
		read = true
	}
	read = read || p.author == a.dev.ID()
	return PostSummary{
		ID: id.String(), Title: p.rec.Title, Type: p.rec.Type, Tag: p.rec.Tag, TagMark: p.rec.Tag.Mark(),
		TLP: p.rec.TLP.Label(), Channel: p.rec.Channel, Org: m.Org.String(), OrgName: s.orgName(m.Org),
		Author: p.author.String(), AuthorName: s.deviceName(p.author), Time: wallTime(p.clock),
		Unread: !read, Bookmarked: l.bookmarks[id], Reads: len(readers), Comments: len(s.comments[id]),
		Attachments: len(p.rec.Attachments), Exercise: p.exercise,
	}
}

// Feed lists the posts this device can read, newest first.
func (a *App) Feed(f FeedFilter) []PostSummary {
	a.mu.RLock()
	defer a.mu.RUnlock()
	l := a.localState()
	q := strings.ToLower(strings.TrimSpace(f.Search))
	var out []PostSummary
	var order []postState
	for id, p := range a.view.posts {
		if !a.view.visible(id, p) {
			continue
		}
		r := p.rec
		if (f.Type != "" && r.Type != f.Type) || (f.Tag != "" && r.Tag != f.Tag) || (f.TLP != "" && r.TLP != f.TLP) ||
			(f.Channel != "" && r.Channel != f.Channel) || (f.Bookmarked && !l.bookmarks[id]) {
			continue
		}
		if q != "" && !matches(r, q, a.view.deviceName(p.author)) {
			continue
		}
		s := a.summary(id, p, l)
		if f.Unread && !s.Unread {
			continue
		}
		out = append(out, s)
		order = append(order, p)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return order[idx[i]].newer(order[idx[j]].meta) })
	sorted := make([]PostSummary, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	if f.Before != "" {
		for i, p := range sorted {
			if p.ID == f.Before {
				sorted = sorted[i+1:]
				break
			}
		}
	}
	if f.Limit > 0 && len(sorted) > f.Limit {
		sorted = sorted[:f.Limit]
	}
	return sorted
}

// matches reports whether a post's title, body, author or one of its
// indicators (plain or defanged) contains the lower-case query q.
func matches(r *PostRecord, q, author string) bool {
	if strings.Contains(strings.ToLower(r.Title), q) || strings.Contains(strings.ToLower(r.Body), q) ||
		strings.Contains(strings.ToLower(author), q) {
		return true
	}
	plain := strings.ToLower(Refang(q))
	for _, in := range r.Indicators {
		if strings.Contains(strings.ToLower(in.Value), plain) {
			return true
		}
	}
	return false
}

// findPost resolves a post ID prefix among the posts this device can read.
func (a *App) findPost(q string) (envelope.Hash, postState, error) {
	id, err := findID(a.view.posts, q, "post", "see `noroshi feed`")
	if err != nil {
		// A retracted post is no longer readable: say so rather than "not found".
		if rid, rerr := findID(a.view.retracted, q, "post", ""); rerr == nil {
			return rid, postState{}, a.retractedErr(rid)
		}
		return id, postState{}, err
	}
	p := a.view.posts[id]
	if !a.view.visible(id, p) {
		return id, p, a.retractedErr(id)
	}
	return id, p, nil
}

// retractedErr says who retracted post id, when and why. The caller holds a.mu.
func (a *App) retractedErr(id envelope.Hash) error {
	r, ok := a.view.retracted[id]
	if !ok {
		return fmt.Errorf("%w: post %s is not shown (an observation notice not written by a coordinator)", ErrNotFound, id.String()[:12])
	}
	msg := fmt.Sprintf("%v: post %s was retracted by %s at %s", ErrRetracted, id.String()[:12], a.view.deviceName(r.by.author), wallTime(r.by.clock).Format("2006-01-02 15:04 MST"))
	if r.reason != "" {
		msg += ": " + r.reason
	}
	return fmt.Errorf("%w%s", ErrRetracted, strings.TrimPrefix(msg, ErrRetracted.Error()))
}

// Show returns a post's detail.
func (a *App) Show(q string) (PostDetail, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, p, err := a.findPost(q)
	if err != nil {
		return PostDetail{}, err
	}
	s := a.view
	// Empty lists, not null, in --json.
	d := PostDetail{PostSummary: a.summary(id, p, a.localState()), Body: p.rec.Body, Files: []Attachment{}, CommentList: []Comment{}}
	d.Scope.Community = len(p.rec.ToOrgs) == 0 && len(p.rec.ToPersons) == 0
	for _, o := range p.rec.ToOrgs {
		d.Scope.Orgs = append(d.Scope.Orgs, s.orgName(o))
	}
	for _, pr := range p.rec.ToPersons {
		d.Scope.People = append(d.Scope.People, s.personLabel(pr))
	}
	d.Files = attachmentViews(p.rec.Attachments)
	d.Indicators = []IndicatorView{}
	for _, in := range p.rec.Indicators {
		d.Indicators = append(d.Indicators, IndicatorView{Kind: in.Kind, Value: in.Value, Defanged: in.Defanged()})
	}
	var comments []commentState
	for _, c := range s.comments[id] {
		comments = append(comments, c)
	}
	sort.Slice(comments, func(i, j int) bool { return comments[j].newer(comments[i].meta) })
	for _, c := range comments {
		m, _ := s.trust.Member(c.author)
		d.CommentList = append(d.CommentList, Comment{ID: c.id.String(), Author: c.author.String(), AuthorName: s.deviceName(c.author),
			OrgName: s.orgName(m.Org), Time: wallTime(c.clock), Body: c.rec.Body})
	}
	// Who read it: shown to the author, the author's organisation admins and
	// coordinators.
	me, _ := s.trust.Member(a.dev.ID())
	author, _ := s.trust.Member(p.author)
	d.ReadByVisible = me.Person == author.Person || me.Role == crypto.RoleCoordinator ||
		(me.Role == crypto.RoleOrgAdmin && me.Org == author.Org)
	readers := s.readers(id)
	orgs := map[crypto.ID16]bool{}
	for person, c := range readers {
		var org crypto.ID16
		for _, m := range s.trust.Members() {
			if m.Person == person {
				org = m.Org
			}
		}
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
	case len(p.rec.ToPersons) > 0:
		// The organisations of the people it was sealed to, and the author's.
		aud := map[crypto.ID16]bool{author.Org: true}
		for _, pr := range p.rec.ToPersons {
			for _, m := range s.trust.Members() {
				if m.Person == pr {
					aud[m.Org] = true
				}
			}
		}
		d.AudienceOrgs = len(aud)
	default:
		aud := map[crypto.ID16]bool{author.Org: true}
		for _, o := range p.rec.ToOrgs {
			aud[o] = true
		}
		d.AudienceOrgs = len(aud)
	}
	if p.author == a.dev.ID() {
		d.Delivery = a.delivery(p, d.ReadOrgs, d.AudienceOrgs)
	}
	return d, nil
}

// delivery works out how far this device's post has gone. The caller holds
// a.mu. Peers that read it hold it, whether or not this device has synced
// with them since.
func (a *App) delivery(p postState, readOrgs, audienceOrgs int) *Delivery {
	d := &Delivery{ReadOrgs: readOrgs, AudienceOrgs: audienceOrgs}
	holders := map[crypto.DeviceID]bool{}
	if a.holders != nil {
		for _, h := range a.holders(p.seq) {
			holders[h] = true
		}
	}
	for dev := range a.view.reads[p.id] {
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
	id, p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return PostSummary{}, err
	}
	if err := a.store.PutLocal(localOp(localPendingRead+id.String(), []byte{1})); err != nil {
		return PostSummary{}, err
	}
	if _, err := a.FlushReads(false); err != nil {
		return PostSummary{}, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.summary(id, p, a.localState()), nil
}

func localOp(k string, v []byte) replica.LocalOp { return replica.LocalOp{Key: k, Value: v} }

// FlushReads sends the read receipts kept on this device as one envelope,
// when ReadBatch has passed since the last one (or always, with force). It
// returns how many posts the envelope listed.
func (a *App) FlushReads(force bool) (int, error) {
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
	rec := &ReadsRecord{}
	var ops []replica.LocalOp
	for k := range pending {
		var h envelope.Hash
		if h.UnmarshalText([]byte(strings.TrimPrefix(k, localPendingRead))) == nil {
			rec.Posts = append(rec.Posts, h)
		}
		ops = append(ops, replica.LocalOp{Key: k})
	}
	sort.Slice(rec.Posts, func(i, j int) bool { return bytes.Compare(rec.Posts[i][:], rec.Posts[j][:]) < 0 })
	if _, err := a.write(a.sealed(aud, &Record{Reads: rec})); err != nil {
		return 0, err
	}
	stamp, _ := now.MarshalText()
	ops = append(ops, replica.LocalOp{Key: localReadsSent, Value: stamp})
	return len(rec.Posts), a.store.PutLocal(ops...)
}

// Bookmark sets or clears a bookmark. Bookmarks stay on this device.
func (a *App) Bookmark(q string, on bool) (PostSummary, error) {
	a.mu.RLock()
	id, p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return PostSummary{}, err
	}
	op := replica.LocalOp{Key: localBookmark + id.String()}
	if on {
		op.Value = []byte{1}
	}
	if err := a.store.PutLocal(op); err != nil {
		return PostSummary{}, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.summary(id, p, a.localState()), nil
}

// Comment adds a comment to a post, sealed to the post's audience.
func (a *App) Comment(q, body string) (Comment, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return Comment{}, fmt.Errorf("%w: the comment is empty: pass --body", ErrInvalid)
	}
	if len(body) > MaxBody || !utf8.ValidString(body) {
		return Comment{}, fmt.Errorf("%w: a comment is UTF-8 text of at most %d bytes", ErrInvalid, MaxBody)
	}
	a.mu.RLock()
	id, p, err := a.findPost(q)
	var aud crypto.Audience
	if err == nil {
		_, err = a.me()
	}
	if err == nil {
		aud, err = a.audience(p.rec, a.view.person(p.author))
		if err == nil && len(p.rec.ToPersons) > 0 {
			aud.Devices = append(aud.Devices, a.view.activeDevices(a.view.person(a.dev.ID()))...)
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return Comment{}, err
	}
	ids, err := a.write(a.sealed(aud, &Record{Exercise: p.exercise, Comment: &CommentRecord{Post: id, Body: body}}))
	if err != nil {
		return Comment{}, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	c := a.view.comments[id][ids[0]]
	return Comment{ID: ids[0].String(), Author: a.dev.ID().String(), AuthorName: a.dev.Name, Time: wallTime(c.clock), Body: body}, nil
}

// Retract withdraws a post: honest peers drop its payload. The author may
// retract their own post; a coordinator any post, with a reason.
func (a *App) Retract(q, reason string) (string, error) {
	a.mu.RLock()
	id, p, err := a.findPost(q)
	var me crypto.Membership
	if err == nil {
		me, err = a.me()
	}
	if err == nil && p.author != a.dev.ID() {
		switch {
		case me.Role != crypto.RoleCoordinator:
			err = fmt.Errorf("%w: only the author or a coordinator may retract a post", ErrNotAllowed)
		case strings.TrimSpace(reason) == "":
			err = fmt.Errorf("%w: a coordinator retracting another member's post must give a --reason", ErrInvalid)
		}
	}
	aud, aerr := a.communityAudience()
	a.mu.RUnlock()
	if err != nil {
		return "", err
	}
	r := &crypto.Retraction{Target: id}
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
	_, p, err := a.findPost(q)
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return a.attachment(p.rec.Attachments, name, "post")
}

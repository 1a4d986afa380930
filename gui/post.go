package gui

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// postView is the selected post: title, marks, body, attachments,
// indicators, the read button, bookmark, retract, delivery and comments.
type postView struct {
	u      *UI
	obj    fyne.CanvasObject
	box    *fyne.Container
	scroll *container.Scroll
	shown  string // ID and state last rendered, to keep the scroll position

	read, bookmark, retract *widget.Button
	comment                 *widget.Entry
	send                    *widget.Button
	detail                  *app.PostDetail
	// links tapped in the body, for tests: the confirmation shows the address.
	lastLink *url.URL
}

func newPostView(u *UI) *postView {
	v := &postView{u: u, box: container.NewVBox()}
	v.read = widget.NewButtonWithIcon("", theme.ConfirmIcon(), func() { v.markRead() })
	v.read.Importance = widget.HighImportance
	v.bookmark = widget.NewButtonWithIcon("", theme.ContentAddIcon(), func() { v.toggleBookmark() })
	v.retract = widget.NewButtonWithIcon(T("post.retract"), theme.DeleteIcon(), func() { v.askRetract() })
	v.retract.Importance = widget.DangerImportance
	v.comment = widget.NewMultiLineEntry()
	v.comment.SetPlaceHolder(T("post.comment_placeholder"))
	v.comment.SetMinRowsVisible(2)
	v.comment.Wrapping = fyne.TextWrapWord
	v.send = widget.NewButtonWithIcon(T("post.comment_send"), theme.MailSendIcon(), func() { v.sendComment() })
	v.scroll = container.NewVScroll(container.NewPadded(v.box))
	v.obj = v.scroll
	v.showEmpty()
	return v
}

func (v *postView) showEmpty() {
	v.detail = nil
	v.shown = ""
	v.box.Objects = []fyne.CanvasObject{container.NewCenter(widget.NewLabel(T("post.none_selected")))}
	v.box.Refresh()
}

func (v *postView) apply(ev event) {
	if ev.post == nil {
		if ev.postErr != nil {
			v.detail = nil
			v.shown = ""
			msg := phrase(ev.postErr)
			if errors.Is(ev.postErr, app.ErrRetracted) {
				msg = T("post.retracted")
			}
			v.box.Objects = []fyne.CanvasObject{wrapLabel(msg)}
			v.box.Refresh()
			return
		}
		v.showEmpty()
		return
	}
	d := ev.post
	key := d.ID + "|" + strings.Join([]string{strconv.Itoa(d.Reads), strconv.Itoa(len(d.CommentList)), boolText(d.Unread), boolText(d.Bookmarked), deliveryKey(d)}, "|")
	v.detail = d
	if key == v.shown {
		return
	}
	sameOne := strings.HasPrefix(v.shown, d.ID+"|")
	offset := v.scroll.Offset
	v.shown = key
	v.render(d, ev)
	if sameOne {
		v.scroll.Offset = offset
		v.scroll.Refresh()
	} else {
		v.scroll.ScrollToTop()
	}
}

func (v *postView) render(d *app.PostDetail, ev event) {
	var objs []fyne.CanvasObject
	if d.Exercise != "" {
		objs = append(objs, banner(Tf("exercise.banner", d.Exercise), exerciseColour))
	}
	objs = append(objs, heading(textLine(d.TagMark+d.Title)))
	marks := container.NewHBox(newTLPBadge(d.TLP), widget.NewLabel(enum("type", d.Type)+" · "+enum("channel", d.Channel)))
	objs = append(objs, marks)
	objs = append(objs, v.concernObjects(d)...) // assets.go
	objs = append(objs, wrapLabel(Tf("post.from", d.AuthorName, d.OrgName, when(d.Time))))
	objs = append(objs, wrapLabel(Tf("post.scope_line", scopeText(d.Scope))))
	objs = append(objs, widget.NewSeparator())
	objs = append(objs, safeMarkdown(d.Body, v.confirmLink))
	objs = append(objs, advisoryObjects(d.Advisory)...)
	objs = append(objs, sourceObjects(d)...)

	// The post's indicators as app lists them: structured, then found in
	// its text.
	if len(d.Indicators) > 0 {
		objs = append(objs, widget.NewSeparator(), section(T("post.indicators")))
		for _, in := range d.Indicators {
			in := in
			l := widget.NewLabel(textLine(T("indicator."+indicatorKind(in.Kind)) + ": " + in.Defanged))
			l.Truncation = fyne.TextTruncateEllipsis
			cp := widget.NewButtonWithIcon("", theme.ContentCopyIcon(), func() {
				v.u.fa.Clipboard().SetContent(in.Value)
			})
			objs = append(objs, container.NewBorder(nil, nil, nil, cp, l))
		}
	}
	if len(d.Files) > 0 {
		objs = append(objs, widget.NewSeparator(), section(T("post.attachments")))
		for _, f := range d.Files {
			f := f
			l := widget.NewLabel(f.Name + " (" + sizeText(f.Size) + ")")
			l.Truncation = fyne.TextTruncateEllipsis
			save := widget.NewButtonWithIcon(T("post.save"), theme.DocumentSaveIcon(), func() { v.saveAttachment(d.ID, f.Name) })
			objs = append(objs, container.NewBorder(nil, nil, nil, save, l))
		}
		objs = append(objs, wrapLabel(T("post.attachments_note")))
	}

	objs = append(objs, widget.NewSeparator())
	if d.Unread {
		v.read.SetText(Tf("post.read_button", d.Reads))
		v.read.Importance = widget.HighImportance
		v.read.Enable()
	} else {
		v.read.SetText(Tf("post.read_done", d.Reads))
		v.read.Importance = widget.MediumImportance
		v.read.Disable()
	}
	if d.Bookmarked {
		v.bookmark.SetText(T("post.bookmarked"))
		v.bookmark.SetIcon(theme.ContentRemoveIcon())
	} else {
		v.bookmark.SetText(T("post.bookmark"))
		v.bookmark.SetIcon(theme.ContentAddIcon())
	}
	actions := container.NewHBox(v.read, v.bookmark)
	if d.CanRetract {
		actions.Add(v.retract)
	}
	objs = append(objs, actions)
	objs = append(objs, wrapLabel(Tf("post.read_orgs", Tn("count.people", d.Reads), d.ReadOrgs, Tn("count.organisations", d.AudienceOrgs))))
	if d.Delivery != nil {
		objs = append(objs, wrapLabel(Tf("post.delivery_line", deliveryText(d.Delivery))))
	}
	if d.ReadByVisible && len(d.ReadBy) > 0 {
		acc := container.NewVBox()
		for _, r := range d.ReadBy {
			acc.Add(widget.NewLabel(r.Name + " (" + r.OrgName + ") " + when(r.Time)))
		}
		objs = append(objs, widget.NewAccordion(widget.NewAccordionItem(Tf("post.read_by", len(d.ReadBy)), acc)))
	}

	objs = append(objs, widget.NewSeparator(), boldLabel(Tf("post.comments", len(d.CommentList))))
	for _, c := range d.CommentList {
		objs = append(objs, container.NewVBox(
			boldLabel(c.AuthorName+" ("+c.OrgName+") · "+when(c.Time)),
			safeMarkdown(c.Body, v.confirmLink),
		))
	}
	objs = append(objs, v.comment, container.NewHBox(v.send))
	v.box.Objects = objs
	v.box.Refresh()
}

// advisoryObjects shows a security advisory's structured fields: IDs,
// severity, the packages it affects and where each is fixed, references.
func advisoryObjects(ad *app.AdvisoryFields) []fyne.CanvasObject {
	if ad == nil {
		return nil
	}
	objs := []fyne.CanvasObject{widget.NewSeparator(), section(T("post.advisory"))}
	ids := append([]string{ad.GHSA}, ad.CVEs...)
	objs = append(objs, wrapLabel(strings.Join(ids, " · ")))
	sev := ad.Severity
	if ad.CVSSScore > 0 {
		sev += " · CVSS " + strconv.FormatFloat(ad.CVSSScore, 'f', 1, 64)
	}
	if ad.CVSSVector != "" {
		sev += " (" + ad.CVSSVector + ")"
	}
	if sev != "" {
		objs = append(objs, wrapLabel(Tf("post.advisory_severity", sev)))
	}
	for _, p := range ad.Packages {
		patched := p.Patched
		if patched == "" {
			patched = T("post.advisory_no_patch")
		}
		objs = append(objs, wrapLabel(Tf("post.advisory_package", p.Ecosystem, p.Name, p.Vulnerable, patched)))
	}
	for _, r := range ad.References {
		l := widget.NewLabel(textLine(r))
		l.Truncation = fyne.TextTruncateEllipsis
		objs = append(objs, l)
	}
	return objs
}

// sourceObjects shows where a post that stands for an outside object (an
// advisory, a STIX object) comes from and, when members imported or
// revised it more than once, every version with who wrote it.
func sourceObjects(d *app.PostDetail) []fyne.CanvasObject {
	s := d.Source
	if s == nil {
		return nil
	}
	objs := []fyne.CanvasObject{widget.NewSeparator(), section(T("post.source")), wrapLabel(Tf("post.source_line", s.ID, when(s.Modified)))}
	if s.URL != "" {
		objs = append(objs, wrapLabel(s.URL))
	}
	if len(d.Versions) > 1 {
		acc := container.NewVBox()
		for _, ver := range d.Versions {
			l := widget.NewLabel(Tf("post.source_version", ver.AuthorName, ver.OrgName, when(ver.Modified), when(ver.Time)))
			if ver.Post == d.ID {
				l.TextStyle.Bold = true
			}
			acc.Add(l)
		}
		objs = append(objs, widget.NewAccordion(widget.NewAccordionItem(Tf("post.source_versions", len(d.Versions)), acc)))
	}
	return objs
}

func scopeText(s app.Scope) string {
	if s.Community {
		return T("scope.community")
	}
	return strings.Join(append(append([]string{}, s.Orgs...), s.People...), ", ")
}

func deliveryText(d *app.Delivery) string {
	switch {
	case d.OnlyHere:
		return T("delivery.only_here")
	case d.ReachedRelay:
		return Tf("delivery.relay", d.Peers, d.ReadOrgs, Tn("count.organisations", d.AudienceOrgs))
	}
	return Tf("delivery.peers", d.Peers, d.ReadOrgs, Tn("count.organisations", d.AudienceOrgs))
}

func deliveryKey(d *app.PostDetail) string {
	if d.Delivery == nil {
		return ""
	}
	return deliveryText(d.Delivery)
}

// confirmLink opens a link from a body only after the user has seen its
// full address.
func (v *postView) confirmLink(u *url.URL) {
	if u == nil {
		return
	}
	v.lastLink = u
	addr := u.String()
	v.u.confirm(T("link.title"), Tf("link.message", addr), func() {
		if err := v.u.fa.OpenURL(u); err != nil {
			v.u.showErr(err)
		}
	})
}

func (v *postView) markRead() {
	if v.detail == nil {
		return
	}
	if _, err := v.u.a.MarkRead(v.detail.ID); err != nil {
		v.u.showErr(err)
		return
	}
	v.u.refresh()
}

func (v *postView) toggleBookmark() {
	if v.detail == nil {
		return
	}
	if _, err := v.u.a.Bookmark(v.detail.ID, !v.detail.Bookmarked); err != nil {
		v.u.showErr(err)
		return
	}
	v.u.refresh()
}

func (v *postView) sendComment() {
	if v.detail == nil {
		return
	}
	if _, err := v.u.a.Comment(v.detail.ID, v.comment.Text); err != nil {
		v.u.showErr(err)
		return
	}
	v.comment.SetText("")
	v.u.refresh()
}

func (v *postView) askRetract() {
	if v.detail == nil {
		return
	}
	id := v.detail.ID
	reason := widget.NewEntry()
	reason.SetPlaceHolder(T("post.retract_reason"))
	content := container.NewVBox(wrapLabelSized(T("post.retract_warning"), 460), reason)
	d := newConfirmDialog(v.u, T("post.retract_title"), content, func() {
		if _, err := v.u.a.Retract(id, reason.Text); err != nil {
			v.u.showErr(err)
			return
		}
		v.u.setQuery(func(q *query) { q.post = "" })
	})
	d.Show()
}

func (v *postView) saveAttachment(id, name string) {
	v.u.saveFile(name, func() ([]byte, error) { return v.u.a.AttachmentData(id, name) })
}

// saveFile asks where to save an attachment, then writes what get returns.
// Attachments are saved, never opened.
func (u *UI) saveFile(name string, get func() ([]byte, error)) {
	u.pickSave(name, func(w fyne.URIWriteCloser) {
		defer w.Close()
		data, err := get()
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			u.showErr(err)
			return
		}
		u.showInfo(T("post.saved_title"), Tf("post.saved", name, w.URI().Path()))
	})
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// indicatorKind maps app's indicator kinds to the display kinds.
func indicatorKind(k app.IndicatorKind) string {
	switch k {
	case app.IndicatorURL:
		return "url"
	case app.IndicatorIPv4, app.IndicatorIPv6:
		return "ip"
	case app.IndicatorDomain:
		return "domain"
	case app.IndicatorEmail:
		return "email"
	}
	return "hash"
}

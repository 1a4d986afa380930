package gui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

// feedView is the feed: filters, the virtualised list of posts, the new
// post button, and the selected post's detail beside it.
type feedView struct {
	u     *UI
	obj   fyne.CanvasObject
	posts []app.PostSummary
	list  *widget.List
	count *widget.Label
	empty *widget.Label
	// more loads the next page of the feed; shown when more posts follow.
	more *widget.Button

	typ, tag, tlp, channel *widget.Select
	unread, bookmarked     *widget.Check
	compose                *widget.Button

	selecting bool
}

func newFeedView(u *UI) *feedView {
	f := &feedView{u: u, count: widget.NewLabel(""), empty: wrapLabel(T("feed.empty"))}
	allOf := func(what string) string { return Tf("filter.all_of", what) }
	all := allOf("TLP")
	typeNames, typeOf := enumOptions("type", app.PostTypes)
	f.typ = newSelect(append([]string{allOf(T("filter.type"))}, typeNames...), func(s string) {
		u.setQuery(func(q *query) { q.filter.Type = typeOf(s) })
	})
	tagNames, tagOf := enumOptions("tag", app.Tags)
	f.tag = newSelect(append([]string{allOf(T("filter.tag"))}, tagNames...), func(s string) {
		u.setQuery(func(q *query) { q.filter.Tag = tagOf(s) })
	})
	tlps := []string{all}
	for _, t := range app.TLPs {
		tlps = append(tlps, t.Label())
	}
	f.tlp = newSelect(tlps, func(s string) {
		var t app.TLP
		if s != all {
			t, _ = app.ParseTLP(s)
		}
		u.setQuery(func(q *query) { q.filter.TLP = t })
	})
	chNames, chOf := enumOptions("channel", app.Channels)
	f.channel = newSelect(append([]string{allOf(T("filter.channel"))}, chNames...), func(s string) {
		u.setQuery(func(q *query) { q.filter.Channel = chOf(s) })
	})
	for _, s := range []*widget.Select{f.typ, f.tag, f.tlp, f.channel} {
		s.SetSelectedIndex(0)
	}
	f.typ.PlaceHolder, f.tag.PlaceHolder, f.tlp.PlaceHolder, f.channel.PlaceHolder = T("filter.type"), T("filter.tag"), "TLP", T("filter.channel")
	f.unread = widget.NewCheck(T("filter.unread"), func(b bool) { u.setQuery(func(q *query) { q.filter.Unread = b }) })
	f.bookmarked = widget.NewCheck(T("filter.bookmarked"), func(b bool) { u.setQuery(func(q *query) { q.filter.Bookmarked = b }) })

	f.list = widget.NewList(func() int { return len(f.posts) }, newFeedRow, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(f.posts) {
			o.(*feedRow).set(f.posts[id])
		}
	})
	f.list.OnSelected = func(id widget.ListItemID) {
		if f.selecting || id >= len(f.posts) {
			return
		}
		pid := f.posts[id].ID
		u.setQuery(func(q *query) { q.post = pid })
		u.recordView(pid) // a topic view (metrics.go)
	}
	f.more = widget.NewButtonWithIcon(Tf("feed.more", u.cfg.feedPage()), theme.MoreVerticalIcon(), func() {
		u.setQuery(func(q *query) { q.feedPages = max(q.feedPages, 1) + 1 })
	})
	f.more.Importance = widget.LowImportance
	f.more.Hide()
	f.compose = widget.NewButtonWithIcon(T("feed.new_post"), theme.ContentAddIcon(), func() { u.openCompose() })
	f.compose.Importance = widget.HighImportance

	filters := container.NewVBox(
		container.NewGridWithColumns(4, f.typ, f.tag, f.tlp, f.channel),
		container.NewBorder(nil, nil, container.NewHBox(f.unread, f.bookmarked), nil, f.count),
	)
	listArea := container.NewStack(f.list, container.NewCenter(f.empty))
	left := container.NewBorder(filters, container.NewVBox(f.more, container.NewPadded(f.compose)), nil, nil, listArea)
	split := container.NewHSplit(left, u.post.obj)
	split.Offset = 0.5
	f.obj = split
	return f
}

func (f *feedView) apply(ev event) {
	f.posts = ev.feed
	if ev.feedMore {
		f.count.SetText(Tf("feed.count_more", len(ev.feed)))
		f.more.Show()
	} else {
		f.count.SetText(Tn("feed.count", len(ev.feed)))
		f.more.Hide()
	}
	if len(ev.feed) == 0 {
		f.empty.Show()
	} else {
		f.empty.Hide()
	}
	f.list.Refresh()
	// Keep the selected post selected, by ID.
	sel := f.u.query().post
	f.selecting = true
	defer func() { f.selecting = false }()
	for i, p := range f.posts {
		if p.ID == sel {
			f.list.Select(i)
			return
		}
	}
	f.list.UnselectAll()
}

// feedRow is one post in the list: unread dot, tag and title; TLP badge,
// type, organisation and time; bookmark star.
type feedRow struct {
	widget.BaseWidget
	dot   *canvas.Circle
	title *widget.Label
	badge *tlpBadge
	meta  *widget.Label
	star  *canvas.Text
	ex    *canvas.Text
}

func newFeedRow() fyne.CanvasObject {
	r := &feedRow{dot: canvas.NewCircle(unreadColour), title: widget.NewLabel(""), badge: newTLPBadge(app.TLPClear.Label()),
		meta: widget.NewLabel(""), star: canvas.NewText("★", starColour), ex: canvas.NewText("", exerciseColour)}
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.meta.Truncation = fyne.TextTruncateEllipsis
	r.meta.SizeName = theme.SizeNameCaptionText
	r.star.TextSize = theme.TextSize() + 4
	r.ex.TextStyle.Bold = true
	r.ExtendBaseWidget(r)
	return r
}

func (r *feedRow) CreateRenderer() fyne.WidgetRenderer {
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(10, 10), r.dot))
	line2 := container.NewBorder(nil, nil, container.NewHBox(container.NewCenter(r.badge), r.ex), nil, r.meta)
	body := container.NewBorder(nil, nil, dot, container.NewCenter(r.star), container.NewVBox(r.title, line2))
	return widget.NewSimpleRenderer(body)
}

func (r *feedRow) set(p app.PostSummary) {
	if p.Unread {
		r.dot.FillColor = unreadColour
	} else {
		r.dot.FillColor = color.Transparent
	}
	r.dot.Refresh()
	r.title.TextStyle.Bold = p.Unread
	r.title.SetText(textLine(p.TagMark + p.Title))
	r.badge.SetLabel(p.TLP)
	if p.Exercise != "" {
		r.ex.Text = T("exercise.mark")
	} else {
		r.ex.Text = ""
	}
	r.ex.Refresh()
	r.meta.SetText(textLine(enum("type", p.Type)) + " · " + p.OrgName + " · " + when(p.Time) + " · " + Tf("feed.reads", p.Reads) + commentsText(p.Comments))
	if p.Bookmarked {
		r.star.Text = "★"
	} else {
		r.star.Text = " "
	}
	r.star.Refresh()
}

func commentsText(n int) string {
	if n == 0 {
		return ""
	}
	return " · " + Tf("feed.comments", n)
}

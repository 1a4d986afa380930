package app

import (
	"fmt"
	"strings"
	"time"

	"noroshi/app/report"
)

// The words of the reports, in English and Japanese. What members wrote
// (titles, names) is printed as written; TLP labels never translated.

// reportWords holds each label as {English, Japanese}.
var reportWords = map[string][2]string{
	"sitrep.am":            {"Situation report (AM) %s", "状況報告（午前）%s"},
	"sitrep.pm":            {"Situation report (PM) %s", "状況報告（午後）%s"},
	"sitrep.to":            {"To the security coordination centre", "サイバーセキュリティ対処調整センター宛"},
	"bulletin.title":       {"Daily bulletin %s", "日報 %s"},
	"bulletin.to":          {"For all members", "全会員向け"},
	"digest.title":         {"Digest for %s, %s to %s", "%s向けダイジェスト（%s〜%s）"},
	"digest.to":            {"Only 【重要】 (important) and 【注意】 (caution) items of the last %d weeks: what to do first, technical details at the end for your IT staff or vendor.", "直近 %d 週間の【重要】【注意】の情報のみを掲載します。まず対応をお読みください。技術情報は末尾にまとめています（情報システム担当者・委託先向け）。"},
	"meta.window":          {"Window", "対象期間"},
	"meta.made":            {"Made", "作成日時"},
	"meta.by":              {"Made by", "作成者"},
	"meta.community":       {"Community", "コミュニティ"},
	"meta.tlp":             {"Marking", "取扱い"},
	"meta.tlp_max":         {"Includes at most", "掲載する情報の上限"},
	"none":                 {"None.", "該当なし。"},
	"esc.heading":          {"Incidents that affect the event, need a public response or were passed on", "大会影響・対外対応・調整センター連絡のインシデント"},
	"esc.by_category":      {"By category and status", "分類・状態別"},
	"esc.list":             {"Incidents", "インシデント一覧"},
	"changes.heading":      {"What changed in the window", "期間中の動き"},
	"changes.new":          {"New incidents", "新規インシデント"},
	"changes.moves":        {"Status changes", "状態の変更"},
	"changes.flags":        {"Escalation flags set or cleared", "区分の設定・解除"},
	"flag.set":             {"set", "設定"},
	"flag.cleared":         {"cleared", "解除"},
	"col.flag":             {"Flag", "区分"},
	"col.requested":        {"Requested", "要請日時"},
	"col.to":               {"Asked of", "要請先"},
	"col.kinds":            {"Help wanted", "支援内容"},
	"col.state":            {"State", "状況"},
	"support.unrouted":     {"not yet passed to an organisation", "要請先未定"},
	"support.heading":      {"Open support requests", "対応中の支援要請"},
	"notices.heading":      {"Observation notices", "観測通知"},
	"notices.text":         {"Observation notices sent: %d, to %d organisation(s).", "観測通知 %d 件を %d 組織に送付しました。"},
	"shared.heading":       {"Threat information shared", "共有した脅威情報"},
	"shared.total":         {"Posts: %d.", "投稿 %d 件。"},
	"shared.unlisted":      {"Above TLP:AMBER, counted and not listed: %d.", "TLP:AMBER を超える %d 件は件数のみ計上しています。"},
	"shared.by_tag":        {"By tag", "タグ別"},
	"shared.by_type":       {"By type", "種別別"},
	"inc.heading":          {"Incidents reported", "報告されたインシデント"},
	"inc.text":             {"New incidents: %d. Open at the end of the day: %d.", "新規 %d 件、本日終了時点で対応中 %d 件。"},
	"inc.others":           {"%d not named", "ほか %d 組織"},
	"inc.unnamed":          {"%d not named", "%d 組織（組織名非公開）"},
	"posts.heading":        {"Threat information", "脅威情報"},
	"digest.important":     {"【重要】 Important: check your products and plan measures early", "【重要】製品の確認と早めの対策計画を"},
	"digest.caution":       {"【注意】 Caution: watch more closely and prepare measures", "【注意】監視の強化と対策の準備を"},
	"digest.technical":     {"Technical details (for IT staff and vendors)", "技術情報（情報システム担当者・委託先向け）"},
	"digest.none":          {"No 【重要】 or 【注意】 information in these weeks.", "この期間の【重要】【注意】の情報はありません。"},
	"what.important":       {"Check whether you use what is named here and plan measures early; ask your IT staff or vendor.", "ここに挙げた製品・サービスを利用しているか確認し、早めに対策を計画してください。情報システム担当者・委託先にご相談ください。"},
	"what.caution":         {"Watch your systems and accounts more closely and prepare measures; tell the coordination centre of anything unusual.", "システムやアカウントの監視を強化し、対策を準備してください。異常があれば調整センターにご連絡ください。"},
	"field.what":           {"What to do", "対応"},
	"field.summary":        {"Summary", "概要"},
	"field.when":           {"Posted", "掲載日時"},
	"field.from":           {"From", "発信元"},
	"field.type":           {"Type", "種別"},
	"field.indicators":     {"Indicators (defanged)", "指標（無害化表記）"},
	"field.source":         {"Source", "出典"},
	"col.time":             {"Time", "日時"},
	"col.opened":           {"Opened", "受付日時"},
	"col.category":         {"Category", "分類"},
	"col.status":           {"Status", "状態"},
	"col.count":            {"Count", "件数"},
	"col.title":            {"Title", "件名"},
	"col.org":              {"Organisation", "組織"},
	"col.orgs":             {"Organisations", "組織"},
	"col.flags":            {"Flags", "区分"},
	"col.move":             {"Change", "変更"},
	"col.by":               {"By", "更新者"},
	"col.age":              {"Open for", "経過時間"},
	"col.tag":              {"Tag", "タグ"},
	"col.type":             {"Type", "種別"},
	"col.tlp":              {"TLP", "TLP"},
	"col.scope":            {"Shared with", "共有範囲"},
	"scope.community":      {"community", "コミュニティ全体"},
	"scope.scoped":         {"chosen", "指定先"},
	"member_org":           {"a member organisation", "会員組織"},
	"flag.affects-event":   {"affects the event", "大会運営に影響"},
	"flag.public-response": {"public response", "対外対応が必要"},
	"flag.passed-on":       {"passed to the centre", "調整センターへ連絡"},
	"footer.sitrep":        {"Made with Noroshi from what this device held when it was made. Exercise traffic is never included.", "Noroshi により、作成時点で本端末が保持していた情報から作成しました。演習の情報は含みません。"},
	"footer.bulletin":      {"Organisations are named only with their consent; the others are counted. Only what was shared with the whole community, up to %s, is included. Exercise traffic is never included.", "組織名は本人の同意がある場合のみ記載し、それ以外は件数のみとしています。コミュニティ全体に共有された %s までの情報のみを掲載しています。演習の情報は含みません。"},
	"page":                 {"Page %d of %d", "%d / %d ページ"},
	"age":                  {"%dh %02dm", "%d時間%02d分"},
	"age.days":             {"%dd %dh", "%d日%d時間"},
}

// enumWords translates the values of the enums a report prints, {en, ja}.
var enumWords = map[string][2]string{
	"category.consultation": {"Consultation", "相談"}, "category.data-leak": {"Data leak", "情報漏えい"},
	"category.defacement": {"Defacement", "改ざん"}, "category.dos": {"DoS", "DoS攻撃"},
	"category.malware": {"Malware", "マルウェア"}, "category.misconfiguration": {"Misconfiguration", "設定不備"},
	"category.outage": {"Outage", "障害"}, "category.phishing": {"Phishing", "フィッシング"},
	"category.ransomware": {"Ransomware", "ランサムウェア"}, "category.traffic-surge": {"Traffic surge", "アクセス集中"},
	"status.reported": {"Reported", "報告済み"}, "status.triaged": {"Triaged", "受付済み"},
	"status.coordinating": {"Coordinating", "調整中"}, "status.responding": {"Responding", "対応中"},
	"status.resolved": {"Resolved", "解決"}, "status.closed": {"Closed", "完了"},
	"type.alert": {"Alert", "注意喚起"}, "type.attack-foreshadowing": {"Attack foreshadowing", "攻撃予告"},
	"type.emergency": {"Emergency", "緊急事態"}, "type.event-schedule": {"Event schedule", "大会日程"},
	"type.incident": {"Incident", "インシデント"}, "type.malware": {"Malware", "マルウェア"},
	"type.observation": {"Observation", "観測・分析"}, "type.vulnerability": {"Vulnerability", "脆弱性"},
	"kind.coordination": {"the coordination centre", "調整センター"}, "kind.critical-service": {"critical-service operators", "重要サービス事業者"},
	"kind.law-enforcement": {"law enforcement", "治安機関"}, "kind.ministry": {"ministries", "関係府省庁"},
	"kind.organising-committee": {"the organising committee and partners", "大会組織委員会・パートナー"}, "kind.other": {"other organisations", "その他の組織"},
	"kind.security-agency": {"security agencies", "情報セキュリティ関係機関"}, "kind.sports-body": {"sports bodies", "スポーツ関連団体"},
	"kind.venue":         {"venues", "会場"},
	"kind.remote-advice": {"remote advice", "リモート助言"}, "kind.on-site": {"on-site help", "現地支援"},
	"kind.malware-analysis": {"malware analysis", "マルウェア解析"}, "kind.outage-cause": {"finding the cause of an outage", "障害原因の調査"},
	"support.open": {"not yet answered", "未回答"}, "support.accepted": {"accepted", "受諾"},
	"support.declined": {"declined", "辞退"}, "support.reported-back": {"reported back", "報告済み"},
}

// words picks a report's language.
type words struct{ ja bool }

func (w words) t(key string, args ...any) string {
	p, ok := reportWords[key]
	if !ok {
		return key
	}
	s := p[0]
	if w.ja {
		s = p[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

func (w words) enum(prefix, v string) string {
	p, ok := enumWords[prefix+"."+v]
	if !ok {
		return v
	}
	if w.ja {
		return p[1]
	}
	return p[0]
}

func (w words) flags(fs []ReportFlag) string {
	var out []string
	for _, f := range fs {
		out = append(out, w.t("flag."+string(f)))
	}
	sep := ", "
	if w.ja {
		sep = "、"
	}
	return strings.Join(out, sep)
}

func (w words) age(d time.Duration) string {
	h := int(d.Hours())
	if h >= 48 {
		return w.t("age.days", h/24, h%24)
	}
	return w.t("age", h, int(d.Minutes())%60)
}

func (w words) list(items []string) string {
	if w.ja {
		return strings.Join(items, "、")
	}
	return strings.Join(items, ", ")
}

const (
	reportMinute = "2006-01-02 15:04"
	reportDay    = "2006-01-02"
)

// when prints a time in the report's zone.
func (r Report) when(t time.Time) string { return t.In(r.zone()).Format(reportMinute) }

func (r Report) zone() *time.Location {
	if r.loc != nil {
		return r.loc
	}
	if l, err := time.LoadLocation(r.Zone); err == nil {
		return l
	}
	return time.Local
}

// windowText is "2021-07-23 17:00 – 2021-07-24 09:00 JST".
func (r Report) windowText() string {
	z := r.zone()
	return r.From.In(z).Format(reportMinute) + " – " + r.Until.In(z).Format(reportMinute) + " " + r.Until.In(z).Format("MST")
}

// Document lays a report out in lang (ja or en; anything else: English)
// for the renderers of app/report.
func (r Report) Document(lang string) report.Document {
	w := words{ja: lang == ReportJapanese}
	d := report.Document{Lang: ReportEnglish, TLP: string(r.TLP), Created: r.Made, PageLabel: w.t("page")}
	if w.ja {
		d.Lang = ReportJapanese
	}
	d.Meta = []report.Field{{Label: w.t("meta.window"), Value: r.windowText()}}
	if r.Community != "" {
		d.Meta = append(d.Meta, report.Field{Label: w.t("meta.community"), Value: r.Community})
	}
	d.Meta = append(d.Meta, report.Field{Label: w.t("meta.made"), Value: r.when(r.Made) + " " + r.Made.In(r.zone()).Format("MST")},
		report.Field{Label: w.t("meta.by"), Value: r.MadeBy}, report.Field{Label: w.t("meta.tlp"), Value: r.TLP.Label()})
	switch {
	case r.Sitrep != nil:
		key := "sitrep.am"
		if r.Window == WindowPM {
			key = "sitrep.pm"
		}
		d.Title, d.Subtitle = w.t(key, r.Date), w.t("sitrep.to")
		d.Sections = r.sitrepSections(w)
		d.Footer = w.t("footer.sitrep")
	case r.Bulletin != nil:
		d.Title, d.Subtitle = w.t("bulletin.title", r.Date), w.t("bulletin.to")
		d.Meta = append(d.Meta, report.Field{Label: w.t("meta.tlp_max"), Value: r.Bulletin.TLPMax.Label()})
		d.Sections = r.bulletinSections(w)
		d.Footer = w.t("footer.bulletin", r.Bulletin.TLPMax.Label())
	case r.Digest != nil:
		first := r.From.In(r.zone()).Format(reportDay)
		last := r.Until.In(r.zone()).Add(-time.Second).Format(reportDay)
		d.Title = w.t("digest.title", w.enum("kind", string(r.Digest.Audience)), first, last)
		d.Subtitle = w.t("digest.to", r.Digest.Weeks)
		d.Meta = append(d.Meta, report.Field{Label: w.t("meta.tlp_max"), Value: r.Digest.TLPMax.Label()})
		d.Sections = r.digestSections(w)
		d.Footer = w.t("footer.bulletin", r.Digest.TLPMax.Label())
	}
	return d
}

func noneBlock(w words) report.Block { return report.Block{Text: w.t("none")} }

func (r Report) sitrepSections(w words) []report.Section {
	s := r.Sitrep
	esc := report.Section{Heading: w.t("esc.heading")}
	if len(s.Escalated) == 0 {
		esc.Blocks = append(esc.Blocks, noneBlock(w))
	} else {
		t := &report.Table{Header: []string{w.t("col.category"), w.t("col.status"), w.t("col.count")}}
		for _, c := range s.ByCategory {
			t.Rows = append(t.Rows, []string{w.enum("category", string(c.Category)), w.enum("status", string(c.Status)), fmt.Sprint(c.Count)})
		}
		esc.Blocks = append(esc.Blocks, report.Block{Heading: w.t("esc.by_category"), Table: t})
		esc.Blocks = append(esc.Blocks, report.Block{Heading: w.t("esc.list"), Table: r.incidentTable(w, s.Escalated)})
	}
	changes := report.Section{Heading: w.t("changes.heading")}
	nb := report.Block{Heading: w.t("changes.new")}
	if len(s.New) == 0 {
		nb.Text = w.t("none")
	} else {
		nb.Table = r.incidentTable(w, s.New)
	}
	mb := report.Block{Heading: w.t("changes.moves")}
	if len(s.Moves) == 0 {
		mb.Text = w.t("none")
	} else {
		mb.Table = &report.Table{Header: []string{w.t("col.time"), w.t("col.title"), w.t("col.org"), w.t("col.move"), w.t("col.by")}}
		for _, m := range s.Moves {
			mb.Table.Rows = append(mb.Table.Rows, []string{r.when(m.Time), m.Title, m.OrgName,
				w.enum("status", string(m.From)) + " → " + w.enum("status", string(m.To)), m.By})
		}
	}
	fb := report.Block{Heading: w.t("changes.flags")}
	if len(s.Flags) == 0 {
		fb.Text = w.t("none")
	} else {
		fb.Table = &report.Table{Header: []string{w.t("col.time"), w.t("col.title"), w.t("col.org"), w.t("col.flag"), w.t("col.by")}}
		for _, f := range s.Flags {
			on := w.t("flag.set")
			if !f.On {
				on = w.t("flag.cleared")
			}
			fb.Table.Rows = append(fb.Table.Rows, []string{r.when(f.Time), f.Title, f.OrgName, w.t("flag."+string(f.Flag)) + ": " + on, f.By})
		}
	}
	changes.Blocks = []report.Block{nb, mb, fb}
	sup := report.Section{Heading: w.t("support.heading")}
	if len(s.Support) == 0 {
		sup.Blocks = []report.Block{noneBlock(w)}
	} else {
		t := &report.Table{Header: []string{w.t("col.requested"), w.t("col.title"), w.t("col.org"), w.t("col.to"), w.t("col.kinds"), w.t("col.state"), w.t("col.age")}}
		for _, x := range s.Support {
			to, state := x.To, w.enum("support", string(x.State))
			if x.To == "" {
				to, state = "—", w.t("support.unrouted")
			}
			var kinds []string
			for _, k := range x.Kinds {
				kinds = append(kinds, w.enum("kind", string(k)))
			}
			t.Rows = append(t.Rows, []string{r.when(x.Requested), x.Title, x.OrgName, to, w.list(kinds), state, w.age(x.Age)})
		}
		sup.Blocks = []report.Block{{Table: t}}
	}
	notices := report.Section{Heading: w.t("notices.heading"), Blocks: []report.Block{{Text: w.t("notices.text", s.Notices.Notices, s.Notices.Orgs)}}}
	shared := report.Section{Heading: w.t("shared.heading")}
	sb := report.Block{Text: w.t("shared.total", s.Shared.Total)}
	if s.Shared.Total > 0 {
		var tags, types []string
		for _, t := range Tags {
			if n := s.Shared.ByTag[t]; n > 0 {
				tags = append(tags, fmt.Sprintf("%s %d", t.Mark(), n))
			}
		}
		for _, t := range PostTypes {
			if n := s.Shared.ByType[t]; n > 0 {
				types = append(types, fmt.Sprintf("%s %d", w.enum("type", string(t)), n))
			}
		}
		sb.Fields = []report.Field{{Label: w.t("shared.by_tag"), Value: w.list(tags)}, {Label: w.t("shared.by_type"), Value: w.list(types)}}
	}
	if s.Shared.Unlisted > 0 {
		sb.Text += "\n" + w.t("shared.unlisted", s.Shared.Unlisted)
	}
	shared.Blocks = []report.Block{sb}
	if len(s.Shared.Posts) > 0 {
		t := &report.Table{Header: []string{w.t("col.time"), w.t("col.title"), w.t("col.type"), w.t("col.tlp"), w.t("col.org"), w.t("col.scope")}}
		for _, p := range s.Shared.Posts {
			scope := w.t("scope.community")
			if p.Scoped {
				scope = w.t("scope.scoped")
			}
			t.Rows = append(t.Rows, []string{r.when(p.Time), p.Tag.Mark() + p.Title, w.enum("type", string(p.Type)), p.TLP.Label(), p.OrgName, scope})
		}
		shared.Blocks = append(shared.Blocks, report.Block{Table: t})
	}
	return []report.Section{esc, changes, sup, notices, shared}
}

func (r Report) incidentTable(w words, incs []ReportIncident) *report.Table {
	t := &report.Table{Header: []string{w.t("col.opened"), w.t("col.category"), w.t("col.title"), w.t("col.org"), w.t("col.status"), w.t("col.flags")}}
	for _, i := range incs {
		t.Rows = append(t.Rows, []string{r.when(i.Opened), w.enum("category", string(i.Category)), i.Title, i.OrgName, w.enum("status", string(i.Status)), w.flags(i.Flags)})
	}
	return t
}

func (r Report) bulletinSections(w words) []report.Section {
	b := r.Bulletin
	inc := report.Section{Heading: w.t("inc.heading"), Blocks: []report.Block{{Text: w.t("inc.text", b.New, b.Open)}}}
	if len(b.Incidents) > 0 {
		t := &report.Table{Header: []string{w.t("col.category"), w.t("col.count"), w.t("col.orgs")}}
		for _, c := range b.Incidents {
			orgs := append([]string{}, c.Named...)
			switch {
			case c.Unnamed > 0 && len(c.Named) > 0:
				orgs = append(orgs, w.t("inc.others", c.Unnamed))
			case c.Unnamed > 0:
				orgs = append(orgs, w.t("inc.unnamed", c.Unnamed))
			}
			t.Rows = append(t.Rows, []string{w.enum("category", string(c.Category)), fmt.Sprint(c.Count), w.list(orgs)})
		}
		inc.Blocks = append(inc.Blocks, report.Block{Table: t})
	}
	notices := report.Section{Heading: w.t("notices.heading"), Blocks: []report.Block{{Text: w.t("notices.text", b.Notices.Notices, b.Notices.Orgs)}}}
	posts := report.Section{Heading: w.t("posts.heading")}
	if len(b.Posts) == 0 {
		posts.Blocks = []report.Block{noneBlock(w)}
	} else {
		t := &report.Table{Header: []string{w.t("col.time"), w.t("col.title"), w.t("col.type"), w.t("col.tlp"), w.t("col.org")}}
		for _, p := range b.Posts {
			t.Rows = append(t.Rows, []string{r.when(p.Time), p.Tag.Mark() + p.Title, w.enum("type", string(p.Type)), p.TLP.Label(), r.from(w, p)})
		}
		posts.Blocks = []report.Block{{Table: t}}
	}
	return []report.Section{inc, notices, posts}
}

// from names a post's organisation, or says "a member organisation".
func (r Report) from(w words, p ReportPost) string {
	if p.OrgName == "" {
		return w.t("member_org")
	}
	return p.OrgName
}

func (r Report) digestSections(w words) []report.Section {
	var out []report.Section
	var tech []report.Block
	for _, tag := range []Tag{TagImportant, TagCaution} {
		sec := report.Section{Heading: w.t("digest." + string(tag))}
		for _, p := range r.Digest.Items {
			if p.Tag != tag {
				continue
			}
			what := p.WhatToDo
			if what == "" {
				what = w.t("what." + string(tag))
			}
			fields := []report.Field{{Label: w.t("field.what"), Value: what}}
			if p.Summary != "" {
				fields = append(fields, report.Field{Label: w.t("field.summary"), Value: p.Summary})
			}
			fields = append(fields, report.Field{Label: w.t("field.when"), Value: r.when(p.Time)}, report.Field{Label: w.t("field.from"), Value: r.from(w, p)})
			sec.Blocks = append(sec.Blocks, report.Block{Heading: p.Tag.Mark() + p.Title, Fields: fields})
			tf := []report.Field{{Label: w.t("field.type"), Value: w.enum("type", string(p.Type))}, {Label: "TLP", Value: p.TLP.Label()}}
			if p.SourceURL != "" {
				tf = append(tf, report.Field{Label: w.t("field.source"), Value: p.SourceURL})
			}
			tech = append(tech, report.Block{Heading: p.Tag.Mark() + p.Title, Fields: tf, List: p.Indicators})
		}
		if len(sec.Blocks) > 0 {
			out = append(out, sec)
		}
	}
	if len(out) == 0 {
		return []report.Section{{Heading: w.t("posts.heading"), Blocks: []report.Block{{Text: w.t("digest.none")}}}}
	}
	return append(out, report.Section{Heading: w.t("digest.technical"), Blocks: tech})
}

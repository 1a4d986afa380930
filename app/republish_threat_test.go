package app

import (
	"strings"
	"testing"
)

// TestThreatRepublishDefangedDomainLeaks: security staff defang by habit
// ("login.venue-north[.]example", "it-desk@venue-north(.)example",
// "hxxps://..."). The scrubber finds the reporting organisation's
// registered domains and e-mail addresses in a refanged view of the text
// and replaces the original (defanged) span, so the reporter's domain and
// mailbox do not reach the whole community in the anonymised post; the
// attacker's address stays.
func TestThreatRepublishDefangedDomainLeaks(t *testing.T) {
	s := newSupportCommunity(t)
	if _, err := s.venue.SetAssets("", []AssetEntry{{Kind: AssetDomain, Value: "venue-north.example"}}); err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatPhishing, Title: "Phishing page copying login.venue-north[.]example",
		Body: "The kit copies hxxps://login.venue-north[.]example/staff and mails from it-desk@venue-north(.)example. " +
			"Also venue-north [dot] example, helpdesk [at] venue-north [dot] example and staff[@]venue-north[.]example. " +
			"Lure from 198.51.100.23.", Affects: AffectsNo})
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	d, err := s.centre.RepublishDraft(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	text := d.Title + "\n" + d.Body
	if strings.Contains(strings.ToLower(text), "venue-north") {
		t.Errorf("the reporting organisation's registered domain is in the anonymised draft:\n%s", text)
	}
	for _, keep := range []string{"198.51.100.23", PlaceholderDomain, PlaceholderEmail, "hxxps://login."} {
		if !strings.Contains(text, keep) {
			t.Errorf("%q missing from the draft:\n%s", keep, text)
		}
	}
}

// TestThreatRepublishFullWidthNameLeaks: Japanese input methods often write
// full-width Latin letters ("Ｖｅｎｕｅ Ｎｏｒｔｈ") and the ideographic space
// (U+3000) between words. The scrubber compares names under NFKC width
// folding with any run of spaces as one, replacing the original span, so an
// organisation's or a person's name written that way does not reach the
// community in the anonymised post.
func TestThreatRepublishFullWidthNameLeaks(t *testing.T) {
	s := newSupportCommunity(t)
	inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatPhishing, Title: "Ｖｅｎｕｅ Ｎｏｒｔｈ staff phished",
		Body: "Mail claimed to be from Metro　Power; Ｖｅｎｕｅ　Ｌｅａｄ clicked it. ＶＥＮＵＥ  \u3000north and Ｍｅｔｒｏ\u200bＰｏｗｅｒ too.", Affects: AffectsNo})
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	d, err := s.centre.RepublishDraft(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	text := d.Title + "\n" + d.Body
	for _, leak := range []string{"Ｖｅｎｕｅ", "Ｎｏｒｔｈ", "Metro", "Ｍｅｔｒｏ", "Ｌｅａｄ", "ＶＥＮＵＥ", "north"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q (a name in another width or spacing) is in the anonymised draft:\n%s", leak, text)
		}
	}
	if !strings.Contains(text, " staff phished") || !strings.Contains(text, " clicked it.") {
		t.Errorf("text around the names lost:\n%s", text)
	}
}

// TestThreatRepublishFoldsPerRune: a rune whose case mapping changes its
// byte length (the Kelvin sign, a dotted capital I) no longer turns the
// whole text to case-sensitive matching: names are folded rune by rune,
// and the Kelvin sign folds like K.
func TestThreatRepublishFoldsPerRune(t *testing.T) {
	sc := scrubber{names: []replacement{
		{strings.TrimSpace(string(foldText("Venue North").s)), PlaceholderOrg},
		{strings.TrimSpace(string(foldText("Kanto Lead").s)), PlaceholderPerson},
	}}
	for _, c := range []struct{ in, want string }{
		{"İzmir office; venue north staff", "İzmir office; " + PlaceholderOrg + " staff"},
		{"\u212Aanto Lead wrote (Kelvin sign)", PlaceholderPerson + " wrote (Kelvin sign)"},
		{"VENUE NORTHERN is another word; Venue North is not", "VENUE NORTHERN is another word; " + PlaceholderOrg + " is not"},
		{"ｖｅｎｕｅ\u3000ｎｏｒｔｈ。会場", PlaceholderOrg + "。会場"},
	} {
		if got := sc.scrub(c.in); got != c.want {
			t.Errorf("scrub(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestThreatRepublishForgedRegisterScrubsFacts: a member of another
// organisation (or any modified client) writes an "asset register" for the
// reporting organisation, sealed to it and the coordinators, whose
// "domains" are the attacker's indicators and key words. The scrubber reads
// only the register that counts (assetsOf, its entries checked again by
// cleanAssets), so the re-publication keeps the facts the community needs.
// Profiles and contacts that do not count do not scrub either.
func TestThreatRepublishForgedRegisterScrubsFacts(t *testing.T) {
	s := newSupportCommunity(t)
	inc, err := s.venue.ReportIncident(IncidentDraft{Category: CatPhishing, Title: "Phishing lure",
		Body: "The lure came from 198.51.100.23 and dropped invoice.js (ransomware loader) via evil-cdn.example; Emotet follows.", Affects: AffectsNo})
	if err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	// Capital Railways' member forges Venue North's register and contacts,
	// and renames Venue North's lead.
	s.rail.mu.RLock()
	venue, err := s.rail.view.findOrg("Venue North")
	audience, aerr := s.rail.orgAudience(venue)
	s.rail.mu.RUnlock()
	if err != nil || aerr != nil {
		t.Fatal(err, aerr)
	}
	forged := &AssetsRecord{Org: venue, Entries: []AssetEntry{
		{Kind: AssetDomain, Value: "198.51.100.23"}, {Kind: AssetDomain, Value: "invoice.js"}, {Kind: AssetDomain, Value: "evil-cdn.example"}}}
	if _, err := s.rail.write(s.rail.sealed(audience, &Record{Assets: forged})); err != nil {
		t.Fatal(err)
	}
	contacts := &ContactsRecord{Org: venue, Entries: []ContactEntry{{Role: "duty", Name: "ransomware loader"}}}
	if _, err := s.rail.write(s.rail.sealed(audience, &Record{Contacts: contacts})); err != nil {
		t.Fatal(err)
	}
	lead := membership(t, s.venue)
	writeProfile(t, s.rail, lead.Person, lead.Device, "Emotet")
	s.sync(t)
	// The forged records do not count (good):
	if reg, err := s.centre.Assets("Venue North"); err == nil && len(reg.Entries) != 0 {
		t.Fatalf("setup: forged register counts: %+v", reg.Entries)
	}
	for _, m := range s.centre.Members() {
		if m.Name == "Emotet" {
			t.Fatalf("setup: forged profile counts: %+v", m)
		}
	}
	d, err := s.centre.RepublishDraft(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"198.51.100.23", "invoice.js", "ransomware loader", "evil-cdn.example", "Emotet"} {
		if !strings.Contains(d.Body, keep) {
			t.Errorf("%q scrubbed from the re-publication by a record that does not count:\n%s", keep, d.Body)
		}
	}
}

package gui

import "testing"

// Counts read naturally in both languages: "1 person", not "1 people";
// Japanese has one form.
func TestCountsReadNaturally(t *testing.T) {
	t.Cleanup(func() { SetLanguage("en") })
	want := map[string][]string{
		"en": {"Read by 1 person in 1 of 1 organisation", "Read by 2 people in 1 of 3 organisations",
			"1 post", "0 posts", "1 day", "1 envelope written to /tmp/b"},
		"ja": {"1 人が既読（0 / 2 組織）", "1 件", "1 台に配信・0 / 1 組織が既読"},
	}
	for _, lang := range []string{"en", "ja"} {
		if err := SetLanguage(lang); err != nil {
			t.Fatal(err)
		}
		got := countTexts(lang)
		for i, w := range want[lang] {
			if got[i] != w {
				t.Errorf("%s: %q, want %q", lang, got[i], w)
			}
		}
	}
}

// countTexts formats, in the current language, the texts TestCountsReadNaturally expects.
func countTexts(lang string) []string {
	if lang == "ja" {
		return []string{
			Tf("post.read_orgs", Tn("count.people", 1), 0, Tn("count.organisations", 2)),
			Tn("feed.count", 1),
			Tf("delivery.peers", 1, 0, Tn("count.organisations", 1)),
		}
	}
	return []string{
		Tf("post.read_orgs", Tn("count.people", 1), 1, Tn("count.organisations", 1)),
		Tf("post.read_orgs", Tn("count.people", 2), 1, Tn("count.organisations", 3)),
		Tn("feed.count", 1),
		Tn("feed.count", 0),
		Tn("age.days", 1),
		Tf("sync.exported", Tn("count.envelopes", 1), "/tmp/b"),
	}
}

package app

import "testing"

func TestDefangText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://evil.example/upload", "hxxp://evil[.]example/upload"},
		{"see https://a.b.example and 198.51.100.23.", "see hxxps://a[.]b[.]example and 198.51.100[.]23."},
		{"hxxp://damage-report[.]example/upload", "hxxp://damage-report[.]example/upload"},
		{"version 1.2 of the tool", "version 1.2 of the tool"},
	} {
		if got := DefangText(tc.in); got != tc.want {
			t.Errorf("DefangText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFindIndicators(t *testing.T) {
	body := "- hxxp://damage-report[.]example/upload\n- 198.51.100.23\nhash 3f786850e387550fdab836ed7e6dc881de23001b, file iocs.txt, bad[.]example"
	got := FindIndicators(body)
	want := []Indicator{
		{IndicatorURL, "http://damage-report.example/upload"},
		{IndicatorIPv4, "198.51.100.23"},
		{IndicatorSHA1, "3f786850e387550fdab836ed7e6dc881de23001b"},
		{IndicatorDomain, "damage-report.example"},
		{IndicatorDomain, "bad.example"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("indicator %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// A post's list: structured first, then those of its text, each once.
	l := PostIndicators([]Indicator{{IndicatorIPv4, "198.51.100.23"}}, body)
	if len(l) != 5 || l[0].InText || l[0].Value != "198.51.100.23" || !l[1].InText || l[1].Kind != IndicatorURL {
		t.Errorf("PostIndicators = %+v", l)
	}
}

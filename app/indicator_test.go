package app

import (
	"errors"
	"testing"
)

func TestParseIndicator(t *testing.T) {
	cases := []struct {
		in       string
		kind     IndicatorKind
		value    string
		defanged string
	}{
		{"hxxp://damage-report[.]example/upload", IndicatorURL, "http://damage-report.example/upload", "hxxp://damage-report[.]example/upload"},
		{"https://evil.example", IndicatorURL, "https://evil.example", "hxxps://evil[.]example"},
		{"198.51.100[.]23", IndicatorIPv4, "198.51.100.23", "198.51.100[.]23"},
		{" 203.0.113.17 ", IndicatorIPv4, "203.0.113.17", "203.0.113[.]17"},
		{"2001:db8::1", IndicatorIPv6, "2001:db8::1", "2001[:]db8[:][:]1"},
		{"Evil[.]Example", IndicatorDomain, "evil.example", "evil[.]example"},
		{"phish@evil[.]example", IndicatorEmail, "phish@evil.example", "phish[@]evil[.]example"},
		{"D41D8CD98F00B204E9800998ECF8427E", IndicatorMD5, "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"},
		{"3f786850e387550fdab836ed7e6dc881de23001b", IndicatorSHA1, "3f786850e387550fdab836ed7e6dc881de23001b", "3f786850e387550fdab836ed7e6dc881de23001b"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", IndicatorSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tc := range cases {
		got, err := ParseIndicator(tc.in)
		if err != nil {
			t.Errorf("ParseIndicator(%q): %v", tc.in, err)
			continue
		}
		if got.Kind != tc.kind || got.Value != tc.value || got.Defanged() != tc.defanged {
			t.Errorf("ParseIndicator(%q) = %v %q %q, want %v %q %q", tc.in, got.Kind, got.Value, got.Defanged(), tc.kind, tc.value, tc.defanged)
		}
	}
	for _, bad := range []string{"", "not an indicator", "abc", "1234", "http://", "a b.example"} {
		if _, err := ParseIndicator(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseIndicator(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestPostIndicators(t *testing.T) {
	c := newCommunity(t)
	p, err := c.centre.Post(PostDraft{Type: TypeMalware, Tag: TagImportant, TLP: TLPGreen, Title: "downloader",
		Indicators: []string{"hxxp://evil[.]example/x", "198.51.100.23", "198.51.100[.]23"}})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	d, err := c.power.Show(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Indicators) != 2 || d.Indicators[0].Defanged != "hxxp://evil[.]example/x" || d.Indicators[1].Value != "198.51.100.23" {
		t.Errorf("indicators = %+v, want the URL and the address once each", d.Indicators)
	}
	if got := c.power.Feed(FeedFilter{Search: "198.51.100[.]23"}); len(got) != 1 {
		t.Errorf("search by defanged indicator: %d posts, want 1", len(got))
	}
	if _, err := c.centre.Post(PostDraft{Type: TypeMalware, Tag: TagInfo, TLP: TLPGreen, Title: "x", Indicators: []string{"nonsense value"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad indicator: %v, want ErrInvalid", err)
	}
}

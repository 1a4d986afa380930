package app

// Threats to the indicators the feed serves (security review of issue #9).

import (
	"errors"
	"strings"
	"testing"
)

// Attack: a member posts URL indicators with a wildcard host ("https://*/",
// "http://*.gov.example/"), which many URL blocklist consumers read as
// "every site" (or every site of a domain), or with a character a consumer
// splits lines on (U+2028, U+2029, U+0085) or that does not show (U+200B,
// U+202E), so that urls.txt blocks what nobody posted. Held: such an
// indicator is refused when posted, and the feed serves none.
func TestThreatFeedURLWildcard(t *testing.T) {
	fc := newFeedCommunity(t)
	for _, v := range []string{"https://*/", "http://*.gov.example/", "http://gov.example*/", "hxxp://*[.]example/x", "https://^gov\\.example/",
		"http://evil.example/a\u2028*", "http://evil.example/b\u0085#", "http://evil.example/c\u2029x", "http://evil\u200b.example/",
		"http://evil.example/\u202egpj.exe", "evil\u00a0example.com", "203.0.113.9\u2028/32", "http://evil.example/\x7f", "http://evil.example/\xff",
		"http://:80/"} {
		_, err := fc.a.Post(PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPGreen, Title: "c2", Indicators: []string{v}})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("indicator %q: %v, want ErrInvalid", v, err)
		}
	}
	// Separators around an indicator are trimmed like any space.
	for _, v := range []string{"203.0.113.9\u2028", "\u2029http://evil.example/x\u0085"} {
		if in, err := ParseIndicator(v); err != nil || strings.ContainsAny(in.Value, "\u2028\u2029\u0085") {
			t.Errorf("indicator %q: %+v, %v", v, in, err)
		}
	}
	// What blocklists take stays: a "*" in a URL's path, a port, a
	// name in another script.
	for _, v := range []string{"http://evil.example/a*b", "https://evil.example:8443/x?q=1", "http://例え.jp/"} {
		if in, err := ParseIndicator(v); err != nil || in.Kind != IndicatorURL {
			t.Errorf("indicator %q: %+v, %v", v, in, err)
		}
	}
	inds, _ := fc.a.FeedIndicators(TLPGreen, IndicatorURL)
	for _, in := range inds {
		if host, _, _ := strings.Cut(strings.SplitN(in.Value, "://", 2)[1], "/"); strings.ContainsAny(host, "*^") || strings.ContainsAny(in.Value, "\u2028\u2029\u0085") {
			t.Errorf("urls.txt serves %q", in.Value)
		}
	}
}

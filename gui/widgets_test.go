package gui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"
)

func TestDefang(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://evil.example/upload", "hxxp://evil[.]example/upload"},
		{"see https://a.b.example and 198.51.100.23.", "see hxxps://a[.]b[.]example and 198.51.100[.]23."},
		{"hxxp://damage-report[.]example/upload", "hxxp://damage-report[.]example/upload"},
		{"version 1.2 of the tool", "version 1.2 of the tool"},
	} {
		if got := Defang(tc.in); got != tc.want {
			t.Errorf("Defang(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSafeMarkdown(t *testing.T) {
	var tapped *url.URL
	rt := safeMarkdown("Visit [site](https://evil.example/a) or http://raw.example/b\n\n![x](https://t.example/p.png)", func(u *url.URL) { tapped = u })
	s := rt.String()
	if strings.Contains(s, "raw.example") || strings.Contains(s, "t.example/p.png") {
		t.Fatalf("rendered %q: addresses not defanged", s)
	}
	var link *widget.HyperlinkSegment
	for _, seg := range rt.Segments {
		if p, ok := seg.(*widget.ParagraphSegment); ok {
			for _, x := range p.Texts {
				if h, ok := x.(*widget.HyperlinkSegment); ok {
					link = h
				}
			}
		}
		if h, ok := seg.(*widget.HyperlinkSegment); ok {
			link = h
		}
		if _, ok := seg.(*widget.ImageSegment); ok {
			t.Fatal("an image would be fetched")
		}
	}
	if link == nil {
		t.Fatal("no link")
	}
	if got := segmentText(safeMarkdown("- hxxp://damage-report[.]example/upload", nil).Segments); !strings.Contains(got, "hxxp://damage-report[.]example/upload") {
		t.Errorf("defanged address rendered as %q", got)
	}
	link.OnTapped()
	if tapped == nil || tapped.String() != "https://evil.example/a" {
		t.Fatalf("tapping asked about %v", tapped)
	}
}

func TestStrengthHint(t *testing.T) {
	for _, tc := range []struct{ p, key string }{
		{"short", "strength.too_short"},
		{"abcdefgh", "strength.weak"},
		{"Abcdefgh1234", "strength.fair"},
		{"correct horse battery staple", "strength.strong"},
	} {
		if got := strengthHint(tc.p); got != T(tc.key) {
			t.Errorf("strengthHint(%q) = %q, want %s", tc.p, got, tc.key)
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{30 * time.Second, "under a minute"}, {5 * time.Minute, "5 min"}, {3*time.Hour + 12*time.Minute, "3 h 12 min"}, {72 * time.Hour, "3 days"}} {
		if got := age(tc.d); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// segmentText returns the text of rich text segments, lists included.
func segmentText(segs []widget.RichTextSegment) string {
	var b strings.Builder
	for _, s := range segs {
		switch v := s.(type) {
		case *widget.ListSegment:
			b.WriteString(segmentText(v.Items))
		case *widget.ParagraphSegment:
			b.WriteString(segmentText(v.Texts))
		case *widget.TextSegment:
			b.WriteString(v.Text)
		case *widget.HyperlinkSegment:
			b.WriteString(v.Text)
		}
	}
	return b.String()
}

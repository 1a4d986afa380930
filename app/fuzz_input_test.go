package app

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseIndicator: indicators come from pasted text, STIX patterns and
// other communities' posts. ParseIndicator never panics, says ErrInvalid
// for what it refuses, and what it accepts is one printable token of a
// known kind within the size limit, which parses again without a panic.
func FuzzParseIndicator(f *testing.F) {
	for _, s := range []string{"hxxp://evil[.]example/x", "198.51.100[.]23", "2001:db8::1", "user[@]evil[.]example",
		"d41d8cd98f00b204e9800998ecf8427e", strings.Repeat("A", 64), "https://*.example/", "例え.jp", "evil.example.",
		"http://[::1]:80/", "a\u2028b", "mailto:x@y", "http://x.example/[[.]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, err := ParseIndicator(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		switch in.Kind {
		case IndicatorURL, IndicatorIPv4, IndicatorIPv6, IndicatorDomain, IndicatorEmail, IndicatorMD5, IndicatorSHA1, IndicatorSHA256:
		default:
			t.Fatalf("%q parsed as kind %q", s, in.Kind)
		}
		if in.Value == "" || len(in.Value) > 2048 || strings.IndexFunc(in.Value, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
			t.Fatalf("%q parsed as %q", s, in.Value)
		}
		ParseIndicator(in.Value)
		in.Defanged()
	})
}

// FuzzParseAssetList: an asset list is a file an organisation keeps and
// imports. No panic; a refusal says ErrInvalid or ErrTooLarge; what is
// accepted is within the budgets and every entry is in its normal form.
func FuzzParseAssetList(f *testing.F) {
	f.Add("# Venue North\ncidr   203.0.113.0/24        ticket gates\ndomain venue-north.example   main site\nurl    https://hosting.example.net/venue-north/\n")
	f.Add("cidr 203.0.113.0/24 gates\ndomain jp\n")
	f.Add("domain\n")
	f.Add("bogus x\n")
	f.Add("network ::ffff:1.2.3.4/120\n\n\ndomain 例え.jp  note with  spaces\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 1<<16 {
			return
		}
		es, err := ParseAssetList(text)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(es) > MaxAssets {
			t.Fatalf("%d entries accepted", len(es))
		}
		for _, e := range es {
			if len(e.Value) > MaxAssetValue || len(e.Note) > MaxAssetNote {
				t.Fatalf("entry %+v over budget", e)
			}
			if again, err := ParseAsset(e.Kind, e.Value, e.Note); err != nil || again != e {
				t.Fatalf("entry %+v is not normal: %+v, %v", e, again, err)
			}
		}
	})
}

// TestSTIXImportUnrealRevisionTime is the crasher FuzzSTIXImportMapping
// found (testdata/fuzz/FuzzSTIXImportMapping/b5d1d4894ab1c148): an object
// created in the year 0 (or 1600, or past 9999 in UTC) made a draft whose
// source checkSource refuses, so the object was refused for a date the
// importer itself had chosen. Like an object with no date at all, it is
// posted with the epoch as its revision, and importing it again finds it
// held.
func TestSTIXImportUnrealRevisionTime(t *testing.T) {
	c := newCommunity(t)
	for i, created := range []string{"0000-01-01T0:00:00Z", "1600-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"} {
		id := "campaign--00000000-0000-4000-8000-00000000000" + string(rune('1'+i))
		b := []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"campaign","spec_version":"2.1","id":"` + id + `","created":"` + created + `","name":"C"}]}`)
		res, err := c.power.ImportSTIX(b, STIXImportOptions{})
		if err != nil {
			t.Fatalf("created %s: %v", created, err)
		}
		if len(res.Added) != 1 {
			t.Fatalf("created %s: %+v, want one post added", created, res)
		}
		again, err := c.power.ImportSTIX(b, STIXImportOptions{})
		if err != nil || len(again.Skipped) != 1 || again.Skipped[0].Reason != STIXHeld {
			t.Fatalf("created %s, imported again: %+v, %v; want it held", created, again, err)
		}
	}
}

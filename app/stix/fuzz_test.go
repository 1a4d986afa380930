package stix

import (
	"errors"
	"testing"
	"time"
)

var testTime = time.Date(2026, 7, 24, 9, 30, 0, 123e6, time.UTC)

// FuzzRead feeds the bundle reader any bytes: it returns objects whose IDs
// name their types, or an error; never a panic.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"note","id":"note--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","content":"x","object_refs":["report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}]}`))
	f.Add([]byte(`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"2016-04-06T20:03:48.000Z"}`))
	f.Add([]byte(`{"$schema":"x"}`))
	f.Add([]byte(`[`))
	lim := Limits{MaxBytes: 1 << 16, MaxObjects: 50, MaxObject: 1 << 12}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, lim)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrNotSTIX) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(d.Objects) > lim.MaxObjects {
			t.Fatalf("%d objects", len(d.Objects))
		}
		for _, o := range d.Objects {
			if TypeOf(o.ID) != o.Type || len(o.Raw) > lim.MaxObject {
				t.Fatalf("object %s of type %s, %d bytes", o.ID, o.Type, len(o.Raw))
			}
			o.ModifiedTime()
		}
	})
}

// FuzzParsePattern feeds the pattern parser any text: a simple pattern it
// reads is written back by Pattern and reads the same again.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '10.0.0.1/32']",
		"[file:hashes.'SHA-256' = 'ab' OR file:hashes.MD5 = 'cd']",
		"[url:value = 'http://a.example/\\'x'] OR [domain-name:value = 'b.example']",
		"[email-message:subject MATCHES '^x']",
		"[a:b = 'c'] WITHIN 5 SECONDS",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParsePattern(s)
		if err != nil {
			if !errors.Is(err, ErrNotSimple) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for _, c := range cs {
			p, err := Pattern(c.Kind, c.Value)
			if err != nil {
				t.Fatalf("Pattern(%v): %v", c, err)
			}
			back, err := ParsePattern(p)
			if err != nil || len(back) != 1 || back[0] != c {
				t.Fatalf("%q -> %v -> %q -> %v, %v", s, c, p, back, err)
			}
		}
	})
}

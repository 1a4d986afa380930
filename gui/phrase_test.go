package gui

import (
	"errors"
	"strings"
	"testing"

	"noroshi/app"
)

// Every typed error from app reads as a sentence in both languages: each
// field has a label, no fmt verb is left over, and no CLI flag shows.
func TestFieldErrorsPhrased(t *testing.T) {
	en, ja := readTranslations(t, "en"), readTranslations(t, "ja")
	for _, f := range app.Fields {
		if en["field."+string(f)] == "" || ja["field."+string(f)] == "" {
			t.Errorf("field %q has no label (field.%s)", f, f)
		}
	}
	for _, code := range []string{"en", "ja"} {
		if err := SetLanguage(code); err != nil {
			t.Fatal(err)
		}
		for _, f := range app.Fields {
			for _, r := range app.Reasons {
				e := &app.FieldError{Of: app.OfPost, Field: f, Reason: r, Value: "v", Max: 9, Min: 8, Allowed: []string{"a"},
					Also: []app.Field{app.FieldTag}, With: app.FieldTLP, WithValue: "RED"}
				s := phrase(e)
				if strings.Contains(s, "%!") || strings.Contains(s, "--") || s == e.Error() && r != app.ReasonEmpty && r != app.ReasonNotForDevice && r != app.ReasonQuorum {
					t.Errorf("%s: %s/%s phrased %q", code, f, r, s)
				}
			}
		}
		if got := phrase(errors.New("plain")); got != "plain" {
			t.Errorf("a plain error phrased %q", got)
		}
	}
	SetLanguage("en")
	if got := phrase(&app.FieldError{Field: app.FieldTitle, Reason: app.ReasonRequired}); got != "Title is needed." {
		t.Errorf("title required: %q", got)
	}
}

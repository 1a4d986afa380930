package app

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cliFlag is a command-line flag inside a sentence: " --title", "`--home".
var cliFlag = regexp.MustCompile("(^|[\\s(`'\"])--[a-z]")

// No error app makes names a CLI flag: front ends phrase app's typed errors
// with their own controls (cmd/noroshi/phrase.go, gui/phrase.go).
func TestErrorsNameNoFlags(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, _ := sel.X.(*ast.Ident)
			if pkg == nil || !(pkg.Name == "fmt" && (sel.Sel.Name == "Errorf" || sel.Sel.Name == "Sprintf") || pkg.Name == "errors" && sel.Sel.Name == "New") {
				return true
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					if cliFlag.MatchString(s) {
						t.Errorf("%s: %s names a CLI flag: return a FieldError and let the CLI phrase it", fset.Position(lit.Pos()), lit.Value)
					}
				}
			}
			return true
		})
	}
	if cliFlag.MatchString(" --title") == false {
		t.Fatal("the flag pattern misses a flag")
	}
}

// Every field and reason phrases as an English sentence without a flag,
// and the sentinel still matches.
func TestFieldErrorPhrasing(t *testing.T) {
	for _, f := range Fields {
		for _, r := range Reasons {
			e := &FieldError{Of: OfPost, Field: f, Reason: r, Value: "v", Max: 9, Min: 8, Allowed: []string{"a", "b"},
				Also: []Field{FieldTag}, With: FieldTLP, WithValue: "RED"}
			s := e.Error()
			if cliFlag.MatchString(s) || strings.Contains(s, "%!") || !strings.HasPrefix(s, "invalid input") {
				t.Errorf("%s/%s: %q", f, r, s)
			}
			if !errors.Is(e, ErrInvalid) {
				t.Errorf("%s/%s: not ErrInvalid", f, r)
			}
		}
	}
	e := error(&FieldError{Err: ErrNotAllowed, Field: FieldEndorsement, Reason: ReasonRequired})
	if !errors.Is(e, ErrNotAllowed) || errors.Is(e, ErrInvalid) {
		t.Errorf("%v: want ErrNotAllowed only", e)
	}
}

// The app's own checks return FieldErrors that say which field and why.
func TestValidationErrorsAreTyped(t *testing.T) {
	c := newCommunity(t)
	for _, tc := range []struct {
		name   string
		err    error
		field  Field
		reason Reason
		is     error
	}{
		{"no title", func() error {
			_, err := c.power.Post(PostDraft{Type: TypeAlert, Tag: TagInfo, TLP: TLPGreen})
			return err
		}(), FieldTitle, ReasonRequired, ErrInvalid},
		{"red to an org", func() error {
			_, err := c.power.Post(PostDraft{Title: "x", Type: TypeAlert, Tag: TagInfo, TLP: TLPRed, ToOrgs: []string{"Venue North"}})
			return err
		}(), FieldTo, ReasonNotAllowed, ErrInvalid},
		{"unknown tlp", func() error { _, err := ParseTLP("purple"); return err }(), FieldTLP, ReasonUnknownValue, ErrInvalid},
		{"contact without phone", func() error {
			_, err := c.venue.SetContact("", ContactEntry{Role: "CSIRT duty", Name: "A"}, false)
			return err
		}(), FieldPhone, ReasonOneRequired, ErrInvalid},
		{"short passphrase", CheckPassphrase("short"), FieldPassphrase, ReasonTooShort, ErrInvalid},
		{"unknown role", func() error { _, err := ParseRole("boss"); return err }(), FieldRole, ReasonUnknownValue, ErrInvalid},
	} {
		fe, ok := AsFieldError(tc.err)
		if !ok {
			t.Errorf("%s: %v is not a FieldError", tc.name, tc.err)
			continue
		}
		if fe.Field != tc.field || fe.Reason != tc.reason || !errors.Is(tc.err, tc.is) {
			t.Errorf("%s: %s/%s (%v), want %s/%s", tc.name, fe.Field, fe.Reason, tc.err, tc.field, tc.reason)
		}
	}
}

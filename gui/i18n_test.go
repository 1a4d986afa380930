package gui

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"noroshi/app"
)

func readTranslations(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := translations.ReadFile("translation/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

func TestTranslationsHaveTheSameKeys(t *testing.T) {
	en, ja := readTranslations(t, "en"), readTranslations(t, "ja")
	for k, v := range en {
		if _, ok := ja[k]; !ok {
			t.Errorf("ja.json lacks %q", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("en.json: %q is empty", k)
		}
	}
	for k, v := range ja {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("ja.json: %q is empty", k)
		}
		// The same fmt verbs in the same order.
		if verbs(v) != verbs(en[k]) {
			t.Errorf("%q: ja has verbs %q, en %q", k, verbs(v), verbs(en[k]))
		}
		for _, tlp := range app.TLPs {
			if strings.Contains(en[k], tlp.Label()) && !strings.Contains(v, tlp.Label()) {
				t.Errorf("%q: TLP labels are never translated: ja lacks %s", k, tlp.Label())
			}
		}
	}
}

func verbs(s string) string {
	var out []string
	for i := 0; i < len(s)-1; i++ {
		if s[i] == '%' {
			out = append(out, s[i:i+2])
			i++
		}
	}
	return strings.Join(out, " ")
}

// Every enumerated value app defines has a name in both languages.
func TestEnumsTranslated(t *testing.T) {
	en, ja := readTranslations(t, "en"), readTranslations(t, "ja")
	var keys []string
	for _, v := range app.PostTypes {
		keys = append(keys, "type."+string(v))
	}
	for _, v := range app.Tags {
		keys = append(keys, "tag."+string(v))
	}
	for _, v := range app.Channels {
		keys = append(keys, "channel."+string(v))
	}
	for _, v := range app.Categories {
		keys = append(keys, "category."+string(v))
	}
	for _, v := range app.Statuses {
		keys = append(keys, "status."+string(v))
	}
	for _, v := range app.OrgKinds {
		keys = append(keys, "kind."+string(v))
	}
	for _, v := range app.Sectors {
		keys = append(keys, "sector."+v)
	}
	for _, v := range app.Roles {
		keys = append(keys, "role."+string(v))
	}
	for _, v := range []app.Affects{app.AffectsYes, app.AffectsNo, app.AffectsUnknown} {
		keys = append(keys, "affects."+string(v))
	}
	for _, v := range app.TLPs {
		keys = append(keys, "tlp_rule."+strings.ToLower(strings.ReplaceAll(string(v), "+", "_")))
	}
	for _, v := range screens {
		keys = append(keys, "nav."+v)
	}
	for _, v := range []string{"url", "ip", "domain", "hash"} {
		keys = append(keys, "indicator."+v)
	}
	for _, v := range []string{"alive", "suspect", "dead", "left", "relay-link"} {
		keys = append(keys, "peer_state."+v)
	}
	for _, k := range keys {
		if en[k] == "" || ja[k] == "" {
			t.Errorf("no translation for %q", k)
		}
	}
}

// sourceFiles parses the package's non-test Go files.
func sourceFiles(t *testing.T) (*token.FileSet, []*ast.File) {
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// Every key the code looks up exists.
func TestKeysUsedExist(t *testing.T) {
	en := readTranslations(t, "en")
	fset, files := sourceFiles(t)
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); ok && (id.Name == "T" || id.Name == "Tf") {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					k, _ := strconv.Unquote(lit.Value)
					if _, ok := en[k]; !ok {
						t.Errorf("%s: key %q is not in en.json", fset.Position(lit.Pos()), k)
					}
				}
			}
			return true
		})
	}
}

// No string literal with words reaches a widget or dialog without a
// translation: text shown to people comes from T/Tf, enum, or app's data.
func TestNoUntranslatedText(t *testing.T) {
	// Functions and methods whose string arguments are shown to people.
	shown := map[string]bool{
		"NewLabel": true, "NewButton": true, "NewButtonWithIcon": true, "SetText": true, "NewCheck": true,
		"SetPlaceHolder": true, "NewFormItem": true, "NewCustom": true, "NewCustomConfirm": true,
		"NewCustomWithoutButtons": true, "NewInformation": true, "ShowInformation": true, "NewConfirm": true,
		"NewNotification": true, "NewHyperlink": true, "NewRichTextWithText": true, "NewCard": true,
		"NewTabItem": true, "NewAccordionItem": true, "SetTitle": true, "SetTitleText": true,
		"SetConfirmText": true, "SetDismissText": true, "wrapLabel": true, "boldLabel": true, "heading": true,
		"banner": true, "showInfo": true, "confirm": true, "NewWindow": true, "NewText": true,
	}
	// Symbols and labels that are the same in every language.
	allowed := map[string]bool{"TLP": true, "★": true, "24/7": true}
	fset, files := sourceFiles(t)
	var bad []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			if !shown[name] {
				return true
			}
			for _, a := range call.Args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				if allowed[s] || strings.IndexFunc(s, unicode.IsLetter) < 0 {
					continue
				}
				bad = append(bad, fset.Position(lit.Pos()).String()+": "+lit.Value)
			}
			return true
		})
	}
	// Placeholders and form labels assigned as fields.
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for i, l := range as.Lhs {
				sel, ok := l.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "PlaceHolder" && sel.Sel.Name != "Text") || i >= len(as.Rhs) {
					continue
				}
				if lit, ok := as.Rhs[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					if !allowed[s] && strings.IndexFunc(s, unicode.IsLetter) >= 0 {
						bad = append(bad, fset.Position(lit.Pos()).String()+": "+lit.Value)
					}
				}
			}
			return true
		})
	}
	// Drop-downs come from newSelect, which translates the placeholder.
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			fd, ok := n.(*ast.FuncDecl)
			if ok && fd.Name.Name == "newSelect" {
				return false
			}
			sel, ok := n.(*ast.SelectorExpr)
			if ok && sel.Sel.Name == "NewSelect" {
				bad = append(bad, fset.Position(sel.Pos()).String()+": widget.NewSelect shows Fyne's untranslated placeholder: use newSelect")
			}
			return true
		})
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("untranslated text shown to people: %s", b)
	}
}

func TestTranslationFilesFormatted(t *testing.T) {
	for _, l := range []string{"en", "ja"} {
		b, err := os.ReadFile("translation/" + l + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s.json is not valid JSON", l)
		}
	}
}

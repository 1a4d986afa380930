package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"noroshi/app"
)

// `noroshi show --json` lists a post's indicators as the app's PostDetail
// does (the desktop app shows that list): the structured ones and those
// written in the body, each once, defanged the same way.
func TestShowListsTheAppsIndicators(t *testing.T) {
	const pass = "correct horse battery"
	home, a := coordinatorHome(t, pass)
	body := "Phishing from hxxp://login-games[.]example/sso and 198.51.100.23;\nsample 3f786850e387550fdab836ed7e6dc881de23001b, also bad[.]example"
	p, err := a.Post(app.PostDraft{Title: "phishing wave", Type: app.TypeAlert, Tag: app.TagCaution, TLP: app.TLPGreen,
		Body: body, Indicators: []string{"203.0.113.9", "198.51.100.23"}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Show(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if len(want.Indicators) != 6 {
		t.Fatalf("the app lists %d indicators, want 6 (2 given, 4 more in the body): %+v", len(want.Indicators), want.Indicators)
	}

	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, cwd: home, workFactor: app.TestWorkFactor,
		getenv: func(k string) string {
			if k == "NOROSHI_PASSPHRASE" {
				return pass
			}
			return ""
		}}
	if code := run([]string{"--home", home, "show", p.ID, "--json"}, e); code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr.String())
	}
	var got struct{ Indicators []app.IndicatorView }
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("show --json: %v\n%s", err, stdout.String())
	}
	if !reflect.DeepEqual(got.Indicators, want.Indicators) {
		t.Errorf("show --json lists\n%+v\nthe app lists\n%+v", got.Indicators, want.Indicators)
	}
}

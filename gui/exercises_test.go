package gui

import (
	"context"
	"os"
	"strings"
	"testing"

	"noroshi/app"
)

// The Exercises screen lists an exercise, shows its own feed with the
// EXERCISE banner across the screen and its report; the real Feed screen
// never shows its posts; an exercise notification says EXERCISE.
func TestExerciseScreen(t *testing.T) {
	_, u := startDemo(t)
	b, err := os.ReadFile("../examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := app.DecodeScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.a.RunExercise(context.Background(), sc, app.ExerciseRunOptions{Speed: 1e6}); err != nil {
		t.Fatal(err)
	}
	u.apply(u.load())
	u.show(screenExercises)
	v := u.exercises
	// The demo holds an exercise of its own: choose the one just run.
	for _, o := range v.pick.Options {
		if strings.HasPrefix(o, sc.Name+" ") {
			v.pick.SetSelected(o)
		}
	}
	assertShows(t, v.obj, T("exercise.mark"))
	assertShows(t, v.obj, "tokyo2020-je5-ransomware")
	if !shows(v.banner, "EXERCISE tokyo2020-je5-ransomware") {
		t.Errorf("no banner across the screen: %q", texts(v.banner))
	}
	if !shows(v.feed, "情報窃取") {
		t.Errorf("the exercise feed lacks its injects: %q", texts(v.feed))
	}
	if !shows(v.report, T("exercises.time_to_read")) {
		t.Errorf("no report: %q", texts(v.report))
	}
	u.show(screenFeed)
	for _, s := range texts(u.feed.obj) {
		if strings.Contains(s, "ランサムウェア") || strings.Contains(s, "情報窃取") {
			t.Errorf("the real feed shows an exercise post: %q", s)
		}
	}
	for _, p := range u.ev.feed {
		if p.Exercise != "" {
			t.Errorf("the real feed holds exercise post %q", p.Title)
		}
	}
	n := exerciseNotification(app.PostSummary{Title: "inject", TagMark: "【重要】", OrgName: "Centre", Exercise: sc.Name})
	if !strings.Contains(n.Title, "EXERCISE") || !strings.Contains(n.Content, "EXERCISE") {
		t.Errorf("an exercise notification without the mark: %+v", n)
	}
}

package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"noroshi/app"
)

func TestMain(m *testing.M) {
	// The tests read English texts unless they switch language themselves.
	os.Setenv("LANGUAGE", "en")
	if err := SetLanguage("en"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// testConfig returns a GUI config for homes in a temp dir, with a fast key
// file work factor and no network.
func testConfig(t testing.TB) Config {
	dir := t.TempDir()
	cfg := app.DefaultConfig(filepath.Join(dir, "home"))
	cfg.WorkFactor = app.TestWorkFactor
	cfg.Logf = t.Logf
	return Config{App: cfg, DemoHome: filepath.Join(dir, "demo")}
}

// newWindow returns a test window of the size of a venue laptop's screen.
func newWindow(t testing.TB) (fyne.App, fyne.Window) {
	fa := test.NewTempApp(t)
	w := fa.NewWindow("test")
	w.Resize(fyne.NewSize(1366, 768))
	t.Cleanup(w.Close)
	return fa, w
}

// startDemo opens the demo community (created for the test) in a window.
func startDemo(t testing.TB) (*Session, *UI) {
	t.Helper()
	fa, w := newWindow(t)
	cfg := testConfig(t)
	cfg.Demo = true
	cfg.Now = func() time.Time { return time.Now() }
	s := Start(fa, w, cfg)
	t.Cleanup(s.Close)
	if s.UI() == nil {
		t.Fatalf("the demo did not open: %s", strings.Join(texts(w.Content()), " | "))
	}
	return s, s.UI()
}

// texts returns every text shown under o: labels, buttons, rich text,
// canvas texts, checks and entries.
func texts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch v := o.(type) {
		case *widget.Label:
			out = append(out, v.Text)
			return
		case *widget.Button:
			out = append(out, v.Text)
			return
		case *widget.RichText:
			out = append(out, v.String())
			return
		case *widget.Check:
			out = append(out, v.Text)
			return
		case *widget.Entry:
			out = append(out, v.Text)
			return
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
			return
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(v).Objects() {
				walk(c)
			}
			return
		}
		if ct, ok := o.(*canvas.Text); ok {
			out = append(out, ct.Text)
		}
	}
	walk(o)
	return out
}

// shows reports whether some text under o contains want.
func shows(o fyne.CanvasObject, want string) bool {
	for _, s := range texts(o) {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

// assertShows fails unless some text under o contains want.
func assertShows(t testing.TB, o fyne.CanvasObject, want string) {
	t.Helper()
	if !shows(o, want) {
		t.Fatalf("%q not shown; texts: %q", want, texts(o))
	}
}

// findButton returns the first visible button under o whose text contains label.
func findButton(o fyne.CanvasObject, label string) *widget.Button {
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || o == nil || !o.Visible() {
			return
		}
		switch v := o.(type) {
		case *widget.Button:
			if strings.Contains(v.Text, label) {
				found = v
			}
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(v).Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return found
}

// tapButton taps the button labelled label under o.
func tapButton(t testing.TB, o fyne.CanvasObject, label string) {
	t.Helper()
	b := findButton(o, label)
	if b == nil {
		t.Fatalf("no button %q; texts: %q", label, texts(o))
	}
	if b.Disabled() {
		t.Fatalf("button %q is disabled", label)
	}
	test.Tap(b)
}

// saveTo makes the file pickers write to and read from path.
func saveTo(u *UI, path string) {
	u.pickSave = func(name string, done func(fyne.URIWriteCloser)) {
		w, err := storage.Writer(storage.NewFileURI(path))
		if err != nil {
			panic(err)
		}
		done(w)
	}
	u.pickOpen = func(done func(fyne.URIReadCloser)) {
		r, err := storage.Reader(storage.NewFileURI(path))
		if err != nil {
			panic(err)
		}
		done(r)
	}
}

// selectPost selects the feed's post whose title contains title.
func selectPost(t testing.TB, u *UI, title string) app.PostSummary {
	t.Helper()
	for i, p := range u.feed.posts {
		if strings.Contains(p.Title, title) {
			u.feed.list.Select(i)
			if u.post.detail == nil || u.post.detail.ID != p.ID {
				t.Fatalf("post %q selected but not shown", title)
			}
			return p
		}
	}
	t.Fatalf("no post %q in the feed", title)
	return app.PostSummary{}
}

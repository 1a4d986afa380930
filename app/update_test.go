package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// releaseJSON is the latest release as GitHub's API answers it (trimmed to
// the fields read).
const releaseJSON = `{
  "tag_name": "v1.4.0",
  "name": "Noroshi 1.4.0",
  "html_url": "https://github.com/example-org/noroshi/releases/tag/v1.4.0",
  "published_at": "2026-11-30T09:00:00Z",
  "draft": false,
  "prerelease": false,
  "body": "## Highlights\r\n\r\n- Reports in PDF \u001b[31mwith\u001b[0m Japanese fonts\n- Relay binaries for arm64\n\n- Exercise mode\n- Asset register\n- Sixth line, not shown\n"
}`

// fakeReleases serves GitHub's "latest release" endpoint on loopback; the
// first path element picks a scenario:
//
//	/ok/repos/OWNER/NAME/releases/latest         releaseJSON
//	/ratelimit/repos/OWNER/NAME/releases/latest  403, X-RateLimit-Remaining: 0
//	/toomany/repos/OWNER/NAME/releases/latest    429, Retry-After: 120
//	/malformed/repos/OWNER/NAME/releases/latest  a cut JSON document
//	/notag/repos/OWNER/NAME/releases/latest      a release without a tag
//	/huge/repos/OWNER/NAME/releases/latest       an answer over the budget
//	/none/...                                    404
func fakeReleases(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		scenario, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if rest != "repos/example-org/noroshi/releases/latest" {
			scenario = "none"
		}
		w.Header().Set("Content-Type", "application/json")
		switch scenario {
		case "ok":
			io.WriteString(w, releaseJSON)
		case "ratelimit":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "1796641200") // 2026-12-07 11:00:00 UTC
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"API rate limit exceeded for 192.0.2.1."}`)
		case "toomany":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"message":"slow down"}`)
		case "malformed":
			io.WriteString(w, releaseJSON[:60])
		case "notag":
			io.WriteString(w, `{"name":"untagged","body":"x"}`)
		case "huge":
			io.WriteString(w, `{"tag_name":"v9.9.9","body":"`+strings.Repeat("a", maxReleaseAnswer)+`"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func updateOpts(srv *httptest.Server, scenario, current string) UpdateOptions {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	return UpdateOptions{HTTPClient: srv.Client(), APIURL: srv.URL + "/" + scenario + "/", Repo: "example-org/noroshi", Current: current, Now: func() time.Time { return now }}
}

func TestUpdateCheck(t *testing.T) {
	srv, _ := fakeReleases(t)
	for _, tc := range []struct {
		current          string
		newer, comparing bool
	}{
		{"v1.3.2", true, true},
		{"v1.4.0", false, true},
		{"v1.5.0", false, true},
		{"v1.4.0-rc.1", true, true},
		{"v0.0.0-20261207081500-e4a4b8e12345", true, true},
		{"v0.0.0-20261207081500-e4a4b8e12345+dirty", true, true},
		{"(devel)", false, false},
	} {
		res, err := CheckUpdate(context.Background(), updateOpts(srv, "ok", tc.current))
		if err != nil {
			t.Fatalf("%s: %v", tc.current, err)
		}
		if res.Newer != tc.newer || res.Comparable != tc.comparing || res.Latest != "v1.4.0" || res.Current != tc.current {
			t.Errorf("%s: %+v", tc.current, res)
		}
	}
	res, err := CheckUpdate(context.Background(), updateOpts(srv, "ok", "v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"## Highlights", "- Reports in PDF [31mwith[0m Japanese fonts", "- Relay binaries for arm64", "- Exercise mode", "- Asset register"}
	if strings.Join(res.Notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes %q, want %q (first lines, no escape characters)", res.Notes, want)
	}
	if res.Name != "Noroshi 1.4.0" || res.URL != "https://github.com/example-org/noroshi/releases/tag/v1.4.0" || !res.Published.Equal(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)) || res.Repo != "example-org/noroshi" {
		t.Errorf("result %+v", res)
	}
}

func TestUpdateCheckFailures(t *testing.T) {
	srv, hits := fakeReleases(t)
	check := func(scenario string) error {
		_, err := CheckUpdate(context.Background(), updateOpts(srv, scenario, "v1.0.0"))
		return err
	}
	err := check("ratelimit")
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "after 2026-12-07 11:00:00 UTC") {
		t.Errorf("rate limit: %v", err)
	}
	if err := check("toomany"); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "after 2026-12-07 10:02:00 UTC") {
		t.Errorf("429: %v", err)
	}
	if err := check("malformed"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "is not a release") {
		t.Errorf("malformed: %v", err)
	}
	if err := check("notag"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no usable tag") {
		t.Errorf("no tag: %v", err)
	}
	if err := check("huge"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge: %v", err)
	}
	if err := check("none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	// Bad repository names and API URLs are refused before any request.
	before := hits.Load()
	for _, repo := range []string{"", "noroshi", "a/b/c", "../x", "owner/..", "-x/y"} {
		o := updateOpts(srv, "ok", "v1.0.0")
		o.Repo = repo
		if _, err := CheckUpdate(context.Background(), o); !errors.Is(err, ErrInvalid) {
			t.Errorf("repo %q: %v", repo, err)
		}
	}
	o := updateOpts(srv, "ok", "v1.0.0")
	o.APIURL = "ftp://example.org/"
	if _, err := CheckUpdate(context.Background(), o); !errors.Is(err, ErrInvalid) {
		t.Errorf("ftp API URL: %v", err)
	}
	if n := hits.Load() - before; n != 0 {
		t.Errorf("%d requests for refused options", n)
	}
}

func TestUpdateCheckOffline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = CheckUpdate(context.Background(), UpdateOptions{APIURL: "http://" + addr + "/", Repo: "example-org/noroshi", Current: "v1.0.0"})
	var off *OfflineError
	if !errors.Is(err, ErrOffline) || !errors.As(err, &off) || off.Host != addr {
		t.Fatalf("error %v, want offline from %s", err, addr)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
		ok   bool
	}{
		{"v1.0.0", "v1.0.0", 0, true},
		{"v1.0.1", "v1.0.0", 1, true},
		{"v1.10.0", "v1.9.0", 1, true},
		{"v2.0.0", "v10.0.0", -1, true},
		{"v1.0.0", "v1.0.0-rc.1", 1, true},
		{"v1.0.0-rc.2", "v1.0.0-rc.10", -1, true},
		{"v1.0.0-alpha", "v1.0.0-1", 1, true},
		{"v1.0.0-alpha", "v1.0.0-alpha.1", -1, true},
		{"v1.0.0+build.5", "v1.0.0", 0, true},
		{"1.0.0", "v1.0.0", 0, false},
		{"v1.0", "v1.0.0", 0, false},
		{"v01.0.0", "v1.0.0", 0, false},
		{"v1.0.0-", "v1.0.0", 0, false},
		{"(devel)", "v1.0.0", 0, false},
	} {
		got, ok := compareVersions(tc.a, tc.b)
		if got != tc.want || ok != tc.ok {
			t.Errorf("compare(%q, %q) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

// answerTransport answers every request with the same body, in process.
type answerTransport struct{ body []byte }

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzReleaseAnswer: whatever the API answers, the check returns a result
// or an error, never panics, and keeps its notes within their bounds.
func FuzzReleaseAnswer(f *testing.F) {
	f.Add([]byte(releaseJSON))
	f.Add([]byte(`{"tag_name":"v1.0.0-rc.1.2.x","body":"\u0000\n\n\n"}`))
	f.Add([]byte(`{"tag_name":"v18446744073709551616.0.0"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := CheckUpdate(context.Background(), UpdateOptions{HTTPClient: &http.Client{Transport: answerTransport{body}}, APIURL: "http://127.0.0.1:1/", Repo: "example-org/noroshi", Current: "v1.0.0"})
		if err != nil {
			return
		}
		if len(res.Notes) > maxReleaseNotes || res.Latest == "" {
			t.Fatalf("result %+v", res)
		}
		for _, l := range res.Notes {
			if len(l) > maxReleaseLine || strings.ContainsAny(l, "\n\r\x1b") {
				t.Fatalf("note %q", l)
			}
		}
	})
}

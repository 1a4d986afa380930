package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// ghsaCursor is the cursor the recorded API's first page names as next.
const ghsaCursor = "Y3Vyc29yOnYyOpK0MjAyNC0wNy0zMFQxOTo1MToyMFrOAAPVsQ=="

// ghsaserve VAR: serves GitHub's global advisory API from the pages
// recorded in ../../app/testdata/advisories on a loopback httptest server
// for the rest of the script, and sets $VAR to its URL and $VAR_CLOSED to
// the URL of a loopback port nothing listens on. The path's first element
// picks a scenario ($VAR/paged/ is an API base URL):
//
//	paged      page1.json, then (after the Link cursor) page2.json
//	revised    revised.json: a later revision of Log4Shell
//	malformed  page1.json, then a page cut in the middle
//	ratelimit  403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset
func cmdGHSAServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: ghsaserve VAR")
	}
	dir := filepath.Join("..", "..", "app", "testdata", "advisories")
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scenario, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		after := r.URL.Query().Get("after")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "58")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
		next := func() {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/%s/advisories?per_page=100&after=%s>; rel="next"`, r.Host, scenario, strings.ReplaceAll(ghsaCursor, "=", "%3D")))
		}
		name := ""
		switch {
		case rest != "advisories":
		case scenario == "paged" && after == "", scenario == "malformed" && after == "":
			next()
			name = "page1.json"
		case scenario == "paged" && after == ghsaCursor:
			name = "page2.json"
		case scenario == "malformed":
			name = "malformed.json"
		case scenario == "revised":
			name = "revised.json"
		case scenario == "ratelimit":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusForbidden)
			name = "ratelimit.json"
		}
		if name == "" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}))
	ts.Defer(srv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	closed := l.Addr().String()
	l.Close()
	ts.Setenv(args[0], srv.URL)
	ts.Setenv(args[0]+"_CLOSED", "http://"+closed+"/")
}

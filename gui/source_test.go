package gui

import (
	"testing"
	"time"

	"noroshi/app"
)

// TestPostShowsSourceAndVersions: a post that stands for an advisory says
// where it comes from, and lists its versions with who wrote each.
func TestPostShowsSourceAndVersions(t *testing.T) {
	_, u := startDemo(t)
	for i, title := range []string{"GHSA-test-0001 first import", "GHSA-test-0001 revised"} {
		src := &app.PostSource{ID: "ghsa:GHSA-test-0001", Modified: time.Date(2021, 7, 20+i, 9, 0, 0, 0, time.UTC), URL: "https://github.com/advisories/GHSA-test-0001"}
		if _, err := u.a.Post(app.PostDraft{Type: app.TypeVulnerability, Tag: app.TagCaution, TLP: app.TLPClear, Title: title, Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	u.refresh()
	for _, p := range u.feed.posts {
		if p.Title == "GHSA-test-0001 first import" {
			t.Fatal("the feed lists the older version of a source")
		}
	}
	selectPost(t, u, "GHSA-test-0001 revised")
	assertShows(t, u.post.obj, "ghsa:GHSA-test-0001")
	assertShows(t, u.post.obj, "https://github.com/advisories/GHSA-test-0001")
	assertShows(t, u.post.obj, "2 versions of this source")
}

// TestDemoAdvisoryShowsItsFields: the demo's advisory, imported by two
// organisations, is one post that shows its IDs, severity, the package it
// affects and where it is fixed, and its two versions.
func TestDemoAdvisoryShowsItsFields(t *testing.T) {
	_, u := startDemo(t)
	n := 0
	for _, p := range u.feed.posts {
		if p.Type == app.TypeVulnerability && p.Title == "GHSA-jfh8-c2jp-5v3q (CVE-2021-44228): Remote code injection in Log4j" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the feed lists the advisory %d times, want once", n)
	}
	selectPost(t, u, "GHSA-jfh8-c2jp-5v3q")
	for _, want := range []string{"GHSA-jfh8-c2jp-5v3q · CVE-2021-44228", "CVSS 10.0", "org.apache.logging.log4j:log4j-core", "fixed in 2.15.0", "2 versions of this source"} {
		assertShows(t, u.post.obj, want)
	}
}

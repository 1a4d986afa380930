package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// The TAXII 2.1 endpoints over real HTTPS, following the specification's
// examples for each: discovery, API root, collections, one collection,
// objects (filters, pages), one object and its versions, manifest; media
// types, status codes and the date-added headers.
func TestTAXIIEndpoints(t *testing.T) {
	fc := newFeedCommunity(t)
	token, _ := fc.a.CreateFeedToken("opencti")
	s := startFeed(t, fc.a, FeedOptions{})
	c := feedClient(t, s)
	base := s.URL() + "/taxii2/"

	// Discovery (specification 4.1.1).
	var disc struct {
		Title    string   `json:"title"`
		Default  string   `json:"default"`
		APIRoots []string `json:"api_roots"`
	}
	r := taxiiGet(t, c, base, token, &disc)
	if r.status != 200 || r.header.Get("Content-Type") != TAXIIMediaType {
		t.Fatalf("discovery: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if len(disc.APIRoots) != 1 || disc.APIRoots[0] != s.URL()+"/taxii2/noroshi/" || disc.Default != disc.APIRoots[0] {
		t.Fatalf("discovery: %+v", disc)
	}
	root := disc.APIRoots[0]

	// API root (4.2.1).
	var ar struct {
		Versions         []string `json:"versions"`
		MaxContentLength int      `json:"max_content_length"`
	}
	if r := taxiiGet(t, c, root, token, &ar); r.status != 200 || len(ar.Versions) != 1 || ar.Versions[0] != TAXIIMediaType || ar.MaxContentLength <= 0 {
		t.Fatalf("API root: %d %+v", r.status, ar)
	}

	// Collections (5.1.1) and the collection (5.2.1).
	type collection struct {
		ID         string   `json:"id"`
		Title      string   `json:"title"`
		CanRead    bool     `json:"can_read"`
		CanWrite   bool     `json:"can_write"`
		MediaTypes []string `json:"media_types"`
	}
	var colls struct {
		Collections []collection `json:"collections"`
	}
	if r := taxiiGet(t, c, root+"collections/", token, &colls); r.status != 200 || len(colls.Collections) != 1 {
		t.Fatalf("collections: %d %s", r.status, r.body)
	}
	coll := colls.Collections[0]
	if !coll.CanRead || coll.CanWrite || len(coll.MediaTypes) != 1 || coll.MediaTypes[0] != STIXMediaType || len(coll.ID) != 36 {
		t.Errorf("collection: %+v", coll)
	}
	var one collection
	if r := taxiiGet(t, c, root+"collections/"+coll.ID+"/", token, &one); r.status != 200 || one.ID != coll.ID {
		t.Errorf("the collection: %d %+v", r.status, one)
	}
	collURL := root + "collections/" + coll.ID + "/"

	// Objects (5.3.1): every object, no RED, AMBER or exercise content.
	var all taxiiEnvelope
	r = taxiiGet(t, c, collURL+"objects/?limit=1000", token, &all)
	if r.status != 200 || all.More || len(all.Objects) == 0 {
		t.Fatalf("objects: %d more=%v %d objects", r.status, all.More, len(all.Objects))
	}
	if r.header.Get("X-TAXII-Date-Added-First") == "" || r.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("objects: no X-TAXII-Date-Added headers: %v", r.header)
	}
	for _, v := range []string{feedAmber, feedRed, feedExercise, feedObservation, "insider", "partner only", "exercise inject", "your portal"} {
		if strings.Contains(r.body, v) {
			t.Errorf("objects serve %q", v)
		}
	}
	if !strings.Contains(r.body, "203.0.113.9") {
		t.Errorf("objects do not serve the GREEN indicator 203.0.113.9")
	}
	type obj struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Modified string `json:"modified"`
	}
	objs := make([]obj, len(all.Objects))
	types := map[string]int{}
	for i, raw := range all.Objects {
		if err := json.Unmarshal(raw, &objs[i]); err != nil {
			t.Fatal(err)
		}
		types[objs[i].Type]++
	}
	if types["indicator"] == 0 || types["report"] == 0 {
		t.Errorf("object types %v: want indicators and reports", types)
	}

	// Pages of two follow next to the end and give the same objects.
	var paged []obj
	next := ""
	for pages := 0; ; pages++ {
		if pages > len(objs) {
			t.Fatal("pagination does not end")
		}
		u := collURL + "objects/?limit=2"
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		var env taxiiEnvelope
		if r := taxiiGet(t, c, u, token, &env); r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		if len(env.Objects) > 2 || (env.More && env.Next == "") {
			t.Fatalf("page %d: %d objects, more=%v next=%q", pages, len(env.Objects), env.More, env.Next)
		}
		for _, raw := range env.Objects {
			var o obj
			json.Unmarshal(raw, &o)
			paged = append(paged, o)
		}
		if !env.More {
			break
		}
		next = env.Next
	}
	if len(paged) != len(objs) {
		t.Fatalf("pages gave %d objects, one request %d", len(paged), len(objs))
	}
	for i := range objs {
		if paged[i] != objs[i] {
			t.Errorf("object %d: pages %+v, one request %+v", i, paged[i], objs[i])
		}
	}

	// match[type] and match[id].
	var inds taxiiEnvelope
	taxiiGet(t, c, collURL+"objects/?match[type]=indicator", token, &inds)
	if len(inds.Objects) != types["indicator"] {
		t.Errorf("match[type]=indicator: %d objects, want %d", len(inds.Objects), types["indicator"])
	}
	for _, raw := range inds.Objects {
		if !strings.Contains(string(raw), `"type":"indicator"`) && !strings.Contains(string(raw), `"type": "indicator"`) {
			t.Errorf("match[type]=indicator gave %s", raw)
		}
	}
	var byID taxiiEnvelope
	taxiiGet(t, c, collURL+"objects/?match[id]="+url.QueryEscape(objs[0].ID), token, &byID)
	if len(byID.Objects) != 1 {
		t.Errorf("match[id]: %d objects", len(byID.Objects))
	}

	// added_after: strictly after the last date added is empty.
	last := r.header.Get("X-TAXII-Date-Added-Last")
	var none taxiiEnvelope
	if r := taxiiGet(t, c, collURL+"objects/?added_after="+url.QueryEscape(last), token, &none); r.status != 200 || len(none.Objects) != 0 || none.More {
		t.Errorf("added_after the last: %d %s", r.status, r.body)
	}

	// One object (5.5.1), its versions (5.7.1), the manifest (5.4.1).
	var single taxiiEnvelope
	if r := taxiiGet(t, c, collURL+"objects/"+objs[0].ID+"/", token, &single); r.status != 200 || len(single.Objects) != 1 {
		t.Errorf("one object: %d %s", r.status, r.body)
	}
	var vers struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}
	if r := taxiiGet(t, c, collURL+"objects/"+objs[0].ID+"/versions/", token, &vers); r.status != 200 || len(vers.Versions) != 1 || vers.Versions[0] != objs[0].Modified {
		t.Errorf("versions: %d %s (modified %s)", r.status, r.body, objs[0].Modified)
	}
	var man struct {
		Objects []struct {
			ID        string `json:"id"`
			DateAdded string `json:"date_added"`
			Version   string `json:"version"`
			MediaType string `json:"media_type"`
		} `json:"objects"`
	}
	if r := taxiiGet(t, c, collURL+"manifest/?limit=1000", token, &man); r.status != 200 || len(man.Objects) != len(objs) {
		t.Errorf("manifest: %d, %d records for %d objects", r.status, len(man.Objects), len(objs))
	} else if m := man.Objects[0]; m.ID != objs[0].ID || m.MediaType != STIXMediaType || m.DateAdded == "" || m.Version != objs[0].Modified {
		t.Errorf("manifest record %+v, object %+v", m, objs[0])
	}

	// Status codes: 401 without or with a bad token, 404 for an unknown
	// collection or object, 403 for a write to the read-only collection,
	// 405 for a write elsewhere, 406 for an Accept it cannot meet, 400 for
	// a bad filter.
	for _, tc := range []struct {
		method, url, token, accept string
		want                       int
	}{
		{"GET", base, "", TAXIIMediaType, 401},
		{"GET", collURL + "objects/", "noroshi-feed-nope", TAXIIMediaType, 401},
		{"GET", root + "collections/00000000-0000-4000-8000-000000000000/", token, TAXIIMediaType, 404},
		{"GET", root + "collections/00000000-0000-4000-8000-000000000000/objects/", token, TAXIIMediaType, 404},
		{"GET", collURL + "objects/indicator--00000000-0000-4000-8000-000000000000/", token, TAXIIMediaType, 404},
		{"GET", s.URL() + "/taxii2/other/", token, TAXIIMediaType, 404},
		{"GET", root + "status/2d086da7-4bdc-4f91-900e-d77486753710/", token, TAXIIMediaType, 404},
		{"POST", collURL + "objects/", token, TAXIIMediaType, 403},
		{"DELETE", collURL + "objects/" + objs[0].ID + "/", token, TAXIIMediaType, 403},
		{"POST", root + "collections/", token, TAXIIMediaType, 405},
		{"GET", base, token, "application/xml", 406},
		{"GET", base, token, "application/taxii+json;version=2.0", 406},
		{"GET", base, token, "application/taxii+json", 200},
		{"GET", base, token, "*/*", 200},
		{"GET", collURL + "objects/?limit=0", token, TAXIIMediaType, 400},
		{"GET", collURL + "objects/?added_after=yesterday", token, TAXIIMediaType, 400},
		{"GET", collURL + "objects/?next=garbage", token, TAXIIMediaType, 400},
	} {
		r := feedGet(t, c, tc.method, tc.url, tc.token, "Accept", tc.accept)
		if r.status != tc.want {
			t.Errorf("%s %s (token %v, Accept %q): %d, want %d: %s", tc.method, tc.url, tc.token != "", tc.accept, r.status, tc.want, r.body)
			continue
		}
		if r.header.Get("Content-Type") != TAXIIMediaType {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.url, r.header.Get("Content-Type"))
		}
		if tc.want >= 400 {
			var e struct {
				Title      string `json:"title"`
				HTTPStatus string `json:"http_status"`
			}
			if json.Unmarshal([]byte(r.body), &e) != nil || e.Title == "" || e.HTTPStatus != strconv.Itoa(tc.want) {
				t.Errorf("%s %s: error body %s", tc.method, tc.url, r.body)
			}
		}
	}

	// A retracted post's report and indicators are gone at the next poll.
	if _, err := fc.a.Retract(fc.retract, "wrong address"); err != nil {
		t.Fatal(err)
	}
	var after taxiiEnvelope
	r = taxiiGet(t, c, collURL+"objects/?limit=1000", token, &after)
	if strings.Contains(r.body, feedRetracted) || strings.Contains(r.body, "mistaken") {
		t.Errorf("the retracted post is still served")
	}
}

// Odd and hostile query strings and paths get a 2xx or 4xx, never a 5xx
// or a panic.
func TestTAXIIHostileRequests(t *testing.T) {
	fc := newFeedCommunity(t)
	token, _ := fc.a.CreateFeedToken("")
	s := startFeed(t, fc.a, FeedOptions{})
	c := feedClient(t, s)
	h := newTAXIIServer(fc.a, TLPGreen)
	coll := s.URL() + "/taxii2/noroshi/collections/" + h.collID + "/"
	for _, q := range []string{
		"limit=-1", "limit=99999999999999999999", "limit=1e3", "limit=%00", "added_after=0000-00-00T00:00:00Z",
		"added_after=9999-12-31T23:59:59.999999999Z", "next=" + strings.Repeat("A", 5000), "next=MHww", "next=fHx8",
		"match[type]=" + strings.Repeat(",", 1000), "match[id]=%zz", "match[version]=sometimes", "match[version]=all,first,last",
		"match[spec_version]=2.0", "match[type]=indicator&match[type]=report", "a;b=c", "%", "&&&", "match[=x",
		"added_after=2021-07-23T20:00:00+09:00&limit=1", "next=" + url.QueryEscape(encodeNext(taxiiObject{ID: "x|y"})),
		strings.Repeat("x=1&", 3000),
	} {
		for _, p := range []string{"objects/", "manifest/", "objects/indicator--00000000-0000-4000-8000-000000000000/versions/"} {
			r := feedGet(t, c, "GET", coll+p+"?"+q, token, "Accept", TAXIIMediaType)
			if r.status >= 500 {
				t.Errorf("%s?%.60s: %d %s", p, q, r.status, r.body)
			}
		}
	}
	for _, p := range []string{"/taxii2//", "/taxii2/noroshi//collections", "/taxii2/noroshi/collections/" + h.collID + "/objects/a/b/c/d/",
		"/blocklist/%2e%2e/key.age", "/blocklist/ipv4.txt%00", "/taxii2/noroshi/status/", "/\x7f"} {
		req, err := http.NewRequest("GET", s.URL()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := c.Do(req)
		if err != nil {
			continue // refused by the client itself
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Errorf("%q: %d", p, res.StatusCode)
		}
	}
	for _, accept := range []string{";;;", "application/taxii+json;version=", "application/taxii+json;q=0", "*/*;q=abc", strings.Repeat("a/b,", 2000)} {
		r := feedGet(t, c, "GET", s.URL()+"/taxii2/", token, "Accept", accept)
		if r.status >= 500 {
			t.Errorf("Accept %.40q: %d", accept, r.status)
		}
	}
}

// FuzzFeedRequest feeds the decoders of what a feed client sends (a TAXII
// query, a next token, an Accept header, an Authorization header): none
// panics, and a next token this server gave reads back as itself.
func FuzzFeedRequest(f *testing.F) {
	f.Add("added_after=2016-02-01T00:00:01.000Z&limit=2&match[type]=indicator,report&match[version]=all", "application/taxii+json;version=2.1", "Bearer noroshi-feed-x")
	f.Add("next="+encodeNext(taxiiObject{ID: "indicator--1"}), "*/*;q=0.5", "Basic Znc6dG9rZW4=")
	f.Add("match[id]=a,b&limit=-1&%zz", ";;,", "Basic !!!")
	f.Fuzz(func(t *testing.T, query, accept, auth string) {
		q, err := parseTAXIIQuery(query)
		if err == nil && (q.limit < 1 || q.limit > taxiiMaxPage) {
			t.Fatalf("limit %d from %q", q.limit, query)
		}
		acceptsTAXII([]string{accept})
		r, _ := http.NewRequest("GET", "https://127.0.0.1/", nil)
		r.Header.Set("Authorization", auth)
		bearerToken(r)
		if o, err := decodeNext(query); err == nil {
			if back, err := decodeNext(encodeNext(o)); err != nil || back.ID != o.ID || !back.Added.Equal(o.Added) {
				t.Fatalf("next %q reads back as %+v, %v", query, back, err)
			}
		}
	})
}

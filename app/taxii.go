package app

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"noroshi/app/stix"
)

// A TAXII 2.1 server, read-only, as the indicator feed serves it under
// /taxii2/ (behind the feed's token): discovery, one API root, one
// collection of what STIXObjects exports at the feed's TLP limit (never
// RED, never an exercise's), with its objects, manifest, single objects and
// their versions. Writes are refused (the collection says can_write false;
// a POST or DELETE gets 403, as the specification says for a client that
// may not write). Every response is application/taxii+json;version=2.1; a
// request whose Accept takes no such thing gets 406.
//
//	/taxii2/                                            discovery
//	/taxii2/noroshi/                                    API root
//	/taxii2/noroshi/collections/                        collections
//	/taxii2/noroshi/collections/ID/                     the collection
//	/taxii2/noroshi/collections/ID/objects/             objects (filters, pages)
//	/taxii2/noroshi/collections/ID/objects/OID/         one object
//	/taxii2/noroshi/collections/ID/objects/OID/versions/ its versions
//	/taxii2/noroshi/collections/ID/manifest/            manifest
//	/taxii2/noroshi/status/SID/                         404: nothing is ever pending

// TAXII media types.
const (
	TAXIIMediaType = "application/taxii+json;version=2.1"
	STIXMediaType  = "application/stix+json;version=2.1"
)

// Pages: the default and largest number of objects in one response.
const (
	taxiiDefaultPage = 100
	taxiiMaxPage     = 1000
	// taxiiMaxObjects bounds the objects the collection holds at once.
	taxiiMaxObjects = 200_000
	taxiiRoot       = "noroshi"
)

// taxiiObject is one object of the collection.
type taxiiObject struct {
	ID       string
	Type     string
	Added    time.Time
	Modified time.Time
	JSON     json.RawMessage
}

// taxiiServer serves the TAXII endpoints; it keeps the collection's objects
// read at the views' last cursor.
type taxiiServer struct {
	a      *App
	tlpMax TLP
	collID string

	mu   sync.Mutex
	cur  feedCursor
	objs []taxiiObject
	have bool
}

func newTAXIIServer(a *App, tlpMax TLP) *taxiiServer {
	id := stix.ID("x-noroshi-collection", a.store.Community().String()+"/indicators")
	_, uuid, _ := strings.Cut(id, "--")
	return &taxiiServer{a: a, tlpMax: tlpMax, collID: uuid}
}

// objects returns the collection's objects, sorted by date added, ID and
// version, read again when the views moved.
func (s *taxiiServer) objects() ([]taxiiObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.a.mu.RLock()
	cur := feedCursor{s.a.exportGen}
	s.a.mu.RUnlock()
	if s.have && cur == s.cur {
		return s.objs, nil
	}
	objs, err := s.a.taxiiObjects(s.tlpMax)
	if err != nil {
		return nil, err
	}
	if len(objs) > taxiiMaxObjects {
		objs = objs[:taxiiMaxObjects]
	}
	slices.SortFunc(objs, compareTAXII)
	s.cur, s.objs, s.have = cur, objs, true
	return objs, nil
}

func compareTAXII(x, y taxiiObject) int {
	if c := x.Added.Compare(y.Added); c != 0 {
		return c
	}
	if c := strings.Compare(x.ID, y.ID); c != 0 {
		return c
	}
	return x.Modified.Compare(y.Modified)
}

// taxiiTime formats a TAXII timestamp: UTC, to the millisecond.
func taxiiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// taxiiError writes a TAXII error message.
func taxiiError(w http.ResponseWriter, status int, title, desc string) {
	w.Header().Set("Content-Type", TAXIIMediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"title": title, "description": desc, "http_status": strconv.Itoa(status)})
}

func taxiiJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", TAXIIMediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, no-cache")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// acceptsTAXII reports whether an Accept header takes TAXII 2.1 JSON: no
// header, */*, application/*, or application/taxii+json with no version or
// version 2.1 (and a q above zero).
func acceptsTAXII(h []string) bool {
	if len(h) == 0 {
		return true
	}
	for _, line := range h {
		for _, part := range strings.Split(line, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if v, ok := params["version"]; !ok || v == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// ServeHTTP serves a TAXII request that showed a valid token.
func (s *taxiiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// parts[0] is "taxii2".
	route := ""
	var collID, objID string
	switch {
	case len(parts) == 1:
		route = "discovery"
	case parts[1] != taxiiRoot:
	case len(parts) == 2:
		route = "root"
	case len(parts) == 4 && parts[2] == "status":
		route = "status"
	case parts[2] != "collections":
	case len(parts) == 3:
		route = "collections"
	default:
		collID = parts[3]
		switch {
		case len(parts) == 4:
			route = "collection"
		case len(parts) == 5 && parts[4] == "objects":
			route = "objects"
		case len(parts) == 5 && parts[4] == "manifest":
			route = "manifest"
		case len(parts) == 6 && parts[4] == "objects":
			route, objID = "object", parts[5]
		case len(parts) == 7 && parts[4] == "objects" && parts[6] == "versions":
			route, objID = "versions", parts[5]
		}
	}
	if route == "" {
		taxiiError(w, http.StatusNotFound, "Not found", "no such TAXII resource: discovery is at /taxii2/")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if (route == "objects" && r.Method == http.MethodPost) || (route == "object" && r.Method == http.MethodDelete) {
			if collID == s.collID {
				taxiiError(w, http.StatusForbidden, "Read-only collection", "this collection cannot be written to (can_write is false): Noroshi's indicator feed is read-only")
				return
			}
			taxiiError(w, http.StatusNotFound, "Collection not found", "no collection "+strconv.Quote(collID))
			return
		}
		w.Header().Set("Allow", "GET, HEAD")
		taxiiError(w, http.StatusMethodNotAllowed, "Method not allowed", "this TAXII resource is read-only")
		return
	}
	if !acceptsTAXII(r.Header.Values("Accept")) {
		taxiiError(w, http.StatusNotAcceptable, "Not acceptable", "this server answers "+TAXIIMediaType)
		return
	}
	if collID != "" && collID != s.collID {
		taxiiError(w, http.StatusNotFound, "Collection not found", "no collection "+strconv.Quote(collID)+": the collections are listed at /taxii2/"+taxiiRoot+"/collections/")
		return
	}
	switch route {
	case "discovery":
		taxiiJSON(w, map[string]any{
			"title":       "Noroshi indicator feed",
			"description": "Indicators shared in a Noroshi community, marked " + s.tlpMax.Label() + " or less; read-only.",
			"default":     s.rootURL(r),
			"api_roots":   []string{s.rootURL(r)},
		})
	case "root":
		taxiiJSON(w, map[string]any{
			"title":              "Noroshi",
			"description":        "One read-only collection of this community's indicators and reports.",
			"versions":           []string{TAXIIMediaType},
			"max_content_length": 64 << 10,
		})
	case "status":
		taxiiError(w, http.StatusNotFound, "Status not found", "nothing is ever added to this read-only server")
	case "collections":
		taxiiJSON(w, map[string]any{"collections": []any{s.collection()}})
	case "collection":
		taxiiJSON(w, s.collection())
	default:
		s.serveObjects(w, r, route, objID)
	}
}

// rootURL is the API root's URL as the client reached the server.
func (s *taxiiServer) rootURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/?#@ \\\"") {
		host = "localhost"
	}
	return scheme + "://" + host + "/taxii2/" + taxiiRoot + "/"
}

func (s *taxiiServer) collection() map[string]any {
	return map[string]any{
		"id":          s.collID,
		"title":       "Noroshi indicators (" + s.tlpMax.Label() + " and below)",
		"description": "Reports and indicators of the posts this device shows, marked " + s.tlpMax.Label() + " or less; never TLP:RED, never exercises.",
		"can_read":    true,
		"can_write":   false,
		"media_types": []string{STIXMediaType},
	}
}

// taxiiQuery is a request's filters and page.
type taxiiQuery struct {
	addedAfter  time.Time
	limit       int
	after       *taxiiObject // from next
	ids, types  []string
	versions    []string // "last" (default), "first", "all" or timestamps
	specVersion []string
}

// parseTAXIIQuery reads the filters of an objects, manifest or versions
// request.
func parseTAXIIQuery(raw string) (taxiiQuery, error) {
	q := taxiiQuery{limit: taxiiDefaultPage}
	if len(raw) > 8<<10 {
		return q, fmt.Errorf("the query is longer than %d bytes", 8<<10)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("the query does not parse: %v", err)
	}
	list := func(k string) []string {
		var out []string
		for _, v := range vals[k] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" && len(out) < 100 {
					out = append(out, p)
				}
			}
		}
		return out
	}
	if v := vals.Get("added_after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, fmt.Errorf("added_after %q is not a timestamp such as 2016-02-01T00:00:01.000Z", v)
		}
		q.addedAfter = t
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit %q is not a positive number", v)
		}
		q.limit = min(n, taxiiMaxPage)
	}
	if v := vals.Get("next"); v != "" {
		after, err := decodeNext(v)
		if err != nil {
			return q, err
		}
		q.after = &after
	}
	q.ids, q.types, q.specVersion = list("match[id]"), list("match[type]"), list("match[spec_version]")
	q.versions = list("match[version]")
	for _, v := range q.versions {
		switch v {
		case "first", "last", "all":
		default:
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				return q, fmt.Errorf("match[version] %q: give first, last, all or a timestamp", v)
			}
		}
	}
	return q, nil
}

// encodeNext makes a page's next token: where the page ended.
func encodeNext(o taxiiObject) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%d|%s", o.Added.UnixNano(), o.Modified.UnixNano(), o.ID))
}

func decodeNext(s string) (taxiiObject, error) {
	bad := fmt.Errorf("next %q is not a token this server gave", s)
	if len(s) > 512 {
		return taxiiObject{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return taxiiObject{}, bad
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return taxiiObject{}, bad
	}
	added, err1 := strconv.ParseInt(parts[0], 10, 64)
	mod, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return taxiiObject{}, bad
	}
	return taxiiObject{ID: parts[2], Added: time.Unix(0, added), Modified: time.Unix(0, mod)}, nil
}

// matches reports whether an object passes the filters (not the page).
func (q *taxiiQuery) matches(o taxiiObject, objID string) bool {
	if objID != "" && o.ID != objID {
		return false
	}
	if !q.addedAfter.IsZero() && !o.Added.After(q.addedAfter) {
		return false
	}
	if len(q.ids) > 0 && !slices.Contains(q.ids, o.ID) {
		return false
	}
	if len(q.types) > 0 && !slices.Contains(q.types, o.Type) {
		return false
	}
	if len(q.specVersion) > 0 && !slices.Contains(q.specVersion, stix.SpecVersion) {
		return false
	}
	if len(q.versions) > 0 {
		ok := false
		for _, v := range q.versions {
			switch v {
			case "first", "last", "all":
				ok = true // one version of each object is held
			default:
				t, _ := time.Parse(time.RFC3339Nano, v)
				ok = ok || t.Equal(o.Modified)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// serveObjects answers the objects, object, versions and manifest routes.
func (s *taxiiServer) serveObjects(w http.ResponseWriter, r *http.Request, route, objID string) {
	q, err := parseTAXIIQuery(r.URL.RawQuery)
	if err != nil {
		taxiiError(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	objs, err := s.objects()
	if err != nil {
		s.a.cfg.Logf("indicator feed: TAXII objects: %v", err)
		taxiiError(w, http.StatusInternalServerError, "Internal error", "the collection could not be read; see the server's log")
		return
	}
	var page []taxiiObject
	more := false
	found := false
	for _, o := range objs {
		if !q.matches(o, objID) {
			continue
		}
		found = true
		if q.after != nil && compareTAXII(o, *q.after) <= 0 {
			continue
		}
		if len(page) == q.limit {
			more = true
			break
		}
		page = append(page, o)
	}
	if objID != "" && !found {
		taxiiError(w, http.StatusNotFound, "Object not found", "no object "+strconv.Quote(objID)+" in this collection (or none that passes the filters)")
		return
	}
	if len(page) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", taxiiTime(page[0].Added))
		w.Header().Set("X-TAXII-Date-Added-Last", taxiiTime(page[len(page)-1].Added))
	}
	out := map[string]any{"more": more}
	if more {
		out["next"] = encodeNext(page[len(page)-1])
	}
	switch route {
	case "objects", "object":
		if len(page) > 0 {
			raws := make([]json.RawMessage, len(page))
			for i, o := range page {
				raws[i] = o.JSON
			}
			out["objects"] = raws
		}
	case "manifest":
		if len(page) > 0 {
			recs := make([]map[string]string, len(page))
			for i, o := range page {
				recs[i] = map[string]string{"id": o.ID, "date_added": taxiiTime(o.Added), "version": stix.FormatTime(o.Modified), "media_type": STIXMediaType}
			}
			out["objects"] = recs
		}
	case "versions":
		if len(page) > 0 {
			vs := make([]string, len(page))
			for i, o := range page {
				vs[i] = stix.FormatTime(o.Modified)
			}
			out["versions"] = vs
		}
	}
	taxiiJSON(w, out)
}

// taxiiObjects reads the collection's objects at tlpMax: what STIXObjects
// exports (stixio.go).
func (a *App) taxiiObjects(tlpMax TLP) ([]taxiiObject, error) {
	objs, err := a.STIXObjects(STIXExportOptions{TLPMax: tlpMax})
	if err != nil {
		return nil, err
	}
	out := make([]taxiiObject, len(objs))
	for i, o := range objs {
		out[i] = taxiiObject{ID: o.ID, Type: o.Type, Added: o.Added, Modified: o.Modified, JSON: o.JSON}
	}
	return out, nil
}

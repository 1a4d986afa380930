package app

import (
	"testing"

	"noroshi/app/stix"
)

// FuzzSTIXImportMapping feeds the import's mapping (which objects become
// posts, with what title, TLP, body and indicators) any bundle: every post
// it drafts passes the draft checks, and nothing panics.
func FuzzSTIXImportMapping(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
{"type":"report","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","name":"【重要】R","object_refs":["indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"],"labels":["noroshi-type:malware"]},
{"type":"indicator","id":"indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2","pattern":"[ipv4-addr:value = '10.0.0.1'] OR [url:value = 'http://x.example/']","pattern_type":"stix","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
{"type":"relationship","id":"relationship--26ffb872-1dd9-446e-b6f5-d58527e5b5d3","source_ref":"indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2","target_ref":"malware--26ffb872-1dd9-446e-b6f5-d58527e5b5d4","relationship_type":"indicates"},
{"type":"malware","id":"malware--26ffb872-1dd9-446e-b6f5-d58527e5b5d4","name":"M","is_family":true},
{"type":"sighting","id":"sighting--26ffb872-1dd9-446e-b6f5-d58527e5b5d5","sighting_of_ref":"malware--26ffb872-1dd9-446e-b6f5-d58527e5b5d4","count":3},
{"type":"note","id":"note--26ffb872-1dd9-446e-b6f5-d58527e5b5d6","content":"c","object_refs":["report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3"]},
{"type":"ipv4-addr","id":"ipv4-addr--26ffb872-1dd9-446e-b6f5-d58527e5b5d7","value":"10.0.0.2"}]}`))
	f.Add([]byte(`{"type":"vulnerability","id":"vulnerability--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","name":"CVE","revoked":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := stix.Parse(b, stix.Limits{MaxBytes: 1 << 16, MaxObjects: 100, MaxObject: 1 << 14})
		if err != nil {
			return
		}
		im := newSTIXImport(doc.Objects)
		for _, root := range im.roots() {
			d, item, skip := im.draft(root, STIXImportOptions{})
			if skip {
				if item.Reason == "" {
					t.Fatalf("%s skipped without a reason", root.ID)
				}
				continue
			}
			if err := checkDraft(&d, 1<<20); err != nil {
				t.Fatalf("%s: draft refused: %v", root.ID, err)
			}
			if err := checkSource(d.Source); err != nil {
				t.Fatalf("%s: source refused: %v", root.ID, err)
			}
			if _, err := parseIndicators(d.Indicators); err != nil {
				t.Fatalf("%s: indicators refused: %v", root.ID, err)
			}
		}
		im.unused()
	})
}

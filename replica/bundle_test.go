package replica_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// writeBundle writes meta and envs as a bundle.
func writeBundle(t testing.TB, meta []byte, envs []*envelope.Envelope) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := replica.NewBundleWriter(&buf, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if err := bw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if bw.Count() != len(envs) {
		t.Errorf("Count: got %d, want %d", bw.Count(), len(envs))
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBundle reads a whole bundle; it stops at the first error.
func readBundle(b []byte) (meta []byte, envs []*envelope.Envelope, err error) {
	br, err := replica.NewBundleReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	for {
		e, err := br.Next()
		if err == io.EOF {
			return br.Meta, envs, nil
		}
		if err != nil {
			return br.Meta, envs, err
		}
		envs = append(envs, e)
	}
}

func encodings(t testing.TB, envs []*envelope.Envelope) []string {
	t.Helper()
	var out []string
	for _, e := range envs {
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestBundleRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	all := replicatest.Since(t, f.st)
	headerOnly := &envelope.Envelope{Header: all[len(all)-1].Header}
	tests := []struct {
		name string
		meta []byte
		envs []*envelope.Envelope
	}{
		{"empty", nil, nil},
		{"meta only", []byte(`{"type":"invite"}`), nil},
		{"envelopes", []byte("m"), all},
		{"header only", nil, []*envelope.Envelope{headerOnly}},
		{"largest meta", bytes.Repeat([]byte{7}, replica.MaxBundleMeta), all[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := writeBundle(t, tt.meta, tt.envs)
			meta, envs, err := readBundle(b)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(meta, tt.meta) {
				t.Errorf("meta: got %d bytes, want %d", len(meta), len(tt.meta))
			}
			got, want := encodings(t, envs), encodings(t, tt.envs)
			if strings.Join(got, "") != strings.Join(want, "") || len(got) != len(want) {
				t.Errorf("envelopes: got %d, want %d, or different bytes", len(got), len(want))
			}
			// Reading past the end keeps saying EOF.
			br, _ := replica.NewBundleReader(bytes.NewReader(b))
			for range len(tt.envs) {
				br.Next()
			}
			for range 2 {
				if _, err := br.Next(); err != io.EOF {
					t.Errorf("Next after the end: got %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestBundleWriterMetaTooLarge(t *testing.T) {
	if _, err := replica.NewBundleWriter(io.Discard, make([]byte, replica.MaxBundleMeta+1)); err == nil {
		t.Error("NewBundleWriter with too much metadata: got no error")
	}
}

// TestBundleImport: a store that imports another's bundle holds the same
// set, and importing it again changes nothing.
func TestBundleImport(t *testing.T) {
	f := newFixture(t, nil)
	replicatest.MustAdmit(t, f.st, f.alice.Post("alice 2"), f.bob.PostTo("to alice", f.alice))
	b := writeBundle(t, nil, replicatest.Since(t, f.st))
	_, envs, err := readBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	st := replicatest.Open(t, replicatest.Config(t, f.alice.ID(), f.clock.Now))
	replicatest.MustAdmit(t, st, envs...)
	if replicatest.Snap(t, st) != replicatest.Snap(t, f.st) {
		t.Errorf("imported store differs from the exporter")
	}
	res := replicatest.Add(t, st, envs...)
	if res.Duplicates != len(envs) || len(res.Admitted) != 0 {
		t.Errorf("second import: got %d duplicates, %d admitted; want %d and 0", res.Duplicates, len(res.Admitted), len(envs))
	}
}

func TestBundleTruncated(t *testing.T) {
	f := newFixture(t, nil)
	b := writeBundle(t, []byte("meta"), f.base[5:]) // two posts
	for n := 0; n < len(b); n++ {
		if _, _, err := readBundle(b[:n]); err == nil {
			t.Fatalf("bundle cut to %d of %d bytes: got no error", n, len(b))
		}
	}
	if _, _, err := readBundle(b); err != nil {
		t.Fatalf("whole bundle: %v", err)
	}
}

func TestBundleBad(t *testing.T) {
	f := newFixture(t, nil)
	good := writeBundle(t, nil, f.base[:1])
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	magic := []byte("noroshi-bundle\n")
	tests := []struct {
		name    string
		b       []byte
		wantErr string
		notBund bool
	}{
		{"empty", nil, "not a Noroshi bundle", true},
		{"other file", []byte("age-encryption.org/v1\n-> X25519"), "not a Noroshi bundle", true},
		{"newer version", cat(magic, u32(2), u32(0), u32(0)), "upgrade Noroshi", false},
		{"meta too large", cat(magic, u32(1), u32(replica.MaxBundleMeta+1)), "metadata of", true},
		{"meta truncated", cat(magic, u32(1), u32(1000), []byte("short")), "truncated metadata", true},
		{"envelope too large", cat(magic, u32(1), u32(0), u32(replica.MaxEnvelope+1)), "at most", false},
		{"envelope length beyond the end", cat(magic, u32(1), u32(0), u32(replica.MaxEnvelope)), "truncated", false},
		{"garbage envelope", cat(magic, u32(1), u32(0), u32(3), []byte{1, 2, 3}, u32(0)), "malformed", false},
		{"no end marker", good[:len(good)-4], "no end marker", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readBundle(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, tt.wantErr)
			}
			if got := errors.Is(err, replica.ErrNotBundle); got != tt.notBund {
				t.Errorf("errors.Is(err, ErrNotBundle): got %v, want %v", got, tt.notBund)
			}
		})
	}
}

// FuzzBundleReader reads anything as a bundle: no panic, memory in
// proportion to the input however large the lengths it claims, and what
// reads cleanly writes back to the same bytes.
func FuzzBundleReader(f *testing.F) {
	c := replicatest.New(f, "fuzz")
	d, m := c.Join("member", "centre", "member")
	envs := []*envelope.Envelope{c.Genesis, m, d.Post("hello"), {Header: d.Post("header only").Header}}
	good := writeBundle(f, []byte(`{"v":1}`), envs)
	f.Add(good)
	f.Add(writeBundle(f, nil, nil))
	f.Add(good[:len(good)/2])
	f.Add([]byte("noroshi-bundle\n\x00\x00\x00\x01\x00\x10\x00\x00"))
	f.Add([]byte("noroshi-bundle\n\x00\x00\x00\x01\x00\x00\x00\x00\x00\x40\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		meta, envs, err := readBundle(b)
		runtime.ReadMemStats(&after)
		// The reader's own buffer, then about twice what it read, at most.
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(b)+256<<10); n > limit {
			t.Errorf("reading %d bytes allocated %d bytes, more than %d", len(b), n, limit)
		}
		if err != nil {
			return
		}
		again := writeBundle(t, meta, envs)
		if !bytes.HasPrefix(b, again) {
			t.Errorf("a bundle read cleanly does not write back to its own bytes")
		}
	})
}

func TestSectionsRoundTrip(t *testing.T) {
	for _, secs := range [][][]byte{
		{[]byte("a")},
		{[]byte("trust"), bytes.Repeat([]byte{9}, 70000)},
		slices.Repeat([][]byte{{1, 2}}, replica.MaxSections),
	} {
		b, err := replica.AppendSections([]byte("keep"), secs...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("keep")) || !replica.IsSectioned(b[4:]) {
			t.Fatalf("AppendSections did not append a sectioned file")
		}
		got, err := replica.ReadSections(b[4:])
		if err != nil {
			t.Fatalf("read %d sections: %v", len(secs), err)
		}
		if len(got) != len(secs) {
			t.Fatalf("got %d sections, want %d", len(got), len(secs))
		}
		for i := range secs {
			if !bytes.Equal(got[i], secs[i]) {
				t.Errorf("section %d: got %d bytes, want %d", i, len(got[i]), len(secs[i]))
			}
		}
	}
	for _, secs := range [][][]byte{nil, {{}}, slices.Repeat([][]byte{{1}}, replica.MaxSections+1)} {
		if _, err := replica.AppendSections(nil, secs...); err == nil {
			t.Errorf("AppendSections of %d sections (first empty: %v): got no error", len(secs), len(secs) > 0 && len(secs[0]) == 0)
		}
	}
}

func TestSectionsBad(t *testing.T) {
	good, err := replica.AppendSections(nil, []byte("trust"), []byte("records"))
	if err != nil {
		t.Fatal(err)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	magic := []byte("noroshi-sealed-bundle\n")
	tests := []struct {
		name    string
		b       []byte
		wantErr string
		notBund bool
	}{
		{"empty", nil, "not a Noroshi bundle", true},
		{"age file (format 1)", []byte("age-encryption.org/v1\n-> X25519"), "not a Noroshi bundle", true},
		{"magic only", magic, "truncated header", true},
		{"newer version", cat(magic, u32(3), u32(1), u64(1), []byte{1}), "bundle file format 3, this program reads 1 and 2: upgrade Noroshi", false},
		{"no sections", cat(magic, u32(2), u32(0)), "0 sections", true},
		{"too many sections", cat(magic, u32(2), u32(replica.MaxSections+1)), "sections, 1 to", true},
		{"empty section", cat(magic, u32(2), u32(1), u64(0)), "is empty", false},
		{"length beyond the end", cat(magic, u32(2), u32(1), u64(1<<62), []byte{1}), "truncated in section 1 of 1", false},
		{"missing section", cat(magic, u32(2), u32(2), u64(1), []byte{1}), "truncated in section 2 of 2", false},
		{"trailing bytes", append(bytes.Clone(good), 0), "1 bytes after the last section", true},
		{"cut", good[:len(good)-1], "truncated", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := replica.ReadSections(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, tt.wantErr)
			}
			if got := errors.Is(err, replica.ErrNotBundle); got != tt.notBund {
				t.Errorf("errors.Is(err, ErrNotBundle): got %v, want %v", got, tt.notBund)
			}
		})
	}
}

// FuzzSections reads anything as a sectioned bundle file: no panic, no
// allocation beyond the list of sections however large the lengths it
// claims, and what reads cleanly writes back to the same bytes.
func FuzzSections(f *testing.F) {
	good, err := replica.AppendSections(nil, []byte("trust"), []byte("records"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("noroshi-sealed-bundle\n\x00\x00\x00\x02\x00\x00\x00\x10\xff\xff\xff\xff\xff\xff\xff\xff"))
	// (What reading allocates is bounded by MaxSections, whatever the
	// declared lengths: TestSectionsAllocationBounded checks it. Measuring allocations
	// here would count the fuzzing engine's own.)
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := replica.ReadSections(b)
		if err != nil {
			return
		}
		again, err := replica.AppendSections(nil, secs...)
		if err != nil {
			t.Fatalf("sections read cleanly do not write: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("a file read cleanly does not write back to its own bytes")
		}
	})
}

// TestSectionsAllocationBounded: a file that declares huge sections costs
// what MaxSections allows to read it, not what it declares. It counts bytes,
// not allocations: the count is process-wide, and goroutines left by other
// tests allocate too, so the bound is far below what a copy would cost and
// far above what anything else allocates in the meantime.
func TestSectionsAllocationBounded(t *testing.T) {
	const declared = 64 << 20 // each section claims 64 MiB; the file holds 8 bytes of each
	evil := []byte("noroshi-sealed-bundle\n\x00\x00\x00\x02\x00\x00\x00\x10")
	for range 16 {
		evil = binary.BigEndian.AppendUint64(evil, declared)
		evil = append(evil, "8 bytes."...)
	}
	good, err := replica.AppendSections(nil, []byte("trust"), []byte("records"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"huge lengths": evil, "good": good} {
		var before, after runtime.MemStats
		const runs = 20
		runtime.ReadMemStats(&before)
		for range runs {
			replica.ReadSections(b)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > declared/16 {
			t.Errorf("%s: reading allocates %d bytes a time, want far less than the %d one section declares (no copy of what it declares)", name, per, declared)
		}
	}
}

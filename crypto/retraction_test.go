package crypto_test

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

func TestRetractionRoundTrip(t *testing.T) {
	r := &crypto.Retraction{Target: envelope.Hash(sha256.Sum256([]byte("target"))), SealedReason: []byte("sealed")}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := crypto.DecodeRetraction(b)
	if err != nil {
		t.Fatalf("DecodeRetraction: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("decoded %+v, want %+v", got, r)
	}
	if _, err := (&crypto.Retraction{}).Encode(); err == nil {
		t.Errorf("Encode without a target: got no error")
	}
}

func TestDecodeRetractionStrict(t *testing.T) {
	target := strings.Repeat("ab", 32)
	good := `{"v":1,"target":"` + target + `"}`
	if _, err := crypto.DecodeRetraction([]byte(good)); err != nil {
		t.Fatalf("DecodeRetraction(%s): %v", good, err)
	}
	tests := []struct{ name, b, want string }{
		{"empty", "", "retraction"},
		{"unknown field", `{"v":1,"target":"` + target + `","why":"x"}`, "unknown field"},
		{"version 2", `{"v":2,"target":"` + target + `"}`, "upgrade"},
		{"no target", `{"v":1}`, "without a target"},
		{"zero target", `{"v":1,"target":"` + strings.Repeat("0", 64) + `"}`, "without a target"},
		{"short target", `{"v":1,"target":"abcd"}`, "hash"},
		{"trailing brace", good + "}", "trailing"},
		{"trailing object", good + "{}", "trailing"},
		{"too large", good + strings.Repeat(" ", 64<<10), "at most"},
	}
	for _, tt := range tests {
		r, err := crypto.DecodeRetraction([]byte(tt.b))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %+v, %v; want an error containing %q", tt.name, r, err, tt.want)
		}
	}
}

func FuzzDecodeRetraction(f *testing.F) {
	f.Add([]byte(`{"v":1,"target":"` + strings.Repeat("ab", 32) + `","sealed_reason":"AAEC"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := crypto.DecodeRetraction(b)
		if err != nil {
			return
		}
		b2, err := r.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded retraction: %v", err)
		}
		// An empty reason and no reason are the same retraction.
		r2, err := crypto.DecodeRetraction(b2)
		if err != nil || r2.V != r.V || r2.Target != r.Target || !bytes.Equal(r2.SealedReason, r.SealedReason) {
			t.Errorf("decode-encode-decode: got %+v, %v; want %+v", r2, err, r)
		}
	})
}

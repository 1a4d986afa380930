package crypto

import (
	"bytes"
	"crypto/rand"
	"testing"
)

func TestViewKeySealOpen(t *testing.T) {
	d, err := NewDevice(rand.Reader, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	k, sealed, err := NewViewKey(rand.Reader, d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, k.term) {
		t.Fatal("sealed view key holds the raw term key")
	}
	k2, err := d.OpenViewKey(sealed)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Seal(rand.Reader, []byte("rec/1"), []byte("Phishing against ticketing"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(v, []byte("Phishing")) {
		t.Fatal("sealed value holds the plaintext")
	}
	got, err := k2.Open([]byte("rec/1"), v)
	if err != nil || string(got) != "Phishing against ticketing" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := k2.Open([]byte("rec/2"), v); err != ErrViewSeal {
		t.Fatalf("open under another key: %v, want ErrViewSeal", err)
	}
	v[len(v)-1] ^= 1
	if _, err := k2.Open([]byte("rec/1"), v); err != ErrViewSeal {
		t.Fatalf("open of a changed value: %v, want ErrViewSeal", err)
	}
	if k.Term("phish") != k2.Term("phish") || k.Term("phish") == k.Term("phisH") {
		t.Fatal("terms: equal terms must hash equal, different ones differ")
	}
	other, _ := NewDevice(rand.Reader, "other")
	if _, err := other.OpenViewKey(sealed); err == nil {
		t.Fatal("another device opened this device's view key")
	}
	k3, _, _ := NewViewKey(rand.Reader, d)
	if k3.Term("phish") == k.Term("phish") {
		t.Fatal("two view keys give the same term hash")
	}
}

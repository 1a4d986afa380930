package crypto_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

func ExampleNewDevice() {
	d, err := crypto.NewDevice(rand.Reader, "Sakura Watanabe")
	if err != nil {
		log.Fatal(err)
	}
	// Protect it with a passphrase. Real key files use DefaultWorkFactor;
	// this example uses a low one to run fast.
	var file bytes.Buffer
	if err := crypto.WriteKeyFile(&file, d, "correct horse battery staple", 10, time.Now()); err != nil {
		log.Fatal(err)
	}
	back, err := crypto.ReadKeyFile(&file, "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.ID() == d.ID(), back.Name)
	fmt.Println(len(d.ID().String()), d.Public().Recipient[:7])
	// Output:
	// true Sakura Watanabe
	// 64 age1pq1
}

func ExampleDevice_Seal() {
	alice, _ := crypto.NewDevice(rand.Reader, "Alice")
	bob, _ := crypto.NewDevice(rand.Reader, "Bob")
	communityKey, _ := crypto.NewGroupKey(rand.Reader)
	var community envelope.Hash // the genesis header's ID

	// A post for the whole community and, in person, for Bob's device.
	aud := crypto.Audience{
		Groups:  []crypto.GroupKey{communityKey},
		Devices: []crypto.PublicDevice{bob.Public()},
	}
	e, err := alice.Seal(rand.Reader, community, crypto.Position{Seq: 1}, 1, aud, []byte("TLP:GREEN phishing wave"))
	if err != nil {
		log.Fatal(err)
	}
	// The header says for whom, without names: epochs and recipient tags.
	fmt.Println(e.Header.Class, len(e.Header.Epochs), len(e.Header.Recipients))
	fmt.Println(crypto.Verify(e.Header), crypto.CheckPayload(e.Header, e.Payload))
	// Output:
	// sealed 1 1
	// <nil> <nil>
}

func ExampleOpen() {
	alice, _ := crypto.NewDevice(rand.Reader, "Alice")
	bob, _ := crypto.NewDevice(rand.Reader, "Bob")
	carol, _ := crypto.NewDevice(rand.Reader, "Carol")
	orgKey, _ := crypto.NewGroupKey(rand.Reader)
	var community envelope.Hash

	// TLP:RED, to Bob's device only.
	red, err := alice.Seal(rand.Reader, community, crypto.Position{Seq: 1}, 1,
		crypto.Audience{Devices: []crypto.PublicDevice{bob.Public()}}, []byte("for Bob only"))
	if err != nil {
		log.Fatal(err)
	}

	// A receiver verifies the header and the payload first, then opens with
	// every key it holds: its own identity and its keyring of group keys.
	if err := crypto.Verify(red.Header); err != nil {
		log.Fatal(err)
	}
	if err := crypto.CheckPayload(red.Header, red.Payload); err != nil {
		log.Fatal(err)
	}
	keys := crypto.NewKeyring()
	keys.Add(orgKey)

	plain, err := crypto.Open(red, bob.Identity(), keys)
	fmt.Printf("Bob: %q %v\n", plain, err)

	_, err = crypto.Open(red, carol.Identity(), keys)
	fmt.Println("Carol:", errors.Is(err, crypto.ErrNotForMe))
	// Output:
	// Bob: "for Bob only" <nil>
	// Carol: true
}

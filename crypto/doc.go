// Package crypto owns every key and every cryptographic decision in Noroshi:
// device identities and their passphrase-protected key files, trust
// certificates (genesis, membership, revocation, key grants), symmetric group
// keys and their epochs, sealing and opening payloads with age, and signing and
// verifying envelope headers.
//
// Start with Device (one per machine: an ed25519 signing key and an age hybrid
// post-quantum identity), WriteKeyFile and ReadKeyFile. Then Sign and Verify
// for headers, Seal and Open for payloads, and the certificate types in
// cert.go.
//
// Two rules hold everywhere:
//
//   - Headers carry no plaintext: only keys' IDs, keyed hashes of recipients,
//     sizes and hashes. A relay can check every header and certificate without
//     being able to read a single sealed payload.
//   - A sealed payload binds its author and chain position (author, sequence,
//     previous header), so a ciphertext copied under another header fails to
//     open.
//
// This package imports only the standard library, golang.org/x/crypto, age
// and crypto/envelope. It must never import replica, app, gui or cmd.
package crypto

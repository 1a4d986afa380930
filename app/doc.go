// Package app is Noroshi's domain and its use cases: communities,
// organisations, members and roles, posts with tags, TLP and scopes,
// comments, read receipts, bookmarks, attachments, incidents, contacts, and
// the demo community. Frontends (the CLI, the GUI) call App's methods and
// show what they return; no rule lives in a frontend.
//
// Views are a function of the set of envelopes: App folds every envelope the
// store holds into in-memory views, whatever order they arrived in, so two
// devices holding the same set show the same state. Records are sealed before
// they reach the store; the bbolt file holds no plaintext title or body, and
// decrypted views live only in memory.
//
// Rules that hold here:
//
//   - TLP is enforced by sealing, not by filtering: RED is sealed only to the
//     named people's devices; AMBER+STRICT only to the named organisations'
//     keys; CLEAR, GREEN and AMBER to the community key or to the keys of the
//     chosen organisations and people. A device without the key cannot open
//     the payload at all.
//   - Single-author records are last-writer-wins by hybrid logical clock;
//     incident status is last-writer-wins with every update kept in the
//     timeline; reads are an add-only set.
//   - Bookmarks are local to the device and never replicated.
//
// This package imports replica and crypto. It must never import Fyne, gui or
// cmd.
package app

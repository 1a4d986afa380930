// Package replica owns the replicated set of envelopes: the bbolt-backed log
// of every envelope this device holds, the admission rules every envelope
// passes before it is stored, and the per-author index (version vector and
// digest) that replication compares. Later: gossip, anti-entropy, discovery,
// bundles.
//
// It knows nothing of posts, incidents or any other domain record: a sealed
// payload is opaque bytes here. It knows certificates (package crypto), since
// admission depends on who is a member.
//
// # Invariants
//
//   - Every stored header verified, chains to the genesis through a membership,
//     and continues its author's chain (no gaps: an envelope whose predecessor
//     or membership is missing waits in memory until they arrive).
//   - Every stored payload matches its header's hash and size. A payload this
//     device may not hold (individually addressed to other devices), or whose
//     envelope was retracted, is not stored; the header is.
//   - After a revocation, nothing of the revoked device after its last valid
//     sequence number stays, nor anything that depended on it.
//   - One goroutine writes; callers' writes are grouped into one bbolt commit.
//
// # Storage layout (format version 1)
//
//	meta      "format" -> u32; "community" -> genesis ID
//	log       local seq u64 -> header ID              (FillPercent 1.0)
//	headers   header ID -> local seq u64 || header encoding
//	payloads  header ID -> payload
//	chains    author [32] || seq u64 -> header ID
//	authors   author [32] -> seq u64 || head header ID  (the version vector)
//	certs     local seq u64 -> header ID of a certificate envelope
//	retracted target header ID -> retraction header ID
//	forks     header ID -> header encoding (equivocation evidence)
//	refusals  reason -> u64 count
//	local     opaque key -> value, for the owner of this store; never replicated
//
// This package imports crypto and crypto/envelope; it must never import app,
// gui or cmd.
package replica

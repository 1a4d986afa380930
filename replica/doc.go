// Package replica owns the replicated set of envelopes: the bbolt-backed log
// of every envelope this device holds, the admission rules every envelope
// passes before it is stored, the per-author index (version vector and
// digest) that replication compares, and the replication itself: the gossip
// node (gossip.go and the files it names: peers, strikes, announcements,
// anti-entropy, memberlist delegates), the sync protocol (sync.go, its
// frames in syncframes.go) and bundles. LAN discovery is package
// replica/lan. The store publishes one change signal (Store.Changed) that
// the views in app and the node's announcements follow; it keeps view
// buckets for app (views.go) without reading them.
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
//     What needs nothing stored (signatures, payload hashes, decoding) is
//     checked in the caller's goroutine, before the writer sees it.
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
//	wanted    header ID -> nil: held without a payload this device may hold
//
// # LAN discovery (mDNS)
//
// With NodeConfig.MDNS (on in `noroshi serve` and the app, off by default
// here), a node advertises the DNS-SD service _noroshi._udp on its local
// network and queries for it, joining the gossip of the peers it finds
// (package replica/lan has the details and the record formats).
//
// What this reveals to anyone on the LAN: that a Noroshi node runs on this
// machine, its IPv4 address and gossip port, a random instance name (new at
// each start) and a random nonce with a community tag, the first 8 bytes of
// HMAC-SHA256(transport key, "noroshi/mdns/v1" || nonce). The community ID,
// the device ID, the organisation and the host name are not advertised.
// Without the transport key, the tag tells nothing: not which community,
// nor whether two nodes belong to the same one, nor that a node seen after
// a restart is the one seen before (its address and MAC still may). The
// gossip port itself answers only those who hold the transport key.
// `serve --no-mdns` turns it off.
//
// This package imports crypto and crypto/envelope; it must never import app,
// gui or cmd.
package replica

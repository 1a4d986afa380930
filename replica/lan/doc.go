// Package lan finds the peers of this device's community on the local
// network, by mDNS (DNS-SD): it advertises this node's gossip port under
// the service _noroshi._udp and joins the peers it hears that hold one of
// the community's transport keys.
//
// It owns the mDNS records, their parsing (bounded, never fatal) and the
// join policy; the gossip node (package replica) starts one Discoverer and
// hands it the transport keys and a join function (see Config). It must
// never import any package of Noroshi (replica, crypto, app, gui, cmd) nor
// memberlist: what it knows of a community is a list of keys.
//
// # Records
//
// A Discoverer advertises on every selected interface (one hashicorp/mdns
// responder per interface, so that queries are heard on each), and queries
// from a socket of its own: one query per interface, with the
// unicast-response bit set and a multicast TTL of 1, so that nothing leaves
// the link. It then reads the answers for a short while (at most a second)
// and joins the peers of this community that are not members yet.
//
// An answer holds, for a random instance name (new at each start):
//
//	PTR  _noroshi._udp.local.            -> <instance>._noroshi._udp.local.
//	SRV  <instance>._noroshi._udp.local. -> <instance>.local. : gossip port
//	A    <instance>.local.               -> IPv4 addresses of the interface
//	TXT  <instance>._noroshi._udp.local. -> "v=1" "n=<nonce>" "t=<tag>"
//
// nonce is 8 random bytes (new at each start) and tag the first 8 bytes of
// HMAC-SHA256(transport key, "noroshi/mdns/v1" || nonce), both in hex. The
// tag is made with the primary transport key and checked against every
// transport key held (so peers that missed a rotation are still found
// during the grace period). Answers whose tag matches none are counted as
// foreign and ignored.
//
// A peer is joined at the source address of its answer (the address that
// reached this device), with the SRV port; the A records are used only
// when they do not list that source, and then only addresses on one of
// this device's own networks. Everything read from the network is bounded:
// packet size, records per packet, TXT fields, instances and answers per
// round, addresses per instance, joins per round, and the tables of failed
// and recent joins. A bad answer is counted (Stats.Malformed) and dropped.
//
// Queries are sent every Config.Interval (with ±20% jitter) while the node
// is alone; once it has peers, the interval doubles up to 12 times the
// base: a newcomer finds the others by its own queries, and memberlist
// tells every member about it.
//
// # What it reveals
//
// To anyone on the LAN: that a Noroshi node runs on this machine, its IPv4
// address and gossip port, a random instance name and a random nonce with
// the community tag. The community ID, the device ID, the organisation and
// the host name are not advertised. Without the transport key, the tag
// tells nothing: not which community, nor whether two nodes belong to the
// same one, nor that a node seen after a restart is the one seen before
// (its address and MAC still may). The gossip port itself answers only
// those who hold the transport key.
package lan

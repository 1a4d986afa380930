package app

import (
	"noroshi/crypto"
)

// AssetsRecord is an organisation's whole register of public assets
// (domains, URLs, address ranges), sealed to the organisation and the
// coordinators; the latest by clock wins. Its organisation's admins and the
// coordinators write it.
type AssetsRecord struct {
	Org     crypto.ID16  `json:"org"`
	Entries []AssetEntry `json:"entries"`
}

// AssetEntry is one registered asset.
type AssetEntry struct {
	Kind  AssetKind `json:"kind"`
	Value string    `json:"value"`
	Note  string    `json:"note,omitempty"`
}

// AssetKind is what an asset entry names.
type AssetKind string

// Asset kinds: a domain (and its subdomains), a URL (its host and path),
// an address range in CIDR notation (an address alone is a /32 or /128).
const (
	AssetDomain AssetKind = "domain"
	AssetURL    AssetKind = "url"
	AssetCIDR   AssetKind = "cidr"
)

type assetsState struct {
	rec *AssetsRecord
	meta
}

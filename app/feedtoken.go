package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"noroshi/replica"
)

// Feed tokens are the bearer tokens a firewall, a proxy or a TAXII client
// shows to the indicator feed (indicatorfeed.go). They are device-local:
// kept in the store's local values (never replicated, and not sealed: each
// record, its label and the token's hash, is in clear in the store file),
// and only a SHA-256 hash of each token is kept at all: the token itself
// is shown once, when it is made. A token is 32 random bytes, so a plain
// hash is enough (there is nothing to guess), and the hash is no secret:
// it is kept in clear, so that the tokens outlive a rebuild of the views
// (and their view key). The labels name the clients (a firewall's name),
// in clear too.
//
//	local  "feedtoken/" id -> JSON feedTokenRec

// localFeedToken is the prefix of feed tokens in the store's local values.
const localFeedToken = "feedtoken/"

// Budgets of feed tokens.
const (
	MaxFeedTokens     = 100
	MaxFeedTokenLabel = 100
)

// feedTokenPrefix starts every feed token, so that one found in a log or a
// configuration file says what it is.
const feedTokenPrefix = "noroshi-feed-"

// FeedTokenInfo describes a feed token, never the token itself.
type FeedTokenInfo struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

type feedTokenRec struct {
	Label   string    `json:"label"`
	Hash    string    `json:"hash"` // hex SHA-256 of the token
	Created time.Time `json:"created"`
}

// CreateFeedToken makes a new bearer token for the indicator feed, labelled
// (a firewall's name, say; a label is made up when empty), and returns it.
// It is shown only now: only its hash is kept.
func (a *App) CreateFeedToken(label string) (string, error) {
	label = strings.TrimSpace(label)
	if len(label) > MaxFeedTokenLabel || strings.IndexFunc(label, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("%w: feed token label %q: at most %d printable characters", ErrInvalid, label, MaxFeedTokenLabel)
	}
	toks, err := a.feedTokens()
	if err != nil {
		return "", err
	}
	if len(toks) >= MaxFeedTokens {
		return "", fmt.Errorf("%w: %d feed tokens already: revoke one first", ErrTooLarge, len(toks))
	}
	for _, t := range toks {
		if label != "" && strings.EqualFold(t.Label, label) {
			return "", fmt.Errorf("%w: a feed token labelled %q exists (ID %s): choose another label, or revoke it first", ErrInvalid, label, t.ID)
		}
	}
	var idb [4]byte
	var secret [32]byte
	if _, err := io.ReadFull(a.cfg.Rand, idb[:]); err != nil {
		return "", fmt.Errorf("feed token: %w", err)
	}
	if _, err := io.ReadFull(a.cfg.Rand, secret[:]); err != nil {
		return "", fmt.Errorf("feed token: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	if label == "" {
		label = "token-" + id
	}
	token := feedTokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(token))
	rec := feedTokenRec{Label: label, Hash: hex.EncodeToString(sum[:]), Created: a.cfg.Now().UTC()}
	plain, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if err := a.store.PutLocal(replica.LocalOp{Key: localFeedToken + id, Value: plain}); err != nil {
		return "", fmt.Errorf("store feed token: %w", err)
	}
	return token, nil
}

// RevokeFeedToken removes a feed token, named by its ID or its label: the
// next request that shows it is refused.
func (a *App) RevokeFeedToken(idOrLabel string) (FeedTokenInfo, error) {
	q := strings.TrimSpace(idOrLabel)
	toks, err := a.feedTokens()
	if err != nil {
		return FeedTokenInfo{}, err
	}
	var found []feedToken
	for _, t := range toks {
		if t.ID == strings.ToLower(q) {
			found = []feedToken{t}
			break
		}
		if q != "" && strings.EqualFold(t.Label, q) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return FeedTokenInfo{}, fmt.Errorf("%w: no feed token %q: give the ID or label of one that is listed", ErrNotFound, idOrLabel)
	case 1:
	default:
		return FeedTokenInfo{}, fmt.Errorf("%w: %d feed tokens are labelled %q: give the ID", ErrAmbiguous, len(found), idOrLabel)
	}
	if err := a.store.PutLocal(replica.LocalOp{Key: localFeedToken + found[0].ID}); err != nil {
		return FeedTokenInfo{}, fmt.Errorf("revoke feed token: %w", err)
	}
	return found[0].FeedTokenInfo, nil
}

// FeedTokens lists the feed tokens, oldest first.
func (a *App) FeedTokens() []FeedTokenInfo {
	toks, _ := a.feedTokens()
	out := make([]FeedTokenInfo, len(toks))
	for i, t := range toks {
		out[i] = t.FeedTokenInfo
	}
	return out
}

type feedToken struct {
	FeedTokenInfo
	hash [sha256.Size]byte
}

// feedTokens reads the stored tokens, oldest first. A value that does not
// parse is skipped.
func (a *App) feedTokens() ([]feedToken, error) {
	var out []feedToken
	for k, v := range a.store.LocalWithPrefix(localFeedToken) {
		var rec feedTokenRec
		if json.Unmarshal(v, &rec) != nil {
			continue
		}
		h, err := hex.DecodeString(rec.Hash)
		if err != nil || len(h) != sha256.Size {
			continue
		}
		t := feedToken{FeedTokenInfo: FeedTokenInfo{ID: strings.TrimPrefix(k, localFeedToken), Label: rec.Label, Created: rec.Created}}
		copy(t.hash[:], h)
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y feedToken) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out, nil
}

// CheckFeedToken reports whether token is a feed token this device made
// and did not revoke, and which.
func (a *App) CheckFeedToken(token string) (FeedTokenInfo, bool) { return a.checkFeedToken(token) }

// checkFeedToken reports which token a request showed, comparing its hash
// with every stored hash in constant time (the comparison of each does
// not depend on where they differ; all are compared).
func (a *App) checkFeedToken(token string) (FeedTokenInfo, bool) {
	if token == "" || len(token) > 200 {
		return FeedTokenInfo{}, false
	}
	toks, err := a.feedTokens()
	if err != nil {
		return FeedTokenInfo{}, false
	}
	sum := sha256.Sum256([]byte(token))
	var who FeedTokenInfo
	ok := 0
	for _, t := range toks {
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 {
			who, ok = t.FeedTokenInfo, 1
		}
	}
	return who, ok == 1
}

package app

import (
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search as you type goes through a signature index: each post's feed entry
// carries a Bloom filter of the keyed hashes (see crypto.ViewKey.Term) of
// its terms, and a query walks the feed newest first, opening only the
// posts whose signature holds every term of the query, until the page is
// full. A post's terms are the prefixes of its words (so "phi" finds
// "phishing" while it is typed) and the characters and character pairs of
// its Japanese (or other unspaced) text, from its title, body, indicators
// and author's name. A signature answers "maybe" or "no": every "maybe" is
// checked against the opened post, so a false positive costs one opening
// and never shows a wrong result.

const (
	// maxPrefix bounds the word prefixes indexed: a longer query word is
	// looked up by its first maxPrefix characters, then checked in full.
	maxPrefix = 12
	// sigHashes is the number of bits each term sets.
	sigHashes = 4
	// sigBitsPerTerm sizes a signature: about 1% false positives per term.
	sigBitsPerTerm = 10
	minSigBytes    = 16
	maxSigBytes    = 4096
)

// unspaced reports whether r belongs to a script written without spaces
// between words, indexed by characters and character pairs.
func unspaced(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai)
}

// wordRune reports whether r is part of a word of a spaced script.
func wordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !unspaced(r)
}

// indexTerms returns the distinct terms under which text is found: every
// prefix of each word (up to maxPrefix runes), each character and each
// pair of adjacent characters of unspaced runs.
func indexTerms(text string, into map[string]struct{}) {
	text = strings.ToLower(text)
	for len(text) > 0 {
		r, n := utf8.DecodeRuneInString(text)
		switch {
		case wordRune(r):
			end := n
			for end < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[end:])
				if !wordRune(r2) {
					break
				}
				end += n2
			}
			word := text[:end]
			runes := 0
			for i := range word {
				if runes > 0 {
					into["w"+word[:i]] = struct{}{}
				}
				runes++
				if runes > maxPrefix {
					break
				}
			}
			if runes <= maxPrefix {
				into["w"+word] = struct{}{}
			}
			text = text[end:]
		case unspaced(r):
			end := n
			for end < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[end:])
				if !unspaced(r2) {
					break
				}
				end += n2
			}
			run := []rune(text[:end])
			for i := range run {
				into["c"+string(run[i])] = struct{}{}
				if i+1 < len(run) {
					into["c"+string(run[i:i+2])] = struct{}{}
				}
			}
			text = text[end:]
		default:
			text = text[n:]
		}
	}
}

// queryTerms returns the terms a post must hold to match query q: each
// word's prefix (up to maxPrefix runes), and the pairs (or the single
// character) of each unspaced run.
func queryTerms(q string) []string {
	var out []string
	q = strings.ToLower(q)
	for len(q) > 0 {
		r, n := utf8.DecodeRuneInString(q)
		switch {
		case wordRune(r):
			end := n
			for end < len(q) {
				r2, n2 := utf8.DecodeRuneInString(q[end:])
				if !wordRune(r2) {
					break
				}
				end += n2
			}
			// Past maxPrefix runes, the rest is checked on the opened post.
			word := []rune(q[:end])
			out = append(out, "w"+string(word[:min(len(word), maxPrefix)]))
			q = q[end:]
		case unspaced(r):
			end := n
			for end < len(q) {
				r2, n2 := utf8.DecodeRuneInString(q[end:])
				if !unspaced(r2) {
					break
				}
				end += n2
			}
			run := []rune(q[:end])
			if len(run) == 1 {
				out = append(out, "c"+string(run))
			}
			for i := 0; i+1 < len(run); i++ {
				out = append(out, "c"+string(run[i:i+2]))
			}
			q = q[end:]
		default:
			q = q[n:]
		}
	}
	return out
}

// termHash is a term's keyed hash, split for double hashing.
type termHash struct{ h1, h2 uint32 }

func splitTerm(t [8]byte) termHash {
	return termHash{binary.BigEndian.Uint32(t[:4]), binary.BigEndian.Uint32(t[4:]) | 1}
}

// newSignature returns the signature of a set of term hashes.
func newSignature(terms []termHash) []byte {
	n := (len(terms)*sigBitsPerTerm + 7) / 8
	size := minSigBytes
	for size < n && size < maxSigBytes {
		size *= 2
	}
	sig := make([]byte, size)
	m := uint32(size * 8)
	for _, t := range terms {
		for i := uint32(0); i < sigHashes; i++ {
			b := (t.h1 + i*t.h2) % m
			sig[b/8] |= 1 << (b % 8)
		}
	}
	return sig
}

// sigHas reports whether a signature may hold every term.
func sigHas(sig []byte, terms []termHash) bool {
	if len(sig) == 0 {
		return len(terms) == 0
	}
	m := uint32(len(sig) * 8)
	for _, t := range terms {
		for i := uint32(0); i < sigHashes; i++ {
			b := (t.h1 + i*t.h2) % m
			if sig[b/8]&(1<<(b%8)) == 0 {
				return false
			}
		}
	}
	return true
}

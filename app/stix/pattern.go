package stix

import (
	"errors"
	"fmt"
	"strings"
)

// Indicator kinds, as Noroshi names them (the same strings as app's
// IndicatorKind values).
const (
	KindURL    = "url"
	KindIPv4   = "ipv4"
	KindIPv6   = "ipv6"
	KindDomain = "domain"
	KindEmail  = "email"
	KindMD5    = "md5"
	KindSHA1   = "sha1"
	KindSHA256 = "sha256"
)

// objectPaths is the STIX object path each kind compares.
var objectPaths = map[string]string{
	KindURL:    "url:value",
	KindIPv4:   "ipv4-addr:value",
	KindIPv6:   "ipv6-addr:value",
	KindDomain: "domain-name:value",
	KindEmail:  "email-addr:value",
	KindMD5:    "file:hashes.MD5",
	KindSHA1:   "file:hashes.'SHA-1'",
	KindSHA256: "file:hashes.'SHA-256'",
}

// Limits of what ParsePattern reads.
const (
	MaxPattern     = 64 << 10
	maxComparisons = 1000
)

// ErrNotSimple says that a pattern is not a simple comparison (or an OR of
// them) of a kind Noroshi carries: keep it as text.
var ErrNotSimple = errors.New("stix: not a simple pattern")

// quote writes a STIX pattern string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Pattern returns the STIX pattern that matches one indicator of a kind:
// [url:value = 'http://x.example/'], [file:hashes.'SHA-256' = '...'].
func Pattern(kind, value string) (string, error) {
	path, ok := objectPaths[kind]
	if !ok {
		return "", fmt.Errorf("stix: no pattern for indicator kind %q", kind)
	}
	if value == "" {
		return "", errors.New("stix: empty indicator value")
	}
	return "[" + path + " = " + quote(value) + "]", nil
}

// Comparison is one simple comparison read from a pattern.
type Comparison struct {
	Kind  string
	Value string
}

// ParsePattern reads a pattern made of simple equality comparisons of the
// kinds Pattern writes, joined by OR inside or between observation
// expressions ("[a = 'x' OR b = 'y']", "[a = 'x'] OR [b = 'y']"). Any
// other pattern (AND, qualifiers, other operators or properties) returns
// ErrNotSimple, wrapped with the reason.
func ParsePattern(p string) ([]Comparison, error) {
	if len(p) > MaxPattern {
		return nil, fmt.Errorf("%w: pattern of %d bytes, at most %d", ErrNotSimple, len(p), MaxPattern)
	}
	s := &scanner{s: p}
	var out []Comparison
	for {
		if !s.take("[") {
			return nil, s.fail("want [")
		}
		for {
			c, err := s.comparison()
			if err != nil {
				return nil, err
			}
			if len(out) >= maxComparisons {
				return nil, fmt.Errorf("%w: more than %d comparisons", ErrNotSimple, maxComparisons)
			}
			out = append(out, c)
			if !s.keyword("OR") {
				break
			}
		}
		if !s.take("]") {
			return nil, s.fail("want ] or OR")
		}
		if s.end() {
			return out, nil
		}
		if !s.keyword("OR") {
			return nil, s.fail("want OR between observations")
		}
	}
}

// scanner reads a pattern left to right.
type scanner struct {
	s string
	i int
}

func (s *scanner) space() {
	for s.i < len(s.s) && strings.IndexByte(" \t\r\n", s.s[s.i]) >= 0 {
		s.i++
	}
}

func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.s)
}

func (s *scanner) take(tok string) bool {
	s.space()
	if strings.HasPrefix(s.s[s.i:], tok) {
		s.i += len(tok)
		return true
	}
	return false
}

// keyword takes a word that stands alone (OR, not ORANGE).
func (s *scanner) keyword(w string) bool {
	s.space()
	rest := s.s[s.i:]
	if len(rest) < len(w) || !strings.EqualFold(rest[:len(w)], w) {
		return false
	}
	if len(rest) > len(w) && isWord(rest[len(w)]) {
		return false
	}
	s.i += len(w)
	return true
}

func isWord(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (s *scanner) fail(what string) error {
	at := s.s[s.i:]
	if len(at) > 20 {
		at = at[:20] + "..."
	}
	return fmt.Errorf("%w: %s at %q", ErrNotSimple, what, at)
}

func (s *scanner) word() string {
	s.space()
	j := s.i
	for s.i < len(s.s) && isWord(s.s[s.i]) {
		s.i++
	}
	return s.s[j:s.i]
}

// literal reads a quoted string: \\ and \' are the only escapes.
func (s *scanner) literal() (string, bool) {
	s.space()
	if s.i >= len(s.s) || s.s[s.i] != '\'' {
		return "", false
	}
	var b strings.Builder
	for i := s.i + 1; i < len(s.s); i++ {
		switch c := s.s[i]; c {
		case '\\':
			if i+1 >= len(s.s) || (s.s[i+1] != '\\' && s.s[i+1] != '\'') {
				return "", false
			}
			b.WriteByte(s.s[i+1])
			i++
		case '\'':
			s.i = i + 1
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// comparison reads "type:path = 'value'" and names its kind.
func (s *scanner) comparison() (Comparison, error) {
	typ := s.word()
	if typ == "" || !s.take(":") {
		return Comparison{}, s.fail("want an object path")
	}
	var path []string
	for {
		if p, ok := s.literal(); ok {
			path = append(path, p)
		} else if w := s.word(); w != "" {
			path = append(path, w)
		} else {
			return Comparison{}, s.fail("want a property name")
		}
		if !s.take(".") {
			break
		}
	}
	if !s.take("=") {
		return Comparison{}, s.fail("want =")
	}
	v, ok := s.literal()
	if !ok {
		return Comparison{}, s.fail("want a quoted string")
	}
	kind := pathKind(typ, path)
	if kind == "" {
		return Comparison{}, fmt.Errorf("%w: %s:%s is not a kind Noroshi carries", ErrNotSimple, typ, strings.Join(path, "."))
	}
	switch kind {
	case KindIPv4:
		if a, bits, cut := strings.Cut(v, "/"); cut {
			if bits != "32" {
				return Comparison{}, fmt.Errorf("%w: %s is a network, not one address", ErrNotSimple, v)
			}
			v = a
		}
	case KindIPv6:
		if a, bits, cut := strings.Cut(v, "/"); cut {
			if bits != "128" {
				return Comparison{}, fmt.Errorf("%w: %s is a network, not one address", ErrNotSimple, v)
			}
			v = a
		}
	}
	if v == "" {
		return Comparison{}, fmt.Errorf("%w: empty value", ErrNotSimple)
	}
	return Comparison{Kind: kind, Value: v}, nil
}

// pathKind names the kind an object path compares, "" for none.
func pathKind(typ string, path []string) string {
	if len(path) == 1 && path[0] == "value" {
		switch typ {
		case "url":
			return KindURL
		case "ipv4-addr":
			return KindIPv4
		case "ipv6-addr":
			return KindIPv6
		case "domain-name":
			return KindDomain
		case "email-addr":
			return KindEmail
		}
		return ""
	}
	if typ == "file" && len(path) == 2 && path[0] == "hashes" {
		switch strings.ReplaceAll(strings.ToUpper(path[1]), "-", "") {
		case "MD5":
			return KindMD5
		case "SHA1":
			return KindSHA1
		case "SHA256":
			return KindSHA256
		}
	}
	return ""
}

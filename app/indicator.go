package app

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IndicatorKind is the kind of a machine-readable indicator (IoC).
type IndicatorKind string

// Indicator kinds.
const (
	IndicatorURL    IndicatorKind = "url"
	IndicatorIPv4   IndicatorKind = "ipv4"
	IndicatorIPv6   IndicatorKind = "ipv6"
	IndicatorDomain IndicatorKind = "domain"
	IndicatorEmail  IndicatorKind = "email"
	IndicatorMD5    IndicatorKind = "md5"
	IndicatorSHA1   IndicatorKind = "sha1"
	IndicatorSHA256 IndicatorKind = "sha256"
)

// MaxIndicators bounds the indicators of one post.
const MaxIndicators = 500

// Indicator is one indicator carried as a structured field of a post, so
// that products can block it (a blocklist, STIX). Value is the plain
// (refanged) form; show it with Defanged.
type Indicator struct {
	Kind  IndicatorKind `json:"kind"`
	Value string        `json:"value"`
}

var (
	hexOnly    = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	domainName = regexp.MustCompile(`(?i)^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	refanger   = strings.NewReplacer("hxxps[:]//", "https://", "hxxp[:]//", "http://", "fxp[:]//", "ftp://",
		"hxxps://", "https://", "hxxp://", "http://", "fxp://", "ftp://", "[.]", ".", "(.)", ".", "[:]", ":", "[@]", "@")
)

// Refang undoes the usual defanging: hxxp, [.], [:], [@].
func Refang(s string) string { return refanger.Replace(s) }

// ParseIndicator reads one indicator as an analyst would type or paste it,
// defanged or not, and says what kind it is. An indicator holds no
// character that does not print (a line or paragraph separator such as
// U+2028 or U+0085, a control or format character, a space of any kind):
// the blocklists that serve it are read line by line, and by eye. A URL's
// host holds no "*" or "^", which blocklist consumers read as wildcards.
func ParseIndicator(s string) (Indicator, error) {
	v := strings.TrimSpace(Refang(s))
	if v == "" || len(v) > 2048 || strings.ContainsAny(v, " \t\r\n") {
		return Indicator{}, fmt.Errorf("%w: indicator %q: give one URL, address, domain, e-mail or hash", ErrInvalid, s)
	}
	if !utf8.ValidString(v) {
		return Indicator{}, fmt.Errorf("%w: indicator %q is not valid UTF-8 text: type it again", ErrInvalid, s)
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return Indicator{}, fmt.Errorf("%w: indicator %q holds a character that does not print (U+%04X, a line break, control or invisible character): give the indicator alone, as it is written", ErrInvalid, s, r)
	}
	if ip := net.ParseIP(v); ip != nil {
		if ip.To4() != nil {
			return Indicator{IndicatorIPv4, ip.String()}, nil
		}
		return Indicator{IndicatorIPv6, ip.String()}, nil
	}
	if hexOnly.MatchString(v) {
		switch len(v) {
		case 32:
			return Indicator{IndicatorMD5, strings.ToLower(v)}, nil
		case 40:
			return Indicator{IndicatorSHA1, strings.ToLower(v)}, nil
		case 64:
			return Indicator{IndicatorSHA256, strings.ToLower(v)}, nil
		}
	}
	if i := strings.Index(v, "://"); i > 0 {
		u, err := url.Parse(v)
		if err == nil && u.Host != "" {
			switch host := u.Hostname(); {
			case host == "":
				return Indicator{}, fmt.Errorf("%w: URL %q names no host", ErrInvalid, s)
			case strings.ContainsAny(host, "*^"):
				return Indicator{}, fmt.Errorf("%w: URL %q has a wildcard (* or ^) in its host, which a blocklist would read as every matching site: give the one host seen", ErrInvalid, s)
			}
			return Indicator{IndicatorURL, v}, nil
		}
	}
	if strings.Contains(v, "@") {
		if a, err := mail.ParseAddress(v); err == nil && a.Address == v {
			return Indicator{IndicatorEmail, strings.ToLower(v)}, nil
		}
	}
	if domainName.MatchString(v) {
		return Indicator{IndicatorDomain, strings.ToLower(strings.TrimSuffix(v, "."))}, nil
	}
	return Indicator{}, fmt.Errorf("%w: %q is not a URL, IP address, domain, e-mail address or MD5/SHA-1/SHA-256 hash", ErrInvalid, s)
}

// Defanged returns the indicator in a form that nothing turns into a live
// link: hxxp://evil[.]example/x, 198.51.100[.]23, user[@]evil[.]example.
func (i Indicator) Defanged() string {
	switch i.Kind {
	case IndicatorURL:
		scheme, rest, _ := strings.Cut(i.Value, "://")
		switch strings.ToLower(scheme) {
		case "http":
			scheme = "hxxp"
		case "https":
			scheme = "hxxps"
		case "ftp":
			scheme = "fxp"
		}
		host, path, hasPath := strings.Cut(rest, "/")
		host = strings.ReplaceAll(host, ".", "[.]")
		if hasPath {
			host += "/" + path
		}
		return scheme + "://" + host
	case IndicatorIPv4:
		j := strings.LastIndex(i.Value, ".")
		return i.Value[:j] + "[.]" + i.Value[j+1:]
	case IndicatorIPv6:
		return strings.ReplaceAll(i.Value, ":", "[:]")
	case IndicatorDomain:
		return strings.ReplaceAll(i.Value, ".", "[.]")
	case IndicatorEmail:
		return strings.ReplaceAll(strings.ReplaceAll(i.Value, "@", "[@]"), ".", "[.]")
	}
	return i.Value
}

// IndicatorView is an indicator as a post's detail shows it.
type IndicatorView struct {
	Kind     IndicatorKind `json:"kind"`
	Value    string        `json:"value"`
	Defanged string        `json:"defanged"`
	// InText is set on an indicator found in the post's text rather than
	// given as a structured field.
	InText bool `json:"in_text,omitempty"`
}

// PostIndicators lists a post's indicators as every front end shows them:
// its structured indicators, then those found in its text (FindIndicators),
// each once.
func PostIndicators(structured []Indicator, body string) []IndicatorView {
	out := []IndicatorView{}
	seen := map[Indicator]bool{}
	add := func(in Indicator, inText bool) {
		if !seen[in] {
			seen[in] = true
			out = append(out, IndicatorView{Kind: in.Kind, Value: in.Value, Defanged: in.Defanged(), InText: inText})
		}
	}
	for _, in := range structured {
		add(in, false)
	}
	for _, in := range FindIndicators(body) {
		add(in, true)
	}
	return out
}

// Patterns of indicators in running text, defanged or not.
var (
	textURL  = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s<>()\[\]"']+`)
	textIPv4 = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b`)
	textHash = regexp.MustCompile(`\b(?:[a-fA-F0-9]{64}|[a-fA-F0-9]{40}|[a-fA-F0-9]{32})\b`)
	// A domain: labels and a top-level label, already defanged
	// ("evil[.]example") or not.
	textDomain = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.|\[\.\]))+(?:[a-z]{2,24})\b`)
)

// FindIndicators lists the indicators written in a text: URLs, IPv4
// addresses, MD5/SHA-1/SHA-256 hashes and domains, defanged or not, each
// once: URLs first, then addresses, hashes and domains, each kind in order
// of appearance. A bare word.word is often prose or a file name: it counts
// as a domain only when its author defanged it, or when it is a URL's
// host. It only reads text; nothing is looked up or opened.
func FindIndicators(text string) []Indicator {
	var out []Indicator
	seen := map[Indicator]bool{}
	add := func(s string) {
		in, err := ParseIndicator(s)
		if err == nil && !seen[in] {
			seen[in] = true
			out = append(out, in)
		}
	}
	plain := Refang(text)
	hosts := map[string]bool{}
	for _, u := range textURL.FindAllString(plain, -1) {
		add(u)
		if pu, err := url.Parse(u); err == nil {
			hosts[strings.ToLower(pu.Hostname())] = true
		}
	}
	for _, ip := range textIPv4.FindAllString(plain, -1) {
		add(ip)
	}
	for _, h := range textHash.FindAllString(text, -1) {
		add(h)
	}
	for _, d := range textDomain.FindAllString(text, -1) {
		p := strings.ToLower(Refang(d))
		if !strings.Contains(d, "[.]") && !hosts[p] {
			continue
		}
		if textIPv4.MatchString(p) {
			continue
		}
		add(p)
	}
	return out
}

// DefangText makes the URLs and IPv4 addresses of a text safe to show:
// "http://evil.example/x" becomes "hxxp://evil[.]example/x",
// "198.51.100.23" becomes "198.51.100[.]23". Text already defanged is left
// as it is.
func DefangText(s string) string {
	s = textURL.ReplaceAllStringFunc(s, func(u string) string {
		return Indicator{Kind: IndicatorURL, Value: u}.Defanged()
	})
	return textIPv4.ReplaceAllStringFunc(s, func(ip string) string {
		return Indicator{Kind: IndicatorIPv4, Value: ip}.Defanged()
	})
}

// parseIndicators parses a draft's indicators, each once.
func parseIndicators(in []string) ([]Indicator, error) {
	if len(in) > MaxIndicators {
		return nil, fmt.Errorf("%w: %d indicators, at most %d: attach a file for more", ErrTooLarge, len(in), MaxIndicators)
	}
	var out []Indicator
	seen := map[Indicator]bool{}
	for _, s := range in {
		if strings.TrimSpace(s) == "" {
			continue
		}
		i, err := ParseIndicator(s)
		if err != nil {
			return nil, err
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}

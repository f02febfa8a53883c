package findings

import (
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// companySuffixes are words dropped from the end of app names ("Notion
// Labs, Inc." and "Notion Labs" are one app).
func companySuffixes() []string {
	return []string{"inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
		"gmbh", "ag", "sa", "sas", "bv", "plc", "pty", "oy", "ab", "hq", "labs"}
}

// secondLevels are the labels of two-part public suffixes (co.uk, com.au)
// that a domain's name sits before.
func secondLevels() []string {
	return []string{"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"}
}

// NormalizeName returns the key an app name deduplicates by: lower case,
// letters and digits only, words separated by one space, without a
// leading scheme or "www." and without trailing company suffixes ("inc",
// "llc", "ltd", ...). A name that is a domain or URL ("notion.so",
// "https://www.notion.so/x") is normalised as NormalizeDomain does. The
// result is "" when nothing is left.
func NormalizeName(name string) string {
	s := strings.TrimSpace(strings.ToLower(name))
	if looksLikeDomain(s) {
		return NormalizeDomain(s)
	}
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		case r == '\'' || r == '’':
			// "Ben's" and "Bens" are one name.
		default:
			flush()
		}
	}
	flush()
	if len(words) > 0 && words[0] == "www" {
		words = words[1:]
	}
	for len(words) > 1 && slices.Contains(companySuffixes(), words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// looksLikeDomain reports whether s (lowercase, trimmed) is a URL or a
// host name rather than a display name.
func looksLikeDomain(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	if s == "" || strings.ContainsAny(s, " \t,") || !strings.Contains(s, ".") {
		return false
	}
	host, _, _ := strings.Cut(s, "/")
	labels := strings.Split(host, ".")
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for _, r := range tld {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// NormalizeDomain returns the key a domain or URL deduplicates by: the
// registrable name without its public suffix ("https://www.app.notion.so/x"
// and "notion.so" are "notion"; "example.co.uk" is "example"). Two-part
// suffixes are recognised by a short list (co.uk, com.au, ...), not the
// full public suffix list. The result is "" for an empty or unusable
// domain.
func NormalizeDomain(domain string) string {
	s := strings.TrimSpace(strings.ToLower(domain))
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	labels := strings.FieldsFunc(host, func(r rune) bool { return r == '.' })
	switch {
	case len(labels) == 0:
		return ""
	case len(labels) == 1:
		return NormalizeName(labels[0])
	}
	labels = labels[:len(labels)-1] // the top-level domain
	if len(labels) > 1 && slices.Contains(secondLevels(), labels[len(labels)-1]) {
		labels = labels[:len(labels)-1]
	}
	name := labels[len(labels)-1]
	if name == "www" {
		return ""
	}
	// The name itself is one word: keep letters and digits, hyphens as
	// spaces ("my-app.com" is "my app").
	return NormalizeName(strings.ReplaceAll(name, "-", " "))
}

// AppKey is the key of an app reported with name and domain: the domain's
// when there is one that normalises to something, else the name's.
func AppKey(name, domain string) string {
	if k := NormalizeDomain(domain); k != "" {
		return k
	}
	return NormalizeName(name)
}

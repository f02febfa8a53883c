package sshca

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Key types for the user keys IssueGrant generates.
const (
	KeyTypeED25519 = "ed25519" // the default
	KeyTypeECDSA   = "ecdsa"   // NIST P-256
	KeyTypeRSA     = "rsa"     // 3072 bits
)

// DefaultPrincipalsTemplate makes the entitlement key the list of
// principals: "deploy" or "deploy,ubuntu".
const DefaultPrincipalsTemplate = "{key}"

const defaultMaxValidity = 24 * time.Hour

var knownSettings = []string{ //nolint:gochecknoglobals // a constant list; Go has no const slices
	"ca_private_key", "principals_template", "max_validity", "key_type", "state_dir", "revoked_keys_file",
}

// placeholder matches a {name} in principals_template.
var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// config is the parsed, validated settings.
type config struct {
	ca              ssh.Signer
	template        string
	maxValidity     time.Duration
	keyType         string
	stateDir        string
	revokedKeysFile string
}

// parseSettings validates settings without touching the disk or the
// network. Errors name the setting and never quote ca_private_key.
func parseSettings(settings map[string]string) (*config, error) {
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if !slices.Contains(knownSettings, k) {
			return nil, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings, ", "))
		}
	}
	c := &config{}

	keyPEM := settings["ca_private_key"]
	if keyPEM == "" {
		return nil, errors.New("setting ca_private_key is required (an OpenSSH private key; ssh-keygen -t ed25519 -f sesame_ca)")
	}
	ca, err := ssh.ParsePrivateKey([]byte(keyPEM))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("setting ca_private_key: the key is encrypted; store it without a passphrase (ssh-keygen -p -N '') and protect it as a secret")
	case err != nil:
		// x/crypto's parse errors describe the format, not the key bytes.
		return nil, fmt.Errorf("setting ca_private_key: not a private key Sesame can read: %w", err)
	}
	if _, isCert := ca.PublicKey().(*ssh.Certificate); isCert {
		return nil, errors.New("setting ca_private_key: must be a plain key, not a certificate")
	}
	c.ca = ca

	c.template = cmp.Or(settings["principals_template"], DefaultPrincipalsTemplate)
	for _, ph := range placeholder.FindAllString(c.template, -1) {
		if ph != "{key}" && ph != "{email}" && ph != "{email_local}" {
			return nil, fmt.Errorf("setting principals_template: unknown placeholder %s (known: {key}, {email}, {email_local})", ph)
		}
	}
	if strings.ContainsAny(placeholder.ReplaceAllString(c.template, ""), "{}\r\n") {
		return nil, errors.New("setting principals_template: stray brace or line break; write principals separated by commas, e.g. {key} or {email_local},deploy")
	}

	c.maxValidity = defaultMaxValidity
	if v := settings["max_validity"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			return nil, fmt.Errorf("setting max_validity: %q is not a duration of at least 1m, like 8h", v)
		}
		c.maxValidity = d
	}

	c.keyType = cmp.Or(settings["key_type"], KeyTypeED25519)
	if c.keyType != KeyTypeED25519 && c.keyType != KeyTypeECDSA && c.keyType != KeyTypeRSA {
		return nil, fmt.Errorf("setting key_type: %q must be %s, %s or %s", c.keyType, KeyTypeED25519, KeyTypeECDSA, KeyTypeRSA)
	}

	for _, p := range []struct {
		key string
		dst *string
	}{{"state_dir", &c.stateDir}, {"revoked_keys_file", &c.revokedKeysFile}} {
		v := settings[p.key]
		if v != "" && !filepath.IsAbs(v) {
			return nil, fmt.Errorf("setting %s: %q must be an absolute path", p.key, v)
		}
		*p.dst = v
	}
	if c.revokedKeysFile != "" && c.stateDir == "" {
		return nil, errors.New("setting revoked_keys_file needs state_dir: Revoke finds a grant's keys there")
	}
	return c, nil
}

// validPrincipal is what Sesame lets into a certificate's principals: no
// whitespace, commas, control characters or quotes.
var validPrincipal = regexp.MustCompile(`^[A-Za-z0-9._@+=:/-]{1,256}$`)

// emailLocal is the part of an email before the @, when it is safe to use
// as a login name.
var emailLocal = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// principals expands the template for one grant: placeholders replaced,
// split on commas, trimmed, empties and duplicates dropped, order kept.
// {email_local} is the lowercased part of the email before the @.
func principals(template, key, email string) ([]string, error) {
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	var err error
	expanded := placeholder.ReplaceAllStringFunc(template, func(ph string) string {
		switch ph {
		case "{key}":
			return key
		case "{email}":
			return email
		default: // {email_local}
			if !emailLocal.MatchString(local) {
				err = fmt.Errorf("the email's local part %q is not a login name ([a-z0-9._-])", local)
			}
			return local
		}
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for p := range strings.SplitSeq(expanded, ",") {
		p = strings.TrimSpace(p)
		if p == "" || slices.Contains(out, p) {
			continue
		}
		if !validPrincipal.MatchString(p) {
			return nil, fmt.Errorf("principal %q has characters a principal may not have", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no principals: the entitlement key (or principals_template) gives none")
	}
	return out, nil
}

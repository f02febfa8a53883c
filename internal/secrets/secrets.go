// Package secrets seals values at rest (connector passwords and tokens,
// webhook URLs, one-time credentials) with AES-256-GCM under a key from the
// environment or a file. A sealed value is text: "sealed:v1:" followed by
// base64 of nonce‖ciphertext, so it fits in any column and is recognisable.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Prefix marks a sealed value.
const Prefix = "sealed:v1:"

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

// Box seals and opens values with one key. Safe for concurrent use.
type Box struct {
	aead cipher.AEAD
	key  []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// DeriveKey returns a 32-byte key for another purpose (label), derived
// from the box's key with HMAC-SHA-256, so that one configured secret
// serves several uses without reusing the same key.
func (b *Box) DeriveKey(label string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("sesame derived key: " + label))
	return m.Sum(nil)
}

// ParseKey decodes a base64 (standard or URL, padded or not) key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secrets: the key must be %d bytes in base64 (make one with: head -c 32 /dev/urandom | base64)", KeySize)
}

// LoadOrCreateKeyFile reads a base64 key from path; when the file does not
// exist and create is true, it writes a new random key there (mode 0600)
// and reports created.
func LoadOrCreateKeyFile(path string, create bool) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, false, fmt.Errorf("secrets: read key file: %w", err)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, false, fmt.Errorf("secrets: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("secrets: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("secrets: create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, false, errors.Join(fmt.Errorf("secrets: write key file: %w", err), f.Close())
	}
	return k, true, f.Close()
}

// Seal encrypts plain. Sealing an already sealed value returns it as is.
func (b *Box) Seal(plain string) (string, error) {
	if IsSealed(plain) {
		return plain, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(Prefix))
	return Prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a sealed value; a value without the prefix is returned as
// is (plain values from before sealing was turned on). A sealed value that
// does not decrypt (wrong key, tampering) is an error that never includes
// the value.
func (b *Box) Open(v string) (string, error) {
	if !IsSealed(v) {
		return v, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(v, Prefix))
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secrets: malformed sealed value")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(Prefix))
	if err != nil {
		return "", errors.New("secrets: cannot open sealed value (wrong key or tampered)")
	}
	return string(plain), nil
}

// IsSealed reports whether v is a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, Prefix) }

// SealSettings returns a copy of settings with the values whose names are
// secret (isSecret) sealed.
func (b *Box) SealSettings(settings map[string]string, isSecret func(string) bool) (map[string]string, error) {
	if settings == nil {
		return nil, nil //nolint:nilnil // a nil map is a valid, empty map: the copy of nil settings is nil
	}
	out := make(map[string]string, len(settings))
	for k, v := range settings {
		if isSecret(k) && v != "" {
			s, err := b.Seal(v)
			if err != nil {
				return nil, err
			}
			v = s
		}
		out[k] = v
	}
	return out, nil
}

// OpenSettings returns a copy of settings with every sealed value opened.
func (b *Box) OpenSettings(settings map[string]string) (map[string]string, error) {
	if settings == nil {
		return nil, nil //nolint:nilnil // a nil map is a valid, empty map: the copy of nil settings is nil
	}
	out := make(map[string]string, len(settings))
	for k, v := range settings {
		p, err := b.Open(v)
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}

package postgresql

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
)

const (
	passwordLen   = 32
	passwordChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// scramIterations and scramSaltLen are PostgreSQL's defaults.
	scramIterations = 4096
	scramSaltLen    = 16
)

// randomPassword returns passwordLen characters drawn uniformly from
// passwordChars with crypto/rand.
func randomPassword() (string, error) {
	out := make([]byte, 0, passwordLen)
	var buf [64]byte
	for len(out) < passwordLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the draw uniform.
			if b < 248 && len(out) < passwordLen {
				out = append(out, passwordChars[int(b)%len(passwordChars)])
			}
		}
	}
	return string(out), nil
}

// verifierRE is the shape of a SCRAM-SHA-256 verifier; checking it before
// the verifier goes into a literal rules out any quoting surprise.
var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

// newVerifier returns a SCRAM-SHA-256 verifier of password with a fresh
// salt. PostgreSQL stores a verifier given to CREATE/ALTER ROLE ...
// PASSWORD as is, so the password itself never reaches the server (nor
// its statement log).
func newVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scram salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

// scramVerifier computes the verifier PostgreSQL stores in
// pg_authid.rolpassword (RFC 5802, RFC 7677): password must already be
// SASLprep-normalised, which plain ASCII letters and digits are.
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("scram: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	v := fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey))
	if !verifierRE.MatchString(v) {
		return "", fmt.Errorf("scram: malformed verifier")
	}
	return v, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

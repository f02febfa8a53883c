package mysql

import (
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined with SHA-1; the hash only keeps the password out of statements
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	passwordLen   = 32
	passwordChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
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

// nativeHash is the mysql_native_password hash of password, the form
// MariaDB takes in IDENTIFIED BY PASSWORD '...': "*" and the upper-case
// hex of SHA1(SHA1(password)).
func nativeHash(password string) string {
	first := sha1.Sum([]byte(password)) //nolint:gosec // see the import
	second := sha1.Sum(first[:])        //nolint:gosec // see the import
	return "*" + strings.ToUpper(hex.EncodeToString(second[:]))
}

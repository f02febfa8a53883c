package slackbot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRequestAge is how far a request's timestamp may be from now: older
// (or future) requests are refused, so a captured request cannot be
// replayed later.
const MaxRequestAge = 5 * time.Minute

// ErrBadSignature is returned for a request that Slack did not sign with
// our signing secret, or signed too long ago.
var ErrBadSignature = errors.New("invalid slack request signature")

// verifySignature checks Slack's v0 signature of body: HMAC-SHA256 over
// "v0:" + timestamp + ":" + body, compared in constant time, with the
// timestamp within MaxRequestAge of now. It is slack.SecretsVerifier's
// algorithm with the time taken from Sesame's clock (the library reads the
// wall clock, which tests and the clock rule forbid).
func verifySignature(secret []byte, h http.Header, body []byte, now time.Time) error {
	ts := h.Get("X-Slack-Request-Timestamp")
	sig := h.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return fmt.Errorf("%w: missing headers", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > MaxRequestAge || age < -MaxRequestAge {
		return fmt.Errorf("%w: timestamp %s is outside the %v window", ErrBadSignature, ts, MaxRequestAge)
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return fmt.Errorf("%w: unknown version", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: malformed", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return fmt.Errorf("%w: mismatch", ErrBadSignature)
	}
	return nil
}

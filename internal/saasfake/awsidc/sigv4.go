package awsidc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file is the fake's own Signature Version 4 verifier, written
// separately from the connector's signer so that each checks the other;
// both are anchored to the AWS test suite vectors in their tests.

// awsMessageError is an error whose text is AWS's message, verbatim (and so
// capitalised and punctuated).
type awsMessageError string

func (m awsMessageError) Error() string { return string(m) }

// authHeader is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." value.
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuth(v string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(v, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, errors.New("only AWS4-HMAC-SHA256 is supported")
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(val, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, errors.New("malformed Credential")
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(val, ";")
		case "Signature":
			a.signature = val
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, awsMessageError("Authorization header requires Credential, SignedHeaders and Signature")
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return a, errors.New("host must be a signed header")
	}
	return a, nil
}

func encodeRFC3986(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalRequest builds the canonical request of r as the signer should
// have, for the headers it says it signed.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			u = s
		}
		segs[i] = encodeRFC3986(u)
	}
	type kv struct{ k, v string }
	var params []kv
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			params = append(params, kv{encodeRFC3986(k), encodeRFC3986(v)})
		}
	}
	slices.SortFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	q := make([]string, len(params))
	for i, p := range params {
		q[i] = p.k + "=" + p.v
	}
	var hb strings.Builder
	for _, h := range signed {
		var v string
		if h == "host" {
			v = r.Host
		} else {
			v = strings.Join(r.Header.Values(h), ",")
		}
		hb.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	return strings.Join([]string{r.Method, strings.Join(segs, "/"), strings.Join(q, "&"), hb.String(), strings.Join(signed, ";"), payloadHash}, "\n")
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// expectedSignature computes the signature of r for secret.
func expectedSignature(r *http.Request, a authHeader, amzDate, secret string, body []byte) string {
	sum := sha256.Sum256(body)
	creq := canonicalRequest(r, a.signedHeaders, hex.EncodeToString(sum[:]))
	creqSum := sha256.Sum256([]byte(creq))
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqSum[:])
	k := hmacSHA256([]byte("AWS4"+secret), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, sts))
}

// VerifySigV4 checks r's signature against secret, and that its
// X-Amz-Date is within 15 minutes of now. It is exported for the fake's
// tests, which anchor it to the AWS test suite.
func VerifySigV4(r *http.Request, body []byte, secret string, now time.Time) error {
	a, err := parseAuth(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) {
		return errors.New("X-Amz-Date is missing or does not match the credential scope")
	}
	if d := now.Sub(t); d > 15*time.Minute || d < -15*time.Minute {
		return awsMessageError(fmt.Sprintf("Signature expired: %s is now earlier than %s", amzDate, now.Add(-15*time.Minute).Format("20060102T150405Z")))
	}
	want := expectedSignature(r, a, amzDate, secret, body)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return awsMessageError("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

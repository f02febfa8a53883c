package awsidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/restclient"
)

// APIError is an AWS JSON 1.1 error answer.
type APIError struct {
	Operation string
	Status    int
	// Type is the error name without its namespace
	// ("ThrottlingException").
	Type    string
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("awsidc: %s: %s: %s", e.Operation, e.Type, msg)
}

func asAPIError(err error) (*APIError, bool) { return errors.AsType[*APIError](err) }

// retryableTypes are the errors AWS documents as worth retrying with
// backoff. Everything else (AccessDeniedException, ValidationException,
// ResourceNotFoundException, UnrecognizedClientException,
// InvalidSignatureException, ServiceQuotaExceededException...) is
// permanent.
func retryable(typ string) bool {
	switch typ {
	case "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
		"InternalServerException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
		"ConflictException", "RequestTimeout", "RequestTimeoutException":
		return true
	}
	return false
}

// service is one AWS JSON 1.1 endpoint.
type service struct {
	endpoint     string // https://sso.us-east-1.amazonaws.com
	signingName  string // sso, identitystore
	targetPrefix string // SWBExternalService, AWSIdentityStore
}

type client struct {
	creds  credentials
	region string
	http   *http.Client
	clock  clock.Clock
}

// call POSTs in as the operation op of svc and decodes the answer into out.
func (c *client) call(ctx context.Context, svc service, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return connector.Permanent(fmt.Errorf("awsidc: %s: encode: %w", op, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, svc.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return connector.Permanent(fmt.Errorf("awsidc: %s: build request: %w", op, err))
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", svc.targetPrefix+"."+op)
	signV4(req, body, c.creds, c.region, svc.signingName, c.clock.Now())
	req.Header.Set("User-Agent", "sesame-access")
	ans, err := restclient.Do(c.http, req, "awsidc: "+op, out)
	if err != nil || ans.OK() {
		return err
	}
	data := ans.Body
	var eb struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	if json.Unmarshal(data, &eb) != nil {
		eb.Type = ""
	}
	typ := eb.Type
	if typ == "" {
		typ, _, _ = strings.Cut(ans.Header.Get("x-amzn-ErrorType"), ":")
	}
	if i := strings.LastIndex(typ, "#"); i >= 0 {
		typ = typ[i+1:]
	}
	if typ == "" {
		typ = fmt.Sprintf("HTTP%d", ans.Status)
	}
	e := &APIError{Operation: op, Status: ans.Status, Type: typ, Message: eb.Message + eb.MessageU}
	if retryable(typ) || ans.Status >= 500 || ans.Status == http.StatusTooManyRequests {
		return e
	}
	return connector.Permanent(e)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

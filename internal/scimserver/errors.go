package scimserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// scimError is an error response (RFC 7644 section 3.12).
type scimError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *scimError) Error() string { return e.Detail }

func errInvalidValue(detail string) error {
	return &scimError{Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: detail}
}

func errInvalidSyntax(detail string) error {
	return &scimError{Status: http.StatusBadRequest, ScimType: "invalidSyntax", Detail: detail}
}

func errInvalidFilter(detail string) error {
	return &scimError{Status: http.StatusBadRequest, ScimType: "invalidFilter", Detail: detail}
}

func errInvalidPath(detail string) error {
	return &scimError{Status: http.StatusBadRequest, ScimType: "invalidPath", Detail: detail}
}

func errNoTarget(detail string) error {
	return &scimError{Status: http.StatusBadRequest, ScimType: "noTarget", Detail: detail}
}

func errUniqueness(detail string) error {
	return &scimError{Status: http.StatusConflict, ScimType: "uniqueness", Detail: detail}
}

func errNotFound(detail string) error {
	return &scimError{Status: http.StatusNotFound, Detail: detail}
}

// writeError renders err as SCIM error JSON. Errors that are not
// scimErrors are coded access errors or internal failures (500, logged by
// the caller, never detailed to the client).
func writeError(w http.ResponseWriter, err error) {
	var se *scimError
	if !errors.As(err, &se) {
		se = fromAccess(err)
	}
	body := map[string]any{"schemas": []string{schemaError}, "status": strconv.Itoa(se.Status), "detail": se.Detail}
	if se.ScimType != "" {
		body["scimType"] = se.ScimType
	}
	writeJSON(w, se.Status, body)
}

// fromAccess maps coded errors; anything else is a 500.
func fromAccess(err error) *scimError {
	if ae, ok := errors.AsType[*access.Error](err); ok {
		switch ae.Code { //nolint:exhaustive // the rest are 500s
		case access.CodeInvalid:
			return &scimError{Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: ae.Error()}
		case access.CodeNotFound:
			return &scimError{Status: http.StatusNotFound, Detail: ae.Error()}
		case access.CodeUnauthorized:
			return &scimError{Status: http.StatusUnauthorized, Detail: ae.Error()}
		case access.CodeForbidden:
			return &scimError{Status: http.StatusForbidden, Detail: ae.Error()}
		case access.CodeConflict:
			return &scimError{Status: http.StatusConflict, Detail: ae.Error()}
		}
	}
	if errors.Is(err, store.ErrConflict) {
		return &scimError{Status: http.StatusConflict, ScimType: "uniqueness", Detail: "the resource changed or a unique attribute is taken; retry"}
	}
	return &scimError{Status: http.StatusInternalServerError, Detail: "internal error; the request can be retried"}
}

// writeJSON writes v as application/scim+json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) //nolint:errcheck,errchkjson // the client went away; nothing to do
}

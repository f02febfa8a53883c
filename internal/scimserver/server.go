package scimserver

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Prefix is where the server is mounted.
const Prefix = "/scim/v2"

// maxBody bounds a request body (a group PUT with thousands of members
// fits).
const maxBody = 4 << 20

// Offboarder runs the offboarding of a deactivated or deleted user;
// *workflow.Service implements it.
type Offboarder interface {
	Offboard(ctx context.Context, actorID, userID, reason string) (*workflow.OffboardResult, error)
}

// Config configures a Server. Store, Clock and Offboarder are required.
type Config struct {
	Store      store.Store
	Clock      clock.Clock
	Offboarder Offboarder
	Logger     *slog.Logger
	// BaseURL is the public URL of the server's root (server.base_url);
	// resources' meta.location is BaseURL + /scim/v2/... ("" gives
	// relative locations).
	BaseURL string
	// ConfigEmails are the emails of the people the config file lists. A
	// SCIM push may not change the email of one of them (nor of anyone
	// holding a Sesame role): sign-in matches people by email.
	ConfigEmails []string
}

// Server serves SCIM 2.0. Safe for concurrent use.
type Server struct {
	st      store.Store
	clock   clock.Clock
	off     Offboarder
	log     *slog.Logger
	baseURL string
	// configEmails holds Config.ConfigEmails, lowercased.
	configEmails map[string]bool
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Clock == nil || cfg.Offboarder == nil {
		return nil, errors.New("scimserver: Store, Clock and Offboarder are required")
	}
	configEmails := make(map[string]bool, len(cfg.ConfigEmails))
	for _, e := range cfg.ConfigEmails {
		configEmails[strings.ToLower(e)] = true
	}
	return &Server{st: cfg.Store, clock: cfg.Clock, off: cfg.Offboarder,
		log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		configEmails: configEmails}, nil
}

// Handler returns the SCIM routes, to be mounted at Prefix + "/" (the
// handler sees full paths).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	p := Prefix
	mux.HandleFunc("GET "+p+"/ServiceProviderConfig", s.serviceProviderConfig)
	mux.HandleFunc("GET "+p+"/ResourceTypes", s.resourceTypes)
	mux.HandleFunc("GET "+p+"/ResourceTypes/{name}", s.resourceType)
	mux.HandleFunc("GET "+p+"/Schemas", s.schemas)
	mux.HandleFunc("GET "+p+"/Schemas/{id}", s.schema)
	mux.HandleFunc("GET "+p+"/Users", s.listUsers)
	mux.HandleFunc("POST "+p+"/Users", s.createUser)
	mux.HandleFunc("GET "+p+"/Users/{id}", s.getUser)
	mux.HandleFunc("PUT "+p+"/Users/{id}", s.replaceUser)
	mux.HandleFunc("PATCH "+p+"/Users/{id}", s.patchUser)
	mux.HandleFunc("DELETE "+p+"/Users/{id}", s.deleteUser)
	mux.HandleFunc("GET "+p+"/Groups", s.listGroups)
	mux.HandleFunc("POST "+p+"/Groups", s.createGroup)
	mux.HandleFunc("GET "+p+"/Groups/{id}", s.getGroup)
	mux.HandleFunc("PUT "+p+"/Groups/{id}", s.replaceGroup)
	mux.HandleFunc("PATCH "+p+"/Groups/{id}", s.patchGroup)
	mux.HandleFunc("DELETE "+p+"/Groups/{id}", s.deleteGroup)
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound(fmt.Sprintf("no SCIM endpoint %s %s (no /Bulk, no /.search, no /Me)", r.Method, r.URL.Path)))
	})
	return s.authenticate(mux)
}

type clientKey struct{}

// clientFrom returns the authenticated provisioning client.
func clientFrom(ctx context.Context) *store.ScimClient {
	c, _ := ctx.Value(clientKey{}).(*store.ScimClient)
	return c
}

// authenticate admits requests whose bearer token belongs to a client that
// is not revoked.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.client(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sesame-scim"`)
			if se, ok := errors.AsType[*scimError](err); ok && se.Status == http.StatusUnauthorized {
				writeError(w, se)
				return
			}
			s.log.ErrorContext(r.Context(), "scim: authenticate", "err", err)
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// client resolves the request's bearer token.
func (s *Server) client(r *http.Request) (*store.ScimClient, error) {
	unauthorized := &scimError{Status: http.StatusUnauthorized, Detail: "a valid SCIM bearer token is required (sesame scim token create)"}
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return nil, unauthorized
	}
	hash := auth.HashSecret(secret)
	c, err := s.st.ScimClientGetByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("load scim client: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(c.Hash), []byte(hash)) != 1 || !c.RevokedAt.IsZero() {
		return nil, unauthorized
	}
	now := s.now()
	if c.LastUsedAt.IsZero() || now.Sub(c.LastUsedAt) >= auth.LastUsedResolution {
		err := s.st.InTx(r.Context(), func(q store.Queries) error {
			fresh, err := q.ScimClientGetByID(r.Context(), c.ID)
			if err != nil {
				return err
			}
			if !fresh.RevokedAt.IsZero() {
				return nil
			}
			fresh.LastUsedAt = now
			return q.ScimClientUpdate(r.Context(), fresh)
		})
		if err != nil {
			return nil, fmt.Errorf("record scim client use: %w", err)
		}
	}
	return c, nil
}

// maxTxAttempts bounds the retries of a write that lost a race with a
// concurrent write of the same resource (two PATCHes of one group).
const maxTxAttempts = 5

// inTx runs fn in a transaction, again when it failed with a bare
// store.ErrConflict (a version or insert race: the resource changed under
// it); uniqueness violations are checked beforehand and reported as
// scimErrors, which are not retried.
func (s *Server) inTx(ctx context.Context, fn func(q store.Queries) error) error {
	var err error
	for range maxTxAttempts {
		err = s.st.InTx(ctx, fn)
		if _, isScim := errors.AsType[*scimError](err); isScim || !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}

func (s *Server) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// readBody reads a bounded request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errInvalidSyntax("cannot read the body: " + err.Error())
	}
	if len(b) > maxBody {
		return nil, &scimError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
	}
	return b, nil
}

// fail logs internal errors and writes err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *scimError
	if !errors.As(err, &se) && fromAccess(err).Status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "scim request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}

// audit appends an event by the request's client.
func audit(ctx context.Context, q store.Queries, now time.Time, action, subjType, subjID string, before, after any, data map[string]any) error {
	c := clientFrom(ctx)
	actor := access.SystemActor
	if c != nil {
		actor = c.ID
		if data == nil {
			data = map[string]any{}
		}
		data["client"] = c.Name
	}
	e := &access.Event{ID: ids.New("evt", now), Time: now, ActorID: actor, Action: action, SubjectType: subjType,
		SubjectID: subjID, Before: access.Snapshot(before), After: access.Snapshot(after)}
	if len(data) > 0 {
		e.Data = access.Snapshot(data)
	}
	if err := q.EventAppend(ctx, e); err != nil {
		return fmt.Errorf("append audit event %s: %w", action, err)
	}
	return nil
}

// pageParams reads startIndex (1-based; below 1 is 1) and count (default
// 100, at most 1000; 0 asks only for totalResults).
func pageParams(r *http.Request) (start, count int, err error) {
	start, count = 1, defaultCount
	if v := r.URL.Query().Get("startIndex"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return 0, 0, errInvalidValue("startIndex must be an integer")
		}
		start = max(n, 1)
	}
	if v := r.URL.Query().Get("count"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return 0, 0, errInvalidValue("count must be an integer")
		}
		count = min(max(n, 0), maxCount)
	}
	return start, count, nil
}

// Page sizes of list responses.
const (
	defaultCount = 100
	maxCount     = 1000
)

// listResponse is a ListResponse message.
func listResponse(total, start int, items []any) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{"schemas": []string{schemaListResponse}, "totalResults": total, "startIndex": start,
		"itemsPerPage": len(items), "Resources": items}
}

// location is a resource's URL.
func (s *Server) location(kind, id string) string {
	return s.baseURL + Prefix + "/" + kind + "/" + id
}

// meta is a resource's meta attribute.
func (s *Server) meta(kind, id string, created, modified time.Time, version int) map[string]any {
	return map[string]any{"resourceType": strings.TrimSuffix(kind, "s"), "created": created.UTC().Format(time.RFC3339Nano),
		"lastModified": modified.UTC().Format(time.RFC3339Nano), "location": s.location(kind, id),
		"version": fmt.Sprintf(`W/"%d"`, version)}
}

// projection applies ?attributes= and ?excludedAttributes= to a rendered
// resource (top-level attributes; id, schemas and meta always stay).
func projection(r *http.Request) func(d doc) doc {
	inc := splitAttrs(r.URL.Query().Get("attributes"))
	exc := splitAttrs(r.URL.Query().Get("excludedAttributes"))
	return func(d doc) doc {
		if len(inc) > 0 {
			out := doc{}
			for k, v := range d {
				lk := strings.ToLower(k)
				if lk == "id" || lk == "schemas" || lk == "meta" || inc[lk] {
					out[k] = v
				}
			}
			d = out
		}
		for k := range d {
			if exc[strings.ToLower(k)] {
				delete(d, k)
			}
		}
		return d
	}
}

func splitAttrs(s string) map[string]bool {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	out := map[string]bool{}
	for a := range strings.SplitSeq(s, ",") {
		a = strings.ToLower(strings.TrimSpace(a))
		// "urn:...:User:name.givenName" and "name.givenName" keep "name".
		if i := strings.LastIndex(a, ":"); i >= 0 && strings.HasPrefix(a, "urn:") && !strings.EqualFold(a, strings.ToLower(SchemaEnterprise)) {
			a = a[i+1:]
		}
		a, _, _ = strings.Cut(a, ".")
		if a != "" {
			out[a] = true
		}
	}
	return out
}

package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// eventJSON is an audit event. Timelines leave out the snapshots and
// hashes; the audit log has them.
type eventJSON struct {
	Seq         int64           `json:"seq"`
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Actor       userRef         `json:"actor"`
	Action      string          `json:"action"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Data        json.RawMessage `json:"data,omitempty"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	PrevHash    string          `json:"prev_hash,omitempty"`
	Hash        string          `json:"hash,omitempty"`
}

func renderEvent(e *access.Event, us *users, full bool) eventJSON {
	out := eventJSON{Seq: e.Seq, ID: e.ID, Time: utc(e.Time), Actor: us.ref(e.ActorID), Action: e.Action,
		SubjectType: e.SubjectType, SubjectID: e.SubjectID, Data: e.Data}
	if full {
		out.Before, out.After, out.PrevHash, out.Hash = e.Before, e.After, e.PrevHash, e.Hash
	}
	return out
}

// exportJSON is one line of a JSONL export: the event exactly as hashed,
// so the chain can be checked offline.
type exportJSON struct {
	Seq         int64           `json:"seq"`
	ID          string          `json:"id"`
	Time        string          `json:"time"`
	ActorID     string          `json:"actor_id"`
	Action      string          `json:"action"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

// csvHeader names the columns of a CSV export.
func csvHeader() []string {
	return []string{"seq", "id", "time", "actor_id", "action", "subject_type", "subject_id", "data", "before", "after", "prev_hash", "hash"}
}

func eventTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// auditFilter is the filter of the audit list and export.
type auditFilter struct {
	actor, action, subjectType, subjectID string
	since, until                          time.Time
}

// parseAuditFilter reads the filter parameters into ps.
func (h *handler) parseAuditFilter(ctx context.Context, p *principal, ps *params) (auditFilter, bool, error) {
	var f auditFilter
	actor := ps.user("actor") // "system" is a valid ID: events by Sesame itself
	f.action = ps.one("action")
	if f.action != "" && !validAction(f.action) {
		ps.add("action", `must be an action like request.approved, or a prefix ending in "." like request.`)
	}
	f.subjectType = ps.id("subject_type")
	f.subjectID = ps.id("subject_id")
	f.since, f.until = ps.time("since"), ps.time("until")
	if !f.since.IsZero() && !f.until.IsZero() && !f.until.After(f.since) {
		ps.add("until", "must be after since")
	}
	if err := ps.Err(); err != nil {
		return f, false, err
	}
	id, found, err := h.resolveUser(ctx, p, actor)
	f.actor = id
	return f, found, err
}

// validAction: lowercase letters, digits, _ and dots, at most 64 bytes.
func validAction(s string) bool {
	if len(s) > maxIDLength {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// matches applies f in memory (for the export, which pages by Seq).
func (f auditFilter) matches(e *access.Event) bool {
	switch {
	case f.actor != "" && e.ActorID != f.actor,
		f.subjectType != "" && e.SubjectType != f.subjectType,
		f.subjectID != "" && e.SubjectID != f.subjectID,
		!f.since.IsZero() && e.Time.Before(f.since),
		!f.until.IsZero() && !e.Time.Before(f.until):
		return false
	case f.action == "":
		return true
	case strings.HasSuffix(f.action, "."):
		return strings.HasPrefix(e.Action, f.action)
	}
	return e.Action == f.action
}

func requirePrivileged(p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may read the audit log")
	}
	return nil
}

// listAudit: GET /audit?actor=&action=&subject_type=&subject_id=&since=&until=&cursor=&limit=
// (admins and auditors), newest first.
func (h *handler) listAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := requirePrivileged(p); err != nil {
		return err
	}
	ps := newParams(r, "actor", "action", "subject_type", "subject_id", "since", "until", "cursor", "limit")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	f, found, err := h.parseAuditFilter(r.Context(), p, ps)
	if err != nil {
		return err
	}
	out := page[eventJSON]{Items: []eventJSON{}}
	if !found {
		return h.writeJSON(w, r, http.StatusOK, out)
	}
	evs, next, err := h.st.EventList(r.Context(), store.EventListParams{Page: pg, ActorID: f.actor, Action: f.action,
		SubjectType: f.subjectType, SubjectID: f.subjectID, Since: f.since, Until: f.until})
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), userIDs(evs, func(e *access.Event) []string { return []string{e.ActorID} })...); err != nil {
		return err
	}
	out.NextCursor = next
	for _, e := range evs {
		out.Items = append(out.Items, renderEvent(e, us, true))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// exportBatch is how many events the export and verification read at once.
const exportBatch = 500

// exportAudit: GET /audit/export?format=csv|jsonl&<filters> streams every
// matching event in Seq order as an attachment (admins and auditors). A
// failure after the first byte aborts the response, so a cut export never
// looks complete.
func (h *handler) exportAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := requirePrivileged(p); err != nil {
		return err
	}
	ps := newParams(r, "format", "actor", "action", "subject_type", "subject_id", "since", "until")
	format := ps.one("format")
	switch format {
	case "":
		format = "csv"
	case "csv", "jsonl":
	default:
		ps.add("format", "must be csv or jsonl")
	}
	f, found, err := h.parseAuditFilter(r.Context(), p, ps)
	if err != nil {
		return err
	}
	ctx := r.Context()
	batch, err := h.st.EventListAfter(ctx, 0, exportBatch)
	if err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	name := "sesame-audit-" + h.clock.Now().UTC().Format("20060102T150405Z") + "." + format
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/jsonl")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	if err := h.stream(ctx, w, format, batch, func(e *access.Event) bool { return found && f.matches(e) }); err != nil {
		h.log.DebugContext(ctx, "audit export stopped: the client went away", "err", err)
	}
	return nil
}

// stream writes the events from first on, in Seq order, keeping those
// keep accepts. It returns write errors (the client went away); a store
// failure after the first byte aborts the response.
func (h *handler) stream(ctx context.Context, w http.ResponseWriter, format string, first []*access.Event, keep func(*access.Event) bool) error {
	write := h.jsonlWriter(w)
	cw := csv.NewWriter(w)
	if format == "csv" {
		write = func(e *access.Event) error {
			return cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.ID, eventTime(e.Time), e.ActorID, e.Action,
				e.SubjectType, e.SubjectID, string(e.Data), string(e.Before), string(e.After), e.PrevHash, e.Hash})
		}
		if err := cw.Write(csvHeader()); err != nil {
			return err
		}
	}
	rc := http.NewResponseController(w)
	batch := first
	for len(batch) > 0 {
		for _, e := range batch {
			if !keep(e) {
				continue
			}
			if err := write(e); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		last := batch[len(batch)-1].Seq
		var err error
		if batch, err = h.st.EventListAfter(ctx, last, exportBatch); err != nil {
			h.log.ErrorContext(ctx, "audit export failed midway; aborting the response", "after_seq", last, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// jsonlWriter writes one event per line.
func (h *handler) jsonlWriter(w http.ResponseWriter) func(e *access.Event) error {
	enc := json.NewEncoder(w)
	return func(e *access.Event) error {
		return enc.Encode(exportJSON{Seq: e.Seq, ID: e.ID, Time: eventTime(e.Time), ActorID: e.ActorID, Action: e.Action,
			SubjectType: e.SubjectType, SubjectID: e.SubjectID, Before: e.Before, After: e.After, Data: e.Data,
			PrevHash: e.PrevHash, Hash: e.Hash})
	}
}

// verifyJSON is the outcome of a chain verification.
type verifyJSON struct {
	OK bool `json:"ok"`
	// Count is how many events passed, from seq 1.
	Count int64            `json:"count"`
	Error *verifyErrorJSON `json:"error,omitempty"`
}

type verifyErrorJSON struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// verifyAudit: GET /audit/verify checks the whole hash chain (admins and
// auditors). A broken chain is a 200 with ok false: the check worked.
func (h *handler) verifyAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := requirePrivileged(p); err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var v access.ChainVerifier
	var after int64
	out := verifyJSON{OK: true}
	for {
		batch, err := h.st.EventListAfter(r.Context(), after, exportBatch)
		if err != nil {
			return fmt.Errorf("verify events: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if err := v.Next(e); err != nil {
				var ce *access.ChainError
				if !errors.As(err, &ce) {
					return fmt.Errorf("verify events: %w", err)
				}
				out.OK, out.Error = false, &verifyErrorJSON{Seq: ce.Seq, Reason: ce.Reason}
				break
			}
		}
		if !out.OK {
			break
		}
		after = batch[len(batch)-1].Seq
	}
	out.Count = v.Count
	return h.writeJSON(w, r, http.StatusOK, out)
}

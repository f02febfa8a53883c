package ui

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func auditPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/audit", Access: AccessPrivileged, Nav: "audit", Handle: (*Handler).auditLog},
		{Method: http.MethodGet, Path: "/audit/export", Access: AccessPrivileged, Handle: (*Handler).auditExport},
		{Method: http.MethodGet, Path: "/audit/verify", Access: AccessPrivileged, Nav: "audit", Handle: (*Handler).auditVerify},
	}
}

type auditView struct {
	Events                        []*access.Event
	Actor, Action, Subject, Since string
	Next                          string
	Verified                      bool
	VerifyOK                      bool
	VerifyCount                   int64
	VerifyErr                     string
}

// auditFilter reads the filter form: actor email, action (exact or
// "prefix."), subject ("type" or "type:id"), since (a duration ago).
func (h *Handler) auditFilter(c *Ctx, v *auditView) (store.EventListParams, error) {
	q := c.R.URL.Query()
	v.Actor, v.Action, v.Subject, v.Since = strings.TrimSpace(q.Get("actor")), strings.TrimSpace(q.Get("action")), strings.TrimSpace(q.Get("subject")), strings.TrimSpace(q.Get("since"))
	p := store.EventListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 100}, Action: v.Action}
	var fields []access.FieldError
	if len(v.Action) > 100 {
		fields = append(fields, access.FieldError{Field: "action", Message: "too long"})
	}
	if v.Actor != "" {
		u, err := h.st.UserGetByEmail(c.R.Context(), strings.ToLower(v.Actor))
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.ActorID = v.Actor // an ID, or "operator"
		case err != nil:
			return p, err
		default:
			p.ActorID = u.ID
		}
	}
	if v.Subject != "" {
		p.SubjectType, p.SubjectID, _ = strings.Cut(v.Subject, ":")
	}
	if v.Since != "" {
		d, err := access.ParseDuration(v.Since)
		if err != nil {
			fields = append(fields, access.FieldError{Field: "since", Message: err.Error()})
		}
		p.Since = c.Now.Add(-d)
	}
	if len(fields) > 0 {
		return p, access.Invalid("bad filter", fields...)
	}
	return p, nil
}

func (h *Handler) auditLog(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	v := &auditView{}
	p, err := h.auditFilter(c, v)
	if err != nil {
		return err
	}
	events, next, err := h.st.EventList(r.Context(), p)
	if err != nil {
		return err
	}
	v.Events, v.Next = events, next
	return c.Render(w, http.StatusOK, "audit", v)
}

// auditExport streams the filtered log, newest first, as CSV or JSON
// lines (format=csv|jsonl), at most 100,000 events.
func (h *Handler) auditExport(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	v := &auditView{}
	p, err := h.auditFilter(c, v)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "jsonl" {
		return access.Invalid("bad export", access.FieldError{Field: "format", Message: "csv or jsonl"})
	}
	name := "sesame-audit-" + c.Now.Format("20060102T150405Z") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw = csv.NewWriter(w)
		if err := cw.Write([]string{"seq", "id", "time", "actor_id", "action", "subject_type", "subject_id", "data", "before", "after", "prev_hash", "hash"}); err != nil {
			return err
		}
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	p.Limit = 500
	for n := 0; n < 100_000; {
		events, next, err := h.st.EventList(r.Context(), p)
		if err != nil {
			return fmt.Errorf("export: %w", err) // headers are sent: the stream ends short
		}
		for _, e := range events {
			if cw != nil {
				err = cw.Write([]string{fmt.Sprint(e.Seq), e.ID, e.Time.UTC().Format(time.RFC3339Nano), e.ActorID, e.Action, e.SubjectType, e.SubjectID,
					string(e.Data), string(e.Before), string(e.After), e.PrevHash, e.Hash})
			} else {
				err = enc.Encode(e)
			}
			if err != nil {
				return err
			}
		}
		n += len(events)
		if next == "" {
			break
		}
		p.Cursor = next
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}

// auditVerify checks the whole hash chain and shows the result.
func (h *Handler) auditVerify(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	var cv access.ChainVerifier
	v := &auditView{Verified: true, VerifyOK: true}
	var after int64
	for v.VerifyOK {
		batch, err := h.st.EventListAfter(r.Context(), after, 1000)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if err := cv.Next(e); err != nil {
				ce, ok := errors.AsType[*access.ChainError](err)
				if !ok {
					return fmt.Errorf("verify: %w", err)
				}
				v.VerifyOK, v.VerifyErr = false, fmt.Sprintf("event %d: %s", ce.Seq, ce.Reason)
				break
			}
		}
		after = batch[len(batch)-1].Seq
	}
	v.VerifyCount = cv.Count
	return c.Render(w, http.StatusOK, "audit", v)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// eventView is an audit event as the API renders it.
type eventView struct {
	Seq         int64           `json:"seq"`
	Time        time.Time       `json:"time"`
	Actor       userRef         `json:"actor"`
	Action      string          `json:"action"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Data        json.RawMessage `json:"data"`
}

// auditFilterFlags adds the audit filters to f and returns a function
// that writes them into a query.
func auditFilterFlags(f *flags) func(q url.Values) {
	actor := f.fs.String("actor", "", "actor: me, an email, an ID, or system")
	action := f.fs.String("action", "", `action, or a prefix ending in "." (request.)`)
	subjectType := f.fs.String("subject-type", "", "subject type: request, grant, token...")
	subjectID := f.fs.String("subject-id", "", "subject ID")
	since := f.fs.String("since", "", "events at or after this RFC 3339 time")
	until := f.fs.String("until", "", "events before this RFC 3339 time")
	return func(q url.Values) {
		setIf(q, "actor", *actor)
		setIf(q, "action", *action)
		setIf(q, "subject_type", *subjectType)
		setIf(q, "subject_id", *subjectID)
		setIf(q, "since", *since)
		setIf(q, "until", *until)
	}
}

func auditList(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("audit list", "audit list [filters] [--all]", "List audit events, newest first (admins and auditors).",
		"sesame audit list --action request. --since 2025-06-01T00:00:00Z",
		"sesame audit list --subject-id req_01J0...")
	filters := auditFilterFlags(f)
	limit := f.fs.Int("limit", 0, "page size, 1 to 500 (default 50)")
	cursor := f.fs.String("cursor", "", "next_cursor of a previous page")
	all := f.fs.Bool("all", false, "fetch every page")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	q := url.Values{}
	filters(q)
	setIf(q, "cursor", *cursor)
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	pg, raw, err := list[eventView](ctx, c, "/audit", q, *all)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	t := newTable(e.stdout, "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT")
	for _, ev := range pg.Items {
		t.row(strconv.FormatInt(ev.Seq, 10), fmtTime(ev.Time), ev.Actor.String(), ev.Action, ev.SubjectType+" "+ev.SubjectID)
	}
	if err := t.flush(); err != nil {
		return err
	}
	moreHint(e.stderr, pg.NextCursor)
	return nil
}

func auditExport(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("audit export", "audit export [--format csv|jsonl] [--output FILE] [filters]",
		"Export every matching audit event in order (admins and auditors). JSON lines keep each event exactly as hashed.",
		"sesame audit export --format jsonl --output audit.jsonl",
		"sesame audit export --since 2025-06-01T00:00:00Z > june.csv")
	format := f.fs.String("format", "csv", "csv or jsonl")
	output := f.fs.String("output", "", "write to this file instead of standard output")
	filters := auditFilterFlags(f)
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	if *format != "csv" && *format != "jsonl" {
		return usagef("audit export: --format must be csv or jsonl")
	}
	q := url.Values{"format": {*format}}
	filters(q)
	resp, err := c.send(ctx, http.MethodGet, "/audit/export", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w := e.stdout
	var file *os.File
	if *output != "" {
		if file, err = os.Create(*output); err != nil {
			return fmt.Errorf("create %s: %w", *output, err)
		}
		w = file
	}
	_, err = io.Copy(w, resp.Body)
	if err != nil {
		err = fmt.Errorf("export cut short: %w", err)
	}
	if file != nil {
		err = errors.Join(err, file.Close())
	}
	return err
}

func auditVerify(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("audit verify", "audit verify",
		"Check the audit log's hash chain from the first event (admins and auditors). Exits 1 when it is broken.",
		"sesame audit verify")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	var v struct {
		OK    bool  `json:"ok"`
		Count int64 `json:"count"`
		Error *struct {
			Seq    int64  `json:"seq"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	raw, err := c.call(ctx, http.MethodGet, "/audit/verify", nil, nil, &v)
	if err != nil {
		return err
	}
	if f.json {
		if err := printJSON(e.stdout, raw); err != nil {
			return err
		}
	} else if v.OK {
		fmt.Fprintf(e.stdout, "ok: %d events verified\n", v.Count)
	}
	if !v.OK {
		if v.Error == nil {
			return errors.New("audit chain broken")
		}
		return fmt.Errorf("audit chain broken at seq %d: %s (%d events verified before it)", v.Error.Seq, v.Error.Reason, v.Count)
	}
	return nil
}

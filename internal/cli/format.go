package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// userRef is how the API shows a person.
type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// String is the email, or the ID when there is none (the system actor).
func (u userRef) String() string {
	if u.Email != "" {
		return u.Email
	}
	if u.ID != "" {
		return u.ID
	}
	return "-"
}

func emails(us []userRef) string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.String())
	}
	return orDash(strings.Join(out, ", "))
}

// timeLayout is how tables show times (always UTC).
const timeLayout = "2006-01-02 15:04Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) {
	for i, c := range cols {
		cols[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// kv writes "Key:  value" lines aligned.
func kv(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], strings.ReplaceAll(pairs[i+1], "\n", " "))
	}
	return tw.Flush()
}

// moreHint tells how to get the next page.
func moreHint(w io.Writer, cursor string) {
	if cursor != "" {
		fmt.Fprintf(w, "(more: pass --cursor %s, or --all)\n", cursor)
	}
}

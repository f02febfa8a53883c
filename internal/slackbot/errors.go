package slackbot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
)

// userMessage maps an error to what the user reads in Slack: this is the
// one place access.Code becomes a Slack reply. unexpected is true when the
// error carries no code (a bug or an outage) and must be logged.
func userMessage(err error, command string) (text string, unexpected bool) {
	var ae *access.Error
	if !errors.As(err, &ae) {
		return "", true
	}
	msg := upperFirst(ae.Message)
	switch ae.Code {
	case access.CodeInvalid:
		var b strings.Builder
		b.WriteString(msg)
		for _, f := range ae.Fields {
			fmt.Fprintf(&b, "\n• %s: %s", fieldLabel(f.Field), f.Message)
		}
		return b.String(), false
	case access.CodeNotFound:
		return msg + ". It may have been removed, or it is not visible to you.", false
	case access.CodeForbidden:
		return "You can't do that: " + ae.Message + ".", false
	case access.CodeUnauthorized:
		return unlinkedText(command), false
	case access.CodeConflict:
		return msg + ".", false
	case access.CodeRateLimited:
		return "Not yet: " + ae.Message + ".", false
	case access.CodeUnavailable:
		return "Something Sesame depends on is not answering (" + ae.Message + "). Please try again in a minute.", false
	}
	return msg, false
}

// errorText is userMessage, with unexpected errors logged under a
// reference the user can quote.
func (b *Bot) errorText(ctx context.Context, err error) string {
	text, unexpected := userMessage(err, b.command)
	if !unexpected {
		return text
	}
	ref := ids.New("err", b.now())
	b.log.ErrorContext(ctx, "slack request failed", "ref", ref, "err", err)
	return "Something went wrong on Sesame's side (reference `" + ref + "`). Please try again, or give the reference to your Sesame admin."
}

// fieldErrors returns an invalid error's field messages, keyed by field.
func fieldErrors(err error) (map[string][]string, bool) {
	var ae *access.Error
	if !errors.As(err, &ae) || ae.Code != access.CodeInvalid || len(ae.Fields) == 0 {
		return nil, false
	}
	out := map[string][]string{}
	for _, f := range ae.Fields {
		out[f.Field] = append(out[f.Field], f.Message)
	}
	return out, true
}

// fieldLabel names a workflow field the way the forms do.
func fieldLabel(field string) string {
	switch {
	case strings.HasPrefix(field, "entitlements"):
		return "roles"
	case field == "approvers":
		return "approvers"
	}
	return field
}

func unlinkedText(command string) string {
	return "I don't know who you are in Sesame yet: your Slack account isn't linked to a Sesame user " +
		"(your Slack email is unconfirmed or doesn't match one). Run `" + command + " login` to link it."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

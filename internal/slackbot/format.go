package slackbot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Block Kit limits the views stay within (slackfake enforces them).
const (
	maxOptions      = 100
	maxOptionText   = 75
	maxOptionValue  = 150
	maxSectionText  = 3000
	maxFieldText    = 2000
	maxModalTitle   = 24
	maxMessageBlock = 50
	maxViewBlocks   = 100
	maxErrorText    = 500
)

// escape makes user-provided text safe in mrkdwn: Slack reads &, < and > as
// control characters (<!channel>, <@U123>, links).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate shortens s to at most n characters, ending in "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// oneLine collapses whitespace so a text fits a field or an option.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// section is a mrkdwn section, its text cut to the section limit.
func section(blockID, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(md(truncate(text, maxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(blockID))
}

func sectionWith(blockID, text string, acc slack.BlockElement) *slack.SectionBlock {
	return slack.NewSectionBlock(md(truncate(text, maxSectionText)), nil, slack.NewAccessory(acc), slack.SectionBlockOptionBlockID(blockID))
}

func fields(blockID string, fs ...string) *slack.SectionBlock {
	objs := make([]*slack.TextBlockObject, 0, len(fs))
	for _, f := range fs {
		objs = append(objs, md(truncate(f, maxFieldText)))
	}
	return slack.NewSectionBlock(nil, objs, nil, slack.SectionBlockOptionBlockID(blockID))
}

func contextText(blockID, text string) *slack.ContextBlock {
	return slack.NewContextBlock(blockID, md(truncate(text, maxSectionText)))
}

func header(blockID, text string) *slack.HeaderBlock {
	return slack.NewHeaderBlock(plain(truncate(text, 150)), slack.HeaderBlockOptionBlockID(blockID))
}

func button(actionID, text, value string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(truncate(text, 75)))
	b.Style = style
	return b
}

// option is a select option with text and description cut to Slack's
// limits.
func option(value, text, description string) *slack.OptionBlockObject {
	o := slack.NewOptionBlockObject(value, plain(truncate(oneLine(text), maxOptionText)), nil)
	if d := oneLine(description); d != "" {
		o.Description = plain(truncate(d, maxOptionText))
	}
	return o
}

// when renders t for Slack: in the reader's time zone, with a UTC fallback.
func when(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// shortHash is a stable 8-hex digest, to tie a block_id to the options it
// offers (Slack keeps entered values only while block_id is unchanged).
func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:4])
}

// actionVerb is the part of an action_id before ":" (action_ids are made
// unique per view with a suffix; the handler only looks at the verb).
func actionVerb(actionID string) string {
	verb, _, _ := strings.Cut(actionID, ":")
	return verb
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

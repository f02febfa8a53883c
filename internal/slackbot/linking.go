package slackbot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// Linker starts linking a Slack user to a Sesame user: Start returns a URL
// where the person signs in. CodeLinker's URL leads to the dashboard's
// /link/slack, where the signed-in user confirms (an admin can also
// complete the code with "sesame slack link").
type Linker interface {
	Start(ctx context.Context, slackUserID string) (url string, err error)
}

// CodeLinker issues link codes that are signed, expiring tokens:
// base64url(slackUserID "|" expiry "|" HMAC-SHA256(secret, both)). No
// state is stored: the code proves that Sesame issued it for that Slack
// user, and CompleteLink binds it to the Sesame user with a given email.
// A code is usable once in effect: after it links a Slack user, another
// use can only confirm the same link. CodeFor's codes (and Start's, given WithSlackIdentity)
// also carry the Slack user's name and workspace under the same MAC
// (base64url("v2|" id "|" expiry "|" name "|" workspace "|" MAC)), so the
// dashboard can show whose Slack account a code links.
type CodeLinker struct {
	st      store.Store
	clock   clock.Clock
	secret  []byte
	baseURL string
	ttl     time.Duration
}

// NewCodeLinker returns a CodeLinker. secret must have at least 16 bytes.
func NewCodeLinker(st store.Store, clk clock.Clock, secret []byte, baseURL string, ttl time.Duration) (*CodeLinker, error) {
	if len(secret) < 16 {
		return nil, errors.New("the link secret must have at least 16 bytes")
	}
	if ttl <= 0 {
		ttl = LinkTTL
	}
	return &CodeLinker{st: st, clock: clk, secret: secret, baseURL: strings.TrimRight(baseURL, "/"), ttl: ttl}, nil
}

// ErrBadLinkCode is returned for a link code that is malformed, forged or
// expired.
var ErrBadLinkCode = errors.New("invalid or expired link code")

func (l *CodeLinker) mac(slackUserID string, exp int64) []byte {
	m := hmac.New(sha256.New, l.secret)
	fmt.Fprintf(m, "sesame-slack-link|%s|%d", slackUserID, exp)
	return m.Sum(nil)
}

// Code issues a code for slackUserID, valid for the linker's TTL.
func (l *CodeLinker) Code(slackUserID string) string {
	exp := l.clock.Now().Add(l.ttl).Unix()
	raw := slackUserID + "|" + strconv.FormatInt(exp, 10) + "|" + base64.RawURLEncoding.EncodeToString(l.mac(slackUserID, exp))
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// maxLinkLabel bounds the Slack name and workspace a code carries (bytes),
// keeping codes under Verify's 512 characters.
const maxLinkLabel = 60

type linkLabelsKey struct{}

type linkLabels struct{ name, team string }

// WithSlackIdentity returns ctx carrying the name (handle or display name)
// and workspace of the Slack user asking for a link: CodeLinker.Start signs
// them into the code, so the dashboard can show whose Slack account is
// about to be linked (not just a raw user ID).
func WithSlackIdentity(ctx context.Context, name, team string) context.Context {
	return context.WithValue(ctx, linkLabelsKey{}, linkLabels{name: name, team: team})
}

// clipLabel keeps at most maxLinkLabel bytes of valid UTF-8.
func clipLabel(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "")
	for len(s) > maxLinkLabel {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

func (l *CodeLinker) macLabeled(slackUserID string, exp int64, name, team string) []byte {
	m := hmac.New(sha256.New, l.secret)
	fmt.Fprintf(m, "sesame-slack-link-v2|%s|%d|%s|%s", slackUserID, exp, name, team)
	return m.Sum(nil)
}

// CodeFor issues a code for slackUserID that also carries, signed, the
// Slack user's name and workspace (as Slack reported them when the person
// ran /access login). Describe returns them.
func (l *CodeLinker) CodeFor(slackUserID, name, team string) string {
	name, team = clipLabel(name), clipLabel(team)
	if name == "" && team == "" {
		return l.Code(slackUserID)
	}
	exp := l.clock.Now().Add(l.ttl).Unix()
	enc := base64.RawURLEncoding.EncodeToString
	n, t := enc([]byte(name)), enc([]byte(team))
	raw := "v2|" + slackUserID + "|" + strconv.FormatInt(exp, 10) + "|" + n + "|" + t + "|" + enc(l.macLabeled(slackUserID, exp, n, t))
	return enc([]byte(raw))
}

// Start returns the link URL for slackUserID (BaseURL + "/slack/link?code=").
// The code carries the name and workspace of WithSlackIdentity, if ctx has
// them.
func (l *CodeLinker) Start(ctx context.Context, slackUserID string) (string, error) {
	if !slackIDPattern.MatchString(slackUserID) {
		return "", fmt.Errorf("start link: bad Slack user ID %q", slackUserID)
	}
	lb, _ := ctx.Value(linkLabelsKey{}).(linkLabels) // none: a code without them
	return l.baseURL + "/slack/link?code=" + url.QueryEscape(l.CodeFor(slackUserID, lb.name, lb.team)), nil
}

// Verify checks code and returns the Slack user it was issued for.
func (l *CodeLinker) Verify(code string) (string, error) {
	id, _, _, err := l.Describe(code)
	return id, err
}

// Describe checks code and returns the Slack user it was issued for, with
// the name and workspace it carries ("" when the code was issued without
// them).
func (l *CodeLinker) Describe(code string) (slackUserID, name, team string, err error) {
	if len(code) > 512 {
		return "", "", "", ErrBadLinkCode
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(code))
	if err != nil {
		return "", "", "", ErrBadLinkCode
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) == 6 && parts[0] == "v2" {
		return l.describeLabeled(parts[1:])
	}
	id, err := l.verifyPlain(parts)
	return id, "", "", err
}

// describeLabeled checks id|exp|name|team|sig of a CodeFor code.
func (l *CodeLinker) describeLabeled(parts []string) (slackUserID, name, team string, err error) {
	bad := func() (string, string, string, error) { return "", "", "", ErrBadLinkCode }
	if !slackIDPattern.MatchString(parts[0]) {
		return bad()
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return bad()
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || !hmac.Equal(sig, l.macLabeled(parts[0], exp, parts[2], parts[3])) {
		return bad()
	}
	if l.clock.Now().Unix() > exp {
		return bad()
	}
	n, err1 := base64.RawURLEncoding.DecodeString(parts[2])
	t, err2 := base64.RawURLEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return bad()
	}
	return parts[0], string(n), string(t), nil
}

// verifyPlain checks id|exp|sig of a Code code.
func (l *CodeLinker) verifyPlain(parts []string) (string, error) {
	if len(parts) != 3 || !slackIDPattern.MatchString(parts[0]) {
		return "", ErrBadLinkCode
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", ErrBadLinkCode
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, l.mac(parts[0], exp)) {
		return "", ErrBadLinkCode
	}
	if l.clock.Now().Unix() > exp {
		return "", ErrBadLinkCode
	}
	return parts[0], nil
}

// CompleteLink binds the Slack user of code to the active Sesame user with
// userEmail (the person who signed in, or whom an admin vouches for). It
// returns ErrBadLinkCode for a bad code and coded errors when the email is
// unknown or either side is already linked elsewhere. The link is audited.
func (l *CodeLinker) CompleteLink(ctx context.Context, code, userEmail string) (*access.User, error) {
	slackID, err := l.Verify(code)
	if err != nil {
		return nil, err
	}
	return bindSlackUser(ctx, l.st, l.clock.Now(), slackID, userEmail, "code")
}

// CompleteLink completes a /access login link with the bot's CodeLinker
// (see CodeLinker.CompleteLink). It fails when a custom Linker is
// configured.
func (b *Bot) CompleteLink(ctx context.Context, code, userEmail string) (*access.User, error) {
	cl, ok := b.linker.(*CodeLinker)
	if !ok {
		return nil, errors.New("slackbot: the configured Linker does not complete codes")
	}
	return cl.CompleteLink(ctx, code, userEmail)
}

// bindSlackUser sets the SlackUserID of the user with email, in one
// transaction with its audit event.
func bindSlackUser(ctx context.Context, st store.Store, now time.Time, slackID, email, method string) (*access.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var out *access.User
	err := st.InTx(ctx, func(q store.Queries) error {
		u, err := q.UserGetByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return access.Errorf(access.CodeNotFound, "no Sesame user has the email %s", email)
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if !u.Active() {
			return access.Errorf(access.CodeForbidden, "the Sesame user %s is %s", u.Email, u.Status)
		}
		if u.SlackUserID == slackID {
			out = u
			return nil
		}
		if u.SlackUserID != "" {
			return access.Errorf(access.CodeConflict, "%s is already linked to another Slack account", u.Email)
		}
		other, err := q.UserGetBySlackID(ctx, slackID)
		switch {
		case err == nil:
			return access.Errorf(access.CodeConflict, "this Slack account is already linked to %s", other.Email)
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("load user by slack id: %w", err)
		}
		before := *u
		u.SlackUserID = slackID
		u.UpdatedAt = now
		if err := q.UserUpsert(ctx, u); err != nil {
			return fmt.Errorf("save user: %w", err)
		}
		data, err := json.Marshal(map[string]string{"slack_user_id": slackID, "method": method})
		if err != nil {
			return fmt.Errorf("audit data: %w", err)
		}
		if err := q.EventAppend(ctx, &access.Event{ID: ids.New("evt", now), Time: now, ActorID: u.ID, Action: "user.slack_linked",
			SubjectType: "user", SubjectID: u.ID, Before: access.Snapshot(before), After: access.Snapshot(u), Data: data}); err != nil {
			return fmt.Errorf("audit link: %w", err)
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// knownActor returns the Sesame user linked to slackID without asking
// Slack (for type-ahead, where no API call fits).
func (b *Bot) knownActor(ctx context.Context, slackID string) (*access.User, error) {
	u, err := b.st.UserGetBySlackID(ctx, slackID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeUnauthorized, "slack user %s is not linked", slackID)
	}
	if err != nil {
		return nil, fmt.Errorf("load user by slack id: %w", err)
	}
	if !u.Active() {
		return nil, access.Errorf(access.CodeForbidden, "your Sesame account (%s) is %s", u.Email, u.Status)
	}
	return u, nil
}

// actor returns the Sesame user linked to slackID, linking it first when
// Slack reports a confirmed email that matches an unlinked Sesame user.
// Anyone else gets CodeUnauthorized (the reply explains /access login).
func (b *Bot) actor(ctx context.Context, slackID string) (*access.User, error) {
	u, err := b.knownActor(ctx, slackID)
	if access.ErrorCode(err) != access.CodeUnauthorized {
		return u, err
	}
	info, err := b.api.GetUserInfoContext(ctx, slackID)
	switch {
	case slackCode(err) == "user_not_found" || slackCode(err) == "user_not_visible":
		return nil, access.Errorf(access.CodeUnauthorized, "slack user %s is not linked", slackID)
	case err != nil:
		b.log.WarnContext(ctx, "users.info failed; cannot link by email", "slack_user", slackID, "err", err)
		return nil, &access.Error{Code: access.CodeUnavailable, Message: "Slack did not say who you are (" + slackErrorText(err) + ")", Err: err}
	}
	return b.linkByEmail(ctx, slackID, info)
}

// linkByEmail links slackID to the Sesame user with the Slack user's
// email, when Slack says the email is confirmed.
func (b *Bot) linkByEmail(ctx context.Context, slackID string, info *slack.User) (*access.User, error) {
	notLinked := access.Errorf(access.CodeUnauthorized, "slack user %s is not linked", slackID)
	if info == nil || info.IsBot || info.Deleted || info.Profile.Email == "" || !info.IsEmailConfirmed {
		return nil, notLinked
	}
	u, err := bindSlackUser(ctx, b.st, b.now(), slackID, info.Profile.Email, "email")
	switch access.ErrorCode(err) {
	case "":
		if err != nil {
			return nil, err
		}
		b.log.InfoContext(ctx, "linked slack user by confirmed email", "slack_user", slackID, "user", u.ID)
		return u, nil
	case access.CodeForbidden:
		return nil, err
	default:
	}
	b.log.InfoContext(ctx, "slack user not linked by email", "slack_user", slackID, "why", err)
	return nil, notLinked
}

package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"
)

// slackCode returns Slack's error string of an API error ("" if none).
func slackCode(err error) string {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return se.Err
	}
	return ""
}

// slackErrorText describes an API error for a user.
func slackErrorText(err error) string {
	_, limited := errors.AsType[*slack.RateLimitedError](err)
	switch {
	case limited:
		return "Slack asked Sesame to slow down"
	case slackCode(err) == "expired_trigger_id", slackCode(err) == "exchanged_trigger_id":
		return "it took too long"
	case slackCode(err) != "":
		return "Slack said " + slackCode(err)
	}
	return "Slack did not answer"
}

// gone reports API errors that a retry cannot fix when updating a message
// (it was deleted, or the conversation is gone).
func gone(err error) bool {
	return slices.Contains([]string{"message_not_found", "channel_not_found", "cant_update_message", "is_archived",
		"not_in_channel", "edit_window_closed"}, slackCode(err))
}

// imChannel returns the bot's IM channel with Slack user id.
func (b *Bot) imChannel(ctx context.Context, userID string) (string, error) {
	if ch, ok := b.ims.get(userID); ok {
		return ch, nil
	}
	ch, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{userID}, ReturnIM: true})
	if err != nil {
		return "", fmt.Errorf("conversations.open with %s: %w", userID, err)
	}
	b.ims.put(userID, ch.ID)
	return ch.ID, nil
}

// tell shows text to the user of an interaction, where they are: an
// ephemeral message under a message they clicked, or a small modal over a
// modal or the Home tab. Failures are logged (the ack is already decided).
func (b *Bot) tell(ctx context.Context, ic *slack.InteractionCallback, title, text string) {
	var err error
	switch {
	case ic.Container.Type == "message" || ic.Container.ChannelID != "":
		ch := ic.Container.ChannelID
		if ch == "" {
			ch = ic.Channel.ID
		}
		_, err = b.api.PostEphemeralContext(ctx, ch, ic.User.ID, slack.MsgOptionText(text, false))
	case ic.View.Type == slack.VTModal && ic.TriggerID != "":
		_, err = b.api.PushViewContext(ctx, ic.TriggerID, noticeModal(ic.User.ID, title, text))
	case ic.TriggerID != "":
		_, err = b.api.OpenViewContext(ctx, ic.TriggerID, noticeModal(ic.User.ID, title, text))
	default:
		err = errors.New("no way to reach the user")
	}
	if err != nil {
		b.log.WarnContext(ctx, "could not show a reply in slack", "user", ic.User.ID, "text", strings.SplitN(text, "\n", 2)[0], "err", err)
	}
}

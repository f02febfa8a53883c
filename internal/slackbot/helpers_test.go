package slackbot

import (
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

func workflowParams(ent string, approvers ...string) workflow.SubmitParams {
	return workflow.SubmitParams{Entitlements: []string{ent}, Reason: "needed for the incident", Approvers: approvers}
}

func decideApprove(reqID string) workflow.DecideParams {
	return workflow.DecideParams{RequestID: reqID, Outcome: access.Approve}
}

// buttonPayload is a crafted block_actions payload: user clicks a button
// with verb and value in their IM (nothing checks they were shown it).
func buttonPayload(b *testBundle, user, verb, value string) map[string]any {
	ch := "D" + strings.ToUpper(user)
	return map[string]any{
		"type": "block_actions", "user": map[string]any{"id": sid(user), "name": user}, "api_app_id": "A0FAKE",
		"team": map[string]any{"id": "T0FAKE"}, "trigger_id": b.slack.IssueTrigger(sid(user)),
		"container": map[string]any{"type": "message", "channel_id": ch, "message_ts": "1.000001"},
		"channel":   map[string]any{"id": ch},
		"actions":   []any{map[string]any{"type": "button", "action_id": verb, "block_id": "decide", "value": value}},
	}
}

// submissionPayload is a crafted view_submission of a form with metadata m.
func submissionPayload(b *testBundle, user string, m meta, values map[string]any) map[string]any {
	if values == nil {
		values = map[string]any{}
	}
	return map[string]any{
		"type": "view_submission", "user": map[string]any{"id": sid(user), "name": user}, "api_app_id": "A0FAKE",
		"team": map[string]any{"id": "T0FAKE"}, "trigger_id": b.slack.IssueTrigger(sid(user)),
		"view": map[string]any{"id": "VCRAFTED", "type": "modal", "callback_id": m.K, "private_metadata": encodeMeta(m),
			"hash": "1.x", "state": map[string]any{"values": values}},
	}
}

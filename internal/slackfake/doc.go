// Package slackfake is a strict, stateful fake of the parts of Slack that
// Sesame talks to, for tests. It plays both sides of Slack:
//
//   - the Web API (auth.test, chat.postMessage, chat.update,
//     chat.postEphemeral, conversations.open, views.open/push/update/publish,
//     users.info, users.lookupByEmail, apps.connections.open), enforcing the
//     documented Block Kit limits, trigger_id single use and 3 s expiry,
//     per-method rate limits (429 + Retry-After) and answering with Slack's
//     error strings (ok:false);
//   - incoming webhooks (AddWebhook, webhooks.go): per-URL state (ok,
//     revoked, removed, prohibited, archived channel), body validation and
//     one message per second per webhook (429 + Retry-After);
//   - the Slack client of simulated users: it sends slash commands, button
//     clicks, select changes, type-ahead (block_suggestion) and modal
//     submissions to the app, over signed HTTP requests (HTTP mode) or over a
//     Socket Mode WebSocket (apps.connections.open + envelopes acked by
//     envelope_id), waits for the ack within 3 s, and applies the
//     acknowledgement as Slack would (response_action errors/update/push/
//     clear on modals, the ephemeral answer of a slash command, the options
//     of a type-ahead).
//
// A user can only click a button or pick an option that exists in a view
// or message the app showed them; SendInteraction sends a crafted payload
// for tests of forged requests. Everything the app sent is recorded (Calls,
// DMs, Views, Ephemerals) and every protocol mistake the fake noticed (a
// late ack, errors keyed by a non-input block, an option list over 100) is
// kept in Violations.
//
// Time (trigger expiry, request signatures, rate-limit windows) comes from
// Options.Clock so tests can drive it; network keep-alive (WebSocket pings)
// and the wait for acks use real time.
package slackfake

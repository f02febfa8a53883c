// Package slackbot is Sesame's Slack front end: the /access slash command,
// the request, decision and extension modals, the App Home tab, the DMs
// to requesters, approvers and app owners (a workflow.Notifier), and the
// linking of Slack users to Sesame users.
//
// It connects over Socket Mode (RunSocketMode, the default: no public URL)
// or HTTP (HTTPHandler, mounted at /slack/), with one set of handlers.
// Every request is acknowledged within Slack's 3 seconds: the work done
// before the ack (reading the catalog, opening or updating a modal,
// recording a decision) runs under a budget, and anything else (DMs,
// updating approvers' copies of a message) goes through the workflow's
// job queue by way of the Notifier, which returns errors so deliveries are
// retried with backoff.
//
// The bot decides nothing: every action is a workflow use case called
// with the Sesame user linked to the Slack user, and the workflow checks
// eligibility on the server. Button values carry only an ID; view
// private_metadata carries state, is validated on every use, and is never
// trusted for authorization.
//
// Views and messages are built by pure functions (modal_*.go, home.go,
// messages.go) returning slack.ModalViewRequest, slack.HomeTabViewRequest
// or blocks, golden-tested in testdata/*.golden (go test
// ./internal/slackbot -update refreshes them).
package slackbot

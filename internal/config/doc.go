// Package config reads Sesame's configuration: one YAML file (optional),
// then environment variables, then defaults, validated as a whole.
//
// Load and Parse never stop at the first mistake: they return a
// *ValidationError listing every problem as "file:line: path: message"
// (YAML syntax, unknown keys, wrong types, bad durations and ids,
// duplicates, references to users, apps or entitlements that are not
// configured, policy rules). Messages never contain secrets, and
// Config.String and Config.Redacted hide them.
//
// Every scalar key can be overridden by an environment variable named
// SESAME_ + the key's path upper-cased with "_" (SESAME_SLACK_BOT_TOKEN for
// slack.bot_token); EnvVars lists them. Lists (the catalog, users, on-call
// rotations and policies) are file-only, and so is
// org.policy_changes.two_person_rule: the environment cannot turn the
// review of policy changes off.
//
// A configuration without catalog.apps runs the embedded demo catalog,
// users and policies (Config.Demo), checked by the same rules.
//
// The package has no global state and reads no environment itself: the
// caller passes a getenv function (os.Getenv in cmd/sesame).
package config

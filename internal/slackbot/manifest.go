package slackbot

import (
	"strings"

	"github.com/slack-go/slack"
	"gopkg.in/yaml.v3"
)

// Scopes are the bot token scopes Sesame needs, each for one reason:
// commands (the slash command), chat:write (DMs and updating them),
// im:write (opening the DM), users:read and users:read.email (linking
// Slack users to Sesame users by confirmed email).
func Scopes() []string {
	return []string{"commands", "chat:write", "im:write", "users:read", "users:read.email"}
}

// Manifest returns the Slack app manifest (YAML) for Sesame: the slash
// command, the bot scopes, the Home and Messages tabs, interactivity and
// the app_home_opened event. mode is ModeSocket (no URLs; Socket Mode on)
// or ModeHTTP (request URLs under baseURL + "/slack/"). command defaults
// to DefaultCommand.
func Manifest(mode, command, baseURL string) string {
	if command == "" {
		command = DefaultCommand
	}
	if !strings.HasPrefix(command, "/") {
		command = "/" + command
	}
	base := strings.TrimRight(baseURL, "/")
	httpMode := mode == ModeHTTP
	url := func(path string) string {
		if !httpMode {
			return ""
		}
		return base + "/slack/" + path
	}
	m := slack.Manifest{
		Display: slack.Display{
			Name:            "Sesame",
			Description:     "Just-in-time access to apps, approved in Slack.",
			BackgroundColor: "#1d3b53",
		},
		Features: slack.Features{
			AppHome: slack.AppHome{HomeTabEnabled: true, MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: true},
			BotUser: slack.BotUser{DisplayName: "Sesame", AlwaysOnline: true},
			SlashCommands: []slack.ManifestSlashCommand{{
				Command:     command,
				Description: "Request access to an app",
				UsageHint:   "[app] | list | login | help",
				Url:         url("commands"),
			}},
		},
		OAuthConfig: slack.OAuthConfig{Scopes: slack.OAuthScopes{Bot: Scopes()}},
		Settings: slack.Settings{
			EventSubscriptions: &slack.EventSubscriptions{RequestUrl: url("events"), BotEvents: []string{"app_home_opened"}},
			Interactivity:      &slack.Interactivity{IsEnabled: true, RequestUrl: url("interactions"), MessageMenuOptionsUrl: url("options")},
			SocketModeEnabled:  !httpMode,
		},
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return "# cannot render the manifest: " + err.Error() + "\n"
	}
	head := "# Slack app manifest for Sesame (socket mode).\n"
	if httpMode {
		head = "# Slack app manifest for Sesame (http mode).\n"
		if !strings.HasPrefix(base, "https://") {
			head += "# WARNING: Slack sends requests only to https URLs it can reach; set server.base_url.\n"
		}
	}
	return head + "# Create the app at https://api.slack.com/apps?new_app=1 (\"From a manifest\").\n" + string(out)
}

package slackfake

import "strings"

// channelByName turns "#name" into the ID of the channel with that name,
// as chat.postMessage accepts (Slack: "an encoded ID or channel name");
// anything else is returned as it is. Call with s.mu held.
func (s *Server) channelByName(ref string) string {
	name, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return ref
	}
	for _, c := range s.channels {
		if !c.IsIM && c.Name == name {
			return c.ID
		}
	}
	return ref
}

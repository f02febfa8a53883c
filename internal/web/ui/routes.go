package ui

// allPages is the one list of the dashboard's built-in pages. Add your
// pages here with one line (see doc.go).
func allPages() []Page {
	var pages []Page
	pages = append(pages, signinPages()...)
	pages = append(pages, homePages()...)
	pages = append(pages, requestPages()...)
	pages = append(pages, accessPages()...)
	pages = append(pages, catalogPages()...)
	pages = append(pages, peoplePages()...)
	pages = append(pages, policyPages()...)
	pages = append(pages, auditPages()...)
	pages = append(pages, settingsPages()...)
	return pages
}

// menuItem is an entry of the settings menu.
type menuItem struct{ Path, Label string }

// settingsMenu lists the settings sub-pages (add yours).
func settingsMenu() []menuItem {
	return []menuItem{
		{Path: "/settings", Label: "Server and Slack"},
		{Path: "/settings/alerts", Label: "Security alerts"},
		{Path: "/settings/integrations", Label: "Integrations"},
	}
}

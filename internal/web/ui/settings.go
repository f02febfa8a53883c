package ui

func settingsPages() []Page { return nil }

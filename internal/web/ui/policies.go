package ui

func policyPages() []Page { return nil }

package ui

func auditPages() []Page { return nil }

package ui

func catalogPages() []Page { return nil }

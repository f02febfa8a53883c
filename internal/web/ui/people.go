package ui

func peoplePages() []Page { return nil }

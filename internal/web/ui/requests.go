package ui

func requestPages() []Page { return nil }

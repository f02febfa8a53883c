package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration.
//
// File is the configuration file's name, "demo.yaml" for the embedded demo,
// or "$NAME" when the value came from the environment variable NAME. Line
// and Column are 1-based and zero when unknown (a value from the
// environment, a missing key). Path names the key in the file's layout
// ("catalog.apps[1].entitlements[0].max_duration"); it is empty for
// problems with the whole file (YAML syntax). Message never contains a
// secret value.
type Problem struct {
	File    string
	Line    int
	Column  int
	Path    string
	Message string
}

// String formats the problem as "file:line: path: message", leaving out
// the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a configuration, ordered by
// file, line and column. Load and Parse return it (as error) whenever the
// configuration is unusable.
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line (see Problem.String).
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// pos is where a value was written.
type pos struct {
	file      string
	line, col int
}

// report collects problems and knows where every decoded path was written.
type report struct {
	file     string
	problems []Problem
	// index maps a path ("users[0].email") to where its key or list item
	// was written.
	index map[string]pos
	// unreadable holds the paths whose value could not be decoded: checks
	// of the decoded config say nothing more about them or their children.
	unreadable map[string]bool
}

func newReport(file string) *report {
	return &report{file: file, index: map[string]pos{}, unreadable: map[string]bool{}}
}

// at records a problem at an exact position.
func (r *report) atf(p pos, path, format string, args ...any) {
	r.problems = append(r.problems, Problem{File: p.file, Line: p.line, Column: p.col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// addf records a problem at the position of path, or of its nearest
// ancestor that was written down, or of the file. It records nothing when
// path or an ancestor was unreadable: that problem is already reported.
func (r *report) addf(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if r.unreadable[p] {
			return
		}
	}
	r.atf(r.lookup(path), path, format, args...)
}

// lookup finds where path, or its nearest written ancestor, came from.
func (r *report) lookup(path string) pos {
	for p := path; p != ""; p = parentPath(p) {
		if at, ok := r.index[p]; ok {
			return at
		}
	}
	return pos{file: r.file}
}

// lineOf returns the line path was written on, or 0.
func (r *report) lineOf(path string) int {
	return r.index[path].line
}

// parentPath drops the last element of a path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// err returns the sorted problems as a *ValidationError with every secret
// scrubbed from the messages, or nil when there are none.
func (r *report) err(secrets []string) error {
	if len(r.problems) == 0 {
		return nil
	}
	out := slices.Clone(r.problems)
	for i := range out {
		out[i].Message = scrub(out[i].Message, secrets)
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &ValidationError{Problems: out}
}

// minScrubLen is the shortest secret scrubbed from messages: shorter
// values would garble messages and reveal next to nothing.
const minScrubLen = 4

// scrub replaces every secret in s with "[redacted]".
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= minScrubLen {
			s = strings.ReplaceAll(s, v, redactedValue)
		}
	}
	return s
}

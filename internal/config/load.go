package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadOptions are the checks that need knowledge from outside the file.
// The zero value skips them.
type LoadOptions struct {
	// ConnectorTypes are the registered connector types; an app whose
	// connector type is not among them is a problem. Empty: any type.
	ConnectorTypes []string
	// ValidateConnector, when set, checks an app's connector settings
	// (typically by building the connector from a registry without
	// connecting to anything); its error becomes a problem at the app's
	// connector.settings. It is called only for known types.
	ValidateConnector func(typ string, settings map[string]string) error
}

// Load reads the YAML configuration file at path ("" for none: defaults and
// environment only), applies the environment variables listed by EnvVars
// (read through getenv, typically os.Getenv; nil reads none), fills in
// defaults and validates the result.
//
// It returns a *ValidationError listing every problem found, or an error
// wrapping the file system's (fs.ErrNotExist...) when the file cannot be
// read.
func Load(path string, getenv func(string) string) (*Config, error) {
	return LoadOptions{}.Load(path, getenv)
}

// Parse is Load for a document already in memory; name is the file name
// used in problems ("" with nil data for no file). Its error is always nil
// or a *ValidationError.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	return LoadOptions{}.Parse(name, data, getenv)
}

// Load is the package's Load with o's extra checks.
func (o LoadOptions) Load(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		return o.Parse("", nil, getenv)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return o.Parse(path, data, getenv)
}

// Parse is the package's Parse with o's extra checks.
func (o LoadOptions) Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	c := &Config{File: name}
	r := newReport(name)
	if root := parseYAML(r, name, data); root != nil {
		d := &decoder{r: r, file: name}
		d.config(root, c)
	}
	if len(c.Catalog.Apps) == 0 {
		useDemo(c, r)
	}
	applyEnv(c, r, getenv)
	applyDefaults(c)
	validate(c, r, o)
	if err := r.err(secretValues(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlLine finds the line number in yaml.v3's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses data as one YAML document and returns its root
// mapping, or nil when there is nothing to decode (no data, an empty
// document, or a syntax error, recorded in r).
func parseYAML(r *report, name string, data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			r.atf(yamlErrorPos(name, err), "", "%s", strings.TrimPrefix(yamlLine.ReplaceAllString(err.Error(), ""), "yaml: "))
		}
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		at := pos{file: name, line: next.Line}
		if err != nil {
			at = yamlErrorPos(name, err)
		}
		r.atf(at, "", "only one YAML document is allowed (remove the --- separator)")
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// yamlErrorPos finds the line of a yaml.v3 syntax error. yaml.v3 counts
// lines from 0 in the parser's errors (not in the scanner's); those are the
// messages parserOnly recognises.
func yamlErrorPos(name string, err error) pos {
	at := pos{file: name}
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return at
	}
	line, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return at
	}
	msg := strings.TrimPrefix(err.Error(), m[0])
	if parserOnly(msg) {
		line++
	}
	at.line = line
	return at
}

// parserOnly reports whether msg comes from yaml.v3's parser
// (parserc.go), whose line numbers start at 0.
func parserOnly(msg string) bool {
	switch msg {
	case "did not find expected node content", "did not find expected key", "did not find expected <stream-start>",
		"did not find expected <document start>", "did not find expected '-' indicator", "did not find expected ',' or '}'",
		"did not find expected ',' or ']'", "found undefined tag handle", "found incompatible YAML document",
		"found duplicate %YAML directive", "found duplicate %TAG directive":
		return true
	}
	return false
}

package scimserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// patchRequest is a PatchOp message (RFC 7644 section 3.5.2).
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// patchOp is one operation. Op is matched case-insensitively (Entra sends
// "Replace", "Add", "Remove").
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// maxPatchOps bounds the operations of one PATCH.
const maxPatchOps = 1000

// parsePatch decodes and checks a PatchOp body.
func parsePatch(b []byte) (*patchRequest, error) {
	var p patchRequest
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, errInvalidSyntax("the body is not a PatchOp message: " + err.Error())
	}
	if len(p.Operations) == 0 {
		return nil, errInvalidSyntax("Operations is required")
	}
	if len(p.Operations) > maxPatchOps {
		return nil, errInvalidSyntax(fmt.Sprintf("at most %d operations per PATCH", maxPatchOps))
	}
	for i := range p.Operations {
		op := strings.ToLower(strings.TrimSpace(p.Operations[i].Op))
		switch op {
		case "add", "replace", "remove":
		default:
			return nil, errInvalidSyntax(fmt.Sprintf("operation %d: op %q is not add, replace or remove", i+1, p.Operations[i].Op))
		}
		p.Operations[i].Op = op
		p.Operations[i].Path = strings.TrimSpace(p.Operations[i].Path)
		if op != "remove" && len(p.Operations[i].Value) == 0 {
			return nil, errInvalidValue(fmt.Sprintf("operation %d: %s needs a value", i+1, op))
		}
	}
	return &p, nil
}

// apply runs the operations on d in order.
func (p *patchRequest) apply(d doc) error {
	for i, op := range p.Operations {
		var v any
		if len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &v); err != nil {
				return errInvalidValue(fmt.Sprintf("operation %d: value: %v", i+1, err))
			}
		}
		if err := applyOp(d, op.Op, op.Path, v); err != nil {
			if se, ok := errors.AsType[*scimError](err); ok {
				se.Detail = fmt.Sprintf("operation %d: %s", i+1, se.Detail)
			}
			return err
		}
	}
	return nil
}

// applyOp applies one operation to d.
func applyOp(d doc, op, path string, v any) error {
	if path == "" {
		if op == "remove" {
			return errNoTarget("remove needs a path")
		}
		obj := asDoc(v)
		if obj == nil {
			return errInvalidValue("an operation without a path needs an object value")
		}
		for k, val := range obj {
			if isSchemaURN(k) {
				if ext := asDoc(val); ext != nil {
					target := d.obj(k)
					if target == nil {
						target = doc{}
					}
					for ek, ev := range ext {
						target.set(ek, ev)
					}
					d.set(k, map[string]any(target))
					continue
				}
			}
			// Entra puts attribute paths in the value object
			// ({"name.givenName": "x", "emails[type eq \"work\"].value": "y"}).
			if err := applyOp(d, op, k, val); err != nil {
				return err
			}
		}
		return nil
	}
	p, err := filter.ParsePath([]byte(path))
	if err != nil {
		return errInvalidPath(fmt.Sprintf("path %q: %v", path, err))
	}
	container := d
	if uri := p.AttributePath.URI(); uri != "" && !isCoreURN(uri) {
		container = d.obj(uri)
		if container == nil {
			if op == "remove" {
				return nil
			}
			container = doc{}
		}
		defer d.set(uri, map[string]any(container))
	}
	attr := p.AttributePath.AttributeName
	sub := p.AttributePath.SubAttributeName()
	if p.ValueExpression != nil {
		return applyFiltered(container, op, attr, p.ValueExpression, p.SubAttributeName(), v)
	}
	if sub != "" {
		parent := container.obj(attr)
		if parent == nil {
			if op == "remove" {
				return nil
			}
			parent = doc{}
		}
		if op == "remove" {
			parent.del(sub)
		} else {
			parent.set(sub, v)
		}
		container.set(attr, map[string]any(parent))
		return nil
	}
	switch op {
	case "remove":
		cur, ok := container.get(attr)
		if !ok {
			return nil
		}
		if rm, isList := v.([]any); isList {
			// Entra removes members by listing them in the value.
			if list, isList := cur.([]any); isList {
				container.set(attr, removeValues(list, rm))
				return nil
			}
		}
		container.del(attr)
	case "add":
		cur, _ := container.get(attr)
		if list, isList := cur.([]any); isList {
			container.set(attr, appendValues(list, v))
			return nil
		}
		if isMulti(attr) {
			container.set(attr, appendValues(nil, v))
			return nil
		}
		if obj := asDoc(v); obj != nil {
			if curObj := asDoc(cur); curObj != nil {
				for k, val := range obj {
					curObj.set(k, val)
				}
				return nil
			}
		}
		container.set(attr, v)
	case "replace":
		if isMulti(attr) {
			container.set(attr, appendValues(nil, v))
			return nil
		}
		if obj := asDoc(v); obj != nil {
			if curObj := container.obj(attr); curObj != nil {
				for k, val := range obj {
					curObj.set(k, val)
				}
				return nil
			}
		}
		container.set(attr, v)
	}
	return nil
}

// isMulti reports whether attr is a multi-valued attribute of User or
// Group.
func isMulti(attr string) bool {
	switch strings.ToLower(attr) {
	case "emails", "phonenumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509certificates", "members":
		return true
	}
	return false
}

func isSchemaURN(s string) bool { return strings.HasPrefix(strings.ToLower(s), "urn:") }

func isCoreURN(s string) bool {
	return strings.EqualFold(s, SchemaUser) || strings.EqualFold(s, SchemaGroup)
}

// itemValue is the "value" of a multi-valued item.
func itemValue(it any) (string, bool) {
	if o := asDoc(it); o != nil {
		s, ok := o["value"].(string)
		if !ok {
			v, _ := o.get("value")
			s, ok = v.(string)
		}
		return s, ok
	}
	s, ok := it.(string)
	return s, ok
}

// appendValues adds v (one item or a list) to list, skipping items whose
// value is already there.
func appendValues(list []any, v any) []any {
	add, isList := v.([]any)
	if !isList {
		add = []any{v}
	}
	out := append([]any(nil), list...)
	for _, it := range add {
		if val, ok := itemValue(it); ok && val != "" {
			dup := false
			for _, cur := range out {
				if cv, ok := itemValue(cur); ok && cv == val {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
		}
		out = append(out, it)
	}
	return out
}

// removeValues drops the items of list whose value is among rm's values.
func removeValues(list, rm []any) []any {
	drop := map[string]bool{}
	for _, it := range rm {
		if v, ok := itemValue(it); ok {
			drop[v] = true
		}
	}
	out := make([]any, 0, len(list))
	for _, it := range list {
		if v, ok := itemValue(it); ok && drop[v] {
			continue
		}
		out = append(out, it)
	}
	return out
}

// applyFiltered applies op to the items of attr matching expr (and to
// their sub-attribute sub, when set).
func applyFiltered(container doc, op, attr string, expr filter.Expression, sub string, v any) error {
	list := container.list(attr)
	var matched []int
	for i, it := range list {
		if o := asDoc(it); o != nil && eval(o, expr) {
			matched = append(matched, i)
		}
	}
	if op == "remove" {
		if len(matched) == 0 {
			return nil
		}
		if sub == "" {
			out := make([]any, 0, len(list))
			for i, it := range list {
				if !containsInt(matched, i) {
					out = append(out, it)
				}
			}
			container.set(attr, out)
			return nil
		}
		for _, i := range matched {
			asDoc(list[i]).del(sub)
		}
		container.set(attr, list)
		return nil
	}
	if len(matched) == 0 {
		// Entra adds a work email as "emails[type eq \"work\"].value":
		// create the item the filter describes.
		item, ok := itemFromFilter(expr)
		if !ok {
			return errNoTarget(fmt.Sprintf("no %s item matches the filter", attr))
		}
		if sub != "" {
			item.set(sub, v)
		} else if obj := asDoc(v); obj != nil {
			for k, val := range obj {
				item.set(k, val)
			}
		} else {
			return errInvalidValue("a value filter without a sub-attribute needs an object value")
		}
		container.set(attr, append(list, map[string]any(item)))
		return nil
	}
	for _, i := range matched {
		o := asDoc(list[i])
		if sub != "" {
			o.set(sub, v)
			continue
		}
		obj := asDoc(v)
		if obj == nil {
			return errInvalidValue("a value filter without a sub-attribute needs an object value")
		}
		for k, val := range obj {
			o.set(k, val)
		}
	}
	container.set(attr, list)
	return nil
}

func containsInt(s []int, v int) bool { return slices.Contains(s, v) }

// itemFromFilter builds the item an "a eq v [and b eq w]" filter selects.
func itemFromFilter(expr filter.Expression) (doc, bool) {
	switch e := expr.(type) {
	case *filter.AttributeExpression:
		if e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil {
			return nil, false
		}
		return doc{e.AttributePath.AttributeName: e.CompareValue}, true
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil, false
		}
		l, ok := itemFromFilter(e.Left)
		if !ok {
			return nil, false
		}
		r, ok := itemFromFilter(e.Right)
		if !ok {
			return nil, false
		}
		maps.Copy(l, r)
		return l, true
	}
	return nil, false
}

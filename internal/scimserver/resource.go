package scimserver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SCIM schema URNs.
const (
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaSPConfig     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// doc is a SCIM resource as JSON: attribute names are matched
// case-insensitively (RFC 7643 section 2.1).
type doc map[string]any

// key returns the stored spelling of attribute name in d, or "".
func (d doc) key(name string) string {
	if _, ok := d[name]; ok {
		return name
	}
	for k := range d {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

// get returns attribute name.
func (d doc) get(name string) (any, bool) {
	k := d.key(name)
	if k == "" {
		return nil, false
	}
	return d[k], true
}

// set stores v under name, keeping an existing key's spelling.
func (d doc) set(name string, v any) {
	if k := d.key(name); k != "" {
		d[k] = v
		return
	}
	d[name] = v
}

// del removes attribute name.
func (d doc) del(name string) {
	if k := d.key(name); k != "" {
		delete(d, k)
	}
}

// str returns a string attribute ("" when absent or not a string).
func (d doc) str(name string) string {
	v, _ := d.get(name)
	s, _ := v.(string)
	return s
}

// obj returns a complex attribute, or nil.
func (d doc) obj(name string) doc {
	v, _ := d.get(name)
	return asDoc(v)
}

// asDoc returns v as a doc when it is a JSON object.
func asDoc(v any) doc {
	switch m := v.(type) {
	case map[string]any:
		return doc(m)
	case doc:
		return m
	}
	return nil
}

// list returns a multi-valued attribute (a single value becomes a list of
// one).
func (d doc) list(name string) []any {
	v, ok := d.get(name)
	if !ok || v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// clone deep-copies d through JSON.
func (d doc) clone() doc {
	b, err := json.Marshal(d)
	if err != nil {
		return doc{}
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		return doc{}
	}
	return out
}

// parseDoc decodes a JSON object.
func parseDoc(b []byte) (doc, error) {
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if d == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return d, nil
}

// boolValue reads a SCIM boolean, accepting Entra's "True" and "False"
// strings. ok is false for anything else.
func boolValue(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// scrub removes the attributes a client may send but that the server
// assigns (id, meta, schemas, groups), and passwords, which Sesame never
// keeps.
func scrub(d doc) {
	for _, k := range []string{"id", "meta", "schemas", "groups", "password"} {
		d.del(k)
	}
}

// normalizeUser rewrites what identity providers send into one shape:
// booleans as booleans, the manager as {"value": id} inside the enterprise
// extension. It returns a scimError for values of the wrong type.
func normalizeUser(d doc) error {
	scrub(d)
	if v, ok := d.get("active"); ok {
		b, isBool := boolValue(v)
		if !isBool {
			return errInvalidValue("active must be a boolean")
		}
		d.set("active", b)
	}
	if v, ok := d.get("userName"); ok {
		if _, isStr := v.(string); !isStr {
			return errInvalidValue("userName must be a string")
		}
	}
	for _, name := range []string{"externalId", "displayName", "nickName", "title", "userType", "preferredLanguage", "locale", "timezone"} {
		if v, ok := d.get(name); ok && v != nil {
			if _, isStr := v.(string); !isStr {
				return errInvalidValue(name + " must be a string")
			}
		}
	}
	if v, ok := d.get("name"); ok && v != nil && asDoc(v) == nil {
		return errInvalidValue("name must be an object")
	}
	for _, multi := range []string{"emails", "phoneNumbers", "addresses", "roles", "entitlements", "ims", "photos", "x509Certificates"} {
		items := d.list(multi)
		if items == nil {
			continue
		}
		for _, it := range items {
			e := asDoc(it)
			if e == nil {
				return errInvalidValue(multi + " must be a list of objects")
			}
			if p, ok := e.get("primary"); ok {
				b, isBool := boolValue(p)
				if !isBool {
					return errInvalidValue(multi + ".primary must be a boolean")
				}
				e.set("primary", b)
			}
		}
		d.set(multi, items)
	}
	// Entra may send the manager at the top level ("path": "manager").
	if v, ok := d.get("manager"); ok {
		d.del("manager")
		ext := d.obj(SchemaEnterprise)
		if ext == nil {
			ext = doc{}
		}
		ext.set("manager", v)
		d.set(SchemaEnterprise, map[string]any(ext))
	}
	if v, ok := d.get(SchemaEnterprise); ok {
		ext := asDoc(v)
		if ext == nil {
			return errInvalidValue(SchemaEnterprise + " must be an object")
		}
		if m, ok := ext.get("manager"); ok {
			id, err := managerValue(m)
			if err != nil {
				return err
			}
			if id == "" {
				ext.del("manager")
			} else {
				ext.set("manager", map[string]any{"value": id})
			}
		}
		d.set(SchemaEnterprise, map[string]any(ext))
	}
	return nil
}

// managerValue reads the manager's id from a string, {"value": id} or
// [{"value": id}] ("" removes the manager).
func managerValue(v any) (string, error) {
	switch m := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(m), nil
	case []any:
		if len(m) == 0 {
			return "", nil
		}
		return managerValue(m[0])
	}
	if o := asDoc(v); o != nil {
		mv, _ := o.get("value")
		if mv == nil {
			return "", nil
		}
		s, ok := mv.(string)
		if !ok {
			return "", errInvalidValue("manager.value must be a string")
		}
		return strings.TrimSpace(s), nil
	}
	return "", errInvalidValue("manager must be a string or an object with a value")
}

// userFields are what Sesame takes from a SCIM user.
type userFields struct {
	UserName   string
	ExternalID string
	Email      string
	Name       string
	ManagerID  string
	Active     bool
}

// mapUser reads the Sesame fields of a normalized user document. The email
// is the primary email, else the work email, else the first, else the
// userName when it is an address.
func mapUser(d doc) (userFields, error) {
	f := userFields{UserName: strings.TrimSpace(d.str("userName")), ExternalID: d.str("externalId"), Active: true}
	if f.UserName == "" {
		return f, errInvalidValue("userName is required")
	}
	if len(f.UserName) > 256 {
		return f, errInvalidValue("userName must be at most 256 characters")
	}
	if v, ok := d.get("active"); ok {
		f.Active, _ = v.(bool)
	}
	var emails []doc
	for _, it := range d.list("emails") {
		if e := asDoc(it); e != nil && e.str("value") != "" {
			emails = append(emails, e)
		}
	}
	pick := func(ok func(e doc) bool) string {
		i := slices.IndexFunc(emails, ok)
		if i < 0 {
			return ""
		}
		return emails[i].str("value")
	}
	f.Email = pick(func(e doc) bool { p, _ := e.get("primary"); return p == true })
	if f.Email == "" {
		f.Email = pick(func(e doc) bool { return strings.EqualFold(e.str("type"), "work") })
	}
	if f.Email == "" && len(emails) > 0 {
		f.Email = emails[0].str("value")
	}
	if f.Email == "" && strings.Contains(f.UserName, "@") {
		f.Email = f.UserName
	}
	f.Email = strings.ToLower(strings.TrimSpace(f.Email))
	if f.Email == "" {
		return f, errInvalidValue("the user needs an email: a primary or work email, or a userName that is an address")
	}
	if at := strings.LastIndex(f.Email, "@"); at < 1 || at == len(f.Email)-1 || strings.ContainsAny(f.Email, " \t\r\n<>") {
		return f, errInvalidValue(fmt.Sprintf("email %q is not an address", f.Email))
	}
	f.Name = strings.TrimSpace(d.str("displayName"))
	if n := d.obj("name"); f.Name == "" && n != nil {
		f.Name = strings.TrimSpace(n.str("formatted"))
		if f.Name == "" {
			f.Name = strings.TrimSpace(strings.TrimSpace(n.str("givenName")) + " " + strings.TrimSpace(n.str("familyName")))
		}
	}
	if f.Name == "" {
		f.Name = f.UserName
	}
	if ext := d.obj(SchemaEnterprise); ext != nil {
		if m := asDoc(ext["manager"]); m != nil {
			f.ManagerID = m.str("value")
		}
	}
	return f, nil
}

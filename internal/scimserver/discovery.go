package scimserver

import (
	"net/http"
	"strings"
)

// serviceProviderConfig says what this server supports (RFC 7643 section 5).
func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{schemaSPConfig},
		"documentationUri": "https://github.com/sesame-access/sesame/blob/main/docs/identity.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": false},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A token made with `sesame scim token create --name NAME`, sent as Authorization: Bearer.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.baseURL + Prefix + "/ServiceProviderConfig"},
	})
}

func (s *Server) resourceTypeDocs() []map[string]any {
	return []map[string]any{
		{"schemas": []string{schemaResourceType}, "id": "User", "name": "User", "endpoint": "/Users",
			"description": "A person; a Sesame user", "schema": SchemaUser,
			"schemaExtensions": []any{map[string]any{"schema": SchemaEnterprise, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": s.baseURL + Prefix + "/ResourceTypes/User"}},
		{"schemas": []string{schemaResourceType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
			"description": "A group; approval policies refer to its displayName", "schema": SchemaGroup,
			"meta": map[string]any{"resourceType": "ResourceType", "location": s.baseURL + Prefix + "/ResourceTypes/Group"}},
	}
}

func (s *Server) resourceTypes(w http.ResponseWriter, _ *http.Request) {
	docs := s.resourceTypeDocs()
	items := make([]any, len(docs))
	for i, d := range docs {
		items[i] = d
	}
	writeJSON(w, http.StatusOK, listResponse(len(items), 1, items))
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) {
	for _, d := range s.resourceTypeDocs() {
		if strings.EqualFold(d["id"].(string), r.PathValue("name")) {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeError(w, errNotFound("no resource type "+r.PathValue("name")))
}

// attr describes one attribute in /Schemas.
func attr(name, typ string, multi, required bool, mutability, uniqueness string, sub ...map[string]any) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": multi, "required": required, "caseExact": false,
		"mutability": mutability, "returned": "default", "uniqueness": uniqueness}
	if len(sub) > 0 {
		a["subAttributes"] = sub
	}
	return a
}

func (s *Server) schemaDocs() []map[string]any {
	str := func(name string) map[string]any { return attr(name, "string", false, false, "readWrite", "none") }
	multi := func(name string) map[string]any {
		return attr(name, "complex", true, false, "readWrite", "none", str("value"), str("display"), str("type"),
			attr("primary", "boolean", false, false, "readWrite", "none"))
	}
	loc := func(id string) map[string]any {
		return map[string]any{"resourceType": "Schema", "location": s.baseURL + Prefix + "/Schemas/" + id}
	}
	return []map[string]any{
		{"schemas": []string{schemaSchema}, "id": SchemaUser, "name": "User", "description": "User Account", "meta": loc(SchemaUser),
			"attributes": []any{
				attr("userName", "string", false, true, "readWrite", "server"),
				attr("name", "complex", false, false, "readWrite", "none", str("formatted"), str("familyName"), str("givenName"),
					str("middleName"), str("honorificPrefix"), str("honorificSuffix")),
				str("displayName"), str("nickName"), str("title"), str("userType"), str("preferredLanguage"), str("locale"), str("timezone"),
				attr("active", "boolean", false, false, "readWrite", "none"),
				multi("emails"), multi("phoneNumbers"), multi("roles"),
				attr("groups", "complex", true, false, "readOnly", "none", str("value"), str("display"), str("type")),
			}},
		{"schemas": []string{schemaSchema}, "id": SchemaEnterprise, "name": "EnterpriseUser", "description": "Enterprise User", "meta": loc(SchemaEnterprise),
			"attributes": []any{
				str("employeeNumber"), str("costCenter"), str("organization"), str("division"), str("department"),
				attr("manager", "complex", false, false, "readWrite", "none", str("value"), str("displayName")),
			}},
		{"schemas": []string{schemaSchema}, "id": SchemaGroup, "name": "Group", "description": "Group", "meta": loc(SchemaGroup),
			"attributes": []any{
				attr("displayName", "string", false, true, "readWrite", "server"),
				attr("members", "complex", true, false, "readWrite", "none", str("value"), str("display"), str("type")),
			}},
	}
}

func (s *Server) schemas(w http.ResponseWriter, _ *http.Request) {
	docs := s.schemaDocs()
	items := make([]any, len(docs))
	for i, d := range docs {
		items[i] = d
	}
	writeJSON(w, http.StatusOK, listResponse(len(items), 1, items))
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request) {
	for _, d := range s.schemaDocs() {
		if strings.EqualFold(d["id"].(string), r.PathValue("id")) {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeError(w, errNotFound("no schema "+r.PathValue("id")))
}

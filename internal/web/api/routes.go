package api

import "net/http"

// route is one API operation. Handle returns an error to have it rendered
// as a problem; it writes the response itself on success.
type route struct {
	Method string
	// Path is the full path pattern, with {name} wildcards.
	Path string
	// Public routes need no token.
	Public bool
	// List routes read a page of many rows: at most
	// Config.ListConcurrency of them run at once, so that reads cannot
	// take every core from the writes (see handler.lists).
	List   bool
	Handle func(h *handler, w http.ResponseWriter, r *http.Request, p *principal) error
}

// routeTable is the one list of API routes: New registers it, the
// fallback answers 405 from it, and TestOpenAPIMatchesRoutes checks
// openapi.json against it.
func routeTable() []route {
	return []route{
		{Method: http.MethodGet, Path: Prefix + "/openapi.json", Public: true, Handle: (*handler).openAPI},

		{Method: http.MethodGet, Path: Prefix + "/apps", List: true, Handle: (*handler).listApps},
		{Method: http.MethodGet, Path: Prefix + "/apps/{id}", Handle: (*handler).getApp},
		{Method: http.MethodGet, Path: Prefix + "/apps/{id}/entitlements", Handle: (*handler).listEntitlements},

		{Method: http.MethodPost, Path: Prefix + "/requests", Handle: (*handler).createRequest},
		{Method: http.MethodGet, Path: Prefix + "/requests", List: true, Handle: (*handler).listRequests},
		{Method: http.MethodPost, Path: Prefix + "/requests/preview", Handle: (*handler).previewRequest},
		{Method: http.MethodGet, Path: Prefix + "/requests/{id}", Handle: (*handler).getRequest},
		{Method: http.MethodPost, Path: Prefix + "/requests/{id}/approve", Handle: (*handler).approveRequest},
		{Method: http.MethodPost, Path: Prefix + "/requests/{id}/reject", Handle: (*handler).rejectRequest},
		{Method: http.MethodPost, Path: Prefix + "/requests/{id}/cancel", Handle: (*handler).cancelRequest},
		{Method: http.MethodPost, Path: Prefix + "/requests/{id}/remind", Handle: (*handler).remindRequest},

		{Method: http.MethodGet, Path: Prefix + "/grants", List: true, Handle: (*handler).listGrants},
		{Method: http.MethodGet, Path: Prefix + "/grants/{id}", Handle: (*handler).getGrant},
		{Method: http.MethodPost, Path: Prefix + "/grants/{id}/revoke", Handle: (*handler).revokeGrant},
		{Method: http.MethodPost, Path: Prefix + "/grants/{id}/extend", Handle: (*handler).extendGrant},
		{Method: http.MethodPost, Path: Prefix + "/grants/{id}/complete", Handle: (*handler).completeGrant},
		{Method: http.MethodPost, Path: Prefix + "/grants/{id}/credentials", Handle: (*handler).takeCredentials},

		{Method: http.MethodPost, Path: Prefix + "/policies/simulate", Handle: (*handler).simulatePolicies},
		{Method: http.MethodGet, Path: Prefix + "/policies", Handle: (*handler).getPolicies},
		{Method: http.MethodGet, Path: Prefix + "/policies/changes", List: true, Handle: (*handler).listPolicyChanges},
		{Method: http.MethodPost, Path: Prefix + "/policies/changes", Handle: (*handler).proposePolicyChange},
		{Method: http.MethodGet, Path: Prefix + "/policies/changes/{id}", Handle: (*handler).getPolicyChange},
		{Method: http.MethodPost, Path: Prefix + "/policies/changes/{id}/approve", Handle: (*handler).approvePolicyChange},
		{Method: http.MethodPost, Path: Prefix + "/policies/changes/{id}/reject", Handle: (*handler).rejectPolicyChange},

		{Method: http.MethodGet, Path: Prefix + "/audit", List: true, Handle: (*handler).listAudit},
		{Method: http.MethodGet, Path: Prefix + "/audit/export", Handle: (*handler).exportAudit},
		{Method: http.MethodGet, Path: Prefix + "/audit/verify", Handle: (*handler).verifyAudit},

		{Method: http.MethodGet, Path: Prefix + "/me", Handle: (*handler).getMe},
		{Method: http.MethodGet, Path: Prefix + "/users", List: true, Handle: (*handler).listUsers},
		{Method: http.MethodGet, Path: Prefix + "/users/{id}", Handle: (*handler).getUser},
		{Method: http.MethodPost, Path: Prefix + "/users/{id}/offboard", Handle: (*handler).offboardUser},
		{Method: http.MethodGet, Path: Prefix + "/groups", List: true, Handle: (*handler).listGroups},
		{Method: http.MethodGet, Path: Prefix + "/groups/{id}", Handle: (*handler).getGroup},

		{Method: http.MethodGet, Path: Prefix + "/tokens", Handle: (*handler).listTokens},
		{Method: http.MethodDelete, Path: Prefix + "/tokens/{id}", Handle: (*handler).revokeToken},

		{Method: http.MethodGet, Path: Prefix + "/integrations", Handle: (*handler).listIntegrations},
		{Method: http.MethodPost, Path: Prefix + "/integrations", Handle: (*handler).createIntegration},
		{Method: http.MethodGet, Path: Prefix + "/integrations/{id}", Handle: (*handler).getIntegration},
		{Method: http.MethodPatch, Path: Prefix + "/integrations/{id}", Handle: (*handler).updateIntegration},
		{Method: http.MethodDelete, Path: Prefix + "/integrations/{id}", Handle: (*handler).deleteIntegration},
		{Method: http.MethodPost, Path: Prefix + "/integrations/{id}/test", Handle: (*handler).testIntegration},

		{Method: http.MethodPost, Path: Prefix + "/discovery/events", Handle: (*handler).ingestDiscovery},
		{Method: http.MethodPost, Path: Prefix + "/discovery/sync", Handle: (*handler).syncDiscovery},
		{Method: http.MethodGet, Path: Prefix + "/discovery/apps", List: true, Handle: (*handler).listDiscoveredApps},
		{Method: http.MethodGet, Path: Prefix + "/discovery/accounts", List: true, Handle: (*handler).listAccounts},
		{Method: http.MethodGet, Path: Prefix + "/alerts", List: true, Handle: (*handler).listAlerts},
		{Method: http.MethodGet, Path: Prefix + "/alerts/{id}", Handle: (*handler).getAlert},
		{Method: http.MethodPost, Path: Prefix + "/alerts/{id}/watch", Handle: (*handler).watchAlert},
		{Method: http.MethodPost, Path: Prefix + "/alerts/{id}/ignore", Handle: (*handler).ignoreAlert},
		{Method: http.MethodGet, Path: Prefix + "/settings/alerts", Handle: (*handler).getAlertSettings},
		{Method: http.MethodPut, Path: Prefix + "/settings/alerts", Handle: (*handler).putAlertSettings},
	}
}

// Package ui is Sesame's dashboard: server-rendered pages (html/template,
// templates and static files embedded, no CDN), behind the sign-in of
// package signin. Every action goes through workflow.Service, which checks
// eligibility on the server; a form value is never trusted to say who may
// do what.
//
// # Adding a page
//
// A page is a Page value: method, path pattern (net/http ServeMux syntax),
// who may open it (Access), and a Handle func. To add one:
//
//  1. Write internal/web/ui/yourpage.go with a func returning your pages:
//
//     func alertPages() []Page {
//     return []Page{
//     {Method: http.MethodGet, Path: "/settings/alerts", Access: AccessAdmin, Nav: "settings", Handle: (*Handler).alerts},
//     {Method: http.MethodPost, Path: "/settings/alerts", Access: AccessAdmin, Handle: (*Handler).saveAlerts},
//     }
//     }
//
//  2. Add one line to allPages in routes.go: pages = append(pages, alertPages()...)
//
//  3. Write templates/pages/<name>.html defining "title" and "content"
//     (see home.html), and render it with c.Render(w, http.StatusOK, "<name>", data).
//     In the template, .C is the *Ctx (the signed-in user, CSRF token,
//     time helpers) and .D is your data. Every POST form must carry
//     {{template "csrf" .}}; the handler rejects a POST without a valid
//     token with 403 before your Handle runs.
//
//  4. After a successful POST, redirect with c.Done(w, "/path", "what happened")
//     (a flash message shown on the next page). Return an error to show an
//     error page: *access.Error codes map to 400/403/404/409/429/503,
//     anything else is logged and shown as a 500 without detail.
//
// Pages that need a service of their own are built by an exported func
// taking it and passed in Config.Pages from cmd/sesame/web.go (as
// IntegrationPages does) instead of step 2.
//
// Settings sub-pages appear in the settings menu when they are listed in
// settingsMenu (routes.go). Form posts are limited to 256 KiB.
//
// Security headers (a strict Content-Security-Policy: scripts and styles
// only from /static/, no inline code; nosniff; no framing; no referrer
// off-site) are set for every response, so templates must not use inline
// <script> or style="" attributes.
package ui

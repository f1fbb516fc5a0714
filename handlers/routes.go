package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

// Routes returns the whole HTTP handler: security headers around the
// health probes, the static files, and for everything else cross-origin
// protection around the session manager (which bearer-token API calls
// skip: see withSessions) around the Gin engine. Sessions wrap the engine
// at the http.Handler level so Set-Cookie is written before Gin flushes
// headers.
func (h *Handlers) Routes() http.Handler {
	var handler http.Handler = h.engine()
	handler = h.withSessions(handler)
	handler = http.NewCrossOriginProtection().Handler(handler)
	handler = h.withOriginScheme(handler)
	// The probes and the static files stay outside sessions: see
	// health.go and edge.go.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /static/", staticFiles())
	mux.Handle("GET /favicon.ico", http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently))
	mux.Handle("/", handler)
	return h.withSecurityHeaders(mux)
}

// RouteTable lists every method and path the engine serves. The
// authorization test walks it so that a new route cannot go untested.
func (h *Handlers) RouteTable() gin.RoutesInfo {
	return h.engine().Routes()
}

// engine builds the Gin engine with every route.
func (h *Handlers) engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Metrics first: it must see the status Recovery writes for a panic.
	r.Use(h.metrics.Middleware(), gin.Recovery())
	// Client IPs come from the connection, never from forwarded headers a
	// client could forge to dodge the sign-in rate limits.
	r.SetTrustedProxies(nil) //nolint:errcheck // nil is always accepted
	// identify authenticates by session, or for /api/ by bearer token.
	r.Use(h.identify)

	// A leaf's banner polls this from every page, the sign-in page too:
	// visitors who are not signed in get the short banner.
	r.GET("/leaf/banner", h.handle(h.leafBannerFragment))

	pages := r.Group("/", h.requireSetup)
	pages.GET("/", h.home)
	pages.GET("/initial-system-setup", h.setupPage)
	pages.POST("/initial-system-setup", h.handle(h.setupSubmit))
	pages.GET("/login", h.loginPage)
	pages.POST("/login", h.handle(h.loginSubmit))
	pages.POST("/logout", h.logout)
	signedIn := pages.Group("/", h.requireUser)

	api := r.Group("/api")
	api.GET("/ping", h.ping)
	authed := api.Group("/", h.requireUser)
	authed.GET("/users/whoami", h.whoami)

	// Each resource's page and API routes call the same handlers.
	h.tokenRoutes(signedIn, authed)
	h.templateRoutes(signedIn, authed)
	h.variableRoutes(signedIn, authed)
	h.userRoutes(signedIn, authed)
	h.roleRoutes(signedIn, authed)
	h.leafRoutes(signedIn, authed, api)
	// Everyone's own account: no permission, and only ever their own.
	signedIn.GET("/profile", h.handle(h.profilePage))
	signedIn.POST("/profile/password", h.handle(h.profilePassword))
	signedIn.POST("/profile/sessions/sign-out-others", h.handle(h.profileSignOutOthers))

	r.NoRoute(h.notFound)
	r.NoMethod(h.notFound)
	r.HandleMethodNotAllowed = false
	return r
}

// HTML forms can only GET and POST, so on pages updates are POST /x/:id
// and deletes POST /x/:id/delete (htmx posts to the same URLs); the API
// uses PUT and DELETE.

// tokenRoutes: hidden for everyone by server.ui.hide_api_tokens, else for
// users with use_api_tokens.
func (h *Handlers) tokenRoutes(pages, api *gin.RouterGroup) {
	tokens := func(fn func(*gin.Context) error) []gin.HandlerFunc {
		return []gin.HandlerFunc{h.tokensEnabled, h.requirePerm(models.PermUseAPITokens), h.handle(fn)}
	}
	pages.GET("/api-tokens", tokens(h.listTokens)...)
	pages.POST("/api-tokens", tokens(h.createToken)...)
	pages.GET("/api-tokens/new", tokens(h.newTokenForm)...)
	pages.GET("/api-tokens/:id", tokens(h.tokenPage)...)
	pages.GET("/api-tokens/:id/secret", tokens(h.tokenSecret)...)
	pages.DELETE("/api-tokens/:id", tokens(h.deleteToken)...)
	pages.GET("/api-tokens/:id/delete", tokens(h.confirmDeleteToken)...)
	pages.POST("/api-tokens/:id/delete", tokens(h.deleteToken)...)
	api.GET("/tokens", tokens(h.listTokens)...)
	api.POST("/tokens", tokens(h.createToken)...)
	api.DELETE("/tokens/:id", tokens(h.deleteToken)...)
}

// resource is the handlers of a resource that pages and the API manage
// alike; a nil one is a route the resource does not have.
type resource struct {
	list, get                      func(*gin.Context) error
	newPage                        gin.HandlerFunc
	create, editPage, update, drop func(*gin.Context) error
}

// resourceRoutes registers a resource's standard routes on pages and api,
// each already gated and at the resource's path:
//
//	pages: GET "" (list), GET /new, POST "", GET /:id/edit, POST /:id, POST /:id/delete
//	api:   GET "", POST "", GET /:id, PUT /:id, DELETE /:id
func (h *Handlers) resourceRoutes(pages, api *gin.RouterGroup, r resource) {
	if r.list != nil {
		pages.GET("", h.handle(r.list))
		api.GET("", h.handle(r.list))
	}
	if r.get != nil {
		api.GET("/:id", h.handle(r.get))
	}
	pages.GET("/new", r.newPage)
	pages.POST("", h.handle(r.create))
	api.POST("", h.handle(r.create))
	pages.GET("/:id/edit", h.handle(r.editPage))
	pages.POST("/:id", h.handle(r.update))
	api.PUT("/:id", h.handle(r.update))
	if r.drop != nil {
		pages.POST("/:id/delete", h.handle(r.drop))
		api.DELETE("/:id", h.handle(r.drop))
	}
}

// templateRoutes: reading is for everyone signed in (filtered by zone),
// and a preview for whoever can see the template (see visibleTemplate);
// writing needs manage_templates.
func (h *Handlers) templateRoutes(pages, api *gin.RouterGroup) {
	pages.GET("/templates", h.handle(h.templates))
	pages.GET("/templates/:id/preview", h.handle(h.templatePreview))
	api.GET("/templates", h.handle(h.templates))
	api.GET("/templates/:id", h.handle(h.template))
	api.GET("/templates/:id/preview", h.handle(h.templatePreview))
	gate := h.requirePerm(models.PermManageTemplates)
	h.resourceRoutes(pages.Group("/templates", gate), api.Group("/templates", gate), resource{
		newPage: h.templateNewPage, create: h.templateCreate, editPage: h.templateEditPage,
		update: h.templateUpdate, drop: h.templateDelete,
	})
}

// variableRoutes: every page and API route needs manage_variables. Cluster
// copies on a leaf are named with ?source=cluster.
func (h *Handlers) variableRoutes(pages, api *gin.RouterGroup) {
	gate := h.requirePerm(models.PermManageVariables)
	vars := pages.Group("/variables", gate)
	vars.GET("/:id/reveal", h.handle(h.variable))
	h.resourceRoutes(vars, api.Group("/templatevars", gate), resource{
		list: h.variables, get: h.variable, newPage: h.variableNewPage, create: h.variableCreate,
		editPage: h.variableEditPage, update: h.variableUpdate, drop: h.variableDelete,
	})
}

// userRoutes: everything needs manage_users. Users are deactivated, never
// deleted; the edit page has a second form for the password.
func (h *Handlers) userRoutes(pages, api *gin.RouterGroup) {
	gate := h.requirePerm(models.PermManageUsers)
	users := pages.Group("/users", gate)
	users.POST("/:id/password", h.handle(h.userSetPassword))
	h.resourceRoutes(users, api.Group("/users", gate), resource{
		list: h.users, get: h.user, newPage: h.handle(h.userNewPage), create: h.userCreate,
		editPage: h.userEditPage, update: h.userUpdate,
	})
}

// roleRoutes: everything needs manage_roles.
func (h *Handlers) roleRoutes(pages, api *gin.RouterGroup) {
	gate := h.requirePerm(models.PermManageRoles)
	h.resourceRoutes(pages.Group("/roles", gate), api.Group("/roles", gate), resource{
		list: h.roles, newPage: h.roleNewPage, create: h.roleCreate,
		editPage: h.roleEditPage, update: h.roleUpdate, drop: h.roleDelete,
	})
}

// leafRoutes: on an origin, the Leaf Nodes page and the endpoints leaves
// call (API token only, see leafGate); on a leaf, its own status, which
// anyone signed in may see and ask to retry.
func (h *Handlers) leafRoutes(pages, authed, api *gin.RouterGroup) {
	pages.GET("/leaf-nodes", h.requirePerm(models.PermViewLeafNodes), h.handle(h.leafNodesPage))
	pages.GET("/leaf", h.handle(h.leafStatusPage))
	pages.POST("/leaf/retry", h.handle(h.leafRetry))
	authed.GET("/leaf/status", h.handle(h.leafStatus))

	origin := api.Group("/leaf/v1", h.leafGate)
	origin.GET("/hello", h.handle(h.leafHello))
	origin.POST("/auth", h.handle(h.leafAuth))
	origin.GET("/templates", h.handle(h.leafTemplates))
	origin.GET("/templatevars", h.handle(h.leafTemplateVars))
	origin.GET("/feed", h.handle(h.leafFeed))
}

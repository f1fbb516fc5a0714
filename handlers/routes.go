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

// templateRoutes: reading is for everyone signed in (filtered by zone),
// and a preview for whoever can see the template (see visibleTemplate);
// writing needs manage_templates.
func (h *Handlers) templateRoutes(pages, api *gin.RouterGroup) {
	pages.GET("/templates", h.handle(h.templates))
	pages.GET("/templates/:id/preview", h.handle(h.templatePreview))
	edit := pages.Group("/templates", h.requirePerm(models.PermManageTemplates))
	edit.GET("/new", h.templateNewPage)
	edit.POST("", h.handle(h.templateCreate))
	edit.GET("/:id/edit", h.handle(h.templateEditPage))
	edit.POST("/:id", h.handle(h.templateUpdate))
	edit.POST("/:id/delete", h.handle(h.templateDelete))

	api.GET("/templates", h.handle(h.templates))
	api.GET("/templates/:id", h.handle(h.template))
	api.GET("/templates/:id/preview", h.handle(h.templatePreview))
	write := api.Group("/templates", h.requirePerm(models.PermManageTemplates))
	write.POST("", h.handle(h.templateCreate))
	write.PUT("/:id", h.handle(h.templateUpdate))
	write.DELETE("/:id", h.handle(h.templateDelete))
}

// variableRoutes: every page and API route needs manage_variables. Cluster
// copies on a leaf are named with ?source=cluster.
func (h *Handlers) variableRoutes(pages, api *gin.RouterGroup) {
	vars := pages.Group("/variables", h.requirePerm(models.PermManageVariables))
	vars.GET("", h.handle(h.variables))
	vars.GET("/new", h.variableNewPage)
	vars.POST("", h.handle(h.variableCreate))
	vars.GET("/:id/edit", h.handle(h.variableEditPage))
	vars.GET("/:id/reveal", h.handle(h.variable))
	vars.POST("/:id", h.handle(h.variableUpdate))
	vars.POST("/:id/delete", h.handle(h.variableDelete))

	apiVars := api.Group("/templatevars", h.requirePerm(models.PermManageVariables))
	apiVars.GET("", h.handle(h.variables))
	apiVars.POST("", h.handle(h.variableCreate))
	apiVars.GET("/:id", h.handle(h.variable))
	apiVars.PUT("/:id", h.handle(h.variableUpdate))
	apiVars.DELETE("/:id", h.handle(h.variableDelete))
}

func (h *Handlers) userRoutes(pages, api *gin.RouterGroup) {
	users := pages.Group("/users", h.requirePerm(models.PermManageUsers))
	users.GET("", h.handle(h.users))
	users.GET("/new", h.handle(h.userNewPage))
	users.POST("", h.handle(h.userCreate))
	users.GET("/:id/edit", h.handle(h.userEditPage))
	users.POST("/:id", h.handle(h.userUpdate))
	users.POST("/:id/password", h.handle(h.userSetPassword))

	apiUsers := api.Group("/users", h.requirePerm(models.PermManageUsers))
	apiUsers.GET("", h.handle(h.users))
	apiUsers.POST("", h.handle(h.userCreate))
	apiUsers.GET("/:id", h.handle(h.user))
	apiUsers.PUT("/:id", h.handle(h.userUpdate))
}

func (h *Handlers) roleRoutes(pages, api *gin.RouterGroup) {
	roles := pages.Group("/roles", h.requirePerm(models.PermManageRoles))
	roles.GET("", h.handle(h.roles))
	roles.GET("/new", h.roleNewPage)
	roles.POST("", h.handle(h.roleCreate))
	roles.GET("/:id/edit", h.handle(h.roleEditPage))
	roles.POST("/:id", h.handle(h.roleUpdate))
	roles.POST("/:id/delete", h.handle(h.roleDelete))

	apiRoles := api.Group("/roles", h.requirePerm(models.PermManageRoles))
	apiRoles.GET("", h.handle(h.roles))
	apiRoles.POST("", h.handle(h.roleCreate))
	apiRoles.PUT("/:id", h.handle(h.roleUpdate))
	apiRoles.DELETE("/:id", h.handle(h.roleDelete))
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

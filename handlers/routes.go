package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

// Routes returns the whole HTTP handler: security headers around the
// health probes, the static files, and for everything else cross-origin
// protection around the session manager around the Gin engine. Sessions wrap the engine at the
// http.Handler level so Set-Cookie is written before Gin flushes headers.
func (h *Handlers) Routes() http.Handler {
	var handler http.Handler = h.engine()
	handler = h.sessions.LoadAndSave(handler)
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
	r.GET("/leaf/banner", h.leafBannerFragment)

	pages := r.Group("/", h.requireSetup)
	pages.GET("/", h.home)
	pages.GET("/initial-system-setup", h.setupPage)
	pages.POST("/initial-system-setup", h.setupSubmit)
	pages.GET("/login", h.loginPage)
	pages.POST("/login", h.loginSubmit)
	pages.POST("/logout", h.logout)

	signedIn := pages.Group("/", h.requireUser)
	signedIn.GET("/templates", h.handle(h.templates))
	// API tokens: hidden for everyone by server.ui.hide_api_tokens, else
	// for users with use_api_tokens. The API and the page share handlers.
	tokens := func(fn func(*gin.Context) error) []gin.HandlerFunc {
		return []gin.HandlerFunc{h.tokensEnabled, h.requirePerm(models.PermUseAPITokens), h.handle(fn)}
	}
	signedIn.GET("/api-tokens", tokens(h.listTokens)...)
	signedIn.POST("/api-tokens", tokens(h.createToken)...)
	signedIn.GET("/api-tokens/new", tokens(h.newTokenForm)...)
	signedIn.GET("/api-tokens/:id", tokens(h.tokenPage)...)
	signedIn.GET("/api-tokens/:id/secret", tokens(h.tokenSecret)...)
	signedIn.DELETE("/api-tokens/:id", tokens(h.deleteToken)...)
	signedIn.GET("/api-tokens/:id/delete", tokens(h.confirmDeleteToken)...)
	signedIn.POST("/api-tokens/:id/delete", tokens(h.deleteToken)...)
	signedIn.GET("/leaf-nodes", h.requirePerm(models.PermViewLeafNodes), h.leafNodesPage)
	// A leaf's own status: anyone signed in may see it and ask for a retry.
	signedIn.GET("/leaf", h.leafStatusPage)
	signedIn.POST("/leaf/retry", h.leafRetry)
	// Everyone's own account: no permission, and only ever their own.
	signedIn.GET("/profile", h.handle(h.profilePage))
	signedIn.POST("/profile/password", h.handle(h.profilePassword))
	signedIn.POST("/profile/sessions/sign-out-others", h.handle(h.profileSignOutOthers))

	// HTML forms can only GET and POST, so updates are POST /x/:id and
	// deletes POST /x/:id/delete; htmx posts to the same URLs.
	templates := signedIn.Group("/templates", h.requirePerm(models.PermManageTemplates))
	templates.GET("/new", h.templateNewPage)
	templates.POST("", h.handle(h.templateCreate))
	templates.GET("/:id/edit", h.handle(h.templateEditPage))
	templates.POST("/:id", h.handle(h.templateUpdate))
	templates.POST("/:id/delete", h.handle(h.templateDelete))

	// Template variables: every page and API route needs manage_variables.
	// Cluster copies on a leaf are named with ?source=cluster.
	variables := signedIn.Group("/variables", h.requirePerm(models.PermManageVariables))
	variables.GET("", h.handle(h.variables))
	variables.GET("/new", h.variableNewPage)
	variables.POST("", h.handle(h.variableCreate))
	variables.GET("/:id/edit", h.handle(h.variableEditPage))
	variables.GET("/:id/reveal", h.handle(h.variable))
	variables.POST("/:id", h.handle(h.variableUpdate))
	variables.POST("/:id/delete", h.handle(h.variableDelete))
	// A preview is for whoever can see the template (see visibleTemplate).
	signedIn.GET("/templates/:id/preview", h.handle(h.templatePreview))

	users := signedIn.Group("/users", h.requirePerm(models.PermManageUsers))
	users.GET("", h.handle(h.users))
	users.GET("/new", h.handle(h.userNewPage))
	users.POST("", h.handle(h.userCreate))
	users.GET("/:id/edit", h.handle(h.userEditPage))
	users.POST("/:id", h.handle(h.userUpdate))
	users.POST("/:id/password", h.handle(h.userSetPassword))

	roles := signedIn.Group("/roles", h.requirePerm(models.PermManageRoles))
	roles.GET("", h.handle(h.roles))
	roles.GET("/new", h.roleNewPage)
	roles.POST("", h.handle(h.roleCreate))
	roles.GET("/:id/edit", h.handle(h.roleEditPage))
	roles.POST("/:id", h.handle(h.roleUpdate))
	roles.POST("/:id/delete", h.handle(h.roleDelete))

	api := r.Group("/api")
	api.GET("/ping", h.ping)
	authed := api.Group("/", h.requireUser)
	authed.GET("/users/whoami", h.whoami)
	authed.GET("/tokens", tokens(h.listTokens)...)
	authed.POST("/tokens", tokens(h.createToken)...)
	authed.DELETE("/tokens/:id", tokens(h.deleteToken)...)
	authed.GET("/leaf/status", h.leafStatus)

	// The origin's side of leaf mode: API-token only, see leafGate.
	origin := api.Group("/leaf/v1", h.leafGate)
	origin.GET("/hello", h.leafHello)
	origin.POST("/auth", h.handle(h.leafAuth))
	origin.GET("/templates", h.leafTemplates)
	origin.GET("/templatevars", h.leafTemplateVars)
	origin.GET("/feed", h.handle(h.leafFeed))

	// Reading templates is for everyone signed in (filtered by zone);
	// writing needs manage_templates.
	authed.GET("/templates", h.handle(h.templates))
	authed.GET("/templates/:id", h.handle(h.template))
	apiTemplates := authed.Group("/templates", h.requirePerm(models.PermManageTemplates))
	apiTemplates.POST("", h.handle(h.templateCreate))
	apiTemplates.PUT("/:id", h.handle(h.templateUpdate))
	apiTemplates.DELETE("/:id", h.handle(h.templateDelete))
	authed.GET("/templates/:id/preview", h.handle(h.templatePreview))

	apiVars := authed.Group("/templatevars", h.requirePerm(models.PermManageVariables))
	apiVars.GET("", h.handle(h.variables))
	apiVars.POST("", h.handle(h.variableCreate))
	apiVars.GET("/:id", h.handle(h.variable))
	apiVars.PUT("/:id", h.handle(h.variableUpdate))
	apiVars.DELETE("/:id", h.handle(h.variableDelete))

	apiUsers := authed.Group("/users", h.requirePerm(models.PermManageUsers))
	apiUsers.GET("", h.handle(h.users))
	apiUsers.POST("", h.handle(h.userCreate))
	apiUsers.GET("/:id", h.handle(h.user))
	apiUsers.PUT("/:id", h.handle(h.userUpdate))

	apiRoles := authed.Group("/roles", h.requirePerm(models.PermManageRoles))
	apiRoles.GET("", h.handle(h.roles))
	apiRoles.POST("", h.handle(h.roleCreate))
	apiRoles.PUT("/:id", h.handle(h.roleUpdate))
	apiRoles.DELETE("/:id", h.handle(h.roleDelete))

	r.NoRoute(h.notFound)
	r.NoMethod(h.notFound)
	r.HandleMethodNotAllowed = false
	return r
}

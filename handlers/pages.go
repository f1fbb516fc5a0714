package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/views"
)

// Pages whose features have not been built yet say so honestly.

func (h *Handlers) usersPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.EmptyPage("Users", "users", "User management is not available in this build yet."))
}

func (h *Handlers) rolesPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.EmptyPage("Roles", "roles", "Role management is not available in this build yet."))
}

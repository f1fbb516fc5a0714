package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/webctx"
)

func (h *Handlers) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": true, "version": h.version})
}

func (h *Handlers) whoami(c *gin.Context) {
	id := webctx.Identity(c.Request.Context())
	c.JSON(http.StatusOK, whoAmIOf(id))
}

// whoAmIOf is an identity as the API and the leaf protocol send it.
func whoAmIOf(id *models.Identity) api.WhoAmI {
	return api.WhoAmI{ID: id.ID, Username: id.Username, Email: id.Email, Roles: id.Roles, Permissions: id.Permissions}
}

package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/webctx"
)

func (h *Handlers) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": true, "version": h.version})
}

// whoAmI is the JSON shape of GET /api/users/whoami.
type whoAmI struct {
	ID          uint     `json:"id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

func (h *Handlers) whoami(c *gin.Context) {
	id := webctx.Identity(c.Request.Context())
	c.JSON(http.StatusOK, whoAmI{ID: id.ID, Username: id.Username, Email: id.Email, Roles: id.Roles, Permissions: id.Permissions})
}

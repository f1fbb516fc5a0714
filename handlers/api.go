package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/webctx"
)

func (h *Handlers) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": true, "version": h.version})
}

func (h *Handlers) whoami(c *gin.Context) {
	id := webctx.Identity(c.Request.Context())
	c.JSON(http.StatusOK, whoAmIOf(id))
}

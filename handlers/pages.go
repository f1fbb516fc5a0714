package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/views"
)

// Pages whose features have not been built yet say so honestly.

func (h *Handlers) apiTokensPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.EmptyPage("API Tokens", "api-tokens", "API tokens are not available in this build yet."))
}

func (h *Handlers) leafNodesPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.EmptyPage("Leaf Nodes", "leaf-nodes", "No leaf nodes have connected to this server yet."))
}

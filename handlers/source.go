package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

// On a leaf, the origin's templates and variables are cached beside the
// local ones and keep the origin's ids, so an id alone is ambiguous:
// ?source=cluster names the cached copy.

// wantsCluster reports whether the request is about a leaf's cached
// cluster item rather than a local one with the same id.
func wantsCluster(c *gin.Context) bool { return c.Query("source") == models.SourceCluster }

// clusterRefused refuses a change to a cached cluster item: it is the
// origin's, read-only here. msg says where to make the change instead.
func clusterRefused(c *gin.Context, msg string) error {
	if !wantsCluster(c) {
		return nil
	}
	return forbidden(msg)
}

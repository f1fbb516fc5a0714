package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// ---- Leaf side: how the link to the origin looks to people. ----

// leafStatusJSON is GET /api/leaf/status.
type leafStatusJSON struct {
	State     leaf.State `json:"state"`
	Message   string     `json:"message"`
	Since     *time.Time `json:"since"`
	LastSync  *time.Time `json:"last_sync"`
	NextRetry *time.Time `json:"next_retry"`
	Origin    string     `json:"origin"`
	Origins   []string   `json:"origins"`
	Cursor    int64      `json:"cursor"`
}

func (h *Handlers) leafStatus(c *gin.Context) error {
	if h.leaf == nil {
		return notFoundError("This server is not a leaf node (server.origin.server and server.origin.token are not both set).")
	}
	st := h.leaf.Status()
	c.JSON(http.StatusOK, leafStatusJSON{
		State: st.State, Message: st.Message, Since: utcOrNil(st.Since), LastSync: utcOrNil(st.LastSync),
		NextRetry: utcOrNil(st.NextRetry), Origin: h.leaf.Origin(), Origins: h.leaf.Origins(), Cursor: h.leaf.Cursor(),
	})
	return nil
}

// connecting reports whether the leaf has not tried the origin yet (just
// started): nothing has failed, so nothing is being retried.
func connecting(st leaf.Status) bool {
	return st.State == leaf.StateUnreachable && st.NextRetry.IsZero()
}

// leafBanner is the status line every page of a leaf shows signed-in
// people while the origin connection is not healthy: what is wrong, what
// still works, what to do. The banner is refreshed by polling and shown
// without JavaScript too, so it carries no countdown ("next retry in 2
// seconds" is false a moment later), only times that stay true.
func leafBanner(st leaf.Status) (text, level string) {
	if st.Healthy() {
		return "", ""
	}
	var b strings.Builder
	b.WriteString(st.Message)
	if st.State == leaf.StateUnreachable && !connecting(st) && !st.Since.IsZero() {
		fmt.Fprintf(&b, " Since %s. People who signed in here in the last 14 days can still sign in.", st.Since.UTC().Format("2006-01-02 15:04 MST"))
	}
	if !st.LastSync.IsZero() {
		fmt.Fprintf(&b, " Cluster templates shown are as of %s.", st.LastSync.UTC().Format("2006-01-02 15:04 MST"))
	}
	if !connecting(st) {
		b.WriteString(" Retrying automatically.")
	}
	return b.String(), leafBannerLevel(st)
}

// leafBannerPublic is the banner for visitors who are not signed in: what
// the state means for them, without the origin's address, the settings to
// change or the times, which are for whoever runs the leaf.
func leafBannerPublic(st leaf.Status) string {
	switch {
	case st.Healthy():
		return ""
	case connecting(st):
		return "This leaf is connecting to its cluster."
	case st.State == leaf.StateUnreachable:
		return "This leaf cannot reach its cluster; people who signed in here before can still sign in."
	case st.State == leaf.StateLeafNodesDisabled:
		return "Leaf nodes are disabled on the cluster: ask its administrator."
	default:
		return "This leaf is not connected to its cluster: its administrator needs to fix its settings."
	}
}

// leafBannerLevel is "warn" while the leaf works from its copies and the
// origin may come back by itself, "error" when someone has to act.
func leafBannerLevel(st leaf.Status) string {
	if st.State == leaf.StateUnreachable {
		return "warn"
	}
	return "error"
}

// leafBannerFragment answers the banner's poll (GET /leaf/banner), for
// everyone: visitors who are not signed in get the short banner. The page
// sends the key of what it shows; while that is still current the answer
// is 204 and htmx swaps nothing.
func (h *Handlers) leafBannerFragment(c *gin.Context) error {
	if h.leaf == nil {
		return models.ErrNotFound
	}
	// The answer is for this visitor at this moment.
	c.Header("Cache-Control", "no-store")
	if c.Query("seen") == views.LeafBannerKey(c.Request.Context()) {
		c.Status(http.StatusNoContent)
		return nil
	}
	h.render(c, http.StatusOK, views.LeafBanner())
	return nil
}

// leafStatusPage is GET /leaf: everything about the link, for anyone
// signed in. htmx (the page's own refresh) gets the status section alone.
func (h *Handlers) leafStatusPage(c *gin.Context) error {
	if h.leaf == nil {
		return models.ErrNotFound
	}
	v, err := h.leafStatusView(c.Request.Context())
	if err != nil {
		return failed("load the leaf status", err)
	}
	c.Header("Cache-Control", "no-store")
	return h.page(c, views.LeafStatusSection(v), views.LeafStatusPage(v))
}

// leafRetry is POST /leaf/retry: reconnect now rather than at the next
// automatic attempt (or, while connected, fetch everything again). It asks
// the link's own loop, so presses in quick succession coalesce into one
// attempt rather than queueing requests to the origin.
func (h *Handlers) leafRetry(c *gin.Context) error {
	if h.leaf == nil {
		return models.ErrNotFound
	}
	h.leaf.RetryNow()
	h.log.Info("leaf link retry requested", "user_id", webctx.Identity(c.Request.Context()).ID)
	if !isHTMX(c) {
		h.redirect(c, "/leaf")
		return nil
	}
	v, err := h.leafStatusView(c.Request.Context())
	if err != nil {
		return failed("load the leaf status after asking for a retry", err)
	}
	h.render(c, http.StatusOK, templ.Join(views.LeafStatusSection(v), views.RetryNote(h.now())))
	return nil
}

func (h *Handlers) leafStatusView(ctx context.Context) (views.LeafStatusView, error) {
	templates, variables, err := models.ClusterCacheCounts(ctx, h.db)
	if err != nil {
		return views.LeafStatusView{}, err
	}
	st := h.leaf.Status()
	return views.LeafStatusView{
		State: string(st.State), Message: st.Message, Healthy: st.Healthy(), Level: leafBannerLevel(st),
		Since: st.Since, LastSync: st.LastSync, NextRetry: st.NextRetry, Now: h.now(),
		Origin: h.leaf.Origin(), Origins: h.leaf.Origins(),
		OriginName: st.OriginName, OriginVersion: st.OriginVersion,
		Cursor: h.leaf.Cursor(), Templates: templates, Variables: variables,
	}, nil
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

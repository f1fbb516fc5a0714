package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// ---- Origin side: the endpoints leaves call. ----

// leafGate guards every /api/leaf/v1 endpoint: leaf nodes must be allowed,
// the protocol must match, and the caller must present an API token.
func (h *Handlers) leafGate(c *gin.Context) {
	if !h.cfg.Server.Cluster.AllowLeafNodes {
		if id := webctx.Identity(c.Request.Context()); id != nil && id.TokenID != 0 {
			// Turned away is offline, now rather than when the feed's
			// record goes stale.
			err := models.MarkLeafRefused(c.Request.Context(), h.db, id.TokenID)
			h.leafRecords.add()
			if err != nil {
				h.log.Warn("record a refused leaf as offline", "token_id", id.TokenID, "err", err)
			}
		}
		c.AbortWithStatusJSON(http.StatusForbidden, leaf.ErrorBody{Error: leaf.DisabledMessage, Code: leaf.CodeLeafNodesDisabled})
		return
	}
	if p := c.GetHeader(leaf.HeaderProtocol); p != "" && p != strconv.Itoa(leaf.ProtocolVersion) {
		c.AbortWithStatusJSON(http.StatusConflict, leaf.ErrorBody{
			Error: fmt.Sprintf("this origin speaks leaf protocol %d, the leaf speaks %s; run the same knot version on both", leaf.ProtocolVersion, p),
			Code:  leaf.CodeVersionMismatch,
		})
		return
	}
	id := webctx.Identity(c.Request.Context())
	if id == nil || id.TokenID == 0 {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "Authentication required: the leaf protocol takes an API token (Authorization: Bearer <token>), not a browser session"})
		return
	}
	c.Next()
}

// leafHello answers a leaf's hello/heartbeat and records the leaf.
func (h *Handlers) leafHello(c *gin.Context) error {
	id := webctx.Identity(c.Request.Context())
	err := models.RecordLeafNode(c.Request.Context(), h.db, h.leafNode(c, id))
	h.leafRecords.add()
	if err != nil {
		return failed("record this leaf", err)
	}
	c.JSON(http.StatusOK, leaf.Hello{
		Name:     h.cfg.Server.Zone,
		Version:  h.version,
		Protocol: leaf.ProtocolVersion,
		User:     whoAmIOf(id),
	})
	return nil
}

// leafAuth checks a sign-in made on a leaf, with this server's own rate
// limits and the server.cluster.leaf_login policy.
func (h *Handlers) leafAuth(c *gin.Context) error {
	owner := webctx.Identity(c.Request.Context())
	var req leaf.AuthRequest
	// The leaf accepts a sign-in form of up to maxFormBytes; JSON escapes
	// a byte as up to six ("\u0001"), so its forwarded check always fits.
	if err := readJSON(c, &req, 6*maxFormBytes+4<<10); err != nil {
		return err
	}
	a := signInAttempt{
		via: metrics.ViaLeaf, client: c.ClientIP(), typed: req.Email, password: req.Password,
		logExtra: []any{"leaf_token_id", owner.TokenID, "leaf_owner", owner.ID},
	}
	// The client is the leaf: its limits are per email from that leaf.
	a.email, _ = models.NormalizeEmail(req.Email)
	u, err := h.checkSignIn(c, a, h.ownerOnLeaf(owner))
	var refused *signInRefused
	if errors.As(err, &refused) {
		if refused.retryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(refused.retryAfter))
		}
		c.AbortWithStatusJSON(refused.status, leaf.ErrorBody{Error: refused.msg, Code: leaf.CodeLoginRefused})
		return nil
	}
	if err != nil {
		return err
	}
	ident, err := models.LoadIdentity(c.Request.Context(), h.db, u.ID)
	if err != nil {
		h.metrics.SignIn(metrics.ViaLeaf, metrics.OutcomeError)
		return failed("load the account", err)
	}
	h.metrics.SignIn(metrics.ViaLeaf, metrics.OutcomeOK)
	h.log.Info("signed in through a leaf", "user_id", u.ID, "leaf_owner", owner.ID)
	c.JSON(http.StatusOK, leaf.AuthResponse{User: whoAmIOf(ident), PasswordCost: models.PasswordCost(u.PasswordHash)})
	return nil
}

// ownerOnLeaf checks credentials against the local users and then the
// server.cluster.leaf_login policy for a leaf whose token owner is owner.
func (h *Handlers) ownerOnLeaf(owner *models.Identity) func(*gin.Context, string, string) (*models.User, error) {
	return func(c *gin.Context, email, password string) (*models.User, error) {
		u, err := h.checkLocalCredentials(c, email, password)
		if err == nil && h.cfg.Server.Cluster.LeafLogin == config.LeafLoginOwner && u.ID != owner.ID {
			return nil, &signInRefused{metrics.OutcomeNotAllowed, metrics.OutcomeNotAllowed, http.StatusForbidden, "This leaf only accepts the owner of its API token. Sign in with that account, or ask the cluster's administrator to set server.cluster.leaf_login = \"any\".", 0}
		}
		return u, err
	}
}

// leafTemplates sends leaves the active templates the zone rule allows on
// a leaf, with an ETag so an unchanged list costs a 304 and no body.
func (h *Handlers) leafTemplates(c *gin.Context) error {
	list, err := models.ListTemplates(c.Request.Context(), h.db, models.TemplateFilter{Zone: config.LeafZone})
	if err != nil {
		return failed("list templates for a leaf", err)
	}
	_, err = jsonWithETag(c, mapSlice(list, func(t *models.Template) leaf.Template {
		return leaf.Template{ID: t.ID, Name: t.Name, Description: t.Description, Zones: nonNil(t.Zones), Active: t.Active, Body: t.Body, UpdatedAt: t.UpdatedAt.UTC()}
	}))
	return err
}

// jsonWithETag answers v as JSON with a strong ETag of its bytes, or 304
// when the caller already holds that version. It reports whether it sent
// the body.
func jsonWithETag(c *gin.Context, v any) (bool, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return false, failed("encode JSON", err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Header("ETag", etag)
	// A caller that set a stricter policy (no-store for secrets) keeps it.
	if c.Writer.Header().Get("Cache-Control") == "" {
		c.Header("Cache-Control", "no-cache")
	}
	if match := c.GetHeader("If-None-Match"); match != "" && strings.Contains(match, etag) {
		c.Status(http.StatusNotModified)
		return false, nil
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	return true, nil
}

func cleanLeafURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return truncate(u.String(), 512)
}

// leafNodesPage lists the leaves that connected to this origin.
func (h *Handlers) leafNodesPage(c *gin.Context) error {
	nodes, err := models.ListLeafNodes(c.Request.Context(), h.db)
	if err != nil {
		return failed("load the leaf nodes", err)
	}
	now := h.now()
	rows := make([]views.LeafNodeRow, 0, len(nodes))
	for _, n := range nodes {
		rows = append(rows, views.LeafNodeRow{
			Owner: n.Username, Email: n.Email, URL: n.LeafURL, Version: n.Version, RemoteAddr: n.RemoteAddr,
			FirstSeen: n.FirstSeenAt, LastSeen: n.LastSeenAt, Online: n.Online(now), TokenDeleted: n.TokenDeleted(),
		})
	}
	h.render(c, http.StatusOK, views.LeafNodesPage(rows, h.cfg.Server.Cluster.AllowLeafNodes, now))
	return nil
}

// leafTemplateVars sends leaves the variables whose zones allow a leaf and
// that are not restricted, with protected values in plain text: this
// answer only travels over the leaf's verified TLS link, and the leaf seals
// them under its own key. no-store keeps it out of every cache.
// Protected values reach a leaf only when all of these hold: the token's
// owner may read them here (manage_variables), this origin serves HTTPS,
// the leaf verifies the origin's certificate (it asks with protected=false
// when it does not), and the token belongs to a registered leaf — one that
// said hello with it, as the leaf client always does first. So a script
// holding a manager's token cannot pull every secret in one request.
// Otherwise protected variables are left out of the answer. Each hand-over
// is logged like a reveal: who, which leaf, which variables — never the
// values.
func (h *Handlers) leafTemplateVars(c *gin.Context) error {
	ctx := c.Request.Context()
	id := webctx.Identity(ctx)
	sendProtected := id.Can(models.PermManageVariables) &&
		(c.Request.TLS != nil || strings.HasPrefix(h.cfg.Server.URL, "https://")) &&
		c.Query("protected") != "false"
	var node *models.LeafNode
	if sendProtected {
		var err error
		node, err = models.LeafNodeByToken(ctx, h.db, id.TokenID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			sendProtected = false
		case err != nil:
			return failed("check that the leaf is registered", err)
		}
	}
	list, err := models.ListVariables(ctx, h.db, h.vault, models.VariableFilter{Zone: config.LeafZone, Reveal: sendProtected})
	if err != nil {
		return failed("list variables for a leaf", err)
	}
	out := make([]leaf.Variable, 0, len(list))
	var protected []string
	for _, v := range list {
		if v.Restricted || v.Protected && !sendProtected {
			continue
		}
		out = append(out, leaf.Variable{ID: v.ID, Name: v.Name, Value: v.Value, Zones: nonNil(v.Zones), Protected: v.Protected, UpdatedAt: v.UpdatedAt.UTC()})
		if v.Protected {
			protected = append(protected, v.Name)
		}
	}
	noStore(c)
	// A 304 hands nothing over; the leaf already holds those values.
	sent, err := jsonWithETag(c, out)
	if sent && len(protected) > 0 {
		h.log.Info("protected variables sent to a leaf", "by", id.ID, "username", id.Username,
			"token_id", id.TokenID, "leaf_url", node.LeafURL, "variables", protected)
	}
	return err
}

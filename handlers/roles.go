package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

func (h *Handlers) rolesPage(c *gin.Context) {
	h.renderRoles(c, http.StatusOK, views.RolesData{Notice: h.popNotice(c)})
}

func (h *Handlers) renderRoles(c *gin.Context, status int, d views.RolesData) {
	roles, err := models.ListRoles(c.Request.Context(), h.db)
	if err != nil {
		h.serverError(c, "list roles", err)
		return
	}
	d.Roles = roles
	h.render(c, status, views.RolesPage(d))
}

func (h *Handlers) roleNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.RoleFormPage(views.RoleForm{Permissions: []string{}}))
}

// loadRole answers 404 or 500 itself and returns nil then.
func (h *Handlers) loadRole(c *gin.Context) *models.RoleSummary {
	id, ok := h.pathID(c)
	if !ok {
		return nil
	}
	r, err := models.RoleSummaryByID(c.Request.Context(), h.db, id)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return nil
	}
	if err != nil {
		h.serverError(c, "load the role", err)
		return nil
	}
	return r
}

func (h *Handlers) roleEditPage(c *gin.Context) {
	r := h.loadRole(c)
	if r == nil {
		return
	}
	h.render(c, http.StatusOK, views.RoleFormPage(views.RoleForm{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: r.Permissions}))
}

func (h *Handlers) roleCreate(c *gin.Context) {
	if !h.parseForm(c, maxFormBytes) {
		return
	}
	in := models.RoleInput{Name: c.PostForm("name"), Permissions: c.PostFormArray("permissions")}
	r, err := models.CreateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), in, h.now().UTC())
	if err != nil {
		h.roleFormProblem(c, views.RoleForm{Name: in.Name, Permissions: in.Permissions}, err)
		return
	}
	h.log.Info("role created", "role_id", r.ID, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Role “%s” created.", r.Name))
	h.redirect(c, "/roles")
}

func (h *Handlers) roleUpdate(c *gin.Context) {
	cur := h.loadRole(c)
	if cur == nil || !h.parseForm(c, maxFormBytes) {
		return
	}
	// The form leaves out what cannot change: a built-in role's name
	// (disabled input) and Admin's permissions (disabled boxes).
	var ch models.RoleChanges
	f := views.RoleForm{ID: cur.ID, Name: cur.Name, Builtin: cur.Builtin, Permissions: cur.Permissions}
	if !cur.Builtin {
		name := c.PostForm("name")
		ch.Name, f.Name = &name, name
	}
	if cur.ID != models.AdminRoleID {
		perms := c.PostFormArray("permissions")
		ch.Permissions, f.Permissions = &perms, perms
	}
	r, err := models.UpdateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), cur.ID, ch, h.now().UTC())
	if err != nil {
		h.roleFormProblem(c, f, err)
		return
	}
	h.log.Info("role updated", "role_id", r.ID, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Role “%s” saved.", r.Name))
	h.redirect(c, "/roles")
}

func (h *Handlers) roleFormProblem(c *gin.Context, f views.RoleForm, err error) {
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	errs, status, ok := formErrors(err)
	if !ok {
		h.serverError(c, "save the role", err)
		return
	}
	f.Errors = errs
	h.renderForm(c, status, views.RoleEditor(f), views.RoleFormPage(f))
}

// roleDelete removes a custom role. htmx gets an empty 200 (the row goes)
// or, when refused, the row again with the reason; a plain form goes back
// to the list with a notice or the reason.
func (h *Handlers) roleDelete(c *gin.Context) {
	cur := h.loadRole(c)
	if cur == nil {
		return
	}
	err := models.DeleteRole(c.Request.Context(), h.db, cur.ID)
	var conflict *models.ConflictError
	switch {
	case errors.Is(err, models.ErrNotFound):
		err = nil // deleted by someone else meanwhile: the wish came true
	case errors.As(err, &conflict):
		if isHTMX(c) {
			// Reload: who holds the role may have changed since the page was drawn.
			if r, lerr := models.RoleSummaryByID(c.Request.Context(), h.db, cur.ID); lerr == nil {
				cur = r
			}
			h.render(c, http.StatusOK, views.RoleRow(*cur, conflict.Message))
			return
		}
		h.renderRoles(c, http.StatusConflict, views.RolesData{Error: conflict.Message})
		return
	case err != nil:
		h.serverError(c, "delete the role", err)
		return
	}
	h.log.Info("role deleted", "role_id", cur.ID, "by", webctx.Identity(c.Request.Context()).ID)
	if isHTMX(c) {
		c.Status(http.StatusOK)
		return
	}
	h.setNotice(c, fmt.Sprintf("Role “%s” deleted.", cur.Name))
	h.redirect(c, "/roles")
}

// roleJSON is the API shape of a role.
type roleJSON struct {
	ID          uint     `json:"id"`
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
	Users       []string `json:"users"`
}

func toRoleJSON(r *models.RoleSummary) roleJSON {
	return roleJSON{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: r.Permissions, Users: r.Users}
}

// roleRequest is the body of POST /api/roles and PUT /api/roles/{id}; on
// PUT absent fields are kept. Read-only fields are accepted and ignored.
type roleRequest struct {
	Name        *string   `json:"name"`
	Permissions *[]string `json:"permissions"`

	ID      any `json:"id"`
	Builtin any `json:"builtin"`
	Users   any `json:"users"`
}

func (h *Handlers) apiRoles(c *gin.Context) {
	roles, err := models.ListRoles(c.Request.Context(), h.db)
	if err != nil {
		h.serverError(c, "list roles", err)
		return
	}
	out := make([]roleJSON, len(roles))
	for i := range roles {
		out[i] = toRoleJSON(&roles[i])
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handlers) apiRoleCreate(c *gin.Context) {
	var req roleRequest
	if !h.decodeJSON(c, &req, maxFormBytes) {
		return
	}
	in := models.RoleInput{Permissions: []string{}}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.Permissions != nil {
		in.Permissions = *req.Permissions
	}
	r, err := models.CreateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), in, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "create the role", err)
		}
		return
	}
	h.log.Info("role created", "role_id", r.ID, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusCreated, toRoleJSON(r))
}

func (h *Handlers) apiRoleUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req roleRequest
	if !h.decodeJSON(c, &req, maxFormBytes) {
		return
	}
	r, err := models.UpdateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), id,
		models.RoleChanges{Name: req.Name, Permissions: req.Permissions}, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "update the role", err)
		}
		return
	}
	h.log.Info("role updated", "role_id", r.ID, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, toRoleJSON(r))
}

func (h *Handlers) apiRoleDelete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	if err := models.DeleteRole(c.Request.Context(), h.db, id); err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "delete the role", err)
		}
		return
	}
	h.log.Info("role deleted", "role_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, gin.H{"id": id, "deleted": true})
}

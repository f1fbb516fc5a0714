package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// roles lists every role with its permissions and holders: JSON under
// /api/, the page otherwise.
func (h *Handlers) roles(c *gin.Context) error {
	list, err := models.ListRoles(c.Request.Context(), h.db)
	return listed(h, c, "list roles", list, err, toRoleJSON, func(notice string) templ.Component {
		return views.RolesPage(views.RolesData{Roles: list, Notice: notice})
	})
}

func (h *Handlers) roleNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.RoleFormPage(views.RoleForm{Permissions: []string{}}))
}

func roleFormOf(r *models.RoleSummary) views.RoleForm {
	return views.RoleForm{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: r.Permissions}
}

func (h *Handlers) roleEditPage(c *gin.Context) error {
	r, err := byPath(h, c, "role", models.RoleSummaryByID)
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.RoleFormPage(roleFormOf(r)))
	return nil
}

// roleInput is a role as the form or a JSON body sends it. Absent fields
// are nil: a create has no permissions, an update keeps the current
// values. The read-only fields of api.Role are accepted and ignored, so
// that a script can send back what it fetched.
type roleInput struct {
	Name        *string   `json:"name"`
	Permissions *[]string `json:"permissions"`

	ID      json.RawMessage `json:"id"`
	Builtin json.RawMessage `json:"builtin"`
	Users   json.RawMessage `json:"users"`

	// fromPage: the form shows what cannot change as disabled inputs,
	// which browsers leave out, so what a form sends for them is ignored;
	// the API is told instead.
	fromPage bool
}

func (in *roleInput) fromForm(f url.Values) {
	name, perms := f.Get("name"), f["permissions"]
	in.Name, in.Permissions, in.fromPage = &name, &perms, true
}

// changes is what the input asks to change in cur: a built-in role keeps
// its name, and Admin every permission.
func (in *roleInput) changes(cur *models.RoleSummary) models.RoleChanges {
	ch := models.RoleChanges{Name: in.Name, Permissions: in.Permissions}
	if in.fromPage && cur.Builtin {
		ch.Name = nil
	}
	if in.fromPage && cur.ID == models.AdminRoleID {
		ch.Permissions = nil
	}
	return ch
}

// roleForm is the role form showing f, what was typed, with the messages.
func (h *Handlers) roleForm(f views.RoleForm) formAnswer {
	return h.formFor(func(errs models.FieldErrors) (templ.Component, templ.Component) {
		f.Errors = errs
		return views.RoleEditor(f), views.RoleFormPage(f)
	})
}

// roleKind names roles in the answers to their changes.
var roleKind = kind[models.RoleSummary]{noun: "role", next: "/roles", describe: func(r *models.RoleSummary) (string, any, []any) {
	return fmt.Sprintf("Role “%s”", r.Name), toRoleJSON(r), []any{"role_id", r.ID}
}}

func (h *Handlers) roleCreate(c *gin.Context) error {
	var in roleInput
	if err := bind(c, &in, maxFormBytes); err != nil {
		return err
	}
	m := models.RoleInput{Permissions: []string{}}
	overlay(&m.Name, in.Name)
	overlay(&m.Permissions, in.Permissions)
	form := h.roleForm(views.RoleForm{Name: m.Name, Permissions: m.Permissions})
	return save(h, c, creating, roleKind, nil, form, func() (*models.RoleSummary, error) {
		return models.CreateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), m, h.now().UTC())
	})
}

func (h *Handlers) roleUpdate(c *gin.Context) error {
	var in roleInput
	id, cur, err := toUpdate(h, c, pathID, &in, maxFormBytes, "role", models.RoleSummaryByID)
	if err != nil {
		return err
	}
	ch := in.changes(cur)
	// The form is built before the model trims the name in place: it
	// shows what was typed.
	f := roleFormOf(cur)
	overlay(&f.Name, ch.Name)
	overlay(&f.Permissions, ch.Permissions)
	return save(h, c, updating, roleKind, nil, h.roleForm(f), func() (*models.RoleSummary, error) {
		return models.UpdateRole(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), id, ch, h.now().UTC())
	})
}

// roleDelete removes a custom role. A role someone else deleted after the
// page loaded it counts as deleted for a browser: what the person wanted
// is true.
func (h *Handlers) roleDelete(c *gin.Context) error {
	cur, err := byPath(h, c, "role", models.RoleSummaryByID)
	if err != nil {
		return err
	}
	err = models.DeleteRole(c.Request.Context(), h.db, cur.ID)
	if errors.Is(err, models.ErrNotFound) && !isAPI(c) {
		err = nil
	}
	var refused *models.ConflictError
	if errors.As(err, &refused) {
		return withForm(err, h.roleRefused(cur))
	}
	if err != nil {
		return failed("delete the role", err)
	}
	h.log.Info("role deleted", "role_id", cur.ID, "by", webctx.Identity(c.Request.Context()).ID)
	return h.deleted(c, cur.ID, fmt.Sprintf("Role “%s” deleted.", cur.Name), "/roles")
}

// roleRefused answers a refused delete in a browser: htmx swaps the row
// back in with the reason, reloaded since who holds the role may have
// changed since the page was drawn; a plain form gets the list with it.
func (h *Handlers) roleRefused(cur *models.RoleSummary) formAnswer {
	return func(c *gin.Context, status int, errs models.FieldErrors) {
		ctx := c.Request.Context()
		if isHTMX(c) {
			if r, err := models.RoleSummaryByID(ctx, h.db, cur.ID); err == nil {
				cur = r
			}
			h.render(c, http.StatusOK, views.RoleRow(*cur, errs[""]))
			return
		}
		roles, err := models.ListRoles(ctx, h.db)
		if err != nil {
			h.answerError(c, failed("list roles", err))
			return
		}
		h.render(c, status, views.RolesPage(views.RolesData{Roles: roles, Error: errs[""]}))
	}
}

func toRoleJSON(r *models.RoleSummary) api.Role {
	return api.Role{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: r.Permissions, Users: r.Users}
}

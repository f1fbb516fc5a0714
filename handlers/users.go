package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

func (h *Handlers) usersPage(c *gin.Context) {
	users, err := models.ListUsers(c.Request.Context(), h.db)
	if err != nil {
		h.serverError(c, "list users", err)
		return
	}
	h.render(c, http.StatusOK, views.UsersPage(views.UsersData{Users: users, Notice: h.popNotice(c)}))
}

// userForm loads the role choices into f.
func (h *Handlers) userForm(c *gin.Context, f views.UserForm) (views.UserForm, error) {
	roles, err := models.ListRoles(c.Request.Context(), h.db)
	f.Roles = roles
	return f, err
}

func (h *Handlers) userNewPage(c *gin.Context) {
	f, err := h.userForm(c, views.UserForm{Active: true, RoleIDs: []uint{models.DeveloperRoleID}})
	if err != nil {
		h.serverError(c, "list roles", err)
		return
	}
	h.render(c, http.StatusOK, views.UserFormPage(f, views.PasswordForm{}))
}

func (h *Handlers) userEditPage(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	u, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.serverError(c, "load the user", err)
		return
	}
	f, err := h.userForm(c, views.UserForm{ID: u.ID, Username: u.Username, Email: u.Email, RoleIDs: u.RoleIDs(), Active: u.Active})
	if err != nil {
		h.serverError(c, "list roles", err)
		return
	}
	h.render(c, http.StatusOK, views.UserFormPage(f, views.PasswordForm{UserID: u.ID, Username: u.Username}))
}

// formRoleIDs reads the checked role boxes. A value that is not an id
// cannot come from the page, so it is reported as a stale form.
func formRoleIDs(c *gin.Context) ([]uint, string) {
	ids := []uint{}
	for _, v := range c.PostFormArray("roles") {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id == 0 {
			return nil, "The roles could not be read; reload the page and choose again."
		}
		ids = append(ids, uint(id))
	}
	return ids, ""
}

func (h *Handlers) userCreate(c *gin.Context) {
	if !h.parseForm(c, maxFormBytes) {
		return
	}
	roleIDs, roleMsg := formRoleIDs(c)
	n := models.NewUser{
		Username: c.PostForm("username"),
		Email:    c.PostForm("email"),
		Password: c.PostForm("password"),
		Confirm:  c.PostForm("confirm"),
		RoleIDs:  roleIDs,
		Active:   c.PostForm("active") == "true",
	}
	f := views.UserForm{Username: n.Username, Email: n.Email, RoleIDs: roleIDs, Active: n.Active}
	var u *models.UserSummary
	var err error
	if roleMsg != "" {
		err = models.FieldErrors{"roles": roleMsg}
	} else {
		u, err = models.CreateUser(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), n, h.now().UTC())
	}
	if err != nil {
		h.userFormProblem(c, f, err)
		return
	}
	h.log.Info("user created", "user_id", u.ID, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("User %s created.", u.Username))
	h.redirect(c, "/users")
}

func (h *Handlers) userUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || !h.parseForm(c, maxFormBytes) {
		return
	}
	cur, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.serverError(c, "load the user", err)
		return
	}
	email := c.PostForm("email")
	active := c.PostForm("active") == "true"
	roleIDs, roleMsg := formRoleIDs(c)
	f := views.UserForm{ID: id, Username: cur.Username, Email: email, RoleIDs: roleIDs, Active: active}
	if roleMsg != "" {
		f.RoleIDs = cur.RoleIDs()
		h.userFormProblem(c, f, models.FieldErrors{"roles": roleMsg})
		return
	}
	ch := models.UserChanges{Email: &email, Active: &active, RoleIDs: &roleIDs}
	u, err := h.updateUser(c, id, ch)
	if err != nil {
		h.userFormProblem(c, f, err)
		return
	}
	h.setNotice(c, fmt.Sprintf("Changes to %s saved.", u.Username))
	h.redirect(c, "/users")
}

// updateUser applies ch as the signed-in user and, when the account was
// switched off, ends its sessions.
func (h *Handlers) updateUser(c *gin.Context, id uint, ch models.UserChanges) (*models.UserSummary, error) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	u, err := models.UpdateUser(ctx, h.db, me, id, ch, h.now().UTC())
	if err != nil {
		return nil, err
	}
	h.log.Info("user updated", "user_id", id, "by", me.ID, "deactivated", ch.Deactivates(), "password_set", ch.Password != nil)
	if ch.Deactivates() || ch.Password != nil {
		// A new password set by an administrator usually means "lock the
		// old holder out"; deactivation ends every session. The acting
		// user's own session survives changing their own password.
		// identify already refuses a deactivated user on each request;
		// ending the sessions as well means re-activating the account
		// later does not bring the old sessions back to life.
		if _, err := models.EndUserSessions(ctx, h.db, id, h.sessions.GetString(ctx, sessionID)); err != nil {
			h.log.Error("end sessions of user", "user_id", id, "err", err)
		}
	}
	return u, nil
}

// userFormProblem re-shows the user form with the messages err carries,
// or answers err otherwise.
func (h *Handlers) userFormProblem(c *gin.Context, f views.UserForm, err error) {
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	errs, status, ok := formErrors(err)
	if !ok {
		h.serverError(c, "save the user", err)
		return
	}
	f.Errors = errs
	if f, err = h.userForm(c, f); err != nil {
		h.serverError(c, "list roles", err)
		return
	}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.UserEditor(f))
		return
	}
	pw := views.PasswordForm{UserID: f.ID, Username: f.Username}
	h.render(c, status, views.UserFormPage(f, pw))
}

func (h *Handlers) userSetPassword(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || !h.parseForm(c, maxFormBytes) {
		return
	}
	cur, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.serverError(c, "load the user", err)
		return
	}
	pw := views.PasswordForm{UserID: id, Username: cur.Username}
	password, confirm := c.PostForm("password"), c.PostForm("confirm")
	if msg := models.ValidatePassword(password); msg != "" {
		err = models.FieldErrors{"password": msg}
	} else if password != confirm {
		err = models.FieldErrors{"confirm": "The passwords do not match."}
	} else {
		_, err = h.updateUser(c, id, models.UserChanges{Password: &password})
	}
	status := http.StatusOK
	if err != nil {
		var ok bool
		if pw.Errors, status, ok = formErrors(err); !ok {
			h.serverError(c, "set the password", err)
			return
		}
	} else {
		pw.Done = fmt.Sprintf("Password for %s changed; their other sessions were signed out.", cur.Username)
	}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.PasswordEditor(pw))
		return
	}
	f, ferr := h.userForm(c, views.UserForm{ID: cur.ID, Username: cur.Username, Email: cur.Email, RoleIDs: cur.RoleIDs(), Active: cur.Active})
	if ferr != nil {
		h.serverError(c, "list roles", ferr)
		return
	}
	h.render(c, status, views.UserFormPage(f, pw))
}

// userJSON is the API shape of a user. It never carries the password hash.
type userJSON struct {
	ID          uint     `json:"id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Active      bool     `json:"active"`
	Roles       []string `json:"roles"`
	CreatedAt   string   `json:"created_at"`
	LastLoginAt *string  `json:"last_login_at"`
}

func toUserJSON(u *models.UserSummary) userJSON {
	return userJSON{
		ID: u.ID, Username: u.Username, Email: u.Email, Active: u.Active, Roles: u.RoleNames(),
		CreatedAt: rfc3339(u.CreatedAt), LastLoginAt: rfc3339OrNull(u.LastLoginAt),
	}
}

// userRequest is the body of POST /api/users and PUT /api/users/{id}.
// Roles are names, as whoami reports them. On PUT, absent fields are kept;
// username cannot change. Read-only fields of userJSON are accepted and
// ignored so a fetched user can be sent back.
type userRequest struct {
	Username *string   `json:"username"`
	Email    *string   `json:"email"`
	Password *string   `json:"password"`
	Roles    *[]string `json:"roles"`
	Active   *bool     `json:"active"`

	ID          any `json:"id"`
	CreatedAt   any `json:"created_at"`
	LastLoginAt any `json:"last_login_at"`
}

func (h *Handlers) apiUsers(c *gin.Context) {
	users, err := models.ListUsers(c.Request.Context(), h.db)
	if err != nil {
		h.serverError(c, "list users", err)
		return
	}
	out := make([]userJSON, len(users))
	for i := range users {
		out[i] = toUserJSON(&users[i])
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handlers) apiUser(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	u, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "load the user", err)
		}
		return
	}
	c.JSON(http.StatusOK, toUserJSON(u))
}

// roleIDs resolves the request's role names, answering 400 for an unknown
// one; ok is false after answering.
func (h *Handlers) roleIDs(c *gin.Context, names []string) ([]uint, bool) {
	ids, msg, err := models.RoleIDsByName(c.Request.Context(), h.db, names)
	if err != nil {
		h.serverError(c, "look up roles", err)
		return nil, false
	}
	if msg != "" {
		h.apiRefusal(c, models.FieldErrors{"roles": msg})
		return nil, false
	}
	return ids, true
}

func (h *Handlers) apiUserCreate(c *gin.Context) {
	var req userRequest
	if !h.decodeJSON(c, &req, maxFormBytes) {
		return
	}
	n := models.NewUser{Active: true, RoleIDs: []uint{}}
	if req.Username != nil {
		n.Username = *req.Username
	}
	if req.Email != nil {
		n.Email = *req.Email
	}
	if req.Password != nil {
		// Scripts send the password once; there is nothing to confirm.
		n.Password, n.Confirm = *req.Password, *req.Password
	}
	if req.Active != nil {
		n.Active = *req.Active
	}
	if req.Roles != nil {
		var ok bool
		if n.RoleIDs, ok = h.roleIDs(c, *req.Roles); !ok {
			return
		}
	}
	u, err := models.CreateUser(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), n, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "create the user", err)
		}
		return
	}
	h.log.Info("user created", "user_id", u.ID, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusCreated, toUserJSON(u))
}

func (h *Handlers) apiUserUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req userRequest
	if !h.decodeJSON(c, &req, maxFormBytes) {
		return
	}
	cur, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "load the user", err)
		}
		return
	}
	if req.Username != nil && *req.Username != cur.Username {
		h.apiRefusal(c, models.FieldErrors{"username": "Usernames cannot be changed."})
		return
	}
	ch := models.UserChanges{Email: req.Email, Active: req.Active, Password: req.Password}
	if req.Roles != nil {
		ids, ok := h.roleIDs(c, *req.Roles)
		if !ok {
			return
		}
		ch.RoleIDs = &ids
	}
	u, err := h.updateUser(c, id, ch)
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "update the user", err)
		}
		return
	}
	c.JSON(http.StatusOK, toUserJSON(u))
}

package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// users lists every user: JSON under /api/, the page otherwise.
func (h *Handlers) users(c *gin.Context) error {
	list, err := models.ListUsers(c.Request.Context(), h.db)
	return listed(h, c, "list users", list, err, toUserJSON, func(notice string) templ.Component {
		return views.UsersPage(views.UsersData{Users: list, Notice: notice})
	})
}

// user answers one user as JSON.
func (h *Handlers) user(c *gin.Context) error {
	u, err := byPath(h, c, "user", models.UserSummaryByID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toUserJSON(u))
	return nil
}

// withRoles loads the role choices into f.
func (h *Handlers) withRoles(c *gin.Context, f views.UserForm) (views.UserForm, error) {
	roles, err := models.ListRoles(c.Request.Context(), h.db)
	f.Roles = roles
	return f, failed("list roles", err)
}

func (h *Handlers) userNewPage(c *gin.Context) error {
	f, err := h.withRoles(c, views.UserForm{Active: true, RoleIDs: []uint{models.DeveloperRoleID}})
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.UserFormPage(f, views.PasswordForm{}))
	return nil
}

func (h *Handlers) userEditPage(c *gin.Context) error {
	u, err := byPath(h, c, "user", models.UserSummaryByID)
	if err != nil {
		return err
	}
	f, err := h.withRoles(c, userFormOf(u))
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.UserFormPage(f, views.PasswordForm{UserID: u.ID, Username: u.Username}))
	return nil
}

func userFormOf(u *models.UserSummary) views.UserForm {
	return views.UserForm{ID: u.ID, Username: u.Username, Email: u.Email, RoleIDs: u.RoleIDs(), Active: u.Active}
}

// userInput is a user as the form or a JSON body sends it. Absent fields
// are nil: a create fills in defaults, an update keeps the current values.
// Roles are names in JSON, as whoami reports them, and checked boxes of
// role ids in the form. The read-only fields of api.User are accepted and
// ignored, so that a script can send back what it fetched.
type userInput struct {
	Username *string   `json:"username"`
	Email    *string   `json:"email"`
	Password *string   `json:"password"`
	Roles    *[]string `json:"roles"`
	Active   *bool     `json:"active"`

	ID          json.RawMessage `json:"id"`
	CreatedAt   json.RawMessage `json:"created_at"`
	LastLoginAt json.RawMessage `json:"last_login_at"`

	// The form's own fields: the password typed twice, the role boxes,
	// and why those did not parse.
	confirm      *string
	roleIDs      *[]uint
	rolesProblem string
	// fromPage: the edit form has neither username (it never changes) nor
	// password (it has a form of its own), so an edit ignores those.
	fromPage bool
}

func (in *userInput) fromForm(f url.Values) {
	username, email, password, confirm := f.Get("username"), f.Get("email"), f.Get("password"), f.Get("confirm")
	active := f.Get("active") == "true"
	in.Username, in.Email, in.Password, in.confirm, in.Active = &username, &email, &password, &confirm, &active
	in.fromPage = true
	ids := []uint{}
	for _, v := range f["roles"] {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id == 0 {
			// Not something the page offers: the form is stale.
			in.rolesProblem = "The roles could not be read; reload the page and choose again."
			return
		}
		ids = append(ids, uint(id))
	}
	in.roleIDs = &ids
}

// roleIDsIn resolves the roles the input names; nil when it names none.
func (h *Handlers) roleIDsIn(c *gin.Context, in *userInput) (*[]uint, error) {
	switch {
	case in.rolesProblem != "":
		return nil, models.FieldErrors{"roles": in.rolesProblem}
	case in.Roles == nil:
		return in.roleIDs, nil
	}
	ids, msg, err := models.RoleIDsByName(c.Request.Context(), h.db, *in.Roles)
	if err != nil {
		return nil, failed("look up roles", err)
	}
	if msg != "" {
		return nil, models.FieldErrors{"roles": msg}
	}
	return &ids, nil
}

// newUser is the user the input asks to create.
func (h *Handlers) newUser(c *gin.Context, in *userInput) (models.NewUser, error) {
	n := models.NewUser{Active: true, RoleIDs: []uint{}}
	overlay(&n.Username, in.Username)
	overlay(&n.Email, in.Email)
	overlay(&n.Password, in.Password)
	// Scripts send the password once; there is nothing to confirm.
	n.Confirm = n.Password
	overlay(&n.Confirm, in.confirm)
	overlay(&n.Active, in.Active)
	ids, err := h.roleIDsIn(c, in)
	if ids != nil {
		n.RoleIDs = *ids
	}
	return n, err
}

// userChanges is what the input asks to change in cur.
func (h *Handlers) userChanges(c *gin.Context, in *userInput, cur *models.UserSummary) (models.UserChanges, error) {
	ch := models.UserChanges{Email: in.Email, Active: in.Active}
	if !in.fromPage {
		if in.Username != nil && *in.Username != cur.Username {
			return ch, models.FieldErrors{"username": "Usernames cannot be changed."}
		}
		ch.Password = in.Password
	}
	ids, err := h.roleIDsIn(c, in)
	ch.RoleIDs = ids
	return ch, err
}

// form is f with what was typed over it; passwords never go back.
func (in *userInput) form(f views.UserForm) views.UserForm {
	if f.ID == 0 {
		overlay(&f.Username, in.Username)
	}
	overlay(&f.Email, in.Email)
	overlay(&f.Active, in.Active)
	overlay(&f.RoleIDs, in.roleIDs)
	return f
}

// userKind names users in the answers to their creation; an update
// answers for itself (see userUpdate).
var userKind = kind[models.UserSummary]{noun: "user", next: "/users", describe: func(u *models.UserSummary) (string, any, []any) {
	return "User " + u.Username, toUserJSON(u), []any{"user_id", u.ID}
}}

func (h *Handlers) userCreate(c *gin.Context) error {
	var in userInput
	if err := bind(c, &in, maxFormBytes); err != nil {
		return err
	}
	f := in.form(views.UserForm{})
	n, err := h.newUser(c, &in)
	return save(h, c, creating, userKind, err, h.userForm(f, detailsForm), func() (*models.UserSummary, error) {
		return models.CreateUser(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()), n, h.now().UTC())
	})
}

func (h *Handlers) userUpdate(c *gin.Context) error {
	var in userInput
	id, cur, err := toUpdate(h, c, pathID, &in, maxFormBytes, "user", models.UserSummaryByID)
	if err != nil {
		return err
	}
	// The form is built before the model normalises the email in place:
	// it shows what was typed.
	f := in.form(userFormOf(cur))
	ch, err := h.userChanges(c, &in, cur)
	var u *models.UserSummary
	if err == nil {
		u, err = h.updateUser(c, id, ch)
	}
	if err != nil {
		return withForm(failed("update the user", err), h.userForm(f, detailsForm))
	}
	return h.saved(c, http.StatusOK, toUserJSON(u), fmt.Sprintf("Changes to %s saved.", u.Username), "/users")
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

// userForm is the formAnswer of the user page: show puts the messages on
// the form they belong to. The role choices are loaded only when the page
// is shown.
func (h *Handlers) userForm(f views.UserForm, show func(views.UserForm, models.FieldErrors) (templ.Component, templ.Component)) formAnswer {
	return func(c *gin.Context, status int, errs models.FieldErrors) {
		f, err := h.withRoles(c, f)
		if err != nil {
			// Without its role boxes the form, sent again, would take
			// every role away.
			h.answerError(c, err)
			return
		}
		fragment, page := show(f, errs)
		h.renderForm(c, status, fragment, page)
	}
}

// detailsForm shows errs on the user form.
func detailsForm(f views.UserForm, errs models.FieldErrors) (templ.Component, templ.Component) {
	f.Errors = errs
	return views.UserEditor(f), views.UserFormPage(f, views.PasswordForm{UserID: f.ID, Username: f.Username})
}

// passwordForm shows errs on the password form.
func passwordForm(f views.UserForm, errs models.FieldErrors) (templ.Component, templ.Component) {
	pw := views.PasswordForm{UserID: f.ID, Username: f.Username, Errors: errs}
	return views.PasswordEditor(pw), views.UserFormPage(f, pw)
}

// userSetPassword sets a new password from the edit page's second form.
func (h *Handlers) userSetPassword(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := readForm(c, maxFormBytes); err != nil {
		return err
	}
	cur, err := models.UserSummaryByID(c.Request.Context(), h.db, id)
	if err != nil {
		return failed("load the user", err)
	}
	password, confirm := c.PostForm("password"), c.PostForm("confirm")
	if msg := models.ValidatePassword(password); msg != "" {
		err = models.FieldErrors{"password": msg}
	} else if password != confirm {
		err = models.FieldErrors{"confirm": "The passwords do not match."}
	} else {
		_, err = h.updateUser(c, id, models.UserChanges{Password: &password})
	}
	if err != nil {
		return withForm(failed("set the password", err), h.userForm(userFormOf(cur), passwordForm))
	}
	done := fmt.Sprintf("Password for %s changed; their other sessions were signed out.", cur.Username)
	pw := views.PasswordForm{UserID: id, Username: cur.Username, Done: done}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.PasswordEditor(pw))
		return nil
	}
	f, err := h.withRoles(c, userFormOf(cur))
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.UserFormPage(f, pw))
	return nil
}

func toUserJSON(u *models.UserSummary) api.User {
	return api.User{
		ID: u.ID, Username: u.Username, Email: u.Email, Active: u.Active, Roles: u.RoleNames(),
		CreatedAt: rfc3339(u.CreatedAt), LastLoginAt: rfc3339OrNull(u.LastLoginAt),
	}
}

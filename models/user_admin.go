package models

// Queries behind user administration (the Users page and /api/users). They
// live beside user.go rather than in it so that sign-in and identity code
// stays short to read.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RoleRef names a role a user holds.
type RoleRef struct {
	ID   uint
	Name string
}

// UserSummary is a user as administrators see it: everything but secrets.
type UserSummary struct {
	ID          uint
	Username    string
	Email       string
	Active      bool
	Roles       []RoleRef
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

// HasRole reports whether the user holds role id.
func (u *UserSummary) HasRole(id uint) bool {
	return slices.ContainsFunc(u.Roles, func(r RoleRef) bool { return r.ID == id })
}

// RoleIDs lists the ids of the user's roles.
func (u *UserSummary) RoleIDs() []uint {
	ids := make([]uint, len(u.Roles))
	for i, r := range u.Roles {
		ids[i] = r.ID
	}
	return ids
}

// RoleNames lists the names of the user's roles.
func (u *UserSummary) RoleNames() []string {
	names := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		names[i] = r.Name
	}
	return names
}

// ListUsers returns every user ordered by username.
func ListUsers(ctx context.Context, db *gorm.DB) ([]UserSummary, error) {
	return loadUserSummaries(db.WithContext(ctx), nil)
}

// UserSummaryByID returns one user.
func UserSummaryByID(ctx context.Context, db *gorm.DB, id uint) (*UserSummary, error) {
	return firstOf(loadUserSummaries(db.WithContext(ctx), []uint{id}))
}

// loadUserSummaries loads the users with ids (all users when ids is nil)
// with their roles, in two queries whatever their number.
func loadUserSummaries(tx *gorm.DB, ids []uint) ([]UserSummary, error) {
	users, err := findIn[User](tx.Order("lower(username), id"), "id", ids, "users")
	if err != nil {
		return nil, err
	}
	held, err := findIn[heldRole](tx.Table("user_roles ur").Select("ur.user_id, ur.role_id AS id, r.name").Joins("JOIN roles r ON r.id = ur.role_id").
		Order("lower(r.name)"), "ur.user_id", ids, "user roles")
	if err != nil {
		return nil, err
	}
	out := make([]UserSummary, len(users))
	for i, u := range users {
		out[i] = UserSummary{ID: u.ID, Username: u.Username, Email: u.Email, Active: u.Active, Roles: []RoleRef{}, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
		for _, h := range held {
			if h.UserID == u.ID {
				out[i].Roles = append(out[i].Roles, h.RoleRef)
			}
		}
	}
	return out, nil
}

// heldRole is a role a user holds.
type heldRole struct {
	UserID uint
	RoleRef
}

// checkRoles makes sure every role in ids exists, and that actor holds
// every permission of the roles in added (the ones being newly given:
// keeping a role someone already has is not granting it).
func checkRoles(tx *gorm.DB, actor *Identity, ids, added []uint) error {
	if len(ids) == 0 {
		return nil
	}
	roles, err := loadRoleSummaries(tx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.ContainsFunc(roles, func(r RoleSummary) bool { return r.ID == id }) {
			return FieldErrors{"roles": fmt.Sprintf("There is no role with id %d; reload the page and choose again.", id)}
		}
	}
	for _, r := range roles {
		if !slices.Contains(added, r.ID) {
			continue
		}
		if miss := actor.missing(r.Permissions); len(miss) > 0 {
			return &ForbiddenError{Field: "roles", Message: fmt.Sprintf("You cannot give the role “%s”: it grants %s, which you do not hold.", r.Name, strings.Join(miss, ", "))}
		}
	}
	return nil
}

func emailTaken(email string) *ConflictError {
	return &ConflictError{Field: "email", Message: fmt.Sprintf("Another user already has the email address %s.", email)}
}

// takenUserKey says which of username and email another user already has.
// GORM's translated duplicate-key error does not name the constraint (on
// SQLite it is the bare gorm.ErrDuplicatedKey, the driver's message gone),
// so the table is asked instead; the username column compares as its
// unique index does on both databases (NOCASE, citext).
func takenUserKey(ctx context.Context, db *gorm.DB, username, email string) error {
	var n int64
	if err := db.WithContext(ctx).Model(&User{}).Where("username = ?", username).Count(&n).Error; err != nil {
		return fmt.Errorf("create user: find the taken name or email: %w", err)
	}
	if n > 0 {
		return &ConflictError{Field: "username", Message: fmt.Sprintf("The username “%s” is taken; choose another.", username)}
	}
	return emailTaken(email)
}

// CreateUser validates n and stores a new user on behalf of actor, with
// n.RoleIDs as roles.
func CreateUser(ctx context.Context, db *gorm.DB, actor *Identity, n NewUser, now time.Time) (*UserSummary, error) {
	u, err := n.row(n.Active, now)
	if err != nil {
		return nil, err
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkRoles(tx, actor, n.RoleIDs, n.RoleIDs); err != nil {
			return err
		}
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		return setUserRoles(tx, u.ID, n.RoleIDs)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, takenUserKey(ctx, db, n.Username, n.Email)
	}
	if err != nil {
		return nil, writeError(err, nil, "create user")
	}
	return UserSummaryByID(ctx, db, u.ID)
}

func setUserRoles(tx *gorm.DB, userID uint, roleIDs []uint) error {
	return replaceLinks(tx, "user_roles", "user_id", userID, "role_id", roleIDs)
}

// UserChanges are the fields of a user to change; nil leaves one as it is.
type UserChanges struct {
	Email    *string
	RoleIDs  *[]uint
	Active   *bool
	Password *string
}

// Deactivates reports whether the changes switch the account off.
func (ch UserChanges) Deactivates() bool {
	return ch.Active != nil && !*ch.Active
}

// columns validates the changes (normalising the email in place) and
// returns the users columns they write, the password hashed.
func (ch UserChanges) columns(now time.Time) (map[string]any, error) {
	errs := FieldErrors{}
	updates := map[string]any{"updated_at": now}
	if ch.Email != nil {
		email, msg := NormalizeEmail(*ch.Email)
		if msg != "" {
			errs["email"] = msg
		} else {
			*ch.Email, updates["email"] = email, email
		}
	}
	if ch.Password != nil {
		if msg := ValidatePassword(*ch.Password); msg != "" {
			errs["password"] = msg
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if ch.Active != nil {
		updates["active"] = *ch.Active
	}
	if ch.Password != nil {
		hash, err := HashPassword(*ch.Password)
		if err != nil {
			return nil, err
		}
		updates["password_hash"] = hash
	}
	return updates, nil
}

// UpdateUser changes user id on behalf of actor.
//
// The rules are checked inside the write transaction (SQLite's write lock
// is taken at BEGIN), so two administrators acting at once cannot both
// pass a check that only one of them may pass:
//   - actor may only change users whose permissions they hold themselves,
//     and only give roles whose permissions they hold;
//   - nobody deactivates their own account;
//   - at least one active user keeps the Admin role.
func UpdateUser(ctx context.Context, db *gorm.DB, actor *Identity, id uint, ch UserChanges, now time.Time) (*UserSummary, error) {
	updates, err := ch.columns(now)
	if err != nil {
		return nil, err
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		target, err := firstOf(loadUserSummaries(tx, []uint{id}))
		if err != nil {
			return err
		}
		if err := checkMayChange(tx, actor, target, ch); err != nil {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		if err := changeUserRoles(tx, actor, target, ch.RoleIDs); err != nil {
			return err
		}
		return checkAdminRemains(tx, target, ch)
	})
	if err != nil {
		var taken *ConflictError
		if ch.Email != nil {
			// The email is the only unique column a change can touch.
			taken = emailTaken(*ch.Email)
		}
		return nil, writeError(err, taken, fmt.Sprintf("update user %d", id))
	}
	return UserSummaryByID(ctx, db, id)
}

// changeUserRoles gives target the roles ids, unless ids is nil.
func changeUserRoles(tx *gorm.DB, actor *Identity, target *UserSummary, ids *[]uint) error {
	if ids == nil {
		return nil
	}
	var added []uint
	for _, r := range *ids {
		if !target.HasRole(r) {
			added = append(added, r)
		}
	}
	if err := checkRoles(tx, actor, *ids, added); err != nil {
		return err
	}
	return setUserRoles(tx, target.ID, *ids)
}

// checkMayChange refuses when target holds a permission actor lacks: a
// user manager who is not an Admin must not reset an Admin's password and
// sign in as them. Nobody deactivates their own account either.
func checkMayChange(tx *gorm.DB, actor *Identity, target *UserSummary, ch UserChanges) error {
	if target.ID == actor.ID {
		if ch.Deactivates() && target.Active {
			return &ConflictError{Field: "active", Message: "You cannot deactivate your own account; ask another administrator to do it."}
		}
		return nil
	}
	roles, err := loadRoleSummaries(tx, target.RoleIDs())
	if err != nil {
		return err
	}
	var theirs []string
	for _, r := range roles {
		theirs = append(theirs, r.Permissions...)
	}
	if miss := actor.missing(theirs); len(miss) > 0 {
		slices.Sort(miss)
		return &ForbiddenError{Message: fmt.Sprintf("You cannot change %s: they hold %s, which you do not.", target.Username, strings.Join(slices.Compact(miss), ", "))}
	}
	return nil
}

// checkAdminRemains runs after the changes inside the transaction: if no
// active Admin is left, the transaction is rolled back with a message
// beside the field that caused it.
func checkAdminRemains(tx *gorm.DB, target *UserSummary, ch UserChanges) error {
	if !target.Active || !target.HasRole(AdminRoleID) {
		// Only a change to an active Admin can remove the last one.
		return nil
	}
	var n int64
	err := tx.Table("users u").Joins("JOIN user_roles ur ON ur.user_id = u.id").
		Where("ur.role_id = ? AND u.active = ?", AdminRoleID, true).Count(&n).Error
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if ch.Deactivates() {
		return &ConflictError{Field: "active", Message: fmt.Sprintf("%s is the last active Admin and cannot be deactivated; make another user an active Admin first.", target.Username)}
	}
	return &ConflictError{Field: "roles", Message: fmt.Sprintf("%s is the last active Admin and must keep the Admin role; make another user an active Admin first.", target.Username)}
}

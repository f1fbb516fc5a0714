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
	users, err := loadUserSummaries(db.WithContext(ctx), []uint{id})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, ErrNotFound
	}
	return &users[0], nil
}

func loadUserSummaries(tx *gorm.DB, ids []uint) ([]UserSummary, error) {
	q := tx.Model(&User{}).Order("lower(username), id")
	if ids != nil {
		q = q.Where("id IN ?", ids)
	}
	var users []User
	if err := q.Find(&users).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	if len(users) == 0 {
		return []UserSummary{}, nil
	}
	userIDs := make([]uint, len(users))
	for i, u := range users {
		userIDs[i] = u.ID
	}
	var held []struct {
		UserID uint
		RoleID uint
		Name   string
	}
	if err := tx.Table("user_roles ur").Select("ur.user_id, ur.role_id, r.name").
		Joins("JOIN roles r ON r.id = ur.role_id").Where("ur.user_id IN ?", userIDs).
		Order("lower(r.name)").Find(&held).Error; err != nil {
		return nil, fmt.Errorf("list user roles: %w", err)
	}
	out := make([]UserSummary, len(users))
	for i, u := range users {
		s := UserSummary{ID: u.ID, Username: u.Username, Email: u.Email, Active: u.Active, Roles: []RoleRef{}, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
		for _, h := range held {
			if h.UserID == u.ID {
				s.Roles = append(s.Roles, RoleRef{ID: h.RoleID, Name: h.Name})
			}
		}
		out[i] = s
	}
	return out, nil
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

// uniqueUserError turns a unique-index failure into the message for the
// field that clashed.
func uniqueUserError(err error, username, email string) error {
	if uniqueViolationOn(err, "users", "username") {
		return &ConflictError{Field: "username", Message: fmt.Sprintf("The username “%s” is taken; choose another.", username)}
	}
	return &ConflictError{Field: "email", Message: fmt.Sprintf("Another user already has the email address %s.", email)}
}

// CreateUser validates n and stores a new user on behalf of actor, with
// n.RoleIDs as roles.
func CreateUser(ctx context.Context, db *gorm.DB, actor *Identity, n NewUser, now time.Time) (*UserSummary, error) {
	if errs := n.Validate(); len(errs) > 0 {
		return nil, errs
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	u := User{Username: n.Username, Email: n.Email, PasswordHash: hash, Active: n.Active, CreatedAt: now, UpdatedAt: now}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkRoles(tx, actor, n.RoleIDs, n.RoleIDs); err != nil {
			return err
		}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		return setUserRoles(tx, u.ID, n.RoleIDs)
	})
	if err != nil {
		if isUniqueViolation(err) {
			return nil, uniqueUserError(err, n.Username, n.Email)
		}
		if isRefusal(err) {
			return nil, err
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return UserSummaryByID(ctx, db, u.ID)
}

func setUserRoles(tx *gorm.DB, userID uint, roleIDs []uint) error {
	if err := tx.Exec(`DELETE FROM user_roles WHERE user_id = ?`, userID).Error; err != nil {
		return err
	}
	seen := []uint{}
	for _, r := range roleIDs {
		if slices.Contains(seen, r) {
			continue
		}
		seen = append(seen, r)
		if err := tx.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, userID, r).Error; err != nil {
			return err
		}
	}
	return nil
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
	errs := FieldErrors{}
	if ch.Email != nil {
		email, msg := NormalizeEmail(*ch.Email)
		if msg != "" {
			errs["email"] = msg
		} else {
			*ch.Email = email
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
	var hash string
	if ch.Password != nil {
		var err error
		if hash, err = HashPassword(*ch.Password); err != nil {
			return nil, err
		}
	}
	var username string
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := loadUserSummaries(tx, []uint{id})
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			return ErrNotFound
		}
		target := cur[0]
		username = target.Username
		if err := checkMayChange(tx, actor, &target); err != nil {
			return err
		}
		if ch.Deactivates() && target.ID == actor.ID && target.Active {
			return &ConflictError{Field: "active", Message: "You cannot deactivate your own account; ask another administrator to do it."}
		}
		updates := map[string]any{"updated_at": now}
		if ch.Email != nil {
			updates["email"] = *ch.Email
		}
		if ch.Active != nil {
			updates["active"] = *ch.Active
		}
		if ch.Password != nil {
			updates["password_hash"] = hash
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		if ch.RoleIDs != nil {
			var added []uint
			for _, r := range *ch.RoleIDs {
				if !target.HasRole(r) {
					added = append(added, r)
				}
			}
			if err := checkRoles(tx, actor, *ch.RoleIDs, added); err != nil {
				return err
			}
			if err := setUserRoles(tx, id, *ch.RoleIDs); err != nil {
				return err
			}
		}
		return checkAdminRemains(tx, &target, ch)
	})
	if err != nil {
		if isUniqueViolation(err) && ch.Email != nil {
			return nil, uniqueUserError(err, username, *ch.Email)
		}
		if errors.Is(err, ErrNotFound) || isRefusal(err) {
			return nil, err
		}
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	return UserSummaryByID(ctx, db, id)
}

// checkMayChange refuses when target holds a permission actor lacks: a
// user manager who is not an Admin must not reset an Admin's password and
// sign in as them.
func checkMayChange(tx *gorm.DB, actor *Identity, target *UserSummary) error {
	if target.ID == actor.ID {
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

// isRefusal reports whether err is one of the errors a handler shows to
// the user as it is (a validation, conflict or permission message).
func isRefusal(err error) bool {
	var fe FieldErrors
	var conflict *ConflictError
	var forbidden *ForbiddenError
	return errors.As(err, &fe) || errors.As(err, &conflict) || errors.As(err, &forbidden)
}

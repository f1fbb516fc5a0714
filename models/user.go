package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// User is a row of users. It carries the password hash, so it never leaves
// this package's callers for a view: views get an Identity.
type User struct {
	ID           uint
	Username     string
	Email        string
	PasswordHash string
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time

	// Set only on a leaf, for users who signed in through the origin.
	OriginUserID        *uint
	OriginRoles         string
	OriginPermissions   string
	OfflinePasswordHash string
	OriginLoginAt       *time.Time
}

// Identity is who a request acts for: the user without secrets, with the
// names of their roles and the union of their permissions.
type Identity struct {
	ID          uint
	Username    string
	Email       string
	Active      bool
	Roles       []string
	Permissions []string
	// TokenID is the API token the request authenticated with, 0 for a
	// browser session. Leaf mode needs to know which token a leaf uses.
	TokenID uint
}

// Can reports whether the identity holds permission p.
func (i *Identity) Can(p string) bool {
	return i != nil && slices.Contains(i.Permissions, p)
}

var usernameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,63}$`)

// MinPasswordLength is the shortest password knot accepts.
const MinPasswordLength = 8

// maxPasswordBytes is bcrypt's input limit; longer passwords would be
// silently truncated, so they are refused.
const maxPasswordBytes = 72

// FieldErrors maps a form field to the message shown beside it.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+f[k])
	}
	return strings.Join(parts, "; ")
}

// NewUser is what it takes to create a user.
type NewUser struct {
	Username string
	Email    string
	Password string
	Confirm  string
	RoleIDs  []uint
	Active   bool
}

// Validate checks a new user's fields and normalises them in place.
func (n *NewUser) Validate() FieldErrors {
	errs := FieldErrors{}
	n.Username = strings.TrimSpace(n.Username)
	if !usernameRE.MatchString(n.Username) {
		errs["username"] = "Use 2–64 letters, digits or dashes, starting with a letter."
	}
	if email, msg := NormalizeEmail(n.Email); msg != "" {
		errs["email"] = msg
		// Shown again in the form: no bytes a page cannot carry.
		n.Email = strings.ToValidUTF8(strings.TrimSpace(n.Email), "\uFFFD")
	} else {
		n.Email = email
	}
	if msg := ValidatePassword(n.Password); msg != "" {
		errs["password"] = msg
	} else if n.Password != n.Confirm {
		errs["confirm"] = "The passwords do not match."
	}
	return errs
}

// row validates n and returns the users row it makes, its password hashed.
func (n *NewUser) row(active bool, now time.Time) (*User, error) {
	if errs := n.Validate(); len(errs) > 0 {
		return nil, errs
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	return &User{Username: n.Username, Email: n.Email, PasswordHash: hash, Active: active, CreatedAt: now, UpdatedAt: now}, nil
}

// maxEmailBytes is the longest address SMTP can carry (RFC 5321).
const maxEmailBytes = 254

// NormalizeEmail parses raw as one bare email address and returns it in the
// form knot stores and compares, or a message for the person who typed it.
//
// The form is the address trimmed, with its ASCII letters in lower case.
// Only ASCII: that is exactly what SQLite's NOCASE columns fold, so a
// stored address and a typed one compare the same on SQLite and on
// PostgreSQL (citext), and the 0009 migration can produce it in plain SQL
// on both; case rules beyond ASCII depend on the locale. Strictly the part
// before the @ may be case-sensitive, but no mail system people use treats
// it so, and two accounts that differ only in case would be a trap.
//
// NUL, other control characters, invisible (format) characters and invalid
// UTF-8 are refused before anything else: a database may compare
// text only up to a NUL, and an invisible character makes two addresses
// that look the same. A display name, angle brackets, a comment, a quoted
// local part or a list are refused too: an account has one plain address.
func NormalizeEmail(raw string) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "An email address must be valid text (UTF-8); type it again rather than pasting it."
	}
	email := strings.TrimSpace(raw)
	if email == "" {
		return "", "Enter an email address."
	}
	for _, r := range email {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", "An email address cannot contain control characters (such as NUL or a line break) or invisible ones; type it again rather than pasting it."
		}
	}
	if len(email) > maxEmailBytes {
		return "", fmt.Sprintf("An email address can be at most %d characters.", maxEmailBytes)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil {
		if strings.ContainsAny(email, "<>(),\"") {
			return "", "Enter just the address, like name@example.com, without a name, brackets, quotes or comments."
		}
		return "", "Enter a valid email address, like name@example.com."
	}
	if addr.Name != "" || addr.Address != email {
		return "", "Enter just the address, like name@example.com, without a name, brackets, quotes or comments."
	}
	if strings.ContainsFunc(email, unicode.IsSpace) {
		return "", "Enter a valid email address, like name@example.com."
	}
	return asciiLower(email), ""
}

// asciiLower lower-cases the ASCII letters of s and nothing else.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ValidatePassword returns a message for an unusable password, or "".
func ValidatePassword(pw string) string {
	switch {
	case len([]rune(pw)) < MinPasswordLength:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLength)
	case len(pw) > maxPasswordBytes:
		return fmt.Sprintf("Use at most %d bytes.", maxPasswordBytes)
	}
	return ""
}

// HashPassword returns the bcrypt hash of pw.
func HashPassword(pw string) (string, error) {
	return HashPasswordCost(pw, bcrypt.DefaultCost)
}

// HashPasswordCost returns the bcrypt hash of pw at cost, or at knot's own
// cost when that is higher: never a weaker hash than knot makes itself.
func HashPasswordCost(pw string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), max(cost, bcrypt.DefaultCost))
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// PasswordCost is the bcrypt cost of hash, 0 when it is not a bcrypt hash.
func PasswordCost(hash string) int {
	c, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return 0
	}
	return c
}

// dummyHash is compared against when the email is unknown, so that a
// failed sign-in takes as long whether or not the account exists. It is a
// bcrypt of a throwaway phrase at bcrypt.DefaultCost, written out here
// rather than computed at start-up, where it cost about 70 ms.
var dummyHash = []byte("$2a$10$rNhp2UtHssQLsj36Ywj4rO09fRaHLOz6uiL8O2M7nUMMv2A705MXK")

// CheckPassword compares pw with hash in constant time; an empty hash
// (a user without a local password) never matches.
func CheckPassword(hash, pw string) bool {
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(pw)) //nolint:errcheck // timing only
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// SignInRefusals are the errors CheckSignIn answers with: each caller words
// its own.
type SignInRefusals struct{ Unknown, BadPassword, Inactive error }

// CheckSignIn checks pw against the hash that hashOf picks from u, the user
// a lookup by email returned with err. An unknown email costs the same
// bcrypt work as a wrong password, and only someone who knows the password
// learns that the account is switched off.
func CheckSignIn(u *User, err error, pw string, hashOf func(*User) string, refuse SignInRefusals) (*User, error) {
	if errors.Is(err, ErrNotFound) {
		CheckPassword("", pw)
		return nil, refuse.Unknown
	}
	if err != nil {
		return nil, err
	}
	if !CheckPassword(hashOf(u), pw) {
		return nil, refuse.BadPassword
	}
	if !u.Active {
		return nil, refuse.Inactive
	}
	return u, nil
}

// ErrSetupDone is returned by CreateFirstAdmin once any user exists.
var ErrSetupDone = errors.New("initial setup has already been completed")

// SetupDone reports whether the initial admin has been created.
func SetupDone(ctx context.Context, db *gorm.DB) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Table("system_setup").Count(&n).Error
	return n > 0, err
}

// CreateFirstAdmin creates the first user with the Admin role. It succeeds
// once: the system_setup row it inserts in the same transaction makes every
// later or concurrent call fail with ErrSetupDone. The caller checks the
// setup code (CheckSetupCode); the same transaction deletes it.
func CreateFirstAdmin(ctx context.Context, db *gorm.DB, n NewUser, now time.Time) (*User, error) {
	u, err := n.row(true, now)
	if err != nil {
		return nil, err
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var users int64
		if err := tx.Model(&User{}).Count(&users).Error; err != nil {
			return err
		}
		if users > 0 {
			return ErrSetupDone
		}
		if err := tx.Exec(`INSERT INTO system_setup (id, completed_at) VALUES (1, ?)`, now).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrSetupDone
			}
			return err
		}
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, u.ID, AdminRoleID).Error; err != nil {
			return err
		}
		// The code has done its job; leaving it would only keep a secret around.
		return deleteSetupCode(tx)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserByEmail finds the user with email as NormalizeEmail has it: an
// address that is not a valid one finds nobody, without asking the
// database. The row found is checked against the address asked for, so a
// database that compares text only up to a NUL cannot hand over a
// neighbour's account.
func UserByEmail(ctx context.Context, db *gorm.DB, email string) (*User, error) {
	email, msg := NormalizeEmail(email)
	if msg != "" {
		return nil, ErrNotFound
	}
	var u User
	err := db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if err != nil {
		return nil, notFound(err)
	}
	// The columns compare case-insensitively (NOCASE, citext); so may this.
	if !strings.EqualFold(u.Email, email) {
		return nil, ErrNotFound
	}
	return &u, nil
}

// UserRef names a user without anything else about them.
type UserRef struct {
	ID       uint
	Username string
}

// UsersWithUnusableEmail lists the users whose stored email is not in the
// form NormalizeEmail gives — rows from before emails were checked that
// the 0009 migration left alone because normalising them would clash with
// another row, or that hold no valid address at all. Nobody can sign in
// with such an email until an administrator changes it.
func UsersWithUnusableEmail(ctx context.Context, db *gorm.DB) ([]UserRef, error) {
	var rows []struct {
		ID       uint
		Username string
		Email    string
	}
	if err := db.WithContext(ctx).Model(&User{}).Select("id", "username", "email").Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("check stored emails: %w", err)
	}
	var out []UserRef
	for _, r := range rows {
		if email, msg := NormalizeEmail(r.Email); msg != "" || email != r.Email {
			out = append(out, UserRef{ID: r.ID, Username: r.Username})
		}
	}
	return out, nil
}

// UserByID finds a user by id.
func UserByID(ctx context.Context, db *gorm.DB, id uint) (*User, error) {
	var u User
	if err := db.WithContext(ctx).First(&u, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// RecordLogin stamps the user's last sign-in time.
func RecordLogin(ctx context.Context, db *gorm.DB, id uint, now time.Time) error {
	return db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Update("last_login_at", now).Error
}

// LoadIdentity returns the active-or-not user id with roles and permissions.
func LoadIdentity(ctx context.Context, db *gorm.DB, id uint) (*Identity, error) {
	u, err := UserByID(ctx, db, id)
	if err != nil {
		return nil, err
	}
	ident := &Identity{ID: u.ID, Username: u.Username, Email: u.Email, Active: u.Active}
	if u.OriginUserID != nil {
		// On a leaf, an origin user's roles and permissions are what the
		// origin said at their last sign-in through it.
		if err := json.Unmarshal([]byte(u.OriginRoles), &ident.Roles); err != nil {
			return nil, fmt.Errorf("roles of origin user %d: %w", id, err)
		}
		if err := json.Unmarshal([]byte(u.OriginPermissions), &ident.Permissions); err != nil {
			return nil, fmt.Errorf("permissions of origin user %d: %w", id, err)
		}
		return ident, nil
	}
	var rows []struct {
		Name       string
		Permission *string
		RoleID     uint
	}
	err = db.WithContext(ctx).Raw(`SELECT r.id AS role_id, r.name, p.permission
		FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		LEFT JOIN role_permissions p ON p.role_id = r.id
		WHERE ur.user_id = ? ORDER BY r.name, p.permission`, id).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load roles of user %d: %w", id, err)
	}
	admin := false
	for _, r := range rows {
		if !slices.Contains(ident.Roles, r.Name) {
			ident.Roles = append(ident.Roles, r.Name)
		}
		if r.RoleID == AdminRoleID {
			admin = true
		}
		if r.Permission != nil && !slices.Contains(ident.Permissions, *r.Permission) {
			ident.Permissions = append(ident.Permissions, *r.Permission)
		}
	}
	if admin {
		ident.Permissions = slices.Clone(AllPermissions)
	}
	slices.Sort(ident.Permissions)
	if ident.Roles == nil {
		ident.Roles = []string{}
	}
	if ident.Permissions == nil {
		ident.Permissions = []string{}
	}
	return ident, nil
}

// ChangeOwnPassword sets user id's password to pw once current matches the
// stored one. Every problem comes back as FieldErrors keyed by the profile
// form's fields (current, password, confirm), all of them at once.
//
// The stored hash is replaced only if it is still the one current was
// checked against, so a change made meanwhile elsewhere (an administrator
// setting the password) is not silently overwritten.
func ChangeOwnPassword(ctx context.Context, db *gorm.DB, id uint, current, pw, confirm string, now time.Time) error {
	u, err := UserByID(ctx, db, id)
	if err != nil {
		return err
	}
	errs := FieldErrors{}
	switch {
	case current == "":
		// The same bcrypt work as a wrong password.
		CheckPassword("", current)
		errs["current"] = "Enter your current password."
	case !CheckPassword(u.PasswordHash, current):
		errs["current"] = "That is not your current password."
	}
	if msg := ValidatePassword(pw); msg != "" {
		errs["password"] = msg
	} else if pw != confirm {
		errs["confirm"] = "The passwords do not match."
	}
	if len(errs) > 0 {
		return errs
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return err
	}
	res := db.WithContext(ctx).Model(&User{}).Where("id = ? AND password_hash = ?", id, u.PasswordHash).
		Updates(map[string]any{"password_hash": hash, "updated_at": now.UTC()})
	if res.Error != nil {
		return fmt.Errorf("change the password of user %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return FieldErrors{"current": "Your password was changed elsewhere just now; type the new current password."}
	}
	return nil
}

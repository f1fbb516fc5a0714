package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/knot-dev/knot/vault"
)

const (
	// TokenLifetime is how long a token lives after its last use (or its
	// creation, while unused): "Tokens that have not been used for access in
	// over two weeks are automatically removed from the system."
	TokenLifetime = 14 * 24 * time.Hour

	// TokenTouchInterval is how stale the stored last-used time may get
	// before a use writes it again. Without it every API call would be a
	// database write; with it a token may expire up to this much earlier
	// than its very last use would allow, which is nothing against 14 days.
	TokenTouchInterval = time.Minute

	// TokenBytes is the number of random bytes in a token.
	TokenBytes = 32

	// TokenLength is the token's length as text: URL-safe base64 with padding.
	TokenLength = 44

	// TokenPrefixLength is how much of the token the list shows unmasked.
	TokenPrefixLength = 8

	// MaxTokenNameLength is the longest name, in characters, after trimming.
	MaxTokenNameLength = 255
)

// Token is an API token as its owner sees it. It carries neither the
// plaintext nor the hash nor the ciphertext: those stay in apiToken.
type Token struct {
	ID         uint
	UserID     uint
	Name       string
	Prefix     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// ActiveAt is when the token's 14 days started: its last use, or its
// creation while it has never been used.
func (t *Token) ActiveAt() time.Time {
	if t.LastUsedAt != nil {
		return *t.LastUsedAt
	}
	return t.CreatedAt
}

// ExpiresAt is the last instant the token is still accepted.
func (t *Token) ExpiresAt() time.Time {
	return t.ActiveAt().Add(TokenLifetime)
}

// Expired reports whether the token has gone unused for more than
// TokenLifetime at now. Exactly 14 days is still fine; a second more is not.
func (t *Token) Expired(now time.Time) bool {
	return now.After(t.ExpiresAt())
}

// apiToken is the api_tokens row. It never leaves this package.
type apiToken struct {
	ID          uint
	UserID      uint
	Name        string
	Prefix      string
	TokenHash   string
	TokenCipher string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
}

func (apiToken) TableName() string { return "api_tokens" }

func (r *apiToken) public() Token {
	t := Token{ID: r.ID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix, CreatedAt: r.CreatedAt.UTC()}
	if r.LastUsedAt != nil {
		u := r.LastUsedAt.UTC()
		t.LastUsedAt = &u
	}
	return t
}

// GenerateToken returns a new token: 32 bytes from crypto/rand, URL-safe
// base64 with padding, 44 characters.
func GenerateToken() (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// WellFormedToken reports whether s looks like a token knot issued, so that
// garbage is refused without a database query.
func WellFormedToken(s string) bool {
	if len(s) != TokenLength {
		return false
	}
	b, err := base64.URLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == TokenBytes
}

// HashToken is the SHA-256 of the token, hex encoded: what the database
// stores for look-up. A token is 256 random bits, so a fast unsalted hash
// is enough; there is nothing to brute-force.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// sealContext binds a ciphertext to its row's hash, so a ciphertext copied
// onto another row by someone with write access to the database does not
// open there.
func sealContext(hash string) []byte {
	return []byte("knot api token " + hash)
}

// ValidateTokenName trims name and returns it with a message for the field,
// or "" when it is fine.
func ValidateTokenName(name string) (string, string) {
	name = strings.TrimSpace(strings.ToValidUTF8(name, "\uFFFD"))
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return name, "Enter a name for the token, such as Leaf Test."
	case n > MaxTokenNameLength:
		return name, fmt.Sprintf("Use at most %d characters (this name has %d).", MaxTokenNameLength, n)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return name, "Use a name on one line, without tabs or control characters."
	}
	return name, ""
}

// CreateToken makes a token for userID and returns it with its plaintext
// for the caller to show once; only the hash and the ciphertext are stored.
// The name is checked (and trimmed) with ValidateTokenName; a bad one is a
// FieldErrors keyed "name".
//
// limit is the most tokens the user may hold (server.max_tokens_per_user;
// 0 means no limit): one more is a ConflictError on the name field. The
// count and the insert share a transaction that locks the user's row, so
// concurrent requests cannot together step over the limit.
func CreateToken(ctx context.Context, db *gorm.DB, v *vault.Vault, userID uint, name string, now time.Time, limit int) (*Token, string, error) {
	name, msg := ValidateTokenName(name)
	if msg != "" {
		return nil, "", FieldErrors{"name": msg}
	}
	plain, err := GenerateToken()
	if err != nil {
		return nil, "", err
	}
	hash := HashToken(plain)
	sealed, err := v.Seal([]byte(plain), sealContext(hash))
	if err != nil {
		return nil, "", fmt.Errorf("encrypt token: %w", err)
	}
	row := apiToken{
		UserID:      userID,
		Name:        name,
		Prefix:      plain[:TokenPrefixLength],
		TokenHash:   hash,
		TokenCipher: sealed,
		CreatedAt:   now.UTC(),
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if limit > 0 {
			var owner User
			if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").First(&owner, userID).Error; err != nil {
				return notFound(err)
			}
			var n int64
			if err := tx.Model(&apiToken{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
				return err
			}
			if n >= int64(limit) {
				return &ConflictError{Field: "name", Message: fmt.Sprintf("You already have %d API tokens, the most one person may hold. Delete some you no longer use, then create this one.", n)}
			}
		}
		return tx.Create(&row).Error
	})
	var conflict *ConflictError
	if errors.As(err, &conflict) || errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("save token: %w", err)
	}
	t := row.public()
	return &t, plain, nil
}

// ListTokens returns userID's tokens, newest first.
func ListTokens(ctx context.Context, db *gorm.DB, userID uint) ([]Token, error) {
	rows, err := listTokenRows(ctx, db, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(rows))
	for i := range rows {
		out[i] = rows[i].public()
	}
	return out, nil
}

// RevealedToken is a token with its plaintext, for its owner to copy.
// Plaintext is "" when it cannot be decrypted (the server.encrypt key was
// replaced); the token then still works and can be deleted, it just cannot
// be copied any more.
type RevealedToken struct {
	Token
	Plaintext string
}

// ListTokenPage returns one page of userID's tokens, newest first, whose
// names contain q ignoring case ("" matches every token), and how many
// match in all. Pages count from 1; a page past the end is the last page
// (see LastPage), so a list that shrank under a stale link still shows
// something. Nothing is decrypted: the list shows prefixes, and the one
// token a person copies is revealed on its own.
//
// Case is folded by the database's lower() on the stored names and by Go
// on q: ASCII on both databases; other letters on PostgreSQL as its locale
// folds them, on SQLite only where the name is already in lower case.
func ListTokenPage(ctx context.Context, db *gorm.DB, userID uint, q string, page, perPage int) ([]Token, int64, error) {
	perPage = max(perPage, 1)
	q = strings.TrimSpace(q)
	match := func(tx *gorm.DB) *gorm.DB {
		tx = tx.Where("user_id = ?", userID)
		if q != "" {
			tx = tx.Where(`lower(name) LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(strings.ToLower(q))+"%")
		}
		return tx
	}
	var total int64
	if err := db.WithContext(ctx).Model(&apiToken{}).Scopes(match).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count tokens of user %d: %w", userID, err)
	}
	page = min(max(page, 1), LastPage(total, perPage))
	var rows []apiToken
	// Only the columns the list shows: the hash and ciphertext stay put.
	err := db.WithContext(ctx).Select("id", "user_id", "name", "prefix", "created_at", "last_used_at").
		Scopes(match).Order("created_at DESC, id DESC").
		Limit(perPage).Offset((page - 1) * perPage).Find(&rows).Error
	if err != nil {
		return nil, 0, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	out := make([]Token, len(rows))
	for i := range rows {
		out[i] = rows[i].public()
	}
	return out, total, nil
}

// LastPage is the number of the last page of total items, perPage to a
// page: 1 for an empty list, which still has its (empty) first page.
func LastPage(total int64, perPage int) int {
	perPage = max(perPage, 1)
	return int(max((total+int64(perPage)-1)/int64(perPage), 1))
}

// likeEscaper makes text match itself inside a LIKE pattern with ESCAPE
// '\', so a search for "50%" or "a_b" is not a wildcard.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// RevealToken returns one of userID's tokens decrypted; another user's
// token is ErrNotFound.
func RevealToken(ctx context.Context, db *gorm.DB, v *vault.Vault, userID, id uint) (*RevealedToken, error) {
	var row apiToken
	if err := db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).First(&row).Error; err != nil {
		return nil, notFound(err)
	}
	r := row.reveal(v)
	return &r, nil
}

func (r *apiToken) reveal(v *vault.Vault) RevealedToken {
	out := RevealedToken{Token: r.public()}
	plain, err := v.Open(r.TokenCipher, sealContext(r.TokenHash))
	// The hash check guards against a row whose ciphertext and hash were
	// both swapped in from elsewhere: what is shown must be what works.
	if err == nil && subtle.ConstantTimeCompare([]byte(HashToken(string(plain))), []byte(r.TokenHash)) == 1 {
		out.Plaintext = string(plain)
	}
	return out
}

func listTokenRows(ctx context.Context, db *gorm.DB, userID uint) ([]apiToken, error) {
	var rows []apiToken
	err := db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return rows, nil
}

// TokenByOwner returns one of userID's tokens; another user's is ErrNotFound.
func TokenByOwner(ctx context.Context, db *gorm.DB, userID, id uint) (*Token, error) {
	var row apiToken
	if err := db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).First(&row).Error; err != nil {
		return nil, notFound(err)
	}
	t := row.public()
	return &t, nil
}

// DeleteToken deletes one of userID's tokens and returns it; another
// user's token is ErrNotFound and stays.
func DeleteToken(ctx context.Context, db *gorm.DB, userID, id uint) (*Token, error) {
	t, err := TokenByOwner(ctx, db, userID, id)
	if err != nil {
		return nil, err
	}
	res := db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&apiToken{})
	if res.Error != nil {
		return nil, fmt.Errorf("delete token %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		// Deleted by a concurrent request or the sweep in between.
		return nil, ErrNotFound
	}
	return t, nil
}

// TokenByPlaintext finds the token a bearer request presents. Unknown
// tokens are ErrNotFound; expiry is the caller's to check against its clock.
func TokenByPlaintext(ctx context.Context, db *gorm.DB, plain string) (*Token, error) {
	if !WellFormedToken(plain) {
		return nil, ErrNotFound
	}
	hash := HashToken(plain)
	var row apiToken
	if err := db.WithContext(ctx).Where("token_hash = ?", hash).First(&row).Error; err != nil {
		return nil, notFound(err)
	}
	// The index look-up compares hashes, which tells a timing observer
	// nothing about the token; this compare is for the record that no
	// secret-derived value is ever compared in variable time.
	if subtle.ConstantTimeCompare([]byte(row.TokenHash), []byte(hash)) != 1 {
		return nil, ErrNotFound
	}
	t := row.public()
	return &t, nil
}

// TouchToken records that t was used at now, unless the stored time is less
// than TokenTouchInterval old: then nothing is written at all. It reports
// whether it wrote, and updates t when it did.
func TouchToken(ctx context.Context, db *gorm.DB, t *Token, now time.Time) (bool, error) {
	now = now.UTC()
	cutoff := now.Add(-TokenTouchInterval)
	if t.LastUsedAt != nil && t.LastUsedAt.After(cutoff) {
		return false, nil
	}
	// The same condition in SQL: of several requests that raced past the
	// check above, only the first writes.
	res := db.WithContext(ctx).Model(&apiToken{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", t.ID, cutoff).
		Update("last_used_at", now)
	if res.Error != nil {
		return false, fmt.Errorf("record use of token %d: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	t.LastUsedAt = &now
	return true, nil
}

// SweepExpiredTokens deletes every token expired at now and returns how
// many it deleted. It uses the same rule as Token.Expired.
func SweepExpiredTokens(ctx context.Context, db *gorm.DB, now time.Time) (int64, error) {
	cutoff := now.UTC().Add(-TokenLifetime)
	res := db.WithContext(ctx).Where("COALESCE(last_used_at, created_at) < ?", cutoff).Delete(&apiToken{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired tokens: %w", res.Error)
	}
	return res.RowsAffected, nil
}

package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// LeafNode is an origin's record of a leaf that connected with one token.
type LeafNode struct {
	ID uint
	// TokenID is nil once the token was deleted: the leaf stays listed,
	// marked so, with its last-seen time.
	TokenID     *uint
	UserID      uint
	LeafURL     string `gorm:"column:leaf_url"`
	Version     string
	RemoteAddr  string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	// FeedConn names the live feed connection open from this leaf, "" when
	// none is: a leaf is online while its feed is open.
	FeedConn string
}

// LeafOnlineWindow is how stale an open feed's last record may get before
// the leaf counts as offline anyway: an open feed records the leaf every
// 15 seconds, so only a server that died with the feed open leaves a stale
// one. The Leaf Nodes page and the metrics share the rule.
const LeafOnlineWindow = 45 * time.Second

// Online reports whether the leaf's live feed is open at now.
func (n *LeafNode) Online(now time.Time) bool {
	return n.FeedConn != "" && now.Sub(n.LastSeenAt) <= LeafOnlineWindow
}

// TokenDeleted reports whether the token the leaf connected with is gone.
func (n *LeafNode) TokenDeleted() bool { return n.TokenID == nil }

// LeafNodeView is a leaf node with its owner's name, for the Leaf Nodes page.
type LeafNodeView struct {
	LeafNode
	Username string
	Email    string
}

// RecordLeafNode notes a hello from a leaf: one row per token, created on the
// first hello and refreshed on every heartbeat.
func RecordLeafNode(ctx context.Context, db *gorm.DB, n LeafNode) error {
	n.FirstSeenAt = n.LastSeenAt
	return db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "token_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"user_id", "leaf_url", "version", "remote_addr", "last_seen_at"}),
	}).Omit("feed_conn").Create(&n).Error
}

// LeafNodeByToken returns the leaf that said hello with token tokenID, or
// ErrNotFound when no leaf ever did.
func LeafNodeByToken(ctx context.Context, db *gorm.DB, tokenID uint) (*LeafNode, error) {
	var n LeafNode
	if err := db.WithContext(ctx).Where("token_id = ?", tokenID).First(&n).Error; err != nil {
		return nil, notFound(err)
	}
	return &n, nil
}

// OpenLeafFeed records a leaf as online through the feed connection conn
// and returns the leaf's row id for TouchLeafFeed and CloseLeafFeed.
func OpenLeafFeed(ctx context.Context, db *gorm.DB, n LeafNode, conn string) (uint, error) {
	if n.TokenID == nil {
		return 0, errors.New("a leaf feed needs the token it was opened with")
	}
	n.FirstSeenAt = n.LastSeenAt
	n.FeedConn = conn
	err := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "token_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"user_id", "leaf_url", "version", "remote_addr", "last_seen_at", "feed_conn"}),
	}).Create(&n).Error
	if err != nil {
		return 0, fmt.Errorf("record leaf feed: %w", err)
	}
	var row LeafNode
	if err := db.WithContext(ctx).Where("token_id = ?", *n.TokenID).First(&row).Error; err != nil {
		return 0, fmt.Errorf("record leaf feed: %w", err)
	}
	return row.ID, nil
}

// TouchLeafFeed records that the feed conn of leaf id is still open at now.
func TouchLeafFeed(ctx context.Context, db *gorm.DB, id uint, conn string, now time.Time) error {
	return db.WithContext(ctx).Model(&LeafNode{}).Where("id = ? AND feed_conn = ?", id, conn).
		Update("last_seen_at", now.UTC()).Error
}

// CloseLeafFeed records that the feed conn of leaf id closed at now. A
// newer connection (the leaf already reconnected, maybe to another server
// of the cluster) is left alone.
func CloseLeafFeed(ctx context.Context, db *gorm.DB, id uint, conn string, now time.Time) error {
	return db.WithContext(ctx).Model(&LeafNode{}).Where("id = ? AND feed_conn = ?", id, conn).
		Updates(map[string]any{"feed_conn": "", "last_seen_at": now.UTC()}).Error
}

// MarkLeafRefused records that the leaf using tokenID was turned away (leaf
// nodes are disabled): it is offline from now on.
func MarkLeafRefused(ctx context.Context, db *gorm.DB, tokenID uint) error {
	return db.WithContext(ctx).Model(&LeafNode{}).Where("token_id = ?", tokenID).Update("feed_conn", "").Error
}

// ListLeafNodes lists the leaves, newest contact first, those whose token
// was deleted included.
func ListLeafNodes(ctx context.Context, db *gorm.DB) ([]LeafNodeView, error) {
	var out []LeafNodeView
	err := db.WithContext(ctx).Table("leaf_nodes").
		Select("leaf_nodes.*, users.username, users.email").
		Joins("JOIN users ON users.id = leaf_nodes.user_id").
		Order("leaf_nodes.last_seen_at DESC").
		Scan(&out).Error
	return out, err
}

// CountLeavesOnline counts the leaves online at now (see LeafNode.Online).
func CountLeavesOnline(ctx context.Context, db *gorm.DB, now time.Time) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&LeafNode{}).
		Where("feed_conn <> '' AND last_seen_at >= ?", now.UTC().Add(-LeafOnlineWindow)).Count(&n).Error
	return n, err
}

// ClusterTemplate is a leaf's cached copy of one of the origin's templates.
type ClusterTemplate struct {
	OriginID    uint `gorm:"primaryKey;autoIncrement:false"`
	Name        string
	Description string
	Zones       []string `gorm:"serializer:json"`
	Active      bool
	Body        string
	UpdatedAt   *time.Time `gorm:"autoUpdateTime:false"`
}

// asTemplate presents a cached cluster template like a local one, marked
// read-only by its source.
func (ct ClusterTemplate) asTemplate() Template {
	t := Template{ID: ct.OriginID, Name: ct.Name, Description: ct.Description, Zones: ct.Zones, Active: ct.Active, Body: ct.Body, Source: SourceCluster}
	if ct.UpdatedAt != nil {
		t.CreatedAt, t.UpdatedAt = *ct.UpdatedAt, *ct.UpdatedAt
	}
	return t
}

// Leaf sync state keys.
const (
	stateTemplatesETag = "templates_etag"
	stateLastSync      = "last_sync"
)

type leafState struct {
	Key   string `gorm:"primaryKey"`
	Value string
}

func (leafState) TableName() string { return "leaf_state" }

// ReplaceClusterTemplates swaps the whole cached list for a fresh one from
// the origin, with its ETag, in one transaction: a reader sees the old list
// or the new one, never half of each.
func ReplaceClusterTemplates(ctx context.Context, db *gorm.DB, list []ClusterTemplate, etag string, now time.Time) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("1 = 1").Delete(&ClusterTemplate{}).Error; err != nil {
			return err
		}
		if len(list) > 0 {
			if err := tx.CreateInBatches(list, 100).Error; err != nil {
				return err
			}
		}
		if err := setState(tx, stateTemplatesETag, etag); err != nil {
			return err
		}
		return setState(tx, stateLastSync, now.UTC().Format(time.RFC3339Nano))
	})
}

// MarkClusterTemplatesFresh records that the origin confirmed the cached list (304).
func MarkClusterTemplatesFresh(ctx context.Context, db *gorm.DB, now time.Time) error {
	return setState(db.WithContext(ctx), stateLastSync, now.UTC().Format(time.RFC3339Nano))
}

// ClusterTemplates returns the cached list, sorted by name.
func ClusterTemplates(ctx context.Context, db *gorm.DB) ([]ClusterTemplate, error) {
	var out []ClusterTemplate
	err := db.WithContext(ctx).Order("lower(name)").Find(&out).Error
	return out, err
}

// ClusterSyncState returns the cached list's ETag and when it was last
// confirmed by the origin (zero if never).
func ClusterSyncState(ctx context.Context, db *gorm.DB) (etag string, lastSync time.Time, err error) {
	var rows []leafState
	if err := db.WithContext(ctx).Where("key IN ?", []string{stateTemplatesETag, stateLastSync}).Find(&rows).Error; err != nil {
		return "", time.Time{}, err
	}
	for _, r := range rows {
		switch r.Key {
		case stateTemplatesETag:
			etag = r.Value
		case stateLastSync:
			lastSync, _ = time.Parse(time.RFC3339Nano, r.Value)
		}
	}
	return etag, lastSync, nil
}

func setState(db *gorm.DB, key, value string) error {
	return db.Clauses(clause.OnConflict{UpdateAll: true}).Create(&leafState{Key: key, Value: value}).Error
}

// OriginUser is what a leaf learns about a user from the origin at sign-in.
type OriginUser struct {
	ID          uint
	Username    string
	Email       string
	Roles       []string
	Permissions []string
}

// UpsertOriginUser creates or refreshes the leaf's copy of an origin user
// after the origin accepted their sign-in. The copy carries no origin
// password hash; offlineHash is the leaf's own bcrypt of the password the
// origin accepted, for sign-ins while the origin is unreachable.
func UpsertOriginUser(ctx context.Context, db *gorm.DB, ou OriginUser, offlineHash string, now time.Time) (*User, error) {
	// Stored as every other email here, whatever the origin's version
	// stored: the leaf's sign-in looks it up normalised.
	email, msg := NormalizeEmail(ou.Email)
	if msg != "" {
		return nil, fmt.Errorf("the origin's account %d has an email address this leaf cannot use (%s); ask the cluster's administrator to correct it", ou.ID, msg)
	}
	ou.Email = email
	roles, err := json.Marshal(nonNil(ou.Roles))
	if err != nil {
		return nil, err
	}
	perms, err := json.Marshal(nonNil(ou.Permissions))
	if err != nil {
		return nil, err
	}
	var u User
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("origin_user_id = ?", ou.ID).First(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// A user with the same email (say, from before this server became a
			// leaf) is the same person: the origin has just vouched for them.
			err = tx.Where("email = ?", ou.Email).First(&u).Error
		}
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			// New here: active. An existing copy keeps its active flag, so a
			// leaf admin's deactivation is not undone by the next sign-in.
			u = User{CreatedAt: now, Active: true}
		case err != nil:
			return err
		}
		id := ou.ID
		u.OriginUserID = &id
		u.Email = ou.Email
		u.Username = freeUsername(tx, ou.Username, u.ID, ou.ID)
		u.PasswordHash = ""
		u.OfflinePasswordHash = offlineHash
		u.OriginRoles = string(roles)
		u.OriginPermissions = string(perms)
		u.OriginLoginAt = &now
		u.LastLoginAt = &now
		u.UpdatedAt = now
		if u.ID == 0 {
			return tx.Create(&u).Error
		}
		return tx.Save(&u).Error
	})
	if err != nil {
		return nil, fmt.Errorf("save signed-in origin user %s: %w", ou.Email, err)
	}
	return &u, nil
}

// SetOfflinePassword stores the leaf's own hash of the password the origin
// accepted at the sign-in of loginAt. A later sign-in (maybe with a new
// password) has moved origin_login_at on, and is left alone.
func SetOfflinePassword(ctx context.Context, db *gorm.DB, userID uint, loginAt time.Time, hash string) error {
	return db.WithContext(ctx).Model(&User{}).Where("id = ? AND origin_login_at = ?", userID, loginAt).
		Update("offline_password_hash", hash).Error
}

// RefreshOriginUser updates the roles and permissions of the leaf's copy of
// an origin user, if the leaf has one, from what the origin just said (the
// hello names the token's owner). Other users are refreshed when they next
// sign in through the leaf.
func RefreshOriginUser(ctx context.Context, db *gorm.DB, ou OriginUser, now time.Time) error {
	roles, err := json.Marshal(nonNil(ou.Roles))
	if err != nil {
		return err
	}
	perms, err := json.Marshal(nonNil(ou.Permissions))
	if err != nil {
		return err
	}
	return db.WithContext(ctx).Model(&User{}).Where("origin_user_id = ?", ou.ID).Updates(map[string]any{
		"origin_roles": string(roles), "origin_permissions": string(perms), "updated_at": now,
	}).Error
}

// freeUsername keeps the origin's username unless a different local user
// already has it, in which case the origin id is appended.
func freeUsername(tx *gorm.DB, want string, selfID, originID uint) string {
	var n int64
	tx.Model(&User{}).Where("username = ? AND id <> ?", want, selfID).Count(&n)
	if n == 0 {
		return want
	}
	return fmt.Sprintf("%s-%d", strings.TrimRight(want, "-"), originID)
}

// OfflineSignInCandidate returns the origin user with email who signed in on
// this leaf through the origin at or after since, or ErrNotFound.
func OfflineSignInCandidate(ctx context.Context, db *gorm.DB, email string, since time.Time) (*User, error) {
	email, msg := NormalizeEmail(email)
	if msg != "" {
		return nil, ErrNotFound
	}
	var u User
	err := db.WithContext(ctx).
		Where("email = ? AND origin_user_id IS NOT NULL AND offline_password_hash <> '' AND origin_login_at >= ?", email, since).
		First(&u).Error
	if err != nil {
		return nil, notFound(err)
	}
	if !strings.EqualFold(u.Email, email) {
		return nil, ErrNotFound
	}
	return &u, nil
}

// ForgetOfflinePassword drops the offline password of the origin user with
// email: the origin has just refused them (a changed password, a disabled
// account), so the old password must not open the leaf while it is away.
func ForgetOfflinePassword(ctx context.Context, db *gorm.DB, email string) error {
	// origin_login_at goes too: it is what SetOfflinePassword checks, so an
	// offline copy still being made from an earlier sign-in is not stored.
	email, msg := NormalizeEmail(email)
	if msg != "" {
		return nil // no such address is stored
	}
	return db.WithContext(ctx).Model(&User{}).
		Where("email = ? AND origin_user_id IS NOT NULL", email).
		Updates(map[string]any{"offline_password_hash": "", "origin_login_at": nil}).Error
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

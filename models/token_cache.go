package models

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
)

// TokenCache remembers, for API tokens in use, the token and its owner's
// identity, so that a bearer request costs one query instead of three (the
// bounds of the change feed), and on SQLite none unless something was
// committed since the last request (see FeedBounds).
//
// Revocation stays immediate, on this server and on every other server of a
// cluster, without any message between them: every change that can take a
// token's power away (the token deleted; its owner deactivated, deleted or
// given other roles; a role's permissions changed) is a row of the change
// feed, written by a trigger inside the transaction that made it. An entry
// remembers the feed's newest id when it was loaded; a request that finds
// newer ids asks whether any of them concerns the entry, and reloads it if
// one does. On PostgreSQL the change rows commit in the order of their ids
// (see migration 0007), so a reader that sees id N has seen all below N.
//
// What the cache cannot know (the owner's identity on a leaf, which
// follows the origin) is not cached: leaves do not use it.
type TokenCache struct {
	mu      sync.Mutex
	entries map[string]*tokenEntry // by token hash
	max     int

	// bounds asks the feed's bounds through a prepared statement.
	boundsOnce sync.Once
	bounds     *FeedBounds
}

type tokenEntry struct {
	tok    Token
	ident  Identity
	cursor int64
}

// NewTokenCache returns a cache of at most max tokens.
func NewTokenCache(max int) *TokenCache {
	return &TokenCache{entries: map[string]*tokenEntry{}, max: max}
}

// Resolve returns the token presented as plain and its owner's identity as
// they are in the database now. An unknown token is ErrNotFound, a token
// whose owner is gone returns the token and ErrNotFound; expiry and the
// owner's state are the caller's to check.
func (c *TokenCache) Resolve(ctx context.Context, db *gorm.DB, plain string, now time.Time) (*Token, *Identity, error) {
	if !WellFormedToken(plain) {
		return nil, nil, ErrNotFound
	}
	hash := HashToken(plain)
	oldest, latest, err := c.changeBounds(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	e, ok := c.entries[hash]
	var hit tokenEntry
	if ok {
		hit = *e
	}
	c.mu.Unlock()
	if ok && hit.cursor != latest && hit.cursor >= oldest-1 {
		concerned, err := changeConcerns(ctx, db, hit.cursor, latest, hit.tok.UserID, hit.tok.ID)
		if err != nil {
			return nil, nil, err
		}
		if !concerned {
			c.mu.Lock()
			if e := c.entries[hash]; e != nil && e.cursor < latest {
				e.cursor = latest
			}
			c.mu.Unlock()
			hit.cursor = latest
		}
	}
	// The cached last use may lag another server's; a token that looks
	// expired is looked at again before anyone is refused.
	if ok && hit.cursor == latest && !hit.tok.Expired(now) {
		tok, ident := hit.tok, hit.ident
		return &tok, &ident, nil
	}
	tok, err := TokenByPlaintext(ctx, db, plain)
	if err != nil {
		c.forget(hash)
		return nil, nil, err
	}
	ident, err := LoadIdentity(ctx, db, tok.UserID)
	if err != nil {
		c.forget(hash)
		return tok, nil, err
	}
	c.store(hash, &tokenEntry{tok: *tok, ident: *ident, cursor: latest})
	return tok, ident, nil
}

// Touch records a use of tok, presented as plain, at now (see TouchToken)
// and keeps the cached last use in step.
func (c *TokenCache) Touch(ctx context.Context, db *gorm.DB, plain string, tok *Token, now time.Time) error {
	before := tok.LastUsedAt
	wrote, err := TouchToken(ctx, db, tok, now)
	if err != nil {
		return err
	}
	stale := before == nil || !before.After(now.UTC().Add(-TokenTouchInterval))
	if !wrote && !stale {
		return nil
	}
	// Written here, or (nothing written although ours was stale) by
	// another server within the minute: either way, used about now.
	used := now.UTC()
	c.mu.Lock()
	if e := c.entries[HashToken(plain)]; e != nil && e.tok.ID == tok.ID {
		e.tok.LastUsedAt = &used
	}
	c.mu.Unlock()
	return nil
}

func (c *TokenCache) changeBounds(ctx context.Context, db *gorm.DB) (int64, int64, error) {
	c.boundsOnce.Do(func() { c.bounds = NewFeedBounds(db) })
	return c.bounds.Bounds(ctx)
}

func (c *TokenCache) store(hash string, e *tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for h := range c.entries { // any one: a full cache is rare
			delete(c.entries, h)
			break
		}
	}
	c.entries[hash] = e
}

func (c *TokenCache) forget(hash string) {
	c.mu.Lock()
	delete(c.entries, hash)
	c.mu.Unlock()
}

// changeConcerns reports whether any change with an id in (after, upTo]
// can change what token tokenID of user userID may do.
func changeConcerns(ctx context.Context, db *gorm.DB, after, upTo int64, userID, tokenID uint) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Change{}).
		Where("id > ? AND id <= ?", after, upTo).
		Where("kind = ? OR (kind = ? AND subject_id = ?) OR (kind = ? AND subject_id = ?)",
			ChangeRoles, ChangeUser, userID, ChangeToken, tokenID).
		Limit(1).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check changes for token %d: %w", tokenID, err)
	}
	return n > 0, nil
}

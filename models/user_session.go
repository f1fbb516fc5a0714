package models

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
)

// UserSession is a row of user_sessions: one browser signed in as a user.
//
// The session store (scs) keeps its data opaque, so this table is what
// says which sessions belong to whom. ID is a random value knot also puts
// into the session's data; it is not the scs token, which is a credential
// and changes whenever it is renewed. An ID alone signs nobody in, so it is
// stored as it is. A session counts only while its row exists: deleting the
// row ends the session on its next request, on every server of a cluster.
type UserSession struct {
	ID         string
	UserID     uint
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the session's absolute deadline as the session store
	// keeps it (scs's lifetime, on the wall clock).
	ExpiresAt time.Time
	ClientIP  string
	UserAgent string
}

// TableName is the table GORM reads and writes.
func (UserSession) TableName() string { return "user_sessions" }

// maxUserAgentBytes bounds what a session row keeps of a User-Agent header:
// enough to recognise a browser, not a place to store whatever a client sends.
const maxUserAgentBytes = 256

// cleanUserAgent is what a session row keeps of a User-Agent header: valid
// UTF-8 without control characters (PostgreSQL's text refuses NUL), cut at
// maxUserAgentBytes on a character boundary.
func cleanUserAgent(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(ua, "\uFFFD"))
	for len(ua) > maxUserAgentBytes {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

// NewSessionID returns a random id for a new session (26 characters, 130
// bits from crypto/rand).
func NewSessionID() string { return rand.Text() }

// SessionWindow says which rows still stand for a live session: one used
// within the idle timeout and not past its deadline. Rows of sessions that
// simply went away (a closed browser) stay until the sweep and are not
// counted or shown meanwhile.
//
// Two clocks, because two parties keep the time: the handlers enforce the
// idle timeout on their own clock (Now, which tests move through days),
// and the session store expires a session at its deadline on the wall
// clock (Wall).
type SessionWindow struct {
	Now         time.Time
	IdleTimeout time.Duration
	Wall        time.Time
}

func (w SessionWindow) live(tx *gorm.DB) *gorm.DB {
	return tx.Where("last_seen_at >= ? AND expires_at > ?", w.Now.UTC().Add(-w.IdleTimeout), w.Wall.UTC())
}

func (w SessionWindow) dead(tx *gorm.DB) *gorm.DB {
	return tx.Where("(last_seen_at < ? OR expires_at <= ?)", w.Now.UTC().Add(-w.IdleTimeout), w.Wall.UTC())
}

// StartUserSession records the new session s and keeps the user within limit
// live sessions: when s makes one too many, the oldest others (by sign-in
// time) are ended and returned. s itself is never among them.
//
// The user's row is locked first on PostgreSQL (SQLite's write lock is
// taken at BEGIN), so that two sign-ins at once cannot both count the same
// sessions and leave the user over the limit.
func StartUserSession(ctx context.Context, db *gorm.DB, s UserSession, w SessionWindow, limit int) ([]UserSession, error) {
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	s.UserAgent = cleanUserAgent(s.UserAgent)
	var ended []UserSession
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if IsPostgres(tx) {
			if err := tx.Exec(`SELECT id FROM users WHERE id = ? FOR UPDATE`, s.UserID).Error; err != nil {
				return err
			}
		}
		if err := w.dead(tx.Where("user_id = ?", s.UserID)).Delete(&UserSession{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&s).Error; err != nil {
			return err
		}
		var others []UserSession
		if err := w.live(tx.Where("user_id = ? AND id <> ?", s.UserID, s.ID)).
			Order("created_at, id").Find(&others).Error; err != nil {
			return err
		}
		over := len(others) + 1 - limit
		if over <= 0 {
			return nil
		}
		ended = others[:over]
		ids := make([]string, len(ended))
		for i, e := range ended {
			ids[i] = e.ID
		}
		return tx.Where("id IN ?", ids).Delete(&UserSession{}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("record the session of user %d: %w", s.UserID, err)
	}
	return ended, nil
}

// CheckUserSession reports whether session id of userID still counts.
// With a non-zero touch it records that time as the session's last use in
// the same statement; identify does that at most once a minute, like the
// session's own record, and otherwise only reads the row by its key.
func CheckUserSession(ctx context.Context, db *gorm.DB, id string, userID uint, touch time.Time) (bool, error) {
	q := db.WithContext(ctx).Model(&UserSession{}).Where("id = ? AND user_id = ?", id, userID)
	if !touch.IsZero() {
		res := q.Update("last_seen_at", touch.UTC())
		if res.Error != nil {
			return false, fmt.Errorf("record the use of a session: %w", res.Error)
		}
		return res.RowsAffected > 0, nil
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return false, fmt.Errorf("check a session: %w", err)
	}
	return n > 0, nil
}

// RenewUserSession records the new deadline of session id after its token
// was renewed (scs gives a renewed session a whole lifetime again).
func RenewUserSession(ctx context.Context, db *gorm.DB, id string, expires time.Time) error {
	err := db.WithContext(ctx).Model(&UserSession{}).Where("id = ?", id).Update("expires_at", expires.UTC()).Error
	if err != nil {
		return fmt.Errorf("record the renewed session: %w", err)
	}
	return nil
}

// ListUserSessions returns the live sessions of userID, newest first.
func ListUserSessions(ctx context.Context, db *gorm.DB, userID uint, w SessionWindow) ([]UserSession, error) {
	var out []UserSession
	err := w.live(db.WithContext(ctx).Where("user_id = ?", userID)).Order("created_at DESC, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list the sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// EndUserSession ends one session: its next request is signed out.
func EndUserSession(ctx context.Context, db *gorm.DB, id string) error {
	if err := db.WithContext(ctx).Where("id = ?", id).Delete(&UserSession{}).Error; err != nil {
		return fmt.Errorf("end a session: %w", err)
	}
	return nil
}

// EndUserSessions ends every session of userID except keep ("" keeps
// none) and returns how many rows it deleted, dead ones included.
func EndUserSessions(ctx context.Context, db *gorm.DB, userID uint, keep string) (int64, error) {
	res := db.WithContext(ctx).Where("user_id = ? AND id <> ?", userID, keep).Delete(&UserSession{})
	if res.Error != nil {
		return 0, fmt.Errorf("end the sessions of user %d: %w", userID, res.Error)
	}
	return res.RowsAffected, nil
}

// SweepUserSessions deletes the rows of sessions that are over (idle too
// long or past their deadline). They count for nothing already; the sweep
// only keeps the table small.
func SweepUserSessions(ctx context.Context, db *gorm.DB, w SessionWindow) (int64, error) {
	res := w.dead(db.WithContext(ctx)).Delete(&UserSession{})
	if res.Error != nil {
		return 0, fmt.Errorf("sweep ended sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

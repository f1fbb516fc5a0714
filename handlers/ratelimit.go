package handlers

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

// Sign-in limits: a burst of attempts, then one more every interval.
const (
	ipBurst       = 20
	ipInterval    = 3 * time.Second
	emailBurst    = 5
	emailInterval = 30 * time.Second
	// limiterTTL is how long an idle bucket is kept; all are full by then.
	limiterTTL = time.Hour
)

// loginLimiter limits sign-in attempts per client IP and per email with a
// token bucket for each. The buckets are rows in the database, so that the
// servers of a cluster share them: spreading attempts over N servers does
// not give an attacker N times the attempts. A sign-in costs a bcrypt
// check anyway, next to which the one short transaction is noise.
type loginLimiter struct {
	enabled bool
	db      *gorm.DB
	now     func() time.Time
}

func newLoginLimiter(enabled bool, db *gorm.DB, now func() time.Time) *loginLimiter {
	return &loginLimiter{enabled: enabled, db: db, now: now}
}

func emailKey(email string) string { return "email:" + strings.ToLower(strings.TrimSpace(email)) }

// allow takes one attempt for ip and one for email. When either is used up
// it returns false and how long until the next attempt is allowed.
func (l *loginLimiter) allow(ctx context.Context, ip, email string) (bool, time.Duration, error) {
	if !l.enabled {
		return true, 0, nil
	}
	ok, wait, err := models.TakeAttempt(ctx, l.db, l.now(),
		models.Limit{Key: "ip:" + ip, Burst: ipBurst, Every: ipInterval},
		models.Limit{Key: emailKey(email), Burst: emailBurst, Every: emailInterval})
	if err != nil || ok {
		return ok, 0, err
	}
	return false, wait.Round(time.Second) + time.Second, nil
}

// forget clears the email's bucket after a successful sign-in, so the user's
// own earlier typos do not count against them.
func (l *loginLimiter) forget(ctx context.Context, email string) error {
	if !l.enabled {
		return nil
	}
	return models.ForgetThrottle(ctx, l.db, emailKey(email))
}

// sweep drops buckets idle for limiterTTL, so the table cannot grow without
// bound under a spray of made-up emails.
func (l *loginLimiter) sweep(ctx context.Context) (int64, error) {
	return models.SweepThrottle(ctx, l.db, l.now().Add(-limiterTTL))
}

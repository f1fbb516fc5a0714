package handlers

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

// Sign-in limits: a burst of attempts, then one more every interval.
const (
	ipBurst    = 20
	ipInterval = 3 * time.Second
	// One email from one address: someone's own typos, or a guesser at
	// one address. Keyed by both, so that failures from elsewhere cannot
	// lock the owner out of their account.
	emailIPBurst    = 5
	emailIPInterval = 30 * time.Second
	// One email from every address together: a ceiling for guessing one
	// password from many addresses, high enough that only such an attack
	// reaches it (and then the owner waits too, which is the price).
	emailCeilingBurst    = 100
	emailCeilingInterval = 30 * time.Second
	// limiterTTL is how long an idle bucket is kept; all are full by then.
	limiterTTL = time.Hour
)

// loginLimiter limits sign-in attempts per client IP, per email and IP,
// and per email, with a token bucket for each. The buckets are rows in the
// database, so that the servers of a cluster share them: spreading
// attempts over N servers does not give an attacker N times the attempts.
// A sign-in costs a bcrypt check anyway, next to which the one short
// transaction is noise.
type loginLimiter struct {
	enabled bool
	db      *gorm.DB
	now     func() time.Time
}

func newLoginLimiter(enabled bool, db *gorm.DB, now func() time.Time) *loginLimiter {
	return &loginLimiter{enabled: enabled, db: db, now: now}
}

// The keys take the email as models.NormalizeEmail returns it, so every
// spelling of one address shares its buckets.
func emailKey(email string) string       { return "email:" + email }
func emailIPKey(email, ip string) string { return "email+ip:" + email + "|" + ip }

// allow takes one attempt for ip, and for email (normalised) from ip and
// from anywhere; an empty email — one that is no address, which reaches no
// account — draws on the ip's bucket only. When any bucket is used up it
// returns false and how long until the next attempt is allowed.
func (l *loginLimiter) allow(ctx context.Context, ip, email string) (bool, time.Duration, error) {
	if !l.enabled {
		return true, 0, nil
	}
	limits := []models.Limit{{Key: "ip:" + ip, Burst: ipBurst, Every: ipInterval}}
	if email != "" {
		limits = append(limits,
			models.Limit{Key: emailIPKey(email, ip), Burst: emailIPBurst, Every: emailIPInterval},
			models.Limit{Key: emailKey(email), Burst: emailCeilingBurst, Every: emailCeilingInterval})
	}
	ok, wait, err := models.TakeAttempt(ctx, l.db, l.now(), limits...)
	if err != nil || ok {
		return ok, 0, err
	}
	return false, wait.Round(time.Second) + time.Second, nil
}

// forget clears the bucket of email from ip after a successful sign-in
// there, so the user's own earlier typos do not count against them. The
// ceiling stays: a success must not buy guessers elsewhere more attempts.
func (l *loginLimiter) forget(ctx context.Context, ip, email string) error {
	if !l.enabled {
		return nil
	}
	return models.ForgetThrottle(ctx, l.db, emailIPKey(email, ip))
}

// sweep drops buckets idle for limiterTTL, so the table cannot grow without
// bound under a spray of made-up emails.
func (l *loginLimiter) sweep(ctx context.Context) (int64, error) {
	return models.SweepThrottle(ctx, l.db, l.now().Add(-limiterTTL))
}

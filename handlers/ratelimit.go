package handlers

import (
	"strings"
	"sync"
	"time"
)

// Sign-in limits: a burst of attempts, then one more every interval.
const (
	ipBurst       = 20
	ipInterval    = 3 * time.Second
	emailBurst    = 5
	emailInterval = 30 * time.Second
	limiterTTL    = time.Hour
)

// loginLimiter limits sign-in attempts per client IP and per email with a
// token bucket for each key. It takes the clock so tests can move time.
type loginLimiter struct {
	enabled bool
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLoginLimiter(enabled bool, now func() time.Time) *loginLimiter {
	return &loginLimiter{enabled: enabled, now: now, buckets: map[string]*bucket{}}
}

// allow takes one attempt for ip and one for email. When either is used up
// it returns false and how long until the next attempt is allowed.
func (l *loginLimiter) allow(ip, email string) (bool, time.Duration) {
	if !l.enabled {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	ipB := l.bucket("ip:"+ip, ipBurst, ipInterval, now)
	emB := l.bucket("email:"+strings.ToLower(strings.TrimSpace(email)), emailBurst, emailInterval, now)
	if ipB.tokens < 1 || emB.tokens < 1 {
		wait := time.Duration(0)
		if ipB.tokens < 1 {
			wait = max(wait, time.Duration((1-ipB.tokens)*float64(ipInterval)))
		}
		if emB.tokens < 1 {
			wait = max(wait, time.Duration((1-emB.tokens)*float64(emailInterval)))
		}
		return false, wait.Round(time.Second) + time.Second
	}
	ipB.tokens--
	emB.tokens--
	return true, 0
}

// forget clears the email's bucket after a successful sign-in, so the user's
// own earlier typos do not count against them.
func (l *loginLimiter) forget(email string) {
	l.mu.Lock()
	delete(l.buckets, "email:"+strings.ToLower(strings.TrimSpace(email)))
	l.mu.Unlock()
}

func (l *loginLimiter) bucket(key string, burst int, every time.Duration, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(burst), last: now}
		l.buckets[key] = b
		return b
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()/every.Seconds())
	b.last = now
	return b
}

// sweep drops buckets idle for an hour (all are full again by then) so the
// map cannot grow without bound under a spray of made-up emails.
func (l *loginLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.last) > limiterTTL {
			delete(l.buckets, k)
		}
	}
}

package models_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/models"
)

func newSession(uid uint, at time.Time, ua string) models.UserSession {
	return models.UserSession{
		ID: models.NewSessionID(), UserID: uid, CreatedAt: at, LastSeenAt: at,
		ExpiresAt: at.Add(7 * 24 * time.Hour), ClientIP: "192.0.2.1", UserAgent: ua,
	}
}

func window(now time.Time) models.SessionWindow {
	return models.SessionWindow{Now: now, IdleTimeout: 2 * time.Hour, Wall: now}
}

func TestTheCapEndsTheOldestSessionsAndNeverTheNewOne(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	uid := addUser(t, db, "ada")
	other := addUser(t, db, "grace")
	var ids []string
	for i := range 3 {
		s := newSession(uid, t0.Add(time.Duration(i)*time.Minute), "browser")
		ended, err := models.StartUserSession(ctx, db, s, window(s.CreatedAt), 3)
		if err != nil || len(ended) != 0 {
			t.Fatalf("sign-in %d within the cap ended %v (%v)", i+1, ended, err)
		}
		ids = append(ids, s.ID)
	}
	if _, err := models.StartUserSession(ctx, db, newSession(other, t0, "theirs"), window(t0), 1); err != nil {
		t.Fatal(err)
	}

	// Signed in at the same instant as nothing else: the new session is
	// never the one ended, whatever the order of equal times.
	at := t0.Add(3 * time.Minute)
	fourth := newSession(uid, at, "browser")
	ended, err := models.StartUserSession(ctx, db, fourth, window(at), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 1 || ended[0].ID != ids[0] {
		t.Fatalf("ended %v, want only the oldest %s", ended, ids[0])
	}
	live, err := models.ListUserSessions(ctx, db, uid, window(at))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range live {
		got = append(got, s.ID)
	}
	if want := []string{fourth.ID, ids[2], ids[1]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("live sessions %v, want newest first %v", got, want)
	}
	theirs, _ := models.ListUserSessions(ctx, db, other, window(at))
	if len(theirs) != 1 {
		t.Fatalf("another user's sessions changed: %v", theirs)
	}
}

// Sessions that are over (idle too long, or past their deadline) neither
// count towards the cap nor show in the list, and the sweep deletes them.
func TestSessionsThatAreOverDoNotCountAndAreSwept(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ada, grace := addUser(t, db, "ada"), addUser(t, db, "grace")
	idle := newSession(ada, t0, "idle")
	expired := newSession(grace, t0, "expired")
	expired.ExpiresAt = t0.Add(3*time.Hour + time.Minute)
	for _, s := range []models.UserSession{idle, expired} {
		if _, err := models.StartUserSession(ctx, db, s, window(t0), 1); err != nil {
			t.Fatal(err)
		}
	}
	// Grace's session was used an hour ago, but its deadline has passed.
	if ok, _ := models.CheckUserSession(ctx, db, expired.ID, grace, t0.Add(2*time.Hour)); !ok {
		t.Fatal("recording a use refused a live session")
	}
	now := t0.Add(3*time.Hour + 2*time.Minute)
	for _, uid := range []uint{ada, grace} {
		if live, err := models.ListUserSessions(ctx, db, uid, window(now)); err != nil || len(live) != 0 {
			t.Fatalf("live sessions of user %d: %v (%v), want none", uid, live, err)
		}
	}
	// Over sessions leave room under the cap: Ada signs in again with a
	// cap of one, and nothing live is ended for it.
	again := newSession(ada, now, "again")
	if ended, err := models.StartUserSession(ctx, db, again, window(now), 1); err != nil || len(ended) != 0 {
		t.Fatalf("a sign-in after the old session went idle ended %v (%v)", ended, err)
	}
	n, err := models.SweepUserSessions(ctx, db, window(now))
	if err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v), want 1: Grace's (Ada's idle one went at her sign-in)", n, err)
	}
	for _, s := range []models.UserSession{idle, expired} {
		if ok, _ := models.CheckUserSession(ctx, db, s.ID, s.UserID, time.Time{}); ok {
			t.Fatalf("session %q still counts", s.UserAgent)
		}
	}
	if ok, _ := models.CheckUserSession(ctx, db, again.ID, ada, time.Time{}); !ok {
		t.Fatal("the sweep took a live session")
	}
}

func TestASessionCountsOnlyForItsOwnUserAndUntilEnded(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	uid := addUser(t, db, "ada")
	other := addUser(t, db, "grace")
	s := newSession(uid, t0, strings.Repeat("é", 300)+"\x00")
	if _, err := models.StartUserSession(ctx, db, s, window(t0), 5); err != nil {
		t.Fatal(err)
	}
	if ok, err := models.CheckUserSession(ctx, db, s.ID, uid, time.Time{}); !ok || err != nil {
		t.Fatalf("a new session does not count: %v", err)
	}
	if ok, _ := models.CheckUserSession(ctx, db, s.ID, other, time.Time{}); ok {
		t.Fatal("a session counts for another user")
	}
	if ok, _ := models.CheckUserSession(ctx, db, s.ID, uid, t0.Add(time.Minute)); !ok {
		t.Fatal("recording a use refused a live session")
	}
	live, _ := models.ListUserSessions(ctx, db, uid, window(t0.Add(time.Minute)))
	if len(live) != 1 || !live[0].LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("the recorded use: %+v", live)
	}
	if ua := live[0].UserAgent; len(ua) > 256 || strings.ContainsRune(ua, 0) || !strings.HasPrefix(ua, "éé") {
		t.Fatalf("stored user agent %q: want at most 256 bytes of whole characters, no NUL", ua)
	}
	if err := models.EndUserSession(ctx, db, s.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := models.CheckUserSession(ctx, db, s.ID, uid, t0.Add(2*time.Minute)); ok {
		t.Fatal("an ended session still counts")
	}
}

// Many sign-ins of one user at once (on a cluster, on several servers)
// leave them within the cap: each counts under a lock on the user's row.
func TestSignInsAtOnceNeverLeaveAUserOverTheCap(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	uid := addUser(t, db, "ada")
	const limit, signIns = 3, 12
	var wg sync.WaitGroup
	errs := make(chan error, signIns)
	for i := range signIns {
		wg.Go(func() {
			s := newSession(uid, t0.Add(time.Duration(i)*time.Second), "browser")
			_, err := models.StartUserSession(ctx, db, s, window(t0.Add(time.Minute)), limit)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	live, err := models.ListUserSessions(ctx, db, uid, window(t0.Add(time.Minute)))
	if err != nil || len(live) != limit {
		t.Fatalf("%d live sessions after %d sign-ins at once (%v), want %d", len(live), signIns, err, limit)
	}
}

func TestChangingYourOwnPasswordChecksTheCurrentOne(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	hash, err := models.HashPasswordCost("old password", 4)
	if err != nil {
		t.Fatal(err)
	}
	u := models.User{Username: "ada", Email: "ada@example.com", PasswordHash: hash, Active: true, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	err = models.ChangeOwnPassword(ctx, db, u.ID, "wrong", "short", "other", t0)
	fe, ok := err.(models.FieldErrors)
	if !ok || fe["current"] == "" || fe["password"] == "" {
		t.Fatalf("a wrong current and a short new password: %v, want both named", err)
	}
	if err := models.ChangeOwnPassword(ctx, db, u.ID, "old password", "new password", "new password", t0); err != nil {
		t.Fatal(err)
	}
	got, _ := models.UserByID(ctx, db, u.ID)
	if !models.CheckPassword(got.PasswordHash, "new password") || models.CheckPassword(got.PasswordHash, "old password") {
		t.Fatal("the stored password did not change")
	}
}

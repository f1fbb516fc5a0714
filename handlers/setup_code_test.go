package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// setupForm is a valid first-admin form with the given setup code.
func setupForm(code string) url.Values {
	return url.Values{
		"setup_code": {code},
		"username":   {"alice"}, "email": {"alice@example.com"},
		"password": {"first admin secret"}, "confirm": {"first admin secret"},
	}
}

func countUsers(t *testing.T, srv *knottest.Instance) int64 {
	t.Helper()
	var n int64
	if err := srv.Server.DB().Model(&models.User{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTheSetupPageAsksForTheSetupCodeFirstAndSaysWhereToFindIt(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	res := srv.Client().Get("/initial-system-setup")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `<label for="setup_code">Setup code</label>`, `name="setup_code"`,
		"log at start-up", "knot setup-code --config knot.toml")
	code, user := strings.Index(res.Body, `name="setup_code"`), strings.Index(res.Body, `name="username"`)
	if code > user {
		t.Fatal("the setup code is not the first field of the form")
	}
	// The code is what the browser should focus, not the username.
	if strings.Count(res.Body, "autofocus") != 1 || strings.Index(res.Body, "autofocus") > user {
		t.Fatal("the setup code field is not the one focused")
	}
}

func TestSetupWithoutTheCodeIsRefusedAndKeepsWhatWasTyped(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	form := setupForm("")
	res := srv.Client().PostForm("/initial-system-setup", form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, `id="setup_code-error"`, "Enter the setup code", `value="alice"`, `value="alice@example.com"`)
	wantNoBody(t, res, "first admin secret")
	if n := countUsers(t, srv); n != 0 {
		t.Fatalf("%d users exist after a setup without the code, want 0", n)
	}
}

func TestSetupWithAWrongCodeIsRefused(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	res := srv.Client().PostForm("/initial-system-setup", setupForm("AAAA-BBBB-CCCC-DDDD"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, `id="setup_code-error"`, "setup code. Copy it from the server", `value="alice"`, `value="alice@example.com"`)
	// A wrong code is not handed back: the user should paste the right one.
	wantNoBody(t, res, "first admin secret", "AAAA-BBBB-CCCC-DDDD")
	if n := countUsers(t, srv); n != 0 {
		t.Fatalf("%d users exist after a wrong code, want 0", n)
	}
	if !strings.Contains(srv.Logs.String(), "wrong setup code") {
		t.Fatal("the wrong code was not logged")
	}
	if strings.Contains(srv.Logs.String(), "AAAA-BBBB-CCCC-DDDD") {
		t.Fatal("the log repeats the code that was typed")
	}
}

func TestTheRightCodeCompletesSetupOnceAndIsThenGone(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	code := knottest.SetupCodeIn(srv.Logs.String())
	if code == "" {
		t.Fatalf("the log does not announce the setup code: %s", srv.Logs.String())
	}
	if got := srv.SetupCode(); got != code {
		t.Fatalf("the log says %q, the database %q", code, got)
	}
	c := srv.Client()

	// A right code with a mistake elsewhere keeps the code, so that it
	// need not be copied again; the passwords are never sent back.
	form := setupForm(code)
	form.Set("confirm", "something else")
	res := c.PostForm("/initial-system-setup", form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "The passwords do not match.", `value="`+code+`"`)
	wantNoBody(t, res, "setup_code-error", "first admin secret")

	// Typed in lower case with spaces instead of dashes is still the code.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	wantStatus(t, c.PostForm("/initial-system-setup", setupForm(typed)), http.StatusSeeOther)
	wantStatus(t, c.Get("/initial-system-setup"), http.StatusNotFound)
	if _, err := srv.Server.SetupCode(context.Background()); !errors.Is(err, models.ErrSetupDone) {
		t.Fatalf("SetupCode after setup: %v, want ErrSetupDone", err)
	}
	var left int64
	if err := srv.Server.DB().Raw(`SELECT COUNT(*) FROM settings WHERE key = 'setup_code'`).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatal("the setup code is still stored after setup")
	}
	// The code opens nothing any more.
	late := setupForm(code)
	late.Set("username", "mallory")
	late.Set("email", "mallory@example.com")
	wantStatus(t, srv.Client().PostForm("/initial-system-setup", late), http.StatusNotFound)
	if n := countUsers(t, srv); n != 1 {
		t.Fatalf("%d users exist, want 1", n)
	}
}

func TestTheSetupCodeIsLoggedAtEveryStartUntilSetupIsDone(t *testing.T) {
	first := knottest.Start(t, knottest.Config(t))
	code := knottest.SetupCodeIn(first.Logs.String())
	if code == "" {
		t.Fatalf("the first start does not log `initial setup code: `: %s", first.Logs.String())
	}
	first.Stop()

	again := knottest.Start(t, first.Cfg)
	if got := knottest.SetupCodeIn(again.Logs.String()); got != code {
		t.Fatalf("the second start logs code %q, the first %q", got, code)
	}
	again.SetupAdmin()
	again.Stop()

	done := knottest.Start(t, first.Cfg)
	if strings.Contains(done.Logs.String(), "initial setup code") {
		t.Fatalf("a start after setup still logs a setup code: %s", done.Logs.String())
	}
}

func TestWrongSetupCodesAreRateLimitedEvenWithSignInLimitsOff(t *testing.T) {
	cfg := knottest.Config(t)
	if cfg.Server.AuthIPRateLimiting {
		t.Fatal("knottest turned sign-in limits on; this test wants them off")
	}
	srv := knottest.Start(t, cfg)
	code := srv.SetupCode()
	c := srv.Client()
	for i := range 5 {
		res := c.PostForm("/initial-system-setup", setupForm("WRNG-WRNG-WRNG-WRNG"))
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong code %d = %d, want 422", i+1, res.StatusCode)
		}
	}
	// Out of guesses, even the right code is refused: a throttled guesser
	// must learn nothing.
	res := c.PostForm("/initial-system-setup", setupForm(code))
	wantStatus(t, res, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	wantBody(t, res, "Too many wrong setup codes", `value="alice"`)
	if n := countUsers(t, srv); n != 0 {
		t.Fatalf("%d users exist, want 0", n)
	}
	srv.Clock.Advance(31 * time.Second)
	wantStatus(t, c.PostForm("/initial-system-setup", setupForm(code)), http.StatusSeeOther)
}

func TestSetupFromLoopbackSkipsTheCodeOnlyWhenTurnedOn(t *testing.T) {
	// knottest servers and clients are on 127.0.0.1: every request here
	// comes from loopback.
	t.Run("off", func(t *testing.T) {
		srv := knottest.Start(t, knottest.Config(t))
		wantBody(t, srv.Client().Get("/initial-system-setup"), `name="setup_code"`)
		res := srv.Client().PostForm("/initial-system-setup", setupForm(""))
		wantStatus(t, res, http.StatusUnprocessableEntity)
		wantBody(t, res, "Enter the setup code")
	})
	t.Run("on", func(t *testing.T) {
		cfg := knottest.Config(t)
		cfg.Server.SetupFromLoopback = true
		srv := knottest.Start(t, cfg)
		page := srv.Client().Get("/initial-system-setup")
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, "No setup code is needed")
		wantNoBody(t, page, `name="setup_code"`)
		// No code at all is fine: none is asked for.
		wantStatus(t, srv.Client().PostForm("/initial-system-setup", setupForm("")), http.StatusSeeOther)
		if !strings.Contains(srv.Logs.String(), "server.setup_from_loopback is true") {
			t.Fatal("the start-up log does not warn that setup from loopback needs no code")
		}
	})
}

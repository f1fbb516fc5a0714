package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/webctx"
)

// The identity a bearer request runs as names its token, which leaf mode
// relies on; nothing public shows it, so this looks inside.
func TestBearerIdentityCarriesTheTokenID(t *testing.T) {
	ctx := context.Background()
	db, v := kit.SQLite(t, "knot.db"), kit.Vault(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	u := models.User{Username: "dev", Email: "dev@example.com", Active: true, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, u.ID, models.DeveloperRoleID).Error; err != nil {
		t.Fatal(err)
	}
	tok, plain, err := models.CreateToken(ctx, db, v, u.ID, "leaf", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	h := New(Deps{DB: db, Sessions: scs.New(), Config: &cfg, Vault: v, Now: func() time.Time { return now }})

	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/api/users/whoami", nil)
	c.Request.Header.Set("Authorization", "Bearer "+plain)
	h.identify(c)
	ident := webctx.Identity(c.Request.Context())
	if c.IsAborted() || ident == nil {
		t.Fatalf("a valid token was refused (status %d)", c.Writer.Status())
	}
	if ident.ID != u.ID || ident.TokenID != tok.ID || tok.ID == 0 {
		t.Fatalf("identity = user %d token %d; want user %d token %d", ident.ID, ident.TokenID, u.ID, tok.ID)
	}
}

package client_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/knottest"
)

func TestAClientSetsUpASignsInAndCallsTheAPI(t *testing.T) {
	ctx := context.Background()
	inst := knottest.Start(t, knottest.Config(t))
	admin := client.Account{Username: "admin", Email: "admin@example.com", Password: "a long admin password"}

	c := client.New(inst.URL, nil)
	if err := c.SignIn(ctx, admin.Email, admin.Password); err == nil || !strings.Contains(err.Error(), "initial setup") {
		t.Fatalf("sign-in before the setup: %v, want an error saying the setup comes first", err)
	}
	if err := c.Setup(ctx, "WRONG-CODE", admin); err == nil || !strings.Contains(err.Error(), "answered") {
		t.Fatalf("setup with a wrong code: %v, want an error naming the answer", err)
	}
	if err := c.Setup(ctx, inst.SetupCode(), admin); err != nil {
		t.Fatal(err)
	}
	token, err := c.CreateToken(ctx, "from the client")
	if err != nil || token == "" {
		t.Fatalf("create token: %q, %v", token, err)
	}

	// A token, no cookie: the API answers as the admin.
	api := client.New(inst.URL, nil)
	var who struct {
		Username string `json:"username"`
	}
	if _, err := api.Expect(ctx, http.MethodGet, "/api/users/whoami", nil, http.StatusOK, &who, "Authorization: Bearer "+token); err != nil || who.Username != admin.Username {
		t.Fatalf("whoami by token: %+v, %v", who, err)
	}
	// JSON bodies are marshalled and labelled.
	tpl := map[string]any{"name": "from-the-client", "active": true, "body": "image: x"}
	if _, err := api.Expect(ctx, http.MethodPost, "/api/templates", tpl, http.StatusCreated, nil, "Authorization: Bearer "+token); err != nil {
		t.Fatal(err)
	}
	// Another status than the one expected is an error that says which.
	a, err := api.Expect(ctx, http.MethodGet, "/api/users/whoami", nil, http.StatusOK, nil)
	if err == nil || a == nil || a.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "401") {
		t.Fatalf("whoami without a token: %+v, %v", a, err)
	}
	// A successful answer other than the one expected is not quoted: it
	// may carry a secret.
	if _, err := c.Expect(ctx, http.MethodPost, "/api/tokens", map[string]string{"name": "quoted?"}, http.StatusOK, nil); err == nil || strings.Contains(err.Error(), "token") && strings.Contains(err.Error(), "{") {
		t.Fatalf("a 201 where 200 was expected: %v, want an error without the answer", err)
	}

	// Sign-in keeps the session's cookie.
	other := client.New(inst.URL, nil)
	if err := other.SignIn(ctx, admin.Email, "not the password"); err == nil {
		t.Fatal("a wrong password signed in")
	}
	if err := other.SignIn(ctx, admin.Email, admin.Password); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(inst.URL)
	if len(other.HTTP.Jar.Cookies(u)) == 0 {
		t.Fatal("signed in, the client holds no cookie")
	}
	if _, err := other.Expect(ctx, http.MethodGet, "/api/users/whoami", nil, http.StatusOK, &who); err != nil || who.Username != admin.Username {
		t.Fatalf("whoami by session: %+v, %v", who, err)
	}
}

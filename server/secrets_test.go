package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// A secret the journey used, and what it is, for the failure messages.
type journeySecret struct {
	what  string
	value string
	// inDB: whether the database may not hold it either. Session cookies
	// are stored as the session row's key by design (scs), so they are
	// searched for in the logs only.
	inDB bool
}

// journey collects every secret a full origin-and-leaf journey uses.
type journey struct {
	t       *testing.T
	secrets []journeySecret
}

func (j *journey) secret(what, value string) string {
	j.t.Helper()
	if value == "" {
		j.t.Fatalf("empty secret for %s: the journey did not get it", what)
	}
	j.secrets = append(j.secrets, journeySecret{what: what, value: value, inDB: true})
	return value
}

func (j *journey) logOnly(what, value string) {
	j.t.Helper()
	if value == "" {
		j.t.Fatalf("empty secret for %s", what)
	}
	j.secrets = append(j.secrets, journeySecret{what: what, value: value})
}

// token records an API token: the string, and the first 43 characters
// (the token without its '=' padding, however a log might quote it).
func (j *journey) token(what, tok string) string {
	j.t.Helper()
	if !models.WellFormedToken(tok) {
		j.t.Fatalf("%s: %q is not a knot token; the journey could not collect it", what, tok)
	}
	j.secret(what, tok)
	j.secret(what+" (first 43 characters)", tok[:43])
	return tok
}

func journeyStatus(t *testing.T, what string, res *knottest.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: status %d, want %d: %s", what, res.StatusCode, want, res.Body)
	}
}

func journeyBearer(token string) string { return "Authorization: Bearer " + token }

var journeyShownToken = regexp.MustCompile(`<code id="new-token-value">([^<]*)</code>`)

func journeyTokenOnPage(t *testing.T, body string) string {
	t.Helper()
	m := journeyShownToken.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the page does not show the new token")
	}
	return m[1]
}

type journeyVar struct {
	ID        uint    `json:"id"`
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Protected bool    `json:"protected"`
	Source    string  `json:"source"`
}

func journeyVars(t *testing.T, c *knottest.Client) map[string]journeyVar {
	t.Helper()
	res := c.Get("/api/templatevars")
	journeyStatus(t, "list variables", res, http.StatusOK)
	var list []journeyVar
	res.JSON(t, &list)
	out := map[string]journeyVar{}
	for _, v := range list {
		out[v.Source+"/"+v.Name] = v
	}
	return out
}

func journeyReveal(t *testing.T, c *knottest.Client, path string) string {
	t.Helper()
	res := c.Get(path)
	journeyStatus(t, "reveal "+path, res, http.StatusOK)
	var v journeyVar
	res.JSON(t, &v)
	if v.Value == nil {
		t.Fatalf("reveal %s: no value", path)
	}
	return *v.Value
}

func journeySessionCookie(t *testing.T, c *knottest.Client, srv *knottest.Instance) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == srv.SessionCookie() {
			return ck.Value
		}
	}
	t.Fatalf("no session cookie for %s", srv.URL)
	return ""
}

// No password, API token, protected value or encryption key that a full
// journey through an origin and a leaf uses is ever written to either
// server's log (at debug level), nor any password, token or protected value
// in plain text to either database, while running or after a clean stop.
func TestNoSecretOfAFullOriginAndLeafJourneyReachesALogOrADatabase(t *testing.T) {
	j := &journey{t: t}

	// The origin: HTTPS with its self-signed certificate, leaves of any
	// user allowed so that a second user can sign in through the leaf.
	ocfg := knottest.Config(t)
	ocfg.Server.TLS.UseTLS = true
	ocfg.Server.URL = "https://127.0.0.1"
	ocfg.Server.Zone = "origin-zone"
	ocfg.Server.Cluster.LeafLogin = config.LeafLoginAny
	origin := knottest.Start(t, ocfg)

	// Setup with the setup code (printed by design, so not searched for).
	const (
		adminEmail = "root@journey.example"
		devEmail   = "dev@journey.example"
		formEmail  = "form@journey.example"
	)
	adminPW := j.secret("the admin's password", "adminPW-setup-Q7vK2mX9")
	anon := origin.Client()
	journeyStatus(t, "initial setup", anon.PostForm("/initial-system-setup", url.Values{
		"setup_code": {origin.SetupCode()}, "username": {"root"}, "email": {adminEmail},
		"password": {adminPW}, "confirm": {adminPW},
	}), http.StatusSeeOther)

	// Sign-ins: a wrong password, then the right one.
	wrong1 := j.secret("a wrong password typed on the origin", "wrongPW-origin-Lm4Tz8Rc")
	journeyStatus(t, "wrong password on the origin", origin.Client().PostForm("/login", url.Values{"email": {adminEmail}, "password": {wrong1}}), http.StatusUnauthorized)
	// People do type their password into the email field; what is typed
	// there when it is no address must not reach the log either.
	inEmail := j.secret("a password typed into the email field", "MyS3cretPassw0rd-in-email")
	journeyStatus(t, "a password in the email field", origin.Client().PostForm("/login", url.Values{"email": {inEmail}, "password": {"whatever-else"}}), http.StatusUnauthorized)
	admin := origin.Client()
	journeyStatus(t, "sign in on the origin", admin.PostForm("/login", url.Values{"email": {adminEmail}, "password": {adminPW}}), http.StatusSeeOther)
	j.logOnly("the admin's session cookie on the origin", journeySessionCookie(t, admin, origin))

	// A second user through the API, whose password is then changed
	// through the API and through the form; a third through the form.
	devPW1 := j.secret("the developer's first password (API create)", "devPW-create-Hs3Nq6Wd")
	res := admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{
		"username": "dev", "email": devEmail, "password": devPW1, "roles": []string{"Developer"}, "active": true,
	})
	journeyStatus(t, "create a user through the API", res, http.StatusCreated)
	var dev struct {
		ID uint `json:"id"`
	}
	res.JSON(t, &dev)
	devPW2 := j.secret("the developer's second password (API update)", "devPW-apiput-Bx5Jr1Ye")
	journeyStatus(t, "set a password through the API", admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/users/%d", dev.ID), map[string]any{"password": devPW2}), http.StatusOK)
	devPW3 := j.secret("the developer's third password (form)", "devPW-form-Vc9Gk2Up")
	res = admin.PostForm(fmt.Sprintf("/users/%d/password", dev.ID), url.Values{"password": {devPW3}, "confirm": {devPW3}})
	journeyStatus(t, "set a password through the form", res, http.StatusOK)
	if !strings.Contains(res.Body, "changed") {
		t.Fatalf("the password form did not say the password changed: %s", res.Body)
	}
	formPW := j.secret("the password of a user created through the form", "formPW-create-Dw7Pa3Ks")
	journeyStatus(t, "create a user through the form", admin.PostForm("/users", url.Values{
		"username": {"formuser"}, "email": {formEmail}, "password": {formPW}, "confirm": {formPW},
		"roles": {fmt.Sprint(models.DeveloperRoleID)}, "active": {"true"},
	}), http.StatusSeeOther)
	// The old password no longer works; the new one does.
	journeyStatus(t, "the developer's old password", origin.Client().PostForm("/login", url.Values{"email": {devEmail}, "password": {devPW1}}), http.StatusUnauthorized)
	devOnOrigin := origin.Client()
	journeyStatus(t, "the developer signs in", devOnOrigin.PostForm("/login", url.Values{"email": {devEmail}, "password": {devPW3}}), http.StatusSeeOther)
	j.logOnly("the developer's session cookie on the origin", journeySessionCookie(t, devOnOrigin, origin))
	journeyStatus(t, "the form user signs in", origin.Client().PostForm("/login", url.Values{"email": {formEmail}, "password": {formPW}}), http.StatusSeeOther)

	// API tokens: through the API, the form with htmx and without, and as
	// the developer; used as bearer tokens; one deleted.
	_, apiTok := admin.CreateAPIToken("journey api")
	j.token("the admin's API-created token", apiTok)
	leafTok := j.token("the leaf's token (form, htmx)", journeyTokenOnPage(t, admin.PostForm("/api-tokens", url.Values{"name": {"journey leaf"}}, "HX-Request: true").Body))
	journeyStatus(t, "create a token through the plain form", admin.PostForm("/api-tokens", url.Values{"name": {"journey doomed"}}), http.StatusSeeOther)
	doomedTok := j.token("a token deleted later (plain form)", journeyTokenOnPage(t, admin.Get("/api-tokens").Body))
	_, devTok := devOnOrigin.CreateAPIToken("journey dev")
	j.token("the developer's token", devTok)
	bearerClient := origin.Client()
	for _, tok := range []string{apiTok, leafTok, doomedTok, devTok} {
		journeyStatus(t, "whoami with a bearer token", bearerClient.Get("/api/users/whoami", journeyBearer(tok)), http.StatusOK)
	}
	res = admin.Get("/api/tokens")
	journeyStatus(t, "list tokens", res, http.StatusOK)
	var toks []struct {
		ID   uint   `json:"id"`
		Name string `json:"name"`
	}
	res.JSON(t, &toks)
	var doomedID uint
	for _, tk := range toks {
		if tk.Name == "journey doomed" {
			doomedID = tk.ID
		}
	}
	if doomedID == 0 {
		t.Fatalf("the token list lacks the doomed token: %s", res.Body)
	}
	journeyStatus(t, "delete a token", admin.Do(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", doomedID), nil), http.StatusOK)
	journeyStatus(t, "the deleted token", bearerClient.Get("/api/users/whoami", journeyBearer(doomedTok)), http.StatusUnauthorized)
	neverIssued, err := models.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	j.token("a well-formed token never issued (refused)", neverIssued)
	journeyStatus(t, "a token never issued", bearerClient.Get("/api/users/whoami", journeyBearer(neverIssued)), http.StatusUnauthorized)

	// Protected variables: through the API (as a bearer) and the form,
	// revealed both ways, updated both ways. A plain one for contrast.
	const plainValue = "plain-value-visible-Ru6Tn"
	journeyStatus(t, "create a plain variable", admin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "J_PLAIN", "value": plainValue}), http.StatusCreated)
	apiVal1 := j.secret("a protected value (API create)", "protVal-api1-Kf8Wq2Zm")
	res = bearerClient.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "J_API", "value": apiVal1, "protected": true}, journeyBearer(apiTok))
	journeyStatus(t, "create a protected variable through the API", res, http.StatusCreated)
	var apiVar journeyVar
	res.JSON(t, &apiVar)
	formVal1 := j.secret("a protected value (form create)", "protVal-form1-Yb3Ld7Xs")
	journeyStatus(t, "create a protected variable through the form", admin.PostForm("/variables", url.Values{
		"name": {"J_FORM"}, "value": {formVal1}, "protected": {"true"},
	}), http.StatusSeeOther)
	formVar := journeyVars(t, admin)["local/J_FORM"]
	if formVar.ID == 0 || !formVar.Protected {
		t.Fatalf("the form's protected variable: %+v", formVar)
	}
	if got := journeyReveal(t, admin, fmt.Sprintf("/api/templatevars/%d?reveal=true", apiVar.ID)); got != apiVal1 {
		t.Fatalf("revealed %q, want %q", got, apiVal1)
	}
	if page := admin.Get(fmt.Sprintf("/variables/%d/reveal", formVar.ID)); page.StatusCode != http.StatusOK || !strings.Contains(page.Body, formVal1) {
		t.Fatalf("the reveal page: %d, value shown %v", page.StatusCode, strings.Contains(page.Body, formVal1))
	}
	apiVal2 := j.secret("a protected value (API update)", "protVal-api2-Ne5Hc1Tg")
	journeyStatus(t, "update a protected variable through the API", admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/templatevars/%d", apiVar.ID), map[string]any{"value": apiVal2}), http.StatusOK)
	formVal2 := j.secret("a protected value (form update)", "protVal-form2-Pj6Va4Qr")
	journeyStatus(t, "update a protected variable through the form", admin.PostForm(fmt.Sprintf("/variables/%d", formVar.ID), url.Values{
		"name": {"J_FORM"}, "value": {formVal2}, "protected": {"true"},
	}), http.StatusSeeOther)
	if page := admin.Get(fmt.Sprintf("/variables/%d/reveal", formVar.ID), "HX-Request: true"); !strings.Contains(page.Body, formVal2) {
		t.Fatal("the Reveal button does not show the updated value")
	}

	// A template using them, previewed (the preview fills values in).
	res = admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{
		"name": "journey", "active": true, "body": "a=${{ .var.J_API }}\nb=${{ .var.J_FORM }}\nc=${{ .var.J_PLAIN }}\n",
	})
	journeyStatus(t, "create a template", res, http.StatusCreated)
	var tpl struct {
		ID uint `json:"id"`
	}
	res.JSON(t, &tpl)
	journeyStatus(t, "preview on the origin", admin.Get(fmt.Sprintf("/api/templates/%d/preview", tpl.ID)), http.StatusOK)

	// The leaf connects with the form-made token and verifies the origin.
	lcfg := knottest.Config(t)
	lcfg.Server.Origin.Server = config.URLList(origin.URL + "/")
	lcfg.Server.Origin.Token = leafTok
	lcfg.Server.Origin.CAFile = server.SelfSignedCertPath(&origin.Cfg)
	if _, err := lcfg.Validate(); err != nil {
		t.Fatalf("leaf config: %v", err)
	}
	lf := knottest.Start(t, lcfg)
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the leaf's link to the origin", func() bool { return lf.Server.Leaf().Status().Healthy() })

	// Sign-ins through the leaf: a wrong password, the admin, the developer.
	wrong2 := j.secret("a wrong password typed on the leaf", "wrongPW-leaf-Gt2Mv8Hn")
	journeyStatus(t, "wrong password on the leaf", lf.Client().PostForm("/login", url.Values{"email": {adminEmail}, "password": {wrong2}}), http.StatusUnauthorized)
	leafAdmin := lf.Client()
	journeyStatus(t, "the admin signs in through the leaf", leafAdmin.PostForm("/login", url.Values{"email": {adminEmail}, "password": {adminPW}}), http.StatusSeeOther)
	j.logOnly("the admin's session cookie on the leaf", journeySessionCookie(t, leafAdmin, lf))
	leafDev := lf.Client()
	journeyStatus(t, "the developer signs in through the leaf", leafDev.PostForm("/login", url.Values{"email": {devEmail}, "password": {devPW3}}), http.StatusSeeOther)
	journeyStatus(t, "the developer's whoami on the leaf", leafDev.Get("/api/users/whoami"), http.StatusOK)

	// The protected values reach the leaf (sealed under its own key) and
	// are revealed there; a local protected variable on the leaf too.
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the protected values on the leaf", func() bool {
		v := journeyVars(t, leafAdmin)
		return v["cluster/J_API"].ID != 0 && v["cluster/J_FORM"].ID != 0
	})
	onLeaf := journeyVars(t, leafAdmin)
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the updated protected values on the leaf", func() bool {
		return journeyReveal(t, leafAdmin, fmt.Sprintf("/api/templatevars/%d?source=cluster&reveal=true", onLeaf["cluster/J_API"].ID)) == apiVal2 &&
			journeyReveal(t, leafAdmin, fmt.Sprintf("/api/templatevars/%d?source=cluster&reveal=true", onLeaf["cluster/J_FORM"].ID)) == formVal2
	})
	if page := leafAdmin.Get(fmt.Sprintf("/variables/%d/reveal?source=cluster", onLeaf["cluster/J_FORM"].ID)); !strings.Contains(page.Body, formVal2) {
		t.Fatal("the leaf's reveal page does not show the value")
	}
	localVal := j.secret("a protected value (local to the leaf)", "protVal-leaf-Wm4Sb9Jd")
	res = leafAdmin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "J_LEAF", "value": localVal, "protected": true})
	journeyStatus(t, "create a protected variable on the leaf", res, http.StatusCreated)
	var leafVar journeyVar
	res.JSON(t, &leafVar)
	if got := journeyReveal(t, leafAdmin, fmt.Sprintf("/api/templatevars/%d?reveal=true", leafVar.ID)); got != localVal {
		t.Fatalf("the leaf revealed %q, want %q", got, localVal)
	}

	// A template change on the origin reaches the leaf, where it is previewed.
	journeyStatus(t, "edit the template", admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/templates/%d", tpl.ID), map[string]any{
		"name": "journey", "active": true, "body": "edited\na=${{ .var.J_API }}\nb=${{ .var.J_FORM }}\nc=${{ .var.J_PLAIN }}\n",
	}), http.StatusOK)
	var leafTplID uint
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the template change on the leaf", func() bool {
		res := leafAdmin.Get("/api/templates")
		var list []struct {
			ID   uint   `json:"id"`
			Name string `json:"name"`
			Body string `json:"body"`
		}
		res.JSON(t, &list)
		for _, x := range list {
			if x.Name == "journey" && strings.HasPrefix(x.Body, "edited") {
				leafTplID = x.ID
				return true
			}
		}
		return false
	})
	journeyStatus(t, "preview on the leaf", leafAdmin.Get(fmt.Sprintf("/api/templates/%d/preview?source=cluster", leafTplID)), http.StatusOK)

	// Encryption keys belong in no log and in no database.
	for _, s := range []*knottest.Instance{origin, lf} {
		if key := s.Server.Config().Server.Encrypt; key != "" {
			j.secret("the "+journeyName(s, origin)+"'s encryption key (server.encrypt)", key)
		}
	}

	// The contrast values prove the searches read the right bytes.
	for _, s := range []*knottest.Instance{origin, lf} {
		if !bytes.Contains(s.StoredBytes(), []byte(plainValue)) {
			t.Fatalf("the %s's database lacks even the plain variable's value: the search reads the wrong bytes", journeyName(s, origin))
		}
	}
	if !strings.Contains(origin.Logs.String(), devEmail) || !strings.Contains(lf.Logs.String(), "sign-in refused") {
		t.Fatal("the logs lack the journey's sign-ins: the search reads the wrong log")
	}

	// Password hashes belong in the database, but in no log.
	for _, s := range []*knottest.Instance{origin, lf} {
		var users []models.User
		if err := s.Server.DB().Find(&users).Error; err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.PasswordHash != "" {
				j.logOnly(fmt.Sprintf("the %s's password hash of %s", journeyName(s, origin), u.Email), u.PasswordHash)
			}
			if u.OfflinePasswordHash != "" {
				j.logOnly(fmt.Sprintf("the %s's offline password hash of %s", journeyName(s, origin), u.Email), u.OfflinePasswordHash)
			}
		}
	}

	search := func(when string) {
		t.Helper()
		for _, s := range []*knottest.Instance{origin, lf} {
			name := journeyName(s, origin)
			stored := s.StoredBytes()
			for _, sec := range j.secrets {
				if !sec.inDB {
					continue
				}
				if bytes.Contains(stored, []byte(sec.value)) {
					t.Errorf("LEAK: %s (%q) is in the %s's database in plain text (%s)", sec.what, sec.value, name, when)
				}
				// PostgreSQL shows a bytea column as hex.
				if bytes.Contains(stored, []byte(hex.EncodeToString([]byte(sec.value)))) {
					t.Errorf("LEAK: %s (%q) is in the %s's database in plain text, hex encoded (%s)", sec.what, sec.value, name, when)
				}
				if raw, err := base64.URLEncoding.DecodeString(sec.value); err == nil && len(raw) == models.TokenBytes &&
					(bytes.Contains(stored, raw) || bytes.Contains(stored, []byte(hex.EncodeToString(raw)))) {
					t.Errorf("LEAK: %s (%q) is in the %s's database as its decoded bytes (%s)", sec.what, sec.value, name, when)
				}
			}
		}
	}
	search("while running")

	lf.Stop()
	origin.Stop()
	search("after a clean stop")

	for _, s := range []*knottest.Instance{origin, lf} {
		name := journeyName(s, origin)
		logs := s.Logs.String()
		for _, sec := range j.secrets {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, sec.value) {
					t.Errorf("LEAK: %s (%q) is in the %s's log: %s", sec.what, sec.value, name, line)
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("searched for %d secrets in 2 logs and 2 databases", len(j.secrets))
	}
}

func journeyName(s, origin *knottest.Instance) string {
	if s == origin {
		return "origin"
	}
	return "leaf"
}

package handlers_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func createVariable(t *testing.T, c *knottest.Client, body map[string]any) api.Variable {
	t.Helper()
	res := c.JSONRequest(http.MethodPost, "/api/templatevars", body)
	wantStatus(t, res, http.StatusCreated)
	var out api.Variable
	res.JSON(t, &out)
	return out
}

func TestVariableAPICreatesAndRefusesBadBodies(t *testing.T) {
	cs := startCast(t)
	v := createVariable(t, cs.admin, map[string]any{"name": " DB_HOST ", "value": "db.internal\n", "zones": []string{" test-zone ", "test-zone"}})
	if v.ID == 0 || v.Name != "DB_HOST" || v.Value == nil || *v.Value != "db.internal\n" || !slices.Equal(v.Zones, []string{"test-zone"}) || v.Source != "local" {
		t.Fatalf("created = %+v", v)
	}

	// Bad bodies: 400 naming the problem; values the rules refuse: 422.
	for _, tc := range []struct {
		body any
		code int
		msg  string
	}{
		{`{"name": "1X"}`, 422, "A name starts with a letter or _"},
		{`{"value": "x"}`, 422, "Enter a name."},
		{`{"name": "X", "zones": ["!"]}`, 422, "must be followed by the zone it excludes"},
		{`{"name": "X", "value": 3}`, 400, `Field "value" must be a string`},
		{`{"name": "X", "secret": true}`, 400, `Unknown field "secret"`},
		{`[1]`, 400, "must be a JSON object"},
		{`{"name": "X"`, 400, "not valid JSON"},
		{map[string]any{"name": "X", "value": strings.Repeat("v", models.MaxVariableValueBytes+1)}, 422, "at most 64 KiB"},
	} {
		wantAPIError(t, cs.admin.JSONRequest(http.MethodPost, "/api/templatevars", tc.body), tc.code, tc.msg)
	}
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "DB_HOST"}), http.StatusConflict, "already exists")
}

func TestVariableAPIKeepsAbsentFieldsAndShowsProtectedValuesOnlyOnRequest(t *testing.T) {
	cs := startCast(t)
	v := createVariable(t, cs.admin, map[string]any{"name": "DB_HOST", "value": "db.internal\n", "zones": []string{"test-zone"}})

	// PUT keeps absent fields; a protected value survives a PUT without "value".
	res := cs.admin.JSONRequest(http.MethodPut, path("/api/templatevars/%d", v.ID), map[string]any{"value": "s3cr3t-db-pass", "protected": true})
	wantStatus(t, res, http.StatusOK)
	var upd api.Variable
	res.JSON(t, &upd)
	if upd.Name != "DB_HOST" || !upd.Protected || upd.Value != nil || !slices.Equal(upd.Zones, []string{"test-zone"}) {
		t.Fatalf("updated = %+v, want the value masked (null) and the other fields kept", upd)
	}
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templatevars/%d", v.ID), map[string]any{"restricted": true}), http.StatusOK)
	res = cs.admin.Get(path("/api/templatevars/%d?reveal=true", v.ID))
	wantStatus(t, res, http.StatusOK)
	var revealed api.Variable
	res.JSON(t, &revealed)
	if revealed.Value == nil || *revealed.Value != "s3cr3t-db-pass" || !revealed.Restricted {
		t.Fatalf("revealed = %+v", revealed)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("reveal Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
	}
	res = cs.admin.Get(path("/api/templatevars/%d", v.ID))
	wantNoBody(t, res, "s3cr3t-db-pass")
	res = cs.admin.Get("/api/templatevars")
	wantStatus(t, res, http.StatusOK)
	wantNoBody(t, res, "s3cr3t-db-pass")
	wantBody(t, res, `"value":null`, `"protected":true`)

	wantStatus(t, cs.admin.Do(http.MethodDelete, path("/api/templatevars/%d", v.ID), nil), http.StatusOK)
	wantStatus(t, cs.admin.Do(http.MethodDelete, path("/api/templatevars/%d", v.ID), nil), http.StatusNotFound)
	wantStatus(t, cs.admin.Get(path("/api/templatevars/%d", v.ID)), http.StatusNotFound)
}

func TestOnlyVariableManagersMayUseVariables(t *testing.T) {
	cs := startCast(t)
	v := createVariable(t, cs.admin, map[string]any{"name": "DB_HOST", "value": "s3cr3t-db-pass", "protected": true})
	for _, c := range []*knottest.Client{cs.dev, cs.nobody} {
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/api/templatevars"},
			{http.MethodPost, "/api/templatevars"},
			{http.MethodGet, path("/api/templatevars/%d?reveal=true", v.ID)},
			{http.MethodPut, path("/api/templatevars/%d", v.ID)},
			{http.MethodDelete, path("/api/templatevars/%d", v.ID)},
			{http.MethodGet, "/variables"},
			{http.MethodGet, path("/variables/%d/reveal", v.ID)},
		} {
			res := c.JSONRequest(r.method, r.path, map[string]any{"name": "X"})
			wantStatus(t, res, http.StatusForbidden)
			wantNoBody(t, res, "s3cr3t-db-pass")
		}
	}
	if page := cs.dev.Get("/templates"); strings.Contains(page.Body, `href="/variables"`) {
		t.Error("the Variables menu item is shown without manage_variables")
	}
	if page := cs.admin.Get("/templates"); !strings.Contains(page.Body, `href="/variables"`) {
		t.Error("the admin's menu lacks Variables")
	}
}

// TestProtectedValuesNeverReachTheDatabaseInPlainText reads the SQLite file
// and its write-ahead log byte for byte.
func TestProtectedValuesNeverReachTheDatabaseInPlainText(t *testing.T) {
	cs := startCast(t)
	const secret = "pl41ntext-must-not-appear-7f3a"
	const plain = "visible-value-for-contrast-91c2"
	createVariable(t, cs.admin, map[string]any{"name": "OPEN", "value": plain})
	v := createVariable(t, cs.admin, map[string]any{"name": "SECRET", "value": secret, "protected": true})
	// An edit through the page writes a new value too.
	res := cs.admin.PostForm(path("/variables/%d", v.ID), url.Values{"name": {"SECRET"}, "value": {secret + "-2"}, "protected": {"true"}})
	wantStatus(t, res, http.StatusSeeOther)

	all := cs.srv.StoredBytes()
	if !bytes.Contains(all, []byte(plain)) {
		t.Fatal("the unprotected value is not in the database files either: this test reads the wrong files")
	}
	if bytes.Contains(all, []byte(secret)) {
		t.Fatal("a protected value is in the database files in plain text")
	}
	if logs := cs.srv.Logs.String(); strings.Contains(logs, secret) {
		t.Fatal("a protected value was logged")
	}
	res = cs.admin.Get(path("/api/templatevars/%d?reveal=true", v.ID))
	wantBody(t, res, secret+"-2")

	// Unticking "protected" with the value left empty must not write the
	// kept secret back in plain text: it asks for the value instead.
	res = cs.admin.PostForm(path("/variables/%d", v.ID), url.Values{"name": {"SECRET"}, "value": {""}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "To stop protecting this variable, type its value again.")
	res = cs.admin.Get(path("/api/templatevars/%d", v.ID))
	wantBody(t, res, `"protected":true`)
	if bytes.Contains(cs.srv.StoredBytes(), []byte(secret)) {
		t.Fatal("un-protecting without a value wrote the secret in plain text")
	}
}

func TestVariableFormShowsEveryMessageAndNeverEchoesAProtectedValue(t *testing.T) {
	cs := startCast(t)
	page := cs.admin.Get("/variables")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "No variables yet", `href="/variables/new"`)

	// Errors beside the fields, what was typed kept, as an htmx fragment.
	res := cs.admin.PostForm("/variables", url.Values{"name": {"9lives"}, "value": {"typed <value>"}, "zones": {"eu,,us"}}, htmx)
	wantStatus(t, res, http.StatusOK)
	if !isFragment(res) {
		t.Fatal("htmx create error answered with a whole page")
	}
	wantBody(t, res, `id="name-error"`, "A name starts with a letter or _", `id="zones-error"`, "remove the extra comma", `value="9lives"`, "typed &lt;value&gt;", "eu,,us")
	// Without htmx: the page with 422.
	res = cs.admin.PostForm("/variables", url.Values{"name": {""}, "value": {"v"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "Enter a name.", "<!doctype html>")

	res = cs.admin.PostForm("/variables", url.Values{"name": {"REGION"}, "value": {"eu-west-1"}, "zones": {"test-zone"}}, htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Header.Get("HX-Redirect") != "/variables" {
		t.Fatalf("create HX-Redirect = %q", res.Header.Get("HX-Redirect"))
	}
	// A protected value that fails another check is not echoed back.
	res = cs.admin.PostForm("/variables", url.Values{"name": {"REGION"}, "value": {"hunter2-secret"}, "protected": {"true"}}, htmx)
	wantBody(t, res, "already exists", "Type the protected value again")
	wantNoBody(t, res, "hunter2-secret")
}

func TestVariablesPageRevealsEditsAndDeletes(t *testing.T) {
	cs := startCast(t)
	res := cs.admin.PostForm("/variables", url.Values{"name": {"REGION"}, "value": {"eu-west-1"}, "zones": {"test-zone"}}, htmx)
	wantStatus(t, res, http.StatusOK)
	res = cs.admin.PostForm("/variables", url.Values{"name": {"TOKEN"}, "value": {"hunter2-secret"}, "protected": {"true"}, "restricted": {"true"}})
	wantStatus(t, res, http.StatusSeeOther)

	page := cs.admin.Get("/variables")
	wantBody(t, page, "Variable “TOKEN” created.", "REGION", "eu-west-1", "TOKEN", models.MaskedValue, "Reveal", "protected", "restricted", `hx-confirm="Delete the variable “REGION”?`)
	wantNoBody(t, page, "hunter2-secret")

	var list []api.Variable
	cs.admin.Get("/api/templatevars").JSON(t, &list)
	var token, region api.Variable
	for _, v := range list {
		switch v.Name {
		case "TOKEN":
			token = v
		case "REGION":
			region = v
		}
	}
	// Reveal swaps in the value for this user only, on request.
	res = cs.admin.Get(path("/variables/%d/reveal", token.ID), htmx)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "hunter2-secret")
	if !isFragment(res) {
		t.Fatal("reveal answered htmx with a whole page")
	}

	// The edit form never carries the protected value; empty keeps it.
	edit := cs.admin.Get(path("/variables/%d/edit", token.ID))
	wantStatus(t, edit, http.StatusOK)
	wantNoBody(t, edit, "hunter2-secret")
	wantBody(t, edit, "Leave this empty to keep it")
	res = cs.admin.PostForm(path("/variables/%d", token.ID), url.Values{"name": {"TOKEN"}, "value": {""}, "protected": {"true"}})
	wantStatus(t, res, http.StatusSeeOther)
	wantBody(t, cs.admin.Get(path("/api/templatevars/%d?reveal=true", token.ID)), "hunter2-secret")

	// Delete: htmx gets 200 with an empty body so the row goes.
	res = cs.admin.PostForm(path("/variables/%d/delete", region.ID), nil, htmx)
	wantStatus(t, res, http.StatusOK)
	if strings.TrimSpace(res.Body) != "" {
		t.Fatalf("htmx delete body = %q, want empty", res.Body)
	}
	wantNoBody(t, cs.admin.Get("/variables"), "eu-west-1")
}

// A variable made protected must not leave its old plain value behind in
// the database files: not in a page of the main file, not in the
// write-ahead log.
func TestAVariableMadeProtectedLeavesNoPlainValueBehind(t *testing.T) {
	cs := startCast(t)
	const before = "plain-before-protect-5e1d"
	v := createVariable(t, cs.admin, map[string]any{"name": "TURNS_SECRET", "value": before})
	if !bytes.Contains(cs.srv.StoredBytes(), []byte(before)) {
		t.Fatal("the plain value is not in the database files at all: this test reads the wrong files")
	}
	res := cs.admin.JSONRequest(http.MethodPut, path("/api/templatevars/%d", v.ID), map[string]any{"name": "TURNS_SECRET", "value": before, "protected": true})
	wantStatus(t, res, http.StatusOK)
	if bytes.Contains(cs.srv.StoredBytes(), []byte(before)) {
		t.Fatal("the value made protected is still in the database files in plain text")
	}
}

package handlers_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func createTemplate(t *testing.T, c *knottest.Client, body map[string]any) api.Template {
	t.Helper()
	if _, ok := body["body"]; !ok {
		body["body"] = "image: ubuntu:24.04\n"
	}
	res := c.JSONRequest(http.MethodPost, "/api/templates", body)
	wantStatus(t, res, http.StatusCreated)
	var out api.Template
	res.JSON(t, &out)
	return out
}

func listTemplates(t *testing.T, c *knottest.Client, query string) []api.Template {
	t.Helper()
	res := c.Get("/api/templates" + query)
	wantStatus(t, res, http.StatusOK)
	var out []api.Template
	res.JSON(t, &out)
	return out
}

func names(ts []api.Template) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestTemplateAPICreateReadUpdateDelete(t *testing.T) {
	cs := startCast(t)
	body := "# a definition\n\n  indented: true\n"
	created := createTemplate(t, cs.admin, map[string]any{
		"name": "  Go toolchain ", "description": " Go 1.26 with tools ", "zones": []string{" test-zone ", "!<leaf-node>", "test-zone"}, "body": body,
	})
	if created.ID == 0 || created.Name != "Go toolchain" || created.Description != "Go 1.26 with tools" || !created.Active || created.Source != "local" {
		t.Fatalf("created = %+v", created)
	}
	if !slices.Equal(created.Zones, []string{"test-zone", "!<leaf-node>"}) {
		t.Fatalf("zones = %q, want trimmed and de-duplicated", created.Zones)
	}
	if created.Body != body {
		t.Fatalf("body = %q, want it exactly as sent", created.Body)
	}
	if created.CreatedAt != "2026-11-02T09:00:00Z" || created.UpdatedAt != created.CreatedAt {
		t.Fatalf("times = %q %q, want RFC 3339 UTC from the server clock", created.CreatedAt, created.UpdatedAt)
	}

	// Everyone signed in reads it; the raw JSON carries exactly the promised keys.
	res := cs.nobody.Get(path("/api/templates/%d", created.ID))
	wantStatus(t, res, http.StatusOK)
	for _, key := range []string{`"id":`, `"name":`, `"description":`, `"zones":`, `"active":`, `"body":`, `"source":"local"`} {
		wantBody(t, res, key)
	}
	if got := listTemplates(t, cs.dev, ""); len(got) != 1 || !reflect.DeepEqual(got[0], created) {
		t.Fatalf("list = %+v, want [%+v]", got, created)
	}

	updateTemplateThroughTheAPI(t, cs, created, body)

	// Inactive now: gone for those who cannot manage templates.
	wantStatus(t, cs.dev.Get(path("/api/templates/%d", created.ID)), http.StatusNotFound)
	if got := listTemplates(t, cs.dev, ""); len(got) != 0 {
		t.Fatalf("developer lists inactive template: %+v", got)
	}
	if got := listTemplates(t, cs.admin, ""); len(got) != 1 {
		t.Fatalf("manager should list the inactive template, got %+v", got)
	}

	res = cs.admin.Do(http.MethodDelete, path("/api/templates/%d", created.ID), nil)
	wantStatus(t, res, http.StatusOK)
	wantStatus(t, cs.admin.Get(path("/api/templates/%d", created.ID)), http.StatusNotFound)
	wantAPIError(t, cs.admin.Do(http.MethodDelete, path("/api/templates/%d", created.ID), nil), http.StatusNotFound, "nothing at this address")
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", created.ID), map[string]any{"name": "x"}), http.StatusNotFound, "nothing at this address")
	for _, bad := range []string{"abc", "0", "-1", "99999999999"} {
		wantStatus(t, cs.admin.Get("/api/templates/"+bad), http.StatusNotFound)
	}
}

// updateTemplateThroughTheAPI PUTs changes to created (an hour later) and
// wants what it names changed, the rest kept, and what GET returned
// accepted as it is; the template ends inactive.
func updateTemplateThroughTheAPI(t *testing.T, cs *cast, created api.Template, body string) {
	t.Helper()
	// PUT changes what it names and keeps the rest.
	cs.srv.Clock.Advance(3600e9)
	res := cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", created.ID), map[string]any{"description": "new words", "active": false})
	wantStatus(t, res, http.StatusOK)
	var updated api.Template
	res.JSON(t, &updated)
	if updated.Name != created.Name || updated.Description != "new words" || updated.Active || updated.Body != body ||
		!slices.Equal(updated.Zones, created.Zones) || updated.CreatedAt != created.CreatedAt || updated.UpdatedAt != "2026-11-02T10:00:00Z" {
		t.Fatalf("updated = %+v", updated)
	}
	// What GET returned can be sent back as it is (read-only fields ignored).
	updated.Source, updated.ID, updated.Zones = "cluster", 999, []string{}
	res = cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", created.ID), updated)
	wantStatus(t, res, http.StatusOK)
	var again api.Template
	res.JSON(t, &again)
	if again.ID != created.ID || again.Source != "local" || len(again.Zones) != 0 || again.Zones == nil {
		t.Fatalf("round trip = %+v, want id kept, source local, zones []", again)
	}
}

func TestTemplateAPIRefusesBadBodies(t *testing.T) {
	cs := startCast(t)
	existing := createTemplate(t, cs.admin, map[string]any{"name": "Existing"})
	for _, tc := range templateBodyRefusals() {
		t.Run(tc.name, func(t *testing.T) {
			res := cs.admin.JSONRequest(http.MethodPost, "/api/templates", tc.body)
			wantAPIError(t, res, tc.code, tc.msg)
		})
	}
	// Field errors also come keyed by field, for scripts.
	res := cs.admin.JSONRequest(http.MethodPost, "/api/templates", `{"name":"","body":"x"}`)
	var withFields struct {
		Fields map[string]string `json:"fields"`
	}
	res.JSON(t, &withFields)
	if withFields.Fields["name"] != "Enter a name." {
		t.Fatalf("fields = %v", withFields.Fields)
	}
	// PUT validates the same way, and a clash with another name is 409.
	other := createTemplate(t, cs.admin, map[string]any{"name": "Other"})
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", other.ID), `{"name":"existing"}`), 409, "already exists")
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", other.ID), `{"zones":["!"]}`), 422, "zones:")
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", other.ID), `{"active":1}`), 400, `Field "active"`)
	// Renaming a template to its own name in another case is fine.
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/templates/%d", existing.ID), `{"name":"EXISTING"}`), http.StatusOK)
	// Nothing was created by the refused requests.
	if got := listTemplates(t, cs.admin, "?all_zones=true"); len(got) != 2 {
		t.Fatalf("templates after refused requests = %q", names(got))
	}
}

// bodyRefusal is a body the template API refuses, with the status and
// the message it answers.
type bodyRefusal struct {
	name string
	body string
	code int
	msg  string
}

// templateBodyRefusals are the bodies a template create refuses ("Existing"
// stands already): malformed ones with 400, invalid ones with 422, a clash
// with 409.
func templateBodyRefusals() []bodyRefusal {
	ok := `"body":"x"`
	return []bodyRefusal{
		{"empty body", ``, 400, "The request body is empty; send a JSON object."},
		{"whitespace body", "  \n", 400, "The request body is empty"},
		{"array", `[{"name":"x"}]`, 400, "The request body must be a JSON object"},
		{"null", `null`, 400, "The request body must be a JSON object"},
		{"string", `"x"`, 400, "The request body must be a JSON object"},
		{"broken JSON", `{"name":`, 400, "The request body is not valid JSON"},
		{"bad syntax", `{"name" "x"}`, 400, "The request body is not valid JSON (at byte"},
		{"two objects", `{"name":"a",` + ok + `} {}`, 400, "more than one JSON value"},
		{"unknown field", `{"name":"a","zone":["eu"],` + ok + `}`, 400, `Unknown field "zone".`},
		{"name is a number", `{"name":1,` + ok + `}`, 400, `Field "name" must be a string, not number.`},
		{"zones is a string", `{"name":"a","zones":"eu",` + ok + `}`, 400, `Field "zones" must be a list of strings, not string.`},
		{"zone is a number", `{"name":"a","zones":[1],` + ok + `}`, 400, `must be a string, not number`},
		{"active is a string", `{"name":"a","active":"yes",` + ok + `}`, 400, `Field "active" must be true or false, not string.`},
		{"body is an object", `{"name":"a","body":{}}`, 400, `Field "body" must be a string, not object.`},
		{"no name", `{` + ok + `}`, 422, "name: Enter a name."},
		{"blank name", `{"name":"   ",` + ok + `}`, 422, "name: Enter a name."},
		{"long name", `{"name":"` + strings.Repeat("n", 65) + `",` + ok + `}`, 422, "name: A name can be at most 64 characters."},
		{"control in name", `{"name":"a\tb",` + ok + `}`, 422, "name: A name cannot contain tabs, line breaks or control characters."},
		{"newline in name", `{"name":"a\nb",` + ok + `}`, 422, "name: A name cannot contain"},
		{"long description", `{"name":"a","description":"` + strings.Repeat("d", 1001) + `",` + ok + `}`, 422, "description: A description can be at most 1000 characters."},
		{"no body", `{"name":"a"}`, 422, "body: Enter the template definition."},
		{"blank body", `{"name":"a","body":" \n "}`, 422, "body: Enter the template definition."},
		{"huge body", `{"name":"a","body":"` + strings.Repeat("b", models.MaxTemplateBodyBytes+1) + `"}`, 422, "body: The definition can be at most 256 KiB."},
		{"oversized request", `{"name":"a","body":"` + strings.Repeat("b", 600<<10) + `"}`, 400, "The request body is larger than"},
		{"empty zone", `{"name":"a","zones":["eu",""],` + ok + `}`, 422, "zones: Zone 2: A zone name cannot be empty"},
		{"double bang", `{"name":"a","zones":["!!eu"],` + ok + `}`, 422, "zones: “!!eu”: use a single “!”"},
		{"inner bang", `{"name":"a","zones":["e!u"],` + ok + `}`, 422, "zones: “e!u”: “!” can only come first"},
		{"lone bang", `{"name":"a","zones":["!"],` + ok + `}`, 422, "zones: A “!” must be followed by the zone it excludes"},
		{"comma in zone", `{"name":"a","zones":["eu,us"],` + ok + `}`, 422, "zones: “eu,us”: a zone name cannot contain a comma"},
		{"several problems at once", `{"name":"","body":""}`, 422, "body: Enter the template definition.; name: Enter a name."},
		{"duplicate name", `{"name":"Existing",` + ok + `}`, 409, "A template named “Existing” already exists"},
		{"duplicate name, other case", `{"name":"eXISTING",` + ok + `}`, 409, "already exists"},
	}
}

func TestTemplateAPIUnicodeAndHTMLRoundTrip(t *testing.T) {
	cs := startCast(t)
	in := map[string]any{
		"name":        "Ünïcödé 東京 <b>bold</b>",
		"description": `<script>alert("x")</script> & "quotes"`,
		"zones":       []string{"zürich", "!東京"},
		"body":        "emoji: 🚀\n<html>\n",
	}
	created := createTemplate(t, cs.admin, in)
	if created.Name != in["name"] || created.Description != in["description"] || created.Body != in["body"] {
		t.Fatalf("created = %+v", created)
	}
	// In the page the same text is escaped, never markup.
	page := cs.admin.Get("/templates?all_zones=true")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Ünïcödé 東京 &lt;b&gt;bold&lt;/b&gt;", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "zürich", "not 東京")
	wantNoBody(t, page, "<b>bold</b>", `<script>alert`)
}

func TestConcurrentDuplicateTemplateCreates(t *testing.T) {
	cs := startCast(t)
	const n = 12
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "Racer"
			if i%2 == 1 {
				name = "RACER" // the same name to the unique index
			}
			res := cs.admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{"name": name, "body": "x"})
			codes[i] = res.StatusCode
		}()
	}
	wg.Wait()
	slices.Sort(codes)
	wantOneWinner(t, codes, http.StatusCreated, http.StatusConflict)
	if got := listTemplates(t, cs.admin, ""); len(got) != 1 {
		t.Fatalf("templates = %q", names(got))
	}
}

// The server under test is in zone "test-zone" (knottest.Config).
func TestTemplateListsFollowTheZoneRule(t *testing.T) {
	cs := startCast(t)
	mk := func(name string, active bool, zones ...string) api.Template {
		return createTemplate(t, cs.admin, map[string]any{"name": name, "active": active, "zones": zones})
	}
	mk("everywhere", true)
	mk("here", true, "test-zone")
	mk("here-and-there", true, "other", "test-zone")
	mk("not-here", true, "!test-zone")
	mk("not-on-leaves", true, "!<leaf-node>")
	mk("not-elsewhere", true, "!other")
	hiddenElsewhere := mk("elsewhere", true, "other")
	leafOnly := mk("leaf-only", true, "<leaf-node>")
	mk("mixed-excluded", true, "test-zone", "!test-zone")
	mk("inactive-here", false, "test-zone")
	mk("inactive-elsewhere", false, "other")

	visible := []string{"everywhere", "here", "here-and-there", "not-elsewhere", "not-on-leaves"}
	for _, c := range []*knottest.Client{cs.dev, cs.nobody} {
		if got := names(listTemplates(t, c, "")); !slices.Equal(got, visible) {
			t.Fatalf("user list = %q, want %q", got, visible)
		}
	}
	// Managers also see inactive ones, still filtered by zone...
	managerView := []string{"everywhere", "here", "here-and-there", "inactive-here", "not-elsewhere", "not-on-leaves"}
	if got := names(listTemplates(t, cs.admin, "")); !slices.Equal(got, managerView) {
		t.Fatalf("manager list = %q, want %q", got, managerView)
	}
	// ...unless they ask for all zones.
	if got := listTemplates(t, cs.admin, "?all_zones=true"); len(got) != 11 {
		t.Fatalf("all zones = %q, want all 11", names(got))
	}
	wantAPIError(t, cs.dev.Get("/api/templates?all_zones=true"), http.StatusForbidden, "all_zones=true needs the manage_templates permission")

	// A template hidden in this zone does not exist for a developer, by id either.
	for _, id := range []uint{hiddenElsewhere.ID, leafOnly.ID} {
		wantAPIError(t, cs.dev.Get(path("/api/templates/%d", id)), http.StatusNotFound, "There is no template")
		wantStatus(t, cs.admin.Get(path("/api/templates/%d", id)), http.StatusOK)
	}

	// The page shows the same sets.
	devPage := cs.dev.Get("/templates")
	wantStatus(t, devPage, http.StatusOK)
	wantBody(t, devPage, "<strong>everywhere</strong>", "<strong>not-on-leaves</strong>", "Templates available in zone <code>test-zone</code>")
	wantNoBody(t, devPage, "<strong>not-here</strong>", "<strong>elsewhere</strong>", "<strong>leaf-only</strong>", "<strong>inactive-here</strong>", "Show all zones", "New template", "Delete")
	// A developer asking for all zones in the page simply gets this zone.
	wantNoBody(t, cs.dev.Get("/templates?all_zones=true"), "<strong>elsewhere</strong>")

	adminAll := cs.admin.Get("/templates?all_zones=true")
	wantBody(t, adminAll, "<strong>elsewhere</strong>", "<strong>leaf-only</strong>", "not in this zone", "inactive", "Showing templates for every zone", `name="all_zones" value="true" checked`)
}

func TestTemplatesPageSearch(t *testing.T) {
	cs := startCast(t)
	createTemplate(t, cs.admin, map[string]any{"name": "Go toolchain", "description": "Compilers and linters", "zones": []string{"test-zone", "!<leaf-node>"}})
	createTemplate(t, cs.admin, map[string]any{"name": "Python", "description": "Data science with Jupyter"})
	createTemplate(t, cs.admin, map[string]any{"name": "Straße", "description": "Ünicode"})

	page := cs.dev.Get("/templates")
	wantStatus(t, page, http.StatusOK)
	// The search box filters as the user types, through htmx, and the form
	// works without JavaScript too.
	wantBody(t, page,
		`<form class="toolbar" method="get" action="/templates" role="search"`,
		`hx-get="/templates"`, `hx-trigger="input changed delay:200ms, search"`, `hx-target="#template-list"`,
		`<div id="template-list"`, `<span class="badge" title="Shown in zone test-zone">test-zone</span>`,
		`<span class="badge neg" title="Hidden in zone &lt;leaf-node&gt;">not &lt;leaf-node&gt;</span>`,
		`title="No zones listed: shown in every zone">all zones</span>`)
	if !variesOnHTMX(page.Header) {
		t.Fatalf("Vary = %v, want HX-Request: one URL serves page and fragment", page.Header.Values("Vary"))
	}

	frag := cs.dev.Get("/templates?q=JUPYTER", htmx)
	wantStatus(t, frag, http.StatusOK)
	if !isFragment(frag) || !strings.HasPrefix(strings.TrimSpace(frag.Body), `<div id="template-list"`) {
		t.Fatalf("htmx search answered a whole page: %.300s", frag.Body)
	}
	wantBody(t, frag, "<strong>Python</strong>")
	wantNoBody(t, frag, "Go toolchain", "Straße")

	// Going back to a URL the search box put in the address bar makes htmx
	// ask for it again as a history restore: that needs the whole page.
	restore := cs.dev.Get("/templates?q=JUPYTER", htmx, "HX-History-Restore-Request: true")
	wantBody(t, restore, "<html", `name="q" value="JUPYTER"`)
	// Without JavaScript: a full page, the query kept in the box.
	full := cs.dev.Get("/templates?q=tool")
	wantBody(t, full, "<strong>Go toolchain</strong>", `name="q" value="tool"`, "<html")
	wantNoBody(t, full, "<strong>Python</strong>")

	// Non-ASCII case folding, and a query that matches nothing is named (escaped).
	wantBody(t, cs.dev.Get("/templates?q=STRASSE", htmx), "No templates match")
	wantBody(t, cs.dev.Get("/templates?q=straße", htmx), "<strong>Straße</strong>")
	wantBody(t, cs.dev.Get("/templates?q=ÜNICODE", htmx), "<strong>Straße</strong>")
	none := cs.dev.Get("/templates?q="+url.QueryEscape(`<img src=x onerror=alert(1)>`), htmx)
	wantBody(t, none, "No templates match “&lt;img src=x onerror=alert(1)&gt;”.")
	wantNoBody(t, none, "<img")
	// The API searches the same way.
	if got := names(listTemplates(t, cs.dev, "?q=JUPYTER")); !slices.Equal(got, []string{"Python"}) {
		t.Fatalf("API search = %q", got)
	}
	// A huge query is harmless.
	wantStatus(t, cs.dev.Get("/templates?q="+strings.Repeat("a", 4000), htmx), http.StatusOK)
}

func TestTemplatesPageForManagers(t *testing.T) {
	cs := startCast(t)
	tpl := createTemplate(t, cs.admin, map[string]any{"name": "Rust", "active": false})
	page := cs.admin.Get("/templates")
	wantBody(t, page, `href="/templates/new"`, "Show all zones", path(`href="/templates/%d/edit"`, tpl.ID),
		path(`hx-post="/templates/%d/delete"`, tpl.ID), `hx-confirm="Delete the template “Rust”? This cannot be undone."`,
		`hx-target="closest tr"`, `<span class="badge off">inactive</span>`)
	// Empty states differ for managers and users.
	cs2 := startCast(t)
	wantBody(t, cs2.admin.Get("/templates"), "No templates yet. Use New template")
	wantBody(t, cs2.dev.Get("/templates"), "No templates are available in this zone yet.")
}

func templateForm(name, description, zones, body string, active bool) url.Values {
	v := url.Values{"name": {name}, "description": {description}, "zones": {zones}, "body": {body}}
	if active {
		v.Set("active", "true")
	}
	return v
}

func TestTemplateFormsCreateEditDelete(t *testing.T) {
	cs := startCast(t)
	newPage := cs.admin.Get("/templates/new")
	wantStatus(t, newPage, http.StatusOK)
	wantBody(t, newPage, `action="/templates"`, `hx-post="/templates"`, `name="active" value="true" checked`, "Create template")

	res := cs.admin.PostForm("/templates", templateForm("Node", "JavaScript", "test-zone,\n!<leaf-node>\n", "\nruntime: node\n", true))
	wantStatus(t, res, http.StatusSeeOther)
	if res.Header.Get("Location") != "/templates" {
		t.Fatalf("after create: Location %q", res.Header.Get("Location"))
	}
	list := cs.admin.Get("/templates")
	wantBody(t, list, "Template “Node” created.", "<strong>Node</strong>")
	// The notice is shown once.
	wantNoBody(t, cs.admin.Get("/templates"), "Template “Node” created.")

	got := listTemplates(t, cs.admin, "")
	if len(got) != 1 || !slices.Equal(got[0].Zones, []string{"test-zone", "!<leaf-node>"}) || got[0].Body != "\nruntime: node\n" || !got[0].Active {
		t.Fatalf("created by form = %+v", got)
	}
	id := got[0].ID

	// The edit form shows zones one per line and the body exactly (the
	// newline after <textarea> is eaten by HTML parsers, hence the extra one).
	edit := cs.admin.Get(path("/templates/%d/edit", id))
	wantStatus(t, edit, http.StatusOK)
	wantBody(t, edit, path(`hx-post="/templates/%d"`, id), `value="Node"`, ">\ntest-zone\n!&lt;leaf-node&gt;</textarea>", ">\n\nruntime: node\n</textarea>", "Save changes")

	// htmx save: HX-Redirect, no page in the answer.
	res = cs.admin.PostForm(path("/templates/%d", id), templateForm("Node LTS", "", "", "runtime: node 24", false), htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Header.Get("HX-Redirect") != "/templates" {
		t.Fatalf("htmx save: HX-Redirect %q", res.Header.Get("HX-Redirect"))
	}
	got = listTemplates(t, cs.admin, "")
	if got[0].Name != "Node LTS" || got[0].Active || len(got[0].Zones) != 0 {
		t.Fatalf("after edit = %+v", got[0])
	}

	// Delete through htmx: 200 with an empty body, so the row is swapped away.
	res = cs.admin.PostForm(path("/templates/%d/delete", id), nil, htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Body != "" {
		t.Fatalf("htmx delete answered %q, want empty", res.Body)
	}
	if len(listTemplates(t, cs.admin, "")) != 0 {
		t.Fatal("template not deleted")
	}
	// Deleting it again is not an error: it is gone, as asked.
	wantStatus(t, cs.admin.PostForm(path("/templates/%d/delete", id), nil, htmx), http.StatusOK)

	// Without htmx: back to the list with a notice.
	other := createTemplate(t, cs.admin, map[string]any{"name": "Other"})
	res = cs.admin.PostForm(path("/templates/%d/delete", other.ID), nil)
	wantStatus(t, res, http.StatusSeeOther)
	wantBody(t, cs.admin.Get("/templates"), "Template “Other” deleted.")

	wantStatus(t, cs.admin.Get("/templates/999/edit"), http.StatusNotFound)
	wantStatus(t, cs.admin.PostForm("/templates/999", templateForm("x", "", "", "x", true)), http.StatusNotFound)
}

func TestTemplateFormShowsEveryMessageAndKeepsWhatWasTyped(t *testing.T) {
	cs := startCast(t)
	createTemplate(t, cs.admin, map[string]any{"name": "Taken"})
	cases := []formRefusal{
		{"no name", templateForm("", "d", "", "b", true), "name", "Enter a name.", 422},
		{"long name", templateForm(strings.Repeat("x", 65), "d", "", "b", true), "name", "A name can be at most 64 characters.", 422},
		{"control in name", templateForm("a\x01b", "d", "", "b", true), "name", "A name cannot contain tabs, line breaks or control characters.", 422},
		{"bad UTF-8 name", templateForm("a\xffb", "d", "", "b", true), "name", "A name must be text (UTF-8).", 422},
		{"long description", templateForm("n", strings.Repeat("é", 1001), "", "b", true), "description", "A description can be at most 1000 characters.", 422},
		{"no body", templateForm("n", "d", "", "   ", true), "body", "Enter the template definition.", 422},
		{"huge body", templateForm("n", "d", "", strings.Repeat("b", models.MaxTemplateBodyBytes+1), true), "body", "The definition can be at most 256 KiB.", 422},
		{"empty zone", templateForm("n", "d", "eu,,us", "b", true), "zones", "Zone 2: A zone name cannot be empty; remove the extra comma.", 422},
		{"bang inside", templateForm("n", "d", "eu\nu!s", "b", true), "zones", "Zone 2: “u!s”: “!” can only come first, meaning “not in this zone”.", 422},
		{"double bang", templateForm("n", "d", "!!eu", "b", true), "zones", "“!!eu”: use a single “!” before the zone name.", 422},
		{"lone bang", templateForm("n", "d", "!", "b", true), "zones", "A “!” must be followed by the zone it excludes, like !eu-west.", 422},
		{"long zone", templateForm("n", "d", strings.Repeat("z", 256), "b", true), "zones", "A zone name can be at most 255 characters.", 422},
		{"too many zones", templateForm("n", "d", manyZoneNames(51), "b", true), "zones", "List at most 50 zones.", 422},
		{"taken name", templateForm("taken", "d", "", "b", true), "name", "A template named “taken” already exists; choose another name.", 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantTemplateFormRefused(t, cs.admin, tc) })
	}
	// Several problems are reported together.
	res := cs.admin.PostForm("/templates", templateForm("", "", "!", "", true), htmx)
	wantBody(t, res, "Enter a name.", "Enter the template definition.", "A “!” must be followed")
	// HTML typed into a field comes back escaped.
	res = cs.admin.PostForm("/templates", templateForm(`<script>alert(1)</script>`, `"><img src=x>`, "!", "b", true), htmx)
	wantBody(t, res, `value="&lt;script&gt;alert(1)&lt;/script&gt;"`, "&#34;&gt;&lt;img src=x&gt;")
	wantNoBody(t, res, "<script>alert", "<img src=x>")
	// Nothing was stored by any of these.
	if got := listTemplates(t, cs.admin, "?all_zones=true"); len(got) != 1 {
		t.Fatalf("templates = %q", names(got))
	}
	// A form far beyond any limit is refused before it is read.
	wantStatus(t, cs.admin.PostForm("/templates", templateForm("n", "", "", strings.Repeat("b", 1<<20), true)), http.StatusRequestEntityTooLarge)
}

// wantTemplateFormRefused posts tc.form to create a template, without
// JavaScript and with htmx, and wants it refused as tc says, in the form
// fragment, with what was typed kept.
func wantTemplateFormRefused(t *testing.T, admin *knottest.Client, tc formRefusal) {
	t.Helper()
	// Full page without JavaScript, with a status that says what happened;
	// htmx: 200 with only the form, so it is swapped in place.
	page, frag := wantFormRefused(t, admin, "/templates", tc)
	wantBody(t, page, `<p class="field-error" id="`+tc.field+`-error" role="alert">`, `aria-invalid="true"`, "<html")
	if !isFragment(frag) || !strings.HasPrefix(strings.TrimSpace(frag.Body), "<form") {
		t.Fatalf("htmx error answer is not the form fragment: %.200s", frag.Body)
	}
	// What was typed is kept (short values only; escaped).
	if n := tc.form.Get("name"); len(n) < 100 && !strings.ContainsAny(n, "\x01\xff") {
		wantBody(t, frag, `value="`+htmlEscape(n)+`"`)
	}
	if z := tc.form.Get("zones"); len(z) < 100 {
		wantBody(t, frag, ">\n"+htmlEscape(z)+"</textarea>")
	}
}

func manyZoneNames(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("z")
		b.WriteString(strings.Repeat("x", i%5))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26)))
	}
	return b.String()
}

// htmlEscape escapes like templ does for text and attribute values.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// In a PUT body, null is the same as leaving the field out: it keeps the
// value (the README says so), never clears it.
func TestNullInAPutBodyKeepsTheValue(t *testing.T) {
	_, admin := startAdmin(t)
	res := admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{"name": "keeps", "description": "kept", "zones": []string{"test-zone"}, "active": true, "body": "image: kept"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s", res.StatusCode, res.Body)
	}
	var created struct {
		ID uint `json:"id"`
	}
	res.JSON(t, &created)
	res = admin.JSONRequest(http.MethodPut, path("/api/templates/%d", created.ID), `{"name":null,"description":null,"zones":null,"active":null,"body":null}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT with nulls = %d %s", res.StatusCode, res.Body)
	}
	for _, want := range []string{`"name":"keeps"`, `"description":"kept"`, `"zones":["test-zone"]`, `"active":true`, `"body":"image: kept"`} {
		if !strings.Contains(res.Body, want) {
			t.Fatalf("a null changed the template: %s lacks %s", res.Body, want)
		}
	}
}

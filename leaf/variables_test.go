package leaf_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
)

type lvar struct {
	ID               float64 `json:"id"`
	Name             string  `json:"name"`
	Value            *string `json:"value"`
	Protected        bool    `json:"protected"`
	Source           string  `json:"source"`
	OverridesCluster bool    `json:"overrides_cluster"`
	OverriddenBy     *string `json:"overridden_by"`
}

func variables(t *testing.T, c *knottest.Client) map[string][]lvar {
	t.Helper()
	list := getJSON[[]lvar](t, c, "/api/templatevars")
	out := map[string][]lvar{}
	for _, v := range list {
		out[v.Name] = append(out[v.Name], v)
	}
	return out
}

func mkVar(t *testing.T, c *knottest.Client, body map[string]any) float64 {
	t.Helper()
	return float64(c.Created("/api/templatevars", body))
}

func preview(t *testing.T, c *knottest.Client, path string) string {
	t.Helper()
	return getJSON[struct {
		Body string `json:"body"`
	}](t, c, path).Body
}

func TestLeafVariables(t *testing.T) {
	p := startPair(t, pairOpts{})
	const secret = "0rigin-protected-v4lue"
	mkVar(t, p.admin, map[string]any{"name": "EVERYWHERE", "value": "from-origin"})
	leafOnly := mkVar(t, p.admin, map[string]any{"name": "LEAF_ONLY", "value": "for-leaves", "zones": []string{"<leaf-node>"}})
	mkVar(t, p.admin, map[string]any{"name": "NEVER_ON_LEAF", "value": "x", "zones": []string{"!<leaf-node>"}})
	mkVar(t, p.admin, map[string]any{"name": "ORIGIN_ZONE", "value": "x", "zones": []string{"origin-zone"}})
	mkVar(t, p.admin, map[string]any{"name": "RESTRICTED", "value": "stays-home", "restricted": true})
	mkVar(t, p.admin, map[string]any{"name": "SECRET", "value": secret, "protected": true, "zones": []string{"<leaf-node>"}})
	mkVar(t, p.admin, map[string]any{"name": "SHARED", "value": "cluster-value"})
	res := p.admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{
		"name": "uses-vars", "zones": []string{}, "active": true,
		"body": "a=${{ .var.EVERYWHERE }}\nb=${{ .var.SHARED }}\nc=${{ .var.SECRET }}\nd=${{ .var.RESTRICTED }}\n",
	})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create template: %d %s", res.StatusCode, res.Body)
	}
	var tplID struct {
		ID float64 `json:"id"`
	}
	res.JSON(t, &tplID)
	p.mustSync()
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	// Zone-filtered variables reach the leaf; restricted ones never do.
	onLeaf := variables(t, c)
	for _, want := range []string{"EVERYWHERE", "LEAF_ONLY", "SECRET", "SHARED"} {
		if len(onLeaf[want]) != 1 || onLeaf[want][0].Source != "cluster" {
			t.Errorf("leaf lacks cluster variable %s: %+v", want, onLeaf[want])
		}
	}
	for _, never := range []string{"NEVER_ON_LEAF", "ORIGIN_ZONE", "RESTRICTED"} {
		if _, ok := onLeaf[never]; ok {
			t.Errorf("leaf has %s", never)
		}
	}
	var n int64
	p.leaf.Server.DB().Raw("SELECT COUNT(*) FROM cluster_variables WHERE name = 'RESTRICTED' OR value LIKE '%stays-home%'").Scan(&n)
	if n != 0 {
		t.Fatal("a restricted variable was stored on the leaf")
	}
	if got := onLeaf["EVERYWHERE"][0].Value; got == nil || *got != "from-origin" {
		t.Fatalf("EVERYWHERE value on the leaf = %v", got)
	}

	// The protected one arrives masked in the list, readable on reveal by
	// the leaf's admin, and sealed under the leaf's own key.
	sec := onLeaf["SECRET"][0]
	if !sec.Protected || sec.Value != nil {
		t.Fatalf("SECRET in the leaf's list = %+v, want protected and masked", sec)
	}
	res = c.Get("/api/templatevars/" + ftoa(sec.ID) + "?source=cluster&reveal=true")
	var revealed lvar
	res.JSON(t, &revealed)
	if res.StatusCode != http.StatusOK || revealed.Value == nil || *revealed.Value != secret {
		t.Fatalf("reveal on the leaf = %d %+v", res.StatusCode, revealed)
	}
	if page := c.Get("/variables/"+ftoa(sec.ID)+"/reveal?source=cluster", "HX-Request: true"); !strings.Contains(page.Body, secret) {
		t.Fatal("the Reveal button on the leaf does not show the value")
	}
	var sealed string
	p.leaf.Server.DB().Raw("SELECT value_sealed FROM cluster_variables WHERE name = 'SECRET'").Scan(&sealed)
	var originSealed string
	p.origin.Server.DB().Raw("SELECT value_sealed FROM template_vars WHERE name = 'SECRET'").Scan(&originSealed)
	if sealed == "" || sealed == originSealed {
		t.Fatalf("leaf's sealed SECRET = %q, want its own ciphertext", sealed)
	}
	if p.leaf.Cfg.Server.Encrypt == p.origin.Cfg.Server.Encrypt {
		t.Fatal("the two servers share a key: the re-encryption is not tested")
	}
	raw := p.leaf.StoredBytes()
	if !bytes.Contains(raw, []byte("for-leaves")) {
		t.Fatal("the leaf's database files lack even the plain values: wrong files read")
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("the protected value is in the leaf's database in plain text")
	}
	if page := c.Get("/variables"); !strings.Contains(page.Body, "cluster") || !strings.Contains(page.Body, "read-only") || strings.Contains(page.Body, secret) {
		t.Fatal("leaf Variables page lacks the cluster badge or shows the protected value")
	}

	// Cluster variables are read-only on the leaf.
	if res := c.JSONRequest(http.MethodPut, "/api/templatevars/"+ftoa(sec.ID)+"?source=cluster", map[string]any{"value": "x"}); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "read-only") {
		t.Fatalf("PUT on a cluster variable = %d %s", res.StatusCode, res.Body)
	}
	if res := c.Do(http.MethodDelete, "/api/templatevars/"+ftoa(sec.ID)+"?source=cluster", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("DELETE on a cluster variable = %d", res.StatusCode)
	}

	// A local variable with a cluster name wins on the leaf only, and both
	// lists show it.
	mkVar(t, c, map[string]any{"name": "SHARED", "value": "leaf-value"})
	mkVar(t, c, map[string]any{"name": "LEAF_LOCAL", "value": "mine"})
	p.mustSync()
	onLeaf = variables(t, c)
	if len(onLeaf["SHARED"]) != 2 {
		t.Fatalf("SHARED on the leaf = %+v, want the local and the cluster one", onLeaf["SHARED"])
	}
	for _, v := range onLeaf["SHARED"] {
		switch v.Source {
		case "local":
			if !v.OverridesCluster {
				t.Error("local SHARED not marked as overriding the cluster")
			}
		case "cluster":
			if v.OverriddenBy == nil || *v.OverriddenBy != "local" {
				t.Error("cluster SHARED not marked as overridden")
			}
		}
	}
	if page := c.Get("/variables"); !strings.Contains(page.Body, "overrides cluster") {
		t.Fatal("leaf Variables page does not say the local SHARED overrides the cluster")
	}
	var leafTpl float64
	for name, x := range templateNames(t, c) {
		if name == "uses-vars" && x.Source == "cluster" {
			var list []struct {
				ID   float64 `json:"id"`
				Name string  `json:"name"`
			}
			c.Get("/api/templates").JSON(t, &list)
			for _, y := range list {
				if y.Name == "uses-vars" {
					leafTpl = y.ID
				}
			}
		}
	}
	if leafTpl == 0 {
		t.Fatal("the template using variables did not reach the leaf")
	}
	got := preview(t, c, "/api/templates/"+ftoa(leafTpl)+"/preview?source=cluster")
	if want := "a=from-origin\nb=leaf-value\nc=" + models.MaskedValue + "\nd=${{ .var.RESTRICTED }}\n"; got != want {
		t.Fatalf("leaf preview =\n%s\nwant\n%s", got, want)
	}
	got = preview(t, p.admin, "/api/templates/"+ftoa(tplID.ID)+"/preview")
	if want := "a=from-origin\nb=cluster-value\nc=${{ .var.SECRET }}\nd=stays-home\n"; got != want {
		t.Fatalf("origin preview =\n%s\nwant\n%s", got, want)
	}
	if _, ok := variables(t, p.admin)["LEAF_LOCAL"]; ok {
		t.Fatal("a leaf's local variable reached the origin")
	}

	// Removal and restriction on the origin reach the leaf at the next sync;
	// an unchanged list is revalidated with the ETag.
	etag, _ := models.ClusterVariablesETag(t.Context(), p.leaf.Server.DB())
	p.mustSync()
	if etag2, _ := models.ClusterVariablesETag(t.Context(), p.leaf.Server.DB()); etag == "" || etag2 != etag {
		t.Fatalf("revalidation changed the ETag: %q → %q", etag, etag2)
	}
	if res := p.admin.Do(http.MethodDelete, "/api/templatevars/"+ftoa(leafOnly), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete on origin: %d", res.StatusCode)
	}
	everywhere := variables(t, p.admin)["EVERYWHERE"][0].ID
	if res := p.admin.JSONRequest(http.MethodPut, "/api/templatevars/"+ftoa(everywhere), map[string]any{"restricted": true}); res.StatusCode != http.StatusOK {
		t.Fatalf("restrict on origin: %d", res.StatusCode)
	}
	p.mustSync()
	onLeaf = variables(t, c)
	for _, gone := range []string{"LEAF_ONLY", "EVERYWHERE"} {
		if _, ok := onLeaf[gone]; ok {
			t.Errorf("%s still on the leaf after the origin removed or restricted it", gone)
		}
	}
	if len(onLeaf["SECRET"]) != 1 || len(onLeaf["LEAF_LOCAL"]) != 1 {
		t.Fatalf("leaf lost variables it should keep: %v", onLeaf)
	}

	// The origin goes away: the cached variables stay, and the failure is
	// the status.
	p.origin.Stop()
	if err := p.sync(); err == nil {
		t.Fatal("sync with the origin down succeeded")
	}
	if st := p.status(); st.State != leaf.StateUnreachable {
		t.Fatalf("status with the origin down = %+v", st)
	}
	onLeaf = variables(t, c)
	if len(onLeaf["SECRET"]) != 1 || len(onLeaf["SHARED"]) != 2 {
		t.Fatalf("cached variables gone while the origin is down: %v", onLeaf)
	}
	res = c.Get("/api/templatevars/" + ftoa(sec.ID) + "?source=cluster&reveal=true")
	if !strings.Contains(res.Body, secret) {
		t.Fatal("the cached protected value cannot be revealed while the origin is down")
	}
}

// TestLeafVariablesEndpointIsGated: the origin's variables endpoint, which
// sends protected values in plain text, answers only an API token, keeps
// its answer out of caches, and revalidates with its ETag.
func TestLeafVariablesEndpointIsGated(t *testing.T) {
	p := startPair(t, pairOpts{})
	mkVar(t, p.admin, map[string]any{"name": "A", "value": "b"})
	anon := p.origin.Client()
	if res := anon.Get(leaf.PathTemplateVars); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("templatevars without a token = %d", res.StatusCode)
	}
	// A browser session is not a leaf: the endpoint wants the API token.
	if res := p.admin.Get(leaf.PathTemplateVars); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("templatevars with a session = %d", res.StatusCode)
	}
	res := anon.Get(leaf.PathTemplateVars, "Authorization: Bearer "+p.token)
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("templatevars with the token = %d etag %q cache %q", res.StatusCode, res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
	}
	if res := anon.Get(leaf.PathTemplateVars, "Authorization: Bearer "+p.token, "If-None-Match: "+res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation = %d, want 304", res.StatusCode)
	}
}

package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// startPreview makes a cast with variables of every kind and a template
// that refers to them, well and badly.
func startPreview(t *testing.T) (*cast, api.Template) {
	t.Helper()
	cs := startCast(t)
	createVariable(t, cs.admin, map[string]any{"name": "IMAGE", "value": "ubuntu:24.04"})
	createVariable(t, cs.admin, map[string]any{"name": "PASSWORD", "value": "pr3view-secret", "protected": true})
	createVariable(t, cs.admin, map[string]any{"name": "ELSEWHERE", "value": "other-zone-value", "zones": []string{"other-zone"}})
	createVariable(t, cs.admin, map[string]any{"name": "LOCAL_ONLY", "value": "restricted-but-here", "restricted": true})
	body := "image: ${{ .var.IMAGE }}\n" +
		"password: ${{.var.PASSWORD}}\n" +
		"other: ${{ .var.ELSEWHERE }}\n" +
		"missing: ${{ .var.NOPE }}\n" +
		"bad: ${{ .var.9x }}\n" +
		"open: ${{ .var.IMAGE\n" +
		"restricted: ${{ .var.LOCAL_ONLY }}\n" +
		"case: ${{ .var.image }}\n"
	return cs, createTemplate(t, cs.admin, map[string]any{"name": "Preview me", "body": body})
}

// previewAnswer is the API shape of a preview.
type previewAnswer struct {
	Body     string `json:"body"`
	Problems []struct {
		Line    int    `json:"line"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"problems"`
}

func TestTemplatePreviewFillsInThisZonesVariablesWithProtectedValuesMasked(t *testing.T) {
	cs, tpl := startPreview(t)
	// Anyone who can see the template may preview it.
	for _, c := range []*knottest.Client{cs.admin, cs.nobody} {
		res := c.Get(path("/api/templates/%d/preview", tpl.ID))
		wantStatus(t, res, http.StatusOK)
		wantNoBody(t, res, "pr3view-secret", "other-zone-value")
		var p previewAnswer
		res.JSON(t, &p)
		wantLines := []string{
			"image: ubuntu:24.04",
			"password: " + models.MaskedValue,
			"other: ${{ .var.ELSEWHERE }}",
			"missing: ${{ .var.NOPE }}",
			"bad: ${{ .var.9x }}",
			"open: ${{ .var.IMAGE",
			"restricted: restricted-but-here",
			"case: ${{ .var.image }}",
		}
		if got := strings.Split(strings.TrimSuffix(p.Body, "\n"), "\n"); !slices.Equal(got, wantLines) {
			t.Fatalf("preview body =\n%s\nwant\n%s", p.Body, strings.Join(wantLines, "\n"))
		}
		wantPreviewProblems(t, p)
	}
}

func wantPreviewProblems(t *testing.T, p previewAnswer) {
	t.Helper()
	type prob struct {
		line int
		name string
		msg  string
	}
	want := []prob{
		{3, "ELSEWHERE", `line 3: unknown variable "ELSEWHERE"`},
		{4, "NOPE", `line 4: unknown variable "NOPE"`},
		{5, "", `line 5: "9x" is not a valid variable name`},
		{6, "", "line 6: a reference opened with ${{ is not closed with }} on the same line"},
		{8, "image", `line 8: unknown variable "image"`},
	}
	if len(p.Problems) != len(want) {
		t.Fatalf("problems = %+v, want %d", p.Problems, len(want))
	}
	for i, w := range want {
		got := p.Problems[i]
		if got.Line != w.line || got.Name != w.name || !strings.HasPrefix(got.Message, w.msg) {
			t.Errorf("problem %d = %+v, want line %d name %q message %q", i, got, w.line, w.name, w.msg)
		}
	}
}

func TestTemplatePreviewPageNamesTheProblemsAndHidesWhatTheUserCannotSee(t *testing.T) {
	cs, tpl := startPreview(t)
	page := cs.nobody.Get(path("/templates/%d/preview", tpl.ID))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Preview: Preview me", "image: ubuntu:24.04", models.MaskedValue, "5 references could not be filled in",
		"line 4: unknown variable &#34;NOPE&#34;", "line 5: &#34;9x&#34; is not a valid variable name")
	wantNoBody(t, page, "pr3view-secret")
	wantBody(t, cs.nobody.Get("/templates"), path(`href="/templates/%d/preview"`, tpl.ID))

	// A template the user cannot see cannot be previewed; nothing is a 500.
	hidden := createTemplate(t, cs.admin, map[string]any{"name": "Hidden", "active": false, "body": "x"})
	wantStatus(t, cs.nobody.Get(path("/api/templates/%d/preview", hidden.ID)), http.StatusNotFound)
	wantStatus(t, cs.nobody.Get(path("/templates/%d/preview", hidden.ID)), http.StatusNotFound)
	wantStatus(t, cs.admin.Get(path("/api/templates/%d/preview", hidden.ID)), http.StatusOK)
	wantStatus(t, cs.nobody.Get("/api/templates/99999/preview"), http.StatusNotFound)
	wantStatus(t, cs.nobody.Get("/templates/abc/preview"), http.StatusNotFound)
	odd := createTemplate(t, cs.admin, map[string]any{"name": "Odd", "body": "${{ }}${{${{ .var. }} }}\n}}${{ .env.HOME }}${{"})
	res := cs.nobody.Get(path("/api/templates/%d/preview", odd.ID))
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "is not a variable reference", "is not closed")
}

package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

// FuzzBearerToken: whatever the Authorization header holds, only a token
// of the shape knot issues gets through to the database.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I=", "bearer  x", "Basic abc", "Bearer", "", "Bearer \x00", "BEARER dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I= extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := bearerToken(header)
		if ok && !models.WellFormedToken(tok) {
			t.Fatalf("bearerToken(%q) let %q through", header, tok)
		}
	})
}

// FuzzDecodeJSON: the shared JSON decoder (readJSON, answered by
// answerError) answers any body with a decoded
// value or a 400 with a JSON error, never a panic or a 5xx.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"name":null}`, `{"name":1}`, `[]`, `{"unknown":1}`, `{`, "", `{"name":"a"}{"name":"b"}`, "{\"name\":\"\x00\"}", `{"name":"\ud800"}`} {
		f.Add(s)
	}
	gin.SetMode(gin.ReleaseMode)
	h := &Handlers{}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/api/tokens", strings.NewReader(body))
		var v struct {
			Name string `json:"name"`
		}
		err := readJSON(c, &v, 64<<10)
		if err == nil {
			return
		}
		h.answerError(c, err)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("readJSON(%q) answered %d", body, w.Code)
		}
		if !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("readJSON(%q) answered without a JSON error: %s", body, w.Body.String())
		}
	})
}

package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
)

// maxJSONBytes bounds an API request body. Template bodies may be up to
// models.MaxTemplateBodyBytes, and JSON escaping can double their size.
const maxJSONBytes = 2*models.MaxTemplateBodyBytes + 64<<10

// overlay sets *dst to *src when the request carried the field (src is not
// nil): the partial update PUT bodies ask for.
func overlay[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// readJSON reads the request body (at most limit bytes) as one JSON
// object into v. Unknown fields, wrong types, trailing data and oversized
// bodies are refused with a 400 whose message names the problem.
func readJSON(c *gin.Context, v any, limit int64) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return badRequest(fmt.Sprintf("The request body is larger than %d KiB.", limit>>10))
	}
	if err != nil {
		return badRequest("The request body could not be read.")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badRequest("The request body is empty; send a JSON object.")
	}
	if trimmed[0] != '{' {
		return badRequest("The request body must be a JSON object, like {\"name\": \"…\"}.")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(jsonProblem(err))
	}
	if dec.More() {
		return badRequest("The request body holds more than one JSON value; send exactly one object.")
	}
	return nil
}

// jsonProblem describes a decoding error for the caller.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("The request body is not valid JSON (at byte %d): %v.", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return "The request body must be a JSON object."
		}
		return fmt.Sprintf("Field %q must be %s, not %s.", field, describeType(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body is not valid JSON: it ends too early."
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Sprintf("Unknown field %s.", name)
	}
	return "The request body is not valid JSON: " + msg + "."
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + "s"
	}
	return "a " + t.Kind().String()
}

// rfc3339 formats t in UTC as the API promises.
func rfc3339(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// rfc3339OrNull formats t, or gives nil (JSON null) when there is none.
func rfc3339OrNull(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

// nonNil is s, or an empty list where there is none: the API answers [] rather than null.
func nonNil[S ~[]E, E any](s S) []E {
	if s == nil {
		return []E{}
	}
	return s
}

// mapSlice applies to to each element's address.
func mapSlice[E, T any](list []E, to func(*E) T) []T {
	out := make([]T, len(list))
	for i := range list {
		out[i] = to(&list[i])
	}
	return out
}

// readOnlyFields are the fields of an API answer that a request body may
// carry back: taken and dropped, so that a script can send what it fetched.
type readOnlyFields struct {
	ID        json.RawMessage `json:"id"`
	Source    json.RawMessage `json:"source"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// whoAmIOf is an identity as the API and the leaf protocol send it.
func whoAmIOf(id *models.Identity) api.WhoAmI {
	return api.WhoAmI{ID: id.ID, Username: id.Username, Email: id.Email, Roles: id.Roles, Permissions: id.Permissions}
}

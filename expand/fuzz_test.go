package expand_test

import (
	"strings"
	"testing"

	"github.com/knot-dev/knot/expand"
)

// FuzzBodyWithVariables: expansion never panics, a body without references comes back
// unchanged, and every problem names a line of the body.
func FuzzBodyWithVariables(f *testing.F) {
	for _, s := range []string{"", "image: ${{ .var.IMAGE }}", "${{", "}}${{ .var. }}", "a\n${{ .var.X }}\n${{ .var.Y", "${{ .var.A }}${{ .var.A }}", "${{${{ .var.B }}}}"} {
		f.Add(s)
	}
	lookup := func(name string) (string, bool) {
		if name == "IMAGE" || name == "A" {
			return "value-of-" + name, true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, problems := expand.Body(body, lookup)
		if !strings.Contains(body, "${{") && out != body {
			t.Fatalf("a body without references changed: %q -> %q", body, out)
		}
		lines := strings.Count(body, "\n") + 1
		for _, p := range problems {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("problem on line %d of a %d-line body: %v", p.Line, lines, p)
			}
		}
	})
}

// Package expand fills a template body's variable references, written
// ${{ .var.NAME }}, and names every reference it cannot fill by line.
package expand

import (
	"fmt"
	"regexp"
	"strings"
)

// NameRE is what a variable name may look like.
var NameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Problem is one reference that could not be filled.
type Problem struct {
	Line int
	// Name is the variable's name; empty for a malformed reference.
	Name    string
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Lookup returns a variable's value, or false when there is none.
type Lookup func(name string) (string, bool)

const open, close = "${{", "}}"

// Body replaces each ${{ .var.NAME }} in body with its value. References
// that are unknown or malformed stay as written and are reported, in order.
func Body(body string, lookup Lookup) (string, []Problem) {
	var out strings.Builder
	var problems []Problem
	line := 1
	rest := body
	for {
		i := strings.Index(rest, open)
		if i < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:i])
		line += strings.Count(rest[:i], "\n")
		rest = rest[i:]
		j := strings.Index(rest, close)
		nl := strings.IndexByte(rest, '\n')
		if j < 0 || (nl >= 0 && nl < j) {
			problems = append(problems, Problem{Line: line, Message: "a reference opened with ${{ is not closed with }} on the same line"})
			out.WriteString(open)
			rest = rest[len(open):]
			continue
		}
		ref := rest[:j+len(close)]
		inner := strings.TrimSpace(rest[len(open):j])
		rest = rest[j+len(close):]
		name, ok := strings.CutPrefix(inner, ".var.")
		switch {
		case !ok:
			problems = append(problems, Problem{Line: line, Message: fmt.Sprintf("%q is not a variable reference; write ${{ .var.NAME }}", ref)})
			out.WriteString(ref)
		case !NameRE.MatchString(name):
			problems = append(problems, Problem{Line: line, Message: fmt.Sprintf("%q is not a valid variable name (letters, digits and _, not starting with a digit)", name)})
			out.WriteString(ref)
		default:
			v, found := lookup(name)
			if !found {
				problems = append(problems, Problem{Line: line, Name: name, Message: fmt.Sprintf("unknown variable %q", name)})
				out.WriteString(ref)
				continue
			}
			out.WriteString(v)
		}
	}
	return out.String(), problems
}

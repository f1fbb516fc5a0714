package expand

import (
	"reflect"
	"testing"
)

func TestBody(t *testing.T) {
	vars := map[string]string{"IMAGE": "golang:1.26", "region": "eu", "_x1": "ok", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	cases := []struct {
		name     string
		in, want string
		problems []Problem
	}{
		{"no references", "image: plain\n", "image: plain\n", nil},
		{"one", "image: ${{ .var.IMAGE }}", "image: golang:1.26", nil},
		{"tight spacing", "${{.var.region}}-${{   .var.region   }}", "eu-eu", nil},
		{"empty value", "a${{ .var.EMPTY }}b", "ab", nil},
		{"underscore name", "${{ .var._x1 }}", "ok", nil},
		{"unknown", "l1\nl2 ${{ .var.NOPE }}\n", "l1\nl2 ${{ .var.NOPE }}\n",
			[]Problem{{Line: 2, Name: "NOPE", Message: `unknown variable "NOPE"`}}},
		{"unclosed", "x\n${{ .var.IMAGE\ny ${{ .var.IMAGE }}", "x\n${{ .var.IMAGE\ny golang:1.26",
			[]Problem{{Line: 2, Message: "a reference opened with ${{ is not closed with }} on the same line"}}},
		{"other namespace", "${{ .user.name }}", "${{ .user.name }}",
			[]Problem{{Line: 1, Message: `"${{ .user.name }}" is not a variable reference; write ${{ .var.NAME }}`}}},
		{"bad name", "${{ .var.9lives }}", "${{ .var.9lives }}",
			[]Problem{{Line: 1, Message: `"9lives" is not a valid variable name (letters, digits and _, not starting with a digit)`}}},
		{"empty reference", "${{}}", "${{}}",
			[]Problem{{Line: 1, Message: `"${{}}" is not a variable reference; write ${{ .var.NAME }}`}}},
		{"values are not re-expanded", "${{ .var.LOOP }}", "${{ .var.NOPE }}", nil},
		{"unicode around", "é ${{ .var.region }} ü", "é eu ü", nil},
		{"line counting", "a\nb\nc ${{ .var.X1 }}\nd ${{ .var.X2 }}", "a\nb\nc ${{ .var.X1 }}\nd ${{ .var.X2 }}",
			[]Problem{{Line: 3, Name: "X1", Message: `unknown variable "X1"`}, {Line: 4, Name: "X2", Message: `unknown variable "X2"`}}},
	}
	vars["LOOP"] = "${{ .var.NOPE }}"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := Body(tc.in, lookup)
			if got != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(problems, tc.problems) {
				t.Errorf("problems = %#v, want %#v", problems, tc.problems)
			}
		})
	}
}

func FuzzBody(f *testing.F) {
	for _, s := range []string{"${{ .var.A }}", "${{", "}}${{", "${{ .var.A\n}}", "x${{.var.B}}y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, _ := Body(in, func(string) (string, bool) { return "", false })
		// With no variables known nothing may be replaced or lost.
		if out != in {
			t.Fatalf("Body changed %q into %q with no variables", in, out)
		}
	})
}

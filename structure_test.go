package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines bounds a hand-written function in the packages a newcomer
// reads first: a handler reads decode → call the model → respond, and a
// model function one query or one transaction; anything longer wants
// named steps.
const maxFuncLines = 60

// TestNoFunctionInHandlersOrModelsIsLongerThanSixtyLines keeps handlers/
// and models/ (tests included, generated templ code excluded) in small,
// named steps.
func TestNoFunctionInHandlersOrModelsIsLongerThanSixtyLines(t *testing.T) {
	for _, dir := range []string{"handlers", "models"} {
		eachFunc(t, dir, func(pos, end token.Position, name string) {
			if n := end.Line - pos.Line + 1; n > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines; split it into named steps (at most %d)", pos.Filename, pos.Line, name, n, maxFuncLines)
			}
		})
	}
}

// TestHandlersHaveNoAPITwins keeps one handler per action: the page route
// and the API route of a resource call the same function (bind reads a
// form or a JSON body, the responders answer either), so a handler named
// api… is a copy waiting to drift.
func TestHandlersHaveNoAPITwins(t *testing.T) {
	eachFunc(t, "handlers", func(pos, _ token.Position, name string) {
		if !strings.HasSuffix(pos.Filename, "_test.go") && strings.HasPrefix(name, "api") && len(name) > 3 && name[3] >= 'A' && name[3] <= 'Z' {
			t.Errorf("%s:%d: %s: serve the API from the page's handler instead (see handlers/respond.go)", pos.Filename, pos.Line, name)
		}
	})
}

// eachFunc calls fn for every function declaration and function literal
// in the hand-written Go files of dir.
func eachFunc(t *testing.T, dir string, fn func(pos, end token.Position, name string)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_templ.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncDecl:
				if x.Body != nil {
					fn(fset.Position(x.Pos()), fset.Position(x.Body.Rbrace), x.Name.Name)
				}
			case *ast.FuncLit:
				fn(fset.Position(x.Pos()), fset.Position(x.Body.Rbrace), "a function literal")
			}
			return true
		})
	}
}

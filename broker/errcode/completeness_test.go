package errcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/strata-io/strata"

// ErrorPackages are the packages whose exported errors can reach a client through the
// broker, relative to the module root. Every exported error in them needs a row in
// the table. A package that starts to surface errors is one more line here.
var ErrorPackages = []string{
	"broker/service",
	"broker/resources",
	"broker/managedledger",
	"broker/managedledger/cursor",
	"broker/ownership",
	"broker/topic",
	"metadata",
}

// TestEveryErrorHasARow fails when an exported error of ErrorPackages has no row.
func TestEveryErrorHasARow(t *testing.T) {
	refs := tableRefs(t, "errcode.go")
	for _, dir := range ErrorPackages {
		errs := exportedErrors(t, filepath.Join("..", "..", dir))
		if len(errs) == 0 {
			t.Errorf("%s: no exported errors found; is the entry in ErrorPackages stale?", dir)
		}
		for _, name := range missing(module+"/"+dir, errs, refs) {
			t.Errorf("%s.%s has no row in the error table (errcode.go)", dir, name)
		}
	}
}

// TestCompletenessCheckerFindsUnlisted runs the checker on testdata/unlisted, whose
// table would know ErrListed and ListedError only: the unlisted exported errors, and
// nothing else, must be reported.
func TestCompletenessCheckerFindsUnlisted(t *testing.T) {
	const path = "example.com/unlisted"
	errs := exportedErrors(t, filepath.Join("testdata", "unlisted"))
	slices.Sort(errs)
	if want := []string{"ErrAlone", "ErrListed", "ErrUnlisted", "ListedError", "UnlistedError"}; !slices.Equal(errs, want) {
		t.Fatalf("exported errors of testdata/unlisted = %v, want %v", errs, want)
	}
	refs := map[string]bool{path + ".ErrListed": true, path + ".ListedError": true}
	got := missing(path, errs, refs)
	slices.Sort(got)
	if want := []string{"ErrAlone", "ErrUnlisted", "UnlistedError"}; !slices.Equal(got, want) {
		t.Fatalf("missing = %v, want %v", got, want)
	}
}

// missing returns the errs of package path that refs does not name.
func missing(path string, errs []string, refs map[string]bool) []string {
	var out []string
	for _, e := range errs {
		if !refs[path+"."+e] {
			out = append(out, e)
		}
	}
	return out
}

// exportedErrors parses the package in dir (without its tests) and returns its exported
// errors: package-level variables initialised with errors.New or fmt.Errorf, and types
// with an `Error() string` method.
func exportedErrors(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, ent := range ents {
		n := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, s := range d.Specs {
					vs := s.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if name.IsExported() && i < len(vs.Values) && isErrorConstructor(vs.Values[i]) {
							out = append(out, name.Name)
						}
					}
				}
			case *ast.FuncDecl:
				if recv := receiverType(d); recv != "" && ast.IsExported(recv) && isErrorMethod(d) {
					out = append(out, recv)
				}
			}
		}
	}
	return out
}

// isErrorConstructor: e is a call of errors.New or fmt.Errorf.
func isErrorConstructor(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}

// receiverType is the name of a method's receiver type, "" for a function.
func receiverType(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) != 1 {
		return ""
	}
	typ := d.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// isErrorMethod: d is `Error() string`.
func isErrorMethod(d *ast.FuncDecl) bool {
	ft := d.Type
	if d.Name.Name != "Error" || ft.Params.NumFields() != 0 || ft.Results.NumFields() != 1 {
		return false
	}
	id, ok := ft.Results.List[0].Type.(*ast.Ident)
	return ok && id.Name == "string"
}

// tableRefs returns every "importpath.Name" the code of file refers to: the errors the
// table has rows for (comments do not count).
func tableRefs(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{} // local name → path
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = p
	}
	refs := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] != "" {
				refs[imports[id.Name]+"."+sel.Sel.Name] = true
			}
		}
		return true
	})
	return refs
}

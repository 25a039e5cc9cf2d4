package tiered

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportRule keeps tiered/... a leaf: of Strata's packages it may import only proto/...,
// and internal/testenv from tests and from test-helper packages (names ending in "test").
func TestImportRule(t *testing.T) {
	const module = "github.com/strata-io/strata/"
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		testCode := strings.HasSuffix(path, "_test.go") || strings.HasSuffix(f.Name.Name, "test")
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ours := strings.CutPrefix(p, module)
			switch {
			case !ours:
			case rest == "tiered" || strings.HasPrefix(rest, "tiered/"):
			case rest == "proto" || strings.HasPrefix(rest, "proto/"):
			case rest == "internal/testenv" && testCode:
			default:
				t.Errorf("%s imports %s: tiered/... may import only proto/... (and internal/testenv in tests)", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("walked only %d Go files; is the test running in tiered/?", files)
	}
}

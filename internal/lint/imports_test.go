// Package lint holds tests about the tree itself rather than about behaviour.
//
// TestImportRules keeps the layering of docs/architecture.md ("Layers and import rules")
// true: each rule names which of our packages a group of packages may not import. It
// reads the import graph with `go list`, so it sees exactly what the compiler sees.
package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/strata-io/strata"

// pkg is what `go list -json` says of one package, as far as the rules need it.
type pkg struct {
	ImportPath   string
	Imports      []string // of the non-test files
	TestImports  []string // of the in-package test files
	XTestImports []string // of the _test package's files
}

// rule: a package matching from may not import a package matching to, unless allowed
// says it may. Paths are module-relative; "x/..." matches x and everything below it.
type rule struct {
	why      string
	from, to string
	// tests: the rule binds test files too (otherwise only the non-test imports).
	tests bool
	// allowed lists imported packages exempt from the rule; exempt lists importing
	// packages the rule does not bind.
	allowed, exempt []string
}

var rules = []rule{
	{why: "metadata is the bottom layer: it imports nothing of ours", from: "metadata/...", to: "...",
		allowed: []string{"metadata/...", "internal/testenv"}, tests: true},
	{why: "proto is generated code and imports nothing of ours", from: "proto/...", to: "...",
		allowed: []string{"proto/..."}, tests: true},
	{why: "internal/testenv serves every package, so it imports none", from: "internal/testenv", to: "...", tests: true},
	{why: "the storage node never depends on the broker", from: "bookie/...", to: "broker/...", tests: true},
	{why: "tiered storage is a leaf: it imports nothing of ours but proto", from: "tiered/...", to: "...",
		allowed: []string{"tiered/...", "proto/...", "internal/testenv"}, tests: true},
	{why: "only the binary (and tests) assemble a broker", from: "...", to: "broker",
		exempt: []string{"cmd/..."}},
	{why: "the admin REST reads bookie state; it never links the auto-recovery worker", from: "broker/admin/...",
		to: "bookie/autorecovery/...", tests: true},
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages; is the test run inside the module?", len(pkgs))
	}
	for _, v := range violations(pkgs, rules) {
		t.Error(v)
	}
}

// TestImportRulesCatch proves the checker is not vacuous: a forbidden import in a made-up
// graph is reported, an allowed one is not.
func TestImportRulesCatch(t *testing.T) {
	pkgs := []pkg{
		{ImportPath: module + "/bookie/store", Imports: []string{module + "/broker/service", "fmt"}},
		{ImportPath: module + "/metadata", Imports: []string{"go.etcd.io/etcd/client/v3"},
			TestImports: []string{module + "/internal/testenv"}},
		{ImportPath: module + "/broker/admin", Imports: []string{module + "/broker"},
			XTestImports: []string{module + "/bookie/autorecovery"}},
		{ImportPath: module + "/cmd/strata", Imports: []string{module + "/broker"}},
		{ImportPath: module + "/broker/server_test", TestImports: []string{module + "/broker"}},
	}
	got := violations(pkgs, rules)
	want := []string{
		"bookie/store imports broker/service",
		"broker/admin imports broker",
		"broker/admin imports bookie/autorecovery",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+":") {
			t.Errorf("violation %d = %q, want %q", i, got[i], w)
		}
	}
}

func violations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, p := range pkgs {
		from, ok := ours(p.ImportPath)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !match(r.from, from) || slices.ContainsFunc(r.exempt, func(e string) bool { return match(e, from) }) {
				continue
			}
			imports := p.Imports
			if r.tests {
				imports = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
			}
			seen := map[string]bool{}
			for _, imp := range imports {
				to, ok := ours(imp)
				if !ok || seen[to] || !match(r.to, to) || to == from {
					continue
				}
				if slices.ContainsFunc(r.allowed, func(a string) bool { return match(a, to) }) {
					continue
				}
				seen[to] = true
				out = append(out, from+" imports "+to+": "+r.why)
			}
		}
	}
	return out
}

// ours returns path relative to the module, and whether it is in the module.
func ours(path string) (string, bool) {
	path = strings.TrimSuffix(path, "_test") // an external test package
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// match reports whether the module-relative path matches pattern: "..." is everything,
// "x/..." is x and below, anything else is exact.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	touchSources(t)
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// touchSources reads every Go file of the module. go test caches a passing result keyed
// on the files the test opened; `go list` runs in another process, so without this a
// new forbidden import would be answered from the cache.
func touchSources(t *testing.T) {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	err = filepath.WalkDir(strings.TrimSpace(string(root)), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("reading the sources: %v", err)
	}
}

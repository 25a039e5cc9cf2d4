package s3test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoBin: the install directory is GOBIN when set, else the first GOPATH entry's bin.
func TestGoBin(t *testing.T) {
	t.Setenv("GOBIN", "")
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	gopath, _, _ := strings.Cut(strings.TrimSpace(string(out)), string(filepath.ListSeparator))
	if got, err := goBin(); err != nil || got != filepath.Join(gopath, "bin") {
		t.Fatalf("goBin() = %q, %v; want %q", got, err, filepath.Join(gopath, "bin"))
	}
	dir := t.TempDir()
	t.Setenv("GOBIN", dir)
	if got, err := goBin(); err != nil || got != dir {
		t.Fatalf("with GOBIN=%s: goBin() = %q, %v", dir, got, err)
	}
}

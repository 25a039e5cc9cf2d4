package s3test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
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

// TestRestart: a stopped server refuses requests, and once restarted it answers on the
// same endpoint with the objects it held, byte for byte.
func TestRestart(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	srv := Start(t, false)
	st := srv.Store(t, ctx, 0, 0)
	want := []byte("kept across an outage")
	if err := st.Put(ctx, "a/b", bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	endpoint := srv.Endpoint
	srv.Stop()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := st.GetRange(dctx, "a/b", 0, int64(len(want))); err == nil {
		t.Fatal("GetRange on a stopped server succeeded")
	}
	srv.Restart(t)
	if srv.Endpoint != endpoint {
		t.Fatalf("endpoint moved from %s to %s", endpoint, srv.Endpoint)
	}
	got, err := st.GetRange(ctx, "a/b", 0, int64(len(want)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after restart: GetRange = %q, %v; want %q", got, err, want)
	}
}

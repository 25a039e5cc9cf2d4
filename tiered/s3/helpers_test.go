package s3_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	tiereds3 "github.com/strata-io/strata/tiered/s3"
)

func writeServerCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	der := srv.Certificate().Raw
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headETag(t *testing.T, ctx context.Context, st *tiereds3.Store, key string) string {
	t.Helper()
	etag, err := st.ETag(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return etag
}

package fs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/tieredtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	tieredtest.Run(t, func(t *testing.T) tiered.ObjectStore {
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, tieredtest.Options{})
}

// TestLayout pins what an operator sees on disk: objects as plain files named by key, and
// a crashed upload's temporary file gone after a restart, never visible as an object.
func TestLayout(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "ml/ledger-7", bytes.NewReader([]byte("seven"))); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "objects", "ml", "ledger-7"))
	if err != nil || string(b) != "seven" {
		t.Fatalf("objects/ml/ledger-7 = %q, %v", b, err)
	}
	left := filepath.Join(dir, "tmp", "put-crashed")
	if err := os.WriteFile(left, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover upload after New: %v", err)
	}
	n := 0
	for info, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if info.Key != "ml/ledger-7" {
			t.Fatalf("listed %q", info.Key)
		}
	}
	if n != 1 {
		t.Fatalf("listed %d objects, want 1", n)
	}
}

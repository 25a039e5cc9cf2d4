package memstore

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/tieredtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	tieredtest.Run(t, func(*testing.T) tiered.ObjectStore { return New() }, tieredtest.Options{})
}

func TestCorrupt(t *testing.T) {
	ctx := context.Background()
	s := New()
	if err := s.Put(ctx, "k", bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetRange(ctx, "k", 0, 3)
	if err := s.Corrupt("k", 1, 0x01); err != nil {
		t.Fatal(err)
	}
	again, _ := s.GetRange(ctx, "k", 0, 3)
	if string(got) != "abc" || string(again) != "acc" {
		t.Fatalf("before %q after %q, want abc then acc (earlier reads untouched)", got, again)
	}
	if err := s.Corrupt("k", 3, 1); !errors.Is(err, tiered.ErrInvalidRange) {
		t.Fatalf("Corrupt past the end = %v", err)
	}
}

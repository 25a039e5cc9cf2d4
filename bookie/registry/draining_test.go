package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// Draining marks: only for a bookie with a cookie, idempotent, reported by Available,
// excluded from Writable (with read-only bookies), removed by ClearDraining.
func TestDraining(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	st, _ := metadatatest.Store(t, "/regtest")
	reg := registry.New(st)
	lease, err := st.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Revoke(context.Background())
	for _, in := range []registry.Info{{ID: "b1"}, {ID: "b2"}, {ID: "b3", ReadOnly: true}} {
		if _, err := st.Put(ctx, st.Keys.Cookie(in.ID), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(ctx, in, lease); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if err := reg.SetDraining(ctx, bad); err == nil {
			t.Fatalf("draining %q accepted", bad)
		}
	}
	if err := reg.SetDraining(ctx, "ghost"); !errors.Is(err, registry.ErrUnknownBookie) {
		t.Fatalf("draining a bookie without a cookie: %v", err)
	}
	if err := reg.SetDraining(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	first, err := reg.Draining(ctx)
	if err != nil || len(first) != 1 || first["b1"].SinceUnixMillis == 0 {
		t.Fatalf("draining marks: %v, %v", first, err)
	}
	if err := reg.SetDraining(ctx, "b1"); err != nil {
		t.Fatalf("marking again: %v", err)
	}
	if again, _ := reg.Draining(ctx); again["b1"] != first["b1"] {
		t.Fatalf("marking again moved the mark: %v then %v", first, again)
	}
	all, err := reg.Available(ctx)
	if err != nil || len(all) != 3 || !all[0].Draining || all[1].Draining || all[2].Draining || !all[2].ReadOnly {
		t.Fatalf("available: %+v, %v", all, err)
	}
	w, err := reg.Writable(ctx)
	if err != nil || len(w) != 1 || w[0].ID != "b2" {
		t.Fatalf("writable with b1 draining and b3 read-only: %+v, %v", w, err)
	}
	if err := reg.ClearDraining(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if w, err := reg.Writable(ctx); err != nil || len(w) != 2 {
		t.Fatalf("writable after the cancel: %+v, %v", w, err)
	}
}

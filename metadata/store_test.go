package metadata_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCreateCASDelete(t *testing.T) {
	s, _ := metadatatest.Store(t, "")
	ctx := testCtx(t)
	k := s.Keys.Ledger(42)
	if k != "/strata/ledgers/0000000000000000042" {
		t.Fatalf("ledger key layout changed: %s", k)
	}
	rev, err := s.Create(ctx, k, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, k, []byte("again")); !errors.Is(err, metadata.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	rev2, err := s.CAS(ctx, k, []byte("v2"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CAS(ctx, k, []byte("stale"), rev); !errors.Is(err, metadata.ErrRevisionMismatch) {
		t.Fatalf("stale cas: got %v, want ErrRevisionMismatch", err)
	}
	v, err := s.Get(ctx, k)
	if err != nil || string(v.Data) != "v2" || v.ModRevision != rev2 {
		t.Fatalf("get after cas: %+v %v", v, err)
	}
	if err := s.Delete(ctx, k, rev); !errors.Is(err, metadata.ErrRevisionMismatch) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.Delete(ctx, k, rev2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	id, err := s.Keys.LedgerIDFromKey(k)
	if err != nil || id != 42 {
		t.Fatalf("LedgerIDFromKey: %d %v", id, err)
	}
}

func TestNextIDUniqueAndIncreasing(t *testing.T) {
	s, _ := metadatatest.Store(t, "/t1")
	ctx := testCtx(t)
	var last int64
	seen := map[int64]bool{}
	for i := 0; i < 50; i++ {
		name := "ledgers"
		if i%2 == 1 {
			name = "other"
		}
		id, err := s.NextID(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if id <= last || seen[id] {
			t.Fatalf("id %d after %d", id, last)
		}
		seen[id], last = true, id
	}
}

func TestLeaseKeysVanishOnRevoke(t *testing.T) {
	s, _ := metadatatest.Store(t, "")
	ctx := testCtx(t)
	l, err := s.GrantLease(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	k := s.Keys.BookieAvailable("b1", false)
	if _, err := s.Create(ctx, k, []byte("x"), metadata.WithLease(l)); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(l.Deadline()); d <= 0 || d > 2*time.Second {
		t.Fatalf("deadline %v from now", d)
	}
	if err := l.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("leased key after revoke: %v", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after revoke")
	}
}

func TestWatchResumesAndResetsAfterCompaction(t *testing.T) {
	s, _ := metadatatest.Store(t, "")
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	p := s.Keys.E2E("w") + "/"
	if _, err := s.Put(ctx, p+"a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	vals, rev, err := s.List(ctx, p)
	if err != nil || len(vals) != 1 {
		t.Fatalf("list: %v %v", vals, err)
	}
	ch := s.Watch(ctx, p, rev+1)
	if _, err := s.Put(ctx, p+"b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, p+"a", -1); err != nil {
		t.Fatal(err)
	}
	ev := <-ch
	if ev.Type != metadata.EventPut || ev.Value.Key != p+"b" {
		t.Fatalf("first event %+v", ev)
	}
	ev = <-ch
	if ev.Type != metadata.EventDelete || ev.Value.Key != p+"a" {
		t.Fatalf("second event %+v", ev)
	}

	// A watcher starting from compacted history gets a full snapshot instead.
	r, err := s.Put(ctx, p+"c", []byte("3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Compact(ctx, r, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	ch2 := s.Watch(ctx, p, rev+1)
	ev = <-ch2
	if ev.Type != metadata.EventReset || len(ev.Snapshot) != 2 {
		t.Fatalf("want reset with 2 keys, got %+v", ev)
	}
	if _, err := s.Put(ctx, p+"d", []byte("4")); err != nil {
		t.Fatal(err)
	}
	ev = <-ch2
	if ev.Type != metadata.EventPut || ev.Value.Key != p+"d" {
		t.Fatalf("after reset %+v", ev)
	}
}

// A lease's local deadline is measured on its clock: granted at the clock's now, it
// expires exactly when that clock has moved by the TTL.
func TestLeaseDeadlineOnInjectedClock(t *testing.T) {
	s, _ := metadatatest.Store(t, "")
	clock := metadatatest.NewManualClock()
	start := clock.Now()
	l, err := s.GrantLease(testCtx(t), 30*time.Second, metadata.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	if got := l.Deadline(); !got.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("deadline %v, want grant time + TTL %v", got, start.Add(30*time.Second))
	}
	clock.Advance(29 * time.Second)
	if l.Expired() || l.Remaining() != time.Second {
		t.Fatalf("after 29 s: expired %v, remaining %v", l.Expired(), l.Remaining())
	}
	clock.Advance(time.Second)
	if !l.Expired() || l.Remaining() != 0 {
		t.Fatalf("after 30 s: expired %v, remaining %v", l.Expired(), l.Remaining())
	}
}

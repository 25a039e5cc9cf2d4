package metadata_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// cuttableWatcher wraps etcd's Watcher so a test can break the watch stream and hold
// off the next one: a fault through a seam, as a lost connection would do it.
type cuttableWatcher struct {
	clientv3.Watcher

	mu      sync.Mutex
	gate    chan struct{} // Watch waits until it is closed
	cancels []context.CancelFunc
}

func newCuttableWatcher(w clientv3.Watcher) *cuttableWatcher {
	g := make(chan struct{})
	close(g)
	return &cuttableWatcher{Watcher: w, gate: g}
}

func (c *cuttableWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
	}
	wctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancels = append(c.cancels, cancel)
	c.mu.Unlock()
	return c.Watcher.Watch(wctx, key, opts...)
}

// cut ends every watch stream and makes new ones wait for resume.
func (c *cuttableWatcher) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gate = make(chan struct{})
	for _, cancel := range c.cancels {
		cancel()
	}
	c.cancels = nil
}

func (c *cuttableWatcher) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.gate)
}

func next(t *testing.T, ch <-chan metadata.WatchEvent) metadata.WatchEvent {
	t.Helper()
	ev, ok := <-ch
	if !ok {
		t.Fatal("watch channel closed early")
	}
	return ev
}

func keysOf(vals []metadata.Value) []string {
	var out []string
	for _, v := range vals {
		out = append(out, v.Key)
	}
	slices.Sort(out)
	return out
}

// TestListWatch follows a prefix through a listing, live events, a broken watch that
// resumes, and a broken watch whose history was compacted meanwhile (re-list).
func TestListWatch(t *testing.T) {
	s, _ := metadatatest.Store(t, "")
	cw := newCuttableWatcher(s.Client().Watcher)
	s.Client().Watcher = cw
	ctx, cancel := context.WithCancel(testCtx(t))
	p := s.Keys.E2E("lw") + "/"
	put := func(k, v string) int64 {
		t.Helper()
		rev, err := s.Put(ctx, p+k, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	del := func(k string) {
		t.Helper()
		if err := s.Delete(ctx, p+k, -1); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "1")
	if _, err := s.Put(ctx, s.Keys.E2E("outside"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ch := s.ListWatch(ctx, p)

	// 1. The listing comes first, as a snapshot.
	ev := next(t, ch)
	if ev.Type != metadata.EventReset || !slices.Equal(keysOf(ev.Snapshot), []string{p + "a"}) {
		t.Fatalf("first event: %+v, want a reset listing %sa", ev, p)
	}

	// 2. Then changes, in order.
	put("b", "2")
	del("a")
	if ev := next(t, ch); ev.Type != metadata.EventPut || ev.Value.Key != p+"b" || string(ev.Value.Data) != "2" {
		t.Fatalf("want put b, got %+v", ev)
	}
	if ev := next(t, ch); ev.Type != metadata.EventDelete || ev.Value.Key != p+"a" {
		t.Fatalf("want delete a, got %+v", ev)
	}

	// 3. A broken watch resumes after the last event: nothing is missed or repeated.
	cw.cut()
	put("c", "3")
	cw.resume()
	if ev := next(t, ch); ev.Type != metadata.EventPut || ev.Value.Key != p+"c" {
		t.Fatalf("after resume: want put c, got %+v", ev)
	}

	// 4. A broken watch whose history is compacted before it resumes re-lists.
	cw.cut()
	put("d", "4")
	del("b")
	r := put("e", "5")
	if _, err := s.Client().Compact(ctx, r, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	cw.resume()
	ev = next(t, ch)
	if ev.Type != metadata.EventReset || ev.Revision < r {
		t.Fatalf("after compaction: want a reset at revision >= %d, got %+v", r, ev)
	}
	if got, want := keysOf(ev.Snapshot), []string{p + "c", p + "d", p + "e"}; !slices.Equal(got, want) {
		t.Fatalf("reset snapshot %v, want %v", got, want)
	}

	// 5. And carries on from the new listing.
	put("f", "6")
	if ev := next(t, ch); ev.Type != metadata.EventPut || ev.Value.Key != p+"f" {
		t.Fatalf("after re-list: want put f, got %+v", ev)
	}

	// 6. Ending ctx closes the channel.
	cancel()
	for range ch {
	}
}

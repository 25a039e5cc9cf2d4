package managedledger

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestPacer: the copy throttle lets bytes through at its rate, shared by its callers,
// and gives up with the caller's context. Time is synctest's.
func TestPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pacer{rate: 1000}
		start := time.Now()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range 4 {
					if err := p.wait(context.Background(), 250); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		// 2000 bytes at 1000 B/s: the last 250 may go after 1.75 s.
		if d := time.Since(start); d != 1750*time.Millisecond {
			t.Fatalf("2000 bytes took %s at 1000 B/s, want 1.75s", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		p.wait(ctx, 5000) // reserves 5 s ahead
		if err := p.wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait past the context's deadline: %v", err)
		}
		if err := (&pacer{}).wait(context.Background(), 1<<30); err != nil {
			t.Fatalf("unlimited pacer: %v", err)
		}
	})
}

// TestBlockCache: blocks are kept up to the byte bound, least recently used out first;
// concurrent gets of one block share one fetch; a failed fetch is not cached; dropKey
// forgets an object's blocks.
func TestBlockCache(t *testing.T) {
	c := newBlockCache(300)
	ctx := context.Background()
	var fetches atomic.Int64
	fetch := func(n int) func(context.Context) ([]byte, error) {
		return func(context.Context) ([]byte, error) {
			fetches.Add(1)
			return make([]byte, n), nil
		}
	}
	for b := range 3 {
		if _, err := c.get(ctx, blockKey{"k", b}, fetch(100)); err != nil {
			t.Fatal(err)
		}
	}
	c.get(ctx, blockKey{"k", 0}, fetch(100)) // 0 is now the most recent; 1 the least
	c.get(ctx, blockKey{"k", 3}, fetch(100)) // evicts 1
	if fetches.Load() != 4 || c.has(blockKey{"k", 1}) || !c.has(blockKey{"k", 0}) || c.used != 300 {
		t.Fatalf("after eviction: %d fetches, used %d, has 1: %t", fetches.Load(), c.used, c.has(blockKey{"k", 1}))
	}
	if _, err := c.get(ctx, blockKey{"big", 0}, fetch(301)); err != nil || c.has(blockKey{"big", 0}) {
		t.Fatalf("a block over the bound was cached (err %v)", err)
	}
	boom := errors.New("boom")
	if _, err := c.get(ctx, blockKey{"bad", 0}, func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) || c.has(blockKey{"bad", 0}) {
		t.Fatalf("failed fetch: %v, cached %t", err, c.has(blockKey{"bad", 0}))
	}
	c.dropKey("k")
	if c.used != 0 || len(c.blocks) != 0 || c.lru.Len() != 0 {
		t.Fatalf("after dropKey: used %d, %d blocks", c.used, len(c.blocks))
	}

	// Singleflight: the first get fetches; the others wait for it.
	release := make(chan struct{})
	started := make(chan struct{})
	fetches.Store(0)
	slow := func(context.Context) ([]byte, error) {
		fetches.Add(1)
		close(started)
		<-release
		return []byte("block"), nil
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if b, err := c.get(ctx, blockKey{"s", 0}, slow); err != nil || string(b) != "block" {
			t.Errorf("leader: %q %v", b, err)
		}
	})
	<-started
	for range 3 {
		wg.Go(func() {
			if b, err := c.get(ctx, blockKey{"s", 0}, slow); err != nil || string(b) != "block" {
				t.Errorf("follower: %q %v", b, err)
			}
		})
	}
	// A waiter whose context ends gives up without the block.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.get(cctx, blockKey{"s", 0}, slow); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiter: %v", err)
	}
	close(release)
	wg.Wait()
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches of one block", fetches.Load())
	}
}

package e2e

import (
	"context"
	"sync"
	"testing"
)

// counter is a count that test goroutines wait on (messages acknowledged, delivered):
// every add wakes every waiter, so a wait is for the event itself, never for time. The
// zero value is ready to use.
type counter struct {
	mu sync.Mutex
	n  int64
	// changed is closed, and replaced, by the next add.
	changed chan struct{}
}

func (c *counter) add(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

func (c *counter) load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// next returns the count and a channel closed at the next add.
func (c *counter) next() (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.n, c.changed
}

// waitFor blocks until the count is at least n; it fails the test when ctx ends first.
func (c *counter) waitFor(ctx context.Context, t *testing.T, n int64, what string) {
	t.Helper()
	for {
		got, changed := c.next()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("only %d of %d %s: %v", got, n, what, ctx.Err())
		}
	}
}

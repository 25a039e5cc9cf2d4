package service

import (
	"context"
	"sync"
)

// goroutines are the background goroutines of one owner (the Service, a Topic): each
// runs under the owner's context, and the owner's Close cancels that context and waits
// for every one of them. Nothing outlives its owner.
//
// Go after Stop runs nothing: the owner is closing, and whatever the goroutine would
// have done (close a topic, write a snapshot) the owner's Close does or makes moot.
type goroutines struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool // Invariant: once set, wg only counts down.
	wg      sync.WaitGroup
}

func newGoroutines(parent context.Context) *goroutines {
	ctx, cancel := context.WithCancel(parent)
	return &goroutines{ctx: ctx, cancel: cancel}
}

// Go runs f on a goroutine of its own with the owner's context; false if the owner
// stopped (f does not run).
func (g *goroutines) Go(f func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
	return true
}

// Stop cancels the context and waits for every goroutine started by Go.
func (g *goroutines) Stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

package ledger

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/strata-io/strata/bookie/registry"
	"google.golang.org/grpc/resolver"
)

// resolverScheme names bookies by id in gRPC targets: "strata-bookie:///<bookie id>".
const resolverScheme = "strata-bookie"

// bookieResolverBuilder resolves bookie ids to addresses through the registry in etcd.
// The address last pushed to a channel is the cache. It is looked up again when gRPC
// asks (a connection failed), in the background with backoff while the bookie is not
// registered, and synchronously by refresh when a call found the bookie unreachable —
// so a bookie that restarts on another address is found again at the next call. The
// builder is given to each channel with grpc.WithResolvers: nothing is registered
// globally.
type bookieResolverBuilder struct {
	reg    *registry.Registry
	logger *slog.Logger

	mu sync.Mutex
	// active: the live resolver of each bookie id (one channel per id per Client).
	active map[string]*bookieResolver
}

func newResolverBuilder(reg *registry.Registry, logger *slog.Logger) *bookieResolverBuilder {
	return &bookieResolverBuilder{reg: reg, logger: logger, active: map[string]*bookieResolver{}}
}

func (b *bookieResolverBuilder) Scheme() string { return resolverScheme }

func (b *bookieResolverBuilder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &bookieResolver{
		b:      b,
		id:     t.Endpoint(),
		cc:     cc,
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	b.mu.Lock()
	b.active[r.id] = r
	b.mu.Unlock()
	go r.run()
	r.ResolveNow(resolver.ResolveNowOptions{})
	return r, nil
}

// refresh looks bookie id up now and pushes its address if it changed. It reports
// whether the bookie is registered (a retry may then reach it).
func (b *bookieResolverBuilder) refresh(ctx context.Context, id string) bool {
	b.mu.Lock()
	r := b.active[id]
	b.mu.Unlock()
	if r == nil {
		return false
	}
	info, err := b.reg.Lookup(ctx, id)
	if err != nil {
		return false
	}
	r.push(info.Address)
	return true
}

// moves returns how many times bookie id's channel was pointed from one address to
// another (0 while it has no resolver).
func (b *bookieResolverBuilder) moves(id string) uint64 {
	b.mu.Lock()
	r := b.active[id]
	b.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.moves
}

// kick asks bookie id's resolver to look it up again, in the background.
func (b *bookieResolverBuilder) kick(id string) {
	b.mu.Lock()
	r := b.active[id]
	b.mu.Unlock()
	if r != nil {
		r.ResolveNow(resolver.ResolveNowOptions{})
	}
}

// bookieResolver owns one goroutine that performs background lookups one at a time;
// ResolveNow only nudges it, so a burst of connection failures costs one registry read.
type bookieResolver struct {
	b      *bookieResolverBuilder
	id     string
	cc     resolver.ClientConn
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}

	mu sync.Mutex
	// addr is the address last pushed to the channel ("" before the first).
	addr string
	// known is the last address ever pushed (unlike addr, not forgotten while the bookie
	// is unregistered); moves counts pushes of an address other than known: the bookie
	// came back elsewhere.
	known string
	moves uint64
}

// minLookupGap spaces registry lookups; a bookie that is not registered is looked up
// again with backoff up to maxLookupRetry.
const (
	minLookupGap   = 100 * time.Millisecond
	maxLookupRetry = time.Second
)

func (r *bookieResolver) run() {
	defer close(r.done)
	retry := minLookupGap
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		info, err := r.b.reg.Lookup(ctx, r.id)
		cancel()
		if r.ctx.Err() != nil {
			return
		}
		gap := minLookupGap
		if err != nil {
			// gRPC does not ask again after an error; keep looking, backing off, until
			// the bookie registers (again).
			r.b.logger.Debug("bookie lookup failed", "bookie", r.id, "err", err)
			r.mu.Lock()
			r.cc.ReportError(err)
			r.addr = "" // the channel forgot it: push it again once registered
			r.mu.Unlock()
			gap = retry
			retry = min(2*retry, maxLookupRetry)
			r.ResolveNow(resolver.ResolveNowOptions{})
		} else {
			retry = minLookupGap
			r.push(info.Address)
		}
		t := time.NewTimer(gap)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// push gives the channel addr unless it already has it.
func (r *bookieResolver) push(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == r.addr {
		return
	}
	if err := r.cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: addr}}}); err != nil {
		r.b.logger.Debug("bookie address update", "bookie", r.id, "addr", addr, "err", err)
		return
	}
	r.b.logger.Debug("bookie address", "bookie", r.id, "addr", addr)
	r.addr = addr
	if r.known != "" && r.known != addr {
		r.moves++
	}
	r.known = addr
}

func (r *bookieResolver) ResolveNow(resolver.ResolveNowOptions) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *bookieResolver) Close() {
	r.b.mu.Lock()
	if r.b.active[r.id] == r {
		delete(r.b.active, r.id)
	}
	r.b.mu.Unlock()
	r.cancel()
	<-r.done
}

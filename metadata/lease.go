package metadata

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease is an etcd lease kept alive in the background. Keys written WithLease vanish
// when it ends.
//
// Done is closed when the lease is known lost (keepalive failed, revoked, or expired).
// Because etcd's view and ours can differ under a pause or a partition, holders of
// exclusive rights must not rely on Done alone: Deadline gives a conservative local
// moment (monotonic clock) after which the lease may already be gone on the server.
type Lease struct {
	id    clientv3.LeaseID
	ttl   time.Duration
	cli   *clientv3.Client
	clock Clock

	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	// Invariant: lastOK is the local time at which a keepalive was *sent* that the server
	// then confirmed; the server's expiry is at least lastOK+ttl.
	lastOK time.Time
}

// GrantLease creates a lease with the given TTL (whole seconds, at least 1) and keeps it
// alive until Revoke or ctx ends.
func (s *Store) GrantLease(ctx context.Context, ttl time.Duration, opts ...LeaseOption) (*Lease, error) {
	secs := int64(ttl / time.Second)
	if secs < 1 {
		secs = 1
	}
	l := &Lease{ttl: time.Duration(secs) * time.Second, cli: s.cli, clock: SystemClock{}, done: make(chan struct{})}
	for _, o := range opts {
		o(l)
	}
	sent := l.clock.Now()
	g, err := s.cli.Grant(ctx, secs)
	if err != nil {
		return nil, fmt.Errorf("metadata: grant lease: %w", err)
	}
	kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.id, l.cancel, l.lastOK = g.ID, cancel, sent
	go l.keepAlive(kctx)
	return l, nil
}

func (l *Lease) keepAlive(ctx context.Context) {
	defer close(l.done)
	// Renew every third of the TTL ourselves rather than with clientv3's KeepAlive, so
	// that we know when each renewal was sent and can compute a safe local deadline.
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := l.clock.Now()
		rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		resp, err := l.cli.KeepAliveOnce(rctx, l.id)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if l.Expired() || isLeaseNotFound(err) {
				return // expired on our clock or on the server: lost for good
			}
			continue // transient; retry on the next tick while time remains
		}
		if resp.TTL <= 0 {
			return
		}
		l.mu.Lock()
		l.lastOK = sent
		l.mu.Unlock()
	}
}

func isLeaseNotFound(err error) bool {
	return err != nil && (err.Error() == "etcdserver: requested lease not found")
}

// ID is etcd's lease id.
func (l *Lease) ID() clientv3.LeaseID { return l.id }

// TTL is the granted time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Done is closed when the lease has ended or is known lost.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Deadline is the latest local time at which the lease is certainly still valid on the
// server: last confirmed renewal's send time plus TTL.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK.Add(l.ttl)
}

// Expired reports whether the local deadline has passed (on the lease's clock): from
// then on the lease may be gone on the server, whatever Done says.
func (l *Lease) Expired() bool { return !l.clock.Now().Before(l.Deadline()) }

// Remaining is how long until the local deadline (on the lease's clock); zero or less
// once it has passed.
func (l *Lease) Remaining() time.Duration { return l.Deadline().Sub(l.clock.Now()) }

// Clock is the clock the lease's deadline is measured on.
func (l *Lease) Clock() Clock { return l.clock }

// Revoke ends the lease now, deleting its keys.
func (l *Lease) Revoke(ctx context.Context) error {
	l.cancel()
	<-l.done
	if _, err := l.cli.Revoke(ctx, l.id); err != nil {
		return fmt.Errorf("metadata: revoke lease: %w", err)
	}
	return nil
}

// Stop ends the keepalives without revoking: the lease expires after its TTL. (A process
// shutting down abruptly behaves the same.)
func (l *Lease) Stop() {
	l.cancel()
	<-l.done
}

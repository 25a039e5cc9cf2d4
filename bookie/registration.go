package bookie

import (
	"context"
	"time"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata"
)

// The registrar is the one goroutine that owns the bookie's lease and registration. It
// rewrites the registration when the mode changes (disk monitor) and, when the lease is
// lost (etcd unreachable past the TTL, or the lease revoked), grants a new one and
// registers again. Until that succeeds the bookie keeps serving: it is only invisible to
// writers choosing new ensembles, which is the safe direction.

func (b *Bookie) info() registry.Info {
	return registry.Info{
		ID:        b.id,
		Address:   b.advertised,
		HTTP:      b.httpAddr,
		ReadOnly:  b.srv.ReadOnly(),
		DiskUsage: b.DiskUsage(),
	}
}

// register writes the registration for the current mode under lease.
func (b *Bookie) register(ctx context.Context, lease *metadata.Lease) error {
	rctx, cancel := context.WithTimeout(ctx, b.cfg.LeaseTTL)
	defer cancel()
	return b.reg.Register(rctx, b.info(), lease)
}

func (b *Bookie) registrar(ctx context.Context, lease *metadata.Lease) {
	defer b.wg.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop() // armed only after a failure (Go 1.23+ timers: no stale tick after Stop)
	backoff := time.Duration(0)
	dirty := false // the registration may not match the mode or lease: rewrite it
	for {
		if dirty {
			err := b.reregister(ctx, &lease)
			if err == nil {
				dirty, backoff = false, 0
			} else if ctx.Err() == nil {
				backoff = min(max(2*backoff, 100*time.Millisecond), b.cfg.LeaseTTL/2)
				b.log.Warn("bookie: registration failed; retrying", "err", err, "in", backoff)
				retry.Reset(backoff)
			}
		}
		var leaseDone <-chan struct{}
		if lease != nil {
			leaseDone = lease.Done()
		}
		select {
		case <-ctx.Done():
			b.setLease(lease)
			return
		case <-b.modeChanged:
			dirty = true
		case <-leaseDone:
			b.log.Warn("bookie: registration lease lost; granting a new one and registering again")
			lease.Stop() // already ended; releases its context
			lease = nil
			b.setLease(nil)
			dirty = true
		case <-retry.C:
		}
	}
}

// reregister grants a lease if there is none and writes the registration.
func (b *Bookie) reregister(ctx context.Context, lease **metadata.Lease) error {
	if *lease == nil {
		gctx, cancel := context.WithTimeout(ctx, b.cfg.LeaseTTL)
		l, err := b.md.GrantLease(gctx, b.cfg.LeaseTTL)
		cancel()
		if err != nil {
			return err
		}
		*lease = l
		b.setLease(l)
	}
	if err := b.register(ctx, *lease); err != nil {
		return err
	}
	b.log.Info("bookie: registered", "readOnly", b.srv.ReadOnly())
	return nil
}

func (b *Bookie) setLease(l *metadata.Lease) {
	b.mu.Lock()
	b.lease = l
	b.mu.Unlock()
}

package autorecovery

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/strata-io/strata/metadata"
)

// The election: one key, ROOT/autorecovery/leader, created if absent under the
// candidate's lease. Whoever created it leads until its lease ends; the others watch
// the key and try again when it is deleted (revoked, expired, or removed by hand).
//
// etcd's concurrency.Election is deliberately not used: its Campaign does not return
// when the session's lease expires and can report leadership to a candidate that holds
// no key any more. Here a term ends — its context is cancelled — at the first of: the
// lease's local Deadline() (the last confirmed keepalive's send time plus the TTL, on
// the monotonic clock, so never later than etcd's own expiry), the lease reported
// lost, or the key seen deleted. A candidate that lost its term revokes that lease and
// campaigns again with a new one.
//
// Leadership is for efficiency, not safety: every change the worker makes to a ledger
// is a CAS on the ModRevision it read, so two workers acting at once (a paused leader
// that has not yet noticed its deadline) cannot corrupt metadata; one CAS wins and the
// other finds the fragment already moved.

// LeaderRecord is the value of the leader key.
type LeaderRecord struct {
	ID              string `json:"id"`
	SinceUnixMillis int64  `json:"sinceUnixMillis"`
}

// LeaderKey is the election key, ROOT/autorecovery/leader.
func LeaderKey(s *metadata.Store) string { return s.Keys.AutorecoveryLeader() }

// Leader returns the id of the active worker, metadata.ErrNotFound when there is none.
func Leader(ctx context.Context, s *metadata.Store) (LeaderRecord, error) {
	v, err := s.Get(ctx, LeaderKey(s))
	if err != nil {
		return LeaderRecord{}, err
	}
	var rec LeaderRecord
	if err := json.Unmarshal(v.Data, &rec); err != nil {
		return LeaderRecord{}, err
	}
	return rec, nil
}

// term is one period of leadership.
type term struct {
	// ctx is cancelled when the term ends; every action of the term runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	lease  *metadata.Lease
	// done is closed when the watchdog goroutine has exited.
	done chan struct{}
}

// valid reports whether the worker may still act: the term was not ended and the
// lease's local deadline has not passed. Checked before every metadata change.
func (t *term) valid() bool {
	return t.ctx.Err() == nil && !t.lease.Expired()
}

// campaign returns once this candidate leads (under a new lease), or with ctx's error.
func (w *Worker) campaign(ctx context.Context) (*term, error) {
	backoff := 100 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lease, err := w.store.GrantLease(ctx, w.cfg.LeaseTTL)
		if err != nil {
			w.log.Warn("autorecovery: grant election lease", "err", err)
			if !sleep(ctx, backoff) {
				return nil, ctx.Err()
			}
			backoff = min(2*backoff, w.cfg.LeaseTTL)
			continue
		}
		backoff = 100 * time.Millisecond
		if t := w.tryLead(ctx, lease); t != nil {
			return t, nil
		}
		// The lease ended (or ctx did) before the key became ours: a new lease next.
		w.releaseLease(lease)
	}
}

// tryLead creates the leader key under lease, waiting while someone else holds it. It
// returns nil once lease is lost or ctx ends.
func (w *Worker) tryLead(ctx context.Context, lease *metadata.Lease) *term {
	key := LeaderKey(w.store)
	data, _ := json.Marshal(LeaderRecord{ID: w.cfg.ID, SinceUnixMillis: time.Now().UnixMilli()})
	for {
		if ctx.Err() != nil || !leaseAlive(lease) {
			return nil
		}
		rev, err := w.store.Create(ctx, key, data, metadata.WithLease(lease))
		if err == nil {
			return w.startTerm(ctx, lease, key, rev)
		}
		if !errors.Is(err, metadata.ErrExists) {
			w.log.Warn("autorecovery: campaign", "err", err)
			if !sleepOrLost(ctx, lease, 200*time.Millisecond) {
				return nil
			}
			continue
		}
		// Someone leads: wait until its key goes (or our lease does).
		if !w.waitKeyGone(ctx, lease, key) {
			return nil
		}
	}
}

// waitKeyGone waits until key is absent. It reports false when ctx ended or lease was
// lost first.
func (w *Worker) waitKeyGone(ctx context.Context, lease *metadata.Lease, key string) bool {
	v, err := w.store.Get(ctx, key)
	if errors.Is(err, metadata.ErrNotFound) {
		return true
	}
	if err != nil {
		return sleepOrLost(ctx, lease, 200*time.Millisecond)
	}
	wctx, cancel := context.WithCancel(ctx)
	events := w.store.Watch(wctx, key, v.ModRevision+1)
	defer func() { cancel(); drain(events) }()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-lease.Done():
			return false
		case ev, ok := <-events:
			if !ok {
				return false
			}
			if gone(ev, key) {
				return true
			}
		}
	}
}

// gone reports whether a watch event on key's prefix says key is now absent.
func gone(ev metadata.WatchEvent, key string) bool {
	switch ev.Type {
	case metadata.EventDelete:
		return ev.Value.Key == key
	case metadata.EventReset:
		for _, v := range ev.Snapshot {
			if v.Key == key {
				return false
			}
		}
		return true
	}
	return false
}

// startTerm starts the watchdog that ends the term at the lease's local deadline, on
// lease loss, or when the key (created at rev) is deleted.
func (w *Worker) startTerm(ctx context.Context, lease *metadata.Lease, key string, rev int64) *term {
	tctx, cancel := context.WithCancel(ctx)
	t := &term{ctx: tctx, cancel: cancel, lease: lease, done: make(chan struct{})}
	events := w.store.Watch(tctx, key, rev+1)
	go func() {
		defer close(t.done)
		defer drain(events)
		defer cancel()
		timer := time.NewTimer(lease.Remaining())
		defer timer.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-lease.Done():
				w.log.Warn("autorecovery: election lease lost; stepping down")
				return
			case <-timer.C:
				// Keepalives move the deadline; end only once it really passed.
				d := lease.Remaining()
				if d <= 0 {
					w.log.Warn("autorecovery: election lease deadline passed; stepping down")
					return
				}
				timer.Reset(d)
			case ev, ok := <-events:
				if !ok {
					return
				}
				if gone(ev, key) {
					w.log.Warn("autorecovery: leader key deleted; stepping down")
					return
				}
			}
		}
	}()
	return t
}

// end ends the term and releases its lease (deleting the key, if it is still ours).
func (w *Worker) end(t *term) {
	t.cancel()
	<-t.done
	w.releaseLease(t.lease)
}

func (w *Worker) releaseLease(l *metadata.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.Revoke(ctx) // best effort: an expired lease is gone already
}

// leaseAlive: not reported lost and its local deadline not passed.
func leaseAlive(l *metadata.Lease) bool {
	select {
	case <-l.Done():
		return false
	default:
	}
	return !l.Expired()
}

// drain empties a watch channel after its context was cancelled, so its goroutine is
// not left blocked on a send.
func drain(ch <-chan metadata.WatchEvent) {
	for range ch {
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sleepOrLost(ctx context.Context, l *metadata.Lease, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-l.Done():
		return false
	case <-t.C:
		return leaseAlive(l)
	}
}

package metadata

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EventType says what a WatchEvent reports.
type EventType int

const (
	// EventPut: a key was created or changed.
	EventPut EventType = iota + 1
	// EventDelete: a key was removed (or its lease ended).
	EventDelete
	// EventReset: history was lost (compaction); Snapshot is the full current contents of
	// the prefix and replaces everything the watcher knew.
	EventReset
)

// WatchEvent is one change under a watched prefix.
type WatchEvent struct {
	Type     EventType
	Value    Value   // EventPut, EventDelete (Data empty)
	Snapshot []Value // EventReset
	Revision int64
}

// Watch reports every change under prefix after revision fromRev-1, in order, until ctx
// ends; then the channel is closed. Start from List's rev+1 to miss nothing. If etcd
// compacted the needed history, or the watch broke and cannot resume, Watch re-lists
// and sends an EventReset before continuing.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) <-chan WatchEvent {
	out := make(chan WatchEvent, 64)
	go s.watchLoop(ctx, prefix, fromRev, false, out)
	return out
}

// ListWatch is the list-then-watch pattern in one call: it keeps a caller's copy of
// everything under prefix up to date until ctx ends, then closes the channel.
//
// The first event is always an EventReset whose Snapshot is the full listing of prefix
// (a failed List is retried until it succeeds or ctx ends); after it come the puts and
// deletes from the listing's revision+1 on, in order. A broken watch resumes after the
// last event delivered; when etcd compacted that history, ListWatch lists again and
// sends another EventReset, whose Snapshot replaces everything the caller knew. So a
// caller needs exactly two operations: replace its state (EventReset) and apply one
// change (EventPut, EventDelete).
//
// The caller must keep receiving until the channel is closed, or end ctx.
func (s *Store) ListWatch(ctx context.Context, prefix string) <-chan WatchEvent {
	out := make(chan WatchEvent, 64)
	go s.watchLoop(ctx, prefix, 0, true, out)
	return out
}

// watchLoop feeds out until ctx ends. With listFirst it starts with a listing (an
// EventReset) instead of watching from next.
func (s *Store) watchLoop(ctx context.Context, prefix string, next int64, listFirst bool, out chan<- WatchEvent) {
	defer close(out)
	send := func(ev WatchEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	relist := func() bool {
		for ctx.Err() == nil {
			vals, rev, err := s.List(ctx, prefix)
			if err == nil {
				next = rev + 1
				return send(WatchEvent{Type: EventReset, Snapshot: vals, Revision: rev})
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		return false
	}
	if listFirst && !relist() {
		return
	}
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(next), clientv3.WithProgressNotify())
		broken := false
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				broken = true
				break
			}
			if err := resp.Err(); err != nil {
				break // resume from next
			}
			for _, ev := range resp.Events {
				we := WatchEvent{Type: EventPut, Revision: ev.Kv.ModRevision, Value: Value{
					Key: string(ev.Kv.Key), Data: ev.Kv.Value, ModRevision: ev.Kv.ModRevision,
					CreateRevision: ev.Kv.CreateRevision, Lease: ev.Kv.Lease,
				}}
				if ev.Type == clientv3.EventTypeDelete {
					we.Type = EventDelete
				}
				if !send(we) {
					cancel()
					return
				}
				next = ev.Kv.ModRevision + 1
			}
			if resp.Header.Revision >= next && len(resp.Events) == 0 {
				next = resp.Header.Revision + 1 // progress notification
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if broken {
			if !relist() {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

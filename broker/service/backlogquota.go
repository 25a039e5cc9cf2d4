package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/wire"
)

// Backlog quotas (Pulsar's): a topic's backlog is what its slowest durable subscription
// has not acknowledged. Two kinds, keyed in Policies.BacklogQuotas:
//   - destination_storage: the backlog's size in bytes, estimated from the ledgers'
//     sizes from the slowest mark-delete on (Pulsar's estimate: a partly consumed
//     ledger counts pro rata; individual acks above mark-delete are not subtracted);
//     a negative limit is no quota;
//   - message_age: the publish time of the oldest unacknowledged message of any durable
//     subscription, against limitTime seconds.
//
// What happens when one is exceeded, checked every BacklogQuotaCheckInterval and when a
// producer is added:
//   - producer_request_hold: the topic's producers are disconnected, and PRODUCER is
//     refused with ProducerBlockedQuotaExceededError while the quota is exceeded. The
//     client keeps retrying, holding its sends, which time out after its sendTimeout
//     unless the backlog shrinks first;
//   - producer_exception: the same, refused with ProducerBlockedQuotaExceededException,
//     on which the client fails its pending sends;
//   - consumer_backlog_eviction: the oldest backlog of the slowest subscription is
//     acknowledged until the backlog is under the size limit (message_age: every
//     subscription's messages older than the limit are acknowledged).
//
// Topics with no durable subscription have no backlog.

const (
	quotaSize = "destination_storage"
	quotaAge  = "message_age"

	policyHold      = "producer_request_hold"
	policyException = "producer_exception"
	policyEviction  = "consumer_backlog_eviction"
)

var (
	// ErrQuotaHold: a producer_request_hold backlog quota is exceeded
	// (ProducerBlockedQuotaExceededError: the client retries).
	ErrQuotaHold = errors.New("service: backlog quota exceeded: producer held")
	// ErrQuotaException: a producer_exception backlog quota is exceeded
	// (ProducerBlockedQuotaExceededException: the client fails its sends).
	ErrQuotaException = errors.New("service: backlog quota exceeded")
)

// backlogBytes estimates the bytes after md.
func backlogBytes(info managedledger.Info, md managedledger.Position) int64 {
	var n int64
	for _, li := range info.Ledgers {
		switch {
		case li.ID > md.Ledger:
			n += li.Size
		case li.ID == md.Ledger && li.Entries > 0 && md.Entry+1 < li.Entries:
			n += li.Size * (li.Entries - 1 - md.Entry) / li.Entries
		}
	}
	return n
}

// slowestCursor is the durable cursor with the lowest mark-delete ("" when none).
func (t *Topic) slowestCursor() (string, *managedledger.Cursor) {
	var name string
	var slow *managedledger.Cursor
	for n, c := range t.ml.Cursors() {
		if slow == nil || c.MarkDelete().Less(slow.MarkDelete()) {
			name, slow = n, c
		}
	}
	return name, slow
}

// oldestUnacked is the first unacknowledged position over every durable cursor.
func (t *Topic) oldestUnacked() (managedledger.Position, bool) {
	var oldest managedledger.Position
	found := false
	for _, c := range t.ml.Cursors() {
		for p := range c.Unacked(cursor.Earliest(), Latest()) {
			if !found || p.Less(oldest) {
				oldest, found = p, true
			}
			break
		}
	}
	return oldest, found
}

// exceededQuota returns the kind and quota of the first exceeded backlog quota, or "".
func (t *Topic) exceededQuota(ctx context.Context, pol resources.Policies) (string, resources.BacklogQuota, error) {
	if len(pol.BacklogQuotas) == 0 {
		return "", resources.BacklogQuota{}, nil
	}
	if q, ok := pol.BacklogQuotas[quotaSize]; ok && q.LimitSize >= 0 {
		if _, c := t.slowestCursor(); c != nil && backlogBytes(t.ml.Info(), c.MarkDelete()) > q.LimitSize {
			return quotaSize, q, nil
		}
	}
	if q, ok := pol.BacklogQuotas[quotaAge]; ok && q.LimitTime > 0 {
		p, ok := t.oldestUnacked()
		if !ok || t.ml.LastConfirmed().Less(p) {
			return "", resources.BacklogQuota{}, nil
		}
		ents, err := t.ml.ReadEntries(ctx, p, 1)
		if err != nil {
			return "", resources.BacklogQuota{}, fmt.Errorf("read oldest backlog entry %s: %w", p, err)
		}
		if len(ents) == 0 {
			return "", resources.BacklogQuota{}, nil
		}
		pl, err := wire.ParsePayload(ents[0].Data)
		if err != nil || pl.Metadata == nil {
			return "", resources.BacklogQuota{}, nil // no publish time to judge by
		}
		age := time.Since(time.UnixMilli(int64(pl.Metadata.GetPublishTime())))
		if age > time.Duration(q.LimitTime)*time.Second {
			return quotaAge, q, nil
		}
	}
	return "", resources.BacklogQuota{}, nil
}

// admitProducer refuses a producer while a producer_request_hold or producer_exception
// quota is exceeded.
func (t *Topic) admitProducer(ctx context.Context, pol resources.Policies) error {
	typ, q, err := t.exceededQuota(ctx, pol)
	if err != nil || typ == "" {
		return err
	}
	switch q.Policy {
	case policyHold:
		return fmt.Errorf("%w: %s quota of %s", ErrQuotaHold, typ, t.name)
	case policyException:
		return fmt.Errorf("%w: %s quota of %s", ErrQuotaException, typ, t.name)
	}
	return nil
}

// checkBacklogQuota is the periodic check of the topic's backlog quotas.
func (t *Topic) checkBacklogQuota(ctx context.Context) error {
	pol := t.policies()
	typ, q, err := t.exceededQuota(ctx, pol)
	if err != nil || typ == "" {
		return err
	}
	t.svc.log.Info("backlog quota exceeded", "topic", t.name.String(), "type", typ, "policy", q.Policy)
	switch q.Policy {
	case policyEviction:
		if typ == quotaAge {
			return t.evictOlderThan(ctx, time.Duration(q.LimitTime)*time.Second)
		}
		return t.evictToSize(ctx, q.LimitSize)
	default: // hold or exception: the producers reconnect and are refused (admitProducer)
		t.disconnectProducers()
		return nil
	}
}

// evictToSize acknowledges the oldest backlog of the slowest subscription, then of the
// next slowest, until the backlog is at most limit bytes. The number of entries to drop
// is estimated from the average entry size of the backlog.
func (t *Topic) evictToSize(ctx context.Context, limit int64) error {
	for range 64 { // each round makes the slowest cursor smaller; a failsafe bound
		name, c := t.slowestCursor()
		if c == nil {
			return nil
		}
		size := backlogBytes(t.ml.Info(), c.MarkDelete())
		entries := c.Backlog()
		if size <= limit || entries == 0 {
			return nil
		}
		avg := max(size/entries, 1)
		n := (size - limit + avg - 1) / avg
		if err := t.SkipMessages(ctx, name, n); err != nil {
			return err
		}
	}
	return nil
}

// evictOlderThan acknowledges, on every durable subscription, what was published more
// than age ago.
func (t *Topic) evictOlderThan(ctx context.Context, age time.Duration) error {
	var errs []error
	for name := range t.ml.Cursors() {
		if err := t.ExpireMessages(ctx, name, age); err != nil && !errors.Is(err, resources.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// disconnectProducers closes every producer (the clients are told and reconnect).
func (t *Topic) disconnectProducers() {
	t.mu.Lock()
	ps := make([]*Producer, 0, len(t.producers)+len(t.waiting))
	for _, p := range t.producers {
		ps = append(ps, p)
	}
	ps = append(ps, t.waiting...)
	clear(t.producers)
	t.waiting = nil
	t.mu.Unlock()
	for _, p := range ps {
		p.closeOnce.Do(func() {
			if p.onClose != nil {
				p.onClose()
			}
		})
	}
}

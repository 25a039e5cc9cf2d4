package service

import (
	"context"
	"errors"
	"time"

	"github.com/strata-io/strata/broker/resources"
)

// checkTTL enforces the namespace's message TTL (Pulsar's message expiry): on every
// durable subscription, the unacknowledged messages published more than the TTL ago are
// acknowledged, which moves mark-delete (and lets retention and trim free the ledgers).
// Readers are not subscriptions and are left alone. A message's age is its publish time,
// found by a binary search over the log (ExpireMessages).
func (t *Topic) checkTTL(ctx context.Context) error {
	ttl := t.policies().MessageTTLInSeconds
	if ttl <= 0 {
		return nil
	}
	var errs []error
	for name, c := range t.ml.Cursors() {
		if c.Backlog() == 0 {
			continue
		}
		if err := t.ExpireMessages(ctx, name, time.Duration(ttl)*time.Second); err != nil && !errors.Is(err, resources.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

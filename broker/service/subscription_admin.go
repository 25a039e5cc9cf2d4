package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/metadata"
)

// Subscription operations of the admin API. A subscription with consumers is changed on
// its own goroutine, so that its dispatcher learns of the change; a durable cursor with
// no live subscription is changed directly (a subscription created later starts from the
// cursor's state, and its reads skip whatever is acknowledged).

// Earliest and Latest are the admin API's special start positions (Pulsar's message ids
// -1:-1 and MaxInt64:MaxInt64).
func Earliest() managedledger.Position { return managedledger.Position{Ledger: -1, Entry: -1} }
func Latest() managedledger.Position {
	return managedledger.Position{Ledger: math.MaxInt64, Entry: math.MaxInt64}
}

// SubscriptionNames lists the durable subscriptions (and readers, by name).
func (t *Topic) SubscriptionNames() []string {
	st := t.Stats()
	out := make([]string, 0, len(st.Subscriptions))
	for _, s := range st.Subscriptions {
		out = append(out, s.Name)
	}
	return out
}

// lookupSubscription returns the live durable subscription called name (nil if none)
// and its cursor; resources.ErrNotFound when there is no such durable cursor.
func (t *Topic) lookupSubscription(name string) (*Subscription, *managedledger.Cursor, error) {
	t.mu.Lock()
	s := t.subs[name]
	t.mu.Unlock()
	if s != nil && s.durable {
		return s, s.cursor, nil
	}
	if c, ok := t.ml.Cursors()[name]; ok {
		return nil, c, nil
	}
	return nil, nil, fmt.Errorf("%w: subscription %q", resources.ErrNotFound, name)
}

// resolve turns an admin position into a cursor reset target.
func (t *Topic) resolve(p managedledger.Position) managedledger.Position {
	switch {
	case p.Ledger < 0 || p.Entry < 0:
		return cursor.Earliest()
	case p.Ledger == math.MaxInt64:
		lc := t.ml.LastConfirmed()
		return managedledger.Position{Ledger: lc.Ledger, Entry: lc.Entry + 1}
	}
	return p
}

// CreateSubscription creates the durable subscription name with at as its first
// unacknowledged entry (Earliest, Latest or a position); metadata.ErrExists if it exists.
func (t *Topic) CreateSubscription(ctx context.Context, name string, at managedledger.Position) error {
	if name == "" {
		return fmt.Errorf("%w: empty subscription name", ErrBadSubscription)
	}
	if _, ok := t.ml.Cursors()[name]; ok {
		return fmt.Errorf("%w: subscription %q", metadata.ErrExists, name)
	}
	initial := managedledger.Latest
	if at == Earliest() {
		initial = managedledger.Earliest
	}
	c, created, err := t.ml.OpenCursor(ctx, name, initial)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("%w: subscription %q", metadata.ErrExists, name)
	}
	if at != Earliest() && at != Latest() {
		if err := c.Reset(at); err != nil {
			t.ml.DeleteCursor(ctx, name)
			return fmt.Errorf("%w: reset to %s: %v", ErrBadSubscription, at, err)
		}
	}
	return nil
}

// DeleteSubscription deletes a durable subscription; without force it is refused
// (ErrSubscriptionBusy) while consumers are attached.
func (t *Topic) DeleteSubscription(ctx context.Context, name string, force bool) error {
	s, _, err := t.lookupSubscription(name)
	if err != nil {
		return err
	}
	if s != nil {
		return t.Unsubscribe(ctx, s, nil, force)
	}
	return t.ml.DeleteCursor(ctx, name)
}

// ResetCursor makes to (Earliest, Latest or a position) the subscription's next entry;
// its consumers are disconnected and reconnect there.
func (t *Topic) ResetCursor(ctx context.Context, name string, to managedledger.Position) error {
	s, c, err := t.lookupSubscription(name)
	if err != nil {
		return err
	}
	target := t.resolve(to)
	if s == nil {
		if err := c.Reset(target); err != nil {
			return fmt.Errorf("%w: reset to %s: %v", ErrBadSubscription, to, err)
		}
		return nil
	}
	done := make(chan error, 1)
	s.Seek(target, func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrTopicClosed) {
			return fmt.Errorf("%w: reset to %s: %v", ErrBadSubscription, to, err)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ResetCursorByTime resets the subscription to the first entry published at or after
// ms (milliseconds since the epoch).
func (t *Topic) ResetCursorByTime(ctx context.Context, name string, ms int64) error {
	if _, _, err := t.lookupSubscription(name); err != nil {
		return err
	}
	p, err := t.FindByPublishTime(ctx, ms)
	if err != nil {
		return err
	}
	return t.ResetCursor(ctx, name, p)
}

// SkipMessages acknowledges the subscription's next n unacknowledged entries.
func (t *Topic) SkipMessages(ctx context.Context, name string, n int64) error {
	s, c, err := t.lookupSubscription(name)
	if err != nil {
		return err
	}
	var ps []managedledger.Position
	for p := range c.Unacked(cursor.Earliest(), Latest()) {
		if int64(len(ps)) >= n {
			break
		}
		ps = append(ps, p)
	}
	return t.adminAck(s, c, ps, nil)
}

// ClearBacklog acknowledges everything the subscription has not (Pulsar's skip_all).
func (t *Topic) ClearBacklog(ctx context.Context, name string) error {
	return t.ackBefore(name, Latest())
}

// ExpireMessages acknowledges every entry published more than age ago.
func (t *Topic) ExpireMessages(ctx context.Context, name string, age time.Duration) error {
	if _, _, err := t.lookupSubscription(name); err != nil {
		return err
	}
	first, err := t.FindByPublishTime(ctx, time.Now().Add(-age).UnixMilli())
	if err != nil {
		return err
	}
	return t.ackBefore(name, managedledger.Position{Ledger: first.Ledger, Entry: first.Entry - 1})
}

// ackBefore acknowledges every entry up to and including to.
func (t *Topic) ackBefore(name string, to managedledger.Position) error {
	s, c, err := t.lookupSubscription(name)
	if err != nil {
		return err
	}
	var last *managedledger.Position
	for p := range c.Unacked(cursor.Earliest(), to) {
		last = &p
	}
	if last == nil {
		return nil
	}
	return t.adminAck(s, c, nil, last)
}

// adminAck acknowledges ps individually or everything up to upTo, through the live
// subscription when there is one.
func (t *Topic) adminAck(s *Subscription, c *managedledger.Cursor, ps []managedledger.Position, upTo *managedledger.Position) error {
	apply := func() error {
		if upTo != nil {
			return c.AckCumulative(*upTo)
		}
		if len(ps) == 0 {
			return nil
		}
		return c.AckIndividual(ps...)
	}
	if s == nil {
		return apply()
	}
	var err error
	ok := s.do(func() {
		before := c.MarkDelete()
		err = apply()
		var full []managedledger.Position
		for _, p := range ps {
			if c.IsAcked(p) {
				full = append(full, p)
			}
		}
		if len(full) > 0 {
			dps := make([]dispatch.Position, len(full))
			for i, p := range full {
				dps[i] = toDispatch(p)
			}
			s.d.Acked(dps)
		}
		if md := c.MarkDelete(); md != before {
			s.d.AckedUpTo(toDispatch(md))
		}
	})
	if !ok {
		return apply() // the subscription closed meanwhile: the cursor remains
	}
	return err
}

// PeekEntry returns the subscription's nth (1-based) unacknowledged entry;
// resources.ErrNotFound when it has fewer.
func (t *Topic) PeekEntry(ctx context.Context, name string, nth int) (managedledger.Entry, error) {
	_, c, err := t.lookupSubscription(name)
	if err != nil {
		return managedledger.Entry{}, err
	}
	i := 0
	var at *managedledger.Position
	for p := range c.Unacked(cursor.Earliest(), Latest()) {
		i++
		if i == nth {
			at = &p
			break
		}
	}
	if at == nil {
		return managedledger.Entry{}, fmt.Errorf("%w: subscription %q has fewer than %d unacknowledged entries", resources.ErrNotFound, name, nth)
	}
	return t.Entry(ctx, *at)
}

// Entry reads the entry at p; resources.ErrNotFound if it does not exist (any more).
func (t *Topic) Entry(ctx context.Context, p managedledger.Position) (managedledger.Entry, error) {
	if p.Ledger < 0 || p.Entry < 0 {
		return managedledger.Entry{}, fmt.Errorf("%w: entry %s", resources.ErrNotFound, p)
	}
	lc := t.ml.LastConfirmed()
	if lc.Less(p) {
		return managedledger.Entry{}, fmt.Errorf("%w: entry %s", resources.ErrNotFound, p)
	}
	ents, err := t.ml.ReadEntries(ctx, p, 1)
	if err != nil {
		return managedledger.Entry{}, err
	}
	if len(ents) != 1 || ents[0].Pos != p {
		return managedledger.Entry{}, fmt.Errorf("%w: entry %s", resources.ErrNotFound, p)
	}
	return ents[0], nil
}

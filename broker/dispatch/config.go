package dispatch

import (
	"fmt"
	"time"
)

// Config holds the dispatcher settings, named after the Pulsar broker
// settings they mirror. Start from DefaultConfig.
type Config struct {
	// MaxReadBatchSize caps the entries of one Read (dispatcherMaxReadBatchSize).
	MaxReadBatchSize int

	// MaxRoundRobinBatchSize caps the entries a Shared consumer gets per
	// round-robin turn (dispatcherMaxRoundRobinBatchSize).
	MaxRoundRobinBatchSize int

	// MaxUnackedPerConsumer blocks a Shared or Key_Shared consumer holding that
	// many unacknowledged messages until it is down to half
	// (maxUnackedMessagesPerConsumer). 0 means no limit.
	MaxUnackedPerConsumer int

	// MaxUnackedPerSubscription blocks a Shared or Key_Shared subscription whose
	// consumers hold that many unacknowledged messages until the total is down
	// to half (maxUnackedMessagesPerSubscription). 0 means no limit.
	MaxUnackedPerSubscription int

	// FailoverDelay is how long a Failover subscription waits, after the active
	// consumer changed while the previous one is still connected, before it
	// rewinds and sends to the new one (activeConsumerFailoverDelayTimeMillis).
	// 0 switches at once.
	FailoverDelay time.Duration

	// LookAheadPerConsumer and LookAheadPerSubscription bound how many entries
	// a Key_Shared subscription may hold back for replay before it stops reading
	// new ones: min(perConsumer × consumers, perSubscription), a zero disabling
	// its term (keySharedLookAheadMsgInReplayThresholdPerConsumer/-Subscription).
	// With both zero, MaxUnackedPerSubscription is the bound, if set.
	LookAheadPerConsumer     int
	LookAheadPerSubscription int
}

// DefaultConfig returns Pulsar 4.x's defaults.
func DefaultConfig() Config {
	return Config{
		MaxReadBatchSize:          100,
		MaxRoundRobinBatchSize:    20,
		MaxUnackedPerConsumer:     50000,
		MaxUnackedPerSubscription: 200000,
		FailoverDelay:             time.Second,
		LookAheadPerConsumer:      2000,
		LookAheadPerSubscription:  20000,
	}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxReadBatchSize < 1:
		return fmt.Errorf("%w: MaxReadBatchSize %d < 1", ErrInvalidConfig, c.MaxReadBatchSize)
	case c.MaxRoundRobinBatchSize < 1:
		return fmt.Errorf("%w: MaxRoundRobinBatchSize %d < 1", ErrInvalidConfig, c.MaxRoundRobinBatchSize)
	case c.MaxUnackedPerConsumer < 0:
		return fmt.Errorf("%w: MaxUnackedPerConsumer %d < 0", ErrInvalidConfig, c.MaxUnackedPerConsumer)
	case c.MaxUnackedPerSubscription < 0:
		return fmt.Errorf("%w: MaxUnackedPerSubscription %d < 0", ErrInvalidConfig, c.MaxUnackedPerSubscription)
	case c.FailoverDelay < 0:
		return fmt.Errorf("%w: FailoverDelay %s < 0", ErrInvalidConfig, c.FailoverDelay)
	case c.LookAheadPerConsumer < 0:
		return fmt.Errorf("%w: LookAheadPerConsumer %d < 0", ErrInvalidConfig, c.LookAheadPerConsumer)
	case c.LookAheadPerSubscription < 0:
		return fmt.Errorf("%w: LookAheadPerSubscription %d < 0", ErrInvalidConfig, c.LookAheadPerSubscription)
	}
	return nil
}

// lookAheadLimit is the Key_Shared replay bound for n consumers; 0 = none.
func (c Config) lookAheadLimit(n int) int {
	limit := c.LookAheadPerSubscription
	if c.LookAheadPerConsumer > 0 {
		limit = c.LookAheadPerConsumer * n
		if c.LookAheadPerSubscription > 0 {
			limit = min(limit, c.LookAheadPerSubscription)
		}
	}
	if limit <= 0 {
		limit = c.MaxUnackedPerSubscription
	}
	return limit
}

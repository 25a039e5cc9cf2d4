package dispatch

import "errors"

// Errors returned by AddConsumer. The driver maps them to Pulsar ServerError
// codes; the wrapped message says what exactly was refused.
var (
	// ErrConsumerBusy: the subscription cannot take this consumer — an
	// Exclusive subscription already has one, or a Key_Shared consumer's mode
	// differs from the subscription's. Maps to ServerError ConsumerBusy.
	ErrConsumerBusy = errors.New("dispatch: consumer busy")

	// ErrConsumerAssign: a Key_Shared consumer cannot be given hashes — STICKY
	// ranges that are empty, out of 0..65535 or overlap another consumer's, or
	// an AUTO_SPLIT subscription whose hash space cannot be split further.
	// Maps to ServerError ConsumerAssignError.
	ErrConsumerAssign = errors.New("dispatch: consumer assign error")

	// ErrDuplicateConsumer: the consumer id is already registered. This is a
	// driver bug (ids must be unique per subscription), not a client error.
	ErrDuplicateConsumer = errors.New("dispatch: duplicate consumer id")

	// ErrInvalidConfig: a Config setting is out of range (see Config.Validate).
	ErrInvalidConfig = errors.New("dispatch: invalid config")
)

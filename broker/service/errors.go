package service

import (
	"errors"

	"github.com/strata-io/strata/broker/resources"
)

// Errors the protocol layer maps to Pulsar ServerError codes (broker/server/errors.go).
var (
	ErrProducerBusy     = errors.New("service: producer busy")   // ProducerBusy
	ErrProducerFenced   = errors.New("service: producer fenced") // ProducerFenced
	ErrConsumerBusy     = errors.New("service: consumer busy")   // ConsumerBusy
	ErrTopicTerminated  = errors.New("service: topic terminated")
	ErrTopicClosed      = errors.New("service: topic closed") // ServiceNotReady: reconnect
	ErrSubscriptionBusy = errors.New("service: subscription has consumers")
	ErrTooManyProducers = errors.New("service: too many producers")
	ErrTooManyConsumers = errors.New("service: too many consumers")
	ErrBadSubscription  = errors.New("service: invalid subscription request")
)

// The record errors moved to broker/resources. These are the same values (errors.Is
// matches either name), kept until the error tables in broker/server and broker/admin
// name the resources ones.
var (
	ErrNotFound               = resources.ErrNotFound
	ErrNotEmpty               = resources.ErrNotEmpty
	ErrPartitionsNotIncreased = resources.ErrPartitionsNotIncreased
	ErrTopicNotFound          = resources.ErrTopicNotFound
	ErrSchemaNotFound         = resources.ErrSchemaNotFound
)

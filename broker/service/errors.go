package service

import "errors"

// Errors the protocol layer maps to Pulsar ServerError codes (the table in broker/errcode).
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

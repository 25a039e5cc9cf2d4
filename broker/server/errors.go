package server

import (
	"context"
	"errors"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/proto/pulsar"
)

// serverError is the one table from our errors to Pulsar's ServerError codes. The client
// matches on the code's name, so the choice decides its reaction (reference §2.22).
func serverError(err error) pulsar.ServerError {
	switch {
	case errors.Is(err, service.ErrProducerBusy):
		return pulsar.ServerError_ProducerBusy
	case errors.Is(err, service.ErrProducerFenced):
		return pulsar.ServerError_ProducerFenced
	case errors.Is(err, service.ErrConsumerBusy), errors.Is(err, service.ErrSubscriptionBusy):
		return pulsar.ServerError_ConsumerBusy
	case errors.Is(err, service.ErrTopicTerminated), errors.Is(err, managedledger.ErrTerminated):
		return pulsar.ServerError_TopicTerminatedError
	case errors.Is(err, service.ErrTopicNotFound), errors.Is(err, service.ErrNotFound):
		return pulsar.ServerError_TopicNotFound
	case errors.Is(err, topic.ErrInvalidName), errors.Is(err, service.ErrBadSubscription):
		return pulsar.ServerError_InvalidTopicName
	case errors.Is(err, service.ErrQuotaHold):
		return pulsar.ServerError_ProducerBlockedQuotaExceededError
	case errors.Is(err, service.ErrQuotaException):
		return pulsar.ServerError_ProducerBlockedQuotaExceededException
	case errors.Is(err, service.ErrTooManyProducers), errors.Is(err, service.ErrTooManyConsumers):
		return pulsar.ServerError_NotAllowedError
	case errors.Is(err, service.ErrTopicClosed), errors.Is(err, service.ErrServiceClosed),
		errors.Is(err, managedledger.ErrFenced), errors.Is(err, managedledger.ErrClosed),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, service.ErrOwnershipLost),
		errors.As(err, new(*ownership.NotOwnerError)), errors.Is(err, ownership.ErrNoSession),
		errors.Is(err, ownership.ErrClosed):
		return pulsar.ServerError_ServiceNotReady
	case errors.Is(err, metadata.ErrRevisionMismatch):
		return pulsar.ServerError_MetadataError
	default:
		return pulsar.ServerError_UnknownError
	}
}

func errorsIsAssign(err error) bool { return errors.Is(err, service.ErrConsumerAssign) }

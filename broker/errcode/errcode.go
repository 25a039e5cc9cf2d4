package errcode

import (
	"context"
	"errors"
	"net/http"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/proto/pulsar"
)

// Error is one row of the table: an error of ours and what every layer answers for it.
type Error struct {
	// Code is the ServerError of the binary protocol's ERROR, SEND_ERROR, LOOKUP and
	// other failed answers.
	Code pulsar.ServerError
	// HTTP is the admin REST status. Pulsar's conventions: invalid names and
	// out-of-range values 412, unknown resources 404, already existing or not empty
	// 409, in use 412, fenced or closing 503.
	HTTP int
	// Retriable: the condition is transient; the same request, sent again after a
	// reconnect or a new lookup, can succeed. (The analogue of the Java client's
	// PulsarClientException.isRetriableError.)
	Retriable bool

	match func(error) bool
}

// Unknown is the answer for an error no row matches.
var Unknown = Error{Code: pulsar.ServerError_UnknownError, HTTP: http.StatusInternalServerError}

// is makes the row of a sentinel error.
func is(target error, code pulsar.ServerError, status int, retriable bool) Error {
	return Error{Code: code, HTTP: status, Retriable: retriable, match: func(err error) bool { return errors.Is(err, target) }}
}

// as makes the row of a typed error *T.
func as[T error](code pulsar.ServerError, status int, retriable bool) Error {
	return Error{Code: code, HTTP: status, Retriable: retriable, match: func(err error) bool {
		var t T
		return errors.As(err, &t)
	}}
}

// Aliases keep the rows on one line each.
const (
	retry   = true
	noRetry = false
)

// table: first match wins (see the package doc for why the order matters). Where the
// binary protocol and the admin REST had separate tables, each row keeps each layer's
// answer from before: a layer that had no row for an error answers UnknownError or
// 500 for it, and so does its row here.
var table = []Error{
	// Key_Shared ranges that cannot be assigned. First: the protocol server answered
	// ConsumerAssignError whatever else the error wrapped.
	is(service.ErrConsumerAssign, pulsar.ServerError_ConsumerAssignError, http.StatusInternalServerError, noRetry),

	// Busy or fenced producers and consumers.
	is(service.ErrProducerBusy, pulsar.ServerError_ProducerBusy, http.StatusInternalServerError, noRetry),
	is(service.ErrProducerFenced, pulsar.ServerError_ProducerFenced, http.StatusInternalServerError, noRetry),
	is(service.ErrConsumerBusy, pulsar.ServerError_ConsumerBusy, http.StatusInternalServerError, noRetry),
	is(service.ErrSubscriptionBusy, pulsar.ServerError_ConsumerBusy, http.StatusPreconditionFailed, noRetry),

	// Terminated topics.
	is(service.ErrTopicTerminated, pulsar.ServerError_TopicTerminatedError, http.StatusConflict, noRetry),
	is(managedledger.ErrTerminated, pulsar.ServerError_TopicTerminatedError, http.StatusConflict, noRetry),

	// Unknown resources. A missing schema is TopicNotFound on the wire, as Pulsar's
	// GET_SCHEMA answers (the protocol server adds the text the client looks for).
	is(resources.ErrTopicNotFound, pulsar.ServerError_TopicNotFound, http.StatusNotFound, noRetry),
	is(resources.ErrNotFound, pulsar.ServerError_TopicNotFound, http.StatusNotFound, noRetry),
	is(resources.ErrSchemaNotFound, pulsar.ServerError_TopicNotFound, http.StatusNotFound, noRetry),

	// Invalid names and requests.
	is(topic.ErrInvalidName, pulsar.ServerError_InvalidTopicName, http.StatusPreconditionFailed, noRetry),
	is(service.ErrBadSubscription, pulsar.ServerError_InvalidTopicName, http.StatusPreconditionFailed, noRetry),

	// Backlog quota: "producer_request_hold" holds the producer, which tries again;
	// "producer_exception" fails it.
	is(service.ErrQuotaHold, pulsar.ServerError_ProducerBlockedQuotaExceededError, http.StatusInternalServerError, retry),
	is(service.ErrQuotaException, pulsar.ServerError_ProducerBlockedQuotaExceededException, http.StatusInternalServerError, noRetry),

	// Limits.
	is(service.ErrTooManyProducers, pulsar.ServerError_NotAllowedError, http.StatusInternalServerError, noRetry),
	is(service.ErrTooManyConsumers, pulsar.ServerError_NotAllowedError, http.StatusInternalServerError, noRetry),

	// Closing, fenced, moved or cut off from etcd: the client reconnects through a
	// lookup and finds the topic's (new) owner. ServiceNotReady is the code Pulsar
	// clients treat that way.
	is(service.ErrTopicClosed, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	is(service.ErrServiceClosed, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	is(managedledger.ErrFenced, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	// The admin REST had no row for a closed managed ledger: 500 there.
	is(managedledger.ErrClosed, pulsar.ServerError_ServiceNotReady, http.StatusInternalServerError, retry),
	is(service.ErrOwnershipLost, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	as[*ownership.NotOwnerError](pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	// Before context.DeadlineExceeded: a lease wait that timed out wraps both.
	is(ownership.ErrNoSession, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	is(ownership.ErrClosed, pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable, retry),
	is(context.DeadlineExceeded, pulsar.ServerError_ServiceNotReady, http.StatusGatewayTimeout, retry),

	// A lost compare-and-swap: another writer changed the record first.
	is(metadata.ErrRevisionMismatch, pulsar.ServerError_MetadataError, http.StatusInternalServerError, retry),

	// Admin-only conditions: the binary protocol never had a code of its own for them.
	is(metadata.ErrExists, pulsar.ServerError_UnknownError, http.StatusConflict, noRetry),
	is(resources.ErrNotEmpty, pulsar.ServerError_UnknownError, http.StatusConflict, noRetry),
	is(resources.ErrPartitionsNotIncreased, pulsar.ServerError_UnknownError, http.StatusConflict, noRetry),
	is(service.ErrTopicBusy, pulsar.ServerError_UnknownError, http.StatusPreconditionFailed, noRetry),
	is(ownership.ErrBadBundle, pulsar.ServerError_UnknownError, http.StatusNotFound, noRetry),
	// Offload: one manual offload at a time (Pulsar answers 409), and a broker without
	// an offload store refuses with a precondition failure as Pulsar does without an offloader.
	is(managedledger.ErrOffloadRunning, pulsar.ServerError_UnknownError, http.StatusConflict, noRetry),
	is(managedledger.ErrOffloadDisabled, pulsar.ServerError_UnknownError, http.StatusPreconditionFailed, noRetry),
	// Clusters and replication lists, with Pulsar's statuses (ClustersBase,
	// NamespacesBase.internalSetNamespaceReplicationClusters): a bad name, "global" or
	// an empty list 412, a cluster in use 412 ("Cluster not empty"), an unknown or
	// disallowed cluster 403, allowed clusters without a replication cluster 400.
	is(resources.ErrInvalidCluster, pulsar.ServerError_NotAllowedError, http.StatusPreconditionFailed, noRetry),
	is(resources.ErrClusterInUse, pulsar.ServerError_NotAllowedError, http.StatusPreconditionFailed, noRetry),
	is(resources.ErrClusterNotAllowed, pulsar.ServerError_NotAllowedError, http.StatusForbidden, noRetry),
	is(resources.ErrAllowedClustersTooNarrow, pulsar.ServerError_NotAllowedError, http.StatusBadRequest, noRetry),

	// Errors that answer the defaults, last so that anything more specific they wrap
	// decides. Listed so that the table is complete and each says whether it is
	// transient.
	// A fence met a rollover: the adds in no ledger fail and the producer sends them
	// again (SEND_ERROR turns UnknownError into PersistenceError).
	is(managedledger.ErrLedgerFenced, pulsar.ServerError_UnknownError, http.StatusInternalServerError, retry),
	is(managedledger.ErrNoEntry, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(managedledger.ErrNotClosed, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(ownership.ErrNotOwned, pulsar.ServerError_UnknownError, http.StatusInternalServerError, retry),
	is(metadata.ErrNotFound, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(cursor.ErrOutsideLayout, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(cursor.ErrBadBatch, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(cursor.ErrBadLayout, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(cursor.ErrBadPosition, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	is(cursor.ErrCorruptSnapshot, pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	as[*cursor.CorruptSnapshotError](pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
	as[*cursor.UnsupportedVersionError](pulsar.ServerError_UnknownError, http.StatusInternalServerError, noRetry),
}

// Lookup returns the row of err: the first row that matches, else Unknown and false.
func Lookup(err error) (Error, bool) {
	if err == nil {
		return Unknown, false
	}
	for _, e := range table {
		if e.match(err) {
			return e, true
		}
	}
	return Unknown, false
}

// ServerError is err's Pulsar ServerError code (UnknownError when no row matches).
func ServerError(err error) pulsar.ServerError {
	e, _ := Lookup(err)
	return e.Code
}

// HTTPStatus is err's admin REST status (500 when no row matches).
func HTTPStatus(err error) int {
	e, _ := Lookup(err)
	return e.HTTP
}

// Retriable reports whether err's condition is transient (false when no row matches).
func Retriable(err error) bool {
	e, _ := Lookup(err)
	return e.Retriable
}

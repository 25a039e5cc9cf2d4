package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/proto/pulsar"
)

// pins is every row's answer, written out: the clients react to these, so a change
// must be deliberate. Each row of the table must be pinned here exactly once.
var pins = []struct {
	err       error
	code      pulsar.ServerError
	status    int
	retriable bool
}{
	{service.ErrConsumerAssign, pulsar.ServerError_ConsumerAssignError, 500, false},
	{service.ErrProducerBusy, pulsar.ServerError_ProducerBusy, 500, false},
	{service.ErrProducerFenced, pulsar.ServerError_ProducerFenced, 500, false},
	{service.ErrConsumerBusy, pulsar.ServerError_ConsumerBusy, 500, false},
	{service.ErrSubscriptionBusy, pulsar.ServerError_ConsumerBusy, 412, false},
	{service.ErrTopicTerminated, pulsar.ServerError_TopicTerminatedError, 409, false},
	{managedledger.ErrTerminated, pulsar.ServerError_TopicTerminatedError, 409, false},
	{resources.ErrTopicNotFound, pulsar.ServerError_TopicNotFound, 404, false},
	{resources.ErrNotFound, pulsar.ServerError_TopicNotFound, 404, false},
	{resources.ErrSchemaNotFound, pulsar.ServerError_TopicNotFound, 404, false},
	{topic.ErrInvalidName, pulsar.ServerError_InvalidTopicName, 412, false},
	{service.ErrBadSubscription, pulsar.ServerError_InvalidTopicName, 412, false},
	{service.ErrQuotaHold, pulsar.ServerError_ProducerBlockedQuotaExceededError, 500, true},
	{service.ErrQuotaException, pulsar.ServerError_ProducerBlockedQuotaExceededException, 500, false},
	{service.ErrTooManyProducers, pulsar.ServerError_NotAllowedError, 500, false},
	{service.ErrTooManyConsumers, pulsar.ServerError_NotAllowedError, 500, false},
	{service.ErrTopicClosed, pulsar.ServerError_ServiceNotReady, 503, true},
	{service.ErrServiceClosed, pulsar.ServerError_ServiceNotReady, 503, true},
	{managedledger.ErrFenced, pulsar.ServerError_ServiceNotReady, 503, true},
	{managedledger.ErrClosed, pulsar.ServerError_ServiceNotReady, 500, true},
	{service.ErrOwnershipLost, pulsar.ServerError_ServiceNotReady, 503, true},
	{&ownership.NotOwnerError{}, pulsar.ServerError_ServiceNotReady, 503, true},
	{ownership.ErrNoSession, pulsar.ServerError_ServiceNotReady, 503, true},
	{ownership.ErrClosed, pulsar.ServerError_ServiceNotReady, 503, true},
	{context.DeadlineExceeded, pulsar.ServerError_ServiceNotReady, 504, true},
	{metadata.ErrRevisionMismatch, pulsar.ServerError_MetadataError, 500, true},
	{metadata.ErrExists, pulsar.ServerError_UnknownError, 409, false},
	{resources.ErrNotEmpty, pulsar.ServerError_UnknownError, 409, false},
	{resources.ErrPartitionsNotIncreased, pulsar.ServerError_UnknownError, 409, false},
	{service.ErrTopicBusy, pulsar.ServerError_UnknownError, 412, false},
	{ownership.ErrBadBundle, pulsar.ServerError_UnknownError, 404, false},
	{managedledger.ErrOffloadRunning, pulsar.ServerError_UnknownError, 409, false},
	{managedledger.ErrOffloadDisabled, pulsar.ServerError_UnknownError, 412, false},
	{resources.ErrInvalidCluster, pulsar.ServerError_NotAllowedError, 412, false},
	{resources.ErrClusterInUse, pulsar.ServerError_NotAllowedError, 412, false},
	{resources.ErrClusterNotAllowed, pulsar.ServerError_NotAllowedError, 403, false},
	{resources.ErrAllowedClustersTooNarrow, pulsar.ServerError_NotAllowedError, 400, false},
	{managedledger.ErrLedgerFenced, pulsar.ServerError_UnknownError, 500, true},
	{managedledger.ErrNoEntry, pulsar.ServerError_UnknownError, 500, false},
	{managedledger.ErrNotClosed, pulsar.ServerError_UnknownError, 500, false},
	{ownership.ErrNotOwned, pulsar.ServerError_UnknownError, 500, true},
	{metadata.ErrNotFound, pulsar.ServerError_UnknownError, 500, false},
	{cursor.ErrOutsideLayout, pulsar.ServerError_UnknownError, 500, false},
	{cursor.ErrBadBatch, pulsar.ServerError_UnknownError, 500, false},
	{cursor.ErrBadLayout, pulsar.ServerError_UnknownError, 500, false},
	{cursor.ErrBadPosition, pulsar.ServerError_UnknownError, 500, false},
	{cursor.ErrCorruptSnapshot, pulsar.ServerError_UnknownError, 500, false},
	// A *CorruptSnapshotError is also ErrCorruptSnapshot (its Is method), whose row
	// comes first; both answer the same.
	{&cursor.CorruptSnapshotError{}, pulsar.ServerError_UnknownError, 500, false},
	{&cursor.UnsupportedVersionError{}, pulsar.ServerError_UnknownError, 500, false},
}

func TestRowsArePinned(t *testing.T) {
	matched := make([]bool, len(table))
	for _, p := range pins {
		for _, err := range []error{p.err, fmt.Errorf("wrapped: %w", p.err), fmt.Errorf("twice: %w", fmt.Errorf("once: %w", p.err))} {
			e, ok := Lookup(err)
			if !ok {
				t.Errorf("%v: no row", err)
				continue
			}
			if e.Code != p.code || e.HTTP != p.status || e.Retriable != p.retriable {
				t.Errorf("%v: row says %s, %d, retriable %v; pinned %s, %d, retriable %v",
					err, e.Code, e.HTTP, e.Retriable, p.code, p.status, p.retriable)
			}
			if ServerError(err) != p.code || HTTPStatus(err) != p.status || Retriable(err) != p.retriable {
				t.Errorf("%v: ServerError/HTTPStatus/Retriable disagree with Lookup", err)
			}
		}
		for i, e := range table {
			if e.match(p.err) {
				matched[i] = true
			}
		}
	}
	for i, m := range matched {
		if !m {
			t.Errorf("row %d of the table (%s, %d) is not pinned", i, table[i].Code, table[i].HTTP)
		}
	}
	if len(pins) != len(table) {
		t.Errorf("%d pins for %d rows", len(pins), len(table))
	}
}

// TestFirstMatchWins pins the answers for errors that wrap two errors of the table.
func TestFirstMatchWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   pulsar.ServerError
		status int
	}{
		// ownership waits for a lease with the caller's context.
		{"no session, timed out", fmt.Errorf("%w: %w", ownership.ErrNoSession, context.DeadlineExceeded), pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable},
		// managedledger: a fenced add wraps the ledger's error.
		{"fenced, timed out", fmt.Errorf("%w: %w", managedledger.ErrFenced, context.DeadlineExceeded), pulsar.ServerError_ServiceNotReady, http.StatusServiceUnavailable},
		// A default-answer row never hides a more specific error it wraps.
		{"ledger fenced, timed out", fmt.Errorf("%w: ledger 7: %w", managedledger.ErrLedgerFenced, context.DeadlineExceeded), pulsar.ServerError_ServiceNotReady, http.StatusGatewayTimeout},
		{"consumer assign wins", fmt.Errorf("%w: %w", service.ErrConsumerBusy, service.ErrConsumerAssign), pulsar.ServerError_ConsumerAssignError, http.StatusInternalServerError},
	} {
		if got := ServerError(tc.err); got != tc.code {
			t.Errorf("%s: ServerError = %s, want %s", tc.name, got, tc.code)
		}
		if got := HTTPStatus(tc.err); got != tc.status {
			t.Errorf("%s: HTTPStatus = %d, want %d", tc.name, got, tc.status)
		}
	}
}

func TestUnknownErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("something else"), context.Canceled} {
		e, ok := Lookup(err)
		if ok || e.Code != pulsar.ServerError_UnknownError || e.HTTP != http.StatusInternalServerError || e.Retriable {
			t.Errorf("Lookup(%v) = %+v, %v; want Unknown, false", err, e, ok)
		}
		if ServerError(err) != pulsar.ServerError_UnknownError || HTTPStatus(err) != 500 || Retriable(err) {
			t.Errorf("%v: want UnknownError, 500, not retriable", err)
		}
	}
}

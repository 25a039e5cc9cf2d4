package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Errors of the admin layer itself (request parsing and validation).
var (
	// errBadRequest: the request is malformed (bad JSON, bad number in the path).
	errBadRequest = errors.New("bad request")
	// errPrecondition: the request is well-formed but a value is out of range or not
	// allowed (Pulsar answers these with 412).
	errPrecondition = errors.New("precondition failed")
)

// statusTable maps errors to HTTP statuses, first match wins. Pulsar's conventions:
// invalid names and out-of-range values 412, unknown resources 404, already existing
// or not empty 409, in use 412.
var statusTable = []struct {
	err    error
	status int
}{
	{errBadRequest, http.StatusBadRequest},
	{errPrecondition, http.StatusPreconditionFailed},
	{topic.ErrInvalidName, http.StatusPreconditionFailed},
	{service.ErrNotFound, http.StatusNotFound},
	{service.ErrTopicNotFound, http.StatusNotFound},
	{service.ErrSchemaNotFound, http.StatusNotFound},
	{metadata.ErrExists, http.StatusConflict},
	{service.ErrNotEmpty, http.StatusConflict},
	{service.ErrPartitionsNotIncreased, http.StatusConflict},
	{service.ErrTopicBusy, http.StatusPreconditionFailed},
	{service.ErrSubscriptionBusy, http.StatusPreconditionFailed},
	{service.ErrBadSubscription, http.StatusPreconditionFailed},
	{service.ErrTopicTerminated, http.StatusConflict},
	{managedledger.ErrTerminated, http.StatusConflict},
	{service.ErrTopicClosed, http.StatusServiceUnavailable},
	{service.ErrServiceClosed, http.StatusServiceUnavailable},
	{managedledger.ErrFenced, http.StatusServiceUnavailable},
	{service.ErrOwnershipLost, http.StatusServiceUnavailable},
	{ownership.ErrNoSession, http.StatusServiceUnavailable},
	{ownership.ErrClosed, http.StatusServiceUnavailable},
	{ownership.ErrBadBundle, http.StatusNotFound},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
}

// statusOf is the HTTP status for err: the table's, else 500.
func statusOf(err error) int {
	if errors.As(err, new(*ownership.NotOwnerError)) {
		return http.StatusServiceUnavailable // raced with a move: the client retries
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// writeError writes err with its status and Pulsar's {"reason": "..."} body.
func writeError(w http.ResponseWriter, err error) {
	writeReason(w, statusOf(err), err.Error())
}

// writeReason writes a status with Pulsar's error body.
func writeReason(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"reason": reason})
}

package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/strata-io/strata/broker/errcode"
)

// Errors of the admin layer itself (request parsing and validation). Their statuses are
// chosen here; every other error's status comes from the broker's error table
// (broker/errcode).
var (
	// errBadRequest: the request is malformed (bad JSON, bad number in the path).
	errBadRequest = errors.New("bad request")
	// errPrecondition: the request is well-formed but a value is out of range or not
	// allowed (Pulsar answers these with 412).
	errPrecondition = errors.New("precondition failed")
)

// statusOf is the HTTP status for err: 400 or 412 for the admin layer's own request
// errors, else the error table's status (500 for an error it does not know).
func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errPrecondition):
		return http.StatusPreconditionFailed
	}
	return errcode.HTTPStatus(err)
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

package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
)

// TestStatusOf: the admin layer's own request errors keep their statuses; every other
// error answers the error table's status (broker/errcode pins each row).
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("%w: invalid JSON body", errBadRequest), http.StatusBadRequest},
		{fmt.Errorf("%w: must be ≥ 0", errPrecondition), http.StatusPreconditionFailed},
		{fmt.Errorf("%w: %q", topic.ErrInvalidName, "a//b"), http.StatusPreconditionFailed},
		{resources.ErrNotFound, http.StatusNotFound},
		{resources.ErrNotEmpty, http.StatusConflict},
		{&ownership.NotOwnerError{}, http.StatusServiceUnavailable},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{errRemoteNotFound, http.StatusInternalServerError},
		{errors.New("anything else"), http.StatusInternalServerError},
	} {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestWriteError: Pulsar's error body, {"reason": "..."}, with the status.
func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, fmt.Errorf("%w: tenant x", resources.ErrNotFound))
	if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q; want 404, application/json", w.Code, w.Header().Get("Content-Type"))
	}
	var body struct{ Reason string }
	if err := json.NewDecoder(w.Body).Decode(&body); err != nil || body.Reason != "service: not found: tenant x" {
		t.Fatalf("body reason %q (%v), want the error's text", body.Reason, err)
	}
}

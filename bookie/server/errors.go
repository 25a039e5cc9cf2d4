package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-io/strata/bookie/store"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// reasonOf maps a store error to its reason in the bookie error table; "" when the
// error is not one the table names (an I/O error, a bug), which the client must treat
// as "unknown" — never as a negative answer.
func reasonOf(err error) string {
	var corrupt *store.CorruptEntryError
	switch {
	case errors.As(err, &corrupt):
		return bookiev1.ReasonCorruptEntry
	case errors.Is(err, store.ErrFenced):
		return bookiev1.ReasonLedgerFenced
	case errors.Is(err, store.ErrDuplicateEntry):
		return bookiev1.ReasonDuplicateEntry
	case errors.Is(err, store.ErrBadChecksum):
		return bookiev1.ReasonBadChecksum
	case errors.Is(err, store.ErrInvalidArgument):
		return bookiev1.ReasonInvalidArgument
	case errors.Is(err, store.ErrNoSuchLedger):
		return bookiev1.ReasonNoSuchLedger
	case errors.Is(err, store.ErrNoSuchEntry):
		return bookiev1.ReasonNoSuchEntry
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrFailed):
		// A failed store refuses every write from then on: the bookie is going down.
		return bookiev1.ReasonShuttingDown
	}
	return ""
}

// statusOf turns an error into the gRPC status error a unary RPC returns.
func statusOf(err error) error {
	if r := reasonOf(err); r != "" {
		return bookiev1.Error(r, err.Error())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// entryErrorOf turns an add's error into the AddResponse error.
func entryErrorOf(err error) *bookiev1.EntryError {
	if err == nil {
		return nil
	}
	if r := reasonOf(err); r != "" {
		return bookiev1.NewEntryError(r, err.Error())
	}
	return &bookiev1.EntryError{Code: uint32(codes.Internal), Message: err.Error()}
}

func invalid(format string, args ...any) error {
	return bookiev1.Error(bookiev1.ReasonInvalidArgument, fmt.Sprintf(format, args...))
}

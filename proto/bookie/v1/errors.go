package bookiev1

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every bookie error.
const ErrorDomain = "strata.bookie"

// Reasons: the machine-readable half of a bookie error. Each has one canonical code
// (Code); clients branch on the reason, never on message text. The table is in
// docs/format/bookie-rpc.md.
const (
	ReasonNoSuchLedger    = "NO_SUCH_LEDGER"       // NotFound: the bookie holds nothing of the ledger
	ReasonNoSuchEntry     = "NO_SUCH_ENTRY"        // NotFound: the ledger is known, the entry is not here
	ReasonLedgerFenced    = "LEDGER_FENCED"        // FailedPrecondition: a normal add to a fenced ledger, or any add to a deleted one
	ReasonEntryTooLarge   = "ENTRY_TOO_LARGE"      // InvalidArgument: payload over the configured limit
	ReasonBadChecksum     = "BAD_CHECKSUM"         // InvalidArgument: payload does not match the writer's CRC32C
	ReasonCorruptEntry    = "CORRUPT_ENTRY"        // DataLoss: stored bytes fail their CRC32C; read another replica
	ReasonOutOfOrder      = "OUT_OF_ORDER"         // InvalidArgument: entry id not above the last one on this stream
	ReasonDuplicateEntry  = "DUPLICATE_ENTRY"      // AlreadyExists: same id stored with different bytes
	ReasonInvalidArgument = "INVALID_ARGUMENT"     // InvalidArgument: malformed request (negative id, ...)
	ReasonReadOnly        = "BOOKIE_READ_ONLY"     // Unavailable: the bookie accepts no adds (disk full)
	ReasonShuttingDown    = "BOOKIE_SHUTTING_DOWN" // Unavailable: the bookie is stopping
	ReasonTimeout         = "TIMEOUT"              // DeadlineExceeded: a long poll ended with nothing new
)

// reasonCodes is the one table from reason to canonical code.
var reasonCodes = map[string]codes.Code{
	ReasonNoSuchLedger:    codes.NotFound,
	ReasonNoSuchEntry:     codes.NotFound,
	ReasonLedgerFenced:    codes.FailedPrecondition,
	ReasonEntryTooLarge:   codes.InvalidArgument,
	ReasonBadChecksum:     codes.InvalidArgument,
	ReasonCorruptEntry:    codes.DataLoss,
	ReasonOutOfOrder:      codes.InvalidArgument,
	ReasonDuplicateEntry:  codes.AlreadyExists,
	ReasonInvalidArgument: codes.InvalidArgument,
	ReasonReadOnly:        codes.Unavailable,
	ReasonShuttingDown:    codes.Unavailable,
	ReasonTimeout:         codes.DeadlineExceeded,
}

// CodeFor returns the canonical code of a reason (Unknown for an unknown reason).
func CodeFor(reason string) codes.Code {
	if c, ok := reasonCodes[reason]; ok {
		return c
	}
	return codes.Unknown
}

// Error builds the gRPC status error for a reason, with its ErrorInfo detail.
func Error(reason, msg string) error {
	st := status.New(CodeFor(reason), msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// NewEntryError builds the per-entry error carried on the AddEntries stream.
func NewEntryError(reason, msg string) *EntryError {
	return &EntryError{Code: uint32(CodeFor(reason)), Reason: reason, Message: msg}
}

// Err turns a stream EntryError into the same gRPC status error a unary call returns.
func (e *EntryError) Err() error {
	if e == nil {
		return nil
	}
	return Error(e.Reason, e.Message)
}

// ReasonOf extracts the bookie reason from an error returned by a bookie RPC (or by
// EntryError.Err). It returns "" for errors that carry none, such as transport failures.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return ""
	}
	for _, d := range se.GRPCStatus().Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == ErrorDomain {
			return info.Reason
		}
	}
	return ""
}

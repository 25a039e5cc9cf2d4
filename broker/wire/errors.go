package wire

import (
	"errors"
	"fmt"
)

// Errors that end a connection. Reader.ReadFrame returns them (wrapped, with detail);
// after one the stream can no longer be trusted to be in step.
var (
	// ErrFrameTooLarge: totalSize is above the Reader's limit, or an encoded frame
	// would be above the Writer's. Returned as a *FrameSizeError.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrFrameTooSmall: totalSize cannot even hold the commandSize field.
	ErrFrameTooSmall = errors.New("wire: frame too small")
	// ErrBadCommandSize: commandSize runs past the end of the frame.
	ErrBadCommandSize = errors.New("wire: command size exceeds frame")
	// ErrBadCommand: the BaseCommand bytes do not decode (a missing proto2 required
	// field included), or its type is one the protocol does not define. The encoders
	// return it too, for a command whose type is unset or undefined.
	ErrBadCommand = errors.New("wire: malformed command")
	// ErrMissingCommandBody: BaseCommand.type names a command whose body field is unset.
	ErrMissingCommandBody = errors.New("wire: command body missing")
	// ErrUnexpectedPayload: a payload section follows a command that carries none.
	ErrUnexpectedPayload = errors.New("wire: unexpected payload")
	// ErrTruncatedFrame: the stream ended inside a frame.
	ErrTruncatedFrame = errors.New("wire: truncated frame")
)

// Errors confined to one message. The Reader reports them in Frame.PayloadErr and the
// stream stays in step; AppendPayloadFrame returns them for an entry it cannot send.
var (
	// ErrChecksumMismatch: the CRC32-C in the frame does not match the bytes it covers.
	// Returned as a *ChecksumError. The broker answers SEND_ERROR ChecksumError.
	ErrChecksumMismatch = errors.New("wire: checksum mismatch")
	// ErrMalformedPayload: a size inside the payload section runs past its end, or the
	// MessageMetadata or BrokerEntryMetadata does not decode.
	ErrMalformedPayload = errors.New("wire: malformed payload")
	// ErrMissingPayload: a SEND or MESSAGE frame has no payload section.
	ErrMissingPayload = errors.New("wire: payload missing")
)

// Encoding errors.
var (
	// ErrWrongFrameKind: a payload command given to AppendFrame, or a simple command
	// given to AppendPayloadFrame.
	ErrWrongFrameKind = errors.New("wire: wrong frame kind for command")
	// ErrEncode: the command does not marshal, typically a proto2 required field unset.
	ErrEncode = errors.New("wire: cannot encode command")
)

// FrameSizeError reports a frame over a size limit. It matches ErrFrameTooLarge.
type FrameSizeError struct {
	Size uint64 // totalSize: bytes after the size field
	Max  uint64 // the limit it broke
}

func (e *FrameSizeError) Error() string {
	return fmt.Sprintf("wire: frame too large: %d bytes, limit %d", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *FrameSizeError) Is(target error) bool { return target == ErrFrameTooLarge }

// ChecksumError reports a CRC32-C mismatch. It matches ErrChecksumMismatch.
type ChecksumError struct {
	InFrame  uint32 // the checksum the sender wrote
	Computed uint32 // the checksum of the bytes received
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("wire: checksum mismatch: frame has %#08x, computed %#08x", e.InFrame, e.Computed)
}

// Is makes errors.Is(err, ErrChecksumMismatch) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }

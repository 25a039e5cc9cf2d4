package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

const (
	// readBufferSize is the bufio buffer put under a plain io.Reader.
	readBufferSize = 64 << 10
	// growStep is the largest allocation made ahead of the bytes that fill it: a
	// section up to this size is allocated at once, a bigger one grows by doubling as
	// data arrives.
	growStep = 64 << 10
	// keepCommandBuffer is the largest command buffer kept between frames.
	keepCommandBuffer = 64 << 10
)

// Reader reads frames from a connection.
//
// It is built for a connection's single reading goroutine. For a frame in progress it
// holds at most max(64 KiB, twice the bytes the peer has actually sent), however large
// the sizes in the frame claim to be; it never panics; and every error it returns is
// fatal to the connection (see ReadFrame).
type Reader struct {
	r            *bufio.Reader
	maxFrameSize uint32
	hdr          [2 * sizeLen]byte
	// cmdBuf is reused for command bytes: decoded protobuf messages copy what they
	// keep, so nothing handed to the caller aliases it.
	cmdBuf []byte
}

// NewReader returns a Reader over r that refuses frames whose totalSize exceeds
// maxFrameSize; maxFrameSize <= 0 means DefaultMaxFrameSize. A *bufio.Reader is used as
// is; anything else is wrapped in one.
func NewReader(r io.Reader, maxFrameSize int) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufferSize)
	}
	return &Reader{r: br, maxFrameSize: frameLimit(maxFrameSize)}
}

func frameLimit(n int) uint32 {
	switch {
	case n <= 0:
		return DefaultMaxFrameSize
	case uint64(n) > math.MaxUint32:
		return math.MaxUint32
	default:
		return uint32(n)
	}
}

// MaxFrameSize returns the limit on totalSize.
func (r *Reader) MaxFrameSize() int { return int(r.maxFrameSize) }

// ReadFrame reads and decodes the next frame.
//
// It returns io.EOF, unwrapped, when the stream ends cleanly between frames. Any other
// error is fatal to the connection: ErrTruncatedFrame, a *FrameSizeError
// (ErrFrameTooLarge), ErrFrameTooSmall, ErrBadCommandSize, ErrBadCommand,
// ErrMissingCommandBody, ErrUnexpectedPayload, or a wrapped error of the underlying
// reader (a deadline, a reset connection).
//
// For SEND and MESSAGE the frame's HeadersAndPayload are returned unchanged and parsed
// into Payload; a problem with them is reported in Frame.PayloadErr, not as an error.
func (r *Reader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:sizeLen]); err != nil {
		if err == io.EOF {
			return Frame{}, io.EOF
		}
		return Frame{}, readErr(err)
	}
	total := binary.BigEndian.Uint32(r.hdr[:sizeLen])
	if total > r.maxFrameSize {
		return Frame{}, &FrameSizeError{Size: uint64(total), Max: uint64(r.maxFrameSize)}
	}
	if total < sizeLen {
		return Frame{}, fmt.Errorf("%w: totalSize %d", ErrFrameTooSmall, total)
	}
	if _, err := io.ReadFull(r.r, r.hdr[sizeLen:]); err != nil {
		return Frame{}, readErr(err)
	}
	cmdSize := binary.BigEndian.Uint32(r.hdr[sizeLen:])
	if cmdSize > total-sizeLen {
		return Frame{}, fmt.Errorf("%w: commandSize %d, totalSize %d", ErrBadCommandSize, cmdSize, total)
	}

	var err error
	r.cmdBuf, err = readExact(r.r, r.cmdBuf, int(cmdSize))
	if err != nil {
		return Frame{}, readErr(err)
	}
	cmd := new(pulsar.BaseCommand)
	err = proto.Unmarshal(r.cmdBuf, cmd)
	if cap(r.cmdBuf) > keepCommandBuffer {
		r.cmdBuf = nil
	}
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if err := checkBody(cmd); err != nil {
		return Frame{}, err
	}

	f := Frame{Command: cmd}
	rest := int(total - sizeLen - cmdSize)
	if !CarriesPayload(cmd.GetType()) {
		if rest > 0 {
			return Frame{}, fmt.Errorf("%w: %d bytes after %s", ErrUnexpectedPayload, rest, cmd.GetType())
		}
		return f, nil
	}
	if rest == 0 {
		f.PayloadErr = fmt.Errorf("%w: %s frame ends after the command", ErrMissingPayload, cmd.GetType())
		return f, nil
	}
	f.HeadersAndPayload, err = readExact(r.r, nil, rest)
	if err != nil {
		return Frame{}, readErr(err)
	}
	f.Payload, f.PayloadErr = ParsePayload(f.HeadersAndPayload)
	return f, nil
}

// readErr turns an error met inside a frame into the error ReadFrame returns.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrTruncatedFrame, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("wire: read: %w", err)
}

// readExact reads exactly n bytes into buf[:0] and returns the filled slice. A buffer
// that is too small is replaced; when more than growStep bytes are missing the new
// buffer grows by doubling as the bytes arrive, so the memory held tracks what the peer
// sent rather than what it announced. Starting from a nil buf, the result has a
// capacity of exactly n.
func readExact(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			newCap := min(n, max(2*cap(buf), growStep))
			grown := make([]byte, len(buf), newCap)
			copy(grown, buf)
			buf = grown
		}
		end := min(n, cap(buf))
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

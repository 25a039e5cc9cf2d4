package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

// keepWriteBuffer is the largest buffer a Writer keeps after a Flush; a bigger one
// (left by a burst of large messages) is dropped so idle connections stay small.
const keepWriteBuffer = 256 << 10

// AppendFrame appends cmd, encoded as a simple frame, to dst and returns the extended
// slice. cmd must not be SEND or MESSAGE (use AppendPayloadFrame), must have its body
// for its type set, and must have every proto2 required field set. On error dst is
// returned unchanged (same length) with an error wrapping ErrWrongFrameKind,
// ErrBadCommand (type unset or undefined), ErrMissingCommandBody or ErrEncode.
func AppendFrame(dst []byte, cmd *pulsar.BaseCommand) ([]byte, error) {
	if err := checkBody(cmd); err != nil {
		return dst, err
	}
	if CarriesPayload(cmd.GetType()) {
		return dst, fmt.Errorf("%w: %s needs a payload", ErrWrongFrameKind, cmd.GetType())
	}
	return appendFrame(dst, cmd, nil, nil)
}

// AppendPayloadFrame appends a SEND or MESSAGE frame to dst: cmd, then the optional
// broker entry metadata section (bem may be nil), then entry.
//
// entry is a message's stored bytes, as Payload.Entry gave them when the SEND was read:
// either [0x0e01][crc32c][metadataSize][metadata][payload], which is copied unchanged
// (the checksum was verified on arrival and still covers the same bytes), or
// [metadataSize][metadata][payload] from a producer that sent no checksum, in front of
// which a 0x0e01 section with a freshly computed CRC32-C is written, since
// pulsar-client-go discards a MESSAGE without one. The entry's sizes are checked, its
// checksum is not.
//
// On error dst is returned unchanged, with an error wrapping ErrWrongFrameKind,
// ErrBadCommand, ErrMissingCommandBody, ErrEncode, ErrMissingPayload,
// ErrMalformedPayload or ErrFrameTooLarge.
func AppendPayloadFrame(dst []byte, cmd *pulsar.BaseCommand, bem *pulsar.BrokerEntryMetadata, entry []byte) ([]byte, error) {
	if err := checkBody(cmd); err != nil {
		return dst, err
	}
	if !CarriesPayload(cmd.GetType()) {
		return dst, fmt.Errorf("%w: %s carries no payload", ErrWrongFrameKind, cmd.GetType())
	}
	if err := checkEntry(entry); err != nil {
		return dst, err
	}
	return appendFrame(dst, cmd, bem, entry)
}

// checkEntry verifies that entry's sizes are consistent, so that a MESSAGE built from
// it parses on the client.
func checkEntry(entry []byte) error {
	if len(entry) == 0 {
		return fmt.Errorf("%w: empty entry", ErrMissingPayload)
	}
	rest := entry
	if startsWithMagic(rest, MagicChecksum) {
		if len(rest) < magicLen+checksumLen {
			return fmt.Errorf("%w: checksum truncated", ErrMalformedPayload)
		}
		rest = rest[magicLen+checksumLen:]
	}
	if len(rest) < sizeLen {
		return fmt.Errorf("%w: metadata size missing", ErrMalformedPayload)
	}
	if size := binary.BigEndian.Uint32(rest); uint64(size) > uint64(len(rest)-sizeLen) {
		return fmt.Errorf("%w: metadata size %d exceeds %d remaining bytes",
			ErrMalformedPayload, size, len(rest)-sizeLen)
	}
	return nil
}

// appendFrame encodes a frame whose parts have been validated. entry == nil means a
// simple frame.
func appendFrame(dst []byte, cmd *pulsar.BaseCommand, bem *pulsar.BrokerEntryMetadata, entry []byte) ([]byte, error) {
	start := len(dst)
	cmdSize := proto.Size(cmd)
	bemSize := 0
	total := uint64(sizeLen + cmdSize)
	if entry != nil {
		if bem != nil {
			bemSize = proto.Size(bem)
			total += uint64(magicLen + sizeLen + bemSize)
		}
		if !startsWithMagic(entry, MagicChecksum) {
			total += magicLen + checksumLen
		}
		total += uint64(len(entry))
	}
	if total > math.MaxUint32 {
		return dst, &FrameSizeError{Size: total, Max: math.MaxUint32}
	}

	// UseCachedSize reuses the sizes computed by proto.Size above; required fields are
	// still checked because AllowPartial is false.
	marshal := proto.MarshalOptions{UseCachedSize: true}
	dst = slices.Grow(dst, sizeLen+int(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(cmdSize))
	dst, err := marshal.MarshalAppend(dst, cmd)
	if err != nil {
		return dst[:start], fmt.Errorf("%w: %s: %w", ErrEncode, cmd.GetType(), err)
	}
	if entry == nil {
		return dst, nil
	}

	if bem != nil {
		dst = binary.BigEndian.AppendUint16(dst, MagicBrokerEntryMetadata)
		dst = binary.BigEndian.AppendUint32(dst, uint32(bemSize))
		if dst, err = marshal.MarshalAppend(dst, bem); err != nil {
			return dst[:start], fmt.Errorf("%w: broker entry metadata: %w", ErrEncode, err)
		}
	}
	if !startsWithMagic(entry, MagicChecksum) {
		dst = binary.BigEndian.AppendUint16(dst, MagicChecksum)
		dst = binary.BigEndian.AppendUint32(dst, checksum(entry))
	}
	dst = append(dst, entry...)
	if got := uint64(len(dst) - start - sizeLen); got != total {
		// Only possible if cmd or bem changed while being encoded.
		return dst[:start], fmt.Errorf("%w: %s: encoded %d bytes, expected %d", ErrEncode, cmd.GetType(), got, total)
	}
	return dst, nil
}

// Writer batches encoded frames in a reused buffer and writes them to a connection in
// one call per Flush.
//
// It belongs to the goroutine that owns the connection's write side, which typically
// appends every frame waiting in its queue and then calls Flush once. It refuses (and
// leaves out) any frame whose totalSize exceeds its limit, because the client would
// drop the whole connection over it.
type Writer struct {
	w            io.Writer
	maxFrameSize uint32
	// Invariant: buf holds whole, valid frames only; a failed append leaves it as it was.
	buf []byte
}

// NewWriter returns a Writer to w whose frames may not exceed maxFrameSize bytes of
// totalSize; maxFrameSize <= 0 means DefaultMaxFrameSize. Set it to the
// max_message_size announced in CONNECTED plus FramePadding.
func NewWriter(w io.Writer, maxFrameSize int) *Writer {
	return &Writer{w: w, maxFrameSize: frameLimit(maxFrameSize)}
}

// WriteCommand buffers cmd as a simple frame; see AppendFrame.
func (w *Writer) WriteCommand(cmd *pulsar.BaseCommand) error {
	buf, err := AppendFrame(w.buf, cmd)
	return w.commit(buf, err)
}

// WritePayloadCommand buffers a SEND or MESSAGE frame; see AppendPayloadFrame.
func (w *Writer) WritePayloadCommand(cmd *pulsar.BaseCommand, bem *pulsar.BrokerEntryMetadata, entry []byte) error {
	buf, err := AppendPayloadFrame(w.buf, cmd, bem, entry)
	return w.commit(buf, err)
}

func (w *Writer) commit(buf []byte, err error) error {
	start := len(w.buf)
	if err != nil {
		w.buf = buf[:start]
		return err
	}
	if size := uint64(len(buf) - start - sizeLen); size > uint64(w.maxFrameSize) {
		w.buf = buf[:start]
		return &FrameSizeError{Size: size, Max: uint64(w.maxFrameSize)}
	}
	w.buf = buf
	return nil
}

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes every buffered frame in one Write call. The buffer is emptied whatever
// the outcome: after a failed write the connection is unusable anyway.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	if cap(w.buf) > keepWriteBuffer {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("wire: write: %w", err)
	}
	return nil
}

package offload

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/strata-io/strata/tiered"
)

// DefaultBlockSize is the target size of a data block: big enough that a catch-up read
// costs one GET per MiB, small enough that a point read does not fetch much more than it
// needs.
const DefaultBlockSize = 1 << 20

// Ledger describes the ledger being offloaded.
type Ledger struct {
	ID       int64
	UUID     UUID   // this offload attempt's id
	Metadata []byte // the ledger's metadata, stored as is, opaque to this package
}

// WriterOptions tune a Writer.
type WriterOptions struct {
	// BlockSize is the target block size; a block is closed before an entry that would
	// take it past BlockSize, and an entry larger than BlockSize gets a block of its own.
	// Default DefaultBlockSize; at most 1 GiB.
	BlockSize int
}

// encoder turns entries into the bytes of an object, written to w as blocks fill. It does
// no I/O of its own, so the golden tests drive it directly.
type encoder struct {
	w         io.Writer
	blockSize int
	idx       Index
	block     []byte // entries of the block being filled
	blockN    int64  // entries in it
	off       int64  // bytes written to w so far
	started   bool
}

func newEncoder(w io.Writer, l Ledger, blockSize int) *encoder {
	return &encoder{
		w:         w,
		blockSize: blockSize,
		idx:       Index{LedgerID: l.ID, UUID: l.UUID, BlockSize: int64(blockSize), Metadata: append([]byte(nil), l.Metadata...)},
	}
}

func (e *encoder) write(b []byte) error {
	n, err := e.w.Write(b)
	e.off += int64(n)
	return err
}

func (e *encoder) append(entryID int64, data []byte) error {
	if entryID != e.idx.EntryCount {
		return fmt.Errorf("offload: entry %d appended where entry %d comes next", entryID, e.idx.EntryCount)
	}
	if uint64(len(data)) > 1<<32-1 {
		return fmt.Errorf("offload: entry %d is %d bytes, over the 4 GiB limit", entryID, len(data))
	}
	if !e.started {
		e.started = true
		if err := e.write(encodeHeader()); err != nil {
			return err
		}
	}
	if e.blockN > 0 && len(e.block)+len(data) > e.blockSize {
		if err := e.flush(); err != nil {
			return err
		}
	}
	e.block = append(e.block, data...)
	e.blockN++
	e.idx.EntryCount++
	e.idx.TotalSize += int64(len(data))
	e.idx.Lengths = append(e.idx.Lengths, uint32(len(data)))
	return nil
}

func (e *encoder) flush() error {
	if e.blockN == 0 {
		return nil
	}
	bl := BlockInfo{
		Offset:     e.off,
		Length:     int64(len(e.block)),
		FirstEntry: e.idx.EntryCount - e.blockN,
		Entries:    e.blockN,
		CRC:        crc32c(e.block),
	}
	if err := e.write(e.block); err != nil {
		return err
	}
	e.idx.Blocks = append(e.idx.Blocks, bl)
	e.block, e.blockN = e.block[:0], 0
	return nil
}

// finish writes the last block, the index and the footer; it returns the object's size.
func (e *encoder) finish() (int64, error) {
	if !e.started {
		e.started = true
		if err := e.write(encodeHeader()); err != nil {
			return 0, err
		}
	}
	if err := e.flush(); err != nil {
		return 0, err
	}
	index := e.idx.encode()
	if uint64(len(index)) > 1<<32-1 {
		return 0, fmt.Errorf("offload: index of %d bytes is over the 4 GiB limit", len(index))
	}
	f := footer{indexOffset: uint64(e.off), indexLength: uint32(len(index)), indexCRC: crc32c(index)}
	if err := e.write(index); err != nil {
		return 0, err
	}
	if err := e.write(f.encode()); err != nil {
		return 0, err
	}
	return e.off, nil
}

// Writer streams one ledger's entries into an object. Entries go in by id, from 0, with
// no gaps; blocks are sent to the store as they fill, so memory holds about one block
// (and the store's upload part), whatever the ledger's size.
//
// A Writer runs the store's Put on a goroutine of its own, fed through a pipe; Close or
// Abort must be called to end it. The object appears, atomically, only when Close returns
// nil. A Writer is not safe for concurrent use.
type Writer struct {
	enc    *encoder
	pw     *io.PipeWriter
	done   chan struct{} // closed when Put has returned
	putErr error         // Put's result; read after done
	err    error         // the first error; the Writer is dead after it
	closed bool
}

var errAborted = errors.New("offload: writer aborted")

// NewWriter starts writing ledger l to key in store.
func NewWriter(ctx context.Context, store tiered.ObjectStore, key string, l Ledger, opts WriterOptions) (*Writer, error) {
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.BlockSize < 1 || opts.BlockSize > 1<<30 {
		return nil, fmt.Errorf("offload: block size %d out of [1, 1 GiB]", opts.BlockSize)
	}
	if l.ID < 0 {
		return nil, fmt.Errorf("offload: negative ledger id %d", l.ID)
	}
	if uint64(len(l.Metadata)) > 1<<31 {
		return nil, fmt.Errorf("offload: ledger metadata of %d bytes", len(l.Metadata))
	}
	if err := tiered.CheckKey(key); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	w := &Writer{enc: newEncoder(pw, l, opts.BlockSize), pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.putErr = store.Put(ctx, key, pr)
		// Unblock a Write in progress if Put gave up before reading everything.
		pr.CloseWithError(fmt.Errorf("offload: upload ended: %w", errOr(w.putErr, io.ErrClosedPipe)))
	}()
	return w, nil
}

func errOr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// Append adds the next entry. data is copied before Append returns.
func (w *Writer) Append(entryID int64, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("offload: append after close")
	}
	if err := w.enc.append(entryID, data); err != nil {
		w.fail(err)
		return w.err
	}
	return nil
}

// Close writes the index and footer and waits for the upload. On success the object is in
// the store and Close returns its index (which the caller may record or verify against).
func (w *Writer) Close() (*Index, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.closed {
		return nil, errors.New("offload: close after close")
	}
	w.closed = true
	if _, err := w.enc.finish(); err != nil {
		w.fail(err)
		return nil, w.err
	}
	w.pw.Close()
	<-w.done
	if w.putErr != nil {
		w.err = fmt.Errorf("offload: upload of ledger %d: %w", w.enc.idx.LedgerID, w.putErr)
		return nil, w.err
	}
	idx := w.enc.idx
	return &idx, nil
}

// Abort stops the upload; nothing becomes visible under the key (a previous object there
// stays). It waits for the store's Put to return. Abort after Close is a no-op.
func (w *Writer) Abort() {
	if w.err == nil && w.closed {
		return
	}
	w.fail(errAborted)
}

// fail records err, cancels the upload by failing its body, and waits for Put.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.closed = true
	w.pw.CloseWithError(w.err)
	<-w.done
}

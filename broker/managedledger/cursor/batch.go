package cursor

import (
	"fmt"
	"math/bits"
)

// MaxBatchSize bounds the number of messages in a batch whose individual messages the
// cursor tracks (8 KiB of bits per partially acknowledged entry at most). A batch-index
// ack for a larger batch is refused with ErrBadBatch; the entry is then acknowledged
// only when the client acks it whole, and is redelivered whole until then.
const MaxBatchSize = 1 << 16

// Two bitset polarities meet here, so every name says which one it carries:
//
//   - acked bits, used inside the cursor and in the snapshot: bit i set = message i of the
//     batch is acknowledged;
//   - Pulsar's wire ack_set (MessageIdData.ack_set, repeated int64, a java.util.BitSet in
//     words of 64 bits, little-endian within and across words): bit i set = message i is
//     still UNacknowledged. Missing trailing words read as zero, i.e. acknowledged.

// batchAcks is the partial acknowledgement of one batch entry.
type batchAcks struct {
	// size is the number of messages in the batch.
	// Invariant: 1 ≤ size ≤ MaxBatchSize.
	size int
	// acked has bit i of word i/64 set iff message i is acknowledged.
	// Invariant: len(acked) == wordsFor(size); bits ≥ size are clear.
	acked []uint64
}

func wordsFor(size int) int { return (size + 63) / 64 }

// ones counts the acknowledged messages.
func (b *batchAcks) ones() int {
	n := 0
	for _, w := range b.acked {
		n += bits.OnesCount64(w)
	}
	return n
}

// valid reports whether b is a proper partial ack: some, but not all, indexes acked and
// no bit at or above size.
func (b *batchAcks) valid() bool {
	if b.size < 1 || b.size > MaxBatchSize || len(b.acked) != wordsFor(b.size) {
		return false
	}
	if r := b.size % 64; r != 0 && b.acked[len(b.acked)-1]>>r != 0 {
		return false
	}
	n := b.ones()
	return n > 0 && n < b.size
}

// wire returns b in Pulsar's ack_set polarity (set = unacknowledged), one word per 64
// messages, untrimmed.
func (b *batchAcks) wire() []int64 {
	out := make([]int64, len(b.acked))
	for i, w := range b.acked {
		out[i] = int64(^w)
	}
	if r := b.size % 64; r != 0 {
		out[len(out)-1] &= int64(uint64(1)<<r - 1)
	}
	return out
}

func checkBatchSize(size int) error {
	if size < 1 || size > MaxBatchSize {
		return fmt.Errorf("%w: batch size %d outside 1..%d", ErrBadBatch, size, MaxBatchSize)
	}
	return nil
}

// AckBatchIndexes acknowledges messages acked (indexes 0..batchSize-1) of the batch entry
// at p. Once every index of the entry is acknowledged the entry counts as acknowledged
// individually (and mark-delete may advance). Already-acknowledged indexes, and an entry
// already acknowledged whole, are no-ops. Errors: ErrBadBatch for a size out of range,
// an index outside the batch, or a size different from the one this entry's earlier
// partial acks carried; ErrOutsideLayout as for AckIndividual.
func (s *State) AckBatchIndexes(p Position, batchSize int, acked []int) error {
	if err := checkBatchSize(batchSize); err != nil {
		return err
	}
	b := &batchAcks{size: batchSize, acked: make([]uint64, wordsFor(batchSize))}
	for _, i := range acked {
		if i < 0 || i >= batchSize {
			return fmt.Errorf("%w: index %d outside batch of %d at %v", ErrBadBatch, i, batchSize, p)
		}
		b.acked[i/64] |= 1 << (i % 64)
	}
	return s.ackBatch(p, b)
}

// AckBatchWire is AckBatchIndexes with the acknowledged indexes given as the client sends
// them: Pulsar's ack_set, in which a SET bit means "still unacknowledged" and a clear or
// missing bit means acknowledged. Bits at or above batchSize are ignored. An empty
// ack_set therefore acknowledges the whole entry.
func (s *State) AckBatchWire(p Position, batchSize int, ackSet []int64) error {
	if err := checkBatchSize(batchSize); err != nil {
		return err
	}
	return s.ackBatch(p, fromWire(batchSize, ackSet))
}

// AckCumulativeBatch is the cumulative ack of a partially acknowledged batch, as a
// client with batch-index acks sends it: every position before p is acknowledged, and of
// the entry at p the messages whose bit is clear in ackSet (wire polarity, as in
// AckBatchWire). Errors as for AckBatchWire; on error nothing changes.
func (s *State) AckCumulativeBatch(p Position, batchSize int, ackSet []int64) error {
	if err := checkBatchSize(batchSize); err != nil {
		return err
	}
	if p.Compare(s.md) <= 0 {
		return nil
	}
	if !s.layout.Contains(p) {
		return fmt.Errorf("%w: %v", ErrOutsideLayout, p)
	}
	if err := s.checkBatchMatch(p, batchSize); err != nil {
		return err
	}
	if prev := p.before(); s.md.Less(prev) {
		s.moveMarkDelete(prev)
	}
	err := s.ackBatch(p, fromWire(batchSize, ackSet))
	s.advance()
	return err // nil: every check ackBatch makes has passed above
}

// BatchAckSet returns the ack_set to send with a redelivery of the entry at p, in wire
// polarity (a set bit is a message still to be delivered), or nil when the cursor holds
// no partial ack for p: the entry is then either acknowledged whole or to be delivered
// whole.
func (s *State) BatchAckSet(p Position) []int64 {
	b := s.batches[p]
	if b == nil {
		return nil
	}
	return b.wire()
}

// PartialBatchCount returns the number of partially acknowledged batch entries.
func (s *State) PartialBatchCount() int { return len(s.batches) }

// fromWire converts an ack_set (set = unacknowledged) of a batch of size messages into
// acked bits.
func fromWire(size int, ackSet []int64) *batchAcks {
	b := &batchAcks{size: size, acked: make([]uint64, wordsFor(size))}
	for i := range b.acked {
		var w uint64
		if i < len(ackSet) {
			w = uint64(ackSet[i])
		}
		b.acked[i] = ^w
	}
	if r := size % 64; r != 0 {
		b.acked[len(b.acked)-1] &= uint64(1)<<r - 1
	}
	return b
}

func (s *State) checkBatchMatch(p Position, size int) error {
	if old := s.batches[p]; old != nil && old.size != size {
		return fmt.Errorf("%w: batch at %v has %d messages, ack says %d", ErrBadBatch, p, old.size, size)
	}
	return nil
}

// ackBatch merges the acked bits of b into the entry at p.
func (s *State) ackBatch(p Position, b *batchAcks) error {
	if s.IsAcked(p) {
		return nil
	}
	if !s.layout.Contains(p) {
		return fmt.Errorf("%w: %v", ErrOutsideLayout, p)
	}
	if err := s.checkBatchMatch(p, b.size); err != nil {
		return err
	}
	if old := s.batches[p]; old != nil {
		for i, w := range b.acked {
			old.acked[i] |= w
		}
		b = old
	}
	switch n := b.ones(); {
	case n == 0:
		return nil
	case n == b.size:
		s.add(p) // also forgets the partial state
		s.advance()
	default:
		s.batches[p] = b
	}
	return nil
}

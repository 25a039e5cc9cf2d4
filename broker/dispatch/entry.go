package dispatch

import (
	"fmt"
	"math/bits"
	"strings"
)

// Entry is one entry of the managed ledger as the dispatcher sees it: a single
// message or a batch of NumMessages messages stored together.
//
// The driver fills every field except RedeliveryCount when it completes a
// Read; the dispatcher sets RedeliveryCount in the entries of a Send and
// leaves the others as they were.
type Entry struct {
	Pos Position

	// NumMessages is the number of messages in the entry (num_messages_in_batch,
	// 1 for a message that is not batched). Values below 1 count as 1.
	NumMessages int32

	// KeyHash is the sticky-key hash Key_Shared routes by:
	// Murmur3_32(ordering_key, else partition_key, else "NONE_KEY") & 0x7fffffff
	// % 65536. The other subscription types ignore it.
	KeyHash uint16

	// HasKey records whether the entry had a key. It is informational: entries
	// without one are routed by the hash the driver computed for "NONE_KEY".
	HasKey bool

	// AckSet is the batch-index ack state of a partially acknowledged batch, in
	// the wire's layout (bit i of word i/64 set = message i still unacked); nil
	// means every message of the entry is unacked. It is passed through to the
	// MESSAGE frame, and only the unacked messages count against permits.
	AckSet []int64

	// RedeliveryCount is set by the dispatcher on Send: how many times this
	// position was negatively acknowledged (Shared and Key_Shared; always 0 for
	// Exclusive and Failover, whose redelivery tracker is off as in Pulsar).
	RedeliveryCount uint32

	// Payload is opaque to the dispatcher and carried from ReadCompleted to Send.
	Payload []byte
}

// messages returns how many permits the entry consumes: its unacked messages,
// at least 1.
func (e *Entry) messages() int64 {
	n := int64(e.NumMessages)
	if n < 1 {
		n = 1
	}
	if e.AckSet == nil {
		return n
	}
	var unacked int64
	for i, w := range e.AckSet {
		if lo := int64(i) * 64; lo >= n {
			break
		} else if n-lo < 64 {
			w &= int64(uint64(1)<<uint(n-lo) - 1)
		}
		unacked += int64(bits.OnesCount64(uint64(w)))
	}
	return max(unacked, 1)
}

// String formats the entry for logs: position, then batch size, hash and
// redelivery count where they say something.
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	if e.NumMessages > 1 {
		fmt.Fprintf(&b, "x%d", e.NumMessages)
	}
	if e.RedeliveryCount > 0 {
		fmt.Fprintf(&b, "(rc=%d)", e.RedeliveryCount)
	}
	return b.String()
}

package dispatch

import (
	"fmt"
	"strings"
	"time"
)

// Action is one thing the driver must do, returned by Ready in the order the
// driver must do them. It is one of Read, Send, ActiveConsumerChange,
// StartTimer and CloseConsumer.
type Action interface {
	isAction()
	String() string
}

// Read asks the driver to read entries from the managed ledger and hand them
// to ReadCompleted. At most one Read is outstanding at a time.
//
// If Replay is empty, the driver reads up to MaxEntries entries positioned
// strictly after After, in log order, skipping entries the cursor has already
// acknowledged (individually or below mark-delete). It may return fewer,
// including none when it has nothing more now; the dispatcher then waits for
// NewEntries before reading the tail again.
//
// If Replay is not empty, the driver reads exactly those positions (ascending,
// len(Replay) ≤ MaxEntries) and returns the ones that still exist and are not
// acknowledged; a position left out is taken as gone for good.
type Read struct {
	After      Position
	Replay     []Position
	MaxEntries int
}

// Send asks the driver to write one MESSAGE frame per entry, in order, to the
// consumer, with each entry's RedeliveryCount and AckSet. Permits have already
// been charged; the dispatcher counts the entries as pending from now on.
type Send struct {
	ConsumerID uint64
	Entries    []Entry
}

// ActiveConsumerChange asks the driver to send ACTIVE_CONSUMER_CHANGE
// {consumer_id, is_active} to the consumer (Failover only).
type ActiveConsumerChange struct {
	ConsumerID uint64
	IsActive   bool
}

// StartTimer asks the driver to call TimerFired(Seq) once After has elapsed.
// Only Failover uses it, for activeConsumerFailoverDelayTimeMillis. Timers are
// never cancelled: a TimerFired whose Seq is no longer current is ignored.
type StartTimer struct {
	Seq   uint64
	After time.Duration
}

// CloseConsumer asks the driver to send CLOSE_CONSUMER to the consumer so the
// client reconnects (after a RewindTo, as SEEK requires). The dispatcher has
// already forgotten the consumer: a later RemoveConsumer for it is a no-op.
type CloseConsumer struct {
	ConsumerID uint64
}

func (Read) isAction()                 {}
func (Send) isAction()                 {}
func (ActiveConsumerChange) isAction() {}
func (StartTimer) isAction()           {}
func (CloseConsumer) isAction()        {}

func (a Read) String() string {
	if len(a.Replay) > 0 {
		return fmt.Sprintf("read replay=%v", a.Replay)
	}
	return fmt.Sprintf("read after=%s max=%d", a.After, a.MaxEntries)
}

func (a Send) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "send c%d:", a.ConsumerID)
	for _, e := range a.Entries {
		b.WriteByte(' ')
		b.WriteString(e.String())
	}
	return b.String()
}

func (a ActiveConsumerChange) String() string {
	if a.IsActive {
		return fmt.Sprintf("active-consumer-change c%d active", a.ConsumerID)
	}
	return fmt.Sprintf("active-consumer-change c%d inactive", a.ConsumerID)
}

func (a StartTimer) String() string {
	return fmt.Sprintf("start-timer seq=%d after=%s", a.Seq, a.After)
}

func (a CloseConsumer) String() string { return fmt.Sprintf("close-consumer c%d", a.ConsumerID) }

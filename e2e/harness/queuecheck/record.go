package queuecheck

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// sendState is what a producer knows about one attempt.
type sendState uint8

const (
	pending sendState = iota // sent, no outcome yet
	acked                    // the broker acknowledged it: it must be delivered
	failed                   // the send returned an error: it may or may not be stored
)

type attempt struct {
	sum   uint64 // checksum of the payload
	state sendState
}

// Sends records every send attempt of any number of producers and its outcome. It is
// safe for concurrent use.
type Sends struct {
	mu sync.Mutex
	// Invariant: nAcked and nFailed count the attempts in those states.
	attempts        map[ID]*attempt
	nAcked, nFailed int
	errs            map[string]int // failure messages and how often each came
	changed         chan struct{}  // closed and replaced at every outcome
	acks            []AckRecord    // every acknowledgement with a position, in arrival order
}

// AckRecord is one acknowledgement as the producer saw it: when it arrived and the
// position the broker gave the message.
type AckRecord struct {
	ID            ID
	At            time.Time
	Ledger, Entry int64
}

// NewSends returns an empty record.
func NewSends() *Sends {
	return &Sends{attempts: map[ID]*attempt{}, errs: map[string]int{}, changed: make(chan struct{})}
}

// Attempt records that payload is about to be sent under id; call it before the
// send, so that an outcome never precedes its attempt.
func (s *Sends) Attempt(id ID, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.attempts[id]; dup {
		// A reused id would make the check meaningless; it is the caller's bug.
		panic(fmt.Sprintf("queuecheck: id %s attempted twice", id))
	}
	s.attempts[id] = &attempt{sum: checksum(payload)}
}

// Ack records that the send of id was acknowledged.
func (s *Sends) Ack(id ID) { s.outcome(id, acked, nil) }

// AckAt records that the send of id was acknowledged with the message id
// (ledger, entry), now.
func (s *Sends) AckAt(id ID, ledger, entry int64) {
	s.mu.Lock()
	s.acks = append(s.acks, AckRecord{ID: id, At: time.Now(), Ledger: ledger, Entry: entry})
	s.mu.Unlock()
	s.outcome(id, acked, nil)
}

// AckRecords returns the acknowledgements recorded with AckAt, in arrival order.
func (s *Sends) AckRecords() []AckRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Fail records that the send of id returned err.
func (s *Sends) Fail(id ID, err error) { s.outcome(id, failed, err) }

func (s *Sends) outcome(id ID, st sendState, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attempts[id]
	if !ok {
		panic(fmt.Sprintf("queuecheck: outcome of %s, which was never attempted", id))
	}
	if a.state != pending {
		panic(fmt.Sprintf("queuecheck: second outcome of %s", id))
	}
	a.state = st
	if st == acked {
		s.nAcked++
	} else {
		s.nFailed++
		s.errs[err.Error()]++
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Acked is the number of acknowledged sends so far.
func (s *Sends) Acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nAcked
}

// WaitAcked blocks until at least n sends were acknowledged or ctx ends.
func (s *Sends) WaitAcked(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := s.nAcked, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("queuecheck: %d of %d sends acknowledged: %w", got, n, ctx.Err())
		}
	}
}

// ackedIDs returns the acknowledged ids.
func (s *Sends) ackedIDs() map[ID]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[ID]struct{}, s.nAcked)
	for id, a := range s.attempts {
		if a.state == acked {
			out[id] = struct{}{}
		}
	}
	return out
}

// Delivery is one message a subscription delivered.
type Delivery struct {
	ID ID // the id parsed from the payload; zero if it did not parse (Valid false)
	// Valid says whether the payload had the Payload layout.
	Valid bool
	// Sum is the payload's checksum; Head its first bytes (for reports).
	Sum  uint64
	Head string
	// MessageID is the broker's id of the message, for reports.
	MessageID string
}

func (d Delivery) String() string {
	if d.Valid {
		return fmt.Sprintf("%s (message %s)", d.ID, d.MessageID)
	}
	return fmt.Sprintf("%q... (message %s)", d.Head, d.MessageID)
}

// Receipts records, in order, every delivery of one subscription. It is safe for
// concurrent use, but the order only means something when one goroutine records.
type Receipts struct {
	mu         sync.Mutex
	deliveries []Delivery
	changed    chan struct{} // closed and replaced at every delivery
}

// NewReceipts returns an empty record.
func NewReceipts() *Receipts { return &Receipts{changed: make(chan struct{})} }

// headLen is how much of a payload a Delivery keeps for reports.
const headLen = 40

// Record adds a delivered payload with the broker's message id.
func (r *Receipts) Record(payload []byte, messageID string) {
	d := Delivery{Sum: checksum(payload), Head: string(payload[:min(len(payload), headLen)]), MessageID: messageID}
	d.ID, d.Valid = ParsePayload(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Len is the number of deliveries so far.
func (r *Receipts) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.deliveries)
}

// since returns the deliveries from index i on and a channel closed at the next one.
func (r *Receipts) since(i int) ([]Delivery, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries[i:]), r.changed
}

// WaitConsumed blocks until every send acknowledged in s by the time of the call
// has been delivered in r, or ctx ends; the error then names what is still missing.
// Call it once the producers have stopped, so that the set of acknowledged sends is
// final.
func WaitConsumed(ctx context.Context, s *Sends, r *Receipts) error {
	missing := s.ackedIDs()
	seen := 0
	for {
		ds, ch := r.since(seen)
		seen += len(ds)
		for _, d := range ds {
			if d.Valid {
				delete(missing, d.ID)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			ids := make([]ID, 0, len(missing))
			for id := range missing {
				ids = append(ids, id)
			}
			sortIDs(ids)
			return fmt.Errorf("queuecheck: %d acknowledged messages not delivered (first: %v): %w",
				len(ids), ids[:min(len(ids), reportFirst)], ctx.Err())
		}
	}
}

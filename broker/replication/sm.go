package replication

import (
	"fmt"
	"slices"
	"time"

	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// Position is a topic entry's position (ledger:entry).
type Position = cursor.Position

// CursorPrefix starts the name of every replicator cursor (Pulsar's replicatorPrefix).
const CursorPrefix = "pulsar.repl"

// CursorName is the durable cursor a replicator to remote reads from:
// "pulsar.repl.<remote>". Cluster names never contain a ".", so the remote is the text
// after the last "." (as Pulsar parses it).
func CursorName(remote string) string { return CursorPrefix + "." + remote }

// ProducerName is the name of the replicator's producer on the remote cluster,
// "pulsar.repl.<local>--><remote>": the remote recognises it as a replicator by the
// prefix and deduplicates what it sends by the original producer name and sequence id.
func ProducerName(local, remote string) string {
	return CursorPrefix + "." + local + "-->" + remote
}

// LocalOnly is the replicate_to value the Go client sends for DisableReplication.
const LocalOnly = "__local__"

// Config configures one replicator. Zero values take the defaults.
type Config struct {
	// Local and Remote are the cluster names (required).
	Local, Remote string
	// MarkDelete is the replicator cursor's mark-delete position when the replicator
	// starts: everything up to it was replicated (or skipped) already.
	MarkDelete Position
	// QueueSize bounds the entries read but not yet receipted (Pulsar's
	// replicationProducerQueueSize, 1000).
	QueueSize int
	// MinReadBatch and MaxReadBatch bound a cursor read (Pulsar's
	// dispatcherMinReadBatchSize 1, dispatcherMaxReadBatchSize 100). A read starts at
	// MaxReadBatch (or less when the queue is nearly full), drops to MinReadBatch after a
	// failed read and doubles back with each successful one.
	MinReadBatch, MaxReadBatch int
	// BackoffInitial and BackoffMax bound the wait before reconnecting to the remote (and
	// before retrying after its backlog quota stopped us): it doubles with each
	// consecutive failure, capped (Pulsar: 100 ms to 1 min).
	BackoffInitial, BackoffMax time.Duration
	// ReadBackoffInitial and ReadBackoffMax bound the wait before re-reading after a
	// failed cursor read (Pulsar: 1 s to 1 min).
	ReadBackoffInitial, ReadBackoffMax time.Duration
}

func (c *Config) setDefaults() {
	if c.QueueSize <= 0 {
		c.QueueSize = 1000
	}
	if c.MinReadBatch <= 0 {
		c.MinReadBatch = 1
	}
	if c.MaxReadBatch <= 0 {
		c.MaxReadBatch = 100
	}
	c.MaxReadBatch = min(c.MaxReadBatch, c.QueueSize)
	c.MinReadBatch = min(c.MinReadBatch, c.MaxReadBatch)
	if c.BackoffInitial <= 0 {
		c.BackoffInitial = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Minute
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffInitial)
	if c.ReadBackoffInitial <= 0 {
		c.ReadBackoffInitial = time.Second
	}
	if c.ReadBackoffMax <= 0 {
		c.ReadBackoffMax = time.Minute
	}
	c.ReadBackoffMax = max(c.ReadBackoffMax, c.ReadBackoffInitial)
}

// Entry is one stored entry read from the replicator cursor, with the fields of its
// metadata the replicator decides on. Payload is carried through to Send untouched.
type Entry struct {
	Pos Position
	// ProducerName and SequenceID are the original producer's (the remote dedups on them).
	ProducerName string
	SequenceID   int64
	// ReplicatedFrom is set on an entry that came from another cluster: never forwarded
	// (the loop breaker).
	ReplicatedFrom string
	// ReplicateTo, when not empty, lists the only clusters the entry goes to
	// (["__local__"]: nowhere).
	ReplicateTo []string
	// Messages (a batch's message count, ≥ 1) and Size (bytes) are charged to the rate
	// limit.
	Messages int
	Size     int
	// Payload is the stored entry; the state machine never looks at it.
	Payload []byte
}

// Send asks the driver to send one entry on producer Conn, with replicated_from set to
// ReplicatedFrom and the original producer name and sequence id kept.
type Send struct {
	Conn           uint64
	Entry          Entry
	ReplicatedFrom string
}

// Read asks the driver to read up to Max entries from the cursor's read position,
// waiting until at least one is available; the result is reported with ID.
type Read struct {
	ID  uint64
	Max int
}

// Ready is what the state machine asks its driver to do after an input, in this order:
// Disconnect, Ack, Rewind, Connect, Sends, Read, then arm the timer.
type Ready struct {
	// Disconnect: close the current remote producer; its pending sends are forgotten
	// (their receipts, if any arrive, are reported and ignored).
	Disconnect bool
	// Ack: move the cursor's mark-delete to this position (cumulative).
	Ack *Position
	// Rewind: cancel any outstanding read and move the cursor's read position back to
	// just after the mark-delete.
	Rewind bool
	// Connect ≠ 0: create the remote producer; report the outcome with this id.
	Connect uint64
	// Sends: send these entries, in order, on producer Sends[i].Conn.
	Sends []Send
	// Read: start a cursor read (at most one is outstanding).
	Read *Read
	// Timer: call Tick at this time; zero: no timer needed. Each Ready states the one
	// deadline the state machine wants (it replaces the previous one).
	Timer time.Time
	// Status: the replicator's status changed to this (for stats and logs).
	Status *Status
}

// State is the replicator's state, as stats report it.
type State int

const (
	// Connecting: waiting for the remote producer to be created.
	Connecting State = iota
	// BackingOff: the remote failed; waiting before reconnecting.
	BackingOff
	// Replicating: connected; reading, sending, acknowledging.
	Replicating
	// Paused: the remote refused our publishes over its backlog quota; waiting before
	// trying again.
	Paused
	// Closed: stopped for good.
	Closed
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case BackingOff:
		return "backing-off"
	case Replicating:
		return "replicating"
	case Paused:
		return "paused"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status says what the replicator is doing and, when it is not making progress, why.
type Status struct {
	State State
	// Reason is empty while replication progresses (or is caught up); otherwise it says
	// what it waits for: the remote's last error, the rate limit, a failed read, a full
	// queue.
	Reason string
	// RetryAt is when it will try again (zero: not waiting on a timer).
	RetryAt time.Time
}

// Invariant (all fields): pending holds, in cursor order, every entry taken from the
// read buffer since the last rewind and not yet acknowledged, each either sent and
// awaiting its receipt or skipped (done); buffer holds the entries read after them, not
// yet taken; positions in pending then buffer strictly increase and all lie after
// acked.
type pendingEntry struct {
	pos  Position
	done bool // receipted, or skipped (never sent)
}

// Replicator is one replicator's decisions: which entries to read, send and
// acknowledge, when to reconnect and why it is not making progress. It is a plain state
// machine: each method takes one input (with the current time) and returns the Ready
// the driver carries out. It starts no goroutine and does no I/O; one goroutine owns it.
type Replicator struct {
	cfg    Config
	state  State
	reason string
	// retryAt is the reconnect (BackingOff, Paused) deadline.
	retryAt time.Time
	// conn is the current producer's id (the latest Connect); connectedAt when it
	// connected.
	conn        uint64
	connectedAt time.Time
	// failures counts consecutive remote failures (the backoff exponent).
	failures int

	acked   Position
	pending []pendingEntry
	buffer  []Entry

	readID       uint64
	reading      bool
	readBatch    int
	readFailures int
	readRetryAt  time.Time
	readReason   string

	// permitMsgs and permitBytes are the rate limit's remaining permits; -1: unlimited.
	permitMsgs, permitBytes int64

	last Status
}

// New returns a replicator that has not started; Start connects it.
func New(cfg Config) *Replicator {
	cfg.setDefaults()
	r := &Replicator{
		cfg:         cfg,
		state:       Connecting,
		acked:       cfg.MarkDelete,
		readBatch:   cfg.MaxReadBatch,
		permitMsgs:  -1,
		permitBytes: -1,
	}
	r.last = Status{State: Connecting}
	return r
}

// Status is the replicator's current status.
func (r *Replicator) Status() Status { return r.status() }

// Acked is the position up to which everything was replicated or skipped.
func (r *Replicator) Acked() Position { return r.acked }

// InFlight is the number of entries sent and not yet receipted.
func (r *Replicator) InFlight() int {
	n := 0
	for _, p := range r.pending {
		if !p.done {
			n++
		}
	}
	return n
}

// Start asks for the first connection.
func (r *Replicator) Start(now time.Time) Ready {
	var rd Ready
	if r.state == Connecting && r.conn == 0 {
		r.conn++
		rd.Connect = r.conn
	}
	return r.finish(now, rd)
}

// Connected reports that producer conn was created.
func (r *Replicator) Connected(now time.Time, conn uint64) Ready {
	var rd Ready
	if r.state != Connecting || conn != r.conn {
		return r.finish(now, rd)
	}
	r.state, r.reason, r.connectedAt = Replicating, "", now
	r.pump(&rd)
	return r.finish(now, rd)
}

// ConnectFailed reports that creating producer conn failed.
func (r *Replicator) ConnectFailed(now time.Time, conn uint64, reason string) Ready {
	var rd Ready
	if r.state != Connecting || conn != r.conn {
		return r.finish(now, rd)
	}
	r.fail(now, &rd, BackingOff, "connect failed: "+reason, false)
	return r.finish(now, rd)
}

// Disconnected reports that producer conn's connection was lost.
func (r *Replicator) Disconnected(now time.Time, conn uint64, reason string) Ready {
	var rd Ready
	if conn != r.conn || (r.state != Replicating && r.state != Connecting) {
		return r.finish(now, rd)
	}
	if r.state == Replicating && !now.Before(r.connectedAt.Add(r.cfg.BackoffMax)) {
		r.failures = 0 // a connection that lived long ends an earlier failure streak
	}
	r.fail(now, &rd, BackingOff, "disconnected: "+reason, false)
	return r.finish(now, rd)
}

// Receipt reports that the remote persisted the entry at pos sent on producer conn.
// Receipts come in send order; one out of order is treated as a send failure.
func (r *Replicator) Receipt(now time.Time, conn uint64, pos Position) Ready {
	var rd Ready
	if r.state != Replicating || conn != r.conn {
		return r.finish(now, rd)
	}
	i := slices.IndexFunc(r.pending, func(p pendingEntry) bool { return !p.done })
	if i < 0 || r.pending[i].pos != pos {
		r.fail(now, &rd, BackingOff, fmt.Sprintf("receipt for %s out of order", pos), true)
		return r.finish(now, rd)
	}
	r.pending[i].done = true
	r.failures = 0
	r.pump(&rd)
	return r.finish(now, rd)
}

// SendFailed reports that sending the entry at pos on producer conn failed. The
// producer is closed and everything is sent again from the mark-delete on a new one:
// later entries may have been persisted, and only the remote's dedup can sort them out.
func (r *Replicator) SendFailed(now time.Time, conn uint64, pos Position, reason string) Ready {
	var rd Ready
	if r.state != Replicating || conn != r.conn {
		return r.finish(now, rd)
	}
	r.fail(now, &rd, BackingOff, fmt.Sprintf("send of %s failed: %s", pos, reason), true)
	return r.finish(now, rd)
}

// QuotaExceeded reports that the remote refused a publish on producer conn because the
// remote topic is over its backlog quota. The replicator pauses (producer closed) and
// tries again after the backoff, from the mark-delete.
func (r *Replicator) QuotaExceeded(now time.Time, conn uint64) Ready {
	var rd Ready
	if conn != r.conn || (r.state != Replicating && r.state != Connecting) {
		return r.finish(now, rd)
	}
	r.fail(now, &rd, Paused, "remote backlog quota exceeded", true)
	return r.finish(now, rd)
}

// ReadDone reports the entries read by read id, in cursor order.
func (r *Replicator) ReadDone(now time.Time, id uint64, entries []Entry) Ready {
	var rd Ready
	if !r.reading || id != r.readID {
		return r.finish(now, rd)
	}
	r.reading = false
	r.readFailures, r.readReason = 0, ""
	if len(entries) > 0 {
		r.readBatch = min(r.readBatch*2, r.cfg.MaxReadBatch)
	}
	last := r.acked
	if n := len(r.buffer); n > 0 {
		last = r.buffer[n-1].Pos
	} else if n := len(r.pending); n > 0 {
		last = r.pending[n-1].pos
	}
	for _, e := range entries {
		if !last.Less(e.Pos) {
			continue // at or before an entry already held (a driver bug): never taken twice
		}
		r.buffer = append(r.buffer, e)
		last = e.Pos
	}
	r.pump(&rd)
	return r.finish(now, rd)
}

// ReadFailed reports that read id failed. The read is retried after a backoff, one
// MinReadBatch at a time.
func (r *Replicator) ReadFailed(now time.Time, id uint64, reason string) Ready {
	var rd Ready
	if !r.reading || id != r.readID {
		return r.finish(now, rd)
	}
	r.reading = false
	r.readBatch = r.cfg.MinReadBatch
	r.readRetryAt = now.Add(backoff(r.cfg.ReadBackoffInitial, r.cfg.ReadBackoffMax, r.readFailures))
	r.readFailures++
	r.readReason = "cursor read failed: " + reason
	return r.finish(now, rd)
}

// Permits sets the rate limit's permits for the period that starts now: msgs messages
// and bytes bytes (-1: unlimited). The driver's limiter calls it at each period (Pulsar's
// ratePeriodInSecond); an entry is sent while both are above zero, so one entry may
// overshoot the period's budget, as in Pulsar.
func (r *Replicator) Permits(now time.Time, msgs, bytes int64) Ready {
	var rd Ready
	r.permitMsgs, r.permitBytes = msgs, bytes
	if r.state == Replicating {
		r.pump(&rd)
	}
	return r.finish(now, rd)
}

// Tick reports that time reached now (the driver's timer fired).
func (r *Replicator) Tick(now time.Time) Ready {
	var rd Ready
	if (r.state == BackingOff || r.state == Paused) && !now.Before(r.retryAt) {
		r.state, r.retryAt = Connecting, time.Time{}
		r.conn++
		rd.Connect = r.conn
	}
	if !r.readRetryAt.IsZero() && !now.Before(r.readRetryAt) {
		r.readRetryAt = time.Time{}
		if r.state == Replicating {
			r.pump(&rd)
		}
	}
	return r.finish(now, rd)
}

// Close stops the replicator for good: the producer is closed; the cursor keeps its
// mark-delete.
func (r *Replicator) Close(now time.Time) Ready {
	var rd Ready
	if r.state == Closed {
		return rd
	}
	rd.Disconnect = r.state == Replicating || r.state == Connecting && r.conn > 0
	rd.Rewind = r.reading
	r.state, r.reason = Closed, ""
	r.reading, r.pending, r.buffer = false, nil, nil
	r.retryAt, r.readRetryAt = time.Time{}, time.Time{}
	return r.finish(now, rd)
}

// fail handles a remote failure: drop the producer and everything in flight, rewind the
// cursor to the mark-delete, and wait the backoff before reconnecting.
func (r *Replicator) fail(now time.Time, rd *Ready, to State, reason string, disconnect bool) {
	rd.Disconnect = disconnect
	rd.Rewind = true
	r.reading = false
	r.readRetryAt, r.readReason = time.Time{}, ""
	r.readFailures = 0
	// pending never starts with a done entry (pump acknowledges those), so dropping it
	// loses no acknowledgement.
	r.pending, r.buffer = nil, nil
	r.state, r.reason = to, reason
	r.retryAt = now.Add(backoff(r.cfg.BackoffInitial, r.cfg.BackoffMax, r.failures))
	r.failures++
}

// backoff is initial·2^n, capped at max.
func backoff(initial, maxWait time.Duration, n int) time.Duration {
	d := initial
	for range n {
		if d >= maxWait/2 {
			return maxWait
		}
		d *= 2
	}
	return min(d, maxWait)
}

// skips reports whether e is not for the remote: it came from another cluster, or its
// replicate_to leaves the remote out.
func (r *Replicator) skips(e Entry) bool {
	if e.ReplicatedFrom != "" {
		return true
	}
	return len(e.ReplicateTo) > 0 && !slices.Contains(e.ReplicateTo, r.cfg.Remote)
}

// pump sends what the buffer and the permits allow, acknowledges what is done and reads
// more when there is room. Only while Replicating.
func (r *Replicator) pump(rd *Ready) {
	for len(r.buffer) > 0 {
		e := r.buffer[0]
		if r.skips(e) {
			r.pending = append(r.pending, pendingEntry{pos: e.Pos, done: true})
			r.buffer = r.buffer[1:]
			continue
		}
		if r.permitMsgs == 0 || r.permitBytes == 0 {
			break
		}
		r.permitMsgs = spend(r.permitMsgs, int64(max(e.Messages, 1)))
		r.permitBytes = spend(r.permitBytes, int64(e.Size))
		rd.Sends = append(rd.Sends, Send{Conn: r.conn, Entry: e, ReplicatedFrom: r.cfg.Local})
		r.pending = append(r.pending, pendingEntry{pos: e.Pos})
		r.buffer = r.buffer[1:]
	}
	if len(r.buffer) == 0 {
		r.buffer = nil
	}
	r.advanceAck(rd)
	held := len(r.pending) + len(r.buffer)
	room := r.cfg.QueueSize - held
	if !r.reading && r.readRetryAt.IsZero() && room > 0 && held*10 < r.cfg.QueueSize*9 {
		r.reading = true
		r.readID++
		rd.Read = &Read{ID: r.readID, Max: min(r.readBatch, room)}
	}
}

// spend takes n permits from p (-1: unlimited), never below zero.
func spend(p, n int64) int64 {
	if p < 0 {
		return p
	}
	return max(p-n, 0)
}

// advanceAck acknowledges the done entries at the head of pending: never past an entry
// that is still awaiting its receipt.
func (r *Replicator) advanceAck(rd *Ready) {
	i := 0
	for i < len(r.pending) && r.pending[i].done {
		i++
	}
	if i == 0 {
		return
	}
	r.acked = r.pending[i-1].pos
	ack := r.acked
	rd.Ack = &ack
	r.pending = r.pending[i:]
	if len(r.pending) == 0 {
		r.pending = nil
	}
}

func (r *Replicator) status() Status {
	s := Status{State: r.state, Reason: r.reason}
	switch r.state {
	case BackingOff, Paused:
		s.RetryAt = r.retryAt
	case Replicating:
		switch {
		case r.readReason != "":
			s.Reason, s.RetryAt = r.readReason, r.readRetryAt
		case len(r.buffer) > 0 && (r.permitMsgs == 0 || r.permitBytes == 0):
			s.Reason = "rate limited: waiting for permits"
		case len(r.pending)+len(r.buffer) >= r.cfg.QueueSize:
			s.Reason = "queue full: waiting for the remote's receipts"
		}
	}
	return s
}

// finish fills in the timer and the status change.
func (r *Replicator) finish(now time.Time, rd Ready) Ready {
	var deadlines []time.Time
	if r.state == BackingOff || r.state == Paused {
		deadlines = append(deadlines, r.retryAt)
	}
	if !r.readRetryAt.IsZero() {
		deadlines = append(deadlines, r.readRetryAt)
	}
	if len(deadlines) > 0 {
		rd.Timer = slices.MinFunc(deadlines, time.Time.Compare)
	}
	if s := r.status(); s != r.last {
		r.last = s
		rd.Status = &s
	}
	return rd
}

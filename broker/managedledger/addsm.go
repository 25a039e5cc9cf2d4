package managedledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
)

type mlState int

const (
	stateOpen    mlState = iota // a writer is ready
	stateRolling                // a new ledger is being created; adds queue
	stateFenced                 // a newer owner exists
	stateClosed
)

func (s mlState) String() string {
	switch s {
	case stateOpen:
		return "open"
	case stateRolling:
		return "rolling"
	case stateFenced:
		return "fenced"
	case stateClosed:
		return "closed"
	}
	return fmt.Sprintf("mlState(%d)", int(s))
}

// addOp is one append in flight. Ops complete (their callbacks run) in the order they
// were made.
type addOp struct {
	data []byte
	cb   func(Position, error)
	// barrier marks an op that is not an entry: it is delivered in order and changes
	// nothing (Terminate waits on one for every earlier add).
	barrier bool
	// set on completion:
	done bool
	pos  Position
	err  error
}

// errBarrier is the outcome of a barrier op (never seen by callers).
var errBarrier = errors.New("managedledger: barrier")

// errAwaitingRecovery marks an op (not done) whose add failed because its ledger was
// fenced, until the fenced ledger is settled. Never seen by callers.
var errAwaitingRecovery = errors.New("managedledger: add awaiting the fenced ledger's recovery")

// ErrLedgerFenced: the add was not written. Its ledger was fenced and closed by a
// recoverer other than a new owner — the auto-recovery worker re-replicating a lost
// bookie's fragment — before the entry was durable; this broker still owns the topic
// and has moved on to a new ledger, so the add can simply be sent again.
var ErrLedgerFenced = errors.New("managedledger: ledger fenced by recovery before the add was durable; send it again")

// addSubmit asks the driver to hand op to the writer of ledger Ledger.
type addSubmit struct {
	Op     *addOp
	Ledger int64
}

// addRoll asks the driver to roll over away from ledger Old: create the next ledger,
// append it to the record, and answer RolledOver or RolloverFailed. With Fenced, Old
// was fenced under its writer: first wait for every add made to it to call back, then
// settle them (SettleFenced) from the recovered ledger's last entry — or RolloverFailed
// if the record shows a new owner.
type addRoll struct {
	Old    int64
	Fenced bool
}

// addReady is what the add state machine asks its driver to do since the last call to
// Ready. The driver hands Submit to the writers in order (under the lock that orders
// submissions, so that entry ids follow the order of the adds), starts Roll if set,
// and delivers Deliver — completed ops, in the order the adds were made — to the
// callbacks in order, after it made every successful one part of the log.
type addReady struct {
	Submit  []addSubmit
	Roll    *addRoll
	Deliver []*addOp
}

// addConfig is what the add state machine needs of Config.
type addConfig struct {
	MaxEntries int64
	MaxSize    int64
	MaxAge     time.Duration
}

// addSM decides the add path of a managed ledger — where each add goes, when to roll
// over, how a fenced ledger's adds end, the order completions are delivered in —
// without I/O, goroutines or clocks: the driver (add.go) feeds it the adds (with the
// time), the writers' outcomes, the results of the rollovers and recoveries it asked
// for, and Close and Terminate, and performs what Ready returns. It is not safe for
// concurrent use: the managed ledger feeds it under ml.mu.
//
// The rules it keeps:
//   - every add is delivered exactly once, strictly in the order the adds were made,
//     whatever the outcome and across rollovers;
//   - an add goes to the current ledger; the first add after that ledger reached the
//     entry count, the size or the age limit (age only once it holds an entry), or
//     after a write to it failed, starts a rollover; adds made while rolling over queue
//     and go, in order, to the next ledger;
//   - an add that failed because its ledger was fenced waits for that ledger's
//     recovery: if the record still is this owner's, the adds up to the recovered last
//     entry succeed and — when the fenced ledger was the current one — the others go to
//     the next ledger ahead of the queued adds; if another owner changed the record,
//     they fail with ErrFenced and the state machine turns fenced;
//   - once closed, fenced or terminated, new adds are refused (delivered with the error,
//     after every earlier add).
type addSM struct {
	cfg addConfig

	state mlState
	// terminated: adds are refused with ErrTerminated (also set from the record).
	terminated bool
	// ledger is the current ledger's id (-1: none yet) and created its creation time.
	ledger  int64
	created time.Time
	// entries and size count the current ledger's delivered successful adds: what
	// the count and size limits compare against.
	entries, size int64
	// broken: a write to the current ledger failed; the next add rolls over.
	broken bool
	// lastAdd is when the last add was accepted (RollIdle).
	lastAdd time.Time
	// Invariant: pending holds every op not yet delivered, in the order the adds were
	// made; queued holds the tail of it that waits for the next ledger while rolling
	// over. Ops of a ledger all precede ops of later ledgers in pending.
	pending []*addOp
	queued  []*addOp

	rd addReady
}

func newAddSM(cfg addConfig, ledger int64, created time.Time, terminated bool) *addSM {
	return &addSM{cfg: cfg, ledger: ledger, created: created, terminated: terminated}
}

// Ready returns what the driver must do now, and forgets it.
func (s *addSM) Ready() addReady {
	rd := s.rd
	s.rd = addReady{}
	return rd
}

// refusal is the error an add gets now without being written, or nil.
func (s *addSM) refusal() error {
	switch {
	case s.state == stateFenced:
		return ErrFenced
	case s.state == stateClosed:
		return ErrClosed
	case s.terminated:
		return ErrTerminated
	}
	return nil
}

// full reports whether the current ledger passed a rollover limit at now.
func (s *addSM) full(now time.Time) bool {
	return s.entries >= s.cfg.MaxEntries || s.size >= s.cfg.MaxSize ||
		(s.entries > 0 && now.Sub(s.created) >= s.cfg.MaxAge)
}

// Add takes a new add at time now.
func (s *addSM) Add(op *addOp, now time.Time) {
	if err := s.refusal(); err != nil {
		op.done, op.err = true, err
		s.pending = append(s.pending, op)
		s.advance()
		return
	}
	s.pending = append(s.pending, op)
	s.lastAdd = now
	switch {
	case s.state == stateRolling:
		s.queued = append(s.queued, op)
	case s.broken || s.full(now):
		s.state = stateRolling
		s.queued = append(s.queued, op)
		s.rd.Roll = &addRoll{Old: s.ledger}
	default:
		s.rd.Submit = append(s.rd.Submit, addSubmit{Op: op, Ledger: s.ledger})
	}
}

// Written records the writer's outcome of op: entry pos, or err.
//
// An add that failed with ledger.ErrFenced is not complete yet: its ledger was fenced
// — by a new owner of the topic, or by the auto-recovery worker closing the ledger to
// re-replicate a lost bookie's fragment — and whether the entry is in the ledger is
// decided by the recovered ledger's last entry. The op waits (errAwaitingRecovery)
// until SettleFenced settles every such op of that ledger; a fenced current ledger
// starts a fenced rollover at once, which does that.
func (s *addSM) Written(op *addOp, pos Position, err error) {
	op.done, op.pos, op.err = true, pos, err
	if err != nil {
		op.pos = Position{}
		switch {
		case errors.Is(err, ledger.ErrFenced) && (s.state == stateOpen || s.state == stateRolling):
			op.done, op.pos, op.err = false, pos, errAwaitingRecovery
			if pos.Ledger == s.ledger && s.state == stateOpen {
				s.state = stateRolling
				s.rd.Roll = &addRoll{Old: s.ledger, Fenced: true}
			}
			// Otherwise a rollover away from this ledger is under way (or failed and the
			// next add retries it): settling the old ledger settles the op.
		case errors.Is(err, ledger.ErrFenced):
			if s.state != stateClosed {
				s.state = stateFenced
			}
			op.err = fmt.Errorf("%w: %w", ErrFenced, err)
		case pos.Ledger == s.ledger:
			s.broken = true // the next add moves to a new ledger
		}
	}
	s.advance()
}

// SettleFenced completes the ops of ledger lid (every ledger when lid < 0) waiting on
// its recovery: with fail when set, else by the recovered ledger's lastEntry. With
// requeue (lid was the current ledger, and no later add went to another ledger), ops
// that are in no ledger — never sent (no entry id), or past lastEntry — are put back in
// front of the queued ops instead of failing (a failure with fail, an unknown outcome,
// still fails the ops that have an entry id: they may be in the ledger).
func (s *addSM) SettleFenced(lid, lastEntry int64, fail error, requeue bool) {
	var again []*addOp
	for _, op := range s.pending {
		if op.done || op.err != errAwaitingRecovery || (lid >= 0 && op.pos.Ledger != lid) {
			continue
		}
		inLedger := fail == nil && op.pos.Entry >= 0 && op.pos.Entry <= lastEntry
		inNone := op.pos.Entry < 0 || (fail == nil && op.pos.Entry > lastEntry)
		switch {
		case inLedger:
			op.done, op.err = true, nil // in the recovered ledger: durable, at its position
		case requeue && inNone:
			op.pos, op.err = Position{}, nil
			again = append(again, op)
		case fail != nil:
			op.done, op.pos, op.err = true, Position{}, fail
		default:
			op.done, op.pos = true, Position{}
			op.err = fmt.Errorf("%w: ledger %d closed at entry %d", ErrLedgerFenced, lid, lastEntry)
		}
	}
	if len(again) > 0 {
		// In pending order, and ahead of every queued op: those were all made after.
		s.queued = append(again, s.queued...)
	}
	s.advance()
}

// RollIdle rolls over a current ledger that holds entries and took no add for idle
// (at now), so that it can be closed and offloaded; it reports whether it did. The
// rollover is the usual one: adds made meanwhile queue for the next ledger.
func (s *addSM) RollIdle(now time.Time, idle time.Duration) bool {
	if s.state != stateOpen || s.terminated || s.entries == 0 || len(s.pending) > 0 ||
		now.Sub(s.lastAdd) < idle || now.Sub(s.created) < idle {
		return false
	}
	s.state = stateRolling
	s.rd.Roll = &addRoll{Old: s.ledger}
	return true
}

// RolledOver: the rollover asked for created ledger id at time created and appended
// it to the record. The queued adds go to it, in order. (If closed meanwhile, the
// queued adds were accepted before Close, so they are written all the same.)
func (s *addSM) RolledOver(id int64, created time.Time) {
	s.ledger, s.created, s.broken = id, created, false
	s.entries, s.size = 0, 0
	for _, op := range s.queued {
		s.rd.Submit = append(s.rd.Submit, addSubmit{Op: op, Ledger: id})
	}
	s.queued = nil
	if s.state == stateRolling {
		s.state = stateOpen
	}
}

// RolloverFailed: the rollover asked for failed with err; fenced means the record
// shows a new owner. The queued adds fail with err, and so do adds still waiting on a
// fenced ledger's recovery (with a new owner, ErrFenced; else they may or may not be
// in that ledger — resending one may duplicate it, never lose it). Without a new owner
// the next add tries another rollover.
func (s *addSM) RolloverFailed(err error, fenced bool) {
	queued := s.queued
	s.queued = nil
	if fenced && s.state != stateClosed {
		s.state = stateFenced
	} else if s.state == stateRolling {
		s.state = stateOpen
		s.broken = true
	}
	s.SettleFenced(-1, 0, err, false)
	for _, op := range queued {
		s.Written(op, Position{}, err)
	}
}

// SetFenced: a new owner exists (a CAS of the record or a cursor record failed).
func (s *addSM) SetFenced() {
	if s.state != stateClosed {
		s.state = stateFenced
	}
}

// Close refuses every later add. It reports whether the managed ledger was fenced.
func (s *addSM) Close() (wasFenced bool) {
	wasFenced = s.state == stateFenced
	s.state = stateClosed
	return wasFenced
}

// Terminate refuses every later add with ErrTerminated and queues barrier behind every
// earlier add: it is delivered once they all were. It fails, changing nothing, if the
// managed ledger is closed or fenced.
func (s *addSM) Terminate(barrier *addOp) error {
	if err := s.refusal(); err != nil && !errors.Is(err, ErrTerminated) {
		return err
	}
	s.terminated = true
	barrier.barrier, barrier.done, barrier.err = true, true, errBarrier
	s.pending = append(s.pending, barrier)
	s.advance()
	return nil
}

// Drained reports whether the managed ledger is closed and every add was delivered.
func (s *addSM) Drained() bool { return s.state == stateClosed && len(s.pending) == 0 }

// advance moves the completed ops at the head of pending to Deliver, in order, and
// counts the successful ones of the current ledger.
func (s *addSM) advance() {
	for len(s.pending) > 0 && s.pending[0].done {
		h := s.pending[0]
		s.pending[0] = nil
		s.pending = s.pending[1:]
		s.rd.Deliver = append(s.rd.Deliver, h)
		if h.err == nil && !h.barrier && h.pos.Ledger == s.ledger {
			s.entries = max(s.entries, h.pos.Entry+1)
			s.size += int64(len(h.data))
		}
	}
}

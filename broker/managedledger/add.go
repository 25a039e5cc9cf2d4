package managedledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
)

// errBarrier is the outcome of a barrier op (never seen by callers).
var errBarrier = errors.New("managedledger: barrier")

// AsyncAdd appends data and calls cb with its position once it is durable (or with the
// error). Callbacks run in the order of AsyncAdd calls — whatever the outcome, across
// rollovers — on an internal goroutine; they must not block for long and must not call
// Close. data must not be modified afterwards: it is handed to the bookies and kept in
// the entry cache, whose readers share it.
func (ml *ManagedLedger) AsyncAdd(data []byte, cb func(Position, error)) {
	op := &addOp{data: data, cb: cb}
	ml.submitMu.Lock()
	ml.mu.Lock()
	if err := ml.refusalLocked(); err != nil {
		// Delivered after every earlier add's callback, like any other outcome.
		op.done, op.err = true, err
		ml.pending = append(ml.pending, op)
		inline := ml.advanceLocked()
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		runCallbacks(inline)
		return
	}
	ml.pending = append(ml.pending, op)
	if ml.state == stateRolling {
		ml.queued = append(ml.queued, op)
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		return
	}
	if ml.writerBroken || ml.currentLedgerFullLocked() {
		ml.state = stateRolling
		ml.queued = append(ml.queued, op)
		old := ml.writer
		ml.rollWG.Add(1)
		ml.tasks.Add(1)
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		go ml.rollover(old)
		return
	}
	w := ml.writer
	ml.mu.Unlock()
	ml.submit(w, op)
	ml.submitMu.Unlock()
}

// refusalLocked is the error an add gets now without being written, or nil.
func (ml *ManagedLedger) refusalLocked() error {
	switch {
	case ml.state == stateFenced:
		return ErrFenced
	case ml.state == stateClosed:
		return ErrClosed
	case ml.terminated:
		return ErrTerminated
	}
	return nil
}

// submit hands op to w. Callers hold submitMu.
func (ml *ManagedLedger) submit(w *ledger.Writer, op *addOp) {
	lid := w.ID()
	w.AppendAsync(op.data, func(eid int64, err error) {
		ml.complete(op, Position{Ledger: lid, Entry: eid}, err)
	})
}

func (ml *ManagedLedger) currentLedgerFullLocked() bool {
	cur := ml.info.Ledgers[len(ml.info.Ledgers)-1]
	return cur.Entries >= ml.cfg.MaxEntriesPerLedger ||
		cur.Size >= ml.cfg.MaxSizePerLedger ||
		(cur.Entries > 0 && ml.cfg.Now().Sub(ml.curCreated) >= ml.cfg.MaxLedgerAge)
}

// complete records op's outcome (called by a ledger writer, or by a failed rollover)
// and moves every op at the head of the queue that is now complete to deliverLoop.
//
// An add that failed with ledger.ErrFenced is not complete yet: its ledger was fenced
// — by a new owner of the topic, or by the auto-recovery worker closing the ledger to
// re-replicate a lost bookie's fragment — and whether the entry is in the ledger is
// decided by the recovered ledger's last entry. The op waits (errAwaitingRecovery) until
// resolveFenced settles every such op of that ledger; a fenced current writer starts a
// rollover at once, whose closing of the old ledger does that.
func (ml *ManagedLedger) complete(op *addOp, pos Position, err error) {
	ml.mu.Lock()
	op.done, op.pos, op.err = true, pos, err
	if err != nil {
		op.pos = Position{}
		switch {
		case errors.Is(err, ledger.ErrFenced) && (ml.state == stateOpen || ml.state == stateRolling):
			op.done, op.pos, op.err = false, pos, errAwaitingRecovery
			if pos.Ledger == ml.writerIDLocked() && ml.state == stateOpen {
				ml.state = stateRolling
				old := ml.writer
				ml.rollWG.Add(1)
				ml.tasks.Add(1)
				go ml.rolloverFenced(old)
			}
			// Otherwise a rollover away from this ledger is under way (or failed and the
			// next add retries it): closing the old ledger settles the op.
		case errors.Is(err, ledger.ErrFenced):
			if ml.state != stateClosed {
				ml.state = stateFenced
			}
			op.err = fmt.Errorf("%w: %w", ErrFenced, err)
		case pos.Ledger == ml.writerIDLocked():
			ml.writerBroken = true // the next add moves to a new ledger
		}
	}
	inline := ml.advanceLocked()
	ml.mu.Unlock()
	runCallbacks(inline)
}

// errAwaitingRecovery marks an op (not done) whose add failed because its ledger was
// fenced, until resolveFenced settles it. Never seen by callers.
var errAwaitingRecovery = errors.New("managedledger: add awaiting the fenced ledger's recovery")

// ErrLedgerFenced: the add was not written. Its ledger was fenced and closed by a
// recoverer other than a new owner — the auto-recovery worker re-replicating a lost
// bookie's fragment — before the entry was durable; this broker still owns the topic
// and has moved on to a new ledger, so the add can simply be sent again.
var ErrLedgerFenced = errors.New("managedledger: ledger fenced by recovery before the add was durable; send it again")

// resolveFenced settles the adds of ledger lid that wait on its recovery. Called once
// every add made to the ledger's writer has called back (after Writer.Close returned).
// With requeue (lid was the current ledger; no later add went to another ledger yet),
// the adds that are in no ledger are queued for the next one instead of failing.
//
// Only a changed managed-ledger record means the topic has a new owner: then the adds
// fail with ErrFenced and the managed ledger turns Fenced, as before. While the record
// is still at this owner's revision (stillOwner), the ledger was fenced by someone
// else — the auto-recovery worker — and this owner reads the ledger's final metadata
// (recovering it itself if that recoverer has not finished: concurrent recoveries
// converge). Adds of entries up to its LastEntry are durable and succeed at their
// positions; the others fail with ErrLedgerFenced, and their clients send them again.
// It returns the closed metadata, for the record.
func (ml *ManagedLedger) resolveFenced(ctx context.Context, lid int64, requeue bool) (*ledger.Metadata, error) {
	backoff := 100 * time.Millisecond
	for {
		md, err := ml.tryResolveFenced(ctx, lid, requeue)
		if err == nil || errors.Is(err, ErrFenced) {
			return md, err
		}
		ml.log.Warn("fenced ledger: cannot settle its adds yet", "ledger", lid, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			err = fmt.Errorf("%w: ledger %d: %w", ErrLedgerFenced, lid, err)
			ml.settleFenced(lid, nil, err, requeue)
			return nil, err
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (ml *ManagedLedger) tryResolveFenced(ctx context.Context, lid int64, requeue bool) (*ledger.Metadata, error) {
	mine, err := ml.stillOwner(ctx)
	if err != nil {
		return nil, err
	}
	if !mine {
		ml.setFenced()
		err := fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
		ml.settleFenced(lid, nil, err, false)
		return nil, err
	}
	md, err := ml.lc.OpenRecover(ctx, lid)
	if err != nil {
		return nil, err
	}
	ml.log.Info("ledger fenced by a recoverer while this broker owns the topic; moved on",
		"ledger", lid, "lastEntry", md.LastEntry)
	ml.settleFenced(lid, md, nil, requeue)
	return md, nil
}

// settleFenced completes the ops of ledger lid (every ledger when lid < 0) waiting on
// its recovery: with fail when set, else by md's LastEntry. With requeue, ops that are
// in no ledger — never sent (no entry id), or past LastEntry — are put back in front of
// the queued ops instead of failing (a failure with fail, an unknown outcome, still
// fails the ops that have an entry id: they may be in the ledger).
func (ml *ManagedLedger) settleFenced(lid int64, md *ledger.Metadata, fail error, requeue bool) {
	ml.mu.Lock()
	var again []*addOp
	for _, op := range ml.pending {
		if op.done || op.err != errAwaitingRecovery || (lid >= 0 && op.pos.Ledger != lid) {
			continue
		}
		inLedger := fail == nil && op.pos.Entry >= 0 && op.pos.Entry <= md.LastEntry
		inNone := op.pos.Entry < 0 || (fail == nil && op.pos.Entry > md.LastEntry)
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
			op.err = fmt.Errorf("%w: ledger %d closed at entry %d", ErrLedgerFenced, lid, md.LastEntry)
		}
	}
	if len(again) > 0 {
		// In pending order, and ahead of every queued op: those were all made after.
		ml.queued = append(again, ml.queued...)
	}
	inline := ml.advanceLocked()
	ml.mu.Unlock()
	runCallbacks(inline)
}

// advanceLocked takes the completed ops off the head of pending, in order: each
// successful one becomes part of the log (its ledger's count, the cache,
// lastConfirmed) only now, so what readers and cursors see never runs ahead of the
// order of acknowledgements. The ops go to deliverLoop; once that has exited (after
// Close) they are returned for the caller to run, after it releases its locks.
func (ml *ManagedLedger) advanceLocked() (inline []*addOp) {
	var ready []*addOp
	advanced := false
	for len(ml.pending) > 0 && ml.pending[0].done {
		h := ml.pending[0]
		ml.pending[0] = nil
		ml.pending = ml.pending[1:]
		ready = append(ready, h)
		if h.err != nil || h.barrier {
			continue
		}
		ml.cache.put(h.pos, h.data)
		if li := ml.ledgerLocked(h.pos.Ledger); li != nil && !li.Closed {
			// A closed ledger's count and size are final already (from its metadata).
			li.Entries = max(li.Entries, h.pos.Entry+1)
			li.Size += int64(len(h.data))
		}
		if ml.lastConfirmed.Less(h.pos) {
			ml.lastConfirmed = h.pos
			advanced = true
		}
	}
	if advanced {
		ml.layoutGen++
		close(ml.newEntries)
		ml.newEntries = make(chan struct{})
	}
	if len(ready) == 0 {
		return nil
	}
	if ml.deliverExited {
		return ready
	}
	ml.ready = append(ml.ready, ready...)
	select {
	case ml.readySig <- struct{}{}:
	default:
	}
	return nil
}

// ledgerLocked returns the live record entry of ledger id, or nil.
func (ml *ManagedLedger) ledgerLocked(id int64) *LedgerInfo {
	ls := ml.info.Ledgers
	i := sort.Search(len(ls), func(i int) bool { return ls[i].ID >= id })
	if i < len(ls) && ls[i].ID == id {
		return &ls[i]
	}
	return nil
}

func runCallbacks(ops []*addOp) {
	for _, op := range ops {
		op.data = nil
		op.cb(op.pos, op.err)
	}
}

// deliverLoop runs the callbacks of completed adds, in order, one at a time. It returns
// once the managed ledger is closed and every add made before has been delivered.
func (ml *ManagedLedger) deliverLoop() {
	defer close(ml.delivered)
	for {
		ml.mu.Lock()
		batch := ml.ready
		ml.ready = nil
		if len(batch) == 0 && ml.state == stateClosed && len(ml.pending) == 0 {
			ml.deliverExited = true
			ml.mu.Unlock()
			return
		}
		ml.mu.Unlock()
		if len(batch) == 0 {
			<-ml.readySig
			continue
		}
		runCallbacks(batch)
	}
}

func (ml *ManagedLedger) writerIDLocked() int64 {
	if ml.writer == nil {
		return -1
	}
	return ml.writer.ID()
}

// rollover creates the next ledger, appends it to the record, hands it the queued ops,
// then closes the previous ledger.
func (ml *ManagedLedger) rollover(old *ledger.Writer) {
	defer ml.tasks.Done()
	defer ml.rollWG.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ml.switchWithRetries(ctx, old)
}

// switchWithRetries switches to a new ledger (switchLedger), retrying twice; on
// failure the queued ops fail. It reports success.
func (ml *ManagedLedger) switchWithRetries(ctx context.Context, old *ledger.Writer) bool {
	for attempt := 0; ; attempt++ {
		err := ml.switchLedger(ctx, old)
		if err == nil {
			return true
		}
		fenced := errors.Is(err, ErrFenced)
		ml.log.Warn("rollover failed", "err", err, "attempt", attempt)
		if fenced || attempt >= 2 || ctx.Err() != nil {
			ml.failQueued(err, fenced)
			return false
		}
		t := time.NewTimer(time.Duration(100*(attempt+1)) * time.Millisecond)
		select {
		case <-ml.stop:
			t.Stop()
			ml.failQueued(ErrClosed, false)
			return false
		case <-t.C:
		}
	}
}

// rolloverFenced replaces a current ledger that was fenced under its writer. New adds
// queue meanwhile (state Rolling). Once every add made to the old writer has called
// back, resolveFenced decides: with a new owner everything fails with ErrFenced, as
// before; otherwise the adds up to the recovered ledger's last entry succeed, and the
// others — which are in no ledger — go, in their order and ahead of the queued ones,
// to the new ledger, so a fencing by the auto-recovery worker costs the producers a
// short pause and no error. Then the old ledger is marked closed in the record.
func (ml *ManagedLedger) rolloverFenced(old *ledger.Writer) {
	defer ml.tasks.Done()
	defer ml.rollWG.Done()
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	// The writer has ended (it was fenced): Close only waits for its callbacks.
	_ = old.Close(rctx)
	md, err := ml.resolveFenced(rctx, old.ID(), true)
	if errors.Is(err, ErrFenced) {
		ml.failQueued(err, true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !ml.switchWithRetries(ctx, nil) || md == nil {
		return
	}
	if err := ml.markClosed(ctx, md); err != nil {
		ml.log.Warn("record closed ledger", "ledger", md.ID, "err", err)
		return
	}
	ml.maybeTrim()
}

func (ml *ManagedLedger) switchLedger(ctx context.Context, old *ledger.Writer) error {
	w, err := ml.createLedger(ctx)
	if err != nil {
		return err
	}
	ml.metaMu.Lock()
	ml.mu.Lock()
	next := ml.info.clone()
	rev := ml.infoRev
	ml.mu.Unlock()
	created := ml.cfg.Now()
	next.Ledgers = append(next.Ledgers, LedgerInfo{ID: w.ID(), CreatedMillis: created.UnixMilli()})
	data, err := next.marshal()
	if err != nil {
		ml.metaMu.Unlock()
		ml.abandonLedger(w)
		return err
	}
	newRev, err := ml.store.CAS(ctx, ml.key, data, rev)
	if err != nil {
		ml.metaMu.Unlock()
		ml.abandonLedger(w)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			return fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
		}
		return err
	}
	ml.submitMu.Lock()
	ml.mu.Lock()
	// Keep the live counts of the previous ledger; the new record only added a ledger.
	ml.info.Ledgers = append(ml.info.Ledgers, LedgerInfo{ID: w.ID(), CreatedMillis: next.Ledgers[len(next.Ledgers)-1].CreatedMillis})
	ml.infoRev = newRev
	ml.layoutGen++
	ml.writer, ml.curCreated, ml.writerBroken = w, created, false
	queued := ml.queued
	ml.queued = nil
	if ml.state == stateRolling {
		ml.state = stateOpen
	}
	// Closed meanwhile: the queued adds were accepted before Close, so they are
	// written; Close waits for this rollover and then closes the new ledger.
	ml.mu.Unlock()
	ml.metaMu.Unlock()
	for _, op := range queued {
		ml.submit(w, op)
	}
	ml.submitMu.Unlock()
	if old != nil {
		ml.tasks.Add(1)
		go ml.closeOldLedger(old)
	}
	return nil
}

// closeOldLedger closes the previous ledger once its adds finished, records its final
// count and size in the record, and trims (with no cursor, that ledger goes now). A
// ledger fenced by a recoverer is settled by resolveFenced instead.
func (ml *ManagedLedger) closeOldLedger(w *ledger.Writer) {
	defer ml.tasks.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var md *ledger.Metadata
	if err := w.Close(ctx); err == nil {
		md = w.Metadata()
	} else {
		if !errors.Is(err, ledger.ErrFenced) && !errors.Is(err, ledger.ErrClosed) {
			// A ledger left open is recovered (and so closed) by the next owner; entries
			// that were acknowledged are safe either way.
			ml.log.Warn("close ledger after rollover", "ledger", w.ID(), "err", err)
			ml.settleFenced(w.ID(), nil, fmt.Errorf("%w: ledger %d: %w", ErrLedgerFenced, w.ID(), err), false)
			return
		}
		// Fenced or closed by someone else: by a new owner, or by the auto-recovery
		// worker. Every add to w has called back by now.
		if md, err = ml.resolveFenced(ctx, w.ID(), false); err != nil {
			ml.log.Warn("close fenced ledger after rollover", "ledger", w.ID(), "err", err)
			return
		}
	}
	if err := ml.markClosed(ctx, md); err != nil {
		ml.log.Warn("record closed ledger", "ledger", w.ID(), "err", err)
		return
	}
	ml.maybeTrim()
}

// markClosed records a ledger's final count and size and that it is closed.
func (ml *ManagedLedger) markClosed(ctx context.Context, md *ledger.Metadata) error {
	return ml.updateRecord(ctx, func(in *Info) {
		for i := range in.Ledgers {
			if in.Ledgers[i].ID == md.ID {
				in.Ledgers[i].Entries, in.Ledgers[i].Size, in.Ledgers[i].Closed = md.LastEntry+1, md.Length, true
			}
		}
	})
}

func (ml *ManagedLedger) failQueued(err error, fenced bool) {
	ml.mu.Lock()
	queued := ml.queued
	ml.queued = nil
	if fenced && ml.state != stateClosed {
		ml.state = stateFenced
	} else if ml.state == stateRolling {
		ml.state = stateOpen
		ml.writerBroken = true
	}
	ml.mu.Unlock()
	// Adds waiting on a fenced ledger's recovery would wait for the next successful
	// rollover to settle them; fail them now instead (with a new owner, ErrFenced; else
	// they may or may not be in that ledger — resending one may duplicate it, never lose
	// it).
	ml.settleFenced(-1, nil, err, false)
	for _, op := range queued {
		ml.complete(op, Position{}, err)
	}
}

// setFenced turns the managed ledger Fenced (unless it was closed meanwhile).
func (ml *ManagedLedger) setFenced() {
	ml.mu.Lock()
	if ml.state != stateClosed {
		ml.state = stateFenced
	}
	ml.mu.Unlock()
}

// updateRecord applies change to the record with a CAS. Any change by someone else
// means another owner took the topic over: the managed ledger turns Fenced.
func (ml *ManagedLedger) updateRecord(ctx context.Context, change func(*Info)) error {
	ml.metaMu.Lock()
	defer ml.metaMu.Unlock()
	ml.mu.Lock()
	next := ml.info.clone()
	rev := ml.infoRev
	ml.mu.Unlock()
	change(next)
	data, err := next.marshal()
	if err != nil {
		return err
	}
	newRev, err := ml.store.CAS(ctx, ml.key, data, rev)
	if err != nil {
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			ml.setFenced()
			return fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
		}
		return err
	}
	ml.mu.Lock()
	// Apply the same change to the live record so live counts of the current ledger stay.
	change(ml.info)
	ml.infoRev = newRev
	ml.layoutGen++
	ml.mu.Unlock()
	return nil
}

// Terminate ends the topic for good: adds made before it complete, adds made after it
// fail with ErrTerminated, and the record is marked terminated, so later owners refuse
// adds too. It returns the position of the last entry (Pulsar's terminate).
func (ml *ManagedLedger) Terminate(ctx context.Context) (Position, error) {
	ml.submitMu.Lock()
	ml.mu.Lock()
	if err := ml.refusalLocked(); err != nil && !errors.Is(err, ErrTerminated) {
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		return Position{}, err
	}
	ml.terminated = true
	// A barrier behind every earlier add: once it is delivered, they all completed.
	drained := make(chan struct{})
	ml.pending = append(ml.pending, &addOp{barrier: true, done: true, err: errBarrier,
		cb: func(Position, error) { close(drained) }})
	inline := ml.advanceLocked()
	ml.mu.Unlock()
	ml.submitMu.Unlock()
	runCallbacks(inline)
	select {
	case <-drained:
	case <-ctx.Done():
		return Position{}, ctx.Err()
	}
	if err := ml.updateRecord(ctx, func(in *Info) { in.Terminated = true }); err != nil {
		return Position{}, err
	}
	return ml.LastConfirmed(), nil
}

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

// This file drives the add state machine (addsm.go), which decides; the driver does
// the I/O. Every input is fed to ml.add under ml.mu, and applyLocked carries out what
// it returns: a rollover task to start, delivered adds to make part of the log and
// hand to deliverLoop, and submissions the caller hands to the writer after releasing
// ml.mu but still holding submitMu. The rollover and recovery tasks (rollover,
// rolloverFenced, closeOldLedger, resolveFenced) report back through RolledOver,
// RolloverFailed and SettleFenced.

// AsyncAdd appends data and calls cb with its position once it is durable (or with the
// error). Callbacks run in the order of AsyncAdd calls — whatever the outcome, across
// rollovers — on an internal goroutine; they must not block for long and must not call
// Close. data must not be modified afterwards: it is handed to the bookies and kept in
// the entry cache, whose readers share it.
func (ml *ManagedLedger) AsyncAdd(data []byte, cb func(Position, error)) {
	op := &addOp{data: data, cb: cb}
	ml.submitMu.Lock()
	ml.mu.Lock()
	ml.add.Add(op, ml.cfg.Now())
	out := ml.applyLocked()
	ml.mu.Unlock()
	ml.submit(out)
	ml.submitMu.Unlock()
	runCallbacks(out.inline)
}

// addOutcome is what remains of the add state machine's Ready once ml.mu is released:
// ops to hand to writer (while the caller still holds submitMu, so that entry ids
// follow the order of the adds), then callbacks to run on the caller's goroutine (once
// deliverLoop has exited, after Close), after every lock is released.
type addOutcome struct {
	writer *ledger.Writer
	submit []addSubmit
	inline []*addOp
}

// applyLocked carries out the add state machine's Ready as far as it can under ml.mu:
// it starts the rollover asked for, makes the delivered successful adds part of the
// log and hands the delivered ops to deliverLoop. The rest is returned.
func (ml *ManagedLedger) applyLocked() addOutcome {
	rd := ml.add.Ready()
	var out addOutcome
	if r := rd.Roll; r != nil {
		old := ml.writer
		ml.rollWG.Add(1)
		ml.tasks.Add(1)
		if r.Fenced {
			go ml.rolloverFenced(old)
		} else {
			go ml.rollover(old)
		}
	}
	if len(rd.Submit) > 0 {
		// Every submission of one Ready goes to the current ledger: the state machine
		// asks for them right after an add, or right after RolledOver installed it.
		out.writer, out.submit = ml.writer, rd.Submit
	}
	out.inline = ml.deliverLocked(rd.Deliver)
	return out
}

// submit hands out's ops to its writer. Callers hold submitMu, not ml.mu: a writer may
// call back at once, and the callback takes ml.mu.
func (ml *ManagedLedger) submit(out addOutcome) {
	for _, s := range out.submit {
		op, lid := s.Op, out.writer.ID()
		out.writer.AppendAsync(op.data, func(eid int64, err error) {
			ml.complete(op, Position{Ledger: lid, Entry: eid}, err)
		})
	}
}

// complete feeds a writer's outcome of op to the add state machine.
func (ml *ManagedLedger) complete(op *addOp, pos Position, err error) {
	ml.mu.Lock()
	ml.add.Written(op, pos, err)
	out := ml.applyLocked()
	ml.mu.Unlock()
	runCallbacks(out.inline)
}

// deliverLocked makes each successful op of done — completed ops, in the order the
// adds were made — part of the log (its ledger's count, the cache, lastConfirmed) only
// now, so what readers and cursors see never runs ahead of the order of
// acknowledgements. The ops go to deliverLoop; once that has exited (after Close) they
// are returned for the caller to run, after it releases its locks.
func (ml *ManagedLedger) deliverLocked(done []*addOp) (inline []*addOp) {
	if len(done) == 0 {
		return nil
	}
	advanced := false
	for _, h := range done {
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
	if ml.deliverExited {
		return done
	}
	ml.ready = append(ml.ready, done...)
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
		if len(batch) == 0 && ml.add.Drained() {
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

// settleFenced feeds the outcome of a fenced ledger's recovery to the add state
// machine (addSM.SettleFenced): md's last entry, or fail.
func (ml *ManagedLedger) settleFenced(lid int64, md *ledger.Metadata, fail error, requeue bool) {
	var last int64
	if md != nil {
		last = md.LastEntry
	}
	ml.mu.Lock()
	ml.add.SettleFenced(lid, last, fail, requeue)
	out := ml.applyLocked()
	ml.mu.Unlock()
	runCallbacks(out.inline)
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
	ml.maybeOffload()
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
	ml.writer = w
	// Closed meanwhile: the queued adds were accepted before Close, so they are
	// written; Close waits for this rollover and then closes the new ledger.
	ml.add.RolledOver(w.ID(), created)
	out := ml.applyLocked()
	ml.mu.Unlock()
	ml.metaMu.Unlock()
	ml.submit(out)
	ml.submitMu.Unlock()
	runCallbacks(out.inline)
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
	ml.maybeOffload() // a ledger closed: Pulsar's offload check
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

// failQueued tells the add state machine that the rollover failed
// (addSM.RolloverFailed): the queued adds fail with err.
func (ml *ManagedLedger) failQueued(err error, fenced bool) {
	ml.mu.Lock()
	ml.add.RolloverFailed(err, fenced)
	out := ml.applyLocked()
	ml.mu.Unlock()
	runCallbacks(out.inline)
}

// setFenced turns the managed ledger Fenced (unless it was closed meanwhile).
func (ml *ManagedLedger) setFenced() {
	ml.mu.Lock()
	ml.add.SetFenced()
	ml.mu.Unlock()
}

// updateRecord applies change to the record with a CAS. Any change by someone else
// means another owner took the topic over: the managed ledger turns Fenced.
func (ml *ManagedLedger) updateRecord(ctx context.Context, change func(*Info)) error {
	return ml.editRecord(ctx, func(in *Info) error { change(in); return nil })
}

// editRecord is updateRecord with a change that may refuse: when change returns an
// error, nothing is written and editRecord returns it. change runs twice, on a copy of
// the record and then on the live one, and must do the same both times.
func (ml *ManagedLedger) editRecord(ctx context.Context, change func(*Info) error) error {
	ml.metaMu.Lock()
	defer ml.metaMu.Unlock()
	ml.mu.Lock()
	next := ml.info.clone()
	rev := ml.infoRev
	ml.mu.Unlock()
	if err := change(next); err != nil {
		return err
	}
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
	_ = change(ml.info) // it accepted the same record a moment ago, under metaMu
	ml.infoRev = newRev
	ml.layoutGen++
	ml.mu.Unlock()
	return nil
}

// Terminate ends the topic for good: adds made before it complete, adds made after it
// fail with ErrTerminated, and the record is marked terminated, so later owners refuse
// adds too. It returns the position of the last entry (Pulsar's terminate).
func (ml *ManagedLedger) Terminate(ctx context.Context) (Position, error) {
	// A barrier behind every earlier add: once it is delivered, they all completed.
	drained := make(chan struct{})
	barrier := &addOp{cb: func(Position, error) { close(drained) }}
	ml.submitMu.Lock()
	ml.mu.Lock()
	if err := ml.add.Terminate(barrier); err != nil {
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		return Position{}, err
	}
	out := ml.applyLocked()
	ml.mu.Unlock()
	ml.submitMu.Unlock()
	runCallbacks(out.inline)
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

package managedledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
)

// AsyncAdd appends data and calls cb with its position once it is durable (or with the
// error). Callbacks run in the order of AsyncAdd calls, on an internal goroutine; they
// must not block for long.
func (ml *ManagedLedger) AsyncAdd(data []byte, cb func(Position, error)) {
	op := &addOp{data: data, cb: cb}
	ml.submitMu.Lock()
	defer ml.submitMu.Unlock()
	ml.mu.Lock()
	switch {
	case ml.state == stateFenced:
		ml.mu.Unlock()
		cb(Position{}, ErrFenced)
		return
	case ml.state == stateClosed:
		ml.mu.Unlock()
		cb(Position{}, ErrClosed)
		return
	case ml.info.Terminated:
		ml.mu.Unlock()
		cb(Position{}, ErrTerminated)
		return
	}
	ml.pending = append(ml.pending, op)
	if ml.state == stateRolling {
		ml.queued = append(ml.queued, op)
		ml.mu.Unlock()
		return
	}
	if ml.writerBroken || ml.currentLedgerFullLocked() {
		ml.state = stateRolling
		ml.queued = append(ml.queued, op)
		old := ml.writer
		ml.mu.Unlock()
		ml.bg.Add(1)
		go ml.rollover(old)
		return
	}
	w := ml.writer
	ml.mu.Unlock()
	ml.submit(w, op)
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
		(cur.Entries > 0 && time.Since(ml.curCreated) >= ml.cfg.MaxLedgerAge)
}

// complete records op's outcome and runs every callback at the head of the queue that can
// now run, in order.
func (ml *ManagedLedger) complete(op *addOp, pos Position, err error) {
	ml.mu.Lock()
	op.done, op.pos, op.err = true, pos, err
	if err == nil {
		ml.cache.put(pos, op.data)
		// The ledger is the current one, or the previous one while rolling over.
		for i := len(ml.info.Ledgers) - 1; i >= 0 && i >= len(ml.info.Ledgers)-2; i-- {
			if cur := &ml.info.Ledgers[i]; cur.ID == pos.Ledger {
				if pos.Entry+1 > cur.Entries {
					cur.Entries = pos.Entry + 1
				}
				cur.Size += int64(len(op.data))
				ml.layoutGen++
				break
			}
		}
	} else {
		if errors.Is(err, ledger.ErrFenced) {
			if ml.state != stateClosed {
				ml.state = stateFenced
			}
			op.err = fmt.Errorf("%w: %v", ErrFenced, err)
		} else if pos.Ledger == ml.writerIDLocked() {
			ml.writerBroken = true // the next add moves to a new ledger
		}
	}
	var ready []*addOp
	advanced := false
	for len(ml.pending) > 0 && ml.pending[0].done {
		h := ml.pending[0]
		ml.pending[0] = nil
		ml.pending = ml.pending[1:]
		if h.err == nil && ml.lastConfirmed.Less(h.pos) {
			ml.lastConfirmed = h.pos
			advanced = true
		}
		ready = append(ready, h)
	}
	if advanced {
		close(ml.newEntries)
		ml.newEntries = make(chan struct{})
	}
	ml.mu.Unlock()
	for _, h := range ready {
		h.data = nil
		h.cb(h.pos, h.err)
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
	defer ml.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := ml.switchLedger(ctx, old)
		if err == nil {
			return
		}
		fenced := errors.Is(err, ErrFenced)
		ml.log.Warn("rollover failed", "err", err, "attempt", attempt)
		if fenced || attempt >= 2 || ctx.Err() != nil {
			ml.failQueued(err, fenced)
			return
		}
		select {
		case <-ml.stop:
			ml.failQueued(ErrClosed, false)
			return
		case <-time.After(time.Duration(100*(attempt+1)) * time.Millisecond):
		}
	}
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
	next.Ledgers = append(next.Ledgers, LedgerInfo{ID: w.ID(), CreatedMillis: time.Now().UnixMilli()})
	data, err := next.marshal()
	if err != nil {
		ml.metaMu.Unlock()
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
	ml.writer, ml.curCreated, ml.writerBroken = w, time.Now(), false
	queued := ml.queued
	ml.queued = nil
	closed := ml.state == stateClosed
	if !closed {
		ml.state = stateOpen
	}
	ml.mu.Unlock()
	ml.metaMu.Unlock()
	for _, op := range queued {
		ml.submit(w, op)
	}
	ml.submitMu.Unlock()
	if old != nil {
		ml.bg.Add(1)
		go ml.closeOldLedger(old)
	}
	return nil
}

// closeOldLedger closes the previous ledger once its adds finished and records its final
// size in the record.
func (ml *ManagedLedger) closeOldLedger(w *ledger.Writer) {
	defer ml.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		// A ledger left open is recovered (and so closed) by the next owner; entries
		// that were acknowledged are safe either way.
		ml.log.Warn("close ledger after rollover", "ledger", w.ID(), "err", err)
		return
	}
	md := w.Metadata()
	ml.updateRecord(ctx, func(in *Info) {
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
	if fenced {
		ml.state = stateFenced
	} else if ml.state == stateRolling {
		ml.state = stateOpen
		ml.writerBroken = true
	}
	ml.mu.Unlock()
	for _, op := range queued {
		ml.complete(op, Position{}, err)
	}
}

// updateRecord applies change to the record with a CAS, retrying on a lost race with
// ourselves (never with another owner: any other change means we were fenced).
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
			ml.mu.Lock()
			ml.state = stateFenced
			ml.mu.Unlock()
			return fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
		}
		return err
	}
	ml.mu.Lock()
	// Apply the same change to the live record so live counts of the current ledger stay.
	change(ml.info)
	ml.infoRev = newRev
	ml.mu.Unlock()
	return nil
}

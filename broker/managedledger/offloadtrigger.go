package managedledger

import (
	"context"
	"fmt"
	"time"
)

// What starts offloads, and the one task per managed ledger that runs them.
//
// The automatic check runs when a rolled-over ledger is closed, on open, on
// SetOffloadPolicy and from the periodic tick (offloadTick, every minute, on the
// cursor-flush ticker). Checks coalesce: one offload task runs per managed ledger
// (offloadLoop); a check while it runs asks it for one more pass. The manual trigger
// (Offload) joins the same task. The orphan sweep runs in that task too, between
// offloads, so it never meets an upload of this managed ledger in flight.

// offloadCheckInterval is how often the tick runs the automatic check (Pulsar checks
// only at rollover; a quiet topic's time threshold needs a clock).
const offloadCheckInterval = time.Minute

// maybeOffload starts the offload task, or asks the running one for another pass.
func (ml *ManagedLedger) maybeOffload() {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.off == nil {
		return
	}
	if ml.add.state == stateClosed || ml.add.state == stateFenced {
		if ml.offManual != nil { // Offload raced Close
			ml.offManual = nil
			ml.offStatus = OffloadStatus{Status: OffloadError, LastError: ErrClosed.Error()}
		}
		return
	}
	if ml.offRunning {
		ml.offAgain = true
		return
	}
	ml.offRunning = true
	ml.tasks.Add(1)
	go ml.offloadLoop()
}

func (ml *ManagedLedger) offloadLoop() {
	defer ml.tasks.Done()
	for {
		ml.offloadPass(ml.bgCtx)
		ml.mu.Lock()
		stopped := ml.add.state == stateClosed || ml.add.state == stateFenced
		if stopped || (!ml.offAgain && ml.offManual == nil) {
			ml.offRunning, ml.offAgain = false, false
			if ml.offManual != nil || ml.offStatus.Status == OffloadRunning {
				ml.offManual = nil
				ml.offStatus = OffloadStatus{Status: OffloadError, LastError: ErrClosed.Error()}
			}
			ml.mu.Unlock()
			return
		}
		ml.offAgain = false
		ml.mu.Unlock()
	}
}

// offloadPass sweeps orphans if due, then offloads what the policy and a pending
// manual request ask for, oldest ledger first.
func (ml *ManagedLedger) offloadPass(ctx context.Context) {
	ml.mu.Lock()
	manual := ml.offManual
	ml.offManual = nil
	sweep := ml.sweepDue
	ml.sweepDue = false
	ids := ml.offloadCandidatesLocked(manual, ml.cfg.Now())
	ml.mu.Unlock()
	if sweep {
		if err := ml.sweepOrphans(ctx); err != nil {
			ml.log.Warn("offload orphan sweep", "err", err)
		}
	}
	var firstErr error
	for _, id := range ids {
		if ctx.Err() != nil {
			if firstErr == nil {
				firstErr = ErrClosed
			}
			break
		}
		if !ml.claimLedger(id) {
			continue // trim is deleting it
		}
		err := ml.offloadLedger(ctx, id)
		ml.releaseLedger(id)
		if err != nil {
			ml.off.m.offloadErrors.Add(1)
			ml.log.Warn("offload ledger", "ledger", id, "err", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("offload ledger %d: %w", id, err)
			}
		}
	}
	if manual != nil {
		st := OffloadStatus{Status: OffloadSuccess}
		if firstErr != nil {
			st = OffloadStatus{Status: OffloadError, LastError: firstErr.Error()}
		}
		ml.mu.Lock()
		st.FirstUnoffloaded = ml.firstUnoffloadedLocked()
		ml.offStatus = st
		ml.mu.Unlock()
	}
	if len(ids) > 0 {
		// A deletion lag of 0 deletes the bookie copies now, and a trim that stopped at
		// a ledger this pass held (busy) gets its turn.
		ml.maybeTrim()
	}
}

// firstUnoffloadedLocked is (the first ledger whose offload is not complete, 0).
func (ml *ManagedLedger) firstUnoffloadedLocked() Position {
	for _, li := range ml.info.Ledgers {
		if !li.Offload.Complete() {
			return Position{Ledger: li.ID, Entry: 0}
		}
	}
	return ml.lastConfirmed
}

// offloadCandidatesLocked lists, oldest first, the closed non-empty ledgers not yet
// offloaded that the policy asks to offload now, plus — for a manual request — those
// before manual.Ledger.
//
//   - ThresholdBytes ≥ 0: walking the closed ledgers newest to oldest and summing the
//     sizes of those still on the bookies, every ledger reached once the sum passed the
//     threshold (Pulsar's rule: what stays on the bookies, rounded to ledgers).
//   - ThresholdSeconds ≥ 0: every ledger closed longer ago than that (its close time is
//     taken as the creation of the next ledger, as retention does).
func (ml *ManagedLedger) offloadCandidatesLocked(manual *Position, now time.Time) []int64 {
	ls := ml.info.Ledgers
	p := ml.offPolicy
	want := make([]bool, len(ls))
	eligible := func(i int) bool {
		li := ls[i]
		return i < len(ls)-1 && li.Closed && li.Entries > 0 && !li.Offload.Complete()
	}
	if p.ThresholdBytes >= 0 {
		var sum int64
		for i := len(ls) - 2; i >= 0; i-- {
			li := ls[i]
			if !li.Closed {
				continue
			}
			if li.Offload == nil || !li.Offload.BookieDeleted {
				sum += li.Size
			}
			if sum > p.ThresholdBytes || p.ThresholdBytes == 0 {
				want[i] = true
			}
		}
	}
	if p.ThresholdSeconds >= 0 {
		for i := 0; i < len(ls)-1; i++ {
			if now.Sub(time.UnixMilli(ls[i+1].CreatedMillis)) >= time.Duration(p.ThresholdSeconds)*time.Second {
				want[i] = true
			}
		}
	}
	if manual != nil {
		for i := range ls {
			if ls[i].ID < manual.Ledger {
				want[i] = true
			}
		}
	}
	var ids []int64
	for i := range ls {
		if want[i] && eligible(i) {
			ids = append(ids, ls[i].ID)
		}
	}
	return ids
}

// claimLedger marks ledger id busy — offloaded, or deleted by trim — unless it already
// is or left the list: the per-ledger exclusion of offload and trim (Pulsar #13219).
func (ml *ManagedLedger) claimLedger(id int64) bool {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.busy[id] || ml.ledgerLocked(id) == nil {
		return false
	}
	ml.busy[id] = true
	return true
}

func (ml *ManagedLedger) releaseLedger(id int64) {
	ml.mu.Lock()
	delete(ml.busy, id)
	ml.mu.Unlock()
}

// offloadTick is the periodic part of offload, run on every cursor-flush tick: it
// rolls over a current ledger idle for the policy's IdleRollover, runs the automatic
// check once a minute and the orphan sweep every OrphanSweepInterval, and trims when a
// bookie copy's deletion lag has passed.
func (ml *ManagedLedger) offloadTick(now time.Time) {
	if ml.off == nil {
		return
	}
	ml.submitMu.Lock()
	ml.mu.Lock()
	p := ml.offPolicy
	if p.IdleRollover > 0 && p.automatic() {
		// Through the add state machine: a rollover like any other.
		ml.add.RollIdle(now, p.IdleRollover)
	}
	out := ml.applyLocked()
	check := now.Sub(ml.lastOffloadCheck) >= offloadCheckInterval
	if check {
		ml.lastOffloadCheck = now
	}
	if now.Sub(ml.lastSweep) >= ml.off.cfg.OrphanSweepInterval {
		ml.lastSweep = now
		ml.sweepDue, check = true, true
	}
	lagged := ml.bookieCopyDueLocked(now)
	ml.mu.Unlock()
	ml.submit(out)
	ml.submitMu.Unlock()
	runCallbacks(out.inline)
	if check {
		ml.maybeOffload()
	}
	if lagged {
		ml.maybeTrim()
	}
}

// bookieCopyDueLocked reports whether a ledger's bookie copy is due for deletion.
func (ml *ManagedLedger) bookieCopyDueLocked(now time.Time) bool {
	lag := ml.offPolicy.DeletionLag
	if lag < 0 {
		return false
	}
	for _, li := range ml.info.Ledgers {
		if o := li.Offload; o.Complete() && !o.BookieDeleted && now.Sub(time.UnixMilli(o.CompleteMillis)) >= lag {
			return true
		}
	}
	return false
}

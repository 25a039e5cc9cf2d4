package store

import "context"

// Long polls. A reader tailing an open ledger asks "tell me when the LAC passes x". Each
// ledger with parked readers has one waiter whose channel the completer closes when it
// publishes a batch that changed the ledger (LAC, entries, fence, deletion); the woken
// readers re-check their condition and park again on a fresh waiter if it is not met.
// No reader polls on a timer.

// waiter is the wake-up channel shared by the long polls parked on one ledger.
type waiter struct {
	ch chan struct{}
	n  int // parked readers; the entry is dropped when the last one gives up
}

// notifyLocked wakes the readers parked on ledger. s.mu must be held.
func (s *Store) notifyLocked(ledger uint64) {
	if w, ok := s.waiters[ledger]; ok {
		close(w.ch)
		delete(s.waiters, ledger)
	}
}

// WaitLAC returns the ledger's state once its LAC is above after or it is fenced —
// at once if that already holds. A ledger the store does not know yet is waited for
// like one with LAC -1. If ctx ends first, WaitLAC returns the current state with
// ctx.Err(); if the store closes, ErrClosed.
func (s *Store) WaitLAC(ctx context.Context, ledger uint64, after int64) (LedgerState, error) {
	for {
		s.mu.Lock()
		st, _ := s.stateLocked(ledger)
		if st.LAC > after || st.Fenced {
			s.mu.Unlock()
			return st, nil
		}
		w, ok := s.waiters[ledger]
		if !ok {
			w = &waiter{ch: make(chan struct{})}
			s.waiters[ledger] = w
		}
		w.n++
		if s.onPark != nil {
			s.onPark(ledger)
		}
		s.mu.Unlock()

		select {
		case <-w.ch:
			// The completer dropped w from the map when it closed ch; loop to re-check.
		case <-ctx.Done():
			s.mu.Lock()
			s.leaveLocked(ledger, w)
			st, _ := s.stateLocked(ledger)
			s.mu.Unlock()
			return st, ctx.Err()
		case <-s.quit:
			s.mu.Lock()
			s.leaveLocked(ledger, w)
			s.mu.Unlock()
			return LedgerState{}, ErrClosed
		}
	}
}

// leaveLocked unparks one reader from w, dropping w when it was the last one and w is
// still the ledger's current waiter.
func (s *Store) leaveLocked(ledger uint64, w *waiter) {
	w.n--
	if w.n == 0 && s.waiters[ledger] == w {
		delete(s.waiters, ledger)
	}
}

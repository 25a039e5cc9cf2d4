package autorecovery

import (
	"errors"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
)

// Healing one ledger, fragment by fragment, and the per-fragment failure bookkeeping.

// errStuck: a fragment could not be copied whole (entries lost); it is tried again
// only after the registry changes.
var errStuck = errors.New("autorecovery: fragment has lost entries")

// healLedger moves every due bad bookie out of ledger id's fragments, one fragment
// at a time on fresh metadata. It returns how many fragments it moved and, when one is
// waiting out a backoff after a failure, when to try again.
func (w *Worker) healLedger(t *term, st *clusterState, id int64) (moved int, retry time.Time) {
	skip := map[slot]bool{} // failed in this pass
	for t.valid() {
		m, rev, err := w.lc.ReadMetadata(t.ctx, id)
		if errors.Is(err, ledger.ErrNoSuchLedger) {
			return moved, retry
		}
		if err != nil {
			w.log.Warn("autorecovery: read ledger metadata", "ledger", id, "err", err)
			return moved, time.Now().Add(time.Second)
		}
		mentioned := map[string]bool{}
		for _, b := range m.Bookies() {
			mentioned[b] = true
		}
		v := st.view(w.cfg.LostBookieRecoveryDelay, mentioned)
		fi, pos, blocked, ok := w.nextDue(m, v, skip)
		if !blocked.IsZero() && (retry.IsZero() || blocked.Before(retry)) {
			retry = blocked
		}
		if !ok {
			return moved, retry
		}
		bad := m.Fragments[fi].Ensemble[pos]
		key := slotKey(id, m.Fragments[fi].FirstEntry, pos)
		if _, _, immutable := fragmentSpan(m, fi); !immutable {
			// The last fragment of an open ledger: fence the writer and close the ledger
			// (recovery), after which the fragment is immutable like any other.
			w.log.Info("autorecovery: fencing and recovering open ledger to re-replicate its last fragment",
				"ledger", id, "bookie", bad)
			if _, err := w.lc.OpenRecover(t.ctx, id); err != nil {
				if t.ctx.Err() == nil {
					w.log.Warn("autorecovery: recover open ledger", "ledger", id, "err", err)
				}
				skip[key] = true
				retry = minNonZero(retry, w.failed(key))
			}
			continue
		}
		err = w.replicateFragment(t, v, m, rev, fi, pos)
		switch {
		case err == nil:
			moved++
			w.succeeded(key)
		case errors.Is(err, errStuck):
			skip[key] = true
			w.markStuck(key, v.gen)
		default:
			if t.ctx.Err() == nil {
				w.log.Warn("autorecovery: re-replicate fragment", "ledger", id, "firstEntry", m.Fragments[fi].FirstEntry,
					"bookie", bad, "err", err)
			}
			skip[key] = true
			retry = minNonZero(retry, w.failed(key))
		}
	}
	return moved, retry
}

// slot names one bookie position of one fragment.
type slot struct {
	ledger, first int64
	pos           int
}

func slotKey(id, first int64, pos int) slot { return slot{id, first, pos} }

func minNonZero(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// nextDue finds the first (fragment, position) of m whose bookie is due to move and is
// not in skip, stuck, or backing off; blocked is the earliest end of a backoff it
// passed over.
func (w *Worker) nextDue(m *ledger.Metadata, v bookieView, skip map[slot]bool) (fi, pos int, blocked time.Time, ok bool) {
	now := time.Now()
	for i, f := range m.Fragments {
		_, _, immutable := fragmentSpan(m, i)
		for p, b := range f.Ensemble {
			at, bad := w.dueAt(v, b, immutable)
			if !bad || at.After(now) {
				continue
			}
			key := slotKey(m.ID, f.FirstEntry, p)
			if skip[key] || w.isStuck(key, v.gen) {
				continue
			}
			if until := w.backingOff(key, now); !until.IsZero() {
				blocked = minNonZero(blocked, until)
				continue
			}
			return i, p, blocked, true
		}
	}
	return 0, 0, blocked, false
}

// Failure bookkeeping per fragment slot (slotKey). A slot whose copy failed for a
// reason that may pass (a replica unreachable, no spare bookie, recovery without
// coverage) backs off — 2 s doubling up to ScanInterval — instead of being retried at
// every audit; a slot with lost entries is stuck until the registry changes.

func (w *Worker) failed(key slot) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.backoffs[key]
	b.n++
	d := min(2*time.Second<<min(b.n-1, 10), w.cfg.ScanInterval)
	b.until = time.Now().Add(d)
	w.backoffs[key] = b
	return b.until
}

func (w *Worker) succeeded(key slot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.backoffs, key)
	delete(w.stuck, key)
}

// backingOff returns when key's backoff ends, or zero when it is not backing off.
func (w *Worker) backingOff(key slot, now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b, ok := w.backoffs[key]; ok && b.until.After(now) {
		return b.until
	}
	return time.Time{}
}

func (w *Worker) markStuck(key slot, gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stuck[key] = gen
}

func (w *Worker) isStuck(key slot, gen uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	g, ok := w.stuck[key]
	return ok && g == gen
}

// prune forgets the bookkeeping of ledgers that no longer exist.
func (w *Worker) prune(ledgers []*ledger.Metadata) {
	exists := make(map[int64]bool, len(ledgers))
	for _, m := range ledgers {
		exists[m.ID] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.stuck {
		if !exists[k.ledger] {
			delete(w.stuck, k)
		}
	}
	for k := range w.backoffs {
		if !exists[k.ledger] {
			delete(w.backoffs, k)
		}
	}
	for k := range w.lost {
		if !exists[k.ledger] {
			delete(w.lost, k)
		}
	}
}

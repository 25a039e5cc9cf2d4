package autorecovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
)

// Re-replication of one fragment: copy every entry the bad bookie should hold — read
// from a surviving replica of its write set — to a replacement bookie, with recovery
// adds, and only once all of them are durable there CAS the ledger's metadata to list
// the replacement in the bad bookie's place. Until that CAS, readers never look on the
// replacement, so a half-done copy is invisible; after it, every entry of the fragment
// is on Qw bookies again.

var (
	// ErrNoReplacement: no writable bookie outside the fragment's ensemble.
	ErrNoReplacement = errors.New("autorecovery: no bookie to replace with")
	// errNotActive: the term ended mid-copy.
	errNotActive = errors.New("autorecovery: no longer the active worker")
)

// readConcurrency bounds the reads of one batch in flight.
const readConcurrency = 16

func (w *Worker) replicateFragment(t *term, v bookieView, m *ledger.Metadata, rev int64, fi, pos int) error {
	f := m.Fragments[fi]
	bad := f.Ensemble[pos]
	first, last, _ := fragmentSpan(m, fi)
	entries := entriesAt(first, last, pos, m.EnsembleSize, m.WriteQuorum)
	repl, err := w.chooseReplacement(t.ctx, f.Ensemble)
	if err != nil {
		return err
	}
	// A draining bookie is alive: it may be read from (after the others).
	badAlive := v.registered[bad]
	w.log.Info("autorecovery: re-replicating fragment", "ledger", m.ID, "firstEntry", first, "lastEntry", last,
		"bookie", bad, "draining", badAlive, "replacement", repl, "entries", len(entries))
	var lost []int64
	for start := 0; start < len(entries); start += w.cfg.EntryBatch {
		if !t.valid() {
			return errNotActive
		}
		chunk := entries[start:min(start+w.cfg.EntryBatch, len(entries))]
		got, missing, err := w.readBatch(t.ctx, m, f, pos, chunk, v, badAlive)
		if err != nil {
			return err
		}
		lost = append(lost, missing...)
		if len(lost) > 0 {
			continue // nothing more is written: the fragment cannot be switched; count the rest
		}
		// Every entry of an immutable fragment is confirmed, so last is a safe LAC.
		if err := w.lc.WriteEntriesTo(t.ctx, repl, m.ID, last, got); err != nil {
			return err
		}
	}
	if len(lost) > 0 {
		return w.reportLost(t, m.ID, first, pos, bad, repl, lost)
	}
	return w.switchBookie(t, m, rev, first, last, pos, bad, repl)
}

// chooseReplacement picks, at random, a writable bookie (registered read-write, not
// draining) outside ensemble.
func (w *Worker) chooseReplacement(ctx context.Context, ensemble []string) (string, error) {
	writable, err := w.reg.Writable(ctx)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, in := range writable {
		if !slices.Contains(ensemble, in.ID) {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("%w: ensemble %v, %d writable bookies", ErrNoReplacement, ensemble, len(writable))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return ids[w.rng.IntN(len(ids))], nil
}

// readBatch reads each entry of chunk from a surviving replica. An entry every live
// replica explicitly lacks (or that has no live replica at all) is returned in lost;
// any other failure to read an entry is an error (try again later).
func (w *Worker) readBatch(ctx context.Context, m *ledger.Metadata, f ledger.Fragment, pos int, chunk []int64,
	v bookieView, badAlive bool) (got []ledger.Entry, lost []int64, err error) {
	got = make([]ledger.Entry, len(chunk))
	isLost := make([]bool, len(chunk))
	errs := make([]error, len(chunk))
	sem := make(chan struct{}, readConcurrency)
	var wg sync.WaitGroup
	for i, e := range chunk {
		sources := w.sources(m, f, pos, e, v, badAlive)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got[i].ID = e
			unknown := 0
			var lastErr error
			for _, b := range sources {
				p, err := w.lc.ReadEntryFrom(ctx, b, m.ID, e)
				if err == nil {
					got[i].Payload = p
					return
				}
				if !ledger.IsMissing(err) {
					unknown++
					lastErr = err
				}
			}
			if unknown == 0 {
				isLost[i] = true
			} else {
				errs[i] = lastErr
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	out := got[:0]
	for i, g := range got {
		if isLost[i] {
			lost = append(lost, chunk[i])
			continue
		}
		if g.Payload == nil {
			g.Payload = []byte{}
		}
		out = append(out, g)
	}
	return out, lost, nil
}

// sources are the bookies to read entry e from, in order: the other members of its
// write set that are registered, then the bad bookie itself if it is alive (draining).
func (w *Worker) sources(m *ledger.Metadata, f ledger.Fragment, pos int, e int64, v bookieView, badAlive bool) []string {
	var out []string
	for _, p := range ledger.WriteSet(e, m.EnsembleSize, m.WriteQuorum) {
		if p != pos && v.registered[f.Ensemble[p]] {
			out = append(out, f.Ensemble[p])
		}
	}
	if badAlive {
		out = append(out, f.Ensemble[pos])
	}
	return out
}

// reportLost handles a fragment with entries no surviving replica has: unless the
// ledger or the fragment changed meanwhile (deleted, healed by someone else), they are
// counted — once each — and logged, and the fragment is left as it is: were the
// missing bookie to come back, they would be readable again. Nothing is invented.
func (w *Worker) reportLost(t *term, id, first int64, pos int, bad, repl string, lost []int64) error {
	m, _, err := w.lc.ReadMetadata(t.ctx, id)
	if errors.Is(err, ledger.ErrNoSuchLedger) {
		w.dropCopy(t.ctx, repl, id)
		return nil // deleted while we read: nothing was lost
	}
	if err != nil {
		return err
	}
	if j := fragmentAt(m, first); j < 0 || m.Fragments[j].Ensemble[pos] != bad {
		return nil // moved by someone else meanwhile
	}
	w.mu.Lock()
	var fresh int64
	for _, e := range lost {
		k := entryID{id, e}
		if _, ok := w.lost[k]; !ok {
			w.lost[k] = struct{}{}
			fresh++
		}
	}
	w.mu.Unlock()
	if fresh > 0 {
		w.lostCount.Add(fresh)
		if w.m != nil {
			w.m.entriesLost.Add(float64(fresh))
		}
	}
	shown := lost
	if len(shown) > 20 {
		shown = shown[:20]
	}
	w.log.Error("autorecovery: entries lost: no surviving replica has them; fragment left on its missing bookie",
		"ledger", id, "firstEntry", first, "bookie", bad, "lost", len(lost), "entries", shown)
	return fmt.Errorf("%w: ledger %d: %d entries", errStuck, id, len(lost))
}

// switchBookie CASes the metadata so that fragment `first` lists repl in place of bad
// at pos. On a lost race it reads the metadata again and retries while the fragment —
// same span — still lists bad there; if not, someone else changed it and there is
// nothing to do.
func (w *Worker) switchBookie(t *term, m *ledger.Metadata, rev int64, first, last int64, pos int, bad, repl string) error {
	for {
		if !t.valid() {
			return errNotActive
		}
		j := fragmentAt(m, first)
		if j < 0 || m.Fragments[j].Ensemble[pos] != bad {
			w.log.Info("autorecovery: fragment changed meanwhile; nothing to switch", "ledger", m.ID, "firstEntry", first)
			return nil
		}
		if f2, l2, immutable := fragmentSpan(m, j); !immutable || f2 != first || l2 != last {
			return fmt.Errorf("autorecovery: ledger %d fragment %d changed span meanwhile", m.ID, first)
		}
		if slices.Contains(m.Fragments[j].Ensemble, repl) {
			return fmt.Errorf("autorecovery: ledger %d: replacement %s joined the fragment meanwhile", m.ID, repl)
		}
		nm := m.Clone()
		nm.Fragments[j].Ensemble[pos] = repl
		_, err := w.lc.CASMetadata(t.ctx, nm, rev)
		if err == nil {
			w.replicated.Add(1)
			if w.m != nil {
				w.m.fragmentsReplicated.Inc()
			}
			w.log.Info("autorecovery: fragment re-replicated", "ledger", m.ID, "firstEntry", first, "lastEntry", last,
				"replaced", bad, "with", repl)
			return nil
		}
		if !errors.Is(err, metadata.ErrRevisionMismatch) {
			return err
		}
		m, rev, err = w.lc.ReadMetadata(t.ctx, m.ID)
		if errors.Is(err, ledger.ErrNoSuchLedger) {
			w.dropCopy(t.ctx, repl, nm.ID)
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// dropCopy deletes what was copied to repl for a ledger whose metadata is gone (ids are
// never reused, so nothing else of that ledger can be on repl). Best effort.
func (w *Worker) dropCopy(ctx context.Context, repl string, id int64) {
	if err := w.lc.DeleteLedgerFrom(ctx, repl, id); err != nil {
		w.log.Info("autorecovery: drop copy of deleted ledger", "ledger", id, "bookie", repl, "err", err)
	}
}

// fragmentAt returns the index of the fragment starting at first, or -1.
func fragmentAt(m *ledger.Metadata, first int64) int {
	return slices.IndexFunc(m.Fragments, func(f ledger.Fragment) bool { return f.FirstEntry == first })
}

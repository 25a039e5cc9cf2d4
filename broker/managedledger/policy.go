package managedledger

import "time"

// Retention keeps data that every durable cursor has consumed (or, with no durable
// cursor, every closed ledger) for a while longer: Pulsar's retention policy. Deletion
// is by whole ledger, never the current one, oldest first, and stops at the first
// consumed ledger that neither limit releases. A ledger is released when
//   - Time ≥ 0 and its data is older than Time (its end is taken as the creation time of
//     the ledger after it: that is when it stopped being written, give or take the adds
//     in flight during the rollover — an estimate that errs on the side of keeping), or
//   - Size ≥ 0 and the managed ledger, without it and the ones before it, still holds
//     more than Size bytes (consumed and unconsumed data alike, as Pulsar counts).
//
// A negative limit is infinite: (-1, -1) keeps everything. The zero value (0, 0) is the
// default of no retention: consumed ledgers go at once, as trim always did.
type Retention struct {
	Time time.Duration
	Size int64
}

// off reports whether r is the default of no retention.
func (r Retention) off() bool { return r.Time == 0 && r.Size == 0 }

// released picks, from cands (consumed closed ledgers in log order, each with the
// creation time of the ledger after it), the prefix that r lets trim delete. total is
// the size of the whole managed ledger.
func (r Retention) released(cands []trimCandidate, total int64, now time.Time) []int64 {
	var out []int64
	var freed int64
	for _, c := range cands {
		expired := r.Time >= 0 && now.Sub(time.UnixMilli(c.endMillis)) > r.Time
		overSize := r.Size >= 0 && total-freed > r.Size
		if c.entries > 0 && !expired && !overSize {
			break // kept, and so is everything after it
		}
		out = append(out, c.id)
		freed += c.size
	}
	return out
}

// trimCandidate is a consumed closed ledger trim may delete.
type trimCandidate struct {
	id, entries, size int64
	endMillis         int64
}

// Persistence is the replication of new ledgers (ensemble size E, write quorum Qw,
// ack quorum Qa, with E ≥ Qw ≥ Qa ≥ 1). The zero value means the Config's.
type Persistence struct {
	EnsembleSize, WriteQuorum, AckQuorum int
}

// SetRetention changes the managed ledger's retention (a namespace policy changed) and
// trims at once under the new limits.
func (ml *ManagedLedger) SetRetention(r Retention) {
	ml.mu.Lock()
	changed := ml.retention != r
	ml.retention = r
	ml.mu.Unlock()
	if changed {
		ml.maybeTrim()
	}
}

// SetPersistence sets the replication of the ledgers created from now on (the current
// one keeps its own). The zero value goes back to the Config's.
func (ml *ManagedLedger) SetPersistence(p Persistence) {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ml.persistence = p
}

// CheckRetention starts a trim: time-based retention releases ledgers with no event
// to trigger it, so the broker calls this periodically.
func (ml *ManagedLedger) CheckRetention() { ml.maybeTrim() }

// persistenceConfig is the Config with the persistence new ledgers are created with.
func (ml *ManagedLedger) persistenceConfig() Config {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	cfg := ml.cfg
	if p := ml.persistence; p.EnsembleSize > 0 {
		cfg.EnsembleSize, cfg.WriteQuorum, cfg.AckQuorum = p.EnsembleSize, p.WriteQuorum, p.AckQuorum
	}
	return cfg
}

package autorecovery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/bookie/audit"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata"
)

// Worker is one auto-recovery candidate. Start it in every process that may run the
// worker (each bookie, standalone); the election makes exactly one of them active.
//
// One goroutine runs the candidate: campaign, then — while leading — audit and heal,
// then campaign again. While it leads, two more run: the term's watchdog (election.go),
// which ends the term at the lease's local deadline, and a follower of the bookie
// registry and draining marks (state.go), which wakes the first when they change. The
// worker's ledger client has its own (connections, recovery). Close waits for all.
type Worker struct {
	cfg   Config
	log   *slog.Logger
	store *metadata.Store
	reg   *registry.Registry
	lc    *ledger.Client
	m     *metrics // nil without Config.Metrics

	cancel context.CancelFunc
	done   chan struct{}

	active        atomic.Bool
	replicated    atomic.Int64
	lostCount     atomic.Int64
	underRepl     atomic.Int64
	closeOnce     sync.Once
	activeChanged chan struct{} // cap 1: active flipped (tests wait on it)

	mu sync.Mutex
	// rng chooses replacement bookies.
	rng *rand.Rand
	// lost holds the entries already counted as lost, so each counts once.
	lost map[entryID]struct{}
	// stuck: fragment slots left because entries were lost, with the registry
	// generation they were left at; retried once it moves.
	stuck map[slot]uint64
	// backoffs: fragment slots whose last attempt failed, and until when to wait.
	backoffs map[slot]backoff
}

type backoff struct {
	n     int
	until time.Time
}

type entryID struct{ ledger, entry int64 }

// Stats are the worker's counters (the same as its metrics).
type Stats struct {
	Active bool
	// FragmentsReplicated counts fragments copied and switched to a replacement.
	FragmentsReplicated int64
	// EntriesLost counts entries no surviving replica had (each once).
	EntriesLost int64
	// UnderReplicated is the number of under-replicated ledgers at the last audit.
	UnderReplicated int64
}

// Start starts a candidate. It does no I/O before returning; the candidate campaigns
// in the background until Close.
func Start(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	lc, err := ledger.NewClient(ledger.ClientConfig{
		Store:       cfg.Store,
		Logger:      cfg.Logger,
		ReadTimeout: cfg.ReadTimeout,
		AddTimeout:  cfg.ReadTimeout,
		Seed:        seed,
	})
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "autorecovery", "candidate", cfg.ID),
		store:         cfg.Store,
		reg:           registry.New(cfg.Store),
		lc:            lc,
		done:          make(chan struct{}),
		activeChanged: make(chan struct{}, 1),
		rng:           rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908)),
		lost:          map[entryID]struct{}{},
		stuck:         map[slot]uint64{},
		backoffs:      map[slot]backoff{},
	}
	if cfg.Metrics != nil {
		w.m = newMetrics()
		if err := w.m.register(cfg.Metrics); err != nil {
			lc.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.run(ctx)
	return w, nil
}

// Close stops the candidate — stepping down if it leads, which deletes the leader key
// so another candidate takes over at once — and waits for its goroutines.
func (w *Worker) Close() error {
	w.closeOnce.Do(func() {
		w.cancel()
		<-w.done
		w.lc.Close()
		if w.m != nil {
			w.m.unregister(w.cfg.Metrics)
		}
	})
	return nil
}

// Active reports whether this candidate is the elected worker now.
func (w *Worker) Active() bool { return w.active.Load() }

// ActiveChanged is signalled (capacity 1) whenever Active flips.
func (w *Worker) ActiveChanged() <-chan struct{} { return w.activeChanged }

// Stats returns the counters.
func (w *Worker) Stats() Stats {
	return Stats{
		Active:              w.active.Load(),
		FragmentsReplicated: w.replicated.Load(),
		EntriesLost:         w.lostCount.Load(),
		UnderReplicated:     w.underRepl.Load(),
	}
}

func (w *Worker) setActive(on bool) {
	w.active.Store(on)
	if w.m != nil {
		if on {
			w.m.active.Set(1)
		} else {
			w.m.active.Set(0)
			w.m.underReplicated.Set(0)
		}
	}
	if !on {
		w.underRepl.Store(0)
	}
	select {
	case w.activeChanged <- struct{}{}:
	default:
	}
}

func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	for {
		t, err := w.campaign(ctx)
		if err != nil {
			return // ctx ended: Close
		}
		w.log.Info("autorecovery: elected; this worker is active")
		w.lead(t)
		w.end(t)
		w.log.Info("autorecovery: no longer active")
	}
}

// lead is the active worker's loop: audit every ledger, heal what is due, and sleep
// until the next thing falls due, the registry changes, or the term ends.
func (w *Worker) lead(t *term) {
	w.setActive(true)
	defer w.setActive(false)
	st := newClusterState()
	wake := make(chan struct{}, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		w.follow(t.ctx, st, wake)
	}()
	defer func() { t.cancel(); <-watched }()
	// The first audit waits for the registry's snapshot, so that a bookie that is
	// merely not listed yet does not count as missing.
	select {
	case <-st.ready:
	case <-t.ctx.Done():
		return
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-wake:
			// Registry changes come in bursts (a bookie restarting, a mode switch):
			// audit at most every minAuditGap. (Timers of Go ≥ 1.23: Reset needs no drain.)
			timer.Reset(max(time.Until(last.Add(minAuditGap)), 0))
			continue
		case <-timer.C:
		}
		last = time.Now()
		next := w.audit(t, st)
		timer.Reset(max(time.Until(next), 0))
	}
}

// minAuditGap is the shortest time between two audits woken by registry changes.
const minAuditGap = 200 * time.Millisecond

// dueAt says when bookie b of a fragment becomes due for re-replication, and whether
// it is a bookie to move at all (missing or draining).
func (w *Worker) dueAt(v bookieView, b string, immutable bool) (time.Time, bool) {
	var due time.Time
	if v.registered[b] {
		since, ok := v.draining[b]
		if !ok {
			return time.Time{}, false
		}
		due = since
	} else {
		at, ok := v.lostAt[b]
		if !ok {
			return time.Time{}, false // not seen missing yet (view records what it is told)
		}
		due = at
	}
	if !immutable {
		due = due.Add(w.cfg.OpenLedgerRereplicationGracePeriod)
	}
	return due, true
}

// audit lists every ledger, publishes the under-replicated count and heals each ledger
// with a fragment due now. It returns when the next audit is due.
func (w *Worker) audit(t *term, st *clusterState) time.Time {
	next := time.Now().Add(w.cfg.ScanInterval)
	var ledgers []*ledger.Metadata
	mentioned := map[string]bool{}
	err := audit.EachLedger(t.ctx, w.store, func(m *ledger.Metadata, _ int64) {
		ledgers = append(ledgers, m)
		for _, b := range m.Bookies() {
			mentioned[b] = true
		}
	})
	if err != nil {
		if t.ctx.Err() == nil {
			w.log.Warn("autorecovery: list ledgers", "err", err)
		}
		return time.Now().Add(time.Second)
	}
	w.prune(ledgers)
	v := st.view(w.cfg.LostBookieRecoveryDelay, mentioned)
	now := time.Now()
	var under int64
	var todo []int64
	for _, m := range ledgers {
		missing, due := false, false
		for i, f := range m.Fragments {
			_, _, immutable := fragmentSpan(m, i)
			for _, b := range f.Ensemble {
				if !v.registered[b] {
					missing = true
				}
				at, bad := w.dueAt(v, b, immutable)
				switch {
				case !bad:
				case !at.After(now):
					due = true
				default:
					next = minTime(next, at)
				}
			}
		}
		if missing {
			under++
		}
		if due {
			todo = append(todo, m.ID)
		}
	}
	w.underRepl.Store(under)
	if w.m != nil {
		w.m.underReplicated.Set(float64(under))
	}
	if len(todo) > 0 {
		w.log.Info("autorecovery: audit", "ledgers", len(ledgers), "underReplicated", under, "toHeal", len(todo))
	}
	healed := false
	for _, id := range todo {
		if !t.valid() {
			return next
		}
		n, retry := w.healLedger(t, st, id)
		healed = healed || n > 0
		if !retry.IsZero() {
			next = minTime(next, retry)
		}
	}
	if healed {
		// Audit again at once: the count above is stale, and a ledger may have more.
		return time.Now()
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

package autorecovery

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata"
)

// What the active worker knows of the bookies: which are registered, since when each
// missing one is missing, since when each draining one is draining — kept by one watch
// on ROOT/bookies/ for the length of a term.

// follow keeps st in step with the registry and the draining marks (one watch on
// ROOT/bookies/) and signals wake on every change that matters, until ctx ends.
func (w *Worker) follow(ctx context.Context, st *clusterState, wake chan<- struct{}) {
	events := w.store.ListWatch(ctx, w.store.Keys.Bookies())
	defer drain(events)
	for ev := range events {
		var changed bool
		switch ev.Type {
		case metadata.EventReset:
			changed = st.reset(w, ev.Snapshot)
		case metadata.EventPut, metadata.EventDelete:
			changed = st.apply(w, ev.Value, ev.Type == metadata.EventPut)
		}
		if changed {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
}

// clusterState is what the active worker knows of the bookies, from the watch.
type clusterState struct {
	ready     chan struct{} // closed once the first snapshot is in
	readyOnce sync.Once

	mu sync.Mutex
	// regs: the registration keys present per bookie id (read-write and/or read-only:
	// a mode switch deletes one and puts the other).
	regs map[string]map[string]bool
	// missingSince: when each unregistered bookie was first noticed missing (by this
	// term: a bookie gone before the term started counts from when the term saw it).
	missingSince map[string]time.Time
	// drainingSince: when this term first saw each draining mark.
	drainingSince map[string]time.Time
	// gen counts changes of the registry: a fragment left because entries were lost is
	// tried again once it moves (a bookie came back).
	gen uint64
}

func newClusterState() *clusterState {
	return &clusterState{
		ready:         make(chan struct{}),
		regs:          map[string]map[string]bool{},
		missingSince:  map[string]time.Time{},
		drainingSince: map[string]time.Time{},
	}
}

// classify splits a key under ROOT/bookies/ into a registration or a draining mark.
func (w *Worker) classify(key string) (id string, reg, drain bool) {
	if id, ok := registry.RegistrationID(w.store, key); ok {
		return id, true, false
	}
	if id, ok := strings.CutPrefix(key, w.store.Keys.BookiesDraining()); ok && id != "" {
		return id, false, true
	}
	return "", false, false
}

// reset replaces the state with a snapshot of ROOT/bookies/.
func (st *clusterState) reset(w *Worker, vals []metadata.Value) bool {
	now := time.Now()
	regs := map[string]map[string]bool{}
	draining := map[string]bool{}
	for _, v := range vals {
		id, reg, drain := w.classify(v.Key)
		switch {
		case reg:
			if regs[id] == nil {
				regs[id] = map[string]bool{}
			}
			regs[id][v.Key] = true
		case drain:
			draining[id] = true
		}
	}
	st.mu.Lock()
	for id := range st.regs {
		if regs[id] == nil {
			if _, ok := st.missingSince[id]; !ok {
				st.missingSince[id] = now
			}
		}
	}
	for id := range regs {
		delete(st.missingSince, id)
	}
	st.regs = regs
	for id := range st.drainingSince {
		if !draining[id] {
			delete(st.drainingSince, id)
		}
	}
	for id := range draining {
		if _, ok := st.drainingSince[id]; !ok {
			st.drainingSince[id] = now
		}
	}
	st.gen++
	st.mu.Unlock()
	st.readyOnce.Do(func() { close(st.ready) })
	return true
}

// apply records one put or delete under ROOT/bookies/ and reports whether it matters.
func (st *clusterState) apply(w *Worker, v metadata.Value, put bool) bool {
	id, reg, drain := w.classify(v.Key)
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case reg && put:
		if st.regs[id] == nil {
			st.regs[id] = map[string]bool{}
		}
		st.regs[id][v.Key] = true
		delete(st.missingSince, id)
	case reg:
		delete(st.regs[id], v.Key)
		if len(st.regs[id]) > 0 {
			return false // a mode switch: still registered
		}
		delete(st.regs, id)
		st.missingSince[id] = now
	case drain && put:
		if _, ok := st.drainingSince[id]; ok {
			return false
		}
		st.drainingSince[id] = now
	case drain:
		delete(st.drainingSince, id)
	default:
		return false // a cookie
	}
	st.gen++
	return true
}

// bookieView is a consistent copy of the state for one audit.
type bookieView struct {
	registered map[string]bool
	lostAt     map[string]time.Time // missing bookie → when it falls due (missing + delay)
	draining   map[string]time.Time // draining bookie → when it was first seen draining
	gen        uint64
}

// view copies the state; every bookie in mentioned that is not registered and not yet
// known missing is recorded missing from now.
func (st *clusterState) view(delay time.Duration, mentioned map[string]bool) bookieView {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	v := bookieView{registered: map[string]bool{}, lostAt: map[string]time.Time{}, draining: map[string]time.Time{}, gen: st.gen}
	for id := range st.regs {
		v.registered[id] = true
	}
	for id := range mentioned {
		if !v.registered[id] {
			if _, ok := st.missingSince[id]; !ok {
				st.missingSince[id] = now
			}
		}
	}
	for id, since := range st.missingSince {
		v.lostAt[id] = since.Add(delay)
	}
	for id, since := range st.drainingSince {
		if v.registered[id] {
			v.draining[id] = since
		}
		// A draining bookie that is not registered is simply missing.
	}
	return v
}

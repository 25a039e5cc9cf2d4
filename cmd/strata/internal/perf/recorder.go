package perf

import (
	"sync"
	"time"
)

// window is what a recorder has seen over some span: the messages, their bytes and
// latencies, the errors, and the first and last event times.
type window struct {
	hist        Histogram
	msgs, bytes uint64
	errors      uint64
	first, last time.Time
}

func (w *window) add(at time.Time, lat time.Duration, n int) {
	w.hist.Record(lat)
	w.msgs++
	w.bytes += uint64(n)
	if w.first.IsZero() {
		w.first = at
	}
	w.last = at
}

// recorder collects completions from the client's goroutines (send callbacks, or the
// receive loop). It keeps two windows: the current progress interval, which includes
// warm-up, and the measurement, which does not.
//
// A mutex rather than an owning goroutine: completions arrive on the client's own
// goroutines (one per producer) and a channel hop per message would cost more than the
// uncontended lock, and would add its own latency to what is measured.
type recorder struct {
	mu sync.Mutex
	// Invariant: every completion is in interval (until taken) and, if it was measured,
	// in total.
	interval window
	total    window
	firstErr error
}

// record adds one successful message of n bytes completed at at with latency lat.
func (r *recorder) record(at time.Time, lat time.Duration, n int, measured bool) {
	r.mu.Lock()
	r.interval.add(at, lat, n)
	if measured {
		r.total.add(at, lat, n)
	}
	r.mu.Unlock()
}

// fail counts one failed message.
func (r *recorder) fail(err error, measured bool) {
	r.mu.Lock()
	r.interval.errors++
	if measured {
		r.total.errors++
	}
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

// takeInterval returns the interval window and starts a new one.
func (r *recorder) takeInterval() window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.interval
	r.interval = window{}
	return w
}

// totals returns a copy of the measurement window and the first error seen.
func (r *recorder) totals() (window, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.firstErr
}

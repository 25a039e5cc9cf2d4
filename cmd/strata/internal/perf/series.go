package perf

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"
)

// series is a latency time series: per slot of send time (Resolution wide, counted from
// the start of the run), the number of messages and the mean and largest latency. It is
// for finding when latency spikes happen, to line them up with events elsewhere (a GC,
// a ledger rollover, a disk flush); the histogram gives the distribution.
//
// Safe for concurrent use; a nil *series records nothing.
type series struct {
	start time.Time
	res   time.Duration

	mu sync.Mutex
	// Invariant: slots[i] covers send times [start+i*res, start+(i+1)*res).
	slots []slot
}

type slot struct {
	n        uint64
	sum, max time.Duration
}

func newSeries(start time.Time, res time.Duration) *series {
	if res <= 0 {
		res = 100 * time.Millisecond
	}
	return &series{start: start, res: res}
}

func (s *series) add(sent time.Time, lat time.Duration) {
	if s == nil {
		return
	}
	i := int(sent.Sub(s.start) / s.res)
	if i < 0 {
		return
	}
	s.mu.Lock()
	for len(s.slots) <= i {
		s.slots = append(s.slots, slot{})
	}
	sl := &s.slots[i]
	sl.n++
	sl.sum += lat
	sl.max = max(sl.max, lat)
	s.mu.Unlock()
}

// writeSeries writes named series side by side as CSV: the slot's start as seconds into
// the run and as Unix milliseconds, then count, mean and max (ms) of each series.
func writeSeries(path string, names []string, ss []*series) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "offset_s,unix_ms")
	n := 0
	for i, s := range ss {
		fmt.Fprintf(w, ",%s_n,%s_mean_ms,%s_max_ms", names[i], names[i], names[i])
		s.mu.Lock()
		n = max(n, len(s.slots))
	}
	fmt.Fprintln(w)
	start, res := ss[0].start, ss[0].res
	for i := range n {
		t := start.Add(time.Duration(i) * res)
		fmt.Fprintf(w, "%.3f,%d", (time.Duration(i) * res).Seconds(), t.UnixMilli())
		for _, s := range ss {
			var sl slot
			if i < len(s.slots) {
				sl = s.slots[i]
			}
			mean := 0.0
			if sl.n > 0 {
				mean = ms(sl.sum) / float64(sl.n)
			}
			fmt.Fprintf(w, ",%d,%.3f,%.3f", sl.n, mean, ms(sl.max))
		}
		fmt.Fprintln(w)
	}
	for _, s := range ss {
		s.mu.Unlock()
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

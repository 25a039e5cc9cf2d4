package perf

import (
	"context"
	"time"
)

// Pacer is a token bucket on the monotonic clock that releases Rate tokens a second, one
// per Wait, with room for Burst tokens to accumulate.
//
// Token i of the current schedule is due at origin + i/Rate, computed from i rather than
// by adding an interval each time, so rounding never accumulates: over a run the rate is
// exact up to the clock. Go's timers may oversleep (idle Ps wait in the netpoller in whole
// milliseconds), so a waiter that wakes late takes every token that fell due meanwhile
// without sleeping: at 10,000/s a 1 ms oversleep becomes a burst of 10 sends, and the
// average rate stays exact. If the caller falls further behind than Burst tokens (the
// producer blocked on a full queue, say), the schedule restarts Burst tokens in the past:
// the missed tokens are dropped, as a token bucket drops tokens that overflow it, and
// Dropped counts them, so the report can say the target rate was not offered.
//
// A Pacer is used by one goroutine.
type Pacer struct {
	rate  float64 // tokens per second, > 0
	burst int64   // >= 1

	now   func() time.Duration // monotonic time since an arbitrary origin
	sleep func(context.Context, time.Duration) error

	// Invariant: token next of the current schedule is due at origin + next/rate.
	origin  time.Duration
	next    int64
	dropped int64
}

// NewPacer returns a pacer releasing rate tokens a second with a bucket of burst tokens
// (burst < 1 means 1). Its first token is due at once.
func NewPacer(rate float64, burst int) *Pacer {
	start := time.Now()
	return newPacer(rate, burst, func() time.Duration { return time.Since(start) }, sleepCtx)
}

func newPacer(rate float64, burst int, now func() time.Duration, sleep func(context.Context, time.Duration) error) *Pacer {
	if burst < 1 {
		burst = 1
	}
	return &Pacer{rate: rate, burst: int64(burst), now: now, sleep: sleep, origin: now()}
}

// Wait blocks until the next token is due, then takes it. It returns ctx's error if ctx
// ends first; the token is then not taken.
func (p *Pacer) Wait(ctx context.Context) error {
	now := p.now()
	due := p.due(p.next)
	if lag := now - due; lag > 0 {
		// Behind: tokens next .. next+overdue-1 are all due by now. The bucket holds burst
		// of them; the rest overflowed.
		if overdue := int64(float64(lag)*p.rate/float64(time.Second)) + 1; overdue > p.burst {
			p.dropped += overdue - p.burst
			p.origin = now - time.Duration(float64(p.burst-1)*float64(time.Second)/p.rate)
			p.next = 0
		}
	} else if lag < 0 {
		if err := p.sleep(ctx, -lag); err != nil {
			return err
		}
	}
	p.next++
	return nil
}

// Dropped returns how many tokens overflowed the bucket because the caller was late.
func (p *Pacer) Dropped() int64 { return p.dropped }

// due returns when token i of the current schedule is due.
func (p *Pacer) due(i int64) time.Duration {
	return p.origin + time.Duration(float64(i)*float64(time.Second)/p.rate)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

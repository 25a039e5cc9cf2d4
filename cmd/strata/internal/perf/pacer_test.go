package perf

import (
	"context"
	"testing"
	"time"
)

// fakeClock is a monotonic clock that moves only when the pacer sleeps, by the requested
// time plus a fixed oversleep, or when the test advances it.
type fakeClock struct {
	t         time.Duration
	oversleep time.Duration
	sleeps    int
}

func (c *fakeClock) now() time.Duration { return c.t }

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.sleeps++
	c.t += d + c.oversleep
	return nil
}

func TestPacerRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate      float64
		burst     int
		oversleep time.Duration
		tokens    int
	}{
		{"10k exact timers", 10_000, 100, 0, 100_000},
		{"10k 1ms oversleep", 10_000, 100, time.Millisecond, 100_000},
		{"10k 3ms oversleep", 10_000, 100, 3 * time.Millisecond, 100_000},
		{"333.3/s", 333.3, 1, 50 * time.Microsecond, 10_000},
		{"1M/s 1ms oversleep", 1_000_000, 10_000, time.Millisecond, 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{oversleep: tc.oversleep}
			p := newPacer(tc.rate, tc.burst, c.now, c.sleep)
			for range tc.tokens {
				if err := p.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			// The last token is due at (tokens-1)/rate; with oversleep the waiter may wake
			// up to one oversleep after it.
			want := time.Duration(float64(tc.tokens-1) / tc.rate * float64(time.Second))
			if c.t < want || c.t > want+tc.oversleep+time.Microsecond {
				t.Errorf("%d tokens took %v, want %v (+ at most %v)", tc.tokens, c.t, want, tc.oversleep)
			}
			if p.Dropped() != 0 {
				t.Errorf("dropped %d tokens, want 0", p.Dropped())
			}
			if tc.oversleep > 0 && c.sleeps > tc.tokens/2 && tc.rate*tc.oversleep.Seconds() > 2 {
				t.Errorf("slept %d times for %d tokens: late wake-ups should be caught up without sleeping", c.sleeps, tc.tokens)
			}
		})
	}
}

func TestPacerStallDropsOverflow(t *testing.T) {
	c := &fakeClock{}
	p := newPacer(1000, 10, c.now, c.sleep) // 1 token/ms, bucket of 10
	for range 5 {
		_ = p.Wait(context.Background())
	}
	// Token 5 is due at 5 ms. Stall until 105 ms: tokens 5..105 (101) are due; 10 fit in
	// the bucket, 91 overflow.
	c.t = 105 * time.Millisecond
	start := c.t
	for range 10 {
		_ = p.Wait(context.Background())
	}
	if c.t != start {
		t.Errorf("the 10 tokens in the bucket took %v, want none", c.t-start)
	}
	if got := p.Dropped(); got != 91 {
		t.Errorf("Dropped() = %d, want 91", got)
	}
	_ = p.Wait(context.Background())
	if got, want := c.t, start+time.Millisecond; got != want {
		t.Errorf("token after the burst at %v, want %v", got, want)
	}
}

func TestPacerContextCancelled(t *testing.T) {
	p := NewPacer(1, 1) // one token a second; the first is due at once
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
}

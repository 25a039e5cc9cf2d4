package metadata

import "time"

// Clock is the time source of a lease's local deadline, and of whoever acts on that
// deadline (broker/ownership). Production uses the system clock, whose readings carry
// the monotonic clock; tests inject one they move by hand (metadatatest.ManualClock),
// so that "the deadline passed" is an event a test causes, not a wait.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// LeaseOption adjusts GrantLease.
type LeaseOption func(*Lease)

// WithClock makes the lease measure its deadline on c instead of the system clock.
// Keepalives are still sent every third of the TTL in real time; each confirmed one
// moves the deadline to c.Now() at its sending plus the TTL.
func WithClock(c Clock) LeaseOption {
	return func(l *Lease) {
		if c != nil {
			l.clock = c
		}
	}
}

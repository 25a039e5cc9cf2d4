package perf

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits sets the precision: each power-of-two range [2^k, 2^(k+1)) is split into
// 2^subBucketBits equal buckets, so a recorded value v lands in a bucket no wider than
// v/2^subBucketBits: a relative error below 1/128 (0.8%).
const subBucketBits = 7

const (
	subBuckets = 1 << subBucketBits
	// Values below 2^(subBucketBits+1) get exact buckets; above, shift s (1..63-subBucketBits)
	// adds subBuckets buckets each, so the largest index is (64-subBucketBits-1)<<subBucketBits
	// + 2*subBuckets - 1.
	numBuckets = (64-subBucketBits-1)*subBuckets + 2*subBuckets
)

// Histogram counts durations in log-linear buckets, in the manner of HdrHistogram. It is
// not safe for concurrent use: each recorder owns one and hands out copies (Clone) or
// merges them (Merge) under its own lock.
//
// Invariant: count == sum of counts[]; min and max are the exact extremes recorded (0 when
// count == 0); sum is the exact total in nanoseconds.
type Histogram struct {
	counts   [numBuckets]uint64
	count    uint64
	min, max int64
	sum      float64
}

// bucketOf returns the bucket index of v (v >= 0).
func bucketOf(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - (subBucketBits + 1)
	if shift < 0 {
		shift = 0
	}
	return shift<<subBucketBits + int(u>>uint(shift))
}

// bucketRange returns the smallest and largest value that fall in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 2*subBuckets {
		return int64(i), int64(i)
	}
	shift := i>>subBucketBits - 1
	top := int64(i - shift<<subBucketBits) // in [subBuckets, 2*subBuckets)
	lo = top << uint(shift)
	return lo, lo + int64(1)<<uint(shift) - 1
}

// Record adds one observation. Negative durations (a clock step between two processes'
// readings) are recorded as 0.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.count }

// Max returns the largest observation, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest observation, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the arithmetic mean, exactly (up to float64 rounding).
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count))
}

// Percentile returns the smallest bucket bound such that at least q percent of the
// observations are at or below it (q in [0, 100]): the largest value of that bucket,
// capped at the exact maximum, as HdrHistogram's ValueAtQuantile does. It returns 0 for
// an empty histogram.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	// The epsilon keeps float rounding (99.9/100*200000 = 199800.00000000003) from
	// moving the rank up by one.
	rank := uint64(math.Ceil(q*float64(h.count)/100 - 1e-9))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.count {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return time.Duration(min(hi, h.max))
		}
	}
	return time.Duration(h.max) // unreachable while the invariant holds
}

// Merge adds every observation of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.count == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

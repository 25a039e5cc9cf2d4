package perf

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
)

func TestBucketRoundTrip(t *testing.T) {
	// Every bucket's range maps back to the bucket, ranges tile the integers without gaps,
	// and each bucket is narrower than 1/128 of its values.
	var prevHi int64 = -1
	last := bucketOf(1<<62 + 12345)
	for i := 0; i <= last; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] maps back to %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if w := hi - lo + 1; w > 1 && float64(w) > float64(lo)/subBuckets {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, hi, subBuckets)
		}
		prevHi = hi
	}
	if b := bucketOf(1<<63 - 1); b >= numBuckets {
		t.Fatalf("max int64 maps to bucket %d >= %d", b, numBuckets)
	}
}

func TestPercentiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7 * time.Millisecond}, 99, 7 * time.Millisecond},
		{"small exact", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5},
		{"small exact p90", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{"p100 is max", []time.Duration{1, time.Second, 3}, 100, time.Second},
		{"p0 is min", []time.Duration{5 * time.Millisecond, 3 * time.Millisecond}, 0, 3 * time.Millisecond},
		{"negative is zero", []time.Duration{-time.Millisecond}, 50, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			if got := h.Percentile(tc.q); got != tc.want {
				t.Errorf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestPercentilesAgainstSort compares with exact percentiles of sorted samples: the
// histogram must be at or above the exact value and within its bucket's 0.8%.
func TestPercentilesAgainstSort(t *testing.T) {
	r := testenv.Rand(t) // the seed is logged on failure
	var h Histogram
	samples := make([]int64, 200_000)
	for i := range samples {
		// Log-normal-ish latencies from 10 µs to ~1 s, plus a few huge outliers.
		v := int64(10_000 * (1 + r.ExpFloat64()*r.ExpFloat64()*50))
		if r.IntN(10_000) == 0 {
			v = int64(r.IntN(int(5 * time.Second)))
		}
		samples[i] = v
		h.Record(time.Duration(v))
	}
	slices.Sort(samples)
	for _, q := range []float64{1, 50, 90, 95, 99, 99.9, 99.99} {
		rank := int(math.Ceil(float64(len(samples))*q/100-1e-9)) - 1
		exact := samples[rank]
		got := int64(h.Percentile(q))
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+1 {
			t.Errorf("p%v = %d, exact %d", q, got, exact)
		}
	}
	if h.Max() != time.Duration(samples[len(samples)-1]) || h.Min() != time.Duration(samples[0]) {
		t.Errorf("min/max = %v/%v, want %v/%v", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
	}
	if h.Count() != uint64(len(samples)) {
		t.Errorf("count = %d", h.Count())
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var empty Histogram
	a.Merge(&empty)
	empty.Merge(&a)
	empty.Merge(&b)
	if empty != all {
		t.Fatalf("merged histogram differs: count %d/%d, min %v/%v, max %v/%v, mean %v/%v",
			empty.Count(), all.Count(), empty.Min(), all.Min(), empty.Max(), all.Max(), empty.Mean(), all.Mean())
	}
	empty.Reset()
	if empty.Count() != 0 || empty.Percentile(50) != 0 {
		t.Fatal("Reset left observations")
	}
}

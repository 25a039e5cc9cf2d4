package cursor

import (
	"encoding/binary"
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"
)

// This file holds what the cursor needs from its per-ledger roaring bitmaps beyond Add,
// Contains and RemoveRange, built only on primitives that a randomized comparison with a
// naive set found correct in roaring v2.30.0 (CardinalityInRange, Contains, Ranges,
// RemoveRange). Two convenient ones were not: Bitmap.NextAbsentValue stops at container
// boundaries (it reports 65536 for a run that continues into the next container, and -1
// after a full container), and the Unset iterator yields acked values at 64-bit word
// boundaries of bitmap containers. TestBitmapHelpers pins the replacements below.

// runEnd returns the first value ≥ x that bm does not hold: the end (exclusive) of the
// run of consecutive values starting at x, or x itself when bm does not hold x. It
// gallops then bisects with CardinalityInRange, O(log(run length)) range counts.
func runEnd(bm *roaring.Bitmap, x uint32) uint64 {
	const limit = 1 << 32
	if !bm.Contains(x) {
		return uint64(x)
	}
	// [x, lo) is all held; find hi > lo such that [lo, hi) is not.
	lo, step := uint64(x)+1, uint64(1)
	var hi uint64
	for {
		if lo == limit {
			return limit
		}
		cand := min(lo+step, limit)
		if bm.CardinalityInRange(lo, cand) != cand-lo {
			hi = cand
			break
		}
		lo, step = cand, step*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if bm.CardinalityInRange(lo, mid) == mid-lo {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// absent yields the values in [lo, hi] that bm does not hold, in order, skipping each run
// of held values in one runEnd. bm may be nil (nothing held).
func absent(bm *roaring.Bitmap, lo, hi uint32, yield func(uint32) bool) bool {
	for v := uint64(lo); v <= uint64(hi); {
		if bm != nil && bm.Contains(uint32(v)) {
			v = runEnd(bm, uint32(v))
			continue
		}
		if !yield(uint32(v)) {
			return false
		}
		v++
	}
	return true
}

// Roaring portable format constants (https://github.com/RoaringBitmap/RoaringFormatSpec).
const (
	roaringCookieNoRun     = 12346
	roaringCookieRun       = 12347
	roaringNoOffsetBelow   = 4 // with run containers, offsets are present only from 4 containers
	roaringArrayMax        = 4096
	roaringBitmapBytes     = 8192
	roaringMaxCursorKey    = 0x8000 // entry ids < 2^31: high 16 bits < 0x8000
	roaringMaxContainerVal = 1 << 16
)

// checkPortableBitmap verifies that raw is exactly one non-empty bitmap in the Roaring
// portable format whose values are valid entry ids (< 2^31): keys strictly increasing,
// offsets (when present) pointing at their containers, header cardinalities true, arrays
// strictly increasing, runs sorted and disjoint, nothing left over. It runs in time
// linear in len(raw) — roaring's own Validate is quadratic in the runs of a container —
// and it is what makes decoding untrusted bytes with roaring safe. base is raw's offset
// in the snapshot, for error reports.
func checkPortableBitmap(raw []byte, base int) error {
	d := &decoder{b: raw, off: base}
	cookie := d.u32("bitmap cookie")
	if d.err == nil && cookie&0xFFFF != roaringCookieRun && cookie != roaringCookieNoRun {
		d.failAt(0, "not a roaring portable bitmap")
	}
	var size int
	var runFlags []byte
	switch {
	case d.err != nil:
	case cookie&0xFFFF == roaringCookieRun:
		size = int(cookie>>16) + 1
		runFlags = d.next((size+7)/8, "bitmap run flags")
	case cookie == roaringCookieNoRun:
		n := d.u32("bitmap container count")
		if n > roaringMaxCursorKey {
			d.fail("bitmap has too many containers")
		}
		size = int(n)
	}
	if d.err == nil && size == 0 {
		d.fail("empty bitmap")
	}
	header := d.next(4*size, "bitmap header")
	var offsets []byte
	if runFlags == nil || size >= roaringNoOffsetBelow {
		offsets = d.next(4*size, "bitmap offsets")
	}
	prevKey := -1
	for i := 0; i < size && d.err == nil; i++ {
		key := int(binary.LittleEndian.Uint16(header[4*i:]))
		card := int(binary.LittleEndian.Uint16(header[4*i+2:])) + 1
		if key <= prevKey || key >= roaringMaxCursorKey {
			d.fail("bitmap keys not increasing or value ≥ 2^31")
			break
		}
		prevKey = key
		if offsets != nil && int(binary.LittleEndian.Uint32(offsets[4*i:])) != d.pos {
			d.fail("bitmap container offset mismatch")
			break
		}
		switch {
		case runFlags != nil && runFlags[i/8]&(1<<(i%8)) != 0:
			n := int(d.u16("run count"))
			runs := d.next(4*n, "runs")
			if d.err != nil {
				break
			}
			total, prevEnd := 0, -1
			for j := range n {
				start := int(binary.LittleEndian.Uint16(runs[4*j:]))
				end := start + int(binary.LittleEndian.Uint16(runs[4*j+2:]))
				if start <= prevEnd || end >= roaringMaxContainerVal {
					d.fail("runs overlap, unsorted or out of range")
					break
				}
				total += end - start + 1
				prevEnd = end
			}
			if d.err == nil && (n == 0 || total != card) {
				d.fail("run container cardinality mismatch")
			}
		case card > roaringArrayMax:
			words := d.next(roaringBitmapBytes, "bitmap container")
			if d.err != nil {
				break
			}
			ones := 0
			for j := 0; j < len(words); j += 8 {
				ones += bits.OnesCount64(binary.LittleEndian.Uint64(words[j:]))
			}
			if ones != card {
				d.fail("bitmap container cardinality mismatch")
			}
		default:
			vals := d.next(2*card, "array container")
			for j := 1; j < card && d.err == nil; j++ {
				if binary.LittleEndian.Uint16(vals[2*j:]) <= binary.LittleEndian.Uint16(vals[2*j-2:]) {
					d.fail("array container not increasing")
				}
			}
		}
	}
	if d.err == nil && d.pos != len(raw) {
		d.fail("bytes after bitmap")
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

package cursor

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/strata-io/strata/internal/testenv"
)

// randomBitmap fills three 65,536-value containers, each empty, full, sparse, alternating
// or a few long runs, and mirrors it in a plain []bool.
func randomBitmap(rng *rand.Rand) (*roaring.Bitmap, []bool) {
	const containers = 3
	set := make([]bool, containers<<16)
	for k := range containers {
		base := k << 16
		switch rng.IntN(5) {
		case 1:
			for i := range 1 << 16 {
				set[base+i] = true
			}
		case 2:
			for range 100 {
				set[base+rng.IntN(1<<16)] = true
			}
		case 3:
			for i := rng.IntN(2); i < 1<<16; i += 2 {
				set[base+i] = true
			}
		case 4:
			for range 4 {
				s, l := rng.IntN(1<<16), rng.IntN(30000)
				for i := s; i < min(s+l, 1<<16); i++ {
					set[base+i] = true
				}
			}
		}
	}
	bm := roaring.New()
	for i, v := range set {
		if v {
			bm.Add(uint32(i))
		}
	}
	if rng.IntN(2) == 0 {
		bm.RunOptimize()
	}
	return bm, set
}

// TestBitmapHelpers compares runEnd and absent with a naive set, with runs that cross
// container boundaries and full containers (where roaring's NextAbsentValue and Unset
// iterator go wrong).
func TestBitmapHelpers(t *testing.T) {
	rng := testenv.Rand(t)
	for range 25 {
		bm, set := randomBitmap(rng)
		n := len(set)
		for range 15 {
			x := rng.IntN(n)
			if rng.IntN(2) == 0 { // near a container boundary
				x = (rng.IntN(3) << 16) + rng.IntN(8) - 4
				x = max(0, min(x, n-1))
			}
			want := x
			for want < n && set[want] {
				want++
			}
			if got := runEnd(bm, uint32(x)); got != uint64(want) {
				t.Fatalf("runEnd(%d) = %d, want %d", x, got, want)
			}
			hi := min(n-1, x+rng.IntN(70000))
			var wantAbsent, gotAbsent []uint32
			for i := x; i <= hi; i++ {
				if !set[i] {
					wantAbsent = append(wantAbsent, uint32(i))
				}
			}
			absent(bm, uint32(x), uint32(hi), func(v uint32) bool {
				gotAbsent = append(gotAbsent, v)
				return true
			})
			if !slices.Equal(gotAbsent, wantAbsent) {
				t.Fatalf("absent(%d, %d): %d values, want %d", x, hi, len(gotAbsent), len(wantAbsent))
			}
		}
	}
	full := roaring.New()
	full.AddRange(0, 1<<31)
	if got := runEnd(full, 5); got != 1<<31 {
		t.Fatalf("runEnd over every entry id = %d", got)
	}
	full.Add(1<<32 - 1)
	full.AddRange(1<<31, 1<<32)
	if got := runEnd(full, 1<<32-2); got != 1<<32 {
		t.Fatalf("runEnd at the top of the domain = %d", got)
	}
}

// TestCheckPortableBitmap: everything roaring writes passes; malformed containers fail.
func TestCheckPortableBitmap(t *testing.T) {
	good := []*roaring.Bitmap{
		roaring.BitmapOf(5),
		roaring.BitmapOf(0, 65535, 65536, 1<<31-1),
	}
	r := roaring.New()
	r.AddRange(0, 100000)
	good = append(good, r)
	alt := roaring.New()
	for i := uint32(0); i < 300000; i += 2 {
		alt.Add(i)
	}
	good = append(good, alt)
	many := roaring.New() // ≥ 4 containers with runs: offsets present
	for k := uint64(0); k < 6; k++ {
		many.AddRange(k<<16+10, k<<16+20)
	}
	good = append(good, many)
	for i, bm := range good {
		for _, opt := range []bool{false, true} {
			if opt {
				bm = bm.Clone()
				bm.RunOptimize()
			}
			raw, err := bm.ToBytes()
			must(t, err)
			if err := checkPortableBitmap(raw, 0); err != nil {
				t.Errorf("bitmap %d (run-optimized %v): %v", i, opt, err)
			}
		}
	}

	runs := func(pairs ...uint16) []byte { // one run container, key 0, as roaring lays it out
		card := 0
		for i := 0; i < len(pairs); i += 2 {
			card += int(pairs[i+1]) + 1
		}
		b := binary.LittleEndian.AppendUint32(nil, roaringCookieRun) // 1 container
		b = append(b, 1)                                             // run flags
		b = binary.LittleEndian.AppendUint16(b, 0)                   // key
		b = binary.LittleEndian.AppendUint16(b, uint16(card-1))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(pairs)/2))
		for _, v := range pairs {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
		return b
	}
	if err := checkPortableBitmap(runs(1, 2, 10, 0), 0); err != nil {
		t.Fatalf("valid run container: %v", err)
	}
	for name, raw := range map[string][]byte{
		"overlapping runs": runs(1, 5, 3, 0),
		"unsorted runs":    runs(10, 0, 1, 0),
		"run past 65535":   runs(65530, 10),
		"no runs":          runs(),
		"unsorted array": func() []byte {
			b := bitmapBytes(1, 2)
			b[len(b)-4], b[len(b)-2] = 2, 1
			return b
		}(),
		"bad cookie": {0xff, 0xff, 0xff, 0xff},
		"truncated":  bitmapBytes(1, 2)[:10],
	} {
		if err := checkPortableBitmap(raw, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package dispatch

import (
	"fmt"
	"slices"
	"strings"
)

// rangeTable maps sticky-key hashes to the consumers that serve them, as
// disjoint inclusive ranges. AUTO_SPLIT keeps it covering the whole hash space
// with one range per consumer (split on join, merged on leave); STICKY holds
// the ranges consumers declared, and hashes outside them have no consumer.
type rangeTable struct {
	// Invariant: ranges are non-empty, disjoint, sorted by start, within
	// 0..hashSpace-1.
	ranges []ownedRange
}

type ownedRange struct {
	start, end int32 // inclusive
	consumer   uint64
}

func (r ownedRange) size() int32 { return r.end - r.start + 1 }

// owner returns the consumer serving hash h.
func (t *rangeTable) owner(h uint16) (uint64, bool) {
	i, _ := slices.BinarySearchFunc(t.ranges, int32(h), func(r ownedRange, h int32) int {
		switch {
		case r.end < h:
			return -1
		case r.start > h:
			return 1
		}
		return 0
	})
	if i < len(t.ranges) && t.ranges[i].start <= int32(h) && int32(h) <= t.ranges[i].end {
		return t.ranges[i].consumer, true
	}
	return 0, false
}

// split gives a joining AUTO_SPLIT consumer the lower half of the largest
// range; among equally large ranges, the lowest. The first consumer gets the
// whole hash space.
func (t *rangeTable) split(id uint64) error {
	if len(t.ranges) == 0 {
		t.ranges = []ownedRange{{start: 0, end: hashSpace - 1, consumer: id}}
		return nil
	}
	big := 0
	for i, r := range t.ranges {
		if r.size() > t.ranges[big].size() {
			big = i
		}
	}
	r := t.ranges[big]
	if r.size() < 2 {
		return fmt.Errorf("%w: no hash range left to split for consumer %d", ErrConsumerAssign, id)
	}
	mid := r.start + r.size()/2
	lower := ownedRange{start: r.start, end: mid - 1, consumer: id}
	t.ranges[big].start = mid
	t.ranges = slices.Insert(t.ranges, big, lower)
	return nil
}

// merge removes a leaving AUTO_SPLIT consumer's range, folding it into the
// range to its right, or to its left if it was the last.
func (t *rangeTable) merge(id uint64) {
	i := slices.IndexFunc(t.ranges, func(r ownedRange) bool { return r.consumer == id })
	if i < 0 {
		return
	}
	switch {
	case i+1 < len(t.ranges):
		t.ranges[i+1].start = t.ranges[i].start
	case i > 0:
		t.ranges[i-1].end = t.ranges[i].end
	}
	t.ranges = slices.Delete(t.ranges, i, i+1)
}

// insert adds a STICKY consumer's declared ranges. It refuses, changing
// nothing, ranges that are empty, outside the hash space, or overlap each
// other or another consumer's.
func (t *rangeTable) insert(id uint64, ranges []Range) error {
	if len(ranges) == 0 {
		return fmt.Errorf("%w: consumer %d declares no hash ranges", ErrConsumerAssign, id)
	}
	add := make([]ownedRange, 0, len(ranges))
	for _, r := range ranges {
		if r.Start < 0 || r.End >= hashSpace || r.Start > r.End {
			return fmt.Errorf("%w: consumer %d: invalid hash range %s", ErrConsumerAssign, id, r)
		}
		add = append(add, ownedRange{start: r.Start, end: r.End, consumer: id})
	}
	slices.SortFunc(add, func(a, b ownedRange) int { return int(a.start - b.start) })
	for i := 1; i < len(add); i++ {
		if add[i].start <= add[i-1].end {
			return fmt.Errorf("%w: consumer %d: its hash ranges [%d,%d] and [%d,%d] overlap",
				ErrConsumerAssign, id, add[i-1].start, add[i-1].end, add[i].start, add[i].end)
		}
	}
	for _, a := range add {
		for _, r := range t.ranges {
			if a.start <= r.end && r.start <= a.end {
				return fmt.Errorf("%w: consumer %d: hash range [%d,%d] overlaps [%d,%d] of consumer %d",
					ErrConsumerAssign, id, a.start, a.end, r.start, r.end, r.consumer)
			}
		}
	}
	t.ranges = append(t.ranges, add...)
	slices.SortFunc(t.ranges, func(a, b ownedRange) int { return int(a.start - b.start) })
	return nil
}

// removeAll drops every range of a leaving STICKY consumer; its hashes have
// no consumer until another declares them.
func (t *rangeTable) removeAll(id uint64) {
	t.ranges = slices.DeleteFunc(t.ranges, func(r ownedRange) bool { return r.consumer == id })
}

func (t *rangeTable) String() string {
	var b strings.Builder
	for i, r := range t.ranges {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "[%d,%d]:c%d", r.start, r.end, r.consumer)
	}
	return b.String()
}

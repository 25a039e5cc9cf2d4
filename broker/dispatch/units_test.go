package dispatch

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPosSetAgainstModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var s posSet
		model := make(map[Position]bool)
		for range 2000 {
			p := Position{Ledger: int64(rng.IntN(3)), Entry: int64(rng.IntN(40))}
			switch rng.IntN(6) {
			case 0, 1, 2:
				s.Add(p)
				model[p] = true
			case 3, 4:
				if got := s.Remove(p); got != model[p] {
					t.Fatalf("seed %d: Remove(%s) = %t, want %t", seed, p, got, model[p])
				}
				delete(model, p)
			case 5:
				var got []Position
				s.Ascend(func(q Position) bool {
					if p.Less(q) {
						return false
					}
					got = append(got, q)
					return true
				})
				for _, q := range got {
					s.Remove(q)
				}
				var want []Position
				for q := range model {
					if q.Compare(p) <= 0 {
						want = append(want, q)
						delete(model, q)
					}
				}
				slices.SortFunc(want, Position.Compare)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d: members up to %s = %v, want %v", seed, p, got, want)
				}
			}
			var got []Position
			s.Ascend(func(q Position) bool { got = append(got, q); return true })
			var want []Position
			for q := range model {
				want = append(want, q)
			}
			slices.SortFunc(want, Position.Compare)
			if !slices.Equal(got, want) || s.Len() != len(want) {
				t.Fatalf("seed %d: members %v (len %d), want %v", seed, got, s.Len(), want)
			}
		}
	}
}

func TestEntryMessages(t *testing.T) {
	for _, tc := range []struct {
		n      int32
		ackSet []int64
		want   int64
	}{
		{0, nil, 1},
		{1, nil, 1},
		{10, nil, 10},
		{10, []int64{0b1011}, 3},
		{10, []int64{-1}, 10},           // bits past the batch do not count
		{70, []int64{0, 0b11}, 2},       // second word
		{100, []int64{1 << 62}, 1},      // trailing zero words trimmed
		{10, []int64{0}, 1},             // all acked: still one, never zero
		{64, []int64{-1, -1}, 64},       // exactly one word
		{65, []int64{0, -1, -1}, 1},     // words past the batch are ignored
		{3, []int64{0b111, 0b111}, 3},   // idem
		{128, []int64{-1, 1 << 62}, 65}, // bit 126
	} {
		e := Entry{NumMessages: tc.n, AckSet: tc.ackSet}
		if got := e.messages(); got != tc.want {
			t.Errorf("messages(n=%d, ackSet=%b) = %d, want %d", tc.n, tc.ackSet, got, tc.want)
		}
	}
}

func TestRangeTableOwner(t *testing.T) {
	var tab rangeTable
	if err := tab.insert(1, []Range{{0, 9}, {20, 29}}); err != nil {
		t.Fatal(err)
	}
	if err := tab.insert(2, []Range{{10, 19}, {65535, 65535}}); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[uint16]int64{0: 1, 9: 1, 10: 2, 19: 2, 20: 1, 29: 1, 30: -1, 65534: -1, 65535: 2} {
		id, ok := tab.owner(h)
		if !ok {
			id = ^uint64(0)
		}
		if int64(id) != want {
			t.Errorf("owner(%d) = %d, want %d", h, int64(id), want)
		}
	}
	if err := tab.insert(3, []Range{{29, 30}}); !errors.Is(err, ErrConsumerAssign) {
		t.Errorf("overlapping insert: %v", err)
	}
	tab.removeAll(1)
	if _, ok := tab.owner(5); ok {
		t.Errorf("hash 5 still owned after its consumer left")
	}
}

func TestAutoSplitExhaustion(t *testing.T) {
	// 65536 consumers of one hash each: nothing is left to split.
	var tab rangeTable
	for h := range int32(hashSpace) {
		tab.ranges = append(tab.ranges, ownedRange{start: h, end: h, consumer: uint64(h)})
	}
	if err := tab.split(hashSpace); !errors.Is(err, ErrConsumerAssign) {
		t.Fatalf("split past the hash space: %v", err)
	}
	// Splits and merges keep the whole space covered, one range per consumer.
	tab = rangeTable{}
	for id := range uint64(100) {
		if err := tab.split(id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []uint64{50, 0, 99, 3, 64, 1} {
		tab.merge(id)
	}
	next := int32(0)
	seen := make(map[uint64]bool)
	for _, r := range tab.ranges {
		if r.start != next || r.end < r.start || seen[r.consumer] {
			t.Fatalf("bad table %s", &tab)
		}
		seen[r.consumer] = true
		next = r.end + 1
	}
	if next != hashSpace || len(tab.ranges) != 94 {
		t.Fatalf("bad table %s", &tab)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.MaxReadBatchSize = 0
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("MaxReadBatchSize 0: %v", err)
	}
	if _, err := NewShared(bad, Position{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewShared with a bad config: %v", err)
	}
	c := DefaultConfig()
	for _, tc := range []struct{ perConsumer, perSub, maxUnacked, n, want int }{
		{2000, 20000, 200000, 3, 6000},
		{2000, 20000, 200000, 30, 20000},
		{0, 500, 200000, 3, 500},
		{5, 0, 200000, 100, 500},
		{0, 0, 200000, 3, 200000},
		{0, 0, 0, 3, 0},
	} {
		c.LookAheadPerConsumer, c.LookAheadPerSubscription, c.MaxUnackedPerSubscription = tc.perConsumer, tc.perSub, tc.maxUnacked
		if got := c.lookAheadLimit(tc.n); got != tc.want {
			t.Errorf("lookAheadLimit(%+v) = %d, want %d", tc, got, tc.want)
		}
	}
}

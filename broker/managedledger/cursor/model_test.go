package cursor

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-io/strata/internal/testenv"
)

var (
	modelSeeds = flag.Int("cursor.seeds", 300, "number of seeds the model test runs")
)

// model is the naive reference: a set of acknowledged positions, the point below which
// everything is acknowledged, and per batch entry the set of acknowledged indexes. It
// shares no code with State except Position.Compare and Layout.Validate: positions and
// "next" are computed by enumerating the layout.
type model struct {
	layout  Layout
	base    Position // everything ≤ base is acknowledged (cumulative ack or reset)
	acked   map[Position]bool
	batches map[Position]*modelBatch
}

type modelBatch struct {
	size  int
	acked map[int]bool
}

func newModel(l Layout) *model {
	return &model{
		layout:  slices.Clone(l),
		base:    Earliest(),
		acked:   map[Position]bool{},
		batches: map[Position]*modelBatch{},
	}
}

// positions enumerates every entry of the layout in order.
func (m *model) positions() []Position {
	var ps []Position
	for _, g := range m.layout {
		for e := range g.Entries {
			ps = append(ps, Position{Ledger: g.ID, Entry: e})
		}
	}
	return ps
}

func (m *model) exists(p Position) bool {
	return slices.Contains(m.positions(), p)
}

// isAcked: everything up to the mark-delete is acknowledged, positions that do not exist
// included.
func (m *model) isAcked(p Position) bool {
	return p.Compare(m.markDelete()) <= 0 || m.acked[p]
}

// markDelete walks from base over acknowledged entries.
func (m *model) markDelete() Position {
	md := m.base
	for _, p := range m.positions() {
		if p.Compare(md) <= 0 {
			continue
		}
		if !m.acked[p] {
			break
		}
		md = p
	}
	return md
}

func (m *model) ackIndividual(p Position) error {
	if m.isAcked(p) {
		return nil
	}
	if !m.exists(p) {
		return ErrOutsideLayout
	}
	m.acked[p] = true
	delete(m.batches, p)
	return nil
}

func (m *model) ackCumulative(p Position) error {
	if p.Compare(m.markDelete()) <= 0 {
		return nil
	}
	if !m.exists(p) {
		return ErrOutsideLayout
	}
	m.base = p
	m.dropBatchesThrough(p)
	return nil
}

func (m *model) dropBatchesThrough(p Position) {
	for q := range m.batches {
		if q.Compare(p) <= 0 {
			delete(m.batches, q)
		}
	}
}

func (m *model) ackBatch(p Position, size int, idx []int) error {
	if size < 1 || size > MaxBatchSize {
		return ErrBadBatch
	}
	for _, i := range idx {
		if i < 0 || i >= size {
			return ErrBadBatch
		}
	}
	if m.isAcked(p) {
		return nil
	}
	if !m.exists(p) {
		return ErrOutsideLayout
	}
	b := m.batches[p]
	if b != nil && b.size != size {
		return ErrBadBatch
	}
	if b == nil {
		b = &modelBatch{size: size, acked: map[int]bool{}}
	}
	for _, i := range idx {
		b.acked[i] = true
	}
	switch len(b.acked) {
	case 0:
	case size:
		m.acked[p] = true
		delete(m.batches, p)
	default:
		m.batches[p] = b
	}
	return nil
}

// ackCumulativeBatch: everything before p, plus indexes idx of p.
func (m *model) ackCumulativeBatch(p Position, size int, idx []int) error {
	if size < 1 || size > MaxBatchSize {
		return ErrBadBatch
	}
	if p.Compare(m.markDelete()) <= 0 {
		return nil
	}
	if !m.exists(p) {
		return ErrOutsideLayout
	}
	if b := m.batches[p]; b != nil && b.size != size {
		return ErrBadBatch
	}
	m.base = Position{Ledger: p.Ledger, Entry: p.Entry - 1}
	m.dropBatchesThrough(m.base)
	return m.ackBatch(p, size, idx)
}

func (m *model) reset(to Position) {
	m.base = Position{Ledger: to.Ledger, Entry: to.Entry - 1}
	if to == Earliest() {
		m.base = Earliest()
	}
	clear(m.acked)
	clear(m.batches)
}

func (m *model) setLayout(l Layout) {
	// Mark-delete never moves back when ledgers disappear.
	m.base = m.markDelete()
	m.layout = slices.Clone(l)
	for p := range m.acked {
		if !m.exists(p) {
			delete(m.acked, p)
		}
	}
	for p := range m.batches {
		if !m.exists(p) {
			delete(m.batches, p)
		}
	}
}

// check compares every observable of s with m.
func (m *model) check(s *State) error {
	md := m.markDelete()
	if got := s.MarkDelete(); got != md {
		return fmt.Errorf("mark-delete %v, model %v", got, md)
	}
	var wantUnacked []Position
	var count int64
	ranges := 0
	prev := Position{Ledger: -2}
	for _, p := range m.positions() {
		acked := p.Compare(md) <= 0 || m.acked[p]
		if got := s.IsAcked(p); got != acked {
			return fmt.Errorf("IsAcked(%v) = %v, model %v", p, got, acked)
		}
		if !acked {
			wantUnacked = append(wantUnacked, p)
		}
		if p.Compare(md) > 0 && m.acked[p] {
			count++
			if !(prev.Ledger == p.Ledger && prev.Entry == p.Entry-1 && m.acked[prev] && prev.Compare(md) > 0) {
				ranges++
			}
		}
		prev = p
		var want []int64
		if b := m.batches[p]; b != nil {
			want = make([]int64, wordsFor(b.size))
			for i := range b.size {
				if !b.acked[i] {
					want[i/64] |= 1 << (i % 64)
				}
			}
		}
		if got := s.BatchAckSet(p); !slices.Equal(got, want) {
			return fmt.Errorf("BatchAckSet(%v) = %x, model %x", p, got, want)
		}
	}
	if got := slices.Collect(s.Unacked(Earliest(), lastPosition)); !slices.Equal(got, wantUnacked) {
		return fmt.Errorf("Unacked = %v, model %v", got, wantUnacked)
	}
	if got := s.Backlog(); got != int64(len(wantUnacked)) {
		return fmt.Errorf("Backlog = %d, model %d", got, len(wantUnacked))
	}
	if got := s.AckedCount(); got != count {
		return fmt.Errorf("AckedCount = %d, model %d", got, count)
	}
	if got := s.RangeCount(); got != ranges {
		return fmt.Errorf("RangeCount = %d, model %d", got, ranges)
	}
	if got := s.PartialBatchCount(); got != len(m.batches) {
		return fmt.Errorf("PartialBatchCount = %d, model %d", got, len(m.batches))
	}
	return nil
}

// sameError reports whether got and want are both nil or got wraps want.
func sameError(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

// TestModel drives State and the naive model with the same random operations and
// compares every observable after each one, for -cursor.seeds runs whose seeds follow
// the test's seed (testenv.Seed). A failure prints the failing run's seed; rerun it
// alone with STRATA_TEST_SEED=N -cursor.seeds=1.
func TestModel(t *testing.T) {
	base := testenv.Seed(t)
	for i := range uint64(*modelSeeds) {
		seed := base + i
		if err := runModel(seed, 400); err != nil {
			t.Fatalf("seed %d (rerun with %s=%d -cursor.seeds=1): %v", seed, testenv.SeedVar, seed, err)
		}
	}
}

func runModel(seed uint64, steps int) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	layout := randomLayout(rng, 1)
	s, err := New(layout)
	if err != nil {
		return err
	}
	m := newModel(layout)
	var trace []string
	fail := func(err error) error {
		if len(trace) > 12 {
			trace = trace[len(trace)-12:]
		}
		return fmt.Errorf("%w\nlast operations:\n  %s", err, joinLines(trace))
	}
	// Batch sizes are a function of the position, so most batch acks agree on the size;
	// sometimes a wrong size is sent on purpose.
	sizeOf := func(p Position) int { return int(((p.Ledger*7+p.Entry*13)%70+70)%70) + 1 }
	for range steps {
		p := randomPosition(rng, m.layout)
		var op string
		var got, want error
		switch k := rng.IntN(100); {
		case k < 40:
			op = fmt.Sprintf("ack %v", p)
			got, want = s.AckIndividual(p), m.ackIndividual(p)
		case k < 48:
			op = fmt.Sprintf("ack-cumulative %v", p)
			got, want = s.AckCumulative(p), m.ackCumulative(p)
		case k < 68:
			size := sizeOf(p)
			if rng.IntN(20) == 0 {
				size = rng.IntN(80)
			}
			idx := make([]int, rng.IntN(4))
			for i := range idx {
				idx[i] = rng.IntN(size+1) - rng.IntN(2) // mostly valid, sometimes out of range
			}
			if rng.IntN(2) == 0 {
				op = fmt.Sprintf("ack-batch %v size=%d acked=%v", p, size, idx)
				got, want = s.AckBatchIndexes(p, size, idx), m.ackBatch(p, size, idx)
			} else {
				valid := validIndexes(idx, size)
				op = fmt.Sprintf("ack-batch-wire %v size=%d acked=%v", p, size, valid)
				got, want = s.AckBatchWire(p, size, toWire(size, valid)), m.ackBatch(p, size, valid)
			}
		case k < 73:
			size := sizeOf(p)
			idx := validIndexes([]int{rng.IntN(size), rng.IntN(size)}, size)
			op = fmt.Sprintf("ack-cumulative-batch %v size=%d acked=%v", p, size, idx)
			got, want = s.AckCumulativeBatch(p, size, toWire(size, idx)), m.ackCumulativeBatch(p, size, idx)
		case k < 76:
			to := randomPosition(rng, m.layout)
			if rng.IntN(5) == 0 {
				to = Earliest()
			}
			if to != Earliest() && !to.isEntry() {
				continue
			}
			op = fmt.Sprintf("reset %v", to)
			got = s.Reset(to)
			m.reset(to)
		case k < 82:
			last := m.layout[len(m.layout)-1]
			g := Ledger{ID: last.ID, Entries: last.Entries + int64(rng.IntN(5))}
			if rng.IntN(3) == 0 {
				g = Ledger{ID: last.ID + 1 + int64(rng.IntN(2)), Entries: int64(rng.IntN(4))}
			}
			op = fmt.Sprintf("extend %d:%d", g.ID, g.Entries)
			got = s.Extend(g.ID, g.Entries)
			if got == nil {
				nl := slices.Clone(m.layout)
				if nl[len(nl)-1].ID == g.ID {
					nl[len(nl)-1] = g
				} else {
					nl = append(nl, g)
				}
				m.layout = nl
			}
		case k < 86:
			nl := changeLayout(rng, m.layout)
			op = fmt.Sprintf("layout %v", nl)
			got = s.SetLayout(nl)
			m.setLayout(nl)
		case k < 92:
			op = "snapshot"
			data := s.Marshal()
			if len(data) != s.EncodedSize() {
				return fail(fmt.Errorf("EncodedSize %d != len(Marshal) %d", s.EncodedSize(), len(data)))
			}
			back, err := Unmarshal(data, s.Layout())
			if err != nil {
				return fail(fmt.Errorf("Unmarshal of own snapshot: %v", err))
			}
			if a, b := render(s), render(back); a != b {
				return fail(fmt.Errorf("snapshot round trip:\n%s\nbecame\n%s", a, b))
			}
			s = back
		default:
			op = fmt.Sprintf("is-acked %v", p)
			if s.IsAcked(p) != m.isAcked(p) {
				return fail(fmt.Errorf("IsAcked(%v) = %v, model %v", p, s.IsAcked(p), m.isAcked(p)))
			}
		}
		trace = append(trace, op)
		if !sameError(got, want) {
			return fail(fmt.Errorf("%s: error %v, model %v", op, got, want))
		}
		if err := checkInvariants(s); err != nil {
			return fail(fmt.Errorf("after %s: %w\nstate:\n%s", op, err, render(s)))
		}
		if err := m.check(s); err != nil {
			return fail(fmt.Errorf("after %s: %w\nstate:\n%s", op, err, render(s)))
		}
	}
	return nil
}

func joinLines(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += "\n  "
		}
		out += x
	}
	return out
}

func validIndexes(idx []int, size int) []int {
	var out []int
	for _, i := range idx {
		if i >= 0 && i < size {
			out = append(out, i)
		}
	}
	return out
}

// toWire builds a Pulsar ack_set (set = unacknowledged) in which exactly idx are acked.
func toWire(size int, idx []int) []int64 {
	w := make([]int64, wordsFor(size))
	for i := range size {
		w[i/64] |= 1 << (i % 64)
	}
	for _, i := range idx {
		w[i/64] &^= 1 << (i % 64)
	}
	return w
}

// randomLayout returns 1–4 ledgers from id first, some empty.
func randomLayout(rng *rand.Rand, first int64) Layout {
	var l Layout
	id := first
	for range 1 + rng.IntN(4) {
		l = append(l, Ledger{ID: id, Entries: int64(rng.IntN(12))})
		id += 1 + int64(rng.IntN(2))
	}
	return l
}

// changeLayout deletes a random ledger (keeping at least one), shrinks one (which a
// correct owner never does, but the cursor must stay consistent) or appends one.
func changeLayout(rng *rand.Rand, l Layout) Layout {
	nl := slices.Clone(l)
	if len(nl) > 1 && rng.IntN(2) == 0 {
		i := rng.IntN(len(nl))
		return slices.Delete(nl, i, i+1)
	}
	if rng.IntN(3) == 0 {
		i := rng.IntN(len(nl))
		nl[i].Entries = int64(rng.IntN(int(nl[i].Entries) + 1))
		return nl
	}
	last := nl[len(nl)-1]
	return append(nl, Ledger{ID: last.ID + 1 + int64(rng.IntN(2)), Entries: int64(rng.IntN(10))})
}

// randomPosition is mostly an existing entry, sometimes one just outside the layout.
func randomPosition(rng *rand.Rand, l Layout) Position {
	g := l[rng.IntN(len(l))]
	if rng.IntN(8) == 0 {
		return Position{Ledger: g.ID + int64(rng.IntN(3)) - 1, Entry: int64(rng.IntN(int(g.Entries)+4)) - 1}
	}
	if g.Entries == 0 {
		return Position{Ledger: g.ID, Entry: 0}
	}
	return Position{Ledger: g.ID, Entry: int64(rng.IntN(int(g.Entries)))}
}

package dispatch

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-io/strata/internal/testenv"
)

var flagIters = flag.Int("dispatch.iters", 150, "runs per randomized dispatcher test")

// TestKeySharedRandomized drives Key_Shared through random joins, leaves,
// flows, acks, negative acks, seeks and partial reads, and checks at every
// Send that
//   - the consumer is connected and had permits (and was under its unacked limit);
//   - the entry is unacked and held by no consumer;
//   - no other consumer holds an entry of the same hash (exclusivity);
//   - every older unacked entry of the hash is held by this same consumer, so
//     per-hash delivery is in position order except for redeliveries;
//   - the redelivery count is the number of negative acks of the position;
//
// and, once the random phase ends and consumers keep acking, that every
// entry is eventually acknowledged (no stall).
func TestKeySharedRandomized(t *testing.T) {
	runRandomized(t, "auto_split", func(s *sim) { s.kind, s.sticky = "key_shared", false })
	runRandomized(t, "sticky", func(s *sim) { s.kind, s.sticky = "key_shared", true })
}

// TestSharedRandomized runs the same simulation on Shared, where only the
// checks that hold for Shared apply (permits, one holder per entry,
// redelivery counts, liveness).
func TestSharedRandomized(t *testing.T) {
	runRandomized(t, "shared", func(s *sim) { s.kind = "shared" })
}

func runRandomized(t *testing.T, name string, setup func(*sim)) {
	t.Run(name, func(t *testing.T) {
		base := testenv.Seed(t) // run i uses base+i
		iters := *flagIters
		if testing.Short() {
			iters = 20
		}
		for i := range iters {
			seed := base + uint64(i)
			s := newSim(seed)
			setup(s)
			if err := s.run(); err != nil {
				t.Fatalf("seed %d (rerun with %s=%d -dispatch.iters=1): %v\n%s", seed, testenv.SeedVar, seed, err, s.trace())
			}
		}
	})
}

// sim is a randomized driver plus clients around one dispatcher.
type sim struct {
	seed   uint64
	rng    *rand.Rand
	kind   string
	sticky bool
	cfg    Config
	d      dispatcher

	log    []Entry
	acked  map[Position]bool
	md     Position
	read   *Read
	nacks  map[Position]uint32
	nextID uint64

	consumers map[uint64]*simConsumer
	// Invariant: holder[p] is the consumer holding p (delivered, not acked,
	// not negatively acked, consumer still connected).
	holder map[Position]uint64
	hashes []uint16
	events []string
}

type simConsumer struct {
	id      uint64
	permits int64
	unacked int64
	held    []Position // in delivery order
	slots   []int      // STICKY: the hash-space slots it declared
}

const simSlots = 8 // STICKY consumers declare slots of 65536/simSlots hashes

func newSim(seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &sim{
		seed:      seed,
		rng:       rng,
		acked:     make(map[Position]bool),
		md:        Position{Ledger: 1, Entry: -1},
		nacks:     make(map[Position]uint32),
		consumers: make(map[uint64]*simConsumer),
		holder:    make(map[Position]uint64),
	}
	for range 2 + rng.IntN(10) {
		s.hashes = append(s.hashes, uint16(rng.IntN(hashSpace)))
	}
	s.cfg = DefaultConfig()
	s.cfg.MaxReadBatchSize = 1 + rng.IntN(8)
	s.cfg.MaxRoundRobinBatchSize = 1 + rng.IntN(4)
	s.cfg.MaxUnackedPerConsumer = []int{0, 3, 10}[rng.IntN(3)]
	s.cfg.MaxUnackedPerSubscription = []int{0, 8, 30}[rng.IntN(3)]
	s.cfg.LookAheadPerConsumer = rng.IntN(4)
	s.cfg.LookAheadPerSubscription = rng.IntN(12)
	return s
}

func (s *sim) logf(format string, args ...any) {
	s.events = append(s.events, fmt.Sprintf(format, args...))
}

func (s *sim) trace() string {
	from := max(0, len(s.events)-60)
	out := fmt.Sprintf("last %d of %d events:\n", len(s.events)-from, len(s.events))
	for _, e := range s.events[from:] {
		out += "  " + e + "\n"
	}
	return out
}

func (s *sim) run() error {
	var err error
	switch s.kind {
	case "key_shared":
		s.d, err = NewKeyShared(s.cfg, s.md)
	case "shared":
		s.d, err = NewShared(s.cfg, s.md)
	}
	if err != nil {
		return err
	}
	s.logf("config %+v hashes %v", s.cfg, s.hashes)
	for range 150 + s.rng.IntN(150) {
		s.step()
		if err := s.ready(); err != nil {
			return err
		}
	}
	return s.drain()
}

// step performs one random input.
func (s *sim) step() {
	switch r := s.rng.IntN(100); {
	case r < 15:
		s.append(1 + s.rng.IntN(4))
	case r < 22:
		s.addConsumer()
	case r < 27:
		if c := s.pickConsumer(); c != nil {
			s.removeConsumer(c)
		}
	case r < 42:
		if c := s.pickConsumer(); c != nil {
			n := uint32(1 + s.rng.IntN(6))
			s.logf("flow c%d %d", c.id, n)
			c.permits += int64(n)
			s.d.Flow(c.id, n)
		}
	case r < 65:
		s.completeRead(false)
	case r < 88:
		if c := s.pickConsumer(); c != nil && len(c.held) > 0 {
			var ps []Position
			for _, p := range c.held {
				if s.rng.IntN(3) == 0 {
					ps = append(ps, p)
				}
			}
			s.ack(ps)
		}
	case r < 97:
		if c := s.pickConsumer(); c != nil && len(c.held) > 0 {
			var ps []Position
			for _, p := range c.held {
				if s.rng.IntN(4) == 0 {
					ps = append(ps, p)
				}
			}
			if len(ps) == 0 && s.rng.IntN(3) == 0 {
				ps = nil // redeliver all
				s.logf("nack c%d all", c.id)
				for _, p := range slices.Clone(c.held) {
					s.release(p, true)
				}
			} else {
				s.logf("nack c%d %v", c.id, ps)
				for _, p := range ps {
					s.release(p, true)
				}
				if len(ps) == 0 {
					return
				}
			}
			s.d.Redeliver(c.id, ps)
		}
	default:
		if len(s.log) > 0 && s.rng.IntN(3) == 0 {
			s.seek(s.log[s.rng.IntN(len(s.log))].Pos)
		}
	}
}

func (s *sim) pickConsumer() *simConsumer {
	if len(s.consumers) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(s.consumers))
	for id := range s.consumers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.consumers[ids[s.rng.IntN(len(ids))]]
}

func (s *sim) append(n int) {
	for range n {
		p := Position{Ledger: 1, Entry: int64(len(s.log))}
		e := Entry{Pos: p, NumMessages: int32(1 + s.rng.IntN(3)*s.rng.IntN(2)), KeyHash: s.hashes[s.rng.IntN(len(s.hashes))], HasKey: true}
		s.log = append(s.log, e)
		s.logf("append %s#%d x%d", p, e.KeyHash, e.NumMessages)
	}
	s.d.NewEntries()
}

func (s *sim) freeSlots() []int {
	used := make(map[int]bool)
	for _, c := range s.consumers {
		for _, sl := range c.slots {
			used[sl] = true
		}
	}
	var free []int
	for sl := range simSlots {
		if !used[sl] {
			free = append(free, sl)
		}
	}
	return free
}

func (s *sim) addConsumer(slots ...int) {
	s.nextID++
	c := &simConsumer{id: s.nextID}
	info := ConsumerInfo{ID: c.id, Name: fmt.Sprintf("c%d", c.id)}
	if s.sticky {
		if slots == nil {
			free := s.freeSlots()
			s.rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
			slots = free[:min(len(free), 1+s.rng.IntN(2))]
			if len(slots) == 0 || s.rng.IntN(10) == 0 {
				slots = []int{s.rng.IntN(simSlots)} // may overlap: must be refused
			}
		}
		meta := &KeySharedMeta{Mode: Sticky}
		for _, sl := range slots {
			w := int32(hashSpace / simSlots)
			meta.Ranges = append(meta.Ranges, Range{Start: int32(sl) * w, End: int32(sl)*w + w - 1})
		}
		info.KeyShared = meta
		c.slots = slots
	}
	err := s.d.AddConsumer(info)
	s.logf("add c%d slots=%v: %v", c.id, slots, err)
	if err != nil {
		return
	}
	s.consumers[c.id] = c
}

func (s *sim) removeConsumer(c *simConsumer) {
	s.logf("remove c%d holding %v", c.id, c.held)
	for _, p := range slices.Clone(c.held) {
		s.release(p, false)
	}
	delete(s.consumers, c.id)
	s.d.RemoveConsumer(c.id)
}

// release takes p from its holder: acked, negatively acked or abandoned.
func (s *sim) release(p Position, nack bool) {
	id, ok := s.holder[p]
	if !ok {
		return
	}
	delete(s.holder, p)
	c := s.consumers[id]
	c.held = slices.DeleteFunc(c.held, func(q Position) bool { return q == p })
	c.unacked -= s.entry(p).messages()
	if nack {
		s.nacks[p]++
	}
}

func (s *sim) entry(p Position) *Entry { return &s.log[p.Entry] }

func (s *sim) ack(ps []Position) {
	if len(ps) == 0 {
		return
	}
	s.logf("ack %v", ps)
	for _, p := range ps {
		s.release(p, false)
		s.acked[p] = true
		delete(s.nacks, p)
	}
	s.d.Acked(ps)
	md := s.md
	for _, e := range s.log {
		if md.Less(e.Pos) {
			if !s.acked[e.Pos] {
				break
			}
			md = e.Pos
		}
	}
	if md != s.md {
		s.md = md
		s.logf("mark-delete %s", md)
		s.d.AckedUpTo(md)
	}
}

func (s *sim) seek(p Position) {
	s.logf("seek %s", p)
	s.md = p.prev()
	for q := range s.acked {
		if s.md.Less(q) {
			delete(s.acked, q)
		}
	}
	clear(s.nacks)
	clear(s.holder)
	s.d.RewindTo(p)
	// The dispatcher closes every consumer; the clients reconnect.
	s.consumers = make(map[uint64]*simConsumer)
}

// completeRead answers the outstanding read as a driver would; unless full,
// a tail read may return fewer entries than asked.
func (s *sim) completeRead(full bool) {
	if s.read == nil {
		return
	}
	r := *s.read
	s.read = nil
	var es []Entry
	if len(r.Replay) > 0 {
		for _, p := range r.Replay {
			if p.Entry < int64(len(s.log)) && !s.acked[p] && s.md.Less(p) {
				es = append(es, *s.entry(p))
			}
		}
	} else {
		limit := r.MaxEntries
		if !full {
			limit = 1 + s.rng.IntN(r.MaxEntries)
		}
		for _, e := range s.log {
			if len(es) == limit {
				break
			}
			if r.After.Less(e.Pos) && s.md.Less(e.Pos) && !s.acked[e.Pos] {
				es = append(es, e)
			}
		}
	}
	s.logf("read-completed %s -> %s", r, fmtPositions(es))
	s.d.ReadCompleted(es)
}

// ready checks the dispatcher's internal invariants, then carries out its
// actions, checking every Send.
func (s *sim) ready() error {
	var m *multi
	switch d := s.d.(type) {
	case *KeyShared:
		m = &d.multi
	case *Shared:
		m = &d.multi
	}
	if err := m.checkInvariants(); err != nil {
		return fmt.Errorf("invariant: %w", err)
	}
	for _, a := range s.d.Ready() {
		switch a := a.(type) {
		case Read:
			if s.read != nil {
				return fmt.Errorf("second Read %s while %s is outstanding", a, *s.read)
			}
			s.logf("%s", a)
			s.read = &a
		case Send:
			s.logf("%s", a)
			if err := s.checkSend(a); err != nil {
				return err
			}
		case CloseConsumer:
			s.logf("%s", a)
			if _, ok := s.consumers[a.ConsumerID]; ok {
				return fmt.Errorf("%s for a consumer the simulation did not close", a)
			}
		default:
			return fmt.Errorf("unexpected action %s", a)
		}
	}
	return nil
}

func (s *sim) checkSend(a Send) error {
	c := s.consumers[a.ConsumerID]
	if c == nil {
		return fmt.Errorf("%s: consumer not connected", a)
	}
	for _, e := range a.Entries {
		p := e.Pos
		if c.permits <= 0 {
			return fmt.Errorf("%s: %s sent without permits (%d)", a, p, c.permits)
		}
		if lim := int64(s.cfg.MaxUnackedPerConsumer); lim > 0 && c.unacked >= lim {
			return fmt.Errorf("%s: %s sent to a consumer holding %d unacked", a, p, c.unacked)
		}
		if s.acked[p] {
			return fmt.Errorf("%s: %s is acknowledged", a, p)
		}
		if id, ok := s.holder[p]; ok {
			return fmt.Errorf("%s: %s is already held by c%d", a, p, id)
		}
		if e.RedeliveryCount != s.nacks[p] {
			return fmt.Errorf("%s: %s has redelivery count %d, want %d", a, p, e.RedeliveryCount, s.nacks[p])
		}
		if s.kind == "key_shared" {
			h := s.entry(p).KeyHash
			for q, id := range s.holder {
				if id != c.id && s.entry(q).KeyHash == h {
					return fmt.Errorf("%s: hash %d of %s is unacked on c%d (%s)", a, h, p, id, q)
				}
			}
			for _, o := range s.log[:p.Entry] {
				if o.KeyHash == h && !s.acked[o.Pos] && s.md.Less(o.Pos) && s.holder[o.Pos] != c.id {
					return fmt.Errorf("%s: %s of hash %d sent while older %s is not held by c%d", a, p, h, o.Pos, c.id)
				}
			}
		}
		s.holder[p] = c.id
		c.held = append(c.held, p)
		c.permits -= e.messages()
		c.unacked += e.messages()
	}
	return nil
}

// drain stops the random inputs: consumers get plenty of permits and ack
// everything they receive, until every entry is acknowledged.
func (s *sim) drain() error {
	s.logf("-- drain")
	if s.sticky {
		if free := s.freeSlots(); len(free) > 0 {
			s.addConsumer(free...)
		}
	} else if len(s.consumers) == 0 {
		s.addConsumer()
	}
	if len(s.consumers) == 0 {
		return fmt.Errorf("drain: could not add a consumer")
	}
	for range 10000 {
		for _, c := range s.consumers {
			if c.permits < 50 {
				c.permits += 50
				s.d.Flow(c.id, 50)
			}
		}
		if err := s.ready(); err != nil {
			return err
		}
		var held []Position
		for p := range s.holder {
			held = append(held, p)
		}
		slices.SortFunc(held, Position.Compare)
		s.ack(held)
		if err := s.ready(); err != nil {
			return err
		}
		if s.read != nil {
			s.completeRead(true)
			continue
		}
		if len(s.holder) > 0 {
			continue
		}
		for _, e := range s.log {
			if !s.acked[e.Pos] && s.md.Less(e.Pos) {
				return fmt.Errorf("drain: stalled with %s unacknowledged and nothing to do", e.Pos)
			}
		}
		return nil
	}
	return fmt.Errorf("drain: no end")
}

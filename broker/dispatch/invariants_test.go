package dispatch

import (
	"fmt"
	"slices"
)

// checkInvariants verifies the "Invariant:" comments of multi and hashState
// against each other; the randomized tests call it after every step.
func (m *multi) checkInvariants() error {
	var subUnacked int64
	for _, c := range m.consumers {
		if m.byID[c.info.ID] != c {
			return fmt.Errorf("byID does not index c%d", c.info.ID)
		}
		var unacked int64
		for p := range c.pending {
			pe, ok := m.pending[p]
			if !ok || pe.consumer != c {
				return fmt.Errorf("c%d holds %s, which pending does not give it", c.info.ID, p)
			}
			unacked += pe.msgs
		}
		if unacked != c.unacked {
			return fmt.Errorf("c%d unacked %d, its pending entries hold %d", c.info.ID, c.unacked, unacked)
		}
		if lim := int64(m.cfg.MaxUnackedPerConsumer); c.blocked && (lim == 0 || c.unacked <= lim/2) {
			return fmt.Errorf("c%d blocked with %d unacked (limit %d)", c.info.ID, c.unacked, lim)
		}
		subUnacked += unacked
	}
	if len(m.byID) != len(m.consumers) {
		return fmt.Errorf("byID has %d consumers, the list %d", len(m.byID), len(m.consumers))
	}
	if subUnacked != m.unacked {
		return fmt.Errorf("subscription unacked %d, consumers hold %d", m.unacked, subUnacked)
	}
	if lim := int64(m.cfg.MaxUnackedPerSubscription); m.subBlocked && (lim == 0 || m.unacked <= lim/2) {
		return fmt.Errorf("subscription blocked with %d unacked (limit %d)", m.unacked, lim)
	}
	n := 0
	for p, pe := range m.pending {
		if _, ok := pe.consumer.pending[p]; !ok || m.byID[pe.consumer.info.ID] != pe.consumer {
			return fmt.Errorf("pending %s on c%d, which does not hold it", p, pe.consumer.info.ID)
		}
		if m.replay.Has(p) {
			return fmt.Errorf("%s is both pending and in the replay set", p)
		}
		if !m.markDelete.Less(p) {
			return fmt.Errorf("pending %s is at or below mark-delete %s", p, m.markDelete)
		}
	}
	var prev *Position
	m.pendingOrder.Ascend(func(p Position) bool {
		n++
		if _, ok := m.pending[p]; !ok || prev != nil && !prev.Less(p) {
			n = -1 << 30
		}
		prev = &p
		return true
	})
	if n != len(m.pending) || m.pendingOrder.Len() != len(m.pending) {
		return fmt.Errorf("pendingOrder out of step with pending")
	}
	n = 0
	m.replay.Ascend(func(p Position) bool {
		if _, ok := m.replayMeta[p]; ok && m.markDelete.Less(p) {
			n++
		}
		return true
	})
	if n != len(m.replayMeta) || m.replay.Len() != n {
		return fmt.Errorf("replay set out of step with replayMeta")
	}
	if !m.keyed {
		return nil
	}
	type count struct {
		pending int
		on      map[uint64]bool
		replay  []Position
	}
	want := make(map[uint16]*count)
	get := func(h uint16) *count {
		if want[h] == nil {
			want[h] = &count{on: make(map[uint64]bool)}
		}
		return want[h]
	}
	for _, pe := range m.pending {
		w := get(pe.hash)
		w.pending++
		w.on[pe.consumer.info.ID] = true
	}
	m.replay.Ascend(func(p Position) bool {
		w := get(m.replayMeta[p].hash)
		w.replay = append(w.replay, p)
		return true
	})
	if len(want) != len(m.hashes) {
		return fmt.Errorf("%d hashes tracked, %d in use", len(m.hashes), len(want))
	}
	for h, w := range want {
		hs := m.hashes[h]
		switch {
		case hs == nil:
			return fmt.Errorf("hash %d in use but not tracked", h)
		case len(w.on) > 1:
			return fmt.Errorf("hash %d pending on %d consumers", h, len(w.on))
		case hs.pendingCount != w.pending:
			return fmt.Errorf("hash %d: pendingCount %d, %d pending", h, hs.pendingCount, w.pending)
		case w.pending > 0 && !w.on[hs.pendingOn]:
			return fmt.Errorf("hash %d: pendingOn c%d, pending elsewhere", h, hs.pendingOn)
		case !slices.Equal(hs.replay, w.replay):
			return fmt.Errorf("hash %d: replay %v, want %v", h, hs.replay, w.replay)
		}
	}
	return nil
}

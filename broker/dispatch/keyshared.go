package dispatch

import "fmt"

// KeyShared dispatches a Key_Shared subscription: every entry goes to the
// consumer serving its sticky-key hash, under the ordering contract of Pulsar
// 4 (PIP-379): entries of one hash are delivered, and allowed to be
// unacknowledged, on only one consumer at a time, in position order.
//
// Who serves a hash is decided by the subscription's mode, set by its first
// consumer (a consumer asking for the other mode is refused with
// ErrConsumerBusy):
//
//   - AUTO_SPLIT: the first consumer serves all of 0..65535; a joining
//     consumer takes the lower half of the largest range (the lowest one among
//     equally large ranges); a leaving consumer's range merges into its right
//     neighbour's, or its left neighbour's if it had none on the right.
//   - STICKY: each consumer declares its ranges; overlapping or invalid ones
//     are refused with ErrConsumerAssign, and hashes nobody declared are not
//     delivered until someone does.
//
// When a hash changes hands while entries of it are pending on the previous
// consumer, the hash is draining: nothing of it goes to the new consumer until
// those entries are acknowledged, or redelivered, or their consumer leaves —
// then they are delivered to the new consumer first, in order. There is no
// separate draining table: it is the per-hash rule "pending on at most one
// consumer" (hashState) applied after the range table changed.
//
// An entry that cannot be sent when it is read (its hash is draining, has no
// consumer, or its consumer has no permits or is blocked) waits in the replay
// set, and so does every later entry of the same hash; other hashes keep
// flowing. Reading new entries stops while the replay set is at the look-ahead
// limit (Config.LookAheadPerConsumer, Config.LookAheadPerSubscription).
type KeyShared struct {
	multi
	// Invariant: mode is the mode of every consumer of the subscription; it is
	// reset by the first consumer to join an empty subscription.
	mode  KeySharedMode
	table rangeTable
}

// NewKeyShared returns the dispatcher of a Key_Shared subscription whose
// cursor's mark-delete position is markDelete.
func NewKeyShared(cfg Config, markDelete Position) (*KeyShared, error) {
	m, err := newMulti(cfg, markDelete, true)
	if err != nil {
		return nil, err
	}
	return &KeyShared{multi: m}, nil
}

// AddConsumer registers a consumer and gives it its hashes. It returns
// ErrConsumerBusy if the consumer's mode differs from the subscription's, and
// ErrConsumerAssign if its STICKY ranges are invalid or overlap another
// consumer's, or if AUTO_SPLIT has no range left to split.
func (d *KeyShared) AddConsumer(info ConsumerInfo) error {
	mode := AutoSplit
	if info.KeyShared != nil {
		mode = info.KeyShared.Mode
	}
	switch {
	case mode != AutoSplit && mode != Sticky:
		return fmt.Errorf("%w: consumer %d: unknown key_shared mode %d", ErrConsumerAssign, info.ID, int(mode))
	case d.byID[info.ID] != nil:
		return ErrDuplicateConsumer
	case len(d.consumers) > 0 && mode != d.mode:
		return fmt.Errorf("%w: consumer %d asks for key_shared mode %s, the subscription uses %s",
			ErrConsumerBusy, info.ID, mode, d.mode)
	}
	var err error
	if mode == Sticky {
		err = d.table.insert(info.ID, info.KeyShared.Ranges)
	} else {
		err = d.table.split(info.ID)
	}
	if err != nil {
		return err
	}
	d.mode = mode
	_, err = d.addConsumer(info)
	return err
}

// RemoveConsumer unregisters a consumer. Its unacknowledged entries go back,
// with unchanged redelivery counts, to whoever now serves their hashes, ahead
// of any later entry of those hashes.
func (d *KeyShared) RemoveConsumer(id uint64) {
	if d.removeConsumer(id) == nil {
		return
	}
	if d.mode == Sticky {
		d.table.removeAll(id)
	} else {
		d.table.merge(id)
	}
}

// Redeliver handles REDELIVER_UNACKNOWLEDGED_MESSAGES: the named positions
// that are pending on the consumer (all of them if none are named) are sent
// again with their redelivery count incremented, to whoever serves their hash
// once it is not pending elsewhere. A redelivered entry may arrive after later
// entries of its hash: negative acks break order, as in Pulsar.
func (d *KeyShared) Redeliver(id uint64, positions []Position) { d.redeliver(id, positions) }

// RewindTo handles a cursor reset (SEEK or reset-cursor): the next entry sent
// is the first one at or after p. Every consumer is closed (CloseConsumer), as
// a seeking client requires, and redelivery counts start afresh.
func (d *KeyShared) RewindTo(p Position) {
	d.rewindTo(p)
	d.table = rangeTable{}
}

// TimerFired is a no-op: Key_Shared starts no timers. It is here so that
// every dispatcher has the same methods.
func (d *KeyShared) TimerFired(uint64) {}

// target returns the consumer serving hash h, or nil.
func (d *KeyShared) target(h uint16) *multiConsumer {
	id, ok := d.table.owner(h)
	if !ok {
		return nil
	}
	return d.byID[id]
}

// canSend reports whether an entry of hash h may go to c now, order aside:
// c exists and may take entries, and h is not pending on another consumer.
func (d *KeyShared) canSend(h uint16, c *multiConsumer) bool {
	if c == nil || !d.available(c) {
		return false
	}
	hs := d.hashes[h]
	return hs == nil || hs.pendingCount == 0 || hs.pendingOn == c.info.ID
}

// ReadCompleted delivers the result of the outstanding Read.
func (d *KeyShared) ReadCompleted(entries []Entry) {
	usable, replay, ok := d.completeRead(entries)
	if !ok {
		return
	}
	var order []*multiConsumer
	batches := make(map[*multiConsumer][]Entry)
	for _, e := range usable {
		h := e.KeyHash
		hs := d.hashes[h]
		if replay {
			// Only the first waiting entry of a hash may go.
			if hs == nil || len(hs.replay) == 0 || hs.replay[0] != e.Pos {
				continue
			}
		} else if hs != nil && len(hs.replay) > 0 {
			// Earlier entries of the hash are waiting: queue behind them.
			d.addReplay(e.Pos, entryMeta{msgs: e.messages(), hash: h})
			continue
		}
		c := d.target(h)
		if !d.canSend(h, c) {
			if !replay {
				d.addReplay(e.Pos, entryMeta{msgs: e.messages(), hash: h})
			}
			continue
		}
		if _, seen := batches[c]; !seen {
			order = append(order, c)
		}
		batches[c] = append(batches[c], d.send(c, e))
	}
	for _, c := range order {
		d.out = append(d.out, Send{ConsumerID: c.info.ID, Entries: batches[c]})
	}
}

func (d *KeyShared) nextRead() (Read, bool) {
	if d.rd.outstanding {
		return Read{}, false
	}
	permits := d.permits()
	if permits <= 0 {
		return Read{}, false
	}
	// Replays first: the waiting entries that could go now, in position
	// order, within their consumers' permits (one overshoot each). A hash
	// skipped once is skipped for the rest of the walk, so what is read for a
	// hash is a prefix of its waiting entries.
	budget := make(map[*multiConsumer]int64)
	skip := make(map[uint16]struct{})
	var ps []Position
	d.replay.Ascend(func(p Position) bool {
		meta := d.replayMeta[p]
		if _, ok := skip[meta.hash]; ok {
			return true
		}
		c := d.target(meta.hash)
		if !d.canSend(meta.hash, c) {
			skip[meta.hash] = struct{}{}
			return true
		}
		b, ok := budget[c]
		if !ok {
			b = c.permits
		}
		if b <= 0 {
			skip[meta.hash] = struct{}{}
			return true
		}
		budget[c] = b - meta.msgs
		ps = append(ps, p)
		return len(ps) < d.cfg.MaxReadBatchSize
	})
	if len(ps) > 0 {
		return Read{Replay: ps, MaxEntries: len(ps)}, true
	}
	if d.rd.caughtUp {
		return Read{}, false
	}
	if limit := d.cfg.lookAheadLimit(len(d.consumers)); limit > 0 && d.replay.Len() >= limit {
		return Read{}, false
	}
	return d.rd.tail(permits, d.cfg.MaxReadBatchSize), true
}

// HasReady reports whether Ready would return any action.
func (d *KeyShared) HasReady() bool {
	if len(d.out) > 0 {
		return true
	}
	_, ok := d.nextRead()
	return ok
}

// Ready returns the actions to carry out, in order, and forgets them.
func (d *KeyShared) Ready() []Action { return d.takeActions(d.nextRead) }

package service

import (
	"context"
	"math"
	"time"

	"github.com/spaolacci/murmur3"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/wire"
)

// A subscription's reads: the dispatcher asks for entries (dispatch.Read), a goroutine
// of the subscription's reads them from the managed ledger, skipping what the cursor
// has acknowledged, and hands them back with what the dispatcher needs of each entry's
// metadata (message count, sticky-key hash).

// startRead performs a Read off the goroutine and reports back with ReadCompleted.
// Runs on the subscription goroutine, which is counted in wg, so the Add cannot race
// close's Wait.
func (s *Subscription) startRead(r dispatch.Read) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var ents []dispatch.Entry
		backoff := 50 * time.Millisecond
		for {
			var err error
			ents, err = s.read(r)
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return // closed
			}
			s.topic.svc.log.Warn("subscription read failed; retrying", "topic", s.topic.name.String(), "sub", s.name, "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		s.post(func() { s.d.ReadCompleted(ents) })
	}()
}

func (s *Subscription) read(r dispatch.Read) ([]dispatch.Entry, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	ml := s.topic.ml
	var out []dispatch.Entry
	if len(r.Replay) > 0 {
		for _, p := range r.Replay {
			pos := fromDispatch(p)
			if s.cursor.IsAcked(pos) {
				continue
			}
			ents, err := ml.ReadEntries(ctx, pos, 1)
			if err != nil {
				return nil, err
			}
			if len(ents) == 1 && ents[0].Pos == pos {
				out = append(out, s.toEntry(ents[0]))
			}
		}
		return out, nil
	}
	from := ml.Next(fromDispatch(r.After))
	for len(out) < r.MaxEntries {
		ents, err := ml.ReadEntries(ctx, from, r.MaxEntries-len(out))
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if !s.cursor.IsAcked(e.Pos) {
				out = append(out, s.toEntry(e))
			}
		}
		from = ml.Next(ents[len(ents)-1].Pos)
	}
	return out, nil
}

// toEntry reads what the dispatcher needs out of the stored entry's metadata.
func (s *Subscription) toEntry(e managedledger.Entry) dispatch.Entry {
	de := entryMeta(e)
	if set := s.cursor.BatchAckSet(e.Pos); set != nil {
		de.AckSet = set
	}
	return de
}

// entryMeta parses an entry's message count and sticky-key hash.
func entryMeta(e managedledger.Entry) dispatch.Entry {
	de := dispatch.Entry{Pos: toDispatch(e.Pos), NumMessages: 1, Payload: e.Data}
	if p, err := wire.ParsePayload(e.Data); err == nil && p.Metadata != nil {
		md := p.Metadata
		if md.NumMessagesInBatch != nil {
			de.NumMessages = md.GetNumMessagesInBatch()
		}
		key := "NONE_KEY"
		switch {
		case len(md.GetOrderingKey()) > 0:
			key, de.HasKey = string(md.GetOrderingKey()), true
		case md.PartitionKey != nil:
			key, de.HasKey = md.GetPartitionKey(), true
		}
		de.KeyHash = StickyKeyHash([]byte(key))
	}
	return de
}

// StickyKeyHash is Key_Shared's hash: Murmur3_32(key) & 0x7fffffff mod 65536.
//
// It goes through murmur3's streaming digest, as pulsar-client-go's own
// Murmur3_32Hash does: the one-shot murmur3.Sum32 (v1.1.0) walks the key with a
// pointer computed past its end, which the race detector's checkptr turns into a
// fatal error ("pointer arithmetic result points to invalid allocation") — a
// -race build of the broker died on the first keyed message a Key_Shared
// subscription read.
func StickyKeyHash(key []byte) uint16 {
	h := murmur3.New32()
	h.Write(key) // a hash.Hash never fails
	return uint16((h.Sum32() & math.MaxInt32) % 65536)
}

package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// Range reads: how Reader.Read fetches many entries with few ReadEntries calls.
//
// A range is cut into spans, each of which one bookie can serve in one call:
//
//   - where E == Qw (1/1/1, 2/2/2, 3/3/3) every member of a fragment's ensemble holds
//     every entry of the fragment, so a span is a run of consecutive entries (step 1);
//   - where E > Qw, entry e lives only on its write set, positions e mod E … e+Qw−1
//     mod E. The entries e ≡ r (mod E) all have the same write set — position r first —
//     so a span is every E-th entry (step E) and a range costs E calls, one per
//     position, each served by the head of that share's write set.
//
// Spans never cross a fragment (a fragment has its own ensemble) and hold at most
// rangeMaxEntries entries; the bookie also stops at rangeMaxBytes of payload, or at its
// own cap, and the span continues from where the answer stopped. Up to
// rangeConcurrency span calls of one Read are in flight.
//
// Fallback keeps the per-entry rules (doc.go, invariant 7): a span is asked of the
// members of its write set in write-set order. When a bookie answers for the span's
// next entry with NO_SUCH_ENTRY, CORRUPT_ENTRY, or bytes that fail their CRC32C, that
// one entry is read from the members after it and the span goes on at the same bookie
// — unless the entry before was missing there too (it is then likely missing more, as
// after an ensemble change the metadata read did not show yet). When a bookie cannot
// serve the span (NO_SUCH_LEDGER, unreachable, timing out, shutting down, an unknown
// error) the rest of the span moves to the next member. An
// entry no member returns valid bytes for is ErrEntryUnreadable, which Read answers by
// re-reading the metadata and retrying such entries one by one. Corrupt bytes are
// never returned; nothing past the range asked for (itself ≤ LAC or LastEntry) is
// asked for.

const (
	// rangeMaxEntries bounds the entries one ReadEntries call asks for.
	rangeMaxEntries = 64
	// rangeMaxBytes is the payload cap a ReadEntries call asks for (a bookie applies
	// its own cap too, 4 MiB by default; one entry is always returned, whatever its size).
	rangeMaxBytes = 4 << 20
	// rangeConcurrency bounds the ReadEntries calls of one Read in flight.
	rangeConcurrency = 4
)

// span is a run of entries that each of bookies holds: first, first+step, … ≤ last.
// bookies is their write set, in write-set order.
type span struct {
	first, last, step int64
	bookies           []string
}

// planSpans cuts first..last into spans (see the top of this file), in entry order of
// their first entries within each fragment.
func planSpans(m *Metadata, first, last int64) []span {
	var out []span
	E, Qw := int64(m.EnsembleSize), m.WriteQuorum
	for i, f := range m.Fragments {
		a := max(first, f.FirstEntry)
		b := last
		if i+1 < len(m.Fragments) {
			b = min(b, m.Fragments[i+1].FirstEntry-1)
		}
		if a > b {
			continue // outside the range, or a fragment emptied by the next one
		}
		step := int64(1)
		if int64(Qw) < E {
			step = E
		}
		for r := int64(0); r < step; r++ {
			// The first entry at or after a in this share (≡ a+r mod step).
			for s := a + r; s <= b; s += rangeMaxEntries * step {
				ws := WriteSet(s, int(E), Qw)
				bookies := make([]string, len(ws))
				for j, p := range ws {
					bookies[j] = f.Ensemble[p]
				}
				n := (b - s) / step // entries after s in the share, up to b
				out = append(out, span{first: s, last: s + min(n, rangeMaxEntries-1)*step, step: step, bookies: bookies})
			}
		}
	}
	return out
}

// readRange reads first..last into out (out[i] is entry first+i) with ReadEntries
// calls, recording per-entry errors in errs. It returns an error only when ctx ends.
func (c *Client) readRange(ctx context.Context, m *Metadata, first, last int64, out []Entry, errs []error) error {
	spans := planSpans(m, first, last)
	sem := make(chan struct{}, rangeConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, s := range spans {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c.readSpan(ctx, m.ID, s, func(e int64, payload []byte, err error) {
				i := e - first
				out[i].ID = e
				out[i].Payload, errs[i] = payload, err
				if err == nil && payload == nil {
					out[i].Payload = []byte{}
				}
			})
		})
	}
	wg.Wait()
	return ctx.Err()
}

// readSpan reads every entry of s and hands each, or why it could not be read, to put
// (once per entry, in entry order).
func (c *Client) readSpan(ctx context.Context, id int64, s span, put func(e int64, payload []byte, err error)) {
	var (
		next   = s.first
		cur    = 0 // index in s.bookies of the bookie serving the span
		failed []error
		// missing: the last entry cur was asked for was NO_SUCH_ENTRY there.
		missing bool
	)
	for next <= s.last {
		if cur == len(s.bookies) || ctx.Err() != nil {
			err := ctx.Err()
			if err == nil {
				err = ledgerErr(id, fmt.Errorf("entry %d: %w: %w", next, ErrEntryUnreadable, errors.Join(failed...)))
			}
			for ; next <= s.last; next += s.step {
				put(next, nil, err)
			}
			return
		}
		b := s.bookies[cur]
		ents, err := c.readEntries(ctx, b, id, next, s.last, s.step)
		for _, en := range ents {
			put(en.ID, en.Payload, nil)
		}
		next += int64(len(ents)) * s.step
		if err == nil || ctx.Err() != nil {
			missing = false
			continue // a short answer goes on from next
		}
		wasMissing := missing
		missing = bookiev1.ReasonOf(err) == bookiev1.ReasonNoSuchEntry
		if !entryFault(err) || (missing && wasMissing) {
			// The bookie cannot serve: the rest of the span moves to the next member.
			failed = append(failed, fmt.Errorf("bookie %s: %w", b, err))
			cur, missing = cur+1, false
			continue
		}
		// Only entry next is bad on b: read it from the members after b (those before
		// it could not serve), then go on at b.
		errs := append(failed[:len(failed):len(failed)], fmt.Errorf("bookie %s: %w", b, err))
		payload, err := c.readFrom(ctx, id, next, s.bookies[cur+1:], errs)
		put(next, payload, err)
		next += s.step
	}
}

// readFrom reads entry e from bookies in order until one returns valid data; prior are
// the failures already seen for it, reported if every one fails.
func (c *Client) readFrom(ctx context.Context, id, e int64, bookies []string, prior []error) ([]byte, error) {
	errs := prior
	for _, b := range bookies {
		payload, _, err := c.readEntry(ctx, b, id, e)
		if err == nil {
			return payload, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("bookie %s: %w", b, err))
	}
	return nil, ledgerErr(id, fmt.Errorf("entry %d: %w: %w", e, ErrEntryUnreadable, errors.Join(errs...)))
}

// errBadAnswer: a bookie answered a ReadEntries call with entries that were not the ones
// asked for, first of all.
var errBadAnswer = errors.New("ledger: bookie answered other entries than asked")

// entryFault reports a failure that concerns one entry on one bookie — it is missing
// there or its bytes are bad — rather than the bookie: the bookie can still serve the
// entries after it.
func entryFault(err error) bool {
	switch bookiev1.ReasonOf(err) {
	case bookiev1.ReasonNoSuchEntry, bookiev1.ReasonCorruptEntry:
		return true
	}
	return errors.Is(err, errBadAnswer)
}

// readEntries asks one bookie for entries first, first+step, … ≤ last of ledger id and
// returns the valid prefix of its answer: the entries asked for, in order, each
// matching its CRC32C. A bookie that predates ReadEntriesRequest.step answers
// consecutive ids; only the ones asked for are kept (the first, at least). err is nil
// when the answer starts with entry first, even if it stops early (a byte cap, a gap, a
// corrupt entry: asking again from the next id says why).
func (c *Client) readEntries(ctx context.Context, bookie string, id, first, last, step int64) ([]Entry, error) {
	var resp *bookiev1.ReadEntriesResponse
	err := c.unary(ctx, bookie, 0, func(ctx context.Context, rpc bookiev1.BookieClient) (err error) {
		resp, err = rpc.ReadEntries(ctx, &bookiev1.ReadEntriesRequest{
			LedgerId: uint64(id), FirstEntryId: first, LastEntryId: last,
			MaxBytes: rangeMaxBytes, Step: uint32(step),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(resp.Entries))
	want := first
	for _, en := range resp.Entries {
		if en.LedgerId != uint64(id) || en.EntryId != want {
			break
		}
		if crc32c(en.Payload) != en.Crc32C {
			if len(out) == 0 {
				return nil, bookiev1.Error(bookiev1.ReasonCorruptEntry, fmt.Sprintf("ledger %d entry %d from bookie %s fails its checksum", id, want, bookie))
			}
			break // reading it first, next time, reports it
		}
		payload := en.Payload
		if payload == nil {
			payload = []byte{}
		}
		out = append(out, Entry{ID: want, Payload: payload})
		if want > last-step {
			break // asked for no more (and want+step could overflow)
		}
		want += step
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: asked for %d..%d step %d of ledger %d", errBadAnswer, first, last, step, id)
	}
	return out, nil
}

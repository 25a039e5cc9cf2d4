package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// Entry is one entry read from a ledger.
type Entry struct {
	ID      int64
	Payload []byte
}

// Reader reads a ledger without recovering it: a closed ledger up to its last entry,
// an open one up to the LAC the bookies report (so every reader sees the same prefix).
// Safe for concurrent use.
type Reader struct {
	c  *Client
	id int64

	mu sync.Mutex
	// meta is the metadata as last read from etcd.
	meta *Metadata
	// lac is the highest LAC learnt from bookies (open ledgers). Invariant: monotonic.
	lac int64
}

// OpenReader opens a ledger for reading. It does not fence: the writer keeps writing.
func (c *Client) OpenReader(ctx context.Context, id int64) (*Reader, error) {
	m, _, err := c.readMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Reader{c: c, id: id, meta: m, lac: -1}, nil
}

// ID returns the ledger id.
func (r *Reader) ID() int64 { return r.id }

// Metadata returns a copy of the metadata as last read.
func (r *Reader) Metadata() *Metadata {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.meta.Clone()
}

// Refresh re-reads the metadata (to notice a close or an ensemble change).
func (r *Reader) Refresh(ctx context.Context) error {
	m, _, err := r.c.readMeta(ctx, r.id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.meta = m
	r.mu.Unlock()
	return nil
}

// readConcurrency bounds the entries the one-by-one retry of a Read fetches at once.
const readConcurrency = 16

// Read returns entries first..last (inclusive). last must be ≤ LastEntry of a closed
// ledger, or ≤ the LAC of an open one (asked from the bookies if the known LAC is
// lower); otherwise ErrReadBeyondLast. Each entry is read from the first member of its
// write set, falling back to the others on any error — a replica that is missing the
// entry or fails its checksum is skipped, never returned.
//
// The range is read with few ReadEntries calls, each serving one bookie's share of it
// (rangeread.go): one call per rangeMaxEntries entries where E == Qw, E calls (one per
// ensemble position) where E > Qw. Entries no replica returned are read again one by
// one after the metadata is re-read.
func (r *Reader) Read(ctx context.Context, first, last int64) ([]Entry, error) {
	if first < 0 || last < first {
		return nil, fmt.Errorf("ledger %d: bad read range %d..%d", r.id, first, last)
	}
	m, bound := r.bound()
	if last > bound && m.State != StateClosed {
		lac, err := r.ReadLAC(ctx)
		if err != nil {
			return nil, err
		}
		m, bound = r.bound()
		bound = max(bound, lac)
	}
	if last > bound {
		return nil, ledgerErr(r.id, fmt.Errorf("%w: read to %d, last readable is %d", ErrReadBeyondLast, last, bound))
	}
	out := make([]Entry, last-first+1)
	errs := make([]error, len(out))
	if err := r.c.readRange(ctx, m, first, last, out, errs); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, ErrEntryUnreadable) }) {
		// The writer may have moved entries to a new bookie since the metadata was read
		// (an ensemble change): read those entries once more with fresh metadata.
		if err := r.Refresh(ctx); err != nil {
			return nil, err
		}
		m, _ = r.bound()
		if err := r.readInto(ctx, m, first, out, errs); err != nil {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readInto reads, concurrently, every entry of out (out[i] is entry first+i) that has
// no payload yet, recording per-entry errors in errs.
func (r *Reader) readInto(ctx context.Context, m *Metadata, first int64, out []Entry, errs []error) error {
	sem := make(chan struct{}, readConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range out {
		if out[i].Payload != nil {
			continue
		}
		e := first + int64(i)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i].ID = e
			out[i].Payload, errs[i] = r.c.readReplicas(ctx, m, e)
			if errs[i] == nil && out[i].Payload == nil {
				out[i].Payload = []byte{}
			}
		})
	}
	return nil
}

// bound returns the metadata and the last entry readable without asking bookies.
func (r *Reader) bound() (*Metadata, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.meta.State == StateClosed {
		return r.meta, r.meta.LastEntry
	}
	return r.meta, r.lac
}

// readReplicas reads entry e from its write set in order until one replica returns
// valid data.
func (c *Client) readReplicas(ctx context.Context, m *Metadata, e int64) ([]byte, error) {
	var errs []error
	for _, b := range readOrder(m, e, nil) {
		payload, _, err := c.readEntry(ctx, b, m.ID, e)
		if err == nil {
			return payload, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("bookie %s: %w", b, err))
	}
	return nil, ledgerErr(m.ID, fmt.Errorf("entry %d: %w: %w", e, ErrEntryUnreadable, errors.Join(errs...)))
}

// ReadLAC returns the last confirmed entry: LastEntry once closed, else the highest
// LAC any bookie of the last ensemble reports (the writer piggybacks it on adds and
// pushes it when idle).
func (r *Reader) ReadLAC(ctx context.Context) (int64, error) {
	m, _ := r.bound()
	if m.State == StateClosed {
		return m.LastEntry, nil
	}
	lac, _, err := r.pollLAC(ctx, m, -1, 0)
	if err != nil {
		return -1, err
	}
	return lac, nil
}

// WaitLAC waits until the last confirmed entry passes after and returns it — the
// tailing reader's long poll. If the ledger is closed at or before after, it returns
// LastEntry with ErrClosed: nothing more will come.
func (r *Reader) WaitLAC(ctx context.Context, after int64) (int64, error) {
	backoff := 50 * time.Millisecond
	for {
		m, lac := r.bound()
		if m.State == StateClosed {
			if m.LastEntry > after {
				return m.LastEntry, nil
			}
			return m.LastEntry, ledgerErr(r.id, ErrClosed)
		}
		if lac > after {
			return lac, nil
		}
		lac, fenced, err := r.pollLAC(ctx, m, after, r.c.cfg.LongPollWait)
		if err == nil && lac > after {
			return lac, nil
		}
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		if fenced || err != nil {
			// Being recovered (it will close soon) or the bookies are unreachable: do
			// not spin on bookies that answer at once.
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return -1, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
		} else {
			backoff = 50 * time.Millisecond
		}
		// Nothing new within the wait: the ledger may have closed or changed ensemble.
		if err := r.Refresh(ctx); err != nil {
			return -1, err
		}
	}
}

// pollLAC asks every bookie of the last ensemble for the LAC (long-polling past after
// for up to wait if wait > 0) and returns the highest. It returns as soon as one
// answer passes after; otherwise when all answered. err is set only if none answered.
func (r *Reader) pollLAC(ctx context.Context, m *Metadata, after int64, wait time.Duration) (lac int64, fenced bool, err error) {
	ens := m.LastFragment().Ensemble
	type answer struct {
		resp *bookiev1.ReadLACResponse
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, len(ens))
	for _, b := range ens {
		go func() {
			req := &bookiev1.ReadLACRequest{LedgerId: uint64(r.id), LongPollAfterLac: -1}
			if wait > 0 {
				req.LongPollAfterLac = after
				req.WaitMillis = uint32(wait / time.Millisecond)
			}
			var a answer
			a.err = r.c.unary(ctx, b, wait, func(ctx context.Context, rpc bookiev1.BookieClient) (err error) {
				a.resp, err = rpc.ReadLAC(ctx, req)
				return err
			})
			answers <- a
		}()
	}
	lac = -1
	var errs []error
	ok := false
	for range ens {
		a := <-answers
		switch {
		case a.err == nil:
			ok = true
			lac = max(lac, a.resp.Lac)
			fenced = fenced || a.resp.Fenced
		case bookiev1.ReasonOf(a.err) == bookiev1.ReasonTimeout, bookiev1.ReasonOf(a.err) == bookiev1.ReasonNoSuchLedger:
			ok = true // answered: nothing (new) here
		default:
			errs = append(errs, a.err)
		}
		if wait > 0 && lac > after {
			cancel() // the rest are not needed; their goroutines end on the cancel
			break
		}
	}
	r.mu.Lock()
	r.lac = max(r.lac, lac)
	r.mu.Unlock()
	if !ok && lac <= after {
		return -1, fenced, ledgerErr(r.id, fmt.Errorf("read LAC: no bookie answered: %w", errors.Join(errs...)))
	}
	return lac, fenced, nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/strata-io/strata/metadata"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// OpenRecover fences a ledger against its writer, recovers its tail and closes it,
// returning the CLOSED metadata. A ledger already CLOSED is returned as is. Concurrent
// recoverers (and a writer racing to close) converge through the final CAS: whoever
// loses returns the winner's metadata.
//
// On ErrRecoveryCoverage (too many bookies unreachable to decide safely) the ledger is
// left IN_RECOVERY, never closed short; call OpenRecover again once bookies are back.
func (c *Client) OpenRecover(ctx context.Context, id int64) (*Metadata, error) {
	for {
		m, rev, err := c.readMeta(ctx, id)
		if err != nil {
			return nil, err
		}
		switch m.State {
		case StateClosed:
			return m, nil
		case StateOpen:
			nm := m.Clone()
			nm.State = StateInRecovery
			newRev, err := c.casMeta(ctx, nm, rev)
			if errors.Is(err, metadata.ErrRevisionMismatch) {
				continue // changed under us (an ensemble change, a close): look again
			}
			if err != nil {
				return nil, ledgerErr(id, err)
			}
			m, rev = nm, newRev
		}
		closed, err := c.recover(ctx, m, rev)
		if errors.Is(err, errRecoveryRestart) {
			continue
		}
		return closed, err
	}
}

// errRecoveryRestart: the metadata moved in a way this attempt cannot build on, but a
// fresh attempt can.
var errRecoveryRestart = errors.New("ledger: recovery restart")

// recovery is the state of one recovery attempt, owned by the goroutine running
// Client.recover.
type recovery struct {
	c    *Client
	id   int64
	sm   *RecoverySM
	meta *Metadata // as committed; base of the next CAS
	rev  int64
	in   *inbox
	// streams: private add streams for the re-writes, one per bookie.
	streams   map[string]*addStream
	rpcs      sync.WaitGroup
	changeRes chan changeResult
}

func (c *Client) recover(ctx context.Context, m *Metadata, rev int64) (*Metadata, error) {
	sm, err := NewRecoverySM(m, RecoveryConfig{ReadWindow: c.cfg.RecoveryReadWindow, TimeoutTicks: timeoutTicks})
	if err != nil {
		return nil, ledgerErr(m.ID, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &recovery{
		c: c, id: m.ID, sm: sm, meta: m, rev: rev, in: newInbox(),
		streams:   map[string]*addStream{},
		changeRes: make(chan changeResult, 1),
	}
	defer func() {
		cancel()
		r.rpcs.Wait()
		for _, s := range r.streams {
			s.close()
		}
	}()
	var tick <-chan time.Time
	if c.cfg.AddTimeout > 0 {
		t := time.NewTicker(c.cfg.AddTimeout / timeoutTicks)
		defer t.Stop()
		tick = t.C
	}
	c.logger.Info("recovering ledger", "ledger", m.ID, "ensemble", m.LastFragment().Ensemble)
	for {
		rd := sm.Ready()
		for _, b := range rd.Fence {
			r.fence(ctx, b)
		}
		for _, rq := range rd.Reads {
			r.read(ctx, rq)
		}
		for _, s := range rd.Sends {
			r.send(s)
		}
		if rd.Change != nil {
			m, rev, ch := r.meta, r.rev, *rd.Change
			r.rpcs.Go(func() { r.changeRes <- c.changeEnsemble(ctx, m, rev, ch, nil) })
		}
		if rd.Err != nil {
			return r.failed(ctx, rd.Err)
		}
		if rd.Close != nil {
			return r.close(ctx, *rd.Close)
		}
		select {
		case <-r.in.signal:
			for _, ev := range r.in.drain() {
				r.handle(ev)
			}
		case res := <-r.changeRes:
			switch {
			case res.err != nil:
				sm.EnsembleChangeFailed(res.err)
			case res.conflict:
				sm.EnsembleChangeConflict(res.meta)
				r.meta, r.rev = res.meta, res.rev
			default:
				sm.EnsembleChanged(res.meta)
				r.meta, r.rev = res.meta, res.rev
			}
		case <-tick:
			sm.Tick()
		case <-ctx.Done():
			return nil, ledgerErr(m.ID, fmt.Errorf("recovery: %w", ctx.Err()))
		}
	}
}

func (r *recovery) handle(ev event) {
	switch ev.kind {
	case evFence:
		if ev.err != nil {
			r.c.logger.Info("fencing read failed", "ledger", r.id, "bookie", ev.bookie, "err", ev.err)
			r.sm.FenceFailed(ev.bookie, ev.err)
		} else {
			r.sm.FenceReply(ev.bookie, ev.lac)
		}
	case evRead:
		if ev.err != nil {
			r.sm.ReadFailed(ev.bookie, ev.entry, ev.err)
		} else {
			r.sm.ReadReply(ev.bookie, ev.entry, ev.payload, ev.crc)
		}
	case evStreamFailed:
		r.sm.AddFailed(ev.bookie)
	case evAdd:
		switch {
		case ev.err == nil:
			r.sm.AddAck(ev.bookie, ev.entry)
		case classifyAddError(ev.err) == outcomeBookieFailed:
			r.c.logger.Info("bookie failed a recovery add", "ledger", r.id, "entry", ev.entry, "bookie", ev.bookie, "err", ev.err)
			r.sm.AddFailed(ev.bookie)
		default:
			r.sm.AddRejected(ev.err)
		}
	}
}

// fence sends the fencing ReadLAC to one bookie.
func (r *recovery) fence(ctx context.Context, b string) {
	r.rpcs.Go(func() {
		ev := event{kind: evFence, bookie: b}
		ev.err = r.c.unary(ctx, b, 0, func(ctx context.Context, rpc bookiev1.BookieClient) error {
			resp, err := rpc.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: uint64(r.id), Fence: true, LongPollAfterLac: -1})
			if err == nil {
				ev.lac = resp.Lac
			}
			return err
		})
		r.in.post(ev)
	})
}

// read reads one entry for recovery; a replica whose bytes fail their checksum is
// reported as an error (unknown), never as data.
func (r *recovery) read(ctx context.Context, rq Read) {
	r.rpcs.Go(func() {
		payload, crc, err := r.c.readEntry(ctx, rq.Bookie, r.id, rq.Entry)
		r.in.post(event{kind: evRead, bookie: rq.Bookie, entry: rq.Entry, payload: payload, crc: crc, err: err})
	})
}

func (r *recovery) send(s Send) {
	st, ok := r.streams[s.Bookie]
	if !ok {
		bc, err := r.c.conn(s.Bookie)
		if err == nil {
			st, err = bc.openPrivate()
		}
		if err != nil {
			r.in.post(event{kind: evStreamFailed, bookie: s.Bookie, err: err})
			return
		}
		r.streams[s.Bookie] = st
	}
	req := &bookiev1.AddRequest{
		LedgerId: uint64(r.id), EntryId: s.Entry, Lac: s.LAC,
		Payload: s.Payload, Crc32C: s.CRC, Recovery: true,
	}
	if !st.enqueue(req, r.in) {
		// The private stream broke (its failure was already reported); later sends to
		// this bookie go on a fresh one.
		delete(r.streams, s.Bookie)
		st.close()
		r.send(s)
	}
}

// failed ends an attempt that could not finish: if someone else closed the ledger
// meanwhile, that is the answer; otherwise the error stands and the ledger stays
// IN_RECOVERY.
func (r *recovery) failed(ctx context.Context, err error) (*Metadata, error) {
	if cur, _, rerr := r.c.readMeta(ctx, r.id); rerr == nil && cur.State == StateClosed {
		return cur, nil
	}
	r.c.logger.Warn("ledger recovery failed", "ledger", r.id, "err", err)
	return nil, err
}

// close CASes the recovered ledger to CLOSED.
func (r *recovery) close(ctx context.Context, cl CloseLedger) (*Metadata, error) {
	for {
		m := r.meta.Clone()
		m.State = StateClosed
		m.LastEntry = cl.LastEntry
		m.Length = cl.Length
		m.LengthIsLowerBound = r.sm.Start() > 0
		_, err := r.c.casMeta(ctx, m, r.rev)
		if err == nil {
			r.c.logger.Info("ledger recovered", "ledger", r.id, "lastEntry", m.LastEntry, "readForwardFrom", r.sm.Start())
			return m, nil
		}
		if !errors.Is(err, metadata.ErrRevisionMismatch) {
			return nil, ledgerErr(r.id, fmt.Errorf("recovery close: %w", err))
		}
		cur, curRev, err := r.c.readMeta(ctx, r.id)
		if err != nil {
			return nil, err
		}
		switch {
		case cur.State == StateClosed:
			return cur, nil // another recoverer (or the writer) won
		case !slices.EqualFunc(cur.Fragments, r.meta.Fragments, func(a, b Fragment) bool {
			return a.FirstEntry == b.FirstEntry && slices.Equal(a.Ensemble, b.Ensemble)
		}):
			// Another recoverer moved entries to other bookies: what this attempt
			// re-wrote may not be where the metadata now says. Start over.
			return nil, errRecoveryRestart
		}
		r.meta, r.rev = cur, curRev
	}
}

// readEntry reads one entry from one bookie and checks it: the right ids and a payload
// matching its CRC32C (a corrupt replica is an error, never data).
func (c *Client) readEntry(ctx context.Context, bookie string, id, entry int64) ([]byte, uint32, error) {
	var resp *bookiev1.ReadEntryResponse
	err := c.unary(ctx, bookie, 0, func(ctx context.Context, rpc bookiev1.BookieClient) (err error) {
		resp, err = rpc.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: uint64(id), EntryId: entry})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if resp.LedgerId != uint64(id) || resp.EntryId != entry {
		return nil, 0, fmt.Errorf("ledger %d: bookie %s answered entry %d/%d for %d", id, bookie, resp.LedgerId, resp.EntryId, entry)
	}
	if crc32c(resp.Payload) != resp.Crc32C {
		return nil, 0, bookiev1.Error(bookiev1.ReasonCorruptEntry, fmt.Sprintf("ledger %d entry %d from bookie %s fails its checksum", id, entry, bookie))
	}
	return resp.Payload, resp.Crc32C, nil
}

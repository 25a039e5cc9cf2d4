package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/metadata"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// Writer appends entries to one open ledger. One goroutine owns the ledger's WriteSM;
// callers talk to it through channels, so Writer's methods are safe for concurrent
// use. Callbacks run, in entry order, on a goroutine of their own, so a slow callback
// delays other callbacks but never the protocol.
type Writer struct {
	c  *Client
	id int64

	appendCh chan appendReq
	closeCh  chan closeReq
	// done is closed when the owner goroutine has exited.
	done chan struct{}
	in   *inbox
	cbs  *callbackQueue
	// lac mirrors the state machine's LAC for LastAddConfirmed.
	lac atomic.Int64

	mu sync.Mutex
	// meta is a snapshot of the committed metadata, for Metadata().
	meta *Metadata
	// finalErr is what adds get once the writer has ended (ErrClosed after a clean
	// close).
	finalErr error
	// closeErr is Close's outcome, once the writer has ended.
	closeErr error
}

type appendReq struct {
	payload []byte
	crc     uint32
	cb      func(int64, error)
}

type closeReq struct {
	ctx   context.Context
	reply chan error
}

func (c *Client) startWriter(m *Metadata, rev int64) (*Writer, error) {
	sm, err := NewWriteSM(m, WriteSMConfig{TimeoutTicks: timeoutTicks})
	if err != nil {
		return nil, err
	}
	w := &Writer{
		c:        c,
		id:       m.ID,
		appendCh: make(chan appendReq),
		closeCh:  make(chan closeReq),
		done:     make(chan struct{}),
		in:       newInbox(),
		cbs:      newCallbackQueue(),
		meta:     m.Clone(),
	}
	w.lac.Store(-1)
	if err := c.addWriter(w); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &writerLoop{
		w: w, c: c, sm: sm, meta: m, rev: rev,
		ctx: ctx, cancel: cancel,
		conns:     map[string]*bookieConn{},
		changeRes: make(chan changeResult, 1),
	}
	go w.cbs.run()
	go l.run()
	return w, nil
}

// ID returns the ledger id.
func (w *Writer) ID() int64 { return w.id }

// LastAddConfirmed returns the last entry acknowledged to callers (-1: none).
func (w *Writer) LastAddConfirmed() int64 { return w.lac.Load() }

// Metadata returns a copy of the ledger's metadata as this writer last committed it.
func (w *Writer) Metadata() *Metadata {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.meta.Clone()
}

// AppendAsync appends payload as the next entry. cb is called exactly once, with the
// entry id once Qa bookies of its write set have it durably and every earlier entry
// was acknowledged, or with an error (then the entry may or may not end up in the
// ledger: recovery decides). Callbacks are called in entry order. payload must not be
// modified until cb runs. AppendAsync blocks while MaxPendingAdds entries are in
// flight.
func (w *Writer) AppendAsync(payload []byte, cb func(entryID int64, err error)) {
	w.appendAsync(context.Background(), payload, cb)
}

func (w *Writer) appendAsync(ctx context.Context, payload []byte, cb func(int64, error)) {
	req := appendReq{payload: payload, crc: crc32c(payload), cb: cb}
	select {
	case w.appendCh <- req:
	case <-w.done:
		w.cbs.push(func() { cb(-1, w.endErr()) })
	case <-ctx.Done():
		w.cbs.push(func() { cb(-1, ctx.Err()) })
	}
}

// Append appends payload and waits for its acknowledgement. If ctx ends first, Append
// returns ctx.Err() and the entry may still be written.
func (w *Writer) Append(ctx context.Context, payload []byte) (int64, error) {
	type result struct {
		id  int64
		err error
	}
	ch := make(chan result, 1)
	w.appendAsync(ctx, payload, func(id int64, err error) { ch <- result{id, err} })
	select {
	case r := <-ch:
		return r.id, r.err
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Close waits for every pending entry, then closes the ledger in etcd with LastEntry =
// the LAC and Length = the acknowledged bytes. It returns ErrFenced if the ledger was
// opened for recovery meanwhile and ErrClosed if someone else closed it. If ctx ends
// first, pending adds fail and the ledger is left OPEN (recovery will close it). Close
// returns once every callback has run; do not call it from a callback.
func (w *Writer) Close(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := closeReq{ctx: ctx, reply: make(chan error, 1)}
	select {
	case w.closeCh <- req:
	case <-w.done:
		<-w.cbs.done
		return w.closeResult()
	case <-ctx.Done():
		return ctx.Err()
	}
	var err error
	select {
	case err = <-req.reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.cbs.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

func (w *Writer) endErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finalErr != nil {
		return w.finalErr
	}
	return ledgerErr(w.id, ErrClosed)
}

func (w *Writer) closeResult() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeErr
}

// writerLoop is the state owned by a Writer's goroutine; nothing else touches it.
type writerLoop struct {
	w  *Writer
	c  *Client
	sm *WriteSM
	// meta and rev: the metadata as committed in etcd and its ModRevision — the base of
	// the next CAS. Usually sm.Metadata(); they differ only after the state machine
	// ended and ignored a change it had asked for.
	meta *Metadata
	rev  int64
	// ctx lives as long as the loop; ensemble changes run under it.
	ctx    context.Context
	cancel context.CancelFunc
	// cbq: callbacks of appends, in the order their outcomes must be delivered.
	cbq   []pendingCB
	conns map[string]*bookieConn
	// changeRes receives the outcome of the (single) outstanding ensemble change.
	changeRes  chan changeResult
	changeWG   sync.WaitGroup
	closers    []closeReq
	closeCtx   context.Context
	lacTimer   *time.Timer
	lacArmed   bool
	finished   bool
	failedSend []string
	// failedBookies: bookies replaced in this ledger; avoided when choosing
	// replacements (a bookie's shared stream may still hold higher entries of this
	// ledger, which would make resends OUT_OF_ORDER).
	failedBookies []string
}

// pendingCB is an append's callback. entry < 0: the append was refused; its error is
// delivered when every earlier entry has completed.
type pendingCB struct {
	entry int64
	err   error
	cb    func(int64, error)
}

// appendBatch bounds how many queued appends one loop turn takes before flushing.
const appendBatch = 256

func (l *writerLoop) run() {
	defer l.exit()
	var tick <-chan time.Time
	if l.c.cfg.AddTimeout > 0 {
		t := time.NewTicker(l.c.cfg.AddTimeout / timeoutTicks)
		defer t.Stop()
		tick = t.C
	}
	l.lacTimer = time.NewTimer(time.Hour)
	l.lacTimer.Stop()
	defer l.lacTimer.Stop()
	for {
		l.flush()
		if l.finished {
			return
		}
		appendCh := l.w.appendCh
		if l.sm.Pending() >= l.c.cfg.MaxPendingAdds {
			appendCh = nil
		}
		var closeDone <-chan struct{}
		if l.closeCtx != nil {
			closeDone = l.closeCtx.Done()
		}
		select {
		case req := <-appendCh:
			l.append(req)
		more:
			for i := 1; i < appendBatch && l.sm.Pending() < l.c.cfg.MaxPendingAdds; i++ {
				select {
				case req := <-appendCh:
					l.append(req)
				default:
					break more
				}
			}
		case <-l.w.in.signal:
			l.handle(l.w.in.drain())
		case res := <-l.changeRes:
			l.changeDone(res)
		case <-tick:
			l.sm.Tick()
		case <-l.lacTimer.C:
			l.lacArmed = false
			l.pushLAC()
		case req := <-l.w.closeCh:
			l.closers = append(l.closers, req)
			if l.closeCtx == nil {
				l.closeCtx = req.ctx
			}
			l.sm.Close()
		case <-closeDone:
			l.sm.Abort(fmt.Errorf("%w: close: %w", ErrClosed, l.closeCtx.Err()))
			l.flush()
			l.finish(l.closeCtx.Err())
		case <-l.c.closing:
			l.sm.Abort(ErrClientClosed)
			l.flush()
			l.finish(ledgerErr(l.w.id, ErrClientClosed))
		}
	}
}

func (l *writerLoop) append(req appendReq) {
	id, err := l.sm.Append(req.payload, req.crc)
	if err != nil {
		l.cbq = append(l.cbq, pendingCB{entry: -1, err: ledgerErr(l.w.id, err), cb: req.cb})
		return
	}
	l.cbq = append(l.cbq, pendingCB{entry: id, cb: req.cb})
}

// handle feeds bookie outcomes to the state machine.
func (l *writerLoop) handle(evs []event) {
	for _, ev := range evs {
		switch {
		case ev.kind == evStreamFailed:
			l.sm.BookieFailed(ev.bookie)
		case ev.err == nil:
			l.sm.Ack(ev.bookie, ev.entry)
		default:
			switch classifyAddError(ev.err) {
			case outcomeFenced:
				l.sm.Fenced()
			case outcomeRejected:
				l.c.logger.Warn("add rejected", "ledger", l.w.id, "entry", ev.entry, "bookie", ev.bookie, "err", ev.err)
				l.sm.Rejected(ev.err)
			default:
				l.c.logger.Info("bookie failed an add", "ledger", l.w.id, "entry", ev.entry, "bookie", ev.bookie, "err", ev.err)
				l.sm.BookieFailed(ev.bookie)
			}
		}
	}
}

// flush performs everything the state machine asked for, until it asks for nothing.
func (l *writerLoop) flush() {
	for {
		rd := l.sm.Ready()
		if rd.empty() {
			break
		}
		l.failedSend = l.failedSend[:0]
		for _, s := range rd.Sends {
			l.send(s)
		}
		l.deliver(rd.Completed)
		if rd.Change != nil {
			l.startChange(*rd.Change)
		}
		for _, b := range l.failedSend {
			l.sm.BookieFailed(b)
		}
		if rd.Close != nil {
			l.closeLedger(*rd.Close)
			return
		}
	}
	l.deliver(nil) // refused appends with nothing pending before them
	l.w.lac.Store(l.sm.LAC())
	// A writer that was fenced (or found the ledger closed) has nothing to close: answer
	// Close once nothing is in flight any more.
	if err := l.sm.Err(); len(l.closers) > 0 && err != nil && l.sm.Pending() == 0 && !l.sm.Changing() &&
		(errors.Is(err, ErrFenced) || errors.Is(err, ErrClosed)) {
		l.finish(ledgerErr(l.w.id, err))
		return
	}
	if _, _, due := l.sm.ExplicitLACDue(); due && !l.lacArmed && l.c.cfg.ExplicitLACDelay > 0 {
		l.lacTimer.Reset(l.c.cfg.ExplicitLACDelay)
		l.lacArmed = true
	}
}

func (l *writerLoop) conn(b string) (*bookieConn, error) {
	if bc, ok := l.conns[b]; ok {
		return bc, nil
	}
	bc, err := l.c.conn(b)
	if err != nil {
		return nil, err
	}
	l.conns[b] = bc
	return bc, nil
}

func (l *writerLoop) send(s Send) {
	bc, err := l.conn(s.Bookie)
	if err == nil {
		err = bc.send(&bookiev1.AddRequest{
			LedgerId: uint64(l.w.id), EntryId: s.Entry, Lac: s.LAC,
			Payload: s.Payload, Crc32C: s.CRC, Recovery: s.Recovery,
		}, l.w.in)
	}
	if err != nil {
		l.failedSend = append(l.failedSend, s.Bookie)
	}
}

// deliver hands completions to the callback goroutine, in order, with the refused
// appends queued between them.
func (l *writerLoop) deliver(done []Completion) {
	for _, d := range done {
		for len(l.cbq) > 0 && l.cbq[0].entry < 0 {
			l.pushCB(l.cbq[0], -1, l.cbq[0].err)
		}
		if len(l.cbq) == 0 || l.cbq[0].entry != d.Entry {
			panic(fmt.Sprintf("ledger %d: completion for entry %d out of order", l.w.id, d.Entry))
		}
		err := d.Err
		if err != nil {
			err = ledgerErr(l.w.id, err)
		}
		l.pushCB(l.cbq[0], d.Entry, err)
	}
	for len(l.cbq) > 0 && l.cbq[0].entry < 0 {
		l.pushCB(l.cbq[0], -1, l.cbq[0].err)
	}
}

func (l *writerLoop) pushCB(p pendingCB, id int64, err error) {
	l.cbq[0] = pendingCB{}
	l.cbq = l.cbq[1:]
	cb := p.cb
	l.w.cbs.push(func() { cb(id, err) })
}

func (l *writerLoop) startChange(ch EnsembleChange) {
	m, rev := l.meta, l.rev
	for _, r := range ch.Replace {
		if !slices.Contains(l.failedBookies, r.Bookie) {
			l.failedBookies = append(l.failedBookies, r.Bookie)
		}
	}
	avoid := slices.Clone(l.failedBookies)
	l.changeWG.Go(func() {
		l.changeRes <- l.c.changeEnsemble(l.ctx, m, rev, ch, avoid)
	})
}

func (l *writerLoop) changeDone(res changeResult) {
	switch {
	case res.err != nil:
		l.c.logger.Warn("ensemble change failed", "ledger", l.w.id, "err", res.err)
		l.sm.EnsembleChangeFailed(res.err)
		return
	case res.conflict:
		l.sm.EnsembleChangeConflict(res.meta)
	default:
		l.sm.EnsembleChanged(res.meta)
	}
	l.meta, l.rev = res.meta, res.rev
	l.publishMeta()
}

func (l *writerLoop) publishMeta() {
	l.w.mu.Lock()
	l.w.meta = l.meta.Clone()
	l.w.mu.Unlock()
}

// pushLAC sends the idle writer's LAC to every bookie of the ensemble (lac_only).
func (l *writerLoop) pushLAC() {
	lac, bookies, ok := l.sm.ExplicitLACDue()
	if !ok {
		return
	}
	for _, b := range bookies {
		if bc, err := l.conn(b); err == nil {
			_ = bc.send(&bookiev1.AddRequest{LedgerId: uint64(l.w.id), Lac: lac, LacOnly: true}, nil)
		}
	}
	l.sm.ExplicitLACSent(lac)
}

// closeLedger CASes the metadata to CLOSED. A lost CAS is retried while the ledger is
// still OPEN; IN_RECOVERY means someone fenced us (ErrFenced), CLOSED with another
// last entry means someone else closed it (ErrClosed).
func (l *writerLoop) closeLedger(cl CloseLedger) {
	ctx := l.closeCtx
	for {
		m := l.meta.Clone()
		m.State = StateClosed
		m.LastEntry = cl.LastEntry
		m.Length = cl.Length
		rev, err := l.c.casMeta(ctx, m, l.rev)
		if err == nil {
			l.meta, l.rev = m, rev
			l.publishMeta()
			l.finish(nil)
			return
		}
		if !errors.Is(err, metadata.ErrRevisionMismatch) {
			l.finish(ledgerErr(l.w.id, fmt.Errorf("close: %w", err)))
			return
		}
		cur, curRev, err := l.c.readMeta(ctx, l.w.id)
		if err != nil {
			l.finish(fmt.Errorf("close: %w", err))
			return
		}
		switch cur.State {
		case StateClosed:
			l.meta, l.rev = cur, curRev
			l.publishMeta()
			if cur.LastEntry == cl.LastEntry {
				l.finish(nil)
			} else {
				l.finish(ledgerErr(l.w.id, ErrClosed))
			}
			return
		case StateInRecovery:
			l.finish(ledgerErr(l.w.id, ErrFenced))
			return
		}
		l.meta, l.rev = cur, curRev
	}
}

// finish ends the loop with Close's outcome err.
func (l *writerLoop) finish(err error) {
	l.finished = true
	l.w.mu.Lock()
	l.w.closeErr = err
	if l.w.finalErr == nil {
		if smErr := l.sm.Err(); smErr != nil {
			l.w.finalErr = ledgerErr(l.w.id, smErr)
		} else {
			l.w.finalErr = ledgerErr(l.w.id, ErrClosed)
		}
	}
	l.w.mu.Unlock()
	for _, cl := range l.closers {
		cl.reply <- err
	}
	l.closers = nil
}

func (l *writerLoop) exit() {
	l.cancel()
	l.changeWG.Wait()
	// Every outcome was delivered by now (the state machine completes or fails all
	// pending entries before the loop ends); anything left is answered, in order.
	for len(l.cbq) > 0 {
		l.pushCB(l.cbq[0], -1, l.w.endErr())
	}
	for _, bc := range l.conns {
		bc.forget(l.w.id)
	}
	l.w.lac.Store(l.sm.LAC())
	close(l.w.done)
	l.w.cbs.stop()
	l.c.removeWriter(l.w)
}

// callbackQueue runs callbacks one at a time, in the order pushed, on its own
// goroutine, until stopped and drained; after that push runs them inline (there is
// nothing left to order them against).
type callbackQueue struct {
	signal chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	items    []func()
	stopping bool
	exited   bool
}

func newCallbackQueue() *callbackQueue {
	return &callbackQueue{signal: make(chan struct{}, 1), done: make(chan struct{})}
}

func (q *callbackQueue) push(f func()) {
	q.mu.Lock()
	if q.exited {
		q.mu.Unlock()
		f()
		return
	}
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *callbackQueue) stop() {
	q.mu.Lock()
	q.stopping = true
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *callbackQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		batch := q.items
		q.items = nil
		if len(batch) == 0 && q.stopping {
			q.exited = true
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		if len(batch) == 0 {
			<-q.signal
			continue
		}
		for _, f := range batch {
			f()
		}
	}
}

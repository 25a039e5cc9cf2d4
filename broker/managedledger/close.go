package managedledger

import (
	"context"
	"time"
)

// flushLoop persists changed cursors every CursorFlushInterval.
func (ml *ManagedLedger) flushLoop() {
	defer ml.bg.Done()
	t := time.NewTicker(ml.cfg.CursorFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ml.stop:
			return
		case <-t.C:
		}
		ml.FlushCursors(context.Background())
	}
}

// FlushCursors persists every changed durable cursor now.
func (ml *ManagedLedger) FlushCursors(ctx context.Context) {
	for _, c := range ml.Cursors() {
		if err := c.flush(ctx); err != nil {
			ml.log.Warn("persist cursor", "cursor", c.name, "err", err)
		}
	}
}

// Close waits for pending adds, persists the cursors and closes the current ledger.
// Later adds fail with ErrClosed.
func (ml *ManagedLedger) Close(ctx context.Context) error {
	var err error
	ml.closeOnce.Do(func() {
		ml.submitMu.Lock()
		ml.mu.Lock()
		fenced := ml.state == stateFenced
		ml.state = stateClosed
		w := ml.writer
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		close(ml.stop)
		if !fenced {
			ml.FlushCursors(ctx)
		}
		if w != nil {
			err = w.Close(ctx) // waits for its pending adds
			if err == nil && !fenced {
				md := w.Metadata()
				_ = ml.updateRecord(ctx, func(in *Info) {
					for i := range in.Ledgers {
						if in.Ledgers[i].ID == md.ID {
							in.Ledgers[i].Entries, in.Ledgers[i].Size, in.Ledgers[i].Closed = md.LastEntry+1, md.Length, true
						}
					}
				})
			}
		}
		ml.bg.Wait()
	})
	return err
}

package ledger

import (
	"errors"
	"fmt"
	"slices"
)

// Send asks the driver to send one add request to one bookie.
type Send struct {
	Bookie  string
	Entry   int64
	LAC     int64 // the writer's LAC when the request is sent (piggybacked)
	Payload []byte
	CRC     uint32 // CRC32C of Payload, as given to Append
	// Recovery marks a recovery re-write, which fenced bookies accept.
	Recovery bool
}

// Completion is an entry's final outcome for the caller. Completions are emitted in
// entry order: an entry's success never precedes a lower entry's outcome.
type Completion struct {
	Entry int64
	Err   error // nil: acknowledged (durable on Qa bookies of its write set)
}

// Replacement names an ensemble position whose bookie must be replaced.
type Replacement struct {
	Position int
	Bookie   string // the failed bookie now at Position
}

// EnsembleChange asks the driver to staff the failed positions with bookies that are
// not in Ensemble, CAS the metadata so that entries from FirstEntry on live on the new
// ensemble (Metadata.WithEnsembleChange), and answer with EnsembleChanged,
// EnsembleChangeConflict or EnsembleChangeFailed. At most one is outstanding.
type EnsembleChange struct {
	FirstEntry int64
	Replace    []Replacement // sorted by position
	Ensemble   []string      // the current ensemble; none of these may be chosen
}

// CloseLedger asks the driver to CAS the metadata to CLOSED with these values.
type CloseLedger struct {
	LastEntry int64
	Length    int64
}

// WriteReady is what the write state machine asks the driver to do since the last call
// to Ready. The driver performs Sends in order per bookie, delivers Completed to the
// callers in order, and starts Change/Close if set.
type WriteReady struct {
	Sends     []Send
	Completed []Completion
	Change    *EnsembleChange
	Close     *CloseLedger
}

func (r *WriteReady) empty() bool {
	return len(r.Sends) == 0 && len(r.Completed) == 0 && r.Change == nil && r.Close == nil
}

// WriteSMConfig tunes a write state machine.
type WriteSMConfig struct {
	// TimeoutTicks: a bookie that has not acknowledged an entry this many Ticks after it
	// was sent is treated as failed. 0 disables timeouts.
	TimeoutTicks int64
}

// WriteSM is the writer's side of the ledger protocol for one open ledger, without I/O:
// the driver feeds it appends, bookie acks and failures, ticks and the results of the
// metadata CASes it asked for, and performs what Ready returns. It is not safe for
// concurrent use; one goroutine owns it.
//
// The rules it keeps (BookKeeper's):
//   - entry e goes to the Qw bookies of its write set; it is acknowledged to the caller
//     once Qa distinct members of that write set acked it and every lower entry was
//     acknowledged;
//   - LAC, the last acknowledged entry, is piggybacked on every later send;
//   - a failed bookie is replaced by an ensemble change whose new fragment starts at
//     LAC+1; pending entries that map to the replaced position lose that position's ack
//     and are resent to the new bookie; nothing is acknowledged while a position is
//     waiting for its replacement, so LAC+1 stays the right first entry;
//   - LEDGER_FENCED, a lost CAS that finds the ledger no longer OPEN, or no bookie to
//     replace a failed one end the writer: every pending entry fails, in order.
type WriteSM struct {
	recovery     bool // re-writing for recovery: sends carry Recovery, the state is IN_RECOVERY
	e, qw, qa    int
	timeoutTicks int64

	// meta is the metadata as last committed. Invariant: its last fragment starts at or
	// before lac+1, so every pending entry is stored on ens.
	meta *Metadata
	// ens is meta's last ensemble, indexed by position.
	ens []string
	// Invariant: entries ≤ lac were acknowledged to the caller, in order; lac only grows.
	lac int64
	// Invariant: while err is nil, pending holds exactly the entries lac+1..next-1, in
	// order; once err is set, pending is empty and next stays put.
	next    int64
	pending []*pendingAdd
	// ackedBytes is the payload size of entries 0..lac written by this state machine.
	ackedBytes int64
	// failing maps ensemble positions whose bookie failed to that bookie, until an
	// ensemble change replaces it. Invariant: while failing is non-empty nothing is
	// acknowledged to the caller, so lac is frozen and the change's first entry (lac+1)
	// is still the first entry not acknowledged when the change commits.
	failing map[int]string
	// changing: an EnsembleChange was emitted and its answer is awaited.
	// Invariant: at most one change is outstanding.
	changing bool
	// lacPushed is the highest LAC any bookie was sent (piggybacked or explicit).
	lacPushed    int64
	tick         int64
	closing      bool
	closeEmitted bool
	// err is the terminal error; once set the writer accepts nothing more.
	err error

	rd WriteReady
}

// pendingAdd is an entry sent but not yet acknowledged to the caller.
type pendingAdd struct {
	entry   int64
	payload []byte
	crc     uint32
	// acked[slot]: the bookie at ensemble position (entry+slot) mod E acked it.
	acked []bool
	nacks int
	// sentTick[slot]: the tick of the last send to that slot; -1 while the slot's
	// position is failing and the send is deferred to the replacement.
	sentTick []int64
}

// NewWriteSM returns the state machine for a freshly created ledger: metadata OPEN,
// nothing written, next entry 0.
func NewWriteSM(m *Metadata, cfg WriteSMConfig) (*WriteSM, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.State != StateOpen {
		return nil, fmt.Errorf("ledger %d: cannot write: state %s: %w", m.ID, m.State, ErrClosed)
	}
	return newWriteSM(m, false, 0, cfg.TimeoutTicks), nil
}

// newWriteSM starts a writer whose first entry is next (entries before are known
// acknowledged). Recovery uses it to re-write the entries it reads forward.
func newWriteSM(m *Metadata, recovery bool, next int64, timeoutTicks int64) *WriteSM {
	return &WriteSM{
		recovery:     recovery,
		e:            m.EnsembleSize,
		qw:           m.WriteQuorum,
		qa:           m.AckQuorum,
		timeoutTicks: timeoutTicks,
		meta:         m,
		ens:          slices.Clone(m.LastFragment().Ensemble),
		lac:          next - 1,
		next:         next,
		failing:      map[int]string{},
		lacPushed:    next - 1,
	}
}

// Append assigns the next entry id to payload and sends it to its write set. The
// payload must not be modified until the entry completes.
func (s *WriteSM) Append(payload []byte, crc uint32) (int64, error) {
	if s.err != nil {
		return -1, s.err
	}
	if s.closing {
		return -1, ErrClosed
	}
	p := &pendingAdd{
		entry:    s.next,
		payload:  payload,
		crc:      crc,
		acked:    make([]bool, s.qw),
		sentTick: make([]int64, s.qw),
	}
	s.next++
	s.pending = append(s.pending, p)
	for slot := 0; slot < s.qw; slot++ {
		s.send(p, slot)
	}
	return p.entry, nil
}

// send emits the add of p to the bookie at its write-set slot, or defers it while that
// position waits for a replacement.
func (s *WriteSM) send(p *pendingAdd, slot int) {
	pos := int((p.entry + int64(slot)) % int64(s.e))
	if _, bad := s.failing[pos]; bad {
		p.sentTick[slot] = -1
		return
	}
	p.sentTick[slot] = s.tick
	s.rd.Sends = append(s.rd.Sends, Send{
		Bookie: s.ens[pos], Entry: p.entry, LAC: s.lac,
		Payload: p.payload, CRC: p.crc, Recovery: s.recovery,
	})
	s.lacPushed = max(s.lacPushed, s.lac)
}

// Ack records that bookie made entry durable. Acks for entries not pending, from
// bookies no longer in the ensemble (a replaced bookie's late ack) or from a position
// waiting for its replacement are ignored.
func (s *WriteSM) Ack(bookie string, entry int64) {
	if s.err != nil {
		return
	}
	p := s.pendingAt(entry)
	pos := s.position(bookie)
	if p == nil || pos < 0 {
		return
	}
	if _, bad := s.failing[pos]; bad {
		return
	}
	slot := slotOf(entry, pos, s.e, s.qw)
	if slot < 0 || p.acked[slot] {
		return
	}
	p.acked[slot] = true
	p.nacks++
	s.complete()
}

// BookieFailed reports that bookie failed an add (transport error, unavailable,
// read-only, timeout, stream reset). A bookie not in the current ensemble (already
// replaced) is ignored; one that is triggers an ensemble change for its position.
func (s *WriteSM) BookieFailed(bookie string) {
	if s.err != nil {
		return
	}
	pos := s.position(bookie)
	if pos < 0 {
		return
	}
	if _, ok := s.failing[pos]; ok {
		return
	}
	s.failing[pos] = bookie
	s.requestChange()
}

// Fenced reports LEDGER_FENCED from a bookie: someone is recovering the ledger.
func (s *WriteSM) Fenced() { s.fail(ErrFenced) }

// Rejected reports an add refused for a reason that would repeat on any bookie.
func (s *WriteSM) Rejected(err error) { s.fail(fmt.Errorf("%w: %w", ErrRejected, err)) }

// EnsembleChanged reports that the change asked for committed as m.
func (s *WriteSM) EnsembleChanged(m *Metadata) {
	if !s.changing {
		return
	}
	s.changing = false
	if s.err != nil {
		s.maybeClose()
		return
	}
	if err := s.adopt(m); err != nil {
		s.fail(err)
		return
	}
	s.afterChange()
}

// EnsembleChangeConflict reports that the change's CAS lost and the metadata is now m.
// If the ledger is no longer in the state this writer needs (OPEN; IN_RECOVERY for a
// recovery), the writer ends with ErrFenced (someone is recovering) or ErrClosed;
// otherwise it adopts m and asks again for whatever is still failing.
func (s *WriteSM) EnsembleChangeConflict(m *Metadata) {
	if !s.changing {
		return
	}
	s.changing = false
	if s.err != nil {
		s.maybeClose()
		return
	}
	if m.State != s.wantState() {
		s.fail(stateErr(m.State))
		return
	}
	if err := s.adopt(m); err != nil {
		s.fail(err)
		return
	}
	s.afterChange()
}

// EnsembleChangeFailed reports that the change could not be made (no spare bookie,
// metadata store unreachable): the writer fails every pending entry with err and ends.
// Close still works and closes the ledger at the LAC.
func (s *WriteSM) EnsembleChangeFailed(err error) {
	if !s.changing {
		return
	}
	s.changing = false
	if s.err != nil {
		s.maybeClose()
		return
	}
	s.fail(err)
}

// Abort ends the writer with err without closing the ledger: every pending entry fails
// and no CloseLedger will be emitted (the client is going away; recovery will close the
// ledger).
func (s *WriteSM) Abort(err error) {
	s.closeEmitted = true
	s.fail(err)
}

// Close stops accepting entries. Once every pending entry completed (and no ensemble
// change is outstanding), Ready carries CloseLedger with the LAC and the acknowledged
// length — unless the writer was fenced or found the ledger closed, see Err.
func (s *WriteSM) Close() {
	s.closing = true
	s.maybeClose()
}

// Tick advances the logical clock that add timeouts are measured in. Every bookie that
// has owed an ack for TimeoutTicks is treated as failed.
func (s *WriteSM) Tick() {
	s.tick++
	if s.timeoutTicks <= 0 || s.err != nil {
		return
	}
	var late []string
	for _, p := range s.pending {
		for slot := 0; slot < s.qw; slot++ {
			if p.acked[slot] || p.sentTick[slot] < 0 || s.tick-p.sentTick[slot] < s.timeoutTicks {
				continue
			}
			b := s.ens[(p.entry+int64(slot))%int64(s.e)]
			if !slices.Contains(late, b) {
				late = append(late, b)
			}
		}
	}
	for _, b := range late {
		s.BookieFailed(b)
	}
}

// ExplicitLACDue reports whether the writer is idle with a LAC no bookie has been told
// yet; the driver then sends it (lac_only) to bookies and calls ExplicitLACSent, so a
// tailing reader sees the last entry without waiting for the next add.
func (s *WriteSM) ExplicitLACDue() (lac int64, bookies []string, ok bool) {
	if s.recovery || s.err != nil || s.closeEmitted || len(s.pending) > 0 || s.lac <= s.lacPushed {
		return 0, nil, false
	}
	return s.lac, slices.Clone(s.ens), true
}

// ExplicitLACSent records that lac was pushed to the bookies.
func (s *WriteSM) ExplicitLACSent(lac int64) { s.lacPushed = max(s.lacPushed, lac) }

// Ready returns and clears what the driver must do.
func (s *WriteSM) Ready() WriteReady {
	rd := s.rd
	s.rd = WriteReady{}
	return rd
}

// LAC returns the last entry acknowledged to the caller (-1: none).
func (s *WriteSM) LAC() int64 { return s.lac }

// Next returns the id the next Append will get.
func (s *WriteSM) Next() int64 { return s.next }

// Pending returns how many entries await acknowledgement.
func (s *WriteSM) Pending() int { return len(s.pending) }

// Length returns the payload bytes acknowledged through this state machine.
func (s *WriteSM) Length() int64 { return s.ackedBytes }

// Metadata returns the metadata as last committed (do not modify it).
func (s *WriteSM) Metadata() *Metadata { return s.meta }

// Err returns the terminal error, nil while the writer works.
func (s *WriteSM) Err() error { return s.err }

// Changing reports whether an ensemble change is outstanding.
func (s *WriteSM) Changing() bool { return s.changing }

func (s *WriteSM) wantState() State {
	if s.recovery {
		return StateInRecovery
	}
	return StateOpen
}

// stateErr is the error a writer ends with when it finds the ledger in state st.
func stateErr(st State) error {
	if st == StateInRecovery {
		return ErrFenced
	}
	return ErrClosed
}

func (s *WriteSM) pendingAt(entry int64) *pendingAdd {
	if entry <= s.lac || entry >= s.next {
		return nil
	}
	return s.pending[entry-s.lac-1]
}

func (s *WriteSM) position(bookie string) int {
	return slices.Index(s.ens, bookie)
}

func (s *WriteSM) requestChange() {
	if s.changing || len(s.failing) == 0 {
		return
	}
	ch := &EnsembleChange{FirstEntry: s.lac + 1, Ensemble: slices.Clone(s.ens)}
	for pos, b := range s.failing {
		ch.Replace = append(ch.Replace, Replacement{Position: pos, Bookie: b})
	}
	slices.SortFunc(ch.Replace, func(a, b Replacement) int { return a.Position - b.Position })
	s.rd.Change = ch
	s.changing = true
}

// adopt switches to the committed metadata m: every position whose bookie differs is
// treated as replaced — its acks on pending entries no longer count (readers will look
// for those entries on the new bookie) and the entries are resent there, in entry
// order.
func (s *WriteSM) adopt(m *Metadata) error {
	last := m.LastFragment()
	if len(last.Ensemble) != s.e || last.FirstEntry > s.lac+1 {
		return fmt.Errorf("%w: last fragment starts at %d, writer LAC is %d", ErrMetadataConflict, last.FirstEntry, s.lac)
	}
	var changed []int
	for pos, b := range last.Ensemble {
		if b != s.ens[pos] {
			changed = append(changed, pos)
			delete(s.failing, pos)
		}
	}
	s.meta = m
	s.ens = slices.Clone(last.Ensemble)
	for _, p := range s.pending {
		for _, pos := range changed {
			slot := slotOf(p.entry, pos, s.e, s.qw)
			if slot < 0 {
				continue
			}
			if p.acked[slot] {
				p.acked[slot] = false
				p.nacks--
			}
			s.send(p, slot)
		}
	}
	return nil
}

func (s *WriteSM) afterChange() {
	if len(s.failing) > 0 {
		s.requestChange()
		return
	}
	s.complete()
}

// complete acknowledges, in order, every leading pending entry with Qa acks.
func (s *WriteSM) complete() {
	if len(s.failing) > 0 {
		return
	}
	n := 0
	for n < len(s.pending) && s.pending[n].nacks >= s.qa {
		p := s.pending[n]
		s.lac = p.entry
		s.ackedBytes += int64(len(p.payload))
		s.rd.Completed = append(s.rd.Completed, Completion{Entry: p.entry})
		s.pending[n] = nil
		n++
	}
	s.pending = s.pending[n:]
	s.maybeClose()
}

// fail ends the writer: every pending entry fails with err, in order.
func (s *WriteSM) fail(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	for _, p := range s.pending {
		s.rd.Completed = append(s.rd.Completed, Completion{Entry: p.entry, Err: err})
	}
	s.pending = nil
	clear(s.failing)
	s.maybeClose()
}

func (s *WriteSM) maybeClose() {
	if !s.closing || s.closeEmitted || len(s.pending) > 0 || s.changing {
		return
	}
	if errors.Is(s.err, ErrFenced) || errors.Is(s.err, ErrClosed) {
		return // the ledger belongs to someone else now; nothing to close
	}
	s.closeEmitted = true
	s.rd.Close = &CloseLedger{LastEntry: s.lac, Length: s.ackedBytes}
}

package ledger

import (
	"fmt"
	"slices"
)

// Read asks the driver to read one entry from one bookie (a plain ReadEntry; the
// ledger is already fenced on every bookie that matters).
type Read struct {
	Entry  int64
	Bookie string
}

// RecoveryReady is what the recovery state machine asks the driver to do since the
// last call to Ready.
type RecoveryReady struct {
	// Fence: send ReadLAC(fence=true) to each of these bookies (the last ensemble).
	Fence []string
	Reads []Read
	// Sends, Change: the re-writes of recovered entries, exactly as for a writer.
	Sends  []Send
	Change *EnsembleChange
	// Close: every recovered entry is re-written; CAS the metadata to CLOSED.
	Close *CloseLedger
	// Err: recovery failed and will do nothing more. The ledger stays IN_RECOVERY.
	Err error
}

// RecoveryConfig tunes a recovery state machine.
type RecoveryConfig struct {
	// ReadWindow is how many entries may be read forward concurrently (default 16).
	ReadWindow int
	// TimeoutTicks: as WriteSMConfig.TimeoutTicks, for the re-writes.
	TimeoutTicks int64
}

type recoveryPhase int

const (
	phaseFencing recoveryPhase = iota
	phaseReading
	phaseDone
)

// fenceState is what one ensemble position answered to the fencing read.
type fenceState int

const (
	fenceUnknown  fenceState = iota // no reply yet, or an error other than NO_SUCH_*
	fenceOK                         // fenced; reported a LAC
	fenceNegative                   // NO_SUCH_LEDGER / NO_SUCH_ENTRY: holds nothing of it
)

// RecoverySM is open-with-recovery without I/O. The driver has already CASed the
// metadata to IN_RECOVERY and passes that metadata in; RecoverySM then
//
//  1. fences: asks every bookie of the last ensemble for its LAC with fence=true, and
//     waits until, for every write set, fewer than Qa members are unknown (no answer,
//     or an error other than NO_SUCH_LEDGER/NO_SUCH_ENTRY). If every answer is in and
//     that does not hold, recovery fails with ErrRecoveryCoverage — it never closes on
//     a partial view;
//  2. reads forward from the highest LAC reported (or from the last fragment's first
//     entry, if later: the writer only ever starts a fragment at its LAC+1), entry by
//     entry, each from its write set's members in order. One positive read recovers an
//     entry; Qw−Qa+1 explicit negatives prove it missing; anything else (every member
//     asked, neither reached) fails with ErrRecoveryCoverage;
//  3. re-writes every recovered entry to its whole write set with recovery adds, through
//     a WriteSM: an entry counts as re-written once Qa members acked it (the normal add
//     rule), and failed bookies are replaced by ensemble changes as for a writer;
//  4. stops at the first missing entry and, once every re-write is acknowledged, asks
//     for the CAS to CLOSED with LastEntry = the last recovered entry.
//
// Reads use the metadata as fenced (where the old writer put the entries); re-writes
// use the metadata as it evolves through recovery's own ensemble changes.
type RecoverySM struct {
	// snap is the metadata as fenced. Invariant: never modified; reads map entries
	// through it.
	snap      *Metadata
	e, qw, qa int
	cfg       RecoveryConfig
	phase     recoveryPhase

	fence    []fenceState // by position of snap's last ensemble
	fenceIn  []bool       // the position answered (any outcome)
	fenceLAC []int64
	// fenceErr: bookies whose fencing read failed; they are asked last.
	fenceErr map[string]bool

	// start is the first entry read forward; entries before it are known acknowledged.
	start int64
	// Invariant: window holds the undecided-or-unconsumed entries nextRead-len..nextRead-1
	// in order; window[0] is the lowest entry not yet handed to the re-writer.
	window   []*readState
	nextRead int64
	// stopAt is the first entry proven missing; -1 until found.
	stopAt int64
	// length is the payload bytes of the entries read forward.
	length int64

	w   *WriteSM // re-writes; nil before reading starts
	err error
	rd  RecoveryReady
}

// readState tracks one entry being read forward.
type readState struct {
	entry int64
	order []string // members to ask, in order
	// asked: members order[:asked] were asked; order[asked-1] is the one outstanding
	// unless decided.
	asked     int
	negatives int
	unknowns  int
	have      bool
	missing   bool
	payload   []byte
	crc       uint32
}

// NewRecoverySM starts recovery of a ledger whose metadata (state IN_RECOVERY) is m.
// The first Ready asks for the fencing reads.
func NewRecoverySM(m *Metadata, cfg RecoveryConfig) (*RecoverySM, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.State != StateInRecovery {
		return nil, fmt.Errorf("ledger %d: recovery needs state %s, have %s", m.ID, StateInRecovery, m.State)
	}
	if cfg.ReadWindow <= 0 {
		cfg.ReadWindow = 16
	}
	r := &RecoverySM{
		snap:     m,
		e:        m.EnsembleSize,
		qw:       m.WriteQuorum,
		qa:       m.AckQuorum,
		cfg:      cfg,
		fence:    make([]fenceState, m.EnsembleSize),
		fenceIn:  make([]bool, m.EnsembleSize),
		fenceLAC: make([]int64, m.EnsembleSize),
		fenceErr: map[string]bool{},
		stopAt:   -1,
	}
	r.rd.Fence = slices.Clone(m.LastFragment().Ensemble)
	return r, nil
}

// FenceReply records a successful fencing read: bookie is fenced and reported lac.
func (r *RecoverySM) FenceReply(bookie string, lac int64) {
	pos := slices.Index(r.snap.LastFragment().Ensemble, bookie)
	if r.phase != phaseFencing || pos < 0 || r.fenceIn[pos] {
		return
	}
	r.fenceIn[pos] = true
	r.fence[pos] = fenceOK
	r.fenceLAC[pos] = lac
	r.checkFence()
}

// FenceFailed records a failed fencing read. NO_SUCH_LEDGER/NO_SUCH_ENTRY count as an
// answer; any other error leaves the bookie unknown (and it is asked last for reads).
func (r *RecoverySM) FenceFailed(bookie string, err error) {
	pos := slices.Index(r.snap.LastFragment().Ensemble, bookie)
	if pos < 0 {
		return
	}
	if !isNegative(err) {
		r.fenceErr[bookie] = true
	}
	if r.phase != phaseFencing || r.fenceIn[pos] {
		return
	}
	r.fenceIn[pos] = true
	if isNegative(err) {
		r.fence[pos] = fenceNegative
	}
	r.checkFence()
}

// checkFence moves on to reading once the fence covers every write set, and fails
// recovery if every bookie answered and it still does not.
func (r *RecoverySM) checkFence() {
	if writeSetCovered(r.e, r.qw, r.qa, func(pos int) bool { return r.fence[pos] == fenceUnknown }) {
		r.startReading()
		return
	}
	if !slices.Contains(r.fenceIn, false) {
		r.finish(fmt.Errorf("ledger %d: fencing: %d of %d bookies unreachable, leaving a write set with %d or more unknown: %w",
			r.snap.ID, len(r.fenceErr), r.e, r.qa, ErrRecoveryCoverage))
	}
}

func (r *RecoverySM) startReading() {
	maxLAC := int64(-1)
	for pos, st := range r.fence {
		if st == fenceOK {
			maxLAC = max(maxLAC, r.fenceLAC[pos])
		}
	}
	// The writer starts a fragment at its LAC+1 only, so everything before the last
	// fragment was acknowledged even if no bookie's piggybacked LAC says so yet.
	r.start = max(maxLAC, r.snap.LastFragment().FirstEntry-1) + 1
	r.nextRead = r.start
	r.phase = phaseReading
	r.w = newWriteSM(r.snap.Clone(), true, r.start, r.cfg.TimeoutTicks)
	r.refill()
}

// ReadReply records that bookie returned entry's payload (already verified against its
// CRC by the driver; a corrupt replica is reported with ReadFailed).
func (r *RecoverySM) ReadReply(bookie string, entry int64, payload []byte, crc uint32) {
	rs := r.outstanding(bookie, entry)
	if rs == nil {
		return
	}
	rs.have, rs.payload, rs.crc = true, payload, crc
	r.advance()
}

// ReadFailed records a failed read of entry from bookie: an explicit negative
// (NO_SUCH_ENTRY/NO_SUCH_LEDGER) or an unknown.
func (r *RecoverySM) ReadFailed(bookie string, entry int64, err error) {
	rs := r.outstanding(bookie, entry)
	if rs == nil {
		return
	}
	if isNegative(err) {
		rs.negatives++
	} else {
		rs.unknowns++
	}
	switch {
	case rs.negatives >= missingThreshold(r.qw, r.qa):
		rs.missing = true
	case rs.asked < len(rs.order):
		r.ask(rs)
	default:
		r.finish(fmt.Errorf("ledger %d: entry %d: %d negative, %d unreachable of write set %v (need %d negatives or one copy): %w",
			r.snap.ID, entry, rs.negatives, rs.unknowns, rs.order, missingThreshold(r.qw, r.qa), ErrRecoveryCoverage))
		return
	}
	r.advance()
}

// outstanding returns the read state of entry if bookie is the member it is waiting on.
func (r *RecoverySM) outstanding(bookie string, entry int64) *readState {
	if r.phase != phaseReading || r.stopAt >= 0 || len(r.window) == 0 {
		return nil
	}
	i := entry - r.window[0].entry
	if i < 0 || i >= int64(len(r.window)) {
		return nil
	}
	rs := r.window[i]
	if rs.have || rs.missing || rs.asked == 0 || rs.order[rs.asked-1] != bookie {
		return nil
	}
	return rs
}

func (r *RecoverySM) ask(rs *readState) {
	r.rd.Reads = append(r.rd.Reads, Read{Entry: rs.entry, Bookie: rs.order[rs.asked]})
	rs.asked++
}

// advance hands decided entries, in order, to the re-writer; stops at the first missing
// entry; keeps the read window full.
func (r *RecoverySM) advance() {
	for len(r.window) > 0 && r.stopAt < 0 {
		rs := r.window[0]
		if rs.missing {
			r.stopAt = rs.entry
			r.window = nil
			break
		}
		if !rs.have {
			break
		}
		if _, err := r.w.Append(rs.payload, rs.crc); err != nil {
			r.collect()
			return
		}
		r.length += int64(len(rs.payload))
		r.window[0] = nil
		r.window = r.window[1:]
	}
	r.refill()
	r.collect()
}

func (r *RecoverySM) refill() {
	for r.stopAt < 0 && r.err == nil && len(r.window) < r.cfg.ReadWindow {
		rs := &readState{
			entry: r.nextRead,
			order: readOrder(r.snap, r.nextRead, func(b string) bool { return r.fenceErr[b] }),
		}
		r.nextRead++
		r.window = append(r.window, rs)
		r.ask(rs)
	}
}

// AddAck, AddFailed, AddRejected, EnsembleChanged, EnsembleChangeConflict,
// EnsembleChangeFailed and Tick feed the re-writer, exactly as for WriteSM.
func (r *RecoverySM) AddAck(bookie string, entry int64) {
	r.withWriter(func(w *WriteSM) { w.Ack(bookie, entry) })
}

// AddFailed: see AddAck.
func (r *RecoverySM) AddFailed(bookie string) {
	r.withWriter(func(w *WriteSM) { w.BookieFailed(bookie) })
}

// AddRejected: see AddAck. A fenced answer to a recovery add is unexpected and ends
// recovery like any rejection.
func (r *RecoverySM) AddRejected(err error) { r.withWriter(func(w *WriteSM) { w.Rejected(err) }) }

// EnsembleChanged: see AddAck.
func (r *RecoverySM) EnsembleChanged(m *Metadata) {
	r.withWriter(func(w *WriteSM) { w.EnsembleChanged(m) })
}

// EnsembleChangeConflict: see AddAck.
func (r *RecoverySM) EnsembleChangeConflict(m *Metadata) {
	r.withWriter(func(w *WriteSM) { w.EnsembleChangeConflict(m) })
}

// EnsembleChangeFailed: see AddAck.
func (r *RecoverySM) EnsembleChangeFailed(err error) {
	r.withWriter(func(w *WriteSM) { w.EnsembleChangeFailed(err) })
}

// Tick: see AddAck.
func (r *RecoverySM) Tick() { r.withWriter(func(w *WriteSM) { w.Tick() }) }

func (r *RecoverySM) withWriter(f func(*WriteSM)) {
	if r.w == nil || r.phase == phaseDone {
		return
	}
	f(r.w)
	r.collect()
}

// collect moves the re-writer's output into Ready and decides whether recovery is done.
func (r *RecoverySM) collect() {
	if r.w == nil || r.phase == phaseDone {
		return
	}
	wr := r.w.Ready()
	r.rd.Sends = append(r.rd.Sends, wr.Sends...)
	if wr.Change != nil {
		r.rd.Change = wr.Change
	}
	if err := r.w.Err(); err != nil {
		r.finish(fmt.Errorf("ledger %d: re-writing recovered entries: %w", r.snap.ID, err))
		return
	}
	if r.stopAt >= 0 && r.w.Pending() == 0 && !r.w.Changing() {
		if r.w.LAC() != r.stopAt-1 {
			r.finish(fmt.Errorf("ledger %d: recovery re-wrote up to %d but stopped at %d", r.snap.ID, r.w.LAC(), r.stopAt))
			return
		}
		r.rd.Close = &CloseLedger{LastEntry: r.stopAt - 1, Length: r.length}
		r.phase = phaseDone
	}
}

func (r *RecoverySM) finish(err error) {
	if r.phase == phaseDone {
		return
	}
	r.phase = phaseDone
	r.err = err
	r.rd.Err = err
	r.window = nil
}

// Ready returns and clears what the driver must do.
func (r *RecoverySM) Ready() RecoveryReady {
	rd := r.rd
	r.rd = RecoveryReady{}
	return rd
}

// Metadata returns the metadata as recovery's re-writes last committed it (the fenced
// snapshot before any ensemble change).
func (r *RecoverySM) Metadata() *Metadata {
	if r.w != nil {
		return r.w.Metadata()
	}
	return r.snap
}

// Start returns the first entry read forward (valid once fencing completed).
func (r *RecoverySM) Start() int64 { return r.start }

// Err returns the terminal error, if recovery failed.
func (r *RecoverySM) Err() error { return r.err }

// Done reports whether recovery finished (Close or Err was emitted).
func (r *RecoverySM) Done() bool { return r.phase == phaseDone }

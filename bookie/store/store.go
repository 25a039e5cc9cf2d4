package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// FS is the file system Pebble runs on; nil means the operating system's. Tests pass
	// vfs.NewCrashableMem() or an errorfs wrapper to simulate crashes and disk faults.
	FS vfs.FS
	// Logger receives the store's and Pebble's logs; nil discards them.
	Logger *slog.Logger
	// MaxBatchBytes caps the payload bytes the builder puts into one batch; ops beyond
	// it wait for the next round. Default 16 MiB. A single larger entry still gets a
	// batch of its own.
	MaxBatchBytes int
	// MemTableSize is Pebble's memtable size; default 64 MiB (entries can be 5 MiB).
	MemTableSize uint64
	// WALDir, if set, is where Pebble keeps its write-ahead log — the bookie's journal:
	// every add is fsynced there before it is acknowledged, so a dedicated disk for it
	// keeps the sstable flushes and compactions of the data dir out of the add latency
	// (BookKeeper's separate journal directory). A relative path is taken as it is (from
	// the working directory), not from the store's directory. Once a store has run with
	// a WALDir it must always be opened with the same one: Pebble refuses another (WALs
	// it needs may be there), and a marker file in both directories makes the store
	// refuse a journal directory that was wiped or replaced (ErrJournalMismatch; see
	// journal.go). Moving from no WALDir to one is allowed: the store's directory is
	// scanned for the WALs written before.
	WALDir string

	// batchesInFlight overrides maxInFlightBatches; this package's benchmarks vary it.
	batchesInFlight int
}

func (o *Options) applyDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 16 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.batchesInFlight <= 0 {
		o.batchesInFlight = maxInFlightBatches
	}
}

// Entry is one stored entry, as read back (its checksums verified).
type Entry struct {
	Ledger  uint64
	ID      int64
	LAC     int64 // the LAC its writer sent with it
	Payload []byte
	CRC32C  uint32
}

// Add is an entry to store.
type Add struct {
	Ledger  uint64
	Entry   int64
	LAC     int64 // the writer's last add confirmed, -1 when none
	Payload []byte
	CRC32C  uint32 // the writer's CRC32C of Payload, checked before storing
	// Recovery marks a re-write by a recovering client: accepted on a fenced ledger.
	Recovery bool
}

// LedgerState is what the store knows of a ledger.
type LedgerState struct {
	LAC       int64 // highest LAC seen on adds and explicit updates, -1 when none
	LastEntry int64 // highest entry id stored, -1 when none
	Fenced    bool
}

// Stats counts the write pipeline's work. Entries/Syncs is the group-commit factor (per
// synced batch; batches in flight together may share one WAL fsync).
type Stats struct {
	Batches uint64 // Pebble batches committed
	Syncs   uint64 // of which committed with an fsync
	Ops     uint64 // ops taken by the builder (adds, fences, deletes, LAC updates)
	Entries uint64 // entries written
	Ledgers int    // ledgers the store holds now (deleted ones excluded)
}

// Store is a bookie's Pebble-backed entry store. It is safe for concurrent use.
//
// Writes go through a two-goroutine pipeline, a builder and a completer (see doc.go and
// commit.go); reads go to Pebble directly from the caller's goroutine.
type Store struct {
	db            *pebble.DB
	log           *slog.Logger
	maxBatchBytes int

	wake          chan struct{} // cap 1: ops pending or closing
	committerDone chan struct{} // closed when the builder and the completer have ended
	compactWake   chan struct{} // cap 1: deleted ranges queued
	compactStop   context.CancelFunc
	compactorDone chan struct{}
	quit          chan struct{} // closed by Close: long polls end
	closeOnce     sync.Once
	closeErr      error

	// slots has one token per batch between "taken by the builder" and "answered by the
	// completer" (maxInFlightBatches of them); built carries the applied batches from the
	// builder to the completer, in order, and has a place per slot.
	slots chan struct{}
	built chan *group
	// staging is every ledger's state as the batches applied so far leave it, fsynced
	// or not. Invariant: only the builder goroutine (commitLoop) uses it.
	staging map[uint64]LedgerState
	// fatalf ends the process (Pebble's logger's Fatalf).
	fatalf func(format string, args ...any)

	batches, syncs, ops, entries atomic.Uint64

	// lifeMu guards db against use after Close. Readers hold it shared for the length of
	// one read (which is disk I/O: this is a lifecycle lock, not a data lock; Close takes
	// it exclusively only to mark the store closed, after which no reader starts).
	// Lock order: lifeMu before mu (a read that misses looks up the ledger state); mu is
	// never held while taking lifeMu.
	lifeMu   sync.RWMutex
	dbClosed bool

	mu sync.Mutex
	// pending are the ops queued for the builder, in arrival order.
	pending []*op
	// closing: Close has begun; new ops are refused.
	closing bool
	// failed is the write error that put the store in the failed state, if any.
	failed error
	// Invariant: ledgers holds the state of every known ledger as of the last completed
	// batch (fsynced, and its ops answered or being answered); only the completer
	// changes it.
	ledgers map[uint64]LedgerState
	// waiters are the long polls parked on a ledger (see WaitLAC).
	waiters map[uint64]*waiter
	// compactQueue are deleted ledgers whose entry ranges await compaction.
	compactQueue []uint64
	// compactBusy: the compactor is compacting a range taken from compactQueue.
	compactBusy bool
	// compactIdle, when non-nil, is closed once the queue is empty and the compactor idle.
	compactIdle chan struct{}
	// onPark, when set (by this package's tests only), is called under mu each time a
	// long poll parks, so tests can wait for that event instead of guessing.
	onPark func(ledger uint64)
	// onApplied, when set (by this package's tests only), is called by the builder each
	// time it has applied a batch to Pebble, before handing it to the completer, with
	// the number of ops the batch decided.
	onApplied func(ops int)
}

// Open opens (creating if needed) the store in dir. It refuses a database whose format
// version it does not know.
func Open(dir string, opts Options) (*Store, error) {
	opts.applyDefaults()
	logger := pebbleLogger{opts.Logger}
	popts := &pebble.Options{
		FS:           opts.FS,
		Logger:       logger,
		MemTableSize: opts.MemTableSize,
		WALDir:       opts.WALDir,
	}
	if opts.WALDir != "" && opts.WALDir != dir {
		if err := checkJournalDir(opts.FS, dir, opts.WALDir); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
		// WALs of runs before the WALDir was set are in the store's directory.
		popts.WALRecoveryDirs = []wal.Dir{{FS: opts.FS, Dirname: dir}}
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := checkFormat(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	ledgers, err := loadLedgers(db, opts.Logger)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:            db,
		log:           opts.Logger,
		maxBatchBytes: opts.MaxBatchBytes,
		wake:          make(chan struct{}, 1),
		committerDone: make(chan struct{}),
		compactWake:   make(chan struct{}, 1),
		compactStop:   cancel,
		compactorDone: make(chan struct{}),
		quit:          make(chan struct{}),
		slots:         make(chan struct{}, opts.batchesInFlight),
		built:         make(chan *group, opts.batchesInFlight),
		staging:       maps.Clone(ledgers),
		fatalf:        logger.Fatalf,
		ledgers:       ledgers,
		waiters:       make(map[uint64]*waiter),
	}
	go s.commitLoop()
	go s.completeLoop()
	go s.compactLoop(cctx)
	return s, nil
}

// checkFormat writes the format version into a new database and refuses an existing one
// of another version (or of none).
func checkFormat(db *pebble.DB) error {
	v, closer, err := db.Get(formatKey)
	if err == nil {
		defer closer.Close()
		ver, err := decodeFormat(v)
		if err != nil {
			return err
		}
		if ver != FormatVersion {
			return fmt.Errorf("%w %d (this build reads version %d; see docs/format/bookie.md)", ErrUnknownFormat, ver, FormatVersion)
		}
		return nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read format version: %w", err)
	}
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	nonEmpty := it.First()
	if err := it.Close(); err != nil {
		return err
	}
	if nonEmpty {
		return fmt.Errorf("%w: the database has data but no format version key; it was not written by a Strata bookie", ErrUnknownFormat)
	}
	return db.Set(formatKey, encodeFormat(FormatVersion), pebble.Sync)
}

// loadLedgers reads every ledger state record. A record that fails its checks is rebuilt
// from the ledger's entries and marked fenced — the safe answer when the fence bit
// cannot be trusted — and written back.
func loadLedgers(db *pebble.DB, log *slog.Logger) (map[uint64]LedgerState, error) {
	ledgers := make(map[uint64]LedgerState)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLedger}, UpperBound: []byte{prefixLedger + 1}})
	if err != nil {
		return nil, err
	}
	var broken []uint64
	for ok := it.First(); ok; ok = it.Next() {
		id, ok := parseLedgerKey(it.Key())
		if !ok {
			log.Warn("store: ignoring malformed ledger state key", "key", fmt.Sprintf("%x", it.Key()))
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, err
		}
		st, err := decodeState(it.Key(), v)
		if err != nil {
			log.Error("store: ledger state record is corrupt; rebuilding it from entries and fencing the ledger", "ledger", id, "err", err)
			broken = append(broken, id)
			continue
		}
		ledgers[id] = st
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	for _, id := range broken {
		st, err := rebuildState(db, id)
		if err != nil {
			return nil, fmt.Errorf("rebuild state of ledger %d: %w", id, err)
		}
		if err := db.Set(ledgerKey(id), encodeState(ledgerKey(id), st), pebble.Sync); err != nil {
			return nil, err
		}
		ledgers[id] = st
	}
	return ledgers, nil
}

// rebuildState recomputes a ledger's state from its entries, fenced.
func rebuildState(db *pebble.DB, ledger uint64) (LedgerState, error) {
	st := LedgerState{LAC: -1, LastEntry: -1, Fenced: true}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: ledgerEntriesStart(ledger), UpperBound: ledgerEntriesEnd(ledger)})
	if err != nil {
		return st, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		_, id, ok := parseEntryKey(it.Key())
		if !ok {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return st, err
		}
		e, err := decodeEntry(ledger, id, it.Key(), v)
		if err != nil {
			continue // a corrupt entry still occupies its id
		}
		st.LAC = max(st.LAC, e.LAC)
		st.LastEntry = max(st.LastEntry, id)
	}
	return st, it.Error()
}

// Close stops accepting ops, completes the ones already queued (their callbacks run),
// ends long polls, stops the compactor and closes Pebble. Reads in progress finish
// first; later calls fail with ErrClosed. Calling Close again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.signal()
		<-s.committerDone
		close(s.quit)
		s.compactStop()
		<-s.compactorDone
		s.lifeMu.Lock()
		s.dbClosed = true
		s.lifeMu.Unlock()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// State returns a ledger's state as of the last committed batch, and whether the store
// knows the ledger at all.
func (s *Store) State(ledger uint64) (LedgerState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked(ledger)
}

func (s *Store) stateLocked(ledger uint64) (LedgerState, bool) {
	st, ok := s.ledgers[ledger]
	if !ok {
		return LedgerState{LAC: -1, LastEntry: -1}, false
	}
	return st, true
}

// Stats returns the write pipeline's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	n := len(s.ledgers)
	s.mu.Unlock()
	return Stats{Batches: s.batches.Load(), Syncs: s.syncs.Load(), Ops: s.ops.Load(), Entries: s.entries.Load(), Ledgers: n}
}

// Read returns one entry, its checksums verified: ErrNoSuchLedger or ErrNoSuchEntry
// (wrapped) when it is not here, *CorruptEntryError when its stored bytes are bad.
func (s *Store) Read(ledger uint64, entry int64) (Entry, error) {
	if entry < 0 {
		return Entry{}, fmt.Errorf("%w: entry id %d", ErrInvalidArgument, entry)
	}
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	if s.dbClosed {
		return Entry{}, ErrClosed
	}
	key := entryKey(ledger, entry)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return Entry{}, s.missing(ledger, entry)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("store: read entry %d of ledger %d: %w", entry, ledger, err)
	}
	defer closer.Close()
	return decodeEntry(ledger, entry, key, v)
}

// ReadRange returns consecutive entries first..last (inclusive). It stops at the first
// entry not stored, at a corrupt entry, or before the payload total would pass maxBytes
// (0: no cap), but returns at least the first entry when it exists. An empty result is
// an error: ErrNoSuchLedger/ErrNoSuchEntry, or *CorruptEntryError for a corrupt first
// entry. A corrupt entry after the first ends the range; reading it alone reports it.
func (s *Store) ReadRange(ledger uint64, first, last int64, maxBytes uint64) ([]Entry, error) {
	return s.ReadStep(ledger, first, last, 1, maxBytes)
}

func (s *Store) missing(ledger uint64, entry int64) error {
	if _, known := s.State(ledger); known {
		return fmt.Errorf("%w: entry %d of ledger %d", ErrNoSuchEntry, entry, ledger)
	}
	return fmt.Errorf("%w: ledger %d", ErrNoSuchLedger, ledger)
}

// pebbleLogger sends Pebble's logs to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble on errors it cannot continue from (e.g. a failed manifest
// write). It must not return.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic(msg)
}

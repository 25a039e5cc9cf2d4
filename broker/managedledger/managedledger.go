package managedledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/metadata"
)

// Position is a place in the log: (ledger id, entry id).
type Position = cursor.Position

// Config holds a managed ledger's settings. Zero values take the defaults.
type Config struct {
	// Persistence of new ledgers. Default 1/1/1 (standalone); clusters set 2/2/2 or more.
	EnsembleSize, WriteQuorum, AckQuorum int
	// Rollover limits (Pulsar's defaults: 50,000 entries, 2 GiB, 4 h).
	MaxEntriesPerLedger int64
	MaxSizePerLedger    int64
	MaxLedgerAge        time.Duration
	// CacheBytes bounds the cache of recent entries kept for tailing readers.
	CacheBytes int64
	// Read-ahead for readers that are behind (readahead.go): a sequential reader's
	// stream holds up to ReadAheadEntries entries (default 100; negative: no read-ahead)
	// and about ReadAheadBytes of payload (default 8 MiB), and all the streams of the
	// Factory's managed ledgers hold up to ReadAheadTotalBytes (default 64 MiB).
	ReadAheadEntries    int
	ReadAheadBytes      int64
	ReadAheadTotalBytes int64
	// CursorFlushInterval is how often changed cursors are persisted (default 1 s).
	CursorFlushInterval time.Duration
	// Retention is the default retention of consumed data (SetRetention changes it per
	// managed ledger); the zero value keeps nothing consumed.
	Retention Retention
	// Offload configures tiered storage (a nil Store: off).
	Offload OffloadConfig
	Logger  *slog.Logger
	// Now is the clock of every time decision here: ledger age (rollover), ledger
	// creation times in the record, retention by time, read-ahead expiry. Default
	// time.Now; tests inject one.
	Now func() time.Time
}

func (c *Config) applyDefaults() {
	if c.EnsembleSize == 0 {
		c.EnsembleSize, c.WriteQuorum, c.AckQuorum = 1, 1, 1
	}
	if c.MaxEntriesPerLedger == 0 {
		c.MaxEntriesPerLedger = 50_000
	}
	if c.MaxSizePerLedger == 0 {
		c.MaxSizePerLedger = 2 << 30
	}
	if c.MaxLedgerAge == 0 {
		c.MaxLedgerAge = 4 * time.Hour
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 16 << 20
	}
	if c.ReadAheadEntries == 0 {
		c.ReadAheadEntries = 100
	}
	if c.ReadAheadBytes <= 0 {
		c.ReadAheadBytes = 8 << 20
	}
	if c.ReadAheadTotalBytes <= 0 {
		c.ReadAheadTotalBytes = 64 << 20
	}
	if c.CursorFlushInterval == 0 {
		c.CursorFlushInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Factory opens managed ledgers over one etcd store and one ledger client.
type Factory struct {
	store *metadata.Store
	lc    *ledger.Client
	cfg   Config
	// readAhead bounds the read-ahead memory of every managed ledger opened here.
	readAhead *readAheadPool
	// offloadedReader opens the reader of a ledger whose offload completed (see
	// openEntryReader); nil: such ledgers are read from their bookies. Tiered storage
	// sets it; today only tests do.
	offloadedReader func(context.Context, LedgerInfo) (entryReader, error)
}

// NewFactory returns a Factory; cfg is the default for every managed ledger it opens.
func NewFactory(store *metadata.Store, lc *ledger.Client, cfg Config) *Factory {
	cfg.applyDefaults()
	return &Factory{store: store, lc: lc, cfg: cfg, readAhead: &readAheadPool{max: cfg.ReadAheadTotalBytes}}
}

// Entry is one entry read from the log.
type Entry struct {
	Pos  Position
	Data []byte
}

// ManagedLedger is one topic's log. It is safe for concurrent use.
//
// Adds are pipelined: AsyncAdd hands the entry to the current ledger writer at once,
// and completions come back on the writers' goroutines (two writers during a
// rollover). Completions are put back in call order by the add state machine, and one
// goroutine (deliverLoop) runs the callbacks, so they run strictly in AsyncAdd order
// and never under one of our locks or on a caller's stack.
//
// Locks nest in the order the package documentation gives (doc.go, "Locks"):
// cursorMu → Cursor.persistMu → metaMu → submitMu → mu; mu and Cursor.mu are leaves.
type ManagedLedger struct {
	name  string
	key   string
	store *metadata.Store
	lc    *ledger.Client
	cfg   Config
	log   *slog.Logger
	// offloadedReader: the Factory's (openEntryReader).
	offloadedReader func(context.Context, LedgerInfo) (entryReader, error)

	// cursorMu serialises creating and deleting durable cursors.
	cursorMu sync.Mutex
	// metaMu serialises writes of the record to etcd (rollover, trimming, terminate). It is
	// held across etcd round trips by design; nothing on the add path takes it.
	metaMu sync.Mutex
	// submitMu serialises handing ops to the ledger writer, so that entry ids follow the
	// order of the adds. It is never taken from a completion callback.
	submitMu sync.Mutex

	// mu guards the fields from here to persistence (ra: see readAheads).
	mu      sync.Mutex
	info    *Info
	infoRev int64
	// add decides the add path: the state (open, rolling, fenced, closed), where each
	// add goes, when to roll over, the order of completions (addsm.go).
	add *addSM
	// Invariant: writer is the current ledger's writer, the ledger add.ledger names.
	writer *ledger.Writer
	// ready holds completed ops, in order, whose callbacks deliverLoop has not run yet;
	// readySig (capacity 1) wakes it.
	ready    []*addOp
	readySig chan struct{}
	// deliverExited: deliverLoop has returned (closed and drained); callbacks of ops
	// refused after that run on the caller's goroutine.
	deliverExited bool
	// Invariant: lastConfirmed is the last entry added successfully (or (curLedger, -1)).
	// Every entry ≤ lastConfirmed was acknowledged, and the entry counts in info only
	// cover entries ≤ lastConfirmed, except for ledgers closed with their final count.
	lastConfirmed Position
	// newEntries is closed (and replaced) whenever lastConfirmed advances.
	newEntries chan struct{}
	cache      *entryCache
	// readers caches the entry reader of each ledger in the list (entryreader.go).
	readers map[int64]entryReader
	cursors map[string]*Cursor
	// ra is the read-ahead of catch-up readers (readahead.go).
	ra readAheads
	// layoutGen counts changes of the ledger list or its entry counts; cursors re-read
	// the layout when it moved.
	layoutGen uint64
	// trimming: a trim task runs; trimAgain: one more pass was asked for meanwhile.
	trimming, trimAgain bool
	// retention and persistence are the namespace policies (SetRetention,
	// SetPersistence), read by trim and when a ledger is created.
	retention   Retention
	persistence Persistence

	closeOnce sync.Once
	stop      chan struct{}
	// rollWG tracks the rollover task (at most one); tasks tracks every one-shot
	// background task (rollover, closing a rolled-over ledger, trimming, deleting
	// ledgers). A task adds its follow-up tasks before it ends.
	rollWG sync.WaitGroup
	tasks  sync.WaitGroup
	// flushDone and delivered are closed when flushLoop and deliverLoop return.
	flushDone chan struct{}
	delivered chan struct{}
}

// Open opens (creating if needed) the managed ledger called name, fencing any previous
// owner: see the package documentation.
func (f *Factory) Open(ctx context.Context, name string) (*ManagedLedger, error) {
	return f.OpenWith(ctx, name, Policies{Retention: f.cfg.Retention})
}

// Policies are the per-managed-ledger settings a namespace policy overrides: given at
// open (so that the first ledger already has the policy's persistence), changed later
// with SetRetention and SetPersistence.
type Policies struct {
	Retention   Retention
	Persistence Persistence // zero: the Config's
}

// OpenWith is Open with the namespace's policies.
func (f *Factory) OpenWith(ctx context.Context, name string, p Policies) (*ManagedLedger, error) {
	ml := &ManagedLedger{
		name: name, key: f.store.Keys.ManagedLedger(name),
		store: f.store, lc: f.lc, cfg: f.cfg, log: f.cfg.Logger.With("topic", name),
		newEntries:      make(chan struct{}),
		readySig:        make(chan struct{}, 1),
		cache:           newEntryCache(f.cfg.CacheBytes),
		readers:         map[int64]entryReader{},
		offloadedReader: f.offloadedReader,
		ra:              newReadAheads(f.readAhead),
		cursors:         map[string]*Cursor{},
		stop:            make(chan struct{}),
		flushDone:       make(chan struct{}),
		delivered:       make(chan struct{}),
		retention:       p.Retention,
		persistence:     p.Persistence,
	}
	if err := ml.open(ctx); err != nil {
		return nil, err
	}
	go ml.deliverLoop()
	go ml.flushLoop()
	if err := ml.loadCursors(ctx); err != nil {
		ml.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	ml.maybeTrim() // ledgers consumed (or, with no cursor, closed) before this owner
	return ml, nil
}

func (ml *ManagedLedger) open(ctx context.Context) error {
	info, rev, err := ml.claimInfo(ctx)
	if err != nil {
		return err
	}
	// Recover every ledger the previous owner may have left open; this fences them.
	var empty []int64
	kept := info.Ledgers[:0:0]
	for _, li := range info.Ledgers {
		if !li.Closed {
			md, err := ml.lc.OpenRecover(ctx, li.ID)
			if err != nil {
				return fmt.Errorf("managedledger %s: recover ledger %d: %w", ml.name, li.ID, err)
			}
			li.Entries, li.Size, li.Closed = md.LastEntry+1, md.Length, true
		}
		if li.Entries == 0 {
			// Nothing to read in it: drop it (a previous owner's unused last ledger).
			empty = append(empty, li.ID)
			continue
		}
		kept = append(kept, li)
	}
	info.Ledgers = kept
	w, err := ml.createLedger(ctx)
	if err != nil {
		return err
	}
	created := ml.cfg.Now()
	info.Ledgers = append(info.Ledgers, LedgerInfo{ID: w.ID(), CreatedMillis: created.UnixMilli()})
	data, err := info.marshal()
	if err != nil {
		return err
	}
	newRev, err := ml.store.CAS(ctx, ml.key, data, rev)
	if err != nil {
		ml.abandonLedger(w)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			return fmt.Errorf("%w: %s was opened concurrently by another owner", ErrFenced, ml.name)
		}
		return err
	}
	for _, id := range empty {
		ml.deleteLedgerBackground(id)
	}
	ml.info, ml.infoRev, ml.writer = info, newRev, w
	ml.add = newAddSM(addConfig{MaxEntries: ml.cfg.MaxEntriesPerLedger, MaxSize: ml.cfg.MaxSizePerLedger, MaxAge: ml.cfg.MaxLedgerAge},
		w.ID(), created, info.Terminated)
	ml.lastConfirmed = Position{Ledger: w.ID(), Entry: -1}
	for i := len(info.Ledgers) - 2; i >= 0; i-- {
		if li := info.Ledgers[i]; li.Entries > 0 {
			ml.lastConfirmed = Position{Ledger: li.ID, Entry: li.Entries - 1}
			break
		}
	}
	return nil
}

// claimInfo reads the record (creating it for a new topic) and rewrites it unchanged
// with a CAS, retrying on a lost race. From then on every CAS of the record by a
// previous owner fails — it never re-reads the record — so it can no longer roll over,
// and learns at its next record write that it was fenced. Without the claim, a previous
// owner that rolls over often could win the race for the record against every attempt
// of the new owner to open the topic.
func (ml *ManagedLedger) claimInfo(ctx context.Context) (*Info, int64, error) {
	for {
		info, rev, err := ml.readOrCreateInfo(ctx)
		if err != nil {
			return nil, 0, err
		}
		data, err := info.marshal()
		if err != nil {
			return nil, 0, err
		}
		newRev, err := ml.store.CAS(ctx, ml.key, data, rev)
		if err == nil {
			return info, newRev, nil
		}
		if !errors.Is(err, metadata.ErrRevisionMismatch) {
			return nil, 0, err
		}
	}
}

func (ml *ManagedLedger) readOrCreateInfo(ctx context.Context) (*Info, int64, error) {
	for {
		v, err := ml.store.Get(ctx, ml.key)
		if err == nil {
			info, err := unmarshalInfo(v.Data)
			return info, v.ModRevision, err
		}
		if !errors.Is(err, metadata.ErrNotFound) {
			return nil, 0, err
		}
		info := &Info{}
		data, _ := info.marshal()
		rev, err := ml.store.Create(ctx, ml.key, data)
		if err == nil {
			return info, rev, nil
		}
		if !errors.Is(err, metadata.ErrExists) {
			return nil, 0, err
		}
	}
}

func (ml *ManagedLedger) createLedger(ctx context.Context) (*ledger.Writer, error) {
	w, err := ml.lc.Create(ctx, ledgerCreateOptions(ml.persistenceConfig(), map[string]string{"managedLedger": ml.name}))
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: create ledger: %w", ml.name, err)
	}
	return w, nil
}

func ledgerCreateOptions(cfg Config, custom map[string]string) ledger.CreateOptions {
	return ledger.CreateOptions{
		EnsembleSize: cfg.EnsembleSize, WriteQuorum: cfg.WriteQuorum, AckQuorum: cfg.AckQuorum,
		Custom: custom,
	}
}

// abandonLedger closes and deletes a ledger that never made it into the record.
func (ml *ManagedLedger) abandonLedger(w *ledger.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = w.Close(ctx)
	if err := ml.lc.Delete(ctx, w.ID()); err != nil {
		ml.log.Warn("delete abandoned ledger", "ledger", w.ID(), "err", err)
	}
}

// Name is the managed ledger's name (the topic).
func (ml *ManagedLedger) Name() string { return ml.name }

// LastConfirmed is the position of the last entry added successfully, or (L, -1) for the
// current ledger L when the log has no entries.
func (ml *ManagedLedger) LastConfirmed() Position {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.lastConfirmed
}

// NewEntries returns a channel that is closed once an entry after the current
// LastConfirmed is added (a tailing reader's wake-up).
func (ml *ManagedLedger) NewEntries() <-chan struct{} {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.newEntries
}

// Info returns a copy of the ledger list as currently known (with live counts for the
// current ledger).
func (ml *ManagedLedger) Info() Info {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return *ml.info.clone()
}

// Fenced reports whether a newer owner took the managed ledger over.
func (ml *ManagedLedger) Fenced() bool {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.add.state == stateFenced
}

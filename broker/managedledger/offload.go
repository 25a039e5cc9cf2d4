package managedledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/offload"
)

// This file is tiered storage's side of the managed ledger: the Factory's offload
// setup, the per-managed-ledger policy and the protocol that copies one closed ledger
// to the object store (offloadLedger). What triggers it is in offloadtrigger.go, reads
// of offloaded ledgers in offloadread.go, and object deletion (retention, topic delete,
// orphan sweep) in offloadsweep.go.

var (
	// ErrOffloadRunning: a manual offload of this managed ledger is still running (REST 409).
	ErrOffloadRunning = errors.New("managedledger: offload already running")
	// ErrOffloadDisabled: the Factory has no object store to offload to.
	ErrOffloadDisabled = errors.New("managedledger: offload is not configured")
)

// OffloadConfig is the Factory-wide offload setup (Config.Offload). Store nil = off.
type OffloadConfig struct {
	Store  tiered.ObjectStore // where offloaded ledgers go; nil disables offload
	Driver string             // recorded in OffloadState.Driver: "filesystem", "aws-s3", "s3"
	Bucket string             // recorded in OffloadState.Bucket (informational for fs)
	Prefix string             // key prefix inside the store (may be "")
	// BlockSize is the tiered/offload block size; 0 = the format's default.
	BlockSize int
	// MaxBytesPerSecond throttles the copies of every managed ledger of the Factory
	// together; 0 = unlimited.
	MaxBytesPerSecond int64
	// ReadCacheBytes bounds the block cache shared by the Factory's readers; 0 = 64 MiB.
	ReadCacheBytes int64
	// OrphanSweepInterval is how often objects no record references are removed;
	// 0 = 10 min.
	OrphanSweepInterval time.Duration
}

// OffloadPolicy is one managed ledger's effective offload policy (namespace/topic
// policies resolved by broker/service). DefaultOffloadPolicy gives Pulsar's defaults,
// which is also what a managed ledger has until SetOffloadPolicy.
//
// Beware of the zero value: its thresholds are 0, "offload every closed ledger", and its
// deletion lag 0, "delete the bookie copy as soon as the offload completed".
type OffloadPolicy struct {
	ThresholdBytes   int64         // bytes kept on bookies; <0 off, 0 = offload every closed ledger
	ThresholdSeconds int64         // offload closed ledgers closed longer ago than this; <0 off
	DeletionLag      time.Duration // bookie copy deleted this long after the offload completed; <0 never
	// IdleRollover: a current ledger with entries and no add for this long is rolled
	// over (so a quiet topic offloads); 0 = off. Applies only while a threshold is on.
	IdleRollover    time.Duration
	BookkeeperFirst bool // read priority: false = TIERED_STORAGE_FIRST (Pulsar's default)
}

// DefaultOffloadPolicy is Pulsar's default: no automatic offload, a deletion lag of 4 h,
// no idle rollover, reads from tiered storage first.
func DefaultOffloadPolicy() OffloadPolicy {
	return OffloadPolicy{ThresholdBytes: -1, ThresholdSeconds: -1, DeletionLag: 4 * time.Hour}
}

// automatic reports whether a threshold is on.
func (p OffloadPolicy) automatic() bool { return p.ThresholdBytes >= 0 || p.ThresholdSeconds >= 0 }

// OffloadStatus is Pulsar's OffloadProcessStatus: the state of the last manual offload.
type OffloadStatus struct {
	Status           string // "NOT_RUN" | "RUNNING" | "SUCCESS" | "ERROR"
	LastError        string
	FirstUnoffloaded Position // (first ledger not offloaded by the last manual run, 0)
}

// Offload status values.
const (
	OffloadNotRun  = "NOT_RUN"
	OffloadRunning = "RUNNING"
	OffloadSuccess = "SUCCESS"
	OffloadError   = "ERROR"
)

// OffloadMetrics are the Factory's cumulative counters (broker/metrics reads them at
// scrape time and exposes Pulsar's brk_ledgeroffloader_* names).
type OffloadMetrics struct {
	OffloadedBytes, OffloadErrors   int64 // bytes copied (completed offloads), failed attempts
	WriteStorageErrors              int64 // store Put/Verify failures
	ReadBytes, ReadErrors           int64 // reads served from offloaded ledgers; failures
	DeleteOK, DeleteFailed          int64 // object deletions (cleanup, retention, orphans)
	OrphansRemoved                  int64
	ReadLatencySumMicros, ReadCount int64 // whole-block reads from the store
}

// offloadCounters are OffloadMetrics as they are counted.
type offloadCounters struct {
	offloadedBytes, offloadErrors, writeStorageErrors atomic.Int64
	readBytes, readErrors                             atomic.Int64
	deleteOK, deleteFailed, orphansRemoved            atomic.Int64
	readLatencyMicros, readCount                      atomic.Int64
}

// OffloadMetrics returns the Factory's offload counters (zero without a store).
func (f *Factory) OffloadMetrics() OffloadMetrics {
	if f.off == nil {
		return OffloadMetrics{}
	}
	m := &f.off.m
	return OffloadMetrics{
		OffloadedBytes: m.offloadedBytes.Load(), OffloadErrors: m.offloadErrors.Load(),
		WriteStorageErrors: m.writeStorageErrors.Load(),
		ReadBytes:          m.readBytes.Load(), ReadErrors: m.readErrors.Load(),
		DeleteOK: m.deleteOK.Load(), DeleteFailed: m.deleteFailed.Load(),
		OrphansRemoved:       m.orphansRemoved.Load(),
		ReadLatencySumMicros: m.readLatencyMicros.Load(), ReadCount: m.readCount.Load(),
	}
}

// offloader is what a Factory's managed ledgers share for tiered storage: the store,
// the copy throttle, the block cache of the readers and the counters. nil when the
// Factory has no store.
type offloader struct {
	cfg   OffloadConfig
	pace  *pacer
	cache *blockCache
	m     offloadCounters
}

func newOffloader(cfg OffloadConfig) *offloader {
	if cfg.ReadCacheBytes <= 0 {
		cfg.ReadCacheBytes = 64 << 20
	}
	if cfg.OrphanSweepInterval <= 0 {
		cfg.OrphanSweepInterval = 10 * time.Minute
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	return &offloader{cfg: cfg, pace: &pacer{rate: cfg.MaxBytesPerSecond}, cache: newBlockCache(cfg.ReadCacheBytes)}
}

// Object keys: <prefix>/<escaped managed-ledger name>/<ledger id>-<uuid>. One object per
// offload attempt of a ledger, so a dead attempt's object is told apart from the live
// one by its name alone; the managed ledger's objects share a key prefix, which the
// orphan sweep and topic deletion list.

// mlPrefix is the key prefix (ending in "/") of managed ledger name's objects under
// prefix.
func mlPrefix(prefix, name string) string {
	p := escapeKeyComponent(name) + "/"
	if prefix != "" {
		p = prefix + "/" + p
	}
	return p
}

// objectKey names the object of ledger id's offload attempt uuid.
func objectKey(prefix, name string, id int64, uuid string) string {
	return mlPrefix(prefix, name) + strconv.FormatInt(id, 10) + "-" + uuid
}

// stateKey names the object an offload state refers to.
func stateKey(name string, id int64, o *OffloadState) string {
	return objectKey(o.Prefix, name, id, o.UUID)
}

// parseObjectName splits "<ledger id>-<uuid>" (the last component of an object key).
func parseObjectName(s string) (id int64, uuid string, ok bool) {
	i := strings.IndexByte(s, '-')
	if i <= 0 {
		return 0, "", false
	}
	id, err := strconv.ParseInt(s[:i], 10, 64)
	return id, s[i+1:], err == nil
}

// escapeKeyComponent turns a managed-ledger name ("persistent://t/ns/topic") into one
// key component tiered.CheckKey accepts on every store: bytes other than letters,
// digits, '-', '_' and '.' are %XX-escaped (so "/" cannot split it), a name of dots is
// escaped whole, and a component that would pass the store's length limit is cut and
// made unique by a hash of the full name.
func escapeKeyComponent(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if strings.Trim(s, ".") == "" {
		s = strings.ReplaceAll(s, ".", "%2E")
	}
	if len(s) > 160 {
		s = s[:120] + "~" + fmt.Sprintf("%016x", fnv64(name))
	}
	return s
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// pacer spreads the bytes copied by a Factory's offloads at MaxBytesPerSecond, so
// that offload never starves publishing of bookie reads and network. It is wall-clock
// throughput, not a policy decision, so it uses time.Now rather than Config.Now.
type pacer struct {
	rate int64
	mu   sync.Mutex
	next time.Time // when the next byte may go
}

// wait returns when n more bytes may be copied, or with ctx's error.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(time.Duration(int64(n) * int64(time.Second) / p.rate))
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errOffloadLost: the ledger's record changed under an offload — the ledger was
// deleted (retention) or another attempt took its place — so the copy is not needed.
var errOffloadLost = errors.New("managedledger: ledger's offload state changed under the offload")

// offloadLedger copies closed ledger id to the object store in Pulsar's two steps:
//
//  1. prepare: delete the object of an earlier attempt the record names, then CAS the
//     record with a new attempt (fresh UUID, state begun);
//  2. copy the entries from the bookies into a tiered/offload object (throttled), read it
//     back and verify every checksum;
//  3. complete: CAS the state complete with the completion time, retried with backoff;
//     a changed UUID or a new owner fails at once.
//
// A failure before complete deletes the object (best effort) and leaves the state
// begun: the next attempt, or the orphan sweep, cleans what is left. The caller holds
// the ledger's busy mark (per-ledger exclusion with trim).
func (ml *ManagedLedger) offloadLedger(ctx context.Context, id int64) error {
	oc := ml.off.cfg
	ml.mu.Lock()
	cur := ml.ledgerLocked(id)
	if cur == nil || !cur.Closed || cur.Entries == 0 || cur.Offload.Complete() {
		ml.mu.Unlock()
		return nil // gone, open, empty or done meanwhile: nothing to do
	}
	li := cur.clone()
	ml.mu.Unlock()
	if li.Offload != nil {
		if err := ml.deleteObject(ctx, stateKey(ml.name, id, li.Offload)); err != nil {
			return fmt.Errorf("delete object of earlier attempt %s: %w", li.Offload.UUID, err)
		}
	}
	uuid := offload.NewUUID()
	st := OffloadState{
		UUID: uuid.String(), Driver: oc.Driver, Bucket: oc.Bucket, Prefix: oc.Prefix,
		BeginMillis: ml.cfg.Now().UnixMilli(), State: OffloadBegun,
	}
	err := ml.editRecord(ctx, func(in *Info) error {
		l := in.ledger(id)
		if l == nil || l.Offload.Complete() {
			return errOffloadLost
		}
		o := st
		l.Offload = &o
		return nil
	})
	if errors.Is(err, errOffloadLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	key := stateKey(ml.name, id, &st)
	ml.mu.Lock()
	ml.offCurrent = key
	ml.mu.Unlock()
	defer func() {
		ml.mu.Lock()
		ml.offCurrent = ""
		ml.mu.Unlock()
	}()
	size, err := ml.copyLedger(ctx, li, key, uuid)
	if err != nil {
		ml.cleanupAttempt(key)
		return err
	}
	err = ml.completeOffload(ctx, id, st.UUID)
	switch {
	case err == nil:
		ml.off.m.offloadedBytes.Add(size)
		ml.mu.Lock()
		delete(ml.readers, id) // read it from the store from now on (openEntryReader)
		ml.mu.Unlock()
		return nil
	case errors.Is(err, errOffloadLost):
		ml.cleanupAttempt(key)
		return nil
	case errors.Is(err, ErrFenced):
		// The CAS certainly failed: the object is nobody's.
		ml.cleanupAttempt(key)
		return err
	default:
		// The record store failed: whether complete was written is unknown, so the
		// object stays (the orphan sweep removes it if the record does not name it).
		return fmt.Errorf("complete: %w", err)
	}
}

// copyLedger writes ledger li's entries and metadata to key and verifies the object;
// it returns the bytes copied.
func (ml *ManagedLedger) copyLedger(ctx context.Context, li LedgerInfo, key string, uuid offload.UUID) (int64, error) {
	off := ml.off
	r, err := ml.lc.OpenReader(ctx, li.ID)
	if err != nil {
		return 0, fmt.Errorf("open ledger %d: %w", li.ID, err)
	}
	md := r.Metadata()
	if md.LastEntry+1 != li.Entries {
		return 0, fmt.Errorf("ledger %d: metadata says %d entries, the record %d", li.ID, md.LastEntry+1, li.Entries)
	}
	mdBytes, err := md.Marshal()
	if err != nil {
		return 0, err
	}
	w, err := offload.NewWriter(ctx, off.cfg.Store, key,
		offload.Ledger{ID: li.ID, UUID: uuid, Metadata: mdBytes}, offload.WriterOptions{BlockSize: off.cfg.BlockSize})
	if err != nil {
		return 0, err
	}
	var size int64
	const batch = 100
	for first := int64(0); first < li.Entries; first += batch {
		last := min(first+batch-1, li.Entries-1)
		ents, err := bookieReader{r}.Read(ctx, first, last)
		if err == nil && (len(ents) != int(last-first+1) || ents[0].ID != first) {
			err = fmt.Errorf("ledger %d: read %d entries from %d, want %d..%d", li.ID, len(ents), ents[0].ID, first, last)
		}
		if err != nil {
			w.Abort()
			return 0, fmt.Errorf("read ledger %d: %w", li.ID, err)
		}
		for _, e := range ents {
			if err := off.pace.wait(ctx, len(e.Payload)); err != nil {
				w.Abort()
				return 0, err
			}
			if err := w.Append(e.ID, e.Payload); err != nil {
				off.m.writeStorageErrors.Add(1)
				return 0, fmt.Errorf("write object %s: %w", key, err)
			}
			size += int64(len(e.Payload))
		}
	}
	if _, err := w.Close(); err != nil {
		off.m.writeStorageErrors.Add(1)
		return 0, fmt.Errorf("write object %s: %w", key, err)
	}
	if err := verifyObject(ctx, off.cfg.Store, key, li.Entries); err != nil {
		off.m.writeStorageErrors.Add(1)
		return 0, fmt.Errorf("verify object %s: %w", key, err)
	}
	return size, nil
}

// verifyObject reads the object at key back — index and every block's checksum — and
// checks it holds entries entries.
func verifyObject(ctx context.Context, store tiered.ObjectStore, key string, entries int64) error {
	rd, err := offload.Open(ctx, store, key)
	if err != nil {
		return err
	}
	if n := rd.Index().EntryCount; n != entries {
		return fmt.Errorf("%w: object holds %d entries, the ledger %d", tiered.ErrCorrupt, n, entries)
	}
	return rd.Verify(ctx)
}

// completeOffload records ledger id's attempt uuid complete, retrying a failed record
// store with jittered backoff (100 ms doubling to 10 s, 10 tries). A lost CAS is a new
// owner (ErrFenced) and a changed state errOffloadLost: neither is retried.
func (ml *ManagedLedger) completeOffload(ctx context.Context, id int64, uuid string) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		now := ml.cfg.Now().UnixMilli()
		err := ml.editRecord(ctx, func(in *Info) error {
			l := in.ledger(id)
			if l == nil || l.Offload == nil || l.Offload.UUID != uuid {
				return errOffloadLost
			}
			l.Offload.State, l.Offload.CompleteMillis = OffloadComplete, now
			return nil
		})
		if err == nil || errors.Is(err, errOffloadLost) || errors.Is(err, ErrFenced) || attempt == 10 || ctx.Err() != nil {
			return err
		}
		ml.log.Warn("record offload complete", "ledger", id, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// cleanupAttempt deletes a failed attempt's object, best effort (its begun state in the
// record lets the next attempt or the orphan sweep finish the job).
func (ml *ManagedLedger) cleanupAttempt(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ml.deleteObject(ctx, key); err != nil {
		ml.log.Warn("delete object of failed offload", "key", key, "err", err)
	}
}

// deleteObject deletes one object and forgets its cached blocks.
func (ml *ManagedLedger) deleteObject(ctx context.Context, key string) error {
	ml.off.cache.dropKey(key)
	if err := ml.off.cfg.Store.Delete(ctx, key); err != nil {
		ml.off.m.deleteFailed.Add(1)
		return err
	}
	ml.off.m.deleteOK.Add(1)
	return nil
}

// ledger returns in's entry for ledger id, or nil.
func (in *Info) ledger(id int64) *LedgerInfo {
	for i := range in.Ledgers {
		if in.Ledgers[i].ID == id {
			return &in.Ledgers[i]
		}
	}
	return nil
}

// OffloadedSize is the bytes of the ledgers whose offload is complete.
func (ml *ManagedLedger) OffloadedSize() int64 {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	var n int64
	for _, li := range ml.info.Ledgers {
		if li.Offload.Complete() {
			n += li.Size
		}
	}
	return n
}

// OffloadStatus is the state of the last manual offload (Offload).
func (ml *ManagedLedger) OffloadStatus() OffloadStatus {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.offStatus
}

// Offload starts offloading every closed, non-empty, not yet offloaded ledger whose id
// is below before.Ledger (Pulsar's triggerOffload with a MessageId) in the background
// and returns at once: ErrOffloadRunning if a manual offload is running,
// ErrOffloadDisabled when the Factory has no store, ErrClosed or ErrFenced when the
// managed ledger is. OffloadStatus follows it.
func (ml *ManagedLedger) Offload(before Position) error {
	if ml.off == nil {
		return ErrOffloadDisabled
	}
	ml.mu.Lock()
	if st := ml.add.state; st == stateClosed || st == stateFenced {
		ml.mu.Unlock()
		return ml.stateErr()
	}
	if ml.offStatus.Status == OffloadRunning {
		ml.mu.Unlock()
		return ErrOffloadRunning
	}
	ml.offStatus = OffloadStatus{Status: OffloadRunning}
	b := before
	ml.offManual = &b
	ml.mu.Unlock()
	ml.maybeOffload()
	return nil
}

// SetOffloadPolicy changes the managed ledger's offload policy (a namespace or topic
// policy changed) and checks at once what it asks to offload, or to delete from the
// bookies.
func (ml *ManagedLedger) SetOffloadPolicy(p OffloadPolicy) {
	ml.mu.Lock()
	if p.BookkeeperFirst != ml.offPolicy.BookkeeperFirst {
		// Read priority changed: reopen the readers of offloaded ledgers.
		for _, li := range ml.info.Ledgers {
			if li.Offload.Complete() {
				delete(ml.readers, li.ID)
			}
		}
	}
	ml.offPolicy = p
	ml.mu.Unlock()
	ml.maybeOffload()
	ml.maybeTrim()
}

// offloadPolicy returns the current policy.
func (ml *ManagedLedger) offloadPolicy() OffloadPolicy {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.offPolicy
}

// bookieReaderOf opens ledger id's bookie reader (offloadread.go's fallback).
func (ml *ManagedLedger) bookieReaderOf(ctx context.Context, id int64) (entryReader, error) {
	r, err := ml.lc.OpenReader(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: open ledger %d: %w", ml.name, id, err)
	}
	return bookieReader{r}, nil
}

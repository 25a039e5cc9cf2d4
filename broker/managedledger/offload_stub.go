// THROWAWAY STUB: replaced by the real offload implementation at merge.
//
// The declarations of /work/briefs/offload-contract.md with stub bodies, so that the
// policy, REST, CLI, metrics and wiring branch compiles on its own. The lead deletes
// this file when merging the managed ledger's real offload.

package managedledger

import (
	"errors"
	"time"

	"github.com/strata-io/strata/tiered"
)

// OffloadConfig is the Factory-wide offload setup (Config.Offload). Store nil = off.
type OffloadConfig struct {
	Store               tiered.ObjectStore
	Driver              string
	Bucket              string
	Prefix              string
	BlockSize           int
	MaxBytesPerSecond   int64
	ReadCacheBytes      int64
	OrphanSweepInterval time.Duration
}

// OffloadPolicy is one managed ledger's effective offload policy.
type OffloadPolicy struct {
	ThresholdBytes   int64
	ThresholdSeconds int64
	DeletionLag      time.Duration
	IdleRollover     time.Duration
	BookkeeperFirst  bool
}

// DefaultOffloadPolicy: thresholds -1, DeletionLag 4h, IdleRollover 0, tiered first.
func DefaultOffloadPolicy() OffloadPolicy {
	return OffloadPolicy{ThresholdBytes: -1, ThresholdSeconds: -1, DeletionLag: 4 * time.Hour}
}

// SetOffloadPolicy (stub: does nothing).
func (ml *ManagedLedger) SetOffloadPolicy(p OffloadPolicy) {}

// Offload (stub: always ErrOffloadDisabled).
func (ml *ManagedLedger) Offload(before Position) error { return ErrOffloadDisabled }

// OffloadStatus is Pulsar's OffloadProcessStatus.
type OffloadStatus struct {
	Status           string
	LastError        string
	FirstUnoffloaded Position
}

// OffloadStatus (stub: NOT_RUN).
func (ml *ManagedLedger) OffloadStatus() OffloadStatus { return OffloadStatus{Status: "NOT_RUN"} }

// OffloadedSize (stub: 0).
func (ml *ManagedLedger) OffloadedSize() int64 { return 0 }

var ErrOffloadRunning = errors.New("managedledger: offload already running")
var ErrOffloadDisabled = errors.New("managedledger: offload is not configured")

// OffloadMetrics are the Factory's cumulative offload counters.
type OffloadMetrics struct {
	OffloadedBytes, OffloadErrors   int64
	WriteStorageErrors              int64
	ReadBytes, ReadErrors           int64
	DeleteOK, DeleteFailed          int64
	OrphansRemoved                  int64
	ReadLatencySumMicros, ReadCount int64
}

// OffloadMetrics (stub: zeros).
func (f *Factory) OffloadMetrics() OffloadMetrics { return OffloadMetrics{} }

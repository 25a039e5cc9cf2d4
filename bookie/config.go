package bookie

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/bookie/server"
	"github.com/strata-io/strata/metadata"
)

// DefaultListenAddr is where a bookie listens unless told otherwise (BookKeeper's port).
const DefaultListenAddr = "127.0.0.1:3181"

// Config configures a bookie. The zero value of every optional field gets its default.
type Config struct {
	// ID names the bookie in etcd (registration, cookie, ledger ensembles). Default: the
	// advertised address. Set it explicitly when the address can change (port 0).
	ID string
	// DataDir holds the cookie and the store. Required.
	DataDir string
	// JournalDir, if set, holds the store's write-ahead log (the journal every add is
	// fsynced to before it is acknowledged), ideally on a disk of its own; default: in
	// the store under DataDir. See store.Options.WALDir.
	JournalDir string
	// ListenAddr is the gRPC listen address; default DefaultListenAddr. Port 0 picks a
	// free port (see Bookie.Addr).
	ListenAddr string
	// AdvertisedAddr is the address clients are told to dial; default the listen address
	// (with the host name in place of an unspecified host such as 0.0.0.0).
	AdvertisedAddr string
	// HTTPAddr, if set, serves /health over HTTP, and /metrics when Metrics is also a
	// prometheus.Gatherer.
	HTTPAddr string
	// Etcd says how to reach etcd; ignored when Metadata is set.
	Etcd metadata.Config
	// Metadata is an existing connection to use (standalone mode, tests). The bookie
	// does not close it.
	Metadata *metadata.Store
	// MaxEntrySize is the largest entry accepted; default server.DefaultMaxEntrySize.
	MaxEntrySize int
	// DiskUsageThreshold: at or above this used fraction of the data dir's file system,
	// the bookie turns read-only. Default 0.95.
	DiskUsageThreshold float64
	// DiskUsageLowWater: a read-only bookie turns read-write again below this. Default
	// 0.90; at most DiskUsageThreshold.
	DiskUsageLowWater float64
	// DiskCheckInterval is how often the disk is checked; default 10s.
	DiskCheckInterval time.Duration
	// DiskUsage returns the used fraction (0..1) of the file system holding dir; default
	// statfs. Tests inject their own.
	DiskUsage func(dir string) (float64, error)
	// ForceReadOnly keeps the bookie read-only whatever the disk says.
	ForceReadOnly bool
	// LeaseTTL is the TTL of the registration lease (whole seconds); default 10s.
	LeaseTTL time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics, if set, gets the bookie's Prometheus collectors (bookie_* and
	// bookkeeper_server_* series, see docs/metrics.md); nil means no metrics.
	Metrics prometheus.Registerer
}

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.MaxEntrySize == 0 {
		c.MaxEntrySize = server.DefaultMaxEntrySize
	}
	if c.DiskUsageThreshold == 0 {
		c.DiskUsageThreshold = 0.95
	}
	if c.DiskUsageLowWater == 0 {
		c.DiskUsageLowWater = min(0.90, c.DiskUsageThreshold)
	}
	if c.DiskCheckInterval == 0 {
		c.DiskCheckInterval = 10 * time.Second
	}
	if c.DiskUsage == nil {
		c.DiskUsage = statfsUsage
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work. It accepts zero values that
// defaults fill in.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("bookie: no data dir"))
	}
	if c.Metadata == nil {
		if err := c.Etcd.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("bookie: %w", err))
		}
	}
	th, lw := c.DiskUsageThreshold, c.DiskUsageLowWater
	if th == 0 {
		th = 0.95
	}
	if lw == 0 {
		lw = min(0.90, th)
	}
	if th < 0 || th > 1 {
		errs = append(errs, fmt.Errorf("bookie: disk usage threshold %v is not in (0, 1]", th))
	}
	if lw < 0 || lw > th {
		errs = append(errs, fmt.Errorf("bookie: disk usage low-water mark %v is not in (0, threshold %v]", lw, th))
	}
	if c.DiskCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("bookie: disk check interval %s is negative", c.DiskCheckInterval))
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("bookie: lease TTL %s is under etcd's 1s granularity", c.LeaseTTL))
	}
	if c.MaxEntrySize < 0 {
		errs = append(errs, fmt.Errorf("bookie: max entry size %d is negative", c.MaxEntrySize))
	}
	return errors.Join(errs...)
}

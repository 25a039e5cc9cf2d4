package autorecovery

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/metadata"
)

// Defaults, BookKeeper's where it has one.
const (
	// DefaultLostBookieRecoveryDelay is BookKeeper's lostBookieRecoveryDelay (in
	// BookKeeper it defaults to 0; 30 s is what Pulsar's Helm chart and most operators
	// set, so a restarting bookie is not re-replicated needlessly).
	DefaultLostBookieRecoveryDelay = 30 * time.Second
	// DefaultOpenLedgerRereplicationGracePeriod is BookKeeper's
	// openLedgerRereplicationGracePeriod.
	DefaultOpenLedgerRereplicationGracePeriod = 30 * time.Second
	// DefaultLeaseTTL is the TTL of the election lease.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultScanInterval is how often the active worker audits every ledger even when
	// nothing changed in the registry (new ledgers on a lost bookie, failed copies).
	DefaultScanInterval = time.Minute
)

// Config configures a worker candidate. Zero values take the defaults.
type Config struct {
	// Store is the metadata store (etcd). Required. The worker does not close it.
	Store *metadata.Store
	// ID names this candidate in the election key (default host name and pid); the
	// bookie process uses its bookie id.
	ID string
	// LostBookieRecoveryDelay: a bookie must have been missing from the registry this
	// long before its fragments are re-replicated (a bookie that restarts within it
	// costs nothing). Default DefaultLostBookieRecoveryDelay; negative means 0.
	LostBookieRecoveryDelay time.Duration
	// OpenLedgerRereplicationGracePeriod: the last fragment of a ledger that is still
	// OPEN (its writer may be alive and about to replace the bookie itself) is fenced,
	// recovered and re-replicated only this long after its bookie became due (lost for
	// LostBookieRecoveryDelay, or marked draining). Default
	// DefaultOpenLedgerRereplicationGracePeriod; negative means 0.
	OpenLedgerRereplicationGracePeriod time.Duration
	// LeaseTTL is the election lease's TTL (whole seconds, at least 1 s). Default
	// DefaultLeaseTTL. A worker stops acting at its lease's local deadline.
	LeaseTTL time.Duration
	// ScanInterval: the active worker audits every ledger at least this often. Default
	// DefaultScanInterval.
	ScanInterval time.Duration
	// EntryBatch is how many entries of a fragment are read, then written, at once.
	// Default 64.
	EntryBatch int
	// ReadTimeout bounds each bookie call of the worker's ledger client. Default 10 s.
	ReadTimeout time.Duration
	// Seed seeds the choice of replacement bookies; 0 picks a random seed.
	Seed uint64
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics, if set, gets the bookie_autorecovery_* series (docs/metrics.md).
	Metrics prometheus.Registerer
}

func (c *Config) applyDefaults() {
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	switch {
	case c.LostBookieRecoveryDelay == 0:
		c.LostBookieRecoveryDelay = DefaultLostBookieRecoveryDelay
	case c.LostBookieRecoveryDelay < 0:
		c.LostBookieRecoveryDelay = 0
	}
	switch {
	case c.OpenLedgerRereplicationGracePeriod == 0:
		c.OpenLedgerRereplicationGracePeriod = DefaultOpenLedgerRereplicationGracePeriod
	case c.OpenLedgerRereplicationGracePeriod < 0:
		c.OpenLedgerRereplicationGracePeriod = 0
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.EntryBatch <= 0 {
		c.EntryBatch = 64
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("autorecovery: Config.Store is required"))
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("autorecovery: lease TTL %s is under etcd's 1s granularity", c.LeaseTTL))
	}
	return errors.Join(errs...)
}

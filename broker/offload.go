package broker

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/fs"
	"github.com/strata-io/strata/tiered/s3"
)

// OffloadConfig is the broker's tiered storage: the object store closed ledgers are
// offloaded to, and the default offload policy of topics whose namespace and topic
// policies do not set one. The zero value is off.
type OffloadConfig struct {
	// Driver is "" or "none" (off), "filesystem", or "aws-s3" / "s3" (any S3-compatible
	// server; the name is recorded in each offloaded ledger's state, as Pulsar's is).
	Driver string
	// Dir is the filesystem driver's root directory (required for it).
	Dir string
	// S3 configures the aws-s3 and s3 drivers: endpoint, region, bucket, credentials
	// (static, else the AWS environment variables and shared config), CA bundle.
	S3 s3.Config
	// Prefix is put in front of every object key ("" for none).
	Prefix string
	// MaxBytesPerSecond throttles offload copies (0: unlimited); ReadCacheBytes bounds
	// the block cache of reads from offloaded ledgers (0: the managed ledger's default).
	MaxBytesPerSecond, ReadCacheBytes int64
	// Policy is the broker's default offload policy (its thresholds, deletion lag,
	// idle rollover and read priority); nil is managedledger.DefaultOffloadPolicy.
	Policy *managedledger.OffloadPolicy
}

// Validate reports a configuration that cannot work.
func (c OffloadConfig) Validate() error {
	switch c.Driver {
	case "", "none":
	case "filesystem":
		if c.Dir == "" {
			return fmt.Errorf("broker: the filesystem offload driver needs a directory")
		}
	case "aws-s3", "s3":
		s3c := c.S3 // Validate fills defaults: check a copy
		if err := s3c.Validate(); err != nil {
			return fmt.Errorf("broker: offload: %w", err)
		}
	default:
		return fmt.Errorf("broker: unknown offload driver %q (none, filesystem, aws-s3 or s3)", c.Driver)
	}
	if c.Prefix != "" {
		if err := tiered.CheckKey(strings.TrimSuffix(c.Prefix, "/")); err != nil {
			return fmt.Errorf("broker: offload prefix %q: %w", c.Prefix, err)
		}
	}
	if c.MaxBytesPerSecond < 0 || c.ReadCacheBytes < 0 {
		return fmt.Errorf("broker: offload throttle and read cache must be ≥ 0")
	}
	if p := c.Policy; p != nil && (p.ThresholdBytes < -1 || p.ThresholdSeconds < -1) {
		return fmt.Errorf("broker: offload thresholds must be ≥ -1 (-1: off), got %d bytes, %d s", p.ThresholdBytes, p.ThresholdSeconds)
	}
	return nil
}

// managedLedger opens the store and returns the managed ledgers' offload setup (a nil
// Store when offload is off).
func (c OffloadConfig) managedLedger(ctx context.Context) (managedledger.OffloadConfig, error) {
	out := managedledger.OffloadConfig{Driver: c.Driver, Prefix: c.Prefix,
		MaxBytesPerSecond: c.MaxBytesPerSecond, ReadCacheBytes: c.ReadCacheBytes}
	switch c.Driver {
	case "", "none":
		return managedledger.OffloadConfig{}, nil
	case "filesystem":
		st, err := fs.New(c.Dir)
		if err != nil {
			return out, fmt.Errorf("broker: offload store: %w", err)
		}
		out.Store, out.Bucket = st, c.Dir
	default:
		st, err := s3.New(ctx, c.S3)
		if err != nil {
			return out, fmt.Errorf("broker: offload store: %w", err)
		}
		out.Store, out.Bucket = st, c.S3.Bucket
	}
	return out, nil
}

package main

// The tiered-storage flags of `strata broker` and `strata standalone`: where offloaded
// ledgers go and the broker's default offload policy (Pulsar's managedLedgerOffload*
// broker settings). Namespace and topic offload policies override the policy per
// topic.

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/strata-io/strata/broker"
	"github.com/strata-io/strata/broker/managedledger"
)

// offloadFlags are the flags' values.
type offloadFlags struct {
	driver, dir, prefix                   string
	endpoint, region, bucket              string
	accessKey, secretKey, profile, caFile string
	deletionLag, idleRollover             time.Duration
	thresholdBytes, thresholdSeconds      int64
	maxBytesPerSecond, readCacheBytes     int64
	readPriority                          string
	// standalone: the driver defaults to filesystem under the data directory.
	standalone bool
}

func addOffloadFlags(f *pflag.FlagSet, o *offloadFlags, standalone bool) {
	o.standalone = standalone
	driver, dir := "none", "directory of the filesystem driver"
	if standalone {
		driver, dir = "filesystem", "directory of the filesystem driver (default DATA-DIR/offload)"
	}
	f.StringVar(&o.driver, "offload-driver", driver, "where closed ledgers are offloaded: none, filesystem, aws-s3 or s3 (any S3-compatible server)")
	f.StringVar(&o.dir, "offload-dir", "", dir)
	f.StringVar(&o.endpoint, "offload-s3-endpoint", "", "S3 endpoint URL, http:// or https:// (aws-s3, s3)")
	f.StringVar(&o.region, "offload-s3-region", "", "S3 region (default us-east-1)")
	f.StringVar(&o.bucket, "offload-s3-bucket", "", "S3 bucket; it must exist")
	f.StringVar(&o.prefix, "offload-prefix", "", "prefix of every offloaded object's key")
	f.StringVar(&o.accessKey, "offload-s3-access-key", "", "S3 access key id (default: AWS_ACCESS_KEY_ID, then the shared config)")
	f.StringVar(&o.secretKey, "offload-s3-secret-key", "", "S3 secret access key (default: AWS_SECRET_ACCESS_KEY, then the shared config)")
	f.StringVar(&o.profile, "offload-s3-profile", "", "profile of the AWS shared config and credentials files")
	f.StringVar(&o.caFile, "offload-s3-ca-file", "", "PEM bundle of CAs to trust for an https endpoint")
	f.DurationVar(&o.deletionLag, "offload-deletion-lag", 4*time.Hour, "how long after an offload completes the bookie copy is deleted (negative: never)")
	f.Int64Var(&o.thresholdBytes, "offload-threshold-bytes", -1, "default: offload once a topic holds more than this many bytes on bookies (-1 off, 0 as soon as a ledger closes)")
	f.Int64Var(&o.thresholdSeconds, "offload-threshold-seconds", -1, "default: offload ledgers closed longer ago than this (-1 off)")
	f.DurationVar(&o.idleRollover, "offload-idle-rollover", 0, "roll over a current ledger idle this long so a quiet topic offloads too (0 off)")
	f.Int64Var(&o.maxBytesPerSecond, "offload-max-bytes-per-second", 0, "throttle of offload copies (0 unlimited)")
	f.Int64Var(&o.readCacheBytes, "offload-read-cache-bytes", 0, "block cache of reads from offloaded ledgers (0: 64 MiB)")
	f.StringVar(&o.readPriority, "offload-read-priority", "tiered-storage-first", "default read priority: tiered-storage-first or bookkeeper-first")
}

// config turns the flags into the broker's offload configuration; dataDir is the
// standalone data directory.
func (o offloadFlags) config(dataDir string) (broker.OffloadConfig, error) {
	pol := managedledger.DefaultOffloadPolicy()
	pol.ThresholdBytes, pol.ThresholdSeconds = o.thresholdBytes, o.thresholdSeconds
	pol.DeletionLag, pol.IdleRollover = o.deletionLag, o.idleRollover
	switch strings.ToLower(o.readPriority) {
	case "tiered-storage-first":
	case "bookkeeper-first":
		pol.BookkeeperFirst = true
	default:
		return broker.OffloadConfig{}, fmt.Errorf("--offload-read-priority %q: want tiered-storage-first or bookkeeper-first", o.readPriority)
	}
	if o.idleRollover < 0 {
		return broker.OffloadConfig{}, fmt.Errorf("--offload-idle-rollover must not be negative")
	}
	cfg := broker.OffloadConfig{Driver: strings.ToLower(o.driver), Prefix: o.prefix,
		MaxBytesPerSecond: o.maxBytesPerSecond, ReadCacheBytes: o.readCacheBytes, Policy: &pol}
	switch cfg.Driver {
	case "filesystem":
		cfg.Dir = o.dir
		if cfg.Dir == "" && o.standalone {
			cfg.Dir = filepath.Join(dataDir, "offload")
		}
	case "aws-s3", "s3":
		cfg.S3.Endpoint, cfg.S3.Region, cfg.S3.Bucket = o.endpoint, o.region, o.bucket
		cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey = o.accessKey, o.secretKey
		cfg.S3.Profile, cfg.S3.CAFile = o.profile, o.caFile
	}
	if err := cfg.Validate(); err != nil {
		return broker.OffloadConfig{}, fmt.Errorf("offload flags: %w", err)
	}
	return cfg, nil
}

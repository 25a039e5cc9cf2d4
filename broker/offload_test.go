package broker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/tiered/s3"
)

func TestOffloadConfigValidate(t *testing.T) {
	s3ok := s3.Config{Endpoint: "https://s3.example:9000", Bucket: "cold"}
	for _, tc := range []struct {
		name    string
		cfg     OffloadConfig
		wantErr string // "" = valid
	}{
		{"zero value: off", OffloadConfig{}, ""},
		{"none", OffloadConfig{Driver: "none"}, ""},
		{"filesystem", OffloadConfig{Driver: "filesystem", Dir: "/data/offload"}, ""},
		{"filesystem without a directory", OffloadConfig{Driver: "filesystem"}, "directory"},
		{"aws-s3", OffloadConfig{Driver: "aws-s3", S3: s3ok, Prefix: "cluster-a"}, ""},
		{"s3 without a bucket", OffloadConfig{Driver: "s3", S3: s3.Config{Endpoint: "http://x:9000"}}, "bucket"},
		{"s3 without an endpoint", OffloadConfig{Driver: "s3", S3: s3.Config{Bucket: "b"}}, "endpoint"},
		{"s3 with half the static credentials", OffloadConfig{Driver: "s3",
			S3: s3.Config{Endpoint: "http://x:9000", Bucket: "b", AccessKeyID: "k"}}, "together"},
		{"unknown driver", OffloadConfig{Driver: "google-cloud-storage"}, "unknown offload driver"},
		{"bad prefix", OffloadConfig{Driver: "filesystem", Dir: "/d", Prefix: "../up"}, "prefix"},
		{"negative throttle", OffloadConfig{Driver: "filesystem", Dir: "/d", MaxBytesPerSecond: -1}, "≥ 0"},
		{"threshold -2", OffloadConfig{Policy: &managedledger.OffloadPolicy{ThresholdBytes: -2}}, "≥ -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// The managed ledgers' offload setup: no store when off, a filesystem store under Dir,
// an S3 store (no I/O until used) recording driver and bucket.
func TestOffloadConfigManagedLedger(t *testing.T) {
	ctx := context.Background()
	off, err := OffloadConfig{}.managedLedger(ctx)
	if err != nil || off.Store != nil {
		t.Fatalf("off: %+v, %v", off, err)
	}
	dir := filepath.Join(t.TempDir(), "offload")
	off, err = OffloadConfig{Driver: "filesystem", Dir: dir, Prefix: "p", MaxBytesPerSecond: 10, ReadCacheBytes: 20}.managedLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if off.Store == nil || off.Driver != "filesystem" || off.Bucket != dir || off.Prefix != "p" ||
		off.MaxBytesPerSecond != 10 || off.ReadCacheBytes != 20 {
		t.Fatalf("filesystem: %+v", off)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the filesystem store did not create its directory: %v", err)
	}
	off, err = OffloadConfig{Driver: "aws-s3", S3: s3.Config{Endpoint: "http://127.0.0.1:1", Bucket: "cold",
		AccessKeyID: "k", SecretAccessKey: "s"}}.managedLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if off.Store == nil || off.Driver != "aws-s3" || off.Bucket != "cold" {
		t.Fatalf("aws-s3: %+v", off)
	}
}

package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/strata-io/strata/broker"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/tiered/s3"
)

// parseOffload parses args with the offload flags of `strata broker` (or standalone)
// and returns the broker configuration they give.
func parseOffload(t *testing.T, standalone bool, args ...string) (broker.OffloadConfig, error) {
	t.Helper()
	f := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var o offloadFlags
	addOffloadFlags(f, &o, standalone)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o.config("/var/strata")
}

func TestOffloadFlags(t *testing.T) {
	def := managedledger.DefaultOffloadPolicy()
	for _, tc := range []struct {
		name       string
		standalone bool
		args       []string
		want       broker.OffloadConfig
	}{
		{"broker default: off", false, nil, broker.OffloadConfig{Driver: "none", Policy: &def}},
		{"standalone default: filesystem under the data dir", true, nil,
			broker.OffloadConfig{Driver: "filesystem", Dir: filepath.Join("/var/strata", "offload"), Policy: &def}},
		{"standalone pointed elsewhere", true, []string{"--offload-dir", "/mnt/cold"},
			broker.OffloadConfig{Driver: "filesystem", Dir: "/mnt/cold", Policy: &def}},
		{"standalone off", true, []string{"--offload-driver", "none"}, broker.OffloadConfig{Driver: "none", Policy: &def}},
		{"broker on S3 with every setting", false, []string{
			"--offload-driver", "aws-s3", "--offload-s3-endpoint", "https://s3.example:9000", "--offload-s3-region", "eu-west-1",
			"--offload-s3-bucket", "cold", "--offload-prefix", "cluster-a", "--offload-s3-access-key", "AK",
			"--offload-s3-secret-key", "SK", "--offload-s3-profile", "p", "--offload-s3-ca-file", "/etc/ca.pem",
			"--offload-deletion-lag", "10m", "--offload-threshold-bytes", "1048576", "--offload-threshold-seconds", "3600",
			"--offload-idle-rollover", "5m", "--offload-max-bytes-per-second", "1000000", "--offload-read-cache-bytes", "33554432",
			"--offload-read-priority", "bookkeeper-first"},
			broker.OffloadConfig{Driver: "aws-s3", Prefix: "cluster-a",
				S3: s3.Config{Endpoint: "https://s3.example:9000", Region: "eu-west-1", Bucket: "cold", AccessKeyID: "AK",
					SecretAccessKey: "SK", Profile: "p", CAFile: "/etc/ca.pem"},
				MaxBytesPerSecond: 1_000_000, ReadCacheBytes: 32 << 20,
				Policy: &managedledger.OffloadPolicy{ThresholdBytes: 1 << 20, ThresholdSeconds: 3600, DeletionLag: 10 * time.Minute,
					IdleRollover: 5 * time.Minute, BookkeeperFirst: true}}},
		{"credentials left to the environment", false, []string{"--offload-driver", "s3",
			"--offload-s3-endpoint", "http://127.0.0.1:7070", "--offload-s3-bucket", "b"},
			broker.OffloadConfig{Driver: "s3", S3: s3.Config{Endpoint: "http://127.0.0.1:7070", Bucket: "b"}, Policy: &def}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOffload(t, tc.standalone, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("config %+v (policy %+v)\nwant %+v (policy %+v)", got, *got.Policy, tc.want, *tc.want.Policy)
			}
		})
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--offload-driver", "filesystem"}, "directory"},
		{[]string{"--offload-driver", "gcs"}, "unknown offload driver"},
		{[]string{"--offload-driver", "s3", "--offload-s3-bucket", "b"}, "endpoint"},
		{[]string{"--offload-driver", "s3", "--offload-s3-endpoint", "http://x:1"}, "bucket"},
		{[]string{"--offload-read-priority", "fastest"}, "read-priority"},
		{[]string{"--offload-threshold-bytes", "-5"}, "≥ -1"},
		{[]string{"--offload-idle-rollover", "-1s"}, "idle-rollover"},
	} {
		if _, err := parseOffload(t, false, tc.args...); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.wantErr)
		}
	}
}

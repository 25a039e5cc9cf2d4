package resources

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Offload policies (tiered storage). A namespace carries them in two shapes, both
// Pulsar's: the single values offload_threshold, offload_threshold_in_seconds and
// offload_deletion_lag_ms (the offloadThreshold, offloadThresholdInSeconds and
// offloadDeletionLagMs endpoints), and the whole OffloadPolicies object
// (offloadPolicies); a topic carries only the object. Every field is optional: unset
// falls back, field by field, from the topic's object to the namespace's object, then
// to the namespace's single values, then to the broker's defaults (its flags).
//
// -1 in the single namespace values means "unset" (Pulsar: "falls back to the
// cluster's configuration"), so the admin API stores it as absent, and a -1 found in a
// record counts as absent too. In the object a set value wins,
// and a threshold of -1 there means "automatic offload off", as in Pulsar's
// OffloadPoliciesImpl. broker/service turns the effective record into the managed
// ledger's OffloadPolicy (offload.go there).

// The offload drivers a policy may name; Pulsar's other drivers (google-cloud-storage,
// azureblob, aliyun-oss) have no store here. Names compare case-insensitively.
const (
	DriverFilesystem = "filesystem"
	DriverAWSS3      = "aws-s3"
	DriverS3         = "s3"
)

// Read priorities, as Pulsar's OffloadedReadPriority enum writes them in JSON.
const (
	ReadPriorityTieredFirst     = "TIERED_STORAGE_FIRST"
	ReadPriorityBookkeeperFirst = "BOOKKEEPER_FIRST"
)

// OffloadPolicies is Pulsar's OffloadPoliciesImpl JSON, the fields Strata keeps. nil
// or empty fields are unset. A record may carry either Pulsar's
// managedLedgerOffloadThresholdInBytes or the broker.conf name that pulsaradmin also
// sends, managedLedgerOffloadAutoTriggerSizeThresholdBytes (UnmarshalJSON); it is
// stored under the first.
type OffloadPolicies struct {
	Driver              string `json:"managedLedgerOffloadDriver,omitempty"`
	MaxThreads          int    `json:"managedLedgerOffloadMaxThreads,omitempty"`
	ThresholdInBytes    *int64 `json:"managedLedgerOffloadThresholdInBytes,omitempty"`
	ThresholdInSeconds  *int64 `json:"managedLedgerOffloadThresholdInSeconds,omitempty"`
	DeletionLagInMillis *int64 `json:"managedLedgerOffloadDeletionLagInMillis,omitempty"`
	// ReadPriority is TIERED_STORAGE_FIRST or BOOKKEEPER_FIRST (Normalize accepts
	// broker.conf's tiered-storage-first and bookkeeper-first too).
	ReadPriority    string `json:"managedLedgerOffloadedReadPriority,omitempty"`
	Bucket          string `json:"managedLedgerOffloadBucket,omitempty"`
	Region          string `json:"managedLedgerOffloadRegion,omitempty"`
	ServiceEndpoint string `json:"managedLedgerOffloadServiceEndpoint,omitempty"`
	// The S3 driver's own names for the same three (pulsaradmin sends these).
	S3Bucket          string `json:"s3ManagedLedgerOffloadBucket,omitempty"`
	S3Region          string `json:"s3ManagedLedgerOffloadRegion,omitempty"`
	S3ServiceEndpoint string `json:"s3ManagedLedgerOffloadServiceEndpoint,omitempty"`
}

// UnmarshalJSON decodes Pulsar's JSON, taking managedLedgerOffloadAutoTriggerSizeThresholdBytes
// as the size threshold when managedLedgerOffloadThresholdInBytes is absent.
func (o *OffloadPolicies) UnmarshalJSON(b []byte) error {
	type plain OffloadPolicies // without this method
	var v struct {
		plain
		AutoTrigger *int64 `json:"managedLedgerOffloadAutoTriggerSizeThresholdBytes"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = OffloadPolicies(v.plain)
	if o.ThresholdInBytes == nil {
		o.ThresholdInBytes = v.AutoTrigger
	}
	return nil
}

// Empty reports a record with nothing set.
func (o OffloadPolicies) Empty() bool { return o == OffloadPolicies{} }

// Normalize brings the driver to lower case and the read priority to its enum name,
// or reports a value Strata does not know: an unsupported driver, an unknown read
// priority, a threshold below -1, a negative deletion lag, an S3 driver without a
// bucket (Pulsar refuses these with 412). A namespace's record must name its driver
// (requireDriver); a topic's override may leave it to the namespace.
func (o *OffloadPolicies) Normalize(requireDriver bool) error {
	if o.Empty() {
		return fmt.Errorf("offload policies are empty")
	}
	o.Driver = strings.ToLower(o.Driver)
	switch o.Driver {
	case DriverFilesystem:
	case DriverAWSS3, DriverS3:
		if o.Bucket == "" && o.S3Bucket == "" {
			return fmt.Errorf("the %s offload driver needs a bucket (managedLedgerOffloadBucket)", o.Driver)
		}
	case "":
		if !requireDriver {
			break
		}
		return fmt.Errorf("managedLedgerOffloadDriver is required (%s, %s or %s)", DriverFilesystem, DriverAWSS3, DriverS3)
	default:
		return fmt.Errorf("offload driver %q is not supported (%s, %s or %s)", o.Driver, DriverFilesystem, DriverAWSS3, DriverS3)
	}
	switch strings.ToLower(strings.ReplaceAll(o.ReadPriority, "_", "-")) {
	case "":
	case "tiered-storage-first":
		o.ReadPriority = ReadPriorityTieredFirst
	case "bookkeeper-first":
		o.ReadPriority = ReadPriorityBookkeeperFirst
	default:
		return fmt.Errorf("unknown managedLedgerOffloadedReadPriority %q (%s or %s)", o.ReadPriority,
			ReadPriorityTieredFirst, ReadPriorityBookkeeperFirst)
	}
	if err := CheckOffloadThreshold("managedLedgerOffloadThresholdInBytes", o.ThresholdInBytes); err != nil {
		return err
	}
	if err := CheckOffloadThreshold("managedLedgerOffloadThresholdInSeconds", o.ThresholdInSeconds); err != nil {
		return err
	}
	if o.DeletionLagInMillis != nil && *o.DeletionLagInMillis < 0 {
		return fmt.Errorf("managedLedgerOffloadDeletionLagInMillis must be ≥ 0, got %d", *o.DeletionLagInMillis)
	}
	if o.MaxThreads < 0 {
		return fmt.Errorf("managedLedgerOffloadMaxThreads must be ≥ 0, got %d", o.MaxThreads)
	}
	return nil
}

// CheckOffloadThreshold refuses a threshold below -1 (-1 is "off" or "unset", 0 is
// "offload as soon as possible").
func CheckOffloadThreshold(what string, v *int64) error {
	if v != nil && *v < -1 {
		return fmt.Errorf("%s must be ≥ -1 (-1: off), got %d", what, *v)
	}
	return nil
}

// merge returns o with over's set fields in place.
func (o OffloadPolicies) merge(over OffloadPolicies) OffloadPolicies {
	str := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	num := func(dst **int64, v *int64) {
		if v != nil {
			n := *v
			*dst = &n
		}
	}
	str(&o.Driver, over.Driver)
	if over.MaxThreads != 0 {
		o.MaxThreads = over.MaxThreads
	}
	num(&o.ThresholdInBytes, over.ThresholdInBytes)
	num(&o.ThresholdInSeconds, over.ThresholdInSeconds)
	num(&o.DeletionLagInMillis, over.DeletionLagInMillis)
	str(&o.ReadPriority, over.ReadPriority)
	str(&o.Bucket, over.Bucket)
	str(&o.Region, over.Region)
	str(&o.ServiceEndpoint, over.ServiceEndpoint)
	str(&o.S3Bucket, over.S3Bucket)
	str(&o.S3Region, over.S3Region)
	str(&o.S3ServiceEndpoint, over.S3ServiceEndpoint)
	return o
}

// EffectiveOffload is a topic's offload settings with every level's fallback applied
// but the broker's: nil fields are left to the broker defaults.
type EffectiveOffload struct {
	ThresholdBytes, ThresholdSeconds, DeletionLagMillis *int64
	ReadPriority                                        string // "" unset
}

// Offload resolves p's offload fields (p being a namespace's record, or a topic's
// effective one from TopicPolicies.Apply): the object's value, else the single
// namespace value, else unset.
func (p Policies) Offload() EffectiveOffload {
	var o OffloadPolicies
	if p.OffloadPolicies != nil {
		o = *p.OffloadPolicies
	}
	// A single value of -1 is unset (a record written by a client that sends Pulsar's
	// defaults may carry it).
	first := func(a, b *int64) *int64 {
		if a != nil {
			return a
		}
		if b != nil && *b == -1 {
			return nil
		}
		return b
	}
	return EffectiveOffload{
		ThresholdBytes:    first(o.ThresholdInBytes, p.OffloadThreshold),
		ThresholdSeconds:  first(o.ThresholdInSeconds, p.OffloadThresholdInSeconds),
		DeletionLagMillis: first(o.DeletionLagInMillis, p.OffloadDeletionLagMs),
		ReadPriority:      o.ReadPriority,
	}
}

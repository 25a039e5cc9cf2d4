package resources

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Pulsar's JSON field names, the broker.conf alias pulsaradmin sends, and which one wins.
func TestOffloadPoliciesJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     OffloadPolicies
	}{
		{"pulsar names", `{"managedLedgerOffloadDriver":"aws-s3","managedLedgerOffloadThresholdInBytes":1024,
			"managedLedgerOffloadThresholdInSeconds":60,"managedLedgerOffloadDeletionLagInMillis":5000,
			"managedLedgerOffloadedReadPriority":"BOOKKEEPER_FIRST","managedLedgerOffloadBucket":"b"}`,
			OffloadPolicies{Driver: "aws-s3", ThresholdInBytes: ptr[int64](1024), ThresholdInSeconds: ptr[int64](60),
				DeletionLagInMillis: ptr[int64](5000), ReadPriority: "BOOKKEEPER_FIRST", Bucket: "b"}},
		{"alias only", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadAutoTriggerSizeThresholdBytes":-1}`,
			OffloadPolicies{Driver: "filesystem", ThresholdInBytes: ptr[int64](-1)}},
		{"pulsar name wins over alias", `{"managedLedgerOffloadThresholdInBytes":7,"managedLedgerOffloadAutoTriggerSizeThresholdBytes":-1}`,
			OffloadPolicies{ThresholdInBytes: ptr[int64](7)}},
		{"pulsaradmin's s3 names and unknown fields", `{"managedLedgerOffloadDriver":"aws-s3","s3ManagedLedgerOffloadBucket":"x",
			"s3ManagedLedgerOffloadRegion":"r","s3ManagedLedgerOffloadServiceEndpoint":"http://e","offloadersDirectory":"./offloaders"}`,
			OffloadPolicies{Driver: "aws-s3", S3Bucket: "x", S3Region: "r", S3ServiceEndpoint: "http://e"}},
		{"zero threshold is set, not unset", `{"managedLedgerOffloadThresholdInBytes":0}`,
			OffloadPolicies{ThresholdInBytes: ptr[int64](0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got OffloadPolicies
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
			// Written back under Pulsar's names only.
			out, _ := json.Marshal(got)
			if strings.Contains(string(out), "AutoTrigger") {
				t.Fatalf("encoded with the alias: %s", out)
			}
			var again OffloadPolicies
			if err := json.Unmarshal(out, &again); err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip %s gave %+v, %v", out, again, err)
			}
		})
	}
	var p OffloadPolicies
	if err := json.Unmarshal([]byte(`{"managedLedgerOffloadThresholdInBytes":"ten"}`), &p); err == nil {
		t.Fatal("a string threshold decoded")
	}
}

func TestOffloadPoliciesNormalize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      OffloadPolicies
		want    OffloadPolicies // when ok
		wantErr string          // substring; "" = ok
	}{
		{"empty", OffloadPolicies{}, OffloadPolicies{}, "empty"},
		{"no driver", OffloadPolicies{ThresholdInBytes: ptr[int64](1)}, OffloadPolicies{}, "required"},
		{"unknown driver", OffloadPolicies{Driver: "google-cloud-storage", Bucket: "b"}, OffloadPolicies{}, "not supported"},
		{"s3 without bucket", OffloadPolicies{Driver: "S3"}, OffloadPolicies{}, "bucket"},
		{"threshold -2", OffloadPolicies{Driver: "filesystem", ThresholdInBytes: ptr[int64](-2)}, OffloadPolicies{}, "≥ -1"},
		{"seconds -5", OffloadPolicies{Driver: "filesystem", ThresholdInSeconds: ptr[int64](-5)}, OffloadPolicies{}, "≥ -1"},
		{"negative lag", OffloadPolicies{Driver: "filesystem", DeletionLagInMillis: ptr[int64](-1)}, OffloadPolicies{}, "DeletionLag"},
		{"bad priority", OffloadPolicies{Driver: "filesystem", ReadPriority: "fastest"}, OffloadPolicies{}, "ReadPriority"},
		{"case and config-style priority", OffloadPolicies{Driver: "AWS-S3", S3Bucket: "b", ReadPriority: "bookkeeper-first",
			ThresholdInBytes: ptr[int64](-1)},
			OffloadPolicies{Driver: "aws-s3", S3Bucket: "b", ReadPriority: ReadPriorityBookkeeperFirst, ThresholdInBytes: ptr[int64](-1)}, ""},
		{"filesystem needs no bucket", OffloadPolicies{Driver: "filesystem", ReadPriority: "TIERED_STORAGE_FIRST"},
			OffloadPolicies{Driver: "filesystem", ReadPriority: ReadPriorityTieredFirst}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			err := got.Normalize(true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Normalize() = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Normalize() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// A topic's override may leave the driver to its namespace, but not name a wrong one.
func TestOffloadOverrideNormalize(t *testing.T) {
	o := OffloadPolicies{ThresholdInBytes: ptr[int64](0)}
	if err := o.Normalize(false); err != nil {
		t.Fatalf("override without a driver: %v", err)
	}
	o.Driver = "azureblob"
	if err := o.Normalize(false); err == nil {
		t.Fatal("override with an unknown driver accepted")
	}
	if err := (&OffloadPolicies{}).Normalize(false); err == nil {
		t.Fatal("empty override accepted")
	}
}

// The fallback chain: topic object > namespace object > namespace single values > unset.
func TestEffectiveOffload(t *testing.T) {
	ns := Policies{OffloadThreshold: ptr[int64](100), OffloadThresholdInSeconds: ptr[int64](60),
		OffloadDeletionLagMs: ptr[int64](1000)}
	if got := ns.Offload(); *got.ThresholdBytes != 100 || *got.ThresholdSeconds != 60 || *got.DeletionLagMillis != 1000 || got.ReadPriority != "" {
		t.Fatalf("single values: %+v", got)
	}
	if got := (Policies{}).Offload(); got.ThresholdBytes != nil || got.ThresholdSeconds != nil || got.DeletionLagMillis != nil {
		t.Fatalf("nothing set: %+v", got)
	}
	minus := Policies{OffloadThreshold: ptr[int64](-1), OffloadThresholdInSeconds: ptr[int64](-1), OffloadDeletionLagMs: ptr[int64](-1)}
	if got := minus.Offload(); got.ThresholdBytes != nil || got.ThresholdSeconds != nil || got.DeletionLagMillis != nil {
		t.Fatalf("single values of -1 are unset: %+v", got)
	}
	ns.OffloadPolicies = &OffloadPolicies{Driver: "filesystem", ThresholdInBytes: ptr[int64](-1), ReadPriority: ReadPriorityBookkeeperFirst}
	if got := ns.Offload(); *got.ThresholdBytes != -1 || *got.ThresholdSeconds != 60 || got.ReadPriority != ReadPriorityBookkeeperFirst {
		t.Fatalf("namespace object over single values: %+v", got)
	}
	tp := TopicPolicies{OffloadPolicies: &OffloadPolicies{ThresholdInSeconds: ptr[int64](5)}}
	eff := tp.Apply(ns)
	if got := eff.Offload(); *got.ThresholdBytes != -1 || *got.ThresholdSeconds != 5 || *got.DeletionLagMillis != 1000 ||
		got.ReadPriority != ReadPriorityBookkeeperFirst || eff.OffloadPolicies.Driver != "filesystem" {
		t.Fatalf("topic object over namespace: %+v (%+v)", got, eff.OffloadPolicies)
	}
	if *ns.OffloadPolicies.ThresholdInBytes != -1 || ns.OffloadPolicies.ThresholdInSeconds != nil {
		t.Fatal("Apply changed the namespace's record")
	}
	if (TopicPolicies{OffloadPolicies: &OffloadPolicies{}}).empty() {
		t.Fatal("a record with an offload object is empty")
	}
}

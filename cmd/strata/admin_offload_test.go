package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

// The MessageId `topics offload --size-threshold` sends, from internal-stats JSON as the
// broker renders it.
func TestOffloadBefore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stats     string
		threshold int64
		want      utils.MessageID
		ok        bool
	}{
		{"no ledgers", `{"ledgers":[],"currentLedgerSize":0}`, 0, utils.MessageID{}, false},
		{"only the current ledger, under", `{"ledgers":[{"ledgerId":3,"size":0}],"currentLedgerSize":100}`, 100,
			utils.MessageID{}, false},
		{"only the current ledger, over: nothing before it", `{"ledgers":[{"ledgerId":3,"size":0}],"currentLedgerSize":101}`, 100,
			utils.MessageID{LedgerID: 3, PartitionIndex: -1}, true},
		{"everything fits", `{"ledgers":[{"ledgerId":1,"size":10},{"ledgerId":2,"size":10},{"ledgerId":3,"size":0}],
			"currentLedgerSize":10}`, 30, utils.MessageID{}, false},
		{"sum equal to the threshold is not over", `{"ledgers":[{"ledgerId":1,"size":10},{"ledgerId":2,"size":10},
			{"ledgerId":3,"size":5}],"currentLedgerSize":10}`, 30, utils.MessageID{}, false},
		{"oldest ledger tips it over", `{"ledgers":[{"ledgerId":1,"size":10},{"ledgerId":2,"size":10},{"ledgerId":3,"size":0}],
			"currentLedgerSize":10}`, 29, utils.MessageID{LedgerID: 2, PartitionIndex: -1}, true},
		{"threshold 0 keeps only the current ledger", `{"ledgers":[{"ledgerId":4,"size":7},{"ledgerId":9,"size":7},
			{"ledgerId":12,"size":0}],"currentLedgerSize":0}`, 0, utils.MessageID{LedgerID: 12, PartitionIndex: -1}, true},
		{"current ledger size from currentLedgerSize, not its stale record", `{"ledgers":[{"ledgerId":1,"size":50},
			{"ledgerId":2,"size":50},{"ledgerId":3,"size":999}],"currentLedgerSize":1}`, 60,
			utils.MessageID{LedgerID: 2, PartitionIndex: -1}, true},
		{"offloaded ledgers still count", `{"ledgers":[{"ledgerId":1,"size":100,"offloaded":true},{"ledgerId":2,"size":100},
			{"ledgerId":3,"size":0}],"currentLedgerSize":0}`, 150, utils.MessageID{LedgerID: 2, PartitionIndex: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st utils.PersistentTopicInternalStats
			if err := json.Unmarshal([]byte(tc.stats), &st); err != nil {
				t.Fatal(err)
			}
			got, ok := offloadBefore(st, tc.threshold)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("offloadBefore = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestOffloadPolicyFlagsBody(t *testing.T) {
	got, err := offloadPolicyFlags{driver: "aws-s3", bucket: "cold", region: "eu-west-1", threshold: "0",
		thresholdTime: "1h", lag: "10m", readPriority: "bookkeeper-first"}.body()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"managedLedgerOffloadDriver": "aws-s3",
		"managedLedgerOffloadBucket": "cold", "s3ManagedLedgerOffloadBucket": "cold",
		"managedLedgerOffloadRegion": "eu-west-1", "s3ManagedLedgerOffloadRegion": "eu-west-1",
		"managedLedgerOffloadThresholdInBytes": int64(0), "managedLedgerOffloadThresholdInSeconds": int64(3600),
		"managedLedgerOffloadDeletionLagInMillis": int64(600_000), "managedLedgerOffloadedReadPriority": "BOOKKEEPER_FIRST"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %v\nwant %v", got, want)
	}
	got, err = offloadPolicyFlags{driver: "filesystem"}.body()
	if err != nil || len(got) != 1 {
		t.Fatalf("filesystem only: %v, %v (unset flags must not be sent)", got, err)
	}
	// A topic override may leave the driver to the namespace: no empty driver is sent.
	got, err = offloadPolicyFlags{threshold: "0"}.body()
	if _, ok := got["managedLedgerOffloadDriver"]; err != nil || ok || len(got) != 1 {
		t.Fatalf("threshold only: %v, %v", got, err)
	}
	for _, f := range []offloadPolicyFlags{
		{driver: "filesystem", threshold: "lots"},
		{driver: "filesystem", thresholdTime: "soon"},
		{driver: "filesystem", lag: "-1"},
		{driver: "filesystem", readPriority: "fastest"},
	} {
		if _, err := f.body(); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

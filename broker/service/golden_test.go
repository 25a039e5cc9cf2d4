package service

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// The deduplication snapshot is stored data (docs/format/metadata.md): its key and JSON
// must not change by accident. testdata/dedup-snapshot.json was written by the code
// (go test -run TestGoldenDedupSnapshot -update), then frozen.

var update = flag.Bool("update", false, "rewrite the golden records in testdata/")

func TestGoldenDedupSnapshot(t *testing.T) {
	want := dedupRecord{FormatVersion: dedupRecordVersion, Position: "12:345",
		Producers: map[string]int64{"standalone-0-1": 99, "app": 7, "batch-producer": -1}}
	path := filepath.Join("testdata", "dedup-snapshot.json")
	if *update {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got dedupRecord
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("re-encoded\n%s\nwant\n%s", again, data)
	}

	// The key: next to the managed ledger's record.
	name, _ := topic.Parse("persistent://acme/orders/payments-partition-3")
	store, _ := metadatatest.Store(t, "/strata")
	if got, want := dedupKey(store, name), "/strata/managed-ledgers/persistent://acme/orders/payments-partition-3/dedup"; got != want {
		t.Fatalf("snapshot key %q, want %q", got, want)
	}
}

package ledger

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The ledger metadata record is stored data (docs/format/metadata.md, "Ledger
// metadata"): every etcd of every cluster holds it. These fixtures were written by
// Marshal and are frozen; a change to the encoding that would make old records read
// differently, or write differently, fails here. Do not regenerate them: add a new
// format version (and a new fixture) instead.
var metadataGolden = []struct {
	file string
	want Metadata
}{
	{"metadata/open.json", Metadata{
		FormatVersion: 1, ID: 7, EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2,
		State: StateOpen, LastEntry: -1,
		Fragments:         []Fragment{{FirstEntry: 0, Ensemble: []string{"bookie-1", "bookie-2", "bookie-3"}}},
		CreatedUnixMillis: 1795000000000,
		Custom:            map[string]string{"topic": "persistent://public/default/t"},
	}},
	{"metadata/in-recovery.json", Metadata{
		FormatVersion: 1, ID: 8, EnsembleSize: 3, WriteQuorum: 3, AckQuorum: 2,
		State: StateInRecovery, LastEntry: -1,
		Fragments: []Fragment{
			{FirstEntry: 0, Ensemble: []string{"bookie-1", "bookie-2", "bookie-3"}},
			{FirstEntry: 120, Ensemble: []string{"bookie-4", "bookie-2", "bookie-3"}},
		},
		CreatedUnixMillis: 1795000001000,
	}},
	{"metadata/closed.json", Metadata{
		FormatVersion: 1, ID: 9, EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2,
		State: StateClosed, LastEntry: 9999, Length: 10240000,
		Fragments: []Fragment{
			{FirstEntry: 0, Ensemble: []string{"bookie-1", "bookie-2", "bookie-3"}},
			{FirstEntry: 4711, Ensemble: []string{"bookie-1", "bookie-4", "bookie-3"}},
			{FirstEntry: 8000, Ensemble: []string{"bookie-5", "bookie-4", "bookie-3"}},
		},
		CreatedUnixMillis: 1795000002000,
		Custom:            map[string]string{"topic": "persistent://public/default/t", "role": "data"},
	}},
	{"metadata/closed-empty.json", Metadata{
		FormatVersion: 1, ID: 10, EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1,
		State: StateClosed, LastEntry: -1,
		Fragments:         []Fragment{{FirstEntry: 0, Ensemble: []string{"standalone-bookie"}}},
		CreatedUnixMillis: 1795000003000,
	}},
	{"metadata/closed-by-recovery.json", Metadata{
		FormatVersion: 1, ID: 11, EnsembleSize: 2, WriteQuorum: 2, AckQuorum: 1,
		State: StateClosed, LastEntry: 41, Length: 2048, LengthIsLowerBound: true,
		Fragments: []Fragment{
			{FirstEntry: 0, Ensemble: []string{"bookie-1", "bookie-2"}},
			{FirstEntry: 30, Ensemble: []string{"bookie-3", "bookie-2"}},
		},
		CreatedUnixMillis: 1795000004000,
	}},
}

func TestMetadataGolden(t *testing.T) {
	for _, g := range metadataGolden {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join("testdata", g.file)
			fixture, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := UnmarshalMetadata(fixture)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(*m, g.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", *m, g.want)
			}
			again, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, fixture) {
				t.Fatalf("re-encoded\n%s\nwant (fixture)\n%s", again, fixture)
			}
		})
	}
}

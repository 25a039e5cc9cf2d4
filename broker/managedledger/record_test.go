package managedledger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// The fixtures under testdata/ are records exactly as the code of format version 1
// wrote them to etcd (docs/format/managedledger.md). They are frozen: never regenerate
// them. A change of the record types that breaks stored records fails here.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInfoRecordV1Golden(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Info
	}{
		{"info-v1.json", Info{FormatVersion: 1,
			Ledgers: []LedgerInfo{
				{ID: 3, Entries: 50000, Size: 12800000, CreatedMillis: 1767225600000, Closed: true},
				{ID: 7, Entries: 0, Size: 0, CreatedMillis: 1767229200000, Closed: true},
				{ID: 12, Entries: 1234, Size: 315904, CreatedMillis: 1767232800000, Closed: true},
				{ID: 15, Entries: 17, Size: 4352, CreatedMillis: 1767236400000},
			},
			Properties: map[string]string{"partitionedTopic": "persistent://public/default/orders", "z": "last"},
		}},
		{"info-v1-terminated.json", Info{FormatVersion: 1,
			Ledgers: []LedgerInfo{
				{ID: 21, Entries: 9, Size: 90, CreatedMillis: 1767240000000, Closed: true},
				{ID: 22, CreatedMillis: 1767240060000},
			},
			Terminated: true,
		}},
		{"info-v1-new.json", Info{FormatVersion: 1}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readFixture(t, tc.file)
			got, err := unmarshalInfo(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", *got, tc.want)
			}
			// Byte-equal re-encoding: an old record rewritten unchanged (the owner's
			// claim CAS) stays what it was.
			again, err := got.marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", again, data)
			}
		})
	}
}

func TestCursorRecordV1Golden(t *testing.T) {
	layout := cursor.Layout{{ID: 12, Entries: 1234}, {ID: 15, Entries: 17}}
	for _, tc := range []struct {
		file      string
		want      cursorRecord
		wantMD    cursor.Position
		wantAcked []string
	}{
		{
			file: "cursor-v1-inline.json",
			want: cursorRecord{FormatVersion: 1, MarkDelete: "12:99",
				Snapshot:   "AQwAAAAAAAAAYwAAAAAAAAACAAAADAAAAAAAAAAUAAAAOjAAAAEAAAAAAAEAEAAAAGUAZgAPAAAAAAAAABIAAAA6MAAAAQAAAAAAAAAQAAAAAwAAAAAAjfRqJA==",
				Properties: map[string]string{"dedup": "true"}},
			wantMD:    cursor.Position{Ledger: 12, Entry: 99},
			wantAcked: []string{"12:101..12:102", "15:3"},
		},
		{
			file: "cursor-v1-ledger.json",
			want: cursorRecord{FormatVersion: 1, MarkDelete: "12:4999", SnapshotLedger: 31},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readFixture(t, tc.file)
			var rec cursorRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec, tc.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", rec, tc.want)
			}
			again, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", again, data)
			}
			if rec.SnapshotLedger != 0 {
				return // the snapshot lives in the ledger (cursor snapshot format, tested in cursor/)
			}
			snap, err := base64.StdEncoding.DecodeString(rec.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cursor.Unmarshal(snap, layout)
			if err != nil {
				t.Fatal(err)
			}
			if st.MarkDelete() != tc.wantMD || st.MarkDelete().String() != rec.MarkDelete {
				t.Fatalf("mark-delete %v, record says %s, want %v", st.MarkDelete(), rec.MarkDelete, tc.wantMD)
			}
			var acked []string
			for r := range st.AckedRanges() {
				acked = append(acked, r.String())
			}
			if !reflect.DeepEqual(acked, tc.wantAcked) {
				t.Fatalf("acked ranges %v, want %v", acked, tc.wantAcked)
			}
		})
	}
}

// TestInfoRecordOffload: a record with offload states round-trips, encodes to the
// frozen form in testdata/info-v1-offload.json, and an offload on one ledger leaves the
// other ledgers' encoding as version 1 wrote it.
func TestInfoRecordOffload(t *testing.T) {
	want := Info{FormatVersion: 1,
		Ledgers: []LedgerInfo{
			{ID: 3, Entries: 50000, Size: 12800000, CreatedMillis: 1767225600000, Closed: true,
				Offload: &OffloadState{UUID: "0b6c3a1e-9f4d-4c2a-8d51-2f0e6b7a9c13", Driver: "s3", Bucket: "strata-offload",
					Prefix: "public/default/orders", BeginMillis: 1767240000000, CompleteMillis: 1767240012345, State: OffloadComplete}},
			{ID: 12, Entries: 1234, Size: 315904, CreatedMillis: 1767232800000, Closed: true,
				Offload: &OffloadState{UUID: "5d1f7c2b-3e8a-4b6d-9c0f-a1b2c3d4e5f6", Driver: "filesystem", BeginMillis: 1767240020000, State: OffloadBegun}},
			{ID: 15, Entries: 17, Size: 4352, CreatedMillis: 1767236400000},
		},
	}
	data := readFixture(t, "info-v1-offload.json")
	got, err := unmarshalInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", *got, want)
	}
	enc, err := want.clone().marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, data) {
		t.Fatalf("encoded\n%s\nwant\n%s", enc, data)
	}
	if !got.Ledgers[0].Offload.Complete() || got.Ledgers[1].Offload.Complete() || got.Ledgers[2].Offload.Complete() {
		t.Fatal("Complete() disagrees with the states")
	}
	// clone shares no offload state with its original.
	c := got.clone()
	c.Ledgers[0].Offload.State = OffloadBegun
	if !got.Ledgers[0].Offload.Complete() {
		t.Fatal("changing a clone's offload state changed the original")
	}
	// The ledger without offload encodes exactly as in a version 1 record.
	if !bytes.Contains(data, []byte(`{"id":15,"entries":17,"size":4352,"createdMillis":1767236400000}`)) {
		t.Fatalf("a ledger without offload state does not encode as version 1 did: %s", data)
	}
}

// TestInfoRecordBookieDeleted pins bookieDeleted, added after info-v1-offload.json: a
// record using it decodes and re-encodes byte for byte, and one without it is unchanged
// (the previous fixture's test).
func TestInfoRecordBookieDeleted(t *testing.T) {
	want := Info{FormatVersion: 1,
		Ledgers: []LedgerInfo{
			{ID: 3, Entries: 50000, Size: 12800000, CreatedMillis: 1767225600000, Closed: true,
				Offload: &OffloadState{UUID: "0b6c3a1e-9f4d-4c2a-8d51-2f0e6b7a9c13", Driver: "s3", Bucket: "strata-offload",
					Prefix: "offload", BeginMillis: 1767240000000, CompleteMillis: 1767240012345, State: OffloadComplete, BookieDeleted: true}},
			{ID: 15, Entries: 17, Size: 4352, CreatedMillis: 1767236400000},
		},
	}
	data := readFixture(t, "info-v1-offload-bookie-deleted.json")
	got, err := unmarshalInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", *got, want)
	}
	enc, err := want.clone().marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, data) {
		t.Fatalf("encoded\n%s\nwant\n%s", enc, data)
	}
}

package cursor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLayout covers the ledgers of the fixtures and of the seed corpus, so decoded acks
// survive SetLayout and the invariant checks below see them.
var fuzzLayout = Layout{
	{ID: 1, Entries: 1000}, {ID: 2, Entries: 0}, {ID: 3, Entries: 1000},
	{ID: 4, Entries: 3}, {ID: 5, Entries: 0}, {ID: 7, Entries: 300000}, {ID: 9, Entries: 5},
}

// corpusStates are the states whose snapshots seed FuzzUnmarshal (written to
// testdata/fuzz/FuzzUnmarshal with -update-golden, alongside the golden fixtures).
func corpusStates(t testing.TB) map[string]*State {
	out := map[string]*State{}
	s, _ := New(fuzzLayout)
	out["earliest"] = s

	s, _ = New(fuzzLayout)
	for _, e := range []int64{0, 1, 5, 6, 7, 200} {
		_ = s.AckIndividual(Position{Ledger: 1, Entry: e})
	}
	_ = s.AckIndividual(Position{Ledger: 3, Entry: 999})
	_ = s.AckBatchIndexes(Position{Ledger: 1, Entry: 3}, 5, []int{0, 4})
	_ = s.AckBatchIndexes(Position{Ledger: 3, Entry: 1}, 130, []int{64, 129})
	out["sparse-batches"] = s

	s, _ = New(fuzzLayout)
	for k := int64(0); k < 5; k++ { // five run containers: offsets present
		for e := k<<16 + 10; e < k<<16+20; e++ {
			_ = s.AckIndividual(Position{Ledger: 7, Entry: e})
		}
	}
	out["runs"] = s

	s, _ = New(fuzzLayout)
	for e := int64(1); e < 12000; e += 2 {
		_ = s.AckIndividual(Position{Ledger: 7, Entry: e})
	}
	out["holes"] = s
	return out
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range corpusStates(f) {
		f.Add(s.Marshal())
	}
	if *updateGolden {
		dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshal")
		for name, s := range corpusStates(f) {
			path := filepath.Join(dir, "seed-"+name)
			if _, err := os.Stat(path); err == nil {
				continue
			}
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.Marshal())
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				f.Fatal(err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		// Random bytes almost never carry a valid CRC, which would leave the parser behind
		// it unexplored: also try the input with version 1 and its CRC fixed up.
		if len(data) >= minSnapshotSize {
			c := bytes.Clone(data)
			c[0] = SnapshotVersion
			checkDecode(t, reseal(c))
		}
	})
}

// checkDecode: Unmarshal never panics; what it accepts satisfies every invariant and
// survives a round trip.
func checkDecode(t *testing.T, data []byte) {
	s, err := Unmarshal(data, fuzzLayout)
	if err != nil {
		return
	}
	if err := checkInvariants(s); err != nil {
		t.Fatalf("accepted snapshot breaks an invariant: %v", err)
	}
	enc := s.Marshal()
	back, err := Unmarshal(enc, fuzzLayout)
	if err != nil {
		t.Fatalf("re-encoded snapshot refused: %v", err)
	}
	if !bytes.Equal(back.Marshal(), enc) || back.MarkDelete() != s.MarkDelete() {
		t.Fatalf("round trip changed the state:\n%s\nbecame\n%s", summary(s), summary(back))
	}
}

package server

import (
	"slices"
	"testing"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// ReadEntries with a step reads what one position of a striped ensemble holds as the
// head of its write sets; step 0 and 1 are consecutive ids, as before the field existed.
func TestReadEntriesStep(t *testing.T) {
	e := start(t, Config{ReadMaxBytes: 12})
	ctx := testCtx(t)
	a := e.adder(t)
	// Position 0 of E3/Qw2: entries e with e mod 3 ∈ {0, 2}.
	for _, id := range []int64{0, 2, 3, 5, 6, 8, 9} {
		if got := a.do(req(1, id, id-1, "four")); got != "" {
			t.Fatal(got)
		}
	}
	tests := []struct {
		name        string
		first, last int64
		step        uint32
		maxBytes    uint64
		want        []int64
		reason      string
	}{
		{"step 3 (server cap: 3 entries of 4 bytes)", 0, 9, 3, 0, []int64{0, 3, 6}, ""},
		{"step 3, rest", 9, 20, 3, 0, []int64{9}, ""},
		{"step 3, client cap", 0, 9, 3, 8, []int64{0, 3}, ""},
		{"step 3 from the other slot", 2, 8, 3, 0, []int64{2, 5, 8}, ""},
		{"step 0 is consecutive", 2, 9, 0, 0, []int64{2, 3}, ""},
		{"step 1 is consecutive", 5, 9, 1, 0, []int64{5, 6}, ""},
		{"first missing", 1, 9, 3, 0, nil, bookiev1.ReasonNoSuchEntry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.cli.ReadEntries(ctx, &bookiev1.ReadEntriesRequest{LedgerId: 1, FirstEntryId: tc.first, LastEntryId: tc.last, MaxBytes: tc.maxBytes, Step: tc.step})
			if bookiev1.ReasonOf(err) != tc.reason || (tc.reason == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tc.reason)
			}
			var got []int64
			for _, en := range r.GetEntries() {
				got = append(got, en.EntryId)
				if en.LedgerId != 1 || string(en.Payload) != "four" || en.Lac != en.EntryId-1 {
					t.Fatalf("entry %v", en)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

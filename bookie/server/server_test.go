package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-io/strata/bookie/store"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

func TestAddEntriesRules(t *testing.T) {
	e := start(t, Config{MaxEntrySize: 1024})
	a := e.adder(t)
	big := strings.Repeat("x", 1025)
	badCRC := req(1, 50, -1, "x")
	badCRC.Crc32C++
	tests := []struct {
		name string
		req  *bookiev1.AddRequest
		want string
	}{
		{"first entry", req(1, 0, -1, "a"), ""},
		{"next entry", req(1, 1, 0, "b"), ""},
		{"gap is fine (striping)", req(1, 3, 1, "d"), ""},
		{"same id again", req(1, 3, 1, "d"), bookiev1.ReasonOutOfOrder},
		{"lower id", req(1, 2, 1, "c"), bookiev1.ReasonOutOfOrder},
		{"lower id, recovery", recovery(req(1, 2, 1, "c")), ""},
		{"other ledger has its own order", req(2, 0, -1, "x"), ""},
		{"missing ledger", req(0, 4, 1, "e"), bookiev1.ReasonInvalidArgument},
		{"negative entry", req(1, -1, 1, "e"), bookiev1.ReasonInvalidArgument},
		{"lac below -1", req(1, 4, -7, "e"), bookiev1.ReasonInvalidArgument},
		{"too large", req(1, 4, 1, big), bookiev1.ReasonEntryTooLarge},
		{"max size is fine", req(1, 4, 1, big[:1024]), ""},
		{"bad checksum", badCRC, bookiev1.ReasonBadChecksum},
		{"empty payload", req(3, 0, -1, ""), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.do(tc.req); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Duplicates across streams: identical is fine, different bytes are refused.
	b := e.adder(t)
	if got := b.do(req(1, 0, -1, "a")); got != "" {
		t.Fatalf("identical resend on a new stream: %s", got)
	}
	if got := b.do(req(1, 1, -1, "B")); got != bookiev1.ReasonDuplicateEntry {
		t.Fatalf("different bytes on a new stream: %s", got)
	}
}

func TestFencing(t *testing.T) {
	e := start(t, Config{})
	ctx := testCtx(t)
	a := e.adder(t)
	for i := int64(0); i < 3; i++ {
		if got := a.do(req(1, i, i-1, "x")); got != "" {
			t.Fatal(got)
		}
	}
	resp, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, Fence: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Lac != 1 || resp.LastEntryId != 2 || !resp.Fenced {
		t.Fatalf("fencing ReadLAC: %v", resp)
	}
	if got := a.do(req(1, 3, 2, "x")); got != bookiev1.ReasonLedgerFenced {
		t.Fatalf("add after fence: %q", got)
	}
	if got := a.do(recovery(req(1, 3, 2, "x"))); got != "" {
		t.Fatalf("recovery add after fence: %q", got)
	}
	// A fencing ReadEntry on a ledger never seen records the fence.
	_, err = e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 9, EntryId: 0, Fence: true})
	if bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchEntry {
		t.Fatalf("fencing read of an unseen ledger: %v", err)
	}
	if got := a.do(req(9, 0, -1, "late")); got != bookiev1.ReasonLedgerFenced {
		t.Fatalf("late add after a fencing read: %q", got)
	}
}

func TestReads(t *testing.T) {
	e := start(t, Config{ReadMaxBytes: 10})
	ctx := testCtx(t)
	a := e.adder(t)
	for _, id := range []int64{0, 1, 2, 4} {
		if got := a.do(req(1, id, id-1, "four")); got != "" {
			t.Fatal(got)
		}
	}
	r, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 2})
	if err != nil || string(r.Payload) != "four" || r.Lac != 1 || r.Crc32C != store.Checksum([]byte("four")) {
		t.Fatalf("ReadEntry: %v %v", r, err)
	}
	errTests := []struct {
		name   string
		req    *bookiev1.ReadEntryRequest
		reason string
		code   codes.Code
	}{
		{"missing entry", &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 3}, bookiev1.ReasonNoSuchEntry, codes.NotFound},
		{"unknown ledger", &bookiev1.ReadEntryRequest{LedgerId: 2, EntryId: 0}, bookiev1.ReasonNoSuchLedger, codes.NotFound},
		{"negative entry", &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: -1}, bookiev1.ReasonInvalidArgument, codes.InvalidArgument},
		{"missing ledger", &bookiev1.ReadEntryRequest{EntryId: 0}, bookiev1.ReasonInvalidArgument, codes.InvalidArgument},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.cli.ReadEntry(ctx, tc.req)
			if bookiev1.ReasonOf(err) != tc.reason || status.Code(err) != tc.code {
				t.Fatalf("got %v, want %s/%s", err, tc.reason, tc.code)
			}
		})
	}

	rangeTests := []struct {
		name        string
		first, last int64
		maxBytes    uint64
		want        int
		reason      string
	}{
		{"server cap (10 bytes: 2 entries of 4)", 0, 4, 0, 2, ""},
		{"client cap below server's", 0, 4, 5, 1, ""},
		{"client cap above server's is lowered", 0, 4, 1000, 2, ""},
		{"stops at gap", 1, 4, 0, 2, ""},
		{"first missing", 3, 4, 0, 0, bookiev1.ReasonNoSuchEntry},
		{"bad range", 4, 3, 0, 0, bookiev1.ReasonInvalidArgument},
	}
	for _, tc := range rangeTests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.cli.ReadEntries(ctx, &bookiev1.ReadEntriesRequest{LedgerId: 1, FirstEntryId: tc.first, LastEntryId: tc.last, MaxBytes: tc.maxBytes})
			if bookiev1.ReasonOf(err) != tc.reason || (tc.reason == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tc.reason)
			}
			if len(r.GetEntries()) != tc.want {
				t.Fatalf("%d entries, want %d", len(r.GetEntries()), tc.want)
			}
			for i, en := range r.GetEntries() {
				if en.EntryId != tc.first+int64(i) {
					t.Fatalf("entry %d has id %d", i, en.EntryId)
				}
			}
		})
	}

	if _, err := e.cli.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0}); bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchLedger {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := e.cli.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: 1}); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := e.cli.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{}); bookiev1.ReasonOf(err) != bookiev1.ReasonInvalidArgument {
		t.Fatalf("delete without ledger: %v", err)
	}
}

func TestCorruptEntryIsDataLoss(t *testing.T) {
	e := start(t, Config{})
	a := e.adder(t)
	if got := a.do(req(1, 0, -1, "precious")); got != "" {
		t.Fatal(got)
	}
	e.stop()
	// Flip a payload byte behind the store's back, through Pebble itself.
	db, err := pebble.Open("db", &pebble.Options{FS: e.fs, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	key := append([]byte{'e', 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 8)...)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), v...)
	closer.Close()
	bad[len(bad)-1] ^= 1
	if err := db.Set(key, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e.open(t, Config{})
	ctx := testCtx(t)
	r, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0})
	if status.Code(err) != codes.DataLoss || bookiev1.ReasonOf(err) != bookiev1.ReasonCorruptEntry || r != nil {
		t.Fatalf("read of corrupt entry: %v %v", r, err)
	}
	_, err = e.cli.ReadEntries(ctx, &bookiev1.ReadEntriesRequest{LedgerId: 1, FirstEntryId: 0, LastEntryId: 0})
	if bookiev1.ReasonOf(err) != bookiev1.ReasonCorruptEntry {
		t.Fatalf("range read of corrupt entry: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	e := start(t, Config{})
	ctx := testCtx(t)
	a := e.adder(t)
	if got := a.do(req(1, 0, -1, "a")); got != "" {
		t.Fatal(got)
	}
	e.srv.SetReadOnly(true)
	if got := a.do(req(1, 1, 0, "b")); got != bookiev1.ReasonReadOnly {
		t.Fatalf("normal add in read-only mode: %q", got)
	}
	if got := a.do(recovery(req(1, 1, 0, "b"))); got != "" {
		t.Fatalf("recovery add in read-only mode: %q", got)
	}
	if _, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0}); err != nil {
		t.Fatalf("read in read-only mode: %v", err)
	}
	e.srv.SetReadOnly(false)
	// The refused add did not move the stream's ordering mark.
	if got := a.do(req(1, 2, 1, "c")); got != "" {
		t.Fatalf("add after leaving read-only mode: %q", got)
	}
}

func TestConcurrentStreams(t *testing.T) {
	e := start(t, Config{MaxInFlight: 4})
	const streams, perStream = 8, 200
	var wg sync.WaitGroup
	errs := make(chan string, streams)
	for s := range streams {
		a := e.adder(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ledger := uint64(s + 1)
			go func() {
				for i := int64(0); i < perStream; i++ {
					if err := a.s.Send(req(ledger, i, i-1, "payload")); err != nil {
						return
					}
				}
			}()
			seen := make(map[int64]bool)
			for range perStream {
				r, ok := <-a.rs
				if !ok {
					errs <- "stream ended early"
					return
				}
				if r.Error != nil || r.LedgerId != ledger || seen[r.EntryId] {
					errs <- r.String()
					return
				}
				seen[r.EntryId] = true
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	st := e.st.Stats()
	t.Logf("%d entries in %d syncs", st.Entries, st.Syncs)
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(string, ...any)          {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"negative entry size", Config{MaxEntrySize: -1}, false},
		{"entry size over 1 GiB", Config{MaxEntrySize: 1<<30 + 1}, false},
		{"negative in flight", Config{MaxInFlight: -1}, false},
		{"negative long poll", Config{MaxLongPoll: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

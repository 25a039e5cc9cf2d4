package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// A bookie whose data dir was wiped must not come back empty (it would answer "no such
// entry" for entries it acknowledged, which recovery counts as evidence they were never
// written). Started again with the same id it exits non-zero naming the cookie problem,
// and leaves nothing behind; with its real data dir back, it starts and serves.
func TestStorageWipedDataDirRefused(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	c := newStorageCluster(t, 1)
	b := c.bookies["bookie-1"]

	// Entries the bookie acknowledged.
	const n = 100
	id := c.writeClosed(ctx, ledger.CreateOptions{EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1}, seed, n)

	b.Stop()
	if code := b.ExitCode(); code != 0 {
		t.Fatalf("bookie exited with %d after SIGTERM, want 0", code)
	}
	cookieKey := c.store.Keys.Cookie(b.ID)
	cookieBefore, err := c.store.Get(ctx, cookieKey)
	if err != nil {
		t.Fatalf("etcd cookie of %s: %v", b.ID, err)
	}
	// Wipe the data dir (keeping the real one aside, to put it back later).
	saved := b.DataDir + ".saved"
	if err := os.Rename(b.DataDir, saved); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}

	out, code := harness.RunToExit(t, 30*time.Second, b.Args()...)
	if code == 0 || strings.Contains(out, "listening on") {
		t.Fatalf("bookie started on a wiped data dir (exit %d):\n%s", code, out)
	}
	t.Logf("refused (exit %d): %s", code, strings.TrimSpace(out))
	for _, want := range []string{"cookie check failed", `bookie "` + b.ID + `"`, "wiped", "refusing to start", cookieKey} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not say %q:\n%s", want, out)
		}
	}
	// The refusal changed nothing: no cookie in the empty dir, the same one in etcd, no
	// registration.
	if _, err := os.Stat(filepath.Join(b.DataDir, "COOKIE")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused start left a cookie in the wiped data dir: %v", err)
	}
	if v, err := c.store.Get(ctx, cookieKey); err != nil || !bytes.Equal(v.Data, cookieBefore.Data) {
		t.Fatalf("etcd cookie after the refusal: %s, %v; was %s", v.Data, err, cookieBefore.Data)
	}
	if info, err := registry.New(c.store).Lookup(ctx, b.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("refused bookie is registered: %+v, %v", info, err)
	}

	// The real data dir is accepted again: the bookie serves what it stored and takes
	// new entries.
	if err := os.RemoveAll(b.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved, b.DataDir); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	c.readBack(ctx, id, seed, n-1)
	w2, err := c.client().Create(ctx, ledger.CreateOptions{EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Append(ctx, storagePayload(seed, 0)); err != nil {
		t.Fatalf("add to the restarted bookie: %v", err)
	}
	if err := w2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.readBack(ctx, w2.ID(), seed, 0)
}

// One byte of one stored entry is flipped on a stopped bookie's disk. Restarted, that
// bookie refuses to serve the entry as data (DataLoss, CORRUPT_ENTRY) while serving its
// other entries, and the ledger client reads the right bytes from the other replica.
func TestStorageCorruptReplicaFallsBack(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	c := newStorageCluster(t, 2)
	// E2/Qw2/Qa2: every entry is on both bookies.
	const n = 200
	id := c.writeClosed(ctx, ledger.CreateOptions{EnsembleSize: 2, WriteQuorum: 2, AckQuorum: 2}, seed, n)
	m := c.meta(ctx, id)

	// Corrupt an entry on the bookie a reader asks first, so that reading it must fall
	// back. A reader reads ranges (ReadEntries) starting at entry 0 and then at
	// multiples of 64, each from the head of its first entry's write set: with E=2
	// that is the head of entry 0's write set for every range.
	entry := int64(rng.IntN(n))
	ws := m.WriteSetBookies(0)
	victim, healthy := c.bookies[ws[0]], c.bookies[ws[1]]
	victim.Stop()
	if code := victim.ExitCode(); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM, want 0", victim.ID, code)
	}
	flipStoredPayloadByte(t, victim.DataDir, id, entry, storagePayload(seed, entry), rng)
	victim.Restart()

	// Straight to the corrupted bookie: DataLoss with CORRUPT_ENTRY, never the bytes.
	raw := storageRawBookie(ctx, t, c, victim.ID)
	resp, err := raw.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: uint64(id), EntryId: entry})
	if status.Code(err) != codes.DataLoss || bookiev1.ReasonOf(err) != bookiev1.ReasonCorruptEntry {
		t.Fatalf("ReadEntry %d from %s: %v (payload %.16q); want DataLoss with reason %s",
			entry, victim.ID, err, resp.GetPayload(), bookiev1.ReasonCorruptEntry)
	}
	// Only that entry: its neighbour on the same bookie is served intact.
	other := (entry + 1) % n
	if resp, err := raw.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: uint64(id), EntryId: other}); err != nil ||
		!bytes.Equal(resp.Payload, storagePayload(seed, other)) {
		t.Fatalf("ReadEntry %d from %s: %v", other, victim.ID, err)
	}

	// Through the ledger client: every entry right, the corrupt one from the healthy
	// replica. Reads go out as ranges (ReadEntries) and single entries (ReadEntry); an
	// interceptor on the client's channels records, per bookie, whether entry came back
	// in an answer ("served") or a read that covered it came back without it ("refused":
	// DataLoss, or a range cut short before it).
	var (
		mu      sync.Mutex
		answers = map[string][]string{} // bookie id → outcomes of reads covering entry, in order
	)
	record := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		outcome := ""
		switch r := req.(type) {
		case *bookiev1.ReadEntryRequest:
			if r.EntryId == entry {
				outcome = "served"
				if err != nil {
					outcome = "refused:" + status.Code(err).String()
				}
			}
		case *bookiev1.ReadEntriesRequest:
			step := max(int64(r.Step), 1)
			if entry >= r.FirstEntryId && entry <= r.LastEntryId && (entry-r.FirstEntryId)%step == 0 {
				outcome = "refused:" + status.Code(err).String()
				if err == nil {
					for _, e := range reply.(*bookiev1.ReadEntriesResponse).Entries {
						if e.EntryId == entry {
							outcome = "served"
						}
					}
				}
			}
		}
		if outcome != "" {
			bookie := cc.Target()[strings.LastIndex(cc.Target(), "/")+1:]
			mu.Lock()
			answers[bookie] = append(answers[bookie], outcome)
			mu.Unlock()
		}
		return err
	}
	c.readBack(ctx, id, seed, n-1, func(cfg *ledger.ClientConfig) {
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithChainUnaryInterceptor(record))
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("entry %d corrupted on %s; client's reads covering it: %v", entry, victim.ID, answers)
	if len(answers[victim.ID]) == 0 {
		t.Fatalf("the reader never asked %s for entry %d: the fallback was not exercised", victim.ID, entry)
	}
	for _, o := range answers[victim.ID] {
		if o == "served" {
			t.Fatalf("%s served the corrupted entry %d: %v", victim.ID, entry, answers[victim.ID])
		}
	}
	if got := answers[healthy.ID]; len(got) == 0 || got[len(got)-1] != "served" {
		t.Fatalf("client's reads of entry %d from %s: %v; want it served", entry, healthy.ID, got)
	}
}

// flipStoredPayloadByte opens a stopped bookie's Pebble database directly and flips one
// byte of the payload of one entry, using the layout of docs/format/bookie.md: key
// 'e' | ledger (8, BE) | entry (8, BE); value: version (1) | LAC (8) | payload CRC32C (4)
// | header CRC32C (4) | payload. It first checks the record is the one the spec
// describes, holding exactly the bytes the writer sent.
func flipStoredPayloadByte(t *testing.T, dataDir string, ledgerID, entry int64, sent []byte, rng *rand.Rand) {
	t.Helper()
	db, err := pebble.Open(filepath.Join(dataDir, "ledgers"), &pebble.Options{Logger: storagePebbleLog{t}})
	if err != nil {
		t.Fatalf("open the bookie's Pebble store: %v", err)
	}
	key := make([]byte, 17)
	key[0] = 'e'
	binary.BigEndian.PutUint64(key[1:9], uint64(ledgerID))
	binary.BigEndian.PutUint64(key[9:17], uint64(entry))
	v, closer, err := db.Get(key)
	if err != nil {
		db.Close()
		t.Fatalf("entry %d of ledger %d in Pebble: %v", entry, ledgerID, err)
	}
	rec := bytes.Clone(v)
	closer.Close()
	const header = 17
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	if len(rec) < header || rec[0] != 1 || !bytes.Equal(rec[header:], sent) ||
		binary.BigEndian.Uint32(rec[9:13]) != crc32.Checksum(sent, castagnoli) {
		db.Close()
		t.Fatalf("stored record of entry %d is not a version-1 record of the sent payload: % x...", entry, rec[:min(len(rec), 32)])
	}
	i := header + rng.IntN(len(sent))
	rec[i] ^= 0xff
	if err := db.Set(key, rec, pebble.Sync); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped payload byte %d of entry %d of ledger %d in %s", i-header, entry, ledgerID, dataDir)
}

// storagePebbleLog drops Pebble's informational lines and fails the test on its errors.
type storagePebbleLog struct{ t *testing.T }

func (l storagePebbleLog) Infof(string, ...any)              {}
func (l storagePebbleLog) Errorf(format string, args ...any) { l.t.Errorf("pebble: "+format, args...) }
func (l storagePebbleLog) Fatalf(format string, args ...any) {
	l.t.Errorf("pebble fatal: "+format, args...)
}

// storageRawBookie is a plain gRPC client to a running bookie, at the address it
// registered in etcd.
func storageRawBookie(ctx context.Context, t *testing.T, c *storageCluster, id string) bookiev1.BookieClient {
	t.Helper()
	info, err := registry.New(c.store).Lookup(ctx, id)
	if err != nil {
		t.Fatalf("registration of %s: %v", id, err)
	}
	cc, err := grpc.NewClient(info.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return bookiev1.NewBookieClient(cc)
}

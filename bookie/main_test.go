package bookie

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/bookie/store"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const failsafe = 30 * time.Second

func testCtx(t *testing.T) context.Context { return testenv.Context(t, failsafe) }

func etcd(t *testing.T) *metadata.Store {
	md, _ := metadatatest.Store(t, "/test")
	return md
}

// baseConfig is a bookie on a loopback port with a fixed id, a fresh data dir, and a
// disk that is never full.
func baseConfig(t *testing.T, md *metadata.Store) Config {
	return Config{
		ID:         "bookie-1",
		DataDir:    t.TempDir(),
		ListenAddr: "127.0.0.1:0",
		Metadata:   md,
		LeaseTTL:   time.Second,
		DiskUsage:  func(string) (float64, error) { return 0.5, nil },
	}
}

func startBookie(t *testing.T, cfg Config) *Bookie {
	t.Helper()
	b, err := Start(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func client(t *testing.T, addr string) bookiev1.BookieClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return bookiev1.NewBookieClient(conn)
}

// add writes one entry through a fresh AddEntries stream and returns the response's
// reason ("" when stored).
func add(t *testing.T, c bookiev1.BookieClient, ledger uint64, entry int64, payload string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	s, err := c.AddEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := []byte(payload)
	if err := s.Send(&bookiev1.AddRequest{LedgerId: ledger, EntryId: entry, Lac: entry - 1, Payload: p, Crc32C: store.Checksum(p)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if r.Error == nil {
		return ""
	}
	return r.Error.Reason
}

// waitRegistration waits, through an etcd watch, until the bookie's registration is
// exactly the wanted one: "rw", "ro", or "" for none. It returns the registration.
func waitRegistration(t *testing.T, md *metadata.Store, id, want string) registry.Info {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rw, ro := md.Keys.BookieAvailable(id, false), md.Keys.BookieAvailable(id, true)
	vals, rev, err := md.List(ctx, md.Keys.BookiesAvailable())
	if err != nil {
		t.Fatal(err)
	}
	present := make(map[string]bool)
	for _, v := range vals {
		present[v.Key] = true
	}
	events := md.Watch(ctx, md.Keys.BookiesAvailable(), rev+1)
	for {
		got := ""
		switch {
		case present[rw] && present[ro]:
			got = "both"
		case present[rw]:
			got = "rw"
		case present[ro]:
			got = "ro"
		}
		if got == want {
			break
		}
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("registration of %s is %q, want %q", id, got, want)
			}
			switch ev.Type {
			case metadata.EventPut:
				present[ev.Value.Key] = true
			case metadata.EventDelete:
				delete(present, ev.Value.Key)
			case metadata.EventReset:
				clear(present)
				for _, v := range ev.Snapshot {
					present[v.Key] = true
				}
			}
		case <-ctx.Done():
			t.Fatalf("registration of %s is %q, want %q", id, got, want)
		}
	}
	if want == "" {
		return registry.Info{}
	}
	in, err := registry.New(md).Lookup(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func clientLeaseID(id int64) clientv3.LeaseID { return clientv3.LeaseID(id) }

package store

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every wait in these tests; reaching it is a failure, not a path.
const failsafe = 30 * time.Second

func testCtx(t *testing.T) context.Context { return testenv.Context(t, failsafe) }

func openMem(t *testing.T) (*Store, vfs.FS) {
	t.Helper()
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fs
}

func mkAdd(ledger uint64, entry, lac int64, payload string) Add {
	p := []byte(payload)
	return Add{Ledger: ledger, Entry: entry, LAC: lac, Payload: p, CRC32C: Checksum(p)}
}

func mustAdd(t *testing.T, s *Store, a Add) {
	t.Helper()
	if err := s.Add(testCtx(t), a); err != nil {
		t.Fatalf("add %d/%d: %v", a.Ledger, a.Entry, err)
	}
}

// syncGate is an errorfs injector that counts WAL syncs and, when armed, holds the next
// one until released: a test can then queue ops while the pipeline is known to be
// inside a sync, which makes group commit and crash points deterministic.
type syncGate struct {
	mu      sync.Mutex
	syncs   int
	armed   bool
	held    chan struct{} // closed when the armed sync has been reached
	release chan struct{}
}

func (g *syncGate) String() string { return "syncGate" }

func (g *syncGate) MaybeError(op errorfs.Op) error {
	switch op.Kind {
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
	default:
		return nil
	}
	if len(op.Path) < 4 || op.Path[len(op.Path)-4:] != ".log" {
		return nil
	}
	g.mu.Lock()
	g.syncs++
	armed, held, release := g.armed, g.held, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(held)
		<-release
	}
	return nil
}

// arm makes the next WAL sync wait for release; it returns (reached, release).
func (g *syncGate) arm() (reached <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
	g.held = make(chan struct{})
	g.release = make(chan struct{})
	rel := g.release
	var once sync.Once
	return g.held, func() { once.Do(func() { close(rel) }) }
}

func (g *syncGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncs
}

func waitCh(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(failsafe):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// addResult collects an AddAsync outcome.
type addResult chan error

func addAsync(s *Store, a Add) addResult {
	ch := make(addResult, 1)
	s.AddAsync(a, func(err error) { ch <- err })
	return ch
}

func (r addResult) get(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r:
		return err
	case <-time.After(failsafe):
		t.Fatal("timed out waiting for an add")
		return nil
	}
}

func (r addResult) pending() bool {
	select {
	case err := <-r:
		r <- err
		return false
	default:
		return true
	}
}

func errorfsWrap(fs vfs.FS, g *syncGate) vfs.FS { return errorfs.Wrap(fs, g) }

// discard returns a pebble logger that drops everything.
func (pebbleLogger) discard() pebbleLogger {
	return pebbleLogger{slog.New(slog.DiscardHandler)}
}

package bookie

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-io/strata/bookie/store"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

func walFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestJournalDir: with Config.JournalDir the store's WAL lives there, the bookie
// restarts on it with its entries, and a journal dir that was swapped for an empty one
// makes the bookie refuse to start.
func TestJournalDir(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.JournalDir = t.TempDir()
	b := startBookie(t, cfg)
	if got := add(t, client(t, b.Addr()), 1, 0, "journaled"); got != "" {
		t.Fatal(got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(walFiles(t, cfg.JournalDir)) == 0 {
		t.Fatalf("no WAL in the journal dir %s", cfg.JournalDir)
	}
	if logs := walFiles(t, filepath.Join(cfg.DataDir, storeDirName)); len(logs) != 0 {
		t.Fatalf("WALs in the data dir: %v", logs)
	}

	b = startBookie(t, cfg)
	r, err := client(t, b.Addr()).ReadEntry(testCtx(t), &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0})
	if err != nil || string(r.Payload) != "journaled" {
		t.Fatalf("entry after restart: %v %v", r, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// A new, empty disk in the journal's place.
	if err := os.RemoveAll(cfg.JournalDir); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(testCtx(t), cfg); !errors.Is(err, store.ErrJournalMismatch) {
		t.Fatalf("start on a wiped journal dir: %v", err)
	}
	// Dropping the journal dir from the configuration is refused as well (by Pebble).
	cfg.JournalDir = ""
	if _, err := Start(testCtx(t), cfg); err == nil || !strings.Contains(err.Error(), "WAL") {
		t.Fatalf("start without the journal dir the store was written with: %v", err)
	}
}

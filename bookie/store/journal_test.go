package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func logFiles(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			logs = append(logs, n)
		}
	}
	return logs
}

func checkEntries(t *testing.T, s *Store, ledger uint64, n int64) {
	t.Helper()
	for e := int64(0); e < n; e++ {
		if got, err := s.Read(ledger, e); err != nil || string(got.Payload) != fmt.Sprint("entry ", e) {
			t.Fatalf("ledger %d entry %d: %q %v", ledger, e, got.Payload, err)
		}
	}
}

func addEntries(t *testing.T, s *Store, ledger uint64, from, to int64) {
	t.Helper()
	for e := from; e < to; e++ {
		mustAdd(t, s, mkAdd(ledger, e, e-1, fmt.Sprint("entry ", e)))
	}
}

// TestJournalDir: with a WALDir the WAL is written there (and only there), survives a
// crash that keeps only synced data, and the store refuses a journal directory that was
// wiped or belongs to another store.
func TestJournalDir(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: mem, WALDir: "journal"})
	if err != nil {
		t.Fatal(err)
	}
	addEntries(t, s, 1, 0, 20)
	if logs := logFiles(t, mem, "journal"); len(logs) == 0 {
		t.Fatal("no WAL in the journal directory")
	}
	if logs := logFiles(t, mem, "db"); len(logs) != 0 {
		t.Fatalf("WALs in the store directory: %v", logs)
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("crash keeps acknowledged", func(t *testing.T) {
		s, err := Open("db", Options{FS: crashed, WALDir: "journal"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkEntries(t, s, 1, 20)
	})
	t.Run("another store's journal", func(t *testing.T) {
		other, err := Open("db2", Options{FS: mem, WALDir: "journal2"})
		if err != nil {
			t.Fatal(err)
		}
		other.Close()
		if _, err := Open("db", Options{FS: mem, WALDir: "journal2"}); !errors.Is(err, ErrJournalMismatch) {
			t.Fatalf("open with another store's journal: %v", err)
		}
	})
	t.Run("new store on another store's journal", func(t *testing.T) {
		if _, err := Open("db4", Options{FS: mem, WALDir: "journal2"}); !errors.Is(err, ErrJournalMismatch) {
			t.Fatalf("a new store on a journal holding another store's WALs: %v", err)
		}
	})
	t.Run("wiped journal", func(t *testing.T) {
		if err := mem.RemoveAll("journal"); err != nil {
			t.Fatal(err)
		}
		if _, err := Open("db", Options{FS: mem, WALDir: "journal"}); !errors.Is(err, ErrJournalMismatch) {
			t.Fatalf("open with a wiped journal: %v", err)
		}
	})
	t.Run("journal dropped from the options", func(t *testing.T) {
		s, err := Open("db3", Options{FS: mem, WALDir: "journal3"})
		if err != nil {
			t.Fatal(err)
		}
		addEntries(t, s, 1, 0, 3)
		s.Close()
		if _, err := Open("db3", Options{FS: mem}); err == nil || !strings.Contains(err.Error(), "WAL") {
			t.Fatalf("open without the journal directory it was written with: %v", err)
		}
	})
}

// TestJournalDirAdded: a store that ran without a WALDir can be given one; the entries in
// its old WALs (never flushed to sstables) are recovered from the store directory.
func TestJournalDirAdded(t *testing.T) {
	mem := vfs.NewMem()
	s, err := Open("db", Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	addEntries(t, s, 1, 0, 10)
	s.Close()
	if logs := logFiles(t, mem, "db"); len(logs) == 0 {
		t.Fatal("expected unflushed WALs in the store directory")
	}

	s, err = Open("db", Options{FS: mem, WALDir: "journal"})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, s, 1, 10)
	addEntries(t, s, 1, 10, 20)
	s.Close()

	s, err = Open("db", Options{FS: mem, WALDir: "journal"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkEntries(t, s, 1, 20)
	if st, _ := s.State(1); st != (LedgerState{LAC: 18, LastEntry: 19}) {
		t.Fatalf("state %+v", st)
	}
}

// TestJournalMarkerFormat pins the marker's on-disk form (docs/format/bookie.md): a store
// whose two markers hold the same documented line opens; one whose journal holds another
// token is refused.
func TestJournalMarkerFormat(t *testing.T) {
	mem := vfs.NewMem()
	s, err := Open("db", Options{FS: mem, WALDir: "journal"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	const line = "strata-journal v1 00112233445566778899aabbccddeeff\n"
	for _, dir := range []string{"db", "journal"} {
		writeRaw(t, mem, mem.PathJoin(dir, journalMarkerFile), line)
	}
	s, err = Open("db", Options{FS: mem, WALDir: "journal"})
	if err != nil {
		t.Fatalf("open with the documented marker: %v", err)
	}
	s.Close()
	writeRaw(t, mem, mem.PathJoin("journal", journalMarkerFile), "strata-journal v1 ffeeddccbbaa99887766554433221100\n")
	if _, err := Open("db", Options{FS: mem, WALDir: "journal"}); !errors.Is(err, ErrJournalMismatch) {
		t.Fatalf("open with another token in the journal: %v", err)
	}
}

func writeRaw(t *testing.T, fs vfs.FS, path, content string) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

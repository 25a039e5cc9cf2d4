package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A separate journal directory (Options.WALDir) holds Pebble's write-ahead log, and with
// it every acknowledged entry not yet flushed to an sstable. A journal disk that was
// wiped or swapped would therefore lose acknowledged entries silently: Pebble replays
// the WALs it finds and cannot know that some are missing. So the store ties the two
// directories together with a marker file holding the same random token in both (the
// journal's counterpart of the bookie's cookie), and refuses to open when they differ.
// The format is in docs/format/bookie.md ("Journal directory").

// journalMarkerFile is the marker's name in the store's and the journal's directory.
const journalMarkerFile = "STRATA-JOURNAL"

const journalMarkerPrefix = "strata-journal v1 "

// ErrJournalMismatch: the journal directory is not the one the store was written with.
var ErrJournalMismatch = errors.New("store: journal directory does not belong to this store")

// checkJournalDir checks (or, on the first open with a journal directory, writes) the
// markers that tie the store in dir to its journal directory walDir.
func checkJournalDir(fsys vfs.FS, dir, walDir string) error {
	for _, d := range []string{dir, walDir} {
		if err := fsys.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	mine, err := readJournalMarker(fsys, fsys.PathJoin(dir, journalMarkerFile))
	if err != nil {
		return err
	}
	theirs, err := readJournalMarker(fsys, fsys.PathJoin(walDir, journalMarkerFile))
	if err != nil {
		return err
	}
	switch {
	case mine != "" && theirs == "":
		return fmt.Errorf("%w: %s has no %s but the store was written with a journal directory (was the journal disk wiped or replaced? the WALs it held would be lost)",
			ErrJournalMismatch, walDir, journalMarkerFile)
	case mine != "" && theirs != mine:
		return fmt.Errorf("%w: %s holds the journal of another store (%q, this store's is %q)",
			ErrJournalMismatch, walDir, theirs, mine)
	case mine != "":
		return nil
	}
	// The first open with this journal directory: a new store, or one that ran without
	// a journal directory so far (its WALs are in dir, which Open also scans). A journal
	// directory that already holds WALs belongs to another store: Pebble would replay
	// them into this one. (A marker alone is what a crash between the two writes below
	// leaves — the journal's goes first — and is overwritten.)
	names, err := fsys.List(walDir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			return fmt.Errorf("%w: %s holds WALs (%s) but this store has never used it", ErrJournalMismatch, walDir, n)
		}
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return err
	}
	content := journalMarkerPrefix + hex.EncodeToString(token)
	if err := writeFileSynced(fsys, walDir, journalMarkerFile, content); err != nil {
		return err
	}
	return writeFileSynced(fsys, dir, journalMarkerFile, content)
}

// readJournalMarker returns the marker's token line, or "" when there is none.
func readJournalMarker(fsys vfs.FS, path string) (string, error) {
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return "", fmt.Errorf("store: read %s: %w", path, err)
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, journalMarkerPrefix) {
		return "", fmt.Errorf("%w: %s is not a journal marker", ErrJournalMismatch, path)
	}
	return s, nil
}

// writeFileSynced writes dir/name through a temporary file, fsyncs it, renames it into
// place and fsyncs dir.
func writeFileSynced(fsys vfs.FS, dir, name, content string) error {
	tmp := fsys.PathJoin(dir, name+".tmp")
	f, err := fsys.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, content+"\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, fsys.PathJoin(dir, name)); err != nil {
		return err
	}
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

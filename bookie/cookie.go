package bookie

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/strata-io/strata/metadata"
)

// The cookie is a bookie's identity, kept in two places: the data dir (DataDir/COOKIE)
// and etcd (Keys.Cookie(id)). Both are written once, when the bookie first starts, with
// a random instance id. At every start they must agree; if they do not, the data dir is
// not the one this bookie acknowledged entries from, and serving it could deny entries
// that quorums rely on. Format and rules: docs/format/bookie.md.

const (
	cookieFile    = "COOKIE"
	storeDirName  = "ledgers"
	cookieVersion = 1
)

// ErrCookie: the data dir and etcd disagree about the bookie's identity; the bookie
// refuses to start. The message says which case it is and what an operator can do.
var ErrCookie = errors.New("bookie: cookie check failed")

type cookie struct {
	FormatVersion int    `json:"formatVersion"`
	BookieID      string `json:"bookieId"`
	InstanceID    string `json:"instanceId"`
}

func (c cookie) same(o cookie) bool { return c.BookieID == o.BookieID && c.InstanceID == o.InstanceID }

func parseCookie(b []byte, where string) (cookie, error) {
	var c cookie
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: cookie in %s is unreadable: %v", ErrCookie, where, err)
	}
	if c.FormatVersion != cookieVersion || c.BookieID == "" || c.InstanceID == "" {
		return c, fmt.Errorf("%w: cookie in %s has unknown version %d or missing fields", ErrCookie, where, c.FormatVersion)
	}
	return c, nil
}

// checkCookie verifies (or, for a new bookie, creates) the cookie pair. See the table
// in docs/format/bookie.md.
func checkCookie(ctx context.Context, md *metadata.Store, id, dataDir string, log *slog.Logger) error {
	path := filepath.Join(dataDir, cookieFile)
	key := md.Keys.Cookie(id)

	var disk cookie
	diskFound := false
	switch b, err := os.ReadFile(path); {
	case err == nil:
		if disk, err = parseCookie(b, path); err != nil {
			return err
		}
		diskFound = true
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("bookie %s: read cookie: %w", id, err)
	}
	var remote cookie
	remoteFound := false
	switch v, err := md.Get(ctx, key); {
	case err == nil:
		if remote, err = parseCookie(v.Data, "etcd key "+key); err != nil {
			return err
		}
		remoteFound = true
	case !errors.Is(err, metadata.ErrNotFound):
		return fmt.Errorf("bookie %s: read cookie from etcd: %w", id, err)
	}
	hasStore, err := dirHasEntries(filepath.Join(dataDir, storeDirName))
	if err != nil {
		return fmt.Errorf("bookie %s: %w", id, err)
	}

	if diskFound && disk.BookieID != id {
		return fmt.Errorf("%w: data dir %s belongs to bookie %q, not to bookie %q; refusing to start", ErrCookie, dataDir, disk.BookieID, id)
	}
	switch {
	case diskFound && remoteFound:
		if disk.same(remote) {
			return nil
		}
		return fmt.Errorf("%w: bookie %q: the cookie in data dir %s (instance %s) differs from the one in etcd at %s (instance %s): "+
			"the data dir was wiped and re-created, or belongs to another bookie; refusing to start, as it could deny entries this bookie acknowledged",
			ErrCookie, id, dataDir, disk.InstanceID, key, remote.InstanceID)

	case remoteFound:
		return fmt.Errorf("%w: bookie %q is known to etcd (cookie at %s, instance %s) but data dir %s has no cookie: "+
			"the data dir was wiped or belongs to another bookie; refusing to start, as an empty bookie would deny entries it acknowledged. "+
			"If this bookie's data is really lost and its ledgers were re-replicated, delete %s to start it as a new bookie",
			ErrCookie, id, key, remote.InstanceID, dataDir, key)

	case diskFound && hasStore:
		return fmt.Errorf("%w: bookie %q: data dir %s has a cookie (instance %s) but etcd has none at %s: "+
			"the metadata was reset or this data dir belongs to another cluster; refusing to start. "+
			"To start afresh, empty the data dir (its ledgers are unknown to this cluster)",
			ErrCookie, id, dataDir, disk.InstanceID, key)

	case diskFound:
		// The store is only created after both cookies exist, so a disk cookie without a
		// store means the first start stopped between writing the two: finish it.
		log.Info("bookie: completing the first start's cookie registration", "instance", disk.InstanceID)
		return createRemoteCookie(ctx, md, key, disk, path)

	case hasStore:
		return fmt.Errorf("%w: bookie %q: data dir %s holds a store but no cookie, and etcd has none: refusing to adopt it; empty the data dir to start a new bookie",
			ErrCookie, id, dataDir)
	}

	// A new bookie: disk first, then etcd.
	c := cookie{FormatVersion: cookieVersion, BookieID: id, InstanceID: newInstanceID()}
	if err := writeDiskCookie(path, c); err != nil {
		return fmt.Errorf("bookie %s: write cookie: %w", id, err)
	}
	log.Info("bookie: new bookie, cookie written", "instance", c.InstanceID)
	return createRemoteCookie(ctx, md, key, c, path)
}

// createRemoteCookie puts c into etcd if absent. Losing that race to another process
// with the same id is a refusal (and our disk cookie, never vouched for, is removed).
func createRemoteCookie(ctx context.Context, md *metadata.Store, key string, c cookie, path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := md.Create(ctx, key, data); err == nil {
		return nil
	} else if !errors.Is(err, metadata.ErrExists) {
		return fmt.Errorf("bookie %s: write cookie to etcd: %w", c.BookieID, err)
	}
	v, err := md.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("bookie %s: read cookie from etcd: %w", c.BookieID, err)
	}
	if remote, err := parseCookie(v.Data, "etcd key "+key); err == nil && remote.same(c) {
		return nil
	}
	os.Remove(path)
	return fmt.Errorf("%w: bookie %q: another process registered a cookie for this id at %s while this one started; refusing to start", ErrCookie, c.BookieID, key)
}

func newInstanceID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeDiskCookie writes the cookie durably: a temporary file, fsynced, renamed into
// place, and the directory fsynced so the rename itself survives a crash.
func writeDiskCookie(path string, c cookie) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
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
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func dirHasEntries(dir string) (bool, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(es) > 0, nil
}

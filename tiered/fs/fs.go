// Package fs is the tiered.ObjectStore on a local filesystem: the standalone default, and
// the store to reach for when the offload target is a mounted volume.
//
// Layout under the root directory:
//
//	objects/<key>   one regular file per object; "/" in a key is a directory level, so
//	                the tree reads like versitygw's POSIX backend and `ls` shows the bucket
//	tmp/            uploads in progress (put-*), renamed into objects/ when complete
//
// A Put writes the body into a temporary file in tmp/, fsyncs it, renames it over
// objects/<key> and fsyncs the directory that received it: after a crash the key holds
// the old or the new object, never a prefix, and a Put that returned nil survives. tmp/
// and objects/ are on one filesystem, so the rename is atomic. Files left in tmp/ by a
// crash are never read; New removes them.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-io/strata/tiered"
)

// Store keeps objects as files under a root directory. It holds no locks: the kernel's
// rename is the only synchronisation a Put needs, and distinct keys are distinct files.
// One process owns a root at a time (New clears tmp/).
type Store struct {
	objects string // root/objects
	tmp     string // root/tmp
}

var _ tiered.ObjectStore = (*Store)(nil)

// New opens (creating if needed) a store rooted at dir and removes uploads a crashed
// process left in dir/tmp.
func New(dir string) (*Store, error) {
	s := &Store{objects: filepath.Join(dir, "objects"), tmp: filepath.Join(dir, "tmp")}
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("fs: clear %s: %w", s.tmp, err)
	}
	for _, d := range []string{s.objects, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("fs: %w", err)
		}
	}
	return s, nil
}

func (s *Store) path(key string) (string, error) {
	if err := tiered.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.objects, filepath.FromSlash(key)), nil
}

// Put implements tiered.ObjectStore.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) (err error) {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return fmt.Errorf("fs: put %q: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("fs: put %q: %w", key, err)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, body}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// New directories made by MkdirAll are made durable by this and by the fsync of each
	// parent up to objects/; fsyncing only the final directory would leave a new
	// intermediate directory's entry to the kernel's mercy.
	for d := dir; ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			return err
		}
		if d == s.objects || len(d) <= len(s.objects) {
			return nil
		}
	}
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// GetRange implements tiered.ObjectStore.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := openObject(path, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fs: %w", err)
	}
	size := st.Size()
	if length <= 0 || off < 0 || off >= size {
		return nil, fmt.Errorf("%w: %q [%d, +%d) of %d bytes", tiered.ErrInvalidRange, key, off, length, size)
	}
	buf := make([]byte, min(length, size-off))
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("fs: read %q: %w", key, err)
	}
	return buf, nil
}

// openObject opens the file of an object; anything that is not a regular file (a
// directory standing for a key prefix) is not an object.
func openObject(path, key string) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDir) {
		return nil, fmt.Errorf("%w: %q", tiered.ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("fs: %w", err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %q", tiered.ErrNotFound, key)
	}
	return f, nil
}

// Stat implements tiered.ObjectStore.
func (s *Store) Stat(ctx context.Context, key string) (tiered.ObjectInfo, error) {
	path, err := s.path(key)
	if err != nil {
		return tiered.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return tiered.ObjectInfo{}, err
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDir) || (err == nil && !st.Mode().IsRegular()) {
		return tiered.ObjectInfo{}, fmt.Errorf("%w: %q", tiered.ErrNotFound, key)
	}
	if err != nil {
		return tiered.ObjectInfo{}, fmt.Errorf("fs: %w", err)
	}
	return tiered.ObjectInfo{Key: key, Size: st.Size()}, nil
}

// List implements tiered.ObjectStore. It walks the smallest directory that holds every
// key with the prefix, then sorts: a directory walk orders "a/b" by the name "a", which is
// not the byte order of the keys ("a.x" < "a/b").
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[tiered.ObjectInfo, error] {
	return func(yield func(tiered.ObjectInfo, error) bool) {
		start := s.objects
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			start = filepath.Join(s.objects, filepath.FromSlash(prefix[:i]))
		}
		var infos []tiered.ObjectInfo
		err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if path == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDir)) {
					return fs.SkipAll // no such prefix directory: nothing to list
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(s.objects, path)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			if !strings.HasPrefix(key, prefix) {
				return nil
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walked
			}
			if err != nil {
				return err
			}
			infos = append(infos, tiered.ObjectInfo{Key: key, Size: info.Size()})
			return nil
		})
		if err != nil {
			yield(tiered.ObjectInfo{}, fmt.Errorf("fs: list %q: %w", prefix, err))
			return
		}
		slices.SortFunc(infos, func(a, b tiered.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Delete implements tiered.ObjectStore. It also removes the directories the key's removal
// leaves empty, so that a later key may use their names.
func (s *Store) Delete(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		return nil // a key prefix, not an object
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDir) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fs: delete %q: %w", key, err)
	}
	// Remove fails on a directory that is not empty (another key lives there, or a Put is
	// creating one), which ends the climb; a racing Put's MkdirAll+Rename may then fail
	// and be retried by its caller, as with any store error.
	for d := filepath.Dir(path); d != s.objects && len(d) > len(s.objects); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fs: delete %q: %w", key, err)
	}
	return nil
}

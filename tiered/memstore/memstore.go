// Package memstore is an in-memory tiered.ObjectStore for unit tests. It keeps the same
// contract as the real stores (tieredtest checks all of them), so code tested against it
// behaves the same on the filesystem and on S3.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/strata-io/strata/tiered"
)

// Store holds objects in a map. A Put copies the body in before it takes the lock, so a
// reader never sees a partial object; returned slices are copies the caller may keep.
type Store struct {
	mu      sync.Mutex
	objects map[string][]byte // key → contents; an entry is never mutated, only replaced
}

// New returns an empty store.
func New() *Store { return &Store{objects: make(map[string][]byte)} }

var _ tiered.ObjectStore = (*Store)(nil)

// Put implements tiered.ObjectStore.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) error {
	if err := tiered.CheckKey(key); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, body); err != nil {
		return fmt.Errorf("memstore: put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.objects[key] = buf.Bytes()
	s.mu.Unlock()
	return nil
}

// GetRange implements tiered.ObjectStore.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	obj, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	if length <= 0 || off < 0 || off >= int64(len(obj)) {
		return nil, fmt.Errorf("%w: %q [%d, +%d) of %d bytes", tiered.ErrInvalidRange, key, off, length, len(obj))
	}
	end := min(off+length, int64(len(obj)))
	return bytes.Clone(obj[off:end]), nil
}

// Stat implements tiered.ObjectStore.
func (s *Store) Stat(ctx context.Context, key string) (tiered.ObjectInfo, error) {
	obj, err := s.get(ctx, key)
	if err != nil {
		return tiered.ObjectInfo{}, err
	}
	return tiered.ObjectInfo{Key: key, Size: int64(len(obj))}, nil
}

func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	if err := tiered.CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	obj, ok := s.objects[key]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", tiered.ErrNotFound, key)
	}
	return obj, nil
}

// List implements tiered.ObjectStore. It lists a snapshot taken when iteration starts.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[tiered.ObjectInfo, error] {
	return func(yield func(tiered.ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(tiered.ObjectInfo{}, err)
			return
		}
		var infos []tiered.ObjectInfo
		s.mu.Lock()
		for k, v := range s.objects {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, tiered.ObjectInfo{Key: k, Size: int64(len(v))})
			}
		}
		s.mu.Unlock()
		slices.SortFunc(infos, func(a, b tiered.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Delete implements tiered.ObjectStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := tiered.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return nil
}

// Corrupt flips the bits of mask in the byte at off of the object at key, as a damaged disk
// or a faulty server would. It is for tests of the readers' checksums.
func (s *Store) Corrupt(key string, off int64, mask byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[key]
	if !ok {
		return fmt.Errorf("%w: %q", tiered.ErrNotFound, key)
	}
	if off < 0 || off >= int64(len(obj)) {
		return fmt.Errorf("%w: offset %d of %d bytes", tiered.ErrInvalidRange, off, len(obj))
	}
	obj = bytes.Clone(obj)
	obj[off] ^= mask
	s.objects[key] = obj
	return nil
}

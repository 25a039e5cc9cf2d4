// Package tieredtest is the conformance suite for tiered.ObjectStore: every store (memory,
// filesystem, S3 against versitygw and gofakes3) runs Run, so they all keep one contract.
package tieredtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
)

// Options tune the suite to a store.
type Options struct {
	// LargeSize is the size of the object that must go through a multipart upload (or the
	// store's equivalent). Default: 2 × 5 MiB + 10 bytes, above S3's 5 MiB minimum part.
	LargeSize int64
	// Failsafe bounds each subtest. Default: 2 minutes.
	Failsafe time.Duration
}

// Run runs the conformance suite. newStore returns a store with no objects in it; it is
// called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) tiered.ObjectStore, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 2*5<<20 + 10
	}
	if opts.Failsafe == 0 {
		opts.Failsafe = 2 * time.Minute
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, s tiered.ObjectStore, opts Options)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Ranges", testRanges},
		{"NotFound", testNotFound},
		{"List", testList},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"FailedPutLeavesPreviousState", testFailedPut},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Large", testLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, opts.Failsafe)
			tc.fn(t, ctx, newStore(t), opts)
		})
	}
}

func randomBytes(r *rand.Rand, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, ctx context.Context, s tiered.ObjectStore, key string, data []byte) {
	t.Helper()
	if err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// getAll reads the whole object back with Stat and one GetRange.
func getAll(t *testing.T, ctx context.Context, s tiered.ObjectStore, key string) []byte {
	t.Helper()
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.Key != key {
		t.Fatalf("Stat(%q).Key = %q", key, info.Key)
	}
	if info.Size == 0 {
		return []byte{}
	}
	b, err := s.GetRange(ctx, key, 0, info.Size)
	if err != nil {
		t.Fatalf("GetRange(%q, 0, %d): %v", key, info.Size, err)
	}
	return b
}

func assertEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
	}
}

func testRoundTrip(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	r := testenv.Rand(t)
	for _, n := range []int64{0, 1, 1000, 64<<10 + 3} {
		key := fmt.Sprintf("round/trip-%d", n)
		data := randomBytes(r, n)
		put(t, ctx, s, key, data)
		assertEqual(t, key, getAll(t, ctx, s, key), data)
	}
	// Every byte value, in a key with the characters keys may hold.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := "odd chars/ä+b=c,d;e@f~g.h_i-j(k)!'*"
	put(t, ctx, s, key, all)
	assertEqual(t, key, getAll(t, ctx, s, key), all)
}

func testOverwrite(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	put(t, ctx, s, "k", []byte("the first, longer version"))
	put(t, ctx, s, "k", []byte("second"))
	assertEqual(t, "overwritten object", getAll(t, ctx, s, "k"), []byte("second"))
}

func testRanges(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	data := randomBytes(testenv.Rand(t), 1000)
	put(t, ctx, s, "r", data)
	for _, tc := range []struct{ off, length, wantEnd int64 }{
		{0, 1, 1},
		{999, 1, 1000},
		{0, 1000, 1000},
		{1, 998, 999},
		{500, 10_000, 1000}, // cut short at the end
		{999, 2, 1000},
	} {
		got, err := s.GetRange(ctx, "r", tc.off, tc.length)
		if err != nil {
			t.Fatalf("GetRange(%d, %d): %v", tc.off, tc.length, err)
		}
		assertEqual(t, fmt.Sprintf("GetRange(%d, %d)", tc.off, tc.length), got, data[tc.off:tc.wantEnd])
	}
	for _, tc := range []struct{ off, length int64 }{{1000, 1}, {5000, 10}, {0, 0}, {-1, 5}, {10, -1}} {
		if _, err := s.GetRange(ctx, "r", tc.off, tc.length); !errors.Is(err, tiered.ErrInvalidRange) {
			t.Errorf("GetRange(%d, %d) = %v, want ErrInvalidRange", tc.off, tc.length, err)
		}
	}
	put(t, ctx, s, "empty", nil)
	if _, err := s.GetRange(ctx, "empty", 0, 1); !errors.Is(err, tiered.ErrInvalidRange) {
		t.Errorf("GetRange of an empty object = %v, want ErrInvalidRange", err)
	}
}

func testNotFound(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	put(t, ctx, s, "present/x", []byte("x"))
	for _, key := range []string{"absent", "present", "present/x/y", "present/xx"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, tiered.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, tiered.ErrNotFound) {
			t.Errorf("GetRange(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func list(t *testing.T, ctx context.Context, s tiered.ObjectStore, prefix string) []tiered.ObjectInfo {
	t.Helper()
	var out []tiered.ObjectInfo
	for info, err := range s.List(ctx, prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		out = append(out, info)
	}
	return out
}

func testList(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	// Prefix-free at "/" (see tiered.ObjectStore), with neighbours that sort around "/".
	sizes := map[string]int{"a1": 1, "a/b": 2, "a/c/d": 3, "a/c/e": 4, "ab": 5, "b/x": 6, "b.x": 7}
	for k, n := range sizes {
		put(t, ctx, s, k, bytes.Repeat([]byte{'z'}, n))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a/b", "a/c/d", "a/c/e", "a1", "ab", "b.x", "b/x"}},
		{"a", []string{"a/b", "a/c/d", "a/c/e", "a1", "ab"}},
		{"a/", []string{"a/b", "a/c/d", "a/c/e"}},
		{"a/c", []string{"a/c/d", "a/c/e"}},
		{"a/c/", []string{"a/c/d", "a/c/e"}},
		{"a/c/d", []string{"a/c/d"}},
		{"b", []string{"b.x", "b/x"}},
		{"b/", []string{"b/x"}},
		{"zzz", nil},
		{"a/b/", nil},
	} {
		var keys []string
		for _, info := range list(t, ctx, s, tc.prefix) {
			keys = append(keys, info.Key)
			if info.Size != int64(sizes[info.Key]) {
				t.Errorf("List(%q): %q has size %d, want %d", tc.prefix, info.Key, info.Size, sizes[info.Key])
			}
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, keys, tc.want)
		}
	}
	// Stopping early is allowed.
	for range s.List(ctx, "") {
		break
	}
}

func testDelete(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	put(t, ctx, s, "d/1", []byte("one"))
	put(t, ctx, s, "d/2", []byte("two"))
	for range 2 { // the second time deletes nothing and still succeeds
		if err := s.Delete(ctx, "d/1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Fatalf("Delete of a key never put: %v", err)
	}
	if _, err := s.Stat(ctx, "d/1"); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if got := list(t, ctx, s, "d/"); len(got) != 1 || got[0].Key != "d/2" {
		t.Fatalf("List after Delete = %v, want only d/2", got)
	}
	assertEqual(t, "untouched neighbour", getAll(t, ctx, s, "d/2"), []byte("two"))

	// Once "p/q" is gone, "p" may name an object (no directory is left in the way).
	put(t, ctx, s, "p/q", []byte("q"))
	if err := s.Delete(ctx, "p/q"); err != nil {
		t.Fatal(err)
	}
	put(t, ctx, s, "p", []byte("p"))
	assertEqual(t, "object where a deleted one's parent was", getAll(t, ctx, s, "p"), []byte("p"))
}

func testInvalidKeys(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	for _, key := range []string{"", "/abs", "a//b", "a/../b", "..", "a/.", "nul\x00", "back\\slash", "trailing/"} {
		if err := s.Put(ctx, key, bytes.NewReader([]byte("x"))); !errors.Is(err, tiered.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, tiered.ErrInvalidKey) {
			t.Errorf("GetRange(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, tiered.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, tiered.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if got := list(t, ctx, s, ""); len(got) != 0 {
		t.Fatalf("invalid keys left objects behind: %v", got)
	}
}

// failingReader returns n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, ctx context.Context, s tiered.ObjectStore, opts Options) {
	boom := errors.New("source failed")
	for _, n := range []int{0, 100, int(opts.LargeSize)} {
		if err := s.Put(ctx, "fresh", &failingReader{n: n, err: boom}); err == nil {
			t.Fatalf("Put with a body failing after %d bytes succeeded", n)
		}
		if _, err := s.Stat(ctx, "fresh"); !errors.Is(err, tiered.ErrNotFound) {
			t.Fatalf("after a failed Put (%d bytes in), Stat = %v, want ErrNotFound", n, err)
		}
	}
	put(t, ctx, s, "kept", []byte("old"))
	if err := s.Put(ctx, "kept", &failingReader{n: 10, err: boom}); err == nil {
		t.Fatal("failing Put over an existing object succeeded")
	}
	assertEqual(t, "object after a failed overwrite", getAll(t, ctx, s, "kept"), []byte("old"))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cancelled, "kept", bytes.NewReader([]byte("new"))); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	assertEqual(t, "object after a cancelled overwrite", getAll(t, ctx, s, "kept"), []byte("old"))
}

func testConcurrentPuts(t *testing.T, ctx context.Context, s tiered.ObjectStore, _ Options) {
	const n = 8
	r := testenv.Rand(t)
	data := make([][]byte, n)
	for i := range data {
		data[i] = randomBytes(r, int64(1000+i*4099))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Put(ctx, fmt.Sprintf("c/%d", i), bytes.NewReader(data[i])) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put %d: %v", i, err)
		}
		assertEqual(t, fmt.Sprintf("c/%d", i), getAll(t, ctx, s, fmt.Sprintf("c/%d", i)), data[i])
	}
	if got := list(t, ctx, s, "c/"); len(got) != n {
		t.Fatalf("List after %d concurrent puts: %d objects", n, len(got))
	}
}

func testLarge(t *testing.T, ctx context.Context, s tiered.ObjectStore, opts Options) {
	data := randomBytes(testenv.Rand(t), opts.LargeSize)
	// A body that is not an io.Seeker and hands out small reads, as a pipe from the
	// offload writer does.
	if err := s.Put(ctx, "large", io.MultiReader(&chunky{b: data, n: 64 << 10})); err != nil {
		t.Fatalf("Put of %d bytes: %v", len(data), err)
	}
	assertEqual(t, "large object", getAll(t, ctx, s, "large"), data)
	// A range across the 5 MiB part boundary.
	off := int64(5<<20) - 100
	got, err := s.GetRange(ctx, "large", off, 200)
	if err != nil {
		t.Fatalf("GetRange across a part boundary: %v", err)
	}
	assertEqual(t, "range across a part boundary", got, data[off:off+200])
}

// chunky reads out b at most n bytes at a time.
type chunky struct {
	b []byte
	n int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}
